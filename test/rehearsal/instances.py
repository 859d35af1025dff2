"""The rehearsal's "instances": containers of the project's image, each started with the
`docker run` options of the module's systemd unit (rendered from the cloud-config
template by test/lib/cloudconfig.py), changing only the container's name and publishing
its port on 127.0.0.1:<port> instead of the host's public interface.
"""

import resource
import shlex
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Callable


def _docker(*args, check=True, capture=True, timeout=120):
    return subprocess.run(
        ["docker", *args], check=check, text=True, timeout=timeout,
        stdout=subprocess.PIPE if capture else None, stderr=subprocess.PIPE if capture else None,
    )


def adapt(argv: list[str], name: str, host_port: int) -> list[str]:
    """The unit's `docker run` argv with the name and the published port replaced.

    `argv` starts after `docker` (`run ...`). The unit runs in the foreground under
    systemd; here `--detach` is added, which changes the client, not the container.
    """
    if not argv or argv[0] != "run":
        raise ValueError(f"not a docker run command: {argv}")
    out = ["run"]
    published = False
    named = False
    i = 1
    while i < len(argv):
        a = argv[i]
        if not a.startswith("-"):  # the image: options end here
            break
        key, eq, val = a.partition("=")
        separate = not eq and key in VALUE_OPTIONS
        if separate:
            i += 1
            val = argv[i]

        def keep(value):  # in the unit's own spelling: `--opt value` or `--opt=value`
            out.extend([key, value] if separate else [f"{key}={value}"])

        if key == "--name":
            keep(name)
            named = True
        elif key in ("-p", "--publish"):
            if published:
                raise ValueError("the unit publishes more than one port; the rehearsal expects one")
            keep(f"127.0.0.1:{host_port}:{val.rsplit(':', 1)[-1]}")
            published = True
        elif key in ("--network", "--net") and val == "host":
            raise ValueError("the unit uses host networking; the rehearsal needs one port per instance")
        elif key in ("-d", "--detach"):
            pass
        elif separate or eq:
            keep(val)
        else:
            out.append(key)
        i += 1
    if not published:
        raise ValueError("the unit publishes no port")
    if not named:
        out.extend(["--name", name])
    return [*out, "--detach", *argv[i:]]


def cap_nofile(argv: list[str]) -> tuple[list[str], str | None]:
    """`--ulimit nofile=S:H` capped at this process's hard limit (same host, same sandbox)."""
    hard_here = resource.getrlimit(resource.RLIMIT_NOFILE)[1]
    out, note = [], None
    for i, word in enumerate(argv):
        prev = argv[i - 1] if i else ""
        value = word.split("=", 1)[1] if word.startswith("--ulimit=") else word if prev == "--ulimit" else None
        if value and value.startswith("nofile="):
            limits = [int(x) for x in value.split("=", 1)[1].split(":")]
            if max(limits) > hard_here:
                new = "nofile=" + ":".join(str(min(x, hard_here)) for x in limits)
                note = (f"this host's hard limit of open files is {hard_here}: the unit's --ulimit {value} "
                        f"became {new} here")
                word = word.replace(value, new)
        out.append(word)
    return out, note


# `docker run` options that take a separate value (`--opt value`); enough for a unit.
VALUE_OPTIONS = {
    "-p", "--publish", "--name", "-e", "--env", "--env-file", "-u", "--user", "-v", "--volume",
    "--mount", "--network", "--net", "--restart", "--log-driver", "--log-opt", "--stop-signal",
    "--stop-timeout", "--memory", "-m", "--memory-swap", "--cpus", "--pids-limit", "--ulimit",
    "--cap-drop", "--cap-add", "--security-opt", "--tmpfs", "--health-cmd", "--health-interval",
    "--health-timeout", "--health-retries", "--health-start-period", "--label", "-l",
    "--hostname", "-h", "--workdir", "-w", "--entrypoint", "--read-only-paths", "--sysctl",
    "--init-path", "--pull", "--platform", "--add-host", "--dns", "--cgroup-parent",
    "--memory-reservation", "--shm-size", "--userns", "--pid", "--ipc", "--uts", "--device",
    "--log-level", "--cpu-shares", "-c", "--cpuset-cpus", "--oom-score-adj", "--kernel-memory",
}


