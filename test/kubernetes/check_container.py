"""Runs the rendered Deployment's pod under Docker with the local image: proof that this
image works with the manifest's settings, as test/infra/check_container.py does for the
Terraform module's systemd unit.

The container gets the pod's settings, translated by test/lib/kubemanifest.py (which
refuses a pod field it cannot carry over): --user from runAsUser/runAsGroup, --read-only,
--cap-drop ALL, --security-opt no-new-privileges (allowPrivilegeEscalation false),
Docker's default seccomp profile (RuntimeDefault), the memory and CPU limits, the env
exactly as listed (enableServiceLinks is false). The image is the local build instead of
the manifest's tag, and the port is published on a free 127.0.0.1 port; both printed.
Then:

- the kernel's view of the process (/proc/PID/status): uid and gid, no effective
  capability, NoNewPrivs, a seccomp filter; Docker's: read-only root, the limits;
- the liveness probe's path answers 200 (the kubelet counts 200-399), at once and on
  each call; the readiness probe's path answers 200 or 500, with a 200 within a few calls
  (the kubelet marks a pod ready at its first success);
- a busy pod: a second container with the same settings but a MAX_CONNECTIONS the
  check can fill (BUSY_CONNECTIONS), held full by requests whose heads never complete
  (so none is quiet and none can be closed to make room): once a newcomer's `/` is
  refused 503, the liveness path must still answer 200 (else the kubelet would restart
  a pod for being busy), and the readiness path answers 503 (the pod leaves the
  endpoints while full);
- the stop: the kubelet runs the preStop sleep, then sends SIGTERM and waits the rest of
  terminationGracePeriodSeconds before SIGKILL. The check holds a keep-alive connection
  open and a request head that never completes (the slowest client a drain meets, given
  up at SHUTDOWN_TIMEOUT), sends SIGTERM with `docker stop --time <grace - sleep>` and
  wants exit code 0 (137 would be the SIGKILL); it prints how long the drain took, and
  asserts no timing beyond that. The sleep itself is not
  waited out: nothing happens to the container during it.

Usage: check_container.py RENDERED.yaml IMAGE NAME
"""

from __future__ import annotations

import copy
import json
import socket
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parents[1]
sys.path.insert(0, str(ROOT / "test" / "lib"))

import kubemanifest as km  # noqa: E402
from containers import docker, free_port, get, image_version, proc_status, stop, wait_ready  # noqa: E402

PORTS = range(18500, 19000)  # this check's share of the machine's ports
READINESS_TRIES = 20  # at HEALTH_FAILURE_RATE 0.1, 20 failures in a row: 1e-20
BUSY_CONNECTIONS = 8  # the busy container's MAX_CONNECTIONS: few enough to fill at once
FULL_WITHIN = 3.0  # seconds for the service to take the held connections (REQUEST_TIMEOUT is 10 s)


def kernel_view_problems(status: dict, sec: dict) -> list[str]:
    uid, gid = str(sec["runAsUser"]), str(sec.get("runAsGroup", sec["runAsUser"]))
    expected = {
        "Uid": lambda v: v.split() == [uid] * 4,
        "Gid": lambda v: v.split() == [gid] * 4,
        "CapEff": lambda v: int(v, 16) == 0,
        "CapPrm": lambda v: int(v, 16) == 0,
        "NoNewPrivs": lambda v: v.strip() == "1",
        "Seccomp": lambda v: v.strip() == "2",  # 2: a filter, Docker's default profile
    }
    return [f"/proc status {key}: {status.get(key, '').strip()!r}" for key, ok in expected.items()
            if key not in status or not ok(status[key])]


def hold_connection(port: int) -> socket.socket:
    """A keep-alive connection with one request answered, open when SIGTERM comes."""
    s = socket.create_connection(("127.0.0.1", port), timeout=5)
    s.sendall(b"GET /ping HTTP/1.1\r\nHost: check\r\n\r\n")
    got = b""
    while not got.endswith(b"Pong!"):
        chunk = s.recv(4096)
        if not chunk:
            raise ConnectionError("the service closed the keep-alive connection")
        got += chunk
    return s


def hold_partial_request(port: int) -> socket.socket:
    """A client that has sent half a request head and never sends the rest: the slowest
    connection a drain can meet, which the service gives up on at SHUTDOWN_TIMEOUT."""
    s = socket.create_connection(("127.0.0.1", port), timeout=5)
    s.sendall(b"GET /ping HTTP/1.1\r\nHost: check\r\n")
    return s


def busy_problems(deployment: dict, image: str, name: str) -> tuple[list[str], str]:
    """The pod's container at MAX_CONNECTIONS with nothing quiet: what the probes get."""
    busy = copy.deepcopy(deployment)
    container = km.app_container(busy)
    for item in container["env"]:
        if item["name"] == "MAX_CONNECTIONS":
            item["value"] = str(BUSY_CONNECTIONS)
    port = free_port(PORTS)
    argv, _ = km.docker_run_argv(busy, image, name, port)
    base = f"http://127.0.0.1:{port}"
    live, ready = km.probe(container, "livenessProbe"), km.probe(container, "readinessProbe")
    lpath, rpath = live["httpGet"]["path"], ready["httpGet"]["path"]
    docker(*argv)
    held: list[socket.socket] = []
    try:
        wait_ready(f"{base}/ping")
        held = [hold_partial_request(port) for _ in range(BUSY_CONNECTIONS)]
        deadline, root = time.monotonic() + FULL_WITHIN, None
        while time.monotonic() < deadline:
            root = get(f"{base}/", timeout=live["timeoutSeconds"])[0]
            if root == 503:
                break
            time.sleep(0.05)
        if root != 503:
            return [f"the container did not fill up: GET / answered {root} with {BUSY_CONNECTIONS} requests held "
                    f"and MAX_CONNECTIONS={BUSY_CONNECTIONS}"], "a busy pod"
        lstatus = get(f"{base}{lpath}", timeout=live["timeoutSeconds"])[0]
        rstatus = get(f"{base}{rpath}", timeout=ready["timeoutSeconds"])[0]
    finally:
        for s in held:
            s.close()
        docker("rm", "--force", name, check=False)
    problems = []
    if not 200 <= lstatus < 400:
        problems.append(f"liveness GET {lpath} answered {lstatus} at MAX_CONNECTIONS: the kubelet would restart a pod "
                        "for being busy, dropping its connections and moving its load to the others")
    if rstatus != 503:
        problems.append(f"readiness GET {rpath} answered {rstatus} at MAX_CONNECTIONS, not 503: a full pod would stay "
                        "in the endpoints")
    return problems, (f"a busy pod (MAX_CONNECTIONS={BUSY_CONNECTIONS}, all held by unfinished requests; GET / -> 503): "
                      f"liveness GET {lpath} -> {lstatus}, readiness GET {rpath} -> {rstatus}")


