#!/usr/bin/env python3
"""Turns the results of scripts/bench.sh into one Markdown report (on stdout).

usage: bench-report.py RESULTS COMMANDS ROUNDS SECS WARMUP SECTIONS DAEMON_BIN ARGS
RESULTS is JSON lines written by bench.sh; COMMANDS the commands it ran, one a line.
"""
import json
import os
import platform
import statistics
import subprocess
import sys

results_path, commands_path, rounds, secs, warmup, sections, daemon_bin, args = sys.argv[1:9]
rows = [json.loads(line) for line in open(results_path) if line.strip()]
sections = sections.split()
out = []


def emit(line=""):
    out.append(line)


def cpu_model():
    try:
        for line in open("/proc/cpuinfo"):
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown CPU"


def mem_total_gib():
    try:
        for line in open("/proc/meminfo"):
            if line.startswith("MemTotal:"):
                return f"{int(line.split()[1]) / 1048576:.1f} GiB RAM"
    except OSError:
        pass
    return "RAM unknown"


def git(*cmd):
    try:
        return subprocess.run(["git", *cmd], capture_output=True, text=True, check=True).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return "?"


def med(runs, key):
    values = [r["r"][key] for r in runs if key in r["r"]]
    return statistics.median(values) if values else float("nan")


def errors(runs):
    return sum(r["r"].get("errors", 0) for r in runs) + sum(1 for r in runs if r["r"].get("failed"))


def backend_delta(row, field):
    """What the daemon asked of the backend during one run (health probes left out)."""
    before, after = row.get("backend_before") or {}, row.get("backend_after") or {}
    if field == "connections":
        return after.get("connections_opened", 0) - before.get("connections_opened", 0)
    b, a = before.get("requests", {}), after.get("requests", {})
    return sum(n - b.get(k, 0) for k, n in a.items() if k != "GET /health")


def per_call(runs, field):
    """Backend requests (or connections) per request sent, warmup included (estimated)."""
    ratios = []
    for row in runs:
        r = row["r"]
        sent = r.get("ok", 0) + r.get("rps", 0) * float(warmup) + r.get("errors", 0)
        if sent > 0:
            ratios.append(backend_delta(row, field) / sent)
    return f"{statistics.median(ratios):.2f}" if ratios else "–"


def group(section, *keys):
    cells = {}
    for row in rows:
        if row.get("section") == section and "r" in row:
            cells.setdefault(tuple(row[k] for k in keys), []).append(row)
    return cells


def n(x, fmt="{:,.0f}"):
    return "–" if x != x else fmt.format(x)  # NaN → dash


workers = os.environ.get("IDE_AGENTS_WORKERS", f"default (= cores, {os.cpu_count()})")
emit("# ide-agentsd benchmark")
emit()
emit(f"- Machine: {os.cpu_count()} cores (nproc), {cpu_model()}, {mem_total_gib()}, "
     f"Linux {platform.release()}")
emit(f"- Build: commit {git('rev-parse', '--short', 'HEAD')} on branch "
     f"{git('rev-parse', '--abbrev-ref', 'HEAD')}"
     f"{' (uncommitted changes)' if git('status', '--porcelain', '--untracked-files=no') else ''}, "
     f"release profile; daemon binary `{daemon_bin}`; daemon workers: {workers}")
emit(f"- Method: `scripts/bench.sh {args}`".rstrip() + f" with SECTIONS=\"{' '.join(sections)}\": "
     f"{rounds} alternating round(s) per cell (baseline, then daemon), each run {warmup} s "
     f"warmup (verified, not counted) + {secs} s measured; tables show medians over rounds. "
     "Load generator and servers share the machine's cores.")
emit("- Shapes are connections × requests in flight per connection (pipelined window).")

