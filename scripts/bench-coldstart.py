#!/usr/bin/env python3
"""Cold start to first answer: from spawning `ide-agentsd serve` to the first `ping` answered.

Each run spawns the daemon on a fresh socket path (in a fresh temp dir, with a fresh logs
dir), then retries connect + `ping` as fast as it can (connect fails until the socket
exists and is listening) and stops the clock at the first line answering that ping. The
daemon is then stopped with SIGTERM and must exit 0. Environment is inherited (e.g.
IDE_AGENTS_BACKEND_URL), except the socket and logs paths.

usage: scripts/bench-coldstart.py [BINARY] [--runs N]      (default target/release/ide-agentsd, 10)
Prints one JSON object: runs, median_ms, min_ms, max_ms, times_ms.
"""
import json
import os
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time

PING = b'{"jsonrpc":"2.0","id":1,"method":"ping"}\n'
GIVE_UP_S = 15


def first_answer(sock_path, deadline):
    """Retries connect + ping until answered; returns the perf_counter time of the answer."""
    while time.perf_counter() < deadline:
        s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        try:
            s.connect(sock_path)
            s.sendall(PING)
            data = b""
            while b"\n" not in data:
                chunk = s.recv(4096)
                if not chunk:
                    break
                data += chunk
            if b'"id":1' in data and b'"result"' in data:
                return time.perf_counter()
        except OSError:
            pass
        finally:
            s.close()
        time.sleep(0.0002)
    raise SystemExit(f"no ping answer on {sock_path} within {GIVE_UP_S} s")


def main():
    args = sys.argv[1:]
    runs = 10
    if "--runs" in args:
        i = args.index("--runs")
        runs = int(args[i + 1])
        del args[i : i + 2]
    binary = os.path.abspath(args[0] if args else "target/release/ide-agentsd")
    times = []
    for _ in range(runs):
        with tempfile.TemporaryDirectory() as tmp:
            sock_path = os.path.join(tmp, "run", "mcp.sock")
            env = dict(os.environ, IDE_AGENTS_SOCKET=sock_path,
                       MCP_TOOL_SPANS_DIR=os.path.join(tmp, "logs"), RUST_LOG="warn")
            for name in ("NOTIFY_SOCKET", "WATCHDOG_USEC", "LISTEN_FDS", "LISTEN_PID"):
                env.pop(name, None)
            start = time.perf_counter()
            child = subprocess.Popen([binary, "serve"], env=env, cwd=tmp,
                                     stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL)
            try:
                answered = first_answer(sock_path, start + GIVE_UP_S)
            finally:
                child.send_signal(signal.SIGTERM)
                code = child.wait(timeout=GIVE_UP_S)
            if code != 0:
                raise SystemExit(f"{binary} serve exited with {code} after SIGTERM")
            times.append((answered - start) * 1000)
    print(json.dumps({
        "runs": runs,
        "median_ms": round(statistics.median(times), 2),
        "min_ms": round(min(times), 2),
        "max_ms": round(max(times), 2),
        "times_ms": [round(t, 2) for t in times],
    }))


if __name__ == "__main__":
    main()