class Instances:
    """Containers named `<prefix>-<name>`; run.sh's trap removes every `<prefix>-*`."""

    def __init__(self, prefix: str, unit_argv):
        self.prefix = prefix
        self.unit_argv = unit_argv  # image -> the unit's `docker run` argv for that image

    def cname(self, name):
        return f"{self.prefix}-{name}"

    deviations: list[str] = []  # what this host made us change, printed by the caller

    def start(self, name, image, host_port):
        argv = adapt(self.unit_argv(image), self.cname(name), host_port)
        if self.deviations:  # known from an earlier start
            argv = cap_nofile(argv)[0]
        r = _docker(*argv, check=False)
        if r.returncode != 0 and "rlimit" in r.stderr:
            # A sandboxed host may not let the container runtime raise the open-files
            # limit as high as the unit asks (Flatcar's dockerd can): cap it at this
            # host's hard limit, say so, and change nothing else.
            capped, note = cap_nofile(argv)
            if note:
                _docker("rm", "-f", self.cname(name), check=False)
                argv = capped
                if note not in self.deviations:
                    self.deviations.append(note)
                r = _docker(*argv, check=False)
        if r.returncode != 0:
            sys.exit(f"docker {' '.join(argv)}\n{r.stderr}")
        return argv

    def stop(self, name, timeout):
        """SIGTERM, then SIGKILL after `timeout` seconds: what systemd's `docker stop` does."""
        _docker("stop", "-t", str(timeout), self.cname(name), timeout=timeout + 30)

    def kill(self, name):
        _docker("kill", "-s", "KILL", self.cname(name))

    def remove(self, name):
        _docker("rm", "-f", self.cname(name), check=False)

    def logs(self, name) -> str:
        return _docker("logs", self.cname(name)).stdout

    def exit_code(self, name):
        r = _docker("inspect", "-f", "{{.State.Status}} {{.State.ExitCode}}", self.cname(name), check=False)
        return r.stdout.strip() if r.returncode == 0 else "removed"


@dataclass(frozen=True)
class Unit:
    """What the rehearsal takes from the module's systemd unit."""

    argv: Callable[[str], list[str]]  # image -> the unit's `docker run` argv (from "run")
    stop_timeout: int  # seconds `docker stop` waits before SIGKILL
    health_failure_rate: float | None  # HEALTH_FAILURE_RATE if the unit sets it


def _failure_rate(argv):
    for i, a in enumerate(argv):
        val = None
        if a in ("-e", "--env") and i + 1 < len(argv):
            val = argv[i + 1]
        elif a.startswith(("-e=", "--env=")):
            val = a.split("=", 1)[1]
        if val and val.startswith("HEALTH_FAILURE_RATE="):
            return float(val.split("=", 1)[1])
    return None


def unit_from_file(path: Path) -> Unit:
    """Development stand-in: line 1 a `docker run ... ${image}` line, line 2 the stop timeout."""
    line, timeout = path.read_text().splitlines()[:2]
    template = shlex.split(line)[1:]

    def argv(image):
        return [image if w == "${image}" else w for w in template]

    return Unit(argv, int(timeout), _failure_rate(template))


def unit_from_cloudconfig(root: Path) -> Unit:
    """From the infra helper's renderer of terraform/templates/cloud-config.yaml.tftpl."""
    sys.path.insert(0, str(root / "test" / "lib"))
    import cloudconfig  # noqa: E402  (test/lib/cloudconfig.py, owned by the module's tests)

    def argv(image_ref):
        # The module takes the image as name and tag (image, app_version).
        # Journal-only logs (json-file): this machine has no CloudWatch Logs, and the
        # rehearsal reads the access log back with docker logs.
        return cloudconfig.docker_run_argv(cloudconfig.unit_for_image(image_ref, cloudwatch_logs=False))

    sample = argv("micro-service-as-code:rehearsal")
    rate = cloudconfig.env(sample).get("HEALTH_FAILURE_RATE")
    return Unit(argv, cloudconfig.stop_timeout(sample), float(rate) if rate is not None else None)