core = group("core", "scenario", "shape")
if "core" in sections and core:
    emit()
    emit("## MCP requests beside the bare echo ceiling")
    emit()
    emit("The ceiling is `ide-agents-loadgen echo-server`: newline-JSON echo on a Unix socket, "
         "no parsing. `backend/call` is backend requests per MCP request (≈, warmup included): "
         "0 for a cached or local answer.")
    emit()
    emit("| scenario | conns×window | daemon req/s | ceiling req/s | ratio | daemon p50 µs "
         "| ceiling p50 µs | daemon p99 µs | backend/call | errors |")
    emit("|---|---|---:|---:|---:|---:|---:|---:|---:|---:|")
    for (scenario, shape), runs in core.items():
        d = [r for r in runs if r["kind"] == "daemon"]
        c = [r for r in runs if r["kind"] == "ceiling"]
        drps, crps = med(d, "rps"), med(c, "rps")
        emit(f"| {scenario} | {shape} | {n(drps)} | {n(crps)} | {n(drps / crps, '{:.2f}')} "
             f"| {n(med(d, 'p50_us'))} | {n(med(c, 'p50_us'))} | {n(med(d, 'p99_us'))} "
             f"| {per_call(d, 'requests')} | {errors(d) + errors(c)} |")
    cached = [r for (scenario, _), runs in core.items() if scenario == "list_entities"
              for r in runs if r["kind"] == "daemon"]
    if cached and per_call(cached, "requests") not in ("–",) and float(per_call(cached, "requests")) > 0.5:
        emit()
        emit("**Note:** `list_entities` on the default daemon reached the backend on most calls: "
             "this build does not cache `ide_agents_list_entities`, so it measures the same path "
             "as `list_entities_nocache`.")
    emit()
    emit("Scenarios: `ping`; `tools_list`; `resources_read` = `ide-agents://kb.snippet/intro` "
         "(a 240-byte file in IDE_AGENTS_KB_DIR, cached); `healthz` = tools/call "
         "`ide_agents_healthz` (local); `list_entities` = tools/call `ide_agents_list_entities` "
         "(backend `GET /entities/mappings`) on the default daemon; `list_entities_nocache` the "
         "same on a daemon with IDE_AGENTS_CACHE_ENABLED=false.")

