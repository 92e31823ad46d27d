#!/usr/bin/env python3
"""Start-up time of `ide-agentsd serve`: from spawning the process to systemd's READY=1.

Plays systemd's notify socket (a datagram socket in a temp dir), starts the daemon N times
on a fresh socket path, and prints the median, min, p90 and max in milliseconds.

usage: scripts/measure-startup.py [BINARY] [--runs N] [--activated]
  BINARY       default target/release/ide-agentsd
  --activated  pass a pre-bound listening socket on fd 3 (socket activation)
"""
import os
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time


def main():
    args = sys.argv[1:]
    runs = 20
    activated = "--activated" in args
    if "--runs" in args:
        runs = int(args[args.index("--runs") + 1])
    positional = [a for i, a in enumerate(args) if not a.startswith("--") and (i == 0 or args[i - 1] != "--runs")]
    binary = positional[0] if positional else "target/release/ide-agentsd"
    times = []
    with tempfile.TemporaryDirectory() as tmp:
        notify_path = os.path.join(tmp, "notify")
        notify = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        notify.bind(notify_path)
        notify.settimeout(10)
        for i in range(runs):
            sock_path = os.path.join(tmp, f"run{i}", "mcp.sock")
            env = dict(os.environ, NOTIFY_SOCKET=notify_path, IDE_AGENTS_SOCKET=sock_path,
                       RUST_LOG="warn")
            env.pop("WATCHDOG_USEC", None)
            if activated:
                os.makedirs(os.path.dirname(sock_path))
                listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
                listener.bind(sock_path)
                listener.listen(128)
                env.update(LISTEN_FDS="1")
                fd = listener.fileno()
                # The shell moves the listener to fd 3 and sets LISTEN_PID to its own pid,
                # which `exec` hands to the daemon: what systemd does.
                script = f'exec 3<&{fd} {fd}<&-; LISTEN_PID=$$ exec "$0" serve'
                start = time.perf_counter()
                child = subprocess.Popen(["/bin/sh", "-c", script, binary], env=env,
                                         pass_fds=(fd,))
            else:
                start = time.perf_counter()
                child = subprocess.Popen([binary, "serve"], env=env)
            while b"READY=1" not in notify.recv(4096):
                pass
            times.append((time.perf_counter() - start) * 1000)
            # It serves at READY=1: check it, then stop it.
            probe = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
            probe.connect(sock_path)
            probe.sendall(b'{"jsonrpc":"2.0","id":1,"method":"ping"}\n')
            assert b'"id":1' in probe.recv(4096)
            probe.close()
            child.send_signal(signal.SIGTERM)
            assert child.wait(timeout=15) == 0
            if activated:
                listener.close()
    if "--verbose" in args:
        print(" ".join(f"{t:.1f}" for t in times))
    times.sort()
    p90 = times[min(len(times) - 1, int(round(0.9 * len(times))) - 1)]
    mode = "socket activation" if activated else "binding its own socket"
    print(f"{runs} starts, {mode}: median {statistics.median(times):.1f} ms, "
          f"min {times[0]:.1f} ms, p90 {p90:.1f} ms, max {times[-1]:.1f} ms")


if __name__ == "__main__":
    main()
