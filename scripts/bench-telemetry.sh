#!/usr/bin/env bash
# Telemetry on vs off in one run: tools/call ide_agents_healthz, 16 connections x window 1,
# alternating daemons so drift on a shared machine hits both sides alike.
#   scripts/bench-telemetry.sh [ROUNDS] [SECS]
set -euo pipefail
cd "$(dirname "$0")/.."
rounds=${1:-3}
secs=${2:-5}
cargo build --release --bin ide-agentsd --bin ide-agents-loadgen >&2
work=$(mktemp -d)
trap 'kill "$pid" 2>/dev/null || true; rm -rf "$work"' EXIT
pid=
run() { # $1 = on|off
  local enabled=true; [ "$1" = off ] && enabled=false
  local sock="$work/$1.sock" logs="$work/logs-$1"
  rm -rf "$logs"
  # The rate limit stays in the path (its bucket check runs) but never trips.
  IDE_AGENTS_SOCKET=$sock MCP_TOOL_SPANS_DIR=$logs IDE_AGENTS_TELEMETRY_ENABLED=$enabled \
    IDE_AGENTS_RATE_BURST=1000000000 RUST_LOG=warn target/release/ide-agentsd serve &
  pid=$!
  for _ in $(seq 200); do [ -S "$sock" ] && break; sleep 0.05; done
  target/release/ide-agents-loadgen run --socket "$sock" --scenario tools-call --modern \
    --connections 16 --window 1 --duration "$secs" --json \
    | python3 -c "import json,sys; r=json.load(sys.stdin); print('$1', json.dumps({k: r[k] for k in r if k in ('rps','ok','errors','p50_us','p99_us')}))"
  # Daemon CPU per call (all its threads, warm-up included) is steadier than throughput
  # when other work shares the machine.
  local calls ticks
  # No backend runs here, so status answers "degraded" (exit 4); its JSON is what counts.
  calls=$({ target/release/ide-agentsd status --json --socket "$sock" || true; } \
    | python3 -c "import json,sys; print(json.load(sys.stdin)['tool_calls']['total'])")
  ticks=$(awk '{print $14 + $15}' "/proc/$pid/stat")
  python3 -c "print('$1 daemon cpu: %.2f us/call over %d calls' % ($ticks * 1e6 / $(getconf CLK_TCK) / $calls, $calls))"
  kill -TERM "$pid"; wait "$pid" || true
  # Warm-up calls are recorded too, so this exceeds the measured `ok`; files may have rotated.
  if [ "$1" = on ]; then echo "on: spans on disk after SIGTERM: $(cat "$logs"/mcp_tool_spans.jsonl* | wc -l)"; fi
}
# Each round swaps which side goes first, so neither always runs on a warmer machine.
for r in $(seq "$rounds"); do
  if [ $((r % 2)) = 1 ]; then run off; run on; else run on; run off; fi
done
