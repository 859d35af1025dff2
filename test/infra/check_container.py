"""Runs the user data's `docker run` line against the locally built image: proof that the
instances' systemd unit starts this image, serves, and stops gracefully.

The argv is the unit's ExecStart, rendered from the module (test/lib/cloudconfig.py) with
cloudwatch_logs = false (json-file: no CloudWatch here),
with exactly three changes, all printed: the container name (unique, given by run.sh,
whose trap removes it), the published host port (a free one on 127.0.0.1 instead of the
instance's app_port on all interfaces), and --detach (systemd runs it in the
foreground; here the check needs the terminal back). Then:

- GET /ping answers 200 'Pong!' with `Server: micro-service/<version>`, the version the
  image was built with (its org.opencontainers.image.version label);
- GET /health answers 200 or 500;
- the access log (docker logs) has one JSON object for each (the module's ACCESS_LOG=json);
- Docker applied the unit's hardening: read-only root filesystem, all capabilities
  dropped, no-new-privileges, the stop timeout, log rotation;
- `docker stop` (what the unit's ExecStop does, with the unit's --stop-timeout) ends it
  with exit code 0: SIGTERM drained it before docker's SIGKILL (which would be 137).

Usage: check_container.py IMAGE NAME   (run.sh passes micro-service-as-code:local)
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parents[1]
sys.path.insert(0, str(ROOT / "test" / "lib"))

import cloudconfig  # noqa: E402
from containers import docker, free_port, get, image_version, stop, wait_ready  # noqa: E402

PORTS = range(18000, 18500)  # this check's share of the machine's ports


def local_argv(argv: list[str], name: str, host_port: int) -> tuple[list[str], list[str]]:
    """The unit's `docker run` argv with the name and the host side of the port
    replaced, and --detach added; also a list of what changed."""
    out, changes, i = [], [], 0
    while i < len(argv):
        word = argv[i]
        key, eq, _ = word.partition("=")
        if key in ("--name", "--publish", "-p"):
            old = word if eq else f"{word} {argv[i + 1]}"
            i += 1 if eq else 2
            if key == "--name":
                new = ["--name", name]
            else:
                container_port = old.split()[-1].rsplit(":", 1)[-1].split("=")[-1]
                new = ["--publish", f"127.0.0.1:{host_port}:{container_port}"]
            out += new
            changes.append(f"{old} -> {' '.join(new)}")
            continue
        out.append(word)
        i += 1
    out.insert(1, "--detach")
    changes.append("+ --detach")
    return out, changes


def access_log_problems(stdout: str) -> list[str]:
    """The unit's ACCESS_LOG=json: one JSON object per request, for /ping and /health."""
    entries = []
    for line in stdout.splitlines():
        if line.startswith("{"):
            try:
                entries.append(json.loads(line))
            except ValueError as e:
                return [f"an access-log line is not JSON ({e}): {line!r}"]
    seen = [(e.get("method"), e.get("path"), e.get("status")) for e in entries]
    if ("GET", "/ping", 200) not in seen or not any(s[:2] == ("GET", "/health") for s in seen):
        return [f"the access log should have JSON lines for GET /ping (200) and GET /health, has {seen}"]
    return []


def main(argv: list[str]) -> int:
    image, name = argv
    # Journal-only logs (cloudwatch_logs = false, json-file): the awslogs driver needs
    # AWS credentials in dockerd's own environment (README.md), which this check
    # does not touch. check_cloud_config.py checks the awslogs options of the default.
    unit = cloudconfig.unit_for_image(image, cloudwatch_logs=False)
    unit_argv = cloudconfig.docker_run_argv(unit)
    stop_timeout = cloudconfig.stop_timeout(unit_argv)
    port = free_port(PORTS)
    run_argv, changes = local_argv(unit_argv, name, port)
    print(f"  the unit's docker run, changed only in: {'; '.join(changes)}")

    version = image_version(image)
    started = docker(*run_argv, check=False)
    if started.returncode != 0:
        print(f"  FAIL docker {' '.join(run_argv)}\n{started.stderr}")
        return 1
    problems = []
    try:
        status, body, server = wait_ready(f"http://127.0.0.1:{port}/ping")
        if (status, body) != (200, "Pong!"):
            problems.append(f"GET /ping answered {status} {body!r}, not 200 'Pong!'")
        if server != f"micro-service/{version}":
            problems.append(f"Server header {server!r}, not 'micro-service/{version}' (the image's version label)")
        status, _, _ = get(f"http://127.0.0.1:{port}/health")
        if status not in (200, 500):
            problems.append(f"GET /health answered {status}, not 200 or 500")
        print(f"  {'ok  ' if not problems else 'FAIL'} the container answers /ping with 'Pong!' and 'Server: micro-service/{version}', /health with {status}")

        logged = access_log_problems(docker("logs", name).stdout)
        problems += logged
        print(f"  {'ok  ' if not logged else 'FAIL'} its access log (ACCESS_LOG={cloudconfig.env(unit_argv).get('ACCESS_LOG')}) has a JSON line for each: GET /ping 200, GET /health")

        info = json.loads(docker("inspect", name).stdout)[0]
        host, config = info["HostConfig"], info["Config"]
        applied = {
            "read-only root filesystem": host.get("ReadonlyRootfs") is True,
            "all capabilities dropped": [c.upper() for c in host.get("CapDrop") or []] == ["ALL"],
            "no-new-privileges": any(o.startswith("no-new-privileges") for o in host.get("SecurityOpt") or []),
            f"stop timeout {stop_timeout} s": config.get("StopTimeout") == stop_timeout,
            "json-file logs with max-size": host.get("LogConfig", {}).get("Type") == "json-file"
            and "max-size" in (host.get("LogConfig", {}).get("Config") or {}),
            "removed when stopped (--rm)": host.get("AutoRemove") is True,
        }
        missing = [what for what, ok in applied.items() if not ok]
        problems += [f"docker did not apply: {m}" for m in missing]
        print(f"  {'ok  ' if not missing else 'FAIL'} docker applied: {', '.join(applied)}")

        # What ExecStop does. `docker wait` reports the exit code even with --rm.
        code, _ = stop(name, stop_timeout)
        if code != "0":
            problems.append(f"docker stop ended the service with exit code {code!r}, not 0 (137 would be docker's SIGKILL)")
        print(f"  {'ok  ' if code == '0' else 'FAIL'} docker stop --time {stop_timeout}: SIGTERM drained it, exit code {code}")
    finally:
        docker("rm", "--force", name, check=False)
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