def main(argv: list[str]) -> int:
    rendered, image, name = Path(argv[0]), argv[1], argv[2]
    deployment = km.one(km.load(rendered.read_text()), "Deployment")
    container = km.app_container(deployment)
    sec = km.security(deployment)
    port = free_port(PORTS)
    run_argv, notes = km.docker_run_argv(deployment, image, name, port)
    print(f"  the pod as docker run: {' '.join(run_argv)}")
    for note in notes:
        print(f"    {note}")
    version = image_version(image)

    started = docker(*run_argv, check=False)
    if started.returncode != 0:
        print(f"  FAIL docker {' '.join(run_argv)}\n{started.stderr}")
        return 1
    problems: list[str] = []

    def report(ok_before: int, label: str) -> None:
        print(f"  {'ok  ' if len(problems) == ok_before else 'FAIL'} {label}")
        for p in problems[ok_before:]:
            print(f"       {p}")

    try:
        base = f"http://127.0.0.1:{port}"
        wait_ready(f"{base}/ping")
        before = len(problems)
        info = json.loads(docker("inspect", name).stdout)[0]
        host = info["HostConfig"]
        problems += kernel_view_problems(proc_status(info["State"]["Pid"]), sec)
        if host.get("ReadonlyRootfs") is not True:
            problems.append("the root filesystem is writable")
        limits = (container.get("resources") or {}).get("limits") or {}
        if "memory" in limits and host.get("Memory") != int(km.quantity(limits["memory"], "memory")):
            problems.append(f"memory limit {host.get('Memory')} is not the manifest's {limits['memory']}")
        if "cpu" in limits and host.get("NanoCpus") != int(km.quantity(limits["cpu"], "cpu") * 1e9):
            problems.append(f"CPU limit {host.get('NanoCpus')} ns is not the manifest's {limits['cpu']}")
        seen_env = dict(e.split("=", 1) for e in info["Config"]["Env"])
        missing = {k: v for k, v in km.env(container).items() if seen_env.get(k) != v}
        if missing:
            problems.append(f"env not as in the manifest: {missing}")
        report(before, f"running as uid/gid {sec['runAsUser']}/{sec.get('runAsGroup')}, no capabilities, NoNewPrivs, "
               f"seccomp filter, read-only root, limits {limits}, env {len(km.env(container))} variables as listed")

        before = len(problems)
        live = km.probe(container, "livenessProbe")
        lpath = live["httpGet"]["path"]
        live_statuses = []
        for _ in range(3):
            status, body, server = get(f"{base}{lpath}", timeout=live["timeoutSeconds"])
            live_statuses.append(status)
            if not 200 <= status < 400:
                problems.append(f"liveness GET {lpath} answered {status}: the kubelet would restart the container")
                break
        if server != f"micro-service/{version}":
            problems.append(f"Server header {server!r}, not micro-service/{version}")
        ready = km.probe(container, "readinessProbe")
        rpath = ready["httpGet"]["path"]
        statuses = []
        for _ in range(READINESS_TRIES):
            status, _, _ = get(f"{base}{rpath}", timeout=ready["timeoutSeconds"])
            statuses.append(status)
            if 200 <= status < 400:
                break
        if any(s not in (200, 500) for s in statuses) or not 200 <= statuses[-1] < 400:
            problems.append(f"readiness GET {rpath} answered {statuses}")
        report(before, f"liveness GET {lpath} -> {live_statuses}, readiness GET {rpath} -> {statuses} "
               f"(ready at the first success), Server: micro-service/{version}")

        before = len(problems)
        busy, label = busy_problems(deployment, image, f"{name}-busy")
        problems += busy
        report(before, label)

        before = len(problems)
        sleep = km.prestop_sleep(container) or 0
        grace = km.grace_period(deployment)
        seconds = km.stop_seconds(deployment)
        if seconds <= 0:
            problems.append(f"the preStop sleep ({sleep} s) uses up the grace period ({grace} s): SIGKILL, no SIGTERM")
            seconds = 0
        held = [hold_connection(port), hold_partial_request(port)]
        try:
            code, elapsed = stop(name, seconds)
        finally:
            for s in held:
                s.close()
        if code != "0":
            problems.append(f"the stop ended the service with exit code {code!r}, not 0 (137: killed at the end of the grace period)")
        report(before, f"stop: grace {grace} s - preStop sleep {sleep} s = SIGTERM {seconds} s before SIGKILL; "
               f"with an idle keep-alive connection and a request that never completes open, it exited {code} "
               f"after {elapsed:.2f} s")
    finally:
        docker("rm", "--force", name, check=False)
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
