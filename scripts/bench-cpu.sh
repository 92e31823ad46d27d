#!/usr/bin/env bash
# Where a request's CPU goes at 16 connections × window 1: the echo server and then the
# daemon, each driven by the load generator on the same cores, with the user and system
# CPU per request of the server (/proc/PID/stat) and of the load generator (time).
#
#   scripts/bench-cpu.sh [ROUNDS] [LOADGEN SCENARIO ARGS…]
#   e.g. scripts/bench-cpu.sh 3 --scenario tools-call
#        IDE_AGENTS_WORKERS=1 scripts/bench-cpu.sh 3 --scenario resources-read --uri ide-agents://kb.snippet/intro
set -euo pipefail
cd "$(dirname "$0")/.."
rounds=${1:-3}
shift || true
[ $# -gt 0 ] || set -- --scenario tools-call
cargo build --release --quiet --bin ide-agentsd --bin ide-agents-loadgen
bin=target/release
tmp=$(mktemp -d)
pids=()
trap 'kill "${pids[@]}" 2>/dev/null; wait 2>/dev/null; rm -rf "$tmp"' EXIT
mkdir -p "$tmp/kb" "$tmp/ws" "$tmp/logs"
printf 'intro: %0240d\n' 0 >"$tmp/kb/intro.md"

$bin/ide-agents-loadgen echo-server --socket "$tmp/e.sock" >/dev/null &
pids+=($!)
echo_pid=$!
IDE_AGENTS_SOCKET="$tmp/s.sock" MCP_TOOL_SPANS_DIR="$tmp/logs" IDE_AGENTS_KB_DIR="$tmp/kb" \
  IDE_AGENTS_WORKSPACE="$tmp/ws" IDE_AGENTS_RATE_PER_SEC=0 RUST_LOG=warn \
  $bin/ide-agentsd serve &
pids+=($!)
daemon_pid=$!
for _ in $(seq 200); do
  [ -S "$tmp/s.sock" ] && [ -S "$tmp/e.sock" ] && break
  sleep 0.05
done

cpu_ticks() { awk '{print $14, $15}' "/proc/$1/stat"; }

# measure SOCKET PID LOADGEN-ARGS…: one line of req/s and CPU µs per request.
measure() {
  local sock=$1 pid=$2 before after
  shift 2
  before=$(cpu_ticks "$pid")
  /usr/bin/time -f "%U %S" -o "$tmp/time" $bin/ide-agents-loadgen run --socket "$sock" \
    --duration 3 --warmup 0 --json --connections 16 --window 1 "$@" >"$tmp/out.json"
  after=$(cpu_ticks "$pid")
  python3 - "$tmp/out.json" "$(getconf CLK_TCK)" $before $after $(cat "$tmp/time") <<'PY'
import json, sys
run = json.load(open(sys.argv[1]))
n, tick = run["ok"], 1e6 / int(sys.argv[2])
u0, s0, u1, s1, lu, ls = (float(x) for x in sys.argv[3:])
su, ss = (u1 - u0) * tick / n, (s1 - s0) * tick / n
lu, ls = lu * 1e6 / n, ls * 1e6 / n
print(f"{run['rps']:8.0f} req/s   server {su:4.1f} user + {ss:4.1f} sys = {su + ss:4.1f}"
      f"   loadgen {lu:4.1f} + {ls:4.1f} = {lu + ls:4.1f}   total {su + ss + lu + ls:4.1f} µs/req")
PY
}

for round in $(seq "$rounds"); do
  echo "round $round"
  echo "  echo   $(measure "$tmp/e.sock" "$echo_pid" --scenario echo)"
  echo "  daemon $(measure "$tmp/s.sock" "$daemon_pid" "$@")"
done
