#!/usr/bin/env bash
# Benchmarks the daemon, each number beside its baseline measured in the same run.
#
#   scripts/bench.sh [ROUNDS] [SECONDS]        (defaults: 3 rounds of 3 s per cell)
#
# Builds release binaries, starts the reference backend (random loopback port) and the
# daemons it needs on temp paths, runs the selected sections and prints one Markdown report
# (machine, commands, tables) on stdout; BENCH_OUT=FILE also writes it to FILE. Every cell
# alternates baseline and daemon runs ROUNDS times; the tables show medians.
#
# Sections (SECTIONS="core backend cache startup memory soak", the default, or any subset):
#   core     MCP requests beside a bare newline-JSON echo server (the ceiling), at every
#            shape in SHAPES (connections x window, default "1x1 16x1 16x8"), for the
#            scenarios in SCENARIOS (default: ping tools_list resources_read healthz
#            list_entities list_entities_nocache)
#   backend  list_entities uncached: through the connection pool vs a connection per call
#            (IDE_AGENTS_POOL_MAX_IDLE=0); and the daemon's added latency over the same
#            backend endpoint called directly (loadgen http, 1x1)
#   cache    fetch_doc with the backend's /documentation slowed to 5 ms: cache hit (the
#            default daemon, same topic every call) vs miss (IDE_AGENTS_CACHE_ENABLED=false)
#   startup  spawn to first ping answered, STARTS times (default 10)
#   memory   VmRSS of the default daemon idle (just started) and after the load that ran
#   soak     SOAK_REQUESTS (default 1000000) mixed requests over 32 connections that come and
#            go, cancelling slow calls and dropping connections mid-call (loadgen soak), on a
#            daemon of its own; RSS and open descriptors after a warm-up and after the soak
#
# Every daemon runs with IDE_AGENTS_RATE_PER_SEC=0: the per-connection tool-call rate limit
# (20/s by default where it is enforced) would otherwise be what is measured.
# Other settings: WARMUP (seconds per run, default 0.5); DAEMON_BIN (another build of
# ide-agentsd to measure, e.g. one from another branch); the daemons inherit the environment
# (e.g. IDE_AGENTS_WORKERS). The report replaces the part of BENCHMARKS.md between its
# bench.sh markers (BENCH_OUT=FILE writes it to FILE instead; BENCH_OUT=- to stdout only).
set -euo pipefail
cd "$(dirname "$0")/.."

rounds=${1:-3}
secs=${2:-3}
sections=${SECTIONS:-"core backend cache startup memory soak"}
soak_requests=${SOAK_REQUESTS:-1000000}
scenarios=${SCENARIOS:-"ping tools_list resources_read healthz list_entities list_entities_nocache"}
shapes=${SHAPES:-"1x1 16x1 16x8"}
starts=${STARTS:-10}
warmup=${WARMUP:-0.5}

want() { [[ " $sections " == *" $1 "* ]]; }
for s in $sections; do
  case $s in core | backend | cache | startup | memory | soak) ;; *) echo "unknown section $s" >&2; exit 2 ;; esac
done

cargo build --release --quiet --bin ide-agentsd --bin ide-agents-loadgen --bin ide-agents-backend
bin=target/release
daemon_bin=${DAEMON_BIN:-$bin/ide-agentsd}
loadgen=$bin/ide-agents-loadgen