pool = group("pool", "shape")
direct = group("direct", "shape")
if "backend" in sections and (pool or direct):
    emit()
    emit("## Backend calls")
    if pool:
        emit()
        emit("### Connection pool vs a new connection per call")
        emit()
        emit("tools/call `ide_agents_list_entities`, cache off, on two daemons: default pool vs "
             "IDE_AGENTS_POOL_MAX_IDLE=0. `conns/call` is backend TCP connections accepted per "
             "request (≈).")
        emit()
        emit("| conns×window | pool req/s | per-call req/s | pool p50 µs | per-call p50 µs "
             "| pool p99 µs | per-call p99 µs | conns/call pool | conns/call per-call | errors |")
        emit("|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
        for (shape,), runs in pool.items():
            p = [r for r in runs if r["variant"] == "pool"]
            f = [r for r in runs if r["variant"] == "fresh"]
            emit(f"| {shape} | {n(med(p, 'rps'))} | {n(med(f, 'rps'))} | {n(med(p, 'p50_us'))} "
                 f"| {n(med(f, 'p50_us'))} | {n(med(p, 'p99_us'))} | {n(med(f, 'p99_us'))} "
                 f"| {per_call(p, 'connections')} | {per_call(f, 'connections')} "
                 f"| {errors(p) + errors(f)} |")
    if direct:
        emit()
        emit("### What the daemon adds over calling the backend directly (1×1)")
        emit()
        emit("The same endpoint `ide_agents_list_entities` calls, `GET /entities/mappings`: "
             "straight from the load generator (`ide-agents-loadgen http`, keep-alive HTTP/1.1) "
             "vs through the daemon (tools/call, cache off, pooled connection).")
        emit()
        emit("| path | req/s | p50 µs | p90 µs | p99 µs | errors |")
        emit("|---|---:|---:|---:|---:|---:|")
        for (shape,), runs in direct.items():
            h = [r for r in runs if r["variant"] == "http"]
            d = [r for r in runs if r["variant"] == "daemon"]
            for label, rs in (("HTTP direct: GET /entities/mappings", h),
                              ("daemon: tools/call ide_agents_list_entities", d)):
                emit(f"| {label} | {n(med(rs, 'rps'))} | {n(med(rs, 'p50_us'))} "
                     f"| {n(med(rs, 'p90_us'))} | {n(med(rs, 'p99_us'))} | {errors(rs)} |")
            emit()
            emit(f"Added by the daemon at {shape}: p50 {n(med(d, 'p50_us') - med(h, 'p50_us'))} µs, "
                 f"p99 {n(med(d, 'p99_us') - med(h, 'p99_us'))} µs.")

cache = group("cache", "shape")
if "cache" in sections and cache:
    emit()
    emit("## Cache: ide_agents_fetch_doc hit vs miss, backend at 5 ms")
    emit()
    emit("The backend's `/documentation` is slowed by 5 ms (`POST /_control/faults "
         "{\"latency_ms\":5,\"paths\":[\"/documentation\"]}`). Hit: the default daemon, the same "
         "topic every call (the first call, in warmup, fills the cache). Miss: a daemon with "
         "IDE_AGENTS_CACHE_ENABLED=false, so every call goes to the backend.")
    emit()
    emit("| conns×window | hit req/s | miss req/s | hit p50 µs | miss p50 µs | hit p99 µs "
         "| miss p99 µs | backend/call hit | backend/call miss | errors |")
    emit("|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
    uncached = False
    for (shape,), runs in cache.items():
        h = [r for r in runs if r["variant"] == "hit"]
        m = [r for r in runs if r["variant"] == "miss"]
        hit_calls = per_call(h, "requests")
        uncached |= hit_calls != "–" and float(hit_calls) > 0.5
        emit(f"| {shape} | {n(med(h, 'rps'))} | {n(med(m, 'rps'))} | {n(med(h, 'p50_us'))} "
             f"| {n(med(m, 'p50_us'))} | {n(med(h, 'p99_us'))} | {n(med(m, 'p99_us'))} "
             f"| {hit_calls} | {per_call(m, 'requests')} | {errors(h) + errors(m)} |")
    if uncached:
        emit()
        emit("**Note:** the \"hit\" runs reached the backend on most calls: this build does not "
             "cache `ide_agents_fetch_doc`, so hit and miss measure the same path.")

startup = [r for r in rows if r.get("section") == "startup"]
if "startup" in sections and startup:
    s = startup[-1]["r"]
    emit()
    emit("## Cold start to first answer")
    emit()
    emit("From spawning `ide-agentsd serve` (fresh socket path and logs dir) to the first "
         "`ping` answered; the client retries connect + ping every 0.2 ms "
         "(`scripts/bench-coldstart.py`). The time includes the fork/exec.")
    emit()
    emit("| starts | median ms | min ms | max ms |")
    emit("|---:|---:|---:|---:|")
    emit(f"| {s['runs']} | {s['median_ms']:.1f} | {s['min_ms']:.1f} | {s['max_ms']:.1f} |")
    emit()
    emit("All starts (ms): " + ", ".join(f"{t:.1f}" for t in s["times_ms"]))

memory = [r for r in rows if r.get("section") == "memory"]
if "memory" in sections and memory:
    emit()
    emit("## Memory of the default daemon")
    emit()
    emit("From `/proc/PID/status`: VmRSS (resident now) and VmHWM (peak resident). Idle: 1 s "
         "after it started serving, before any request. After load: at the end of this run's "
         "sections (or, alone, after 16×8 healthz, list_entities and resources_read runs).")
    emit()
    emit("| point | VmRSS MiB | VmHWM MiB |")
    emit("|---|---:|---:|")
    for r in memory:
        emit(f"| {r['point']} | {r['rss_kib'] / 1024:.1f} | {r['hwm_kib'] / 1024:.1f} |")

soak = [r for r in rows if r.get("section") == "soak"]
if "soak" in sections and soak:
    s = soak[-1]
    r, warm, after = s["r"], s["warm"], s["after"]
    emit()
    emit("## Soak")
    emit()
    emit("`ide-agents-loadgen soak`: 32 connections, each running rounds of 8 pipelined requests "
         "(ping, tools/list, tools/call `ide_agents_healthz`, resources/read of a kb snippet, "
         "tools/call `ide_agents_list_entities` reaching the backend), half of the connections "
         "in the legacy era and half stateless; every 10th round also sends a slow "
         "`ide_agents_fetch_doc` (backend `/documentation` slowed to 20 ms) and cancels it at "
         "once; a connection closes after 50 rounds and every 4th is dropped with a slow call "
         "and a ping unanswered. Every answer is checked (a JSON-RPC error or an `isError` "
         "result counts as an error). The daemon has the cache off, so backend calls are real. "
         "Samples from `/proc/PID` once the soak's connections are closed.")
    emit()
    if r.get("failed"):
        emit("**The soak run failed; see the load generator's problems below.**")
    else:
        emit(f"- {r['requests_answered']:,} requests answered in {r['seconds']} s "
             f"({r['rps']:,.0f} req/s), **{r['errors']} errors**; {r['cancelled']:,} calls "
             f"cancelled ({r['cancelled_but_answered']:,} of them answered before the "
             f"cancellation arrived); {r['connections_opened']:,} connections opened, "
             f"{r['connections_dropped_mid_call']:,} dropped mid-call.")
    emit()
    emit("| point | VmRSS MiB | VmHWM MiB | open fds | Unix sockets | backend TCP | other "
         "| client connections open |")
    emit("|---|---:|---:|---:|---:|---:|---:|---:|")
    for p in (warm, after):
        emit(f"| {p['point']} | {p['rss_kib'] / 1024:.1f} | {p['hwm_kib'] / 1024:.1f} "
             f"| {p['fds']} | {p['unix_fds']} | {p['tcp_fds']} | {p['other_fds']} "
             f"| {p['connections_open']} |")
    emit()
    emit(f"RSS growth after warm-up: {(after['rss_kib'] - warm['rss_kib']) / 1024:+.1f} MiB; "
         f"descriptors: {after['fds'] - warm['fds']:+d} (Unix sockets "
         f"{after['unix_fds'] - warm['unix_fds']:+d}, backend TCP "
         f"{after['tcp_fds'] - warm['tcp_fds']:+d}: kept-alive backend connections, at most "
         "IDE_AGENTS_POOL_MAX_CONNECTIONS per worker, closed once idle for 30 s). The Unix sockets "
         "are the listener, the status client's connection and the runtimes' own signal pipes.")

# The bars the issues set, checked against this run's numbers.
bars = []


def cell(section, keys, kind_key, kind):
    runs = group(section, *([k for k, _ in keys])).get(tuple(v for _, v in keys), [])
    return [r for r in runs if r.get(kind_key) == kind]


def bar(name, value, target, ok):
    if value == value:  # not NaN
        bars.append((name, value, target, "met" if ok(value) else "**missed**"))


d16 = cell("core", [("scenario", "healthz"), ("shape", "16x1")], "kind", "daemon")
c16 = cell("core", [("scenario", "healthz"), ("shape", "16x1")], "kind", "ceiling")
if d16 and c16:
    bar("healthz 16×1 req/s ÷ ceiling", med(d16, "rps") / med(c16, "rps"), "≥ 0.70", lambda v: v >= 0.7)
d1 = cell("core", [("scenario", "healthz"), ("shape", "1x1")], "kind", "daemon")
c1 = cell("core", [("scenario", "healthz"), ("shape", "1x1")], "kind", "ceiling")
if d1 and c1:
    bar("healthz 1×1 p50 ÷ ceiling p50", med(d1, "p50_us") / med(c1, "p50_us"), "≤ 1.30", lambda v: v <= 1.3)
r16 = cell("core", [("scenario", "resources_read"), ("shape", "16x1")], "kind", "daemon")
rc16 = cell("core", [("scenario", "resources_read"), ("shape", "16x1")], "kind", "ceiling")
if r16 and rc16:
    bar("resources/read 16×1 req/s ÷ ceiling", med(r16, "rps") / med(rc16, "rps"), "≥ 0.70", lambda v: v >= 0.7)
for shape in ("1x1", "16x1"):
    p = cell("pool", [("shape", shape)], "variant", "pool")
    f = cell("pool", [("shape", shape)], "variant", "fresh")
    if p and f:
        bar(f"pooled ÷ connection per call, {shape} req/s", med(p, "rps") / med(f, "rps"), "≥ 2", lambda v: v >= 2)
h = cell("direct", [("shape", "1x1")], "variant", "http")
dd = cell("direct", [("shape", "1x1")], "variant", "daemon")
if h and dd:
    bar("daemon's added p50 over the backend, µs", med(dd, "p50_us") - med(h, "p50_us"), "< 100", lambda v: v < 100)
hit = cell("cache", [("shape", "1x1")], "variant", "hit")
miss = cell("cache", [("shape", "1x1")], "variant", "miss")
if hit and miss:
    bar("fetch_doc miss p50 ÷ hit p50 (5 ms backend)", med(miss, "p50_us") / med(hit, "p50_us"), "≥ 100", lambda v: v >= 100)
if startup:
    bar("cold start to first answer, median ms", startup[-1]["r"]["median_ms"], "< 50", lambda v: v < 50)
idle = [r for r in memory if r["point"] == "idle"]
if idle:
    bar("idle RSS, MB", idle[0]["rss_kib"] * 1024 / 1e6, "< 15", lambda v: v < 15)
if soak and not soak[-1]["r"].get("failed"):
    s = soak[-1]
    bar("soak errors", s["r"]["errors"], "0", lambda v: v == 0)
    bar("soak RSS growth after warm-up, MB", (s["after"]["rss_kib"] - s["warm"]["rss_kib"]) * 1024 / 1e6,
        "< 5", lambda v: v < 5)
    bar("soak: Unix sockets and other fds after − after warm-up",
        (s["after"]["unix_fds"] + s["after"]["other_fds"]) - (s["warm"]["unix_fds"] + s["warm"]["other_fds"]),
        "≤ 0", lambda v: v <= 0)
if bars:
    emit()
    emit("## Bars")
    emit()
    emit("| measure | this run | bar | |")
    emit("|---|---:|---|---|")
    for name, value, target, verdict in bars:
        shown = f"{value:,.2f}" if isinstance(value, float) else f"{value:,}"
        emit(f"| {name} | {shown} | {target} | {verdict} |")

emit()
emit("## Commands")
emit()
emit("$TMP is the run's temp dir; BACKEND the reference backend's URL as it printed it.")
emit()
emit("```sh")
for line in open(commands_path):
    emit(line.rstrip("\n"))
emit("```")
print("\n".join(out))
