#!/usr/bin/env bash
# Benchmarks the daemon against the bare echo ceiling, measured in the same run.
#
#   scripts/bench.sh [ROUNDS] [SECONDS]        (defaults: 3 rounds of 3 s per cell)
#
# Builds release binaries, starts a bare echo server, the reference backend and the daemon
# on temp paths, then for every scenario and shape (connections × window) alternates
# ceiling and daemon runs ROUNDS times and prints the medians as a Markdown table.
# Extra scenarios can be chosen with SCENARIOS="ping healthz ..." in the environment.
set -euo pipefail
cd "$(dirname "$0")/.."

rounds=${1:-3}
secs=${2:-3}
scenarios=${SCENARIOS:-"ping healthz list_entities_nocache"}
shapes=${SHAPES:-"1x1 16x1 16x8"}

cargo build --release --quiet --bin ide-agentsd --bin ide-agents-loadgen --bin ide-agents-backend
bin=target/release
tmp=$(mktemp -d)
pids=()
cleanup() { for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done; rm -rf "$tmp"; }
trap cleanup EXIT

$bin/ide-agents-loadgen echo-server --socket "$tmp/echo.sock" >"$tmp/echo.out" 2>&1 &
pids+=($!)
$bin/ide-agents-backend --port 0 >"$tmp/backend.out" 2>/dev/null &
pids+=($!)
for _ in $(seq 100); do [ -s "$tmp/backend.out" ] && grep -q listening "$tmp/echo.out" && break; sleep 0.05; done
backend=$(sed -n 's/^listening on //p' "$tmp/backend.out")

start_daemon() { # name, extra env...
  local name=$1; shift
  env "$@" IDE_AGENTS_SOCKET="$tmp/$name.sock" IDE_AGENTS_BACKEND_URL="$backend" \
    MCP_TOOL_SPANS_DIR="$tmp/logs-$name" RUST_LOG=warn $bin/ide-agentsd serve 2>"$tmp/$name.err" &
  pids+=($!)
  for _ in $(seq 200); do [ -S "$tmp/$name.sock" ] && break; sleep 0.02; done
}
start_daemon main
start_daemon nocache IDE_AGENTS_CACHE_ENABLED=false

run() { # socket, scenario args..., then shape
  local sock=$1 shape=$2; shift 2
  $bin/ide-agents-loadgen run --socket "$sock" --connections "${shape%x*}" --window "${shape#*x}" \
    --duration "$secs" --warmup 0.5 --json "$@"
}

scenario_args() {
  case $1 in
    ping) echo "main --scenario ping" ;;
    tools_list) echo "main --scenario tools-list" ;;
    healthz) echo "main --scenario tools-call --tool ide_agents_healthz" ;;
    list_entities_nocache) echo "nocache --scenario tools-call --tool ide_agents_list_entities" ;;
    list_entities) echo "main --scenario tools-call --tool ide_agents_list_entities" ;;
    *) echo "unknown scenario $1" >&2; exit 2 ;;
  esac
}

results="$tmp/results.jsonl"
for scenario in $scenarios; do
  read -r daemon_name args <<<"$(scenario_args "$scenario")"
  for shape in $shapes; do
    for _ in $(seq "$rounds"); do
      echo "{\"kind\":\"ceiling\",\"scenario\":\"$scenario\",\"shape\":\"$shape\",\"r\":$(run "$tmp/echo.sock" "$shape" --scenario echo)}" >>"$results"
      # shellcheck disable=SC2086
      echo "{\"kind\":\"daemon\",\"scenario\":\"$scenario\",\"shape\":\"$shape\",\"r\":$(run "$tmp/$daemon_name.sock" "$shape" $args)}" >>"$results"
    done
  done
done

python3 - "$results" "$rounds" "$secs" <<'PY'
import json, statistics, sys, platform, os
rows = [json.loads(l) for l in open(sys.argv[1])]
cells = {}
for row in rows:
    cells.setdefault((row["scenario"], row["shape"]), {}).setdefault(row["kind"], []).append(row["r"])
cpu = next((l.split(":", 1)[1].strip() for l in open("/proc/cpuinfo") if l.startswith("model name")), "?")
print(f"Machine: {os.cpu_count()} cores, {cpu}, Linux {platform.release()}; {sys.argv[2]} alternating rounds of {sys.argv[3]} s, medians.\n")
print("| scenario | conns×window | daemon req/s | ceiling req/s | ratio | daemon p50 µs | ceiling p50 µs | p50 ratio | daemon p99 µs | errors |")
print("|---|---|---:|---:|---:|---:|---:|---:|---:|---:|")
for (scenario, shape), k in cells.items():
    med = lambda runs, key: statistics.median(r[key] for r in runs)
    d, c = k["daemon"], k["ceiling"]
    drps, crps = med(d, "rps"), med(c, "rps")
    dp50, cp50 = med(d, "p50_us"), med(c, "p50_us")
    errors = sum(r["errors"] for r in d)
    print(f"| {scenario} | {shape} | {drps:,.0f} | {crps:,.0f} | {drps/crps:.2f} | {dp50:.0f} | {cp50:.0f} | {dp50/cp50:.2f} | {med(d, 'p99_us'):.0f} | {errors} |")
PY