tmp=$(mktemp -d)
pids=()
cleanup() {
  local p
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
  for p in "${pids[@]}"; do wait "$p" 2>/dev/null || true; done
  rm -rf "$tmp"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

results=$tmp/results.jsonl
commands=$tmp/commands.txt
: >"$results"
: >"$commands"

# Writes the command once to the report's list, with the temp dir spelled $TMP.
note_command() {
  local arg line="" plain='^[][A-Za-z0-9_./:=,@+$-]+$'
  for arg in "$@"; do
    arg=${arg//$tmp/\$TMP}
    [ -n "${backend:-}" ] && arg=${arg//$backend/\$BACKEND}
    if [[ $arg =~ $plain ]]; then line+="$arg "; else line+="'$arg' "; fi
  done
  grep -qxF -- "${line% }" "$commands" || echo "${line% }" >>"$commands"
}

# Waits (bounded) until FILE contains TEXT, or fails showing the process's stderr.
wait_for_text() { # file text pid what
  local _
  for _ in $(seq 500); do
    grep -q -- "$2" "$1" 2>/dev/null && return 0
    kill -0 "$3" 2>/dev/null || break
    sleep 0.02
  done
  echo "$4 did not start; its output:" >&2
  cat "$1" "$1.err" >&2 2>/dev/null || true
  exit 1
}

# --- the backend and the daemons --------------------------------------------------------
$bin/ide-agents-backend --port 0 >"$tmp/backend.out" 2>"$tmp/backend.out.err" &
pids+=($!)
wait_for_text "$tmp/backend.out" "listening on" "$!" "ide-agents-backend"
backend=$(sed -n 's/^listening on //p' "$tmp/backend.out")
note_command "$bin/ide-agents-backend" --port 0

mkdir -p "$tmp/kb" "$tmp/workspace"
printf '# Intro\n\nA knowledge-base snippet of a few hundred bytes, served from the cache.\n%.0s' 1 2 3 >"$tmp/kb/intro.md"

declare -A daemon_pid
start_daemon() { # name, extra VAR=value...
  local name=$1
  shift
  [ -n "${daemon_pid[$name]:-}" ] && return 0
  local envs=(IDE_AGENTS_SOCKET="$tmp/$name.sock" IDE_AGENTS_BACKEND_URL="$backend"
    MCP_TOOL_SPANS_DIR="$tmp/logs-$name" IDE_AGENTS_KB_DIR="$tmp/kb"
    IDE_AGENTS_WORKSPACE="$tmp/workspace" IDE_AGENTS_RATE_PER_SEC=0 "$@")
  note_command env "${envs[@]}" RUST_LOG=warn,ide_agentsd=info "$daemon_bin" serve
  env "${envs[@]}" RUST_LOG=warn,ide_agentsd=info "$daemon_bin" serve 2>"$tmp/$name.log" &
  pids+=($!)
  daemon_pid[$name]=$!
  wait_for_text "$tmp/$name.log" "serving on" "$!" "ide-agentsd ($name)"
}

rss() { # pid → VmRSS and VmHWM in KiB, as JSON fields
  awk '/^VmRSS:/ {r=$2} /^VmHWM:/ {h=$2} END {printf "\"rss_kib\":%d,\"hwm_kib\":%d", r, h}' "/proc/$1/status"
}

backend_stats() { curl -sf "$backend/_control/stats"; }
set_faults() { curl -sf -X POST -H 'Content-Type: application/json' -d "$1" "$backend/_control/faults" >/dev/null; }

# --- measuring ---------------------------------------------------------------------------
# record JSON-FIELDS loadgen-args...: one run, appended to the results with the backend's
# counters before and after it (what the daemon asked of the backend during the run).
record() {
  local fields=$1
  shift
  note_command "$loadgen" "$@"
  local before after r
  before=$(backend_stats)
  r=$("$loadgen" "$@" 2>>"$tmp/loadgen.err") || true
  after=$(backend_stats)
  [ -n "$r" ] || r='{"failed":true}'
  echo "{$fields,\"r\":$r,\"backend_before\":$before,\"backend_after\":$after}" >>"$results"
}

shape_args() { echo "--connections ${1%x*} --window ${1#*x} --duration $secs --warmup $warmup --json"; }

# name → daemon, then loadgen run arguments
scenario_args() {
  case $1 in
    ping) echo "main --scenario ping" ;;
    tools_list) echo "main --scenario tools-list" ;;
    resources_read) echo "main --scenario resources-read --uri ide-agents://kb.snippet/intro" ;;
    healthz) echo "main --scenario tools-call --tool ide_agents_healthz" ;;
    list_entities) echo "main --scenario tools-call --tool ide_agents_list_entities" ;;
    list_entities_nocache) echo "nocache --scenario tools-call --tool ide_agents_list_entities" ;;
    *) echo "unknown scenario $1" >&2; exit 2 ;;
  esac
}

