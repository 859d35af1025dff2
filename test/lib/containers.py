"""Docker and HTTP helpers shared by the checks that run the local image with a
deployment's settings (test/infra/check_container.py for the Terraform module's unit,
test/kubernetes/check_container.py for the Kubernetes pod). Standard library only.
"""

from __future__ import annotations

import socket
import subprocess
import time
import urllib.error
import urllib.request

READY_WITHIN = 15.0  # seconds; a start takes milliseconds, the bound only ends a hang


def docker(*args: str, timeout: float = 60, check: bool = True) -> subprocess.CompletedProcess:
    return subprocess.run(["docker", *args], check=check, text=True, capture_output=True, timeout=timeout)


def free_port(ports: range) -> int:
    """A port of `ports` nobody holds on 127.0.0.1; each check has its own range."""
    for port in ports:
        with socket.socket() as s:
            try:
                s.bind(("127.0.0.1", port))
                return port
            except OSError:
                continue
    raise SystemExit(f"no free port in {ports.start}-{ports.stop - 1}")


def get(url: str, timeout: float = 2.0):
    """(status, body, Server header) of a GET; an HTTP error status is an answer too."""
    try:
        with urllib.request.urlopen(url, timeout=timeout) as r:
            return r.status, r.read().decode(), r.headers.get("Server")
    except urllib.error.HTTPError as e:
        return e.code, e.read().decode(), e.headers.get("Server")


def wait_ready(url: str, within: float = READY_WITHIN) -> tuple:
    deadline = time.monotonic() + within
    while True:
        try:
            return get(url)
        except (urllib.error.URLError, ConnectionError, OSError):
            if time.monotonic() > deadline:
                raise
            time.sleep(0.1)


def image_version(image: str) -> str:
    return docker("image", "inspect", "--format",
                  '{{index .Config.Labels "org.opencontainers.image.version"}}', image).stdout.strip()


def stop(name: str, seconds: int) -> tuple[str, float]:
    """`docker stop --time seconds`: SIGTERM, then SIGKILL after `seconds`. Returns the
    container's exit code as `docker wait` reports it (0: it drained and exited; 137:
    SIGKILL) and how long the stop took. Works with --rm containers too."""
    waiter = subprocess.Popen(["docker", "wait", name], stdout=subprocess.PIPE, text=True)
    time.sleep(0.2)  # let the waiter attach before the container goes away
    started = time.monotonic()
    docker("stop", "--time", str(seconds), name, timeout=seconds + 30)
    elapsed = time.monotonic() - started
    code = (waiter.communicate(timeout=30)[0] or "").strip()
    return code, elapsed


def proc_status(pid: int) -> dict[str, str]:
    """/proc/PID/status of a container's process, seen from the host."""
    with open(f"/proc/{pid}/status") as f:
        return dict(line.rstrip("\n").split(":\t", 1) for line in f if ":\t" in line)
