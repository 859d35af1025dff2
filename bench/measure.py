#!/usr/bin/env python3
"""Measurements for bench/run.sh, from /proc and raw sockets (standard library only).

Every measurement appends one JSON object per line to a results file; `table` reads them
back, takes medians and prints the markdown table.

  measure.py ping PORT                       one GET /ping: exit 0 if `200 Pong!`
  measure.py requests --port P --count N [--close]
                                             exactly N GET /ping, in turn, checked
  measure.py syscalls NAME=REQUESTS=FILE...  perf stat syscall counts as calls per request
  measure.py memory --server S --what W --pid P --out F
                                             resident memory of P and its descendants
  measure.py wrk --server S --shape H --round N --pid P --out F [--peak] -- wrk ARGS...
                                             one wrk run, with the server's CPU time (and
                                             with --peak its peak resident memory;
                                             --strict: any non-2xx answer fails)
  measure.py spawn --server S --port P --runs N --out F -- COMMAND...
                                             time from spawn to the first correct /ping
  measure.py table --results F --out F [--binary NAME=PATH]... [--smoke]
"""

import argparse
import json
import os
import platform
import re
import signal
import socket
import statistics
import subprocess
import sys
import time

CLK_TCK = os.sysconf("SC_CLK_TCK")
PING = b"GET /ping HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n"


# --- /proc ----------------------------------------------------------------------------


def stat_fields(pid):
    """Fields of /proc/PID/stat after the command name (which may hold spaces or ')')."""
    with open(f"/proc/{pid}/stat") as f:
        return f.read().rsplit(")", 1)[1].split()


def process_tree(root):
    """root and all its descendants (nginx: master and workers; micro-service: itself)."""
    children = {}
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                ppid = int(stat_fields(entry)[1])
            except (OSError, IndexError):
                continue  # exited while we looked
            children.setdefault(ppid, []).append(int(entry))
    tree, todo = [], [root]
    while todo:
        pid = todo.pop()
        tree.append(pid)
        todo.extend(children.get(pid, []))
    return tree


def cpu_seconds(root):
    """utime + stime of the tree, all threads included (the process line sums them)."""
    ticks = 0
    for pid in process_tree(root):
        try:
            fields = stat_fields(pid)
        except OSError:
            continue
        ticks += int(fields[11]) + int(fields[12])
    return ticks / CLK_TCK


def status_kib(pid, key):
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith(key + ":"):
                return int(line.split()[1])
    return 0


def tree_kib(root, key):
    """Sum of a /proc/PID/status memory field (VmRSS, VmHWM) over the tree, in KiB."""
    total = 0
    for pid in process_tree(root):
        try:
            total += status_kib(pid, key)
        except OSError:
            pass
    return total


def reset_peak(root):
    """Resets VmHWM to the current RSS (clear_refs 5); False where the kernel refuses."""
    ok = True
    for pid in process_tree(root):
        try:
            with open(f"/proc/{pid}/clear_refs", "w") as f:
                f.write("5")
        except OSError:
            ok = False
    return ok


def alive(pid):
    try:
        return stat_fields(pid)[0] not in ("Z", "X")
    except OSError:
        return False


# --- HTTP -----------------------------------------------------------------------------


def ping(port, timeout=1.0):
    """One GET /ping on a new connection; returns the raw answer (b'' if refused)."""
    with socket.create_connection(("127.0.0.1", port), timeout=timeout) as s:
        s.sendall(PING)
        chunks = []
        while chunk := s.recv(4096):
            chunks.append(chunk)
    return b"".join(chunks)


def ping_ok(answer):
    head, _, body = answer.partition(b"\r\n\r\n")
    return head.startswith(b"HTTP/1.1 200 ") and body == b"Pong!"


# --- commands -------------------------------------------------------------------------


def append(path, record):
    with open(path, "a") as f:
        f.write(json.dumps(record) + "\n")


def cmd_ping(args):
    try:
        answer = ping(args.port)
    except OSError as e:
        print(f"ping :{args.port}: {e}", file=sys.stderr)
        return 1
    if not ping_ok(answer):
        print(f"ping :{args.port}: wrong answer {answer[:300]!r}", file=sys.stderr)
        return 1
    return 0


