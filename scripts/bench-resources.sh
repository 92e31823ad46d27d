#!/usr/bin/env bash
# resources/read of a cached resource beside the bare echo ceiling, at 1x1 and 16x1
# (connections x window), plus the cache API's hit vs miss with a 5 ms loader.
# Usage: scripts/bench-resources.sh [seconds per run, default 5]
set -euo pipefail
cd "$(dirname "$0")/.."
secs="${1:-5}"
cargo build --release --bins --example cache_bench >&2
bin=target/release
work="$(mktemp -d)"
pids=()
cleanup() {
    for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; done
    rm -rf "$work"
}
trap cleanup EXIT

mkdir -p "$work/kb"
printf '# Intro\n\nA knowledge-base snippet of a few hundred bytes, served from the cache.\n%.0s' 1 2 3 >"$work/kb/intro.md"

wait_for_socket() {
    for _ in $(seq 1 500); do [ -S "$1" ] && return 0; sleep 0.01; done
    echo "no socket at $1" >&2
    return 1
}

"$bin/ide-agents-loadgen" echo-server --socket "$work/echo.sock" 2>/dev/null &
pids+=($!)
IDE_AGENTS_SOCKET="$work/mcp.sock" IDE_AGENTS_KB_DIR="$work/kb" RUST_LOG=warn \
    "$bin/ide-agentsd" serve &
pids+=($!)
wait_for_socket "$work/echo.sock"
wait_for_socket "$work/mcp.sock"

for shape in "1 1" "16 1"; do
    set -- $shape
    "$bin/ide-agents-loadgen" run --socket "$work/echo.sock" --scenario echo \
        --connections "$1" --window "$2" --duration "$secs" --json
    "$bin/ide-agents-loadgen" run --socket "$work/mcp.sock" --scenario resources-read \
        --uri ide-agents://kb.snippet/intro --connections "$1" --window "$2" --duration "$secs" --json
    "$bin/ide-agents-loadgen" run --socket "$work/mcp.sock" --scenario resources-read --modern \
        --uri ide-agents://kb.snippet/intro --connections "$1" --window "$2" --duration "$secs" --json
done
"$bin/examples/cache_bench"