if want core || want backend || want cache || want memory; then
  start_daemon main
  sleep 1 # idle: started, nothing asked yet
  echo "{\"section\":\"memory\",\"point\":\"idle\",$(rss "${daemon_pid[main]}")}" >>"$results"
fi
if want core || want backend || want cache; then
  start_daemon nocache IDE_AGENTS_CACHE_ENABLED=false
fi
if want backend; then
  start_daemon nopool IDE_AGENTS_CACHE_ENABLED=false IDE_AGENTS_POOL_MAX_IDLE=0
fi

if want core; then
  $loadgen echo-server --socket "$tmp/echo.sock" >"$tmp/echo.out" 2>"$tmp/echo.out.err" &
  pids+=($!)
  wait_for_text "$tmp/echo.out" "listening on" "$!" "echo server"
  note_command "$loadgen" echo-server --socket "$tmp/echo.sock"
  for scenario in $scenarios; do
    read -r name args <<<"$(scenario_args "$scenario")"
    for shape in $shapes; do
      for _ in $(seq "$rounds"); do
        # shellcheck disable=SC2046
        record "\"section\":\"core\",\"scenario\":\"$scenario\",\"shape\":\"$shape\",\"kind\":\"ceiling\"" \
          run --socket "$tmp/echo.sock" --scenario echo $(shape_args "$shape")
        # shellcheck disable=SC2046,SC2086
        record "\"section\":\"core\",\"scenario\":\"$scenario\",\"shape\":\"$shape\",\"kind\":\"daemon\"" \
          run --socket "$tmp/$name.sock" $args $(shape_args "$shape")
      done
    done
  done
fi

if want backend; then
  list=(--scenario tools-call --tool ide_agents_list_entities)
  for shape in 1x1 16x1; do
    for _ in $(seq "$rounds"); do
      # shellcheck disable=SC2046
      record "\"section\":\"pool\",\"shape\":\"$shape\",\"variant\":\"pool\"" \
        run --socket "$tmp/nocache.sock" "${list[@]}" $(shape_args "$shape")
      # shellcheck disable=SC2046
      record "\"section\":\"pool\",\"shape\":\"$shape\",\"variant\":\"fresh\"" \
        run --socket "$tmp/nopool.sock" "${list[@]}" $(shape_args "$shape")
    done
  done
  # The endpoint ide_agents_list_entities calls (src/tools/backend.rs): GET /entities/mappings.
  for _ in $(seq "$rounds"); do
    # shellcheck disable=SC2046
    record "\"section\":\"direct\",\"shape\":\"1x1\",\"variant\":\"http\"" \
      http --url "$backend/entities/mappings" $(shape_args 1x1)
    # shellcheck disable=SC2046
    record "\"section\":\"direct\",\"shape\":\"1x1\",\"variant\":\"daemon\"" \
      run --socket "$tmp/nocache.sock" "${list[@]}" $(shape_args 1x1)
  done
fi

if want cache; then
  # Only /documentation is slowed, so the daemons' health probes are unaffected.
  faults='{"latency_ms":5,"paths":["/documentation"]}'
  note_command curl -X POST -d "$faults" "$backend/_control/faults"
  set_faults "$faults"
  doc=(--scenario tools-call --tool ide_agents_fetch_doc --args '{"topic":"getting-started"}')
  for shape in 1x1 16x1; do
    for _ in $(seq "$rounds"); do
      # shellcheck disable=SC2046
      record "\"section\":\"cache\",\"shape\":\"$shape\",\"variant\":\"hit\"" \
        run --socket "$tmp/main.sock" "${doc[@]}" $(shape_args "$shape")
      # shellcheck disable=SC2046
      record "\"section\":\"cache\",\"shape\":\"$shape\",\"variant\":\"miss\"" \
        run --socket "$tmp/nocache.sock" "${doc[@]}" $(shape_args "$shape")
    done
  done
  set_faults '{}'
