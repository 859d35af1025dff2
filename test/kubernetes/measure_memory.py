"""Measures what the pod's memory limit must hold: the service under Docker with the
rendered Deployment's settings (test/lib/kubemanifest.py: user, read-only root, the
manifest's memory and CPU limits, its env), then N open connections, and prints the
process's resident memory (VmRSS, VmHWM of /proc/PID/status) and the container's cgroup
memory (what a limit is enforced on: user memory plus the kernel memory charged to it).

Two kinds of connection, opened from this process to 127.0.0.1 inside the container's
network namespace (entered with setns(2), as root: Docker's userland proxy in front of a
published port resets connections beyond about 3,300 here) and held open: `idle` (one GET /ping answered, then keep-alive), and `partial`
(a request head without its final empty line, so the service holds a read buffer for
it). For `partial` the container gets REQUEST_TIMEOUT=120 instead of the manifest's
value, so that the connections outlive the measurement; the line says so.

Not part of `make test` (it prints numbers and asserts none). Bounded: at most the
largest N connections (default 4000, below MAX_CONNECTIONS), 120 s in all.

Usage: measure_memory.py RENDERED.yaml IMAGE [N ...]
"""

from __future__ import annotations

import contextlib
import ctypes
import json
import os
import resource
import socket
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parents[1]
sys.path.insert(0, str(ROOT / "test" / "lib"))

import kubemanifest as km  # noqa: E402
from containers import docker, free_port, proc_status, wait_ready  # noqa: E402

PORTS = range(19000, 19500)
DEADLINE = 120.0


def cgroup_memory(container_id: str) -> int | None:
    """The container's memory counter, cgroup v2 or v1 (cgroupfs or systemd driver)."""
    candidates = [
        f"/sys/fs/cgroup/system.slice/docker-{container_id}.scope/memory.current",
        f"/sys/fs/cgroup/docker/{container_id}/memory.current",
        f"/sys/fs/cgroup/memory/docker/{container_id}/memory.usage_in_bytes",
        f"/sys/fs/cgroup/memory/system.slice/docker-{container_id}.scope/memory.usage_in_bytes",
    ]
    for path in candidates:
        try:
            return int(Path(path).read_text())
        except OSError:
            continue
    return None


CLONE_NEWNET = 0x40000000


@contextlib.contextmanager
def network_namespace(pid: int):
    """Runs the block with this thread in the network namespace of process `pid`."""
    libc = ctypes.CDLL(None, use_errno=True)
    own = os.open("/proc/self/ns/net", os.O_RDONLY)
    target = os.open(f"/proc/{pid}/ns/net", os.O_RDONLY)
    try:
        if libc.setns(target, CLONE_NEWNET) != 0:
            raise OSError(ctypes.get_errno(), "setns into the container's network namespace (needs root)")
        try:
            yield
        finally:
            if libc.setns(own, CLONE_NEWNET) != 0:
                raise OSError(ctypes.get_errno(), "setns back")
    finally:
        os.close(own)
        os.close(target)


def open_connections(port: int, count: int, kind: str, deadline: float) -> list[socket.socket]:
    socks = []
    head = b"GET /ping HTTP/1.1\r\nHost: measure\r\n"
    for _ in range(count):
        if time.monotonic() > deadline:
            raise SystemExit("measurement ran out of time")
        s = socket.create_connection(("127.0.0.1", port), timeout=5)
        if kind == "idle":
            s.sendall(head + b"\r\n")
            got = b""
            while not got.endswith(b"Pong!"):
                chunk = s.recv(4096)
                if not chunk:
                    raise SystemExit(f"the service closed connection {len(socks)} during the measurement, after {got!r}")
                got += chunk
        else:
            s.sendall(head)
        socks.append(s)
    return socks


def measure(deployment: dict, image: str, kind: str, counts: list[int], deadline: float) -> list[tuple]:
    name = f"measure-memory-{kind}-{int(time.time())}"
    port = free_port(PORTS)
    argv, _ = km.docker_run_argv(deployment, image, name, port)
    if kind == "partial":
        argv.insert(-1, "--env")
        argv.insert(-1, "REQUEST_TIMEOUT=120")
    docker(*argv)
    rows = []
    held: list[socket.socket] = []
    try:
        wait_ready(f"http://127.0.0.1:{port}/ping")
        info = json.loads(docker("inspect", name).stdout)[0]
        pid, cid = info["State"]["Pid"], info["Id"]
        container_port = int(km.app_container(deployment)["ports"][0]["containerPort"])
        for count in counts:
            with network_namespace(pid):
                held += open_connections(container_port, count - len(held), kind, deadline)
            time.sleep(0.5)  # let the event loop take in the last ones
            status = proc_status(pid)
            rows.append((kind, count, status["VmRSS"].strip(), status["VmHWM"].strip(),
                         cgroup_memory(cid), status["Threads"].strip()))
    finally:
        for s in held:
            s.close()
        docker("rm", "--force", name, check=False)
    return rows


def main(argv: list[str]) -> int:
    deployment = km.one(km.load(Path(argv[0]).read_text()), "Deployment")
    image = argv[1]
    counts = sorted(int(n) for n in argv[2:]) or [0, 1000, 4000]
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (min(hard, max(soft, counts[-1] + 100)), hard))
    deadline = time.monotonic() + DEADLINE
    print(f"{'connections':>12} {'kind':>8} {'VmRSS':>10} {'VmHWM':>10} {'cgroup':>10} {'threads':>8}")
    for kind in ("idle", "partial"):
        rows = measure(deployment, image, kind, counts, deadline)
        base_cg = rows[0][4]
        for kind_, count, rss, hwm, cg, threads in rows:
            cg_text = f"{cg / 2**20:.2f} MiB" if cg is not None else "n/a"
            print(f"{count:>12} {kind_:>8} {rss:>10} {hwm:>10} {cg_text:>10} {threads:>8}")
        if len(rows) > 1 and base_cg is not None and rows[-1][4] is not None and rows[-1][1] > rows[0][1]:
            per = (rows[-1][4] - base_cg) / (rows[-1][1] - rows[0][1])
            rss_per = (int(rows[-1][2].split()[0]) - int(rows[0][2].split()[0])) * 1024 / (rows[-1][1] - rows[0][1])
            print(f"{'':>12} {kind:>8} per connection: cgroup {per / 1024:.1f} KiB, VmRSS {rss_per / 1024:.1f} KiB")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