def cmd_requests(args):
    """Exactly COUNT GET /ping, one after the other: on one keep-alive connection, or
    with --close on a new connection each (for instruction counts under valgrind)."""
    request = PING if args.close else PING.replace(b"Connection: close", b"Connection: keep-alive")
    conn, buf = None, b""
    for _ in range(args.count):
        if args.close:
            if not ping_ok(ping(args.port, timeout=30)):
                print("wrong answer", file=sys.stderr)
                return 1
            continue
        if conn is None:
            conn = socket.create_connection(("127.0.0.1", args.port), timeout=30)
        conn.sendall(request)
        while b"\r\n\r\n" not in buf or not buf.split(b"\r\n\r\n", 1)[1].startswith(b"Pong!"):
            chunk = conn.recv(4096)
            if not chunk:
                print("connection closed early", file=sys.stderr)
                return 1
            buf += chunk
        head, buf = buf.split(b"\r\n\r\n", 1)
        if not head.startswith(b"HTTP/1.1 200 "):
            print(f"wrong answer {head!r}", file=sys.stderr)
            return 1
        buf = buf[len(b"Pong!"):]
    if conn:
        conn.close()
    return 0


def cmd_syscalls(args):
    """`perf stat -x,` counts of syscalls:sys_enter_* to calls per request, side by side."""
    columns = []
    for spec in args.summary:
        name, requests, path = spec.split("=", 2)
        calls = {}
        for line in open(path):
            fields = line.strip().split(",")
            if len(fields) > 2 and fields[2].startswith("syscalls:sys_enter_"):
                if fields[0].isdigit() and int(fields[0]) > 0:
                    calls[fields[2].removeprefix("syscalls:sys_enter_")] = int(fields[0])
        columns.append((name, int(requests), calls))
    names = sorted({n for _, _, c in columns for n in c},
                   key=lambda n: -max(c.get(n, 0) / r for _, r, c in columns))
    print("| system call | " + " | ".join(f"{n} per request" for n, _, _ in columns) + " |")
    print("|---|" + "---:|" * len(columns))
    for n in names:
        print(f"| {n} | " + " | ".join(f"{c.get(n, 0) / r:.3f}" for _, r, c in columns) + " |")
    print("| **total** | " + " | ".join(f"**{sum(c.values()) / r:.3f}**"
                                          for _, r, c in columns) + " |")
    return 0


def cmd_memory(args):
    rss = tree_kib(args.pid, "VmRSS")
    append(args.out, {"kind": "memory", "server": args.server, "what": args.what,
                      "kib": rss, "processes": len(process_tree(args.pid))})
    print(f"  {args.server:13} {args.what}: {rss} KiB resident", file=sys.stderr)
    return 0


WRK_LINE = re.compile(r"^BENCH (.*)$", re.M)


def cmd_wrk(args):
    peak_reset = reset_peak(args.pid) if args.peak else False
    cpu_before = cpu_seconds(args.pid)
    run = subprocess.run(args.command, capture_output=True, text=True, timeout=args.timeout)
    cpu_after = cpu_seconds(args.pid)
    peak = tree_kib(args.pid, "VmHWM") if args.peak else None
    match = WRK_LINE.search(run.stdout)
    if run.returncode != 0 or not match:
        print(f"wrk failed ({run.returncode}):\n{run.stdout}\n{run.stderr}", file=sys.stderr)
        return 1
    if not alive(args.pid):
        print(f"{args.server} died during the {args.shape} run", file=sys.stderr)
        return 1
    r = {k: int(v) for k, v in (kv.split("=") for kv in match.group(1).split())}
    if r["requests"] == 0:
        print(f"{args.server} answered no request:\n{run.stdout}", file=sys.stderr)
        return 1
    if args.strict and r["status"]:
        print(f"{args.server} gave {r['status']} answers other than 2xx/3xx", file=sys.stderr)
        return 1
    cpu = cpu_after - cpu_before
    errors = r["connect"] + r["read"] + r["write"] + r["timeout"]
    record = {
        "kind": "wrk", "server": args.server, "shape": args.shape, "round": args.round,
        "requests": r["requests"], "rps": r["requests"] / (r["duration_us"] / 1e6),
        "p50_us": r["p50_us"], "p99_us": r["p99_us"],
        "socket_errors": errors, "timeouts": r["timeout"], "non_2xx": r["status"],
        "cpu_s": cpu, "cpu_us_per_request": cpu / r["requests"] * 1e6,
    }
    if args.peak:
        record.update(peak_kib=peak, peak_since_reset=peak_reset)
    append(args.out, record)
    print(f"  {args.server:13} {args.shape:10} round {args.round}: {record['rps']:9.0f} req/s"
          f"  p50 {r['p50_us']:5} us  p99 {r['p99_us']:6} us  errors {errors}"
          f"  non-2xx {r['status']}  cpu {record['cpu_us_per_request']:.2f} us/req"
          + (f"  peak {peak} KiB" if args.peak else ""), file=sys.stderr)
    return 0


