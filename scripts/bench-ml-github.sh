#!/usr/bin/env bash
# The ML group's first start, and tools/list with every tool listed.
#  1. Starts the daemon (ULTRA on, one worker) N times; each time the first ML call starts
#     the group, and ide_agents_health reports what the start cost (ml_start_us, measured
#     inside the daemon around the group actor's start).
#  2. The size of the one tools/list page (legacy and stateless era) and its throughput and
#     latency with the load generator, beside ping on the same daemon.
# Usage: scripts/bench-ml-github.sh [starts, default 20] [seconds per run, default 5]
set -euo pipefail
cd "$(dirname "$0")/.."
starts="${1:-20}"
secs="${2:-5}"
cargo build --release --bins >&2
bin=target/release
work="$(mktemp -d)"
pid=""
cleanup() {
    [ -n "$pid" ] && kill "$pid" 2>/dev/null || true
    rm -rf "$work"
}
trap cleanup EXIT

wait_for_socket() {
    for _ in $(seq 1 500); do [ -S "$1" ] && return 0; sleep 0.01; done
    echo "no socket at $1" >&2
    return 1
}

serve() {
    rm -f "$work/mcp.sock"
    IDE_AGENTS_SOCKET="$work/mcp.sock" IDE_AGENTS_ULTRA_ENABLED=1 IDE_AGENTS_WORKERS="$1" \
        RUST_LOG=warn "$bin/ide-agentsd" serve --logs-dir "$work/logs" &
    pid=$!
    wait_for_socket "$work/mcp.sock"
}

stop() {
    kill "$pid"
    wait "$pid" 2>/dev/null || true
    pid=""
}

health_field() {
    "$bin/ide-agentsd" call ide_agents_health --socket "$work/mcp.sock" |
        python3 -c "import json,sys; print(json.load(sys.stdin)['groups']['$1'])"
}

echo "== ML group first start, $starts daemon starts (µs, measured in the daemon)"
costs=()
for _ in $(seq 1 "$starts"); do
    serve 1
    [ "$(health_field ml)" = "not_started" ]
    "$bin/ide-agentsd" call ide_agents_ml_adjust_personality --arg tone=calm \
        --socket "$work/mcp.sock" >/dev/null
    costs+=("$(health_field ml_start_us)")
    stop
done
printf '%s\n' "${costs[@]}" | python3 -c "
import sys, statistics
v = sorted(float(x) for x in sys.stdin)
print(f'n={len(v)} min={v[0]:.1f} median={statistics.median(v):.1f} max={v[-1]:.1f} µs')"

echo "== tools/list with every tool"
serve 2
python3 - "$work/mcp.sock" <<'PY'
import json, socket, sys
s = socket.socket(socket.AF_UNIX)
s.connect(sys.argv[1])
f = s.makefile("rwb")
def call(msg):
    f.write(json.dumps(msg).encode() + b"\n"); f.flush()
    while True:
        line = f.readline()
        if json.loads(line).get("id") == msg["id"]:
            return line
call({"jsonrpc": "2.0", "id": 1, "method": "initialize", "params": {"protocolVersion": "2025-06-18", "capabilities": {}, "clientInfo": {"name": "bench", "version": "0"}}})
legacy = call({"jsonrpc": "2.0", "id": 2, "method": "tools/list", "params": {}})
modern = call({"jsonrpc": "2.0", "id": 3, "method": "tools/list", "params": {"_meta": {"io.modelcontextprotocol/protocolVersion": "2026-07-28"}}})
tools = json.loads(legacy)["result"]["tools"]
groups = {}
for t in tools:
    n = t["name"]
    g = "ml" if n.startswith("ide_agents_ml_") else "github" if n.startswith("ide_agents_github_") else "ultra" if n.startswith("ide_agents_ultra_") else "core"
    groups[g] = groups.get(g, 0) + 1
print(f"tools={len(tools)} {groups} legacy_response_bytes={len(legacy)} modern_response_bytes={len(modern)}")
PY
for shape in "1 1" "16 1"; do
    set -- $shape
    "$bin/ide-agents-loadgen" run --socket "$work/mcp.sock" --scenario ping \
        --connections "$1" --window "$2" --duration "$secs" --json
    "$bin/ide-agents-loadgen" run --socket "$work/mcp.sock" --scenario tools-list \
        --connections "$1" --window "$2" --duration "$secs" --json
    "$bin/ide-agents-loadgen" run --socket "$work/mcp.sock" --scenario tools-list --modern \
        --connections "$1" --window "$2" --duration "$secs" --json
done
stop