fi

if want memory; then
  if ! want core && ! want backend && ! want cache; then
    # Nothing else loaded the daemon: give it some load of its own.
    for scenario in healthz list_entities resources_read; do
      read -r name args <<<"$(scenario_args "$scenario")"
      # shellcheck disable=SC2046,SC2086
      record "\"section\":\"memload\",\"scenario\":\"$scenario\",\"shape\":\"16x8\"" \
        run --socket "$tmp/$name.sock" $args $(shape_args 16x8)
    done
  fi
  echo "{\"section\":\"memory\",\"point\":\"after load\",$(rss "${daemon_pid[main]}")}" >>"$results"
fi

open_connections() { # the status client's own connection included
  { "$daemon_bin" status --json --socket "$tmp/$1.sock" || true; } |
    python3 -c 'import json,sys; print(json.load(sys.stdin)["connections"]["open"])'
}
sample() { # name point → one JSON object: memory, descriptors, open connections
  local pid=${daemon_pid[$1]} _
  for _ in $(seq 500); do # the last clients' connections close asynchronously
    [ "$(open_connections "$1")" -le 1 ] && break
    sleep 0.01
  done
  echo "{\"point\":\"$2\",$(rss "$pid"),$(python3 scripts/fd-kinds.py "$pid"),\"connections_open\":$(($(open_connections "$1") - 1))}"
}

if want soak; then
  start_daemon soak IDE_AGENTS_CACHE_ENABLED=false
  # A slow /documentation, so the soak's fetch_doc calls are still running when cancelled.
  soak_faults='{"latency_ms":20,"paths":["/documentation"]}'
  note_command curl -X POST -d "$soak_faults" "$backend/_control/faults"
  set_faults "$soak_faults"
  soak=(soak --socket "$tmp/soak.sock" --uri ide-agents://kb.snippet/intro)
  note_command "$loadgen" "${soak[@]}" --requests 50000
  "$loadgen" "${soak[@]}" --requests 50000 >"$tmp/soak-warmup.json" 2>>"$tmp/loadgen.err" || true
  warm=$(sample soak "after warm-up (50k)")
  note_command "$loadgen" "${soak[@]}" --requests "$soak_requests"
  r=$("$loadgen" "${soak[@]}" --requests "$soak_requests" 2>>"$tmp/loadgen.err") || true
  [ -n "$r" ] || r='{"failed":true}'
  after=$(sample soak "after the soak")
  echo "{\"section\":\"soak\",\"r\":$r,\"warm\":$warm,\"after\":$after}" >>"$results"
  set_faults '{}'
fi

if want startup; then
  note_command env IDE_AGENTS_BACKEND_URL="$backend" python3 scripts/bench-coldstart.py "$daemon_bin" --runs "$starts"
  r=$(IDE_AGENTS_BACKEND_URL="$backend" python3 scripts/bench-coldstart.py "$daemon_bin" --runs "$starts")
  echo "{\"section\":\"startup\",\"r\":$r}" >>"$results"
fi

report=$(python3 scripts/bench-report.py "$results" "$commands" "$rounds" "$secs" "$warmup" "$sections" \
  "$daemon_bin" "$*")
if [ -s "$tmp/loadgen.err" ]; then
  report+=$'\n\nProblems the load generator reported (first lines):\n\n```\n'
  report+=$(head -n 20 "$tmp/loadgen.err")
  report+=$'\n```'
fi
echo "$report"
case ${BENCH_OUT:-BENCHMARKS.md} in
  -) ;;
  BENCHMARKS.md) python3 scripts/bench-splice.py BENCHMARKS.md <<<"$report" ;;
  *) echo "$report" >"$BENCH_OUT" ;;
esac
