#!/usr/bin/env python3
"""A large kb directory: kb-template completion and paging through resources/list.

Fills a temp kb directory with N snippets (default 20 000), starts the daemon on it (one
worker, so every call shares that worker with the others), then times ten completion calls
for the kb template's `{name}` (the first loads the resource list) and one walk through every
page of `resources/list`, all in the stateless era.

usage: scripts/bench-kb-scale.py [BINARY] [--snippets N]   (default target/release/ide-agentsd)
Prints one JSON object: snippets, completion_ms (each call), list_pages, list_ms.
"""
import json
import os
import socket
import subprocess
import sys
import tempfile
import time

META = {"io.modelcontextprotocol/protocolVersion": "2026-07-28"}


def main():
    args = sys.argv[1:]
    snippets = 20_000
    if "--snippets" in args:
        i = args.index("--snippets")
        snippets = int(args[i + 1])
        del args[i : i + 2]
    binary = args[0] if args else "target/release/ide-agentsd"
    with tempfile.TemporaryDirectory() as d:
        kb = os.path.join(d, "kb")
        os.mkdir(kb)
        for i in range(snippets):
            with open(os.path.join(kb, f"snippet-{i:05}.md"), "w") as f:
                f.write("x\n")
        sock = os.path.join(d, "s.sock")
        env = dict(os.environ, IDE_AGENTS_SOCKET=sock, IDE_AGENTS_KB_DIR=kb,
                   MCP_TOOL_SPANS_DIR=os.path.join(d, "logs"), IDE_AGENTS_WORKERS="1",
                   RUST_LOG="warn")
        daemon = subprocess.Popen([binary, "serve"], env=env)
        try:
            while not os.path.exists(sock):
                time.sleep(0.01)
            conn = socket.socket(socket.AF_UNIX)
            conn.connect(sock)
            stream = conn.makefile("rwb")

            def call(rid, method, params):
                line = {"jsonrpc": "2.0", "id": rid, "method": method,
                        "params": dict(params, _meta=META)}
                stream.write((json.dumps(line) + "\n").encode())
                stream.flush()
                answer = json.loads(stream.readline())
                assert "result" in answer, answer
                return answer["result"]

            completion = []
            for i in range(10):
                started = time.perf_counter()
                call(i, "completion/complete",
                     {"ref": {"type": "ref/resource", "uri": "ide-agents://kb.snippet/{name}"},
                      "argument": {"name": "name", "value": "snippet-1"}})
                completion.append(round((time.perf_counter() - started) * 1000, 1))
            started, cursor, pages = time.perf_counter(), None, 0
            while True:
                result = call(100 + pages, "resources/list", {"cursor": cursor} if cursor else {})
                pages += 1
                cursor = result.get("nextCursor")
                if not cursor:
                    break
            list_ms = round((time.perf_counter() - started) * 1000)
        finally:
            daemon.terminate()
            daemon.wait()
    print(json.dumps({"snippets": snippets, "completion_ms": completion,
                      "list_pages": pages, "list_ms": list_ms}))


if __name__ == "__main__":
    main()