def stop(proc):
    proc.send_signal(signal.SIGTERM)
    try:
        proc.wait(timeout=5)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()


def cmd_spawn(args):
    times = []
    for _ in range(args.runs):
        start = time.perf_counter()
        proc = subprocess.Popen(args.command, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        try:
            # A tight loop: on loopback a refused connect returns at once.
            deadline = start + 5
            while True:
                try:
                    if ping_ok(ping(args.port)):
                        break
                except OSError:
                    pass
                if proc.poll() is not None:
                    print(f"{args.server} exited with {proc.returncode} before answering:\n"
                          f"{proc.stderr.read().decode(errors='replace')}", file=sys.stderr)
                    return 1
                if time.perf_counter() > deadline:
                    print(f"{args.server} gave no correct /ping within 5 s", file=sys.stderr)
                    return 1
            times.append((time.perf_counter() - start) * 1000)
            if args.memory and len(times) == args.runs:
                time.sleep(0.5)  # settle, then the same "idle" as the load servers'
                append(args.out, {"kind": "memory", "server": args.server, "what": "idle",
                                  "kib": tree_kib(proc.pid, "VmRSS")})
        finally:
            stop(proc)
    append(args.out, {"kind": "spawn", "server": args.server, "ms": times})
    print(f"  {args.server:13} spawn to first /ping: median {statistics.median(times):.2f} ms"
          f" of {len(times)} ({min(times):.2f}-{max(times):.2f})", file=sys.stderr)
    return 0


# --- the table ------------------------------------------------------------------------

SHAPES = [
    ("ka50", "keep-alive c50"),
    ("ka256", "keep-alive c256"),
    ("close50", "`Connection: close` c50"),
    ("pipe16", "pipelined depth 16, c50"),
]


def fmt_int(x):
    return f"{x:,.0f}"


def fmt_us(x):
    return f"{x / 1000:.2f} ms" if x >= 1000 else f"{x:.0f} µs"


def fmt_kib(x):
    return f"{x / 1024:.2f} MiB"


def machine():
    cpu = "unknown"
    with open("/proc/cpuinfo") as f:
        for line in f:
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break

    def version(cmd):
        try:
            out = subprocess.run(cmd, capture_output=True, text=True, timeout=10)
            return (out.stdout + out.stderr).strip().splitlines()[0]
        except (OSError, IndexError, subprocess.TimeoutExpired):
            return "?"

    return (f"{cpu}, {os.cpu_count()} cores, Linux {platform.release()}; "
            f"{version(['nginx', '-v'])}; {version(['wrk', '-v']).split(' [')[0]}; "
            f"{version(['rustc', '-V'])}")


def cmd_table(args):
    records = [json.loads(line) for line in open(args.results)]
    rows = []  # figure, micro-service, nginx, ratio, target, met

    def ratio(a, b):
        return a / b if b else float("inf")

    def compare(figure, a, b, fmt, target=None, better="higher", r=None):
        r = ratio(a, b) if r is None else r
        met = "—"
        if target is not None:
            ok = r >= target if better == "higher" else r <= target
            met = "yes" if ok else "**no**"
        sign = "≥" if better == "higher" else "≤"
        rows.append((figure, fmt(a), fmt(b), f"{r:.2f}×",
                     f"{sign} {target:.1f}×" if target is not None else "", met))

    def runs(server, shape):
        return [r for r in records if r["kind"] == "wrk" and r["server"] == server
                and r["shape"] == shape]

    def median(server, shape, key):
        return statistics.median(r[key] for r in runs(server, shape))

    def paired(figure, shape, key, fmt, target, better):
        """Medians of each server's runs, and the median of the per-round ratios: the two
        runs of a round are seconds apart, so a busy neighbour mostly hits both."""
        ours = {r["round"]: r[key] for r in runs("micro-service", shape)}
        theirs = {r["round"]: r[key] for r in runs("nginx", shape)}
        r = statistics.median(ratio(ours[k], theirs[k]) for k in ours if k in theirs)
        compare(figure, median("micro-service", shape, key), median("nginx", shape, key),
                fmt, target, better, r)

    rounds = max((r["round"] for r in records if r["kind"] == "wrk"), default=0)
    for shape, name in SHAPES:
        if not runs("micro-service", shape) or not runs("nginx", shape):
            continue
        paired(f"{name}: requests/s", shape, "rps", fmt_int, 1.0, "higher")
        paired(f"{name}: p50 latency", shape, "p50_us", fmt_us, None, "lower")
        paired(f"{name}: p99 latency", shape, "p99_us", fmt_us, 1.0, "lower")
        paired(f"{name}: server CPU per request", shape, "cpu_us_per_request",
               lambda x: f"{x:.2f} µs", 1.0, "lower")
        errs = {s: sum(r["socket_errors"] + r["non_2xx"] for r in runs(s, shape))
                for s in ("micro-service", "nginx")}
        rows.append((f"{name}: errors + timeouts + non-2xx (all rounds)",
                     fmt_int(errs["micro-service"]), fmt_int(errs["nginx"]), "",
                     "0" if shape == "ka256" else "",
                     ("yes" if errs["micro-service"] == 0 else "**no**")
                     if shape == "ka256" else "—"))

    def memory(server, what):
        values = [r["kib"] for r in records if r["kind"] == "memory"
                  and r["server"] == server and r["what"] == what]
        return values[-1] if values else None

    def absolute(figure, a, b, fmt, limit, limit_text):
        rows.append((figure, fmt(a), fmt(b), f"{ratio(a, b):.2f}×", limit_text,
                     "yes" if a <= limit else "**no**"))

    a, b = memory("micro-service", "idle"), memory("nginx", "idle")
    if a is not None and b is not None:
        absolute("idle resident memory (process tree)", a, b, fmt_kib, 2048, "≤ 2 MiB")
    peaks = {s: [r["peak_kib"] for r in runs(s, "ka256") if r.get("peak_kib")]
             for s in ("micro-service", "nginx")}
    if peaks["micro-service"] and peaks["nginx"]:
        absolute("peak resident memory at c256 (process tree)", max(peaks["micro-service"]),
                 max(peaks["nginx"]), fmt_kib, 8192, "≤ 8 MiB")
    a, b = memory("micro-service", "idle after load"), memory("nginx", "idle after load")
    if a is not None and b is not None:
        compare("idle resident memory after the load", a, b, fmt_kib)
    spawn = {r["server"]: statistics.median(r["ms"]) for r in records if r["kind"] == "spawn"}
    if "micro-service" in spawn and "nginx" in spawn:
        absolute("spawn to first correct `/ping` (median)", spawn["micro-service"],
                 spawn["nginx"], lambda x: f"{x:.2f} ms", 3.0, "≤ 3 ms")
    # The other build (glibc, or musl when glibc is loaded) is started on its own, not
    # loaded; its figures keep their targets, met or not.
    other = f"micro-service ({args.other})"
    a, b = memory(other, "idle"), memory("nginx", "idle")
    if a is not None and b is not None:
        absolute(f"idle resident memory, {args.other} build", a, b, fmt_kib, 2048, "≤ 2 MiB")
    if other in spawn and "nginx" in spawn:
        absolute(f"spawn to first correct `/ping`, {args.other} build", spawn[other],
                 spawn["nginx"], lambda x: f"{x:.2f} ms", 3.0, "≤ 3 ms")
    for spec in args.binary:
        name, path = spec.split("=", 1)
        if os.path.exists(path):
            size = os.path.getsize(path)
            musl = "musl" in name
            rows.append((f"binary size, {name}", f"{size:,} B", "", "",
                         "≤ 512 KB" if musl else "",
                         ("yes" if size <= 512_000 else "**no**") if musl else "—"))
        else:
            rows.append((f"binary size, {name}", "not built", "", "", "", "—"))

    lines = []
    if args.smoke:
        lines.append("**Smoke run** (1 round of 1 s per shape): numbers show that the "
                     "benchmark works, not how fast anything is.\n")
    lines.append(f"Machine: {machine()}.  ")
    lines.append(f"Under load: `{args.subject}`. Medians of {rounds} round(s) per load "
                 "shape, wrk with 2 threads, the two servers one after the other in each "
                 "round. Ratio: micro-service / nginx; for the load figures, the median of "
                 "the ratios within each round.\n")
    spread = {}
    for server in ("micro-service", "nginx"):
        rates = [[r["rps"] for r in runs(server, shape)] for shape, _ in SHAPES]
        spread[server] = max((max(x) / min(x) for x in rates if x), default=1.0)
    if rounds > 1:
        lines.append("Round-to-round spread of requests/s (highest/lowest, worst shape): "
                     f"micro-service {spread['micro-service']:.2f}×, nginx "
                     f"{spread['nginx']:.2f}×; much above 1.2× means something else was "
                     "using the machine, and the medians deserve a second run.\n")
    lines.append("| figure | micro-service | nginx | ratio | target | met? |")
    lines.append("|---|---:|---:|---:|---|---|")
    lines += ["| " + " | ".join(row) + " |" for row in rows]
    text = "\n".join(lines) + "\n"
    with open(args.out, "w") as f:
        f.write(text)
    print(text)
    return 0


def main():
    # Stopped by run.sh's cleanup: exit through Python, so that subprocess.run kills the wrk
    # it waits for and `spawn` stops the server it started.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    p = argparse.ArgumentParser(description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = p.add_subparsers(dest="cmd", required=True)
    s = sub.add_parser("ping")
    s.add_argument("port", type=int)
    s = sub.add_parser("requests")
    s.add_argument("--port", type=int, required=True)
    s.add_argument("--count", type=int, required=True)
    s.add_argument("--close", action="store_true")
    s = sub.add_parser("syscalls")
    s.add_argument("summary", nargs="+", help="NAME=REQUESTS=PERF_STAT_CSV")
    s = sub.add_parser("memory")
    for a in ("--server", "--what", "--out"):
        s.add_argument(a, required=True)
    s.add_argument("--pid", type=int, required=True)
    s = sub.add_parser("wrk")
    for a in ("--server", "--shape", "--out"):
        s.add_argument(a, required=True)
    s.add_argument("--round", type=int, required=True)
    s.add_argument("--pid", type=int, required=True)
    s.add_argument("--peak", action="store_true")
    s.add_argument("--strict", action="store_true", help="fail on any non-2xx/3xx answer")
    s.add_argument("--timeout", type=float, default=120)
    s.add_argument("command", nargs="+")
    s = sub.add_parser("spawn")
    for a in ("--server", "--out"):
        s.add_argument(a, required=True)
    s.add_argument("--port", type=int, required=True)
    s.add_argument("--runs", type=int, default=9)
    s.add_argument("--memory", action="store_true", help="also record the idle RSS")
    s.add_argument("command", nargs="+")
    s = sub.add_parser("table")
    s.add_argument("--results", required=True)
    s.add_argument("--out", required=True)
    s.add_argument("--binary", action="append", default=[])
    s.add_argument("--smoke", action="store_true")
    s.add_argument("--subject", default="target/release/micro-service")
    s.add_argument("--other", default="glibc", help="the build started but not loaded")
    args = p.parse_args()
    return {"ping": cmd_ping, "requests": cmd_requests, "syscalls": cmd_syscalls, "memory": cmd_memory, "wrk": cmd_wrk, "spawn": cmd_spawn,
            "table": cmd_table}[args.cmd](args)


if __name__ == "__main__":
    sys.exit(main())
