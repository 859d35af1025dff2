"""The user data, rendered as Terraform's templatefile() would (test/lib/cloudconfig.py),
and checked as coreos-cloudinit and systemd will read it:

- it renders (only ${name} interpolation) for a local image and for a registry image
  with a port in its host name, and leaves no dollar sign behind (coreos-cloudinit would
  substitute $private_ipv4 and the like, systemd would expand $VARS);
- it is YAML with the #cloud-config header and only keys coreos-cloudinit knows;
- automatic update reboots are off ("off" as a string: bare off is a YAML boolean),
  and update-engine is stopped and masked;
- the service unit: Requires/After docker.service, Restart=always, a pull with retries
  and a '-'-prefixed removal of a stale container before the start, the container
  run in the foreground with --rm, a name, the port mapping, read-only, all capabilities
  dropped, no-new-privileges, the environment the module promises (ACCESS_LOG too), the
  image at app_version, and a stop timeout longer than the service's grace period and
  shorter than systemd's;
- the logs: by default Docker's awslogs driver into the module's log group, a stream
  named after the instance (systemd's ${COREOS_EC2_INSTANCE_ID} from coreos-metadata's
  file, the only dollar signs allowed), mode=non-blocking with a bounded
  max-buffer-size; with cloudwatch_logs = false, json-file with rotation;
- yamllint passes on the rendered document.

Run: python3 test/infra/check_cloud_config.py (from the venv: test/lib/venv.sh).
"""

from __future__ import annotations

import re
import shlex
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parents[1]
sys.path.insert(0, str(ROOT / "test" / "lib"))

import cloudconfig  # noqa: E402

YAMLLINT_CONFIG = HERE / "yamllint.yml"

# coreos-cloudinit's top-level keys and unit fields (Documentation/cloud-config.md).
CLOUD_CONFIG_KEYS = {"coreos", "ssh_authorized_keys", "hostname", "users", "write_files", "manage_etc_hosts"}
UNIT_KEYS = {"name", "runtime", "enable", "content", "command", "mask", "drop-ins"}
UNIT_COMMANDS = {"start", "stop", "reload", "restart", "try-restart", "reload-or-restart", "reload-or-try-restart"}

CASES = [
    # (image, app_version): the local image, and a registry with a port and a path.
    ("micro-service-as-code", "local"),
    ("registry.example.com:5000/team/micro-service", "3f97376c0ffee3f97376c0ffee3f97376c0ffee0"),
]


def structure_problems(doc: dict) -> list[str]:
    problems = [f"unknown top-level key {k!r}" for k in sorted(set(doc) - CLOUD_CONFIG_KEYS)]
    strategy = ((doc.get("coreos") or {}).get("update") or {}).get("reboot-strategy")
    if strategy != "off":
        problems.append(f"coreos.update.reboot-strategy must be the string 'off', is {strategy!r}")
    for unit in cloudconfig.units(doc):
        name = unit.get("name", "<no name>")
        problems += [f"unit {name}: unknown key {k!r}" for k in sorted(set(unit) - UNIT_KEYS)]
        if "command" in unit and unit["command"] not in UNIT_COMMANDS:
            problems.append(f"unit {name}: unknown command {unit['command']!r}")
        if "content" in unit:
            try:
                cloudconfig.unit_sections(unit["content"])
            except cloudconfig.TemplateError as e:
                problems.append(f"unit {name}: {e}")
    engine = [u for u in cloudconfig.units(doc) if u.get("name") == "update-engine.service"]
    if not engine or engine[0].get("mask") is not True or engine[0].get("command") != "stop":
        problems.append("update-engine.service must be stopped and masked")
    return problems


def unit_problems(unit: dict, values: dict) -> list[str]:
    """The app unit against the module's values (local.cloud_config_vars)."""
    problems = []
    if unit.get("command") != "start":
        problems.append("the unit must be started (command: start)")
    sections = cloudconfig.unit_sections(unit["content"])
    need = lambda sec, key: cloudconfig.directive(sections, sec, key)  # noqa: E731

    for key in ("Requires", "After"):
        if not any("docker.service" in v.split() for v in need("Unit", key)):
            problems.append(f"[Unit] {key}= must name docker.service (socket-activated on Flatcar)")
    if need("Service", "Restart") != ["always"]:
        problems.append("[Service] Restart= must be always")

    argv = cloudconfig.docker_run_argv(unit)
    name = (cloudconfig.option_values(argv, "--name") or [None])[0]
    image_ref = f"{values['image']}:{values['app_version']}"
    pre = need("Service", "ExecStartPre")
    if not any(p.startswith("-") and shlex.split(p[1:])[:3] == ["/usr/bin/docker", "rm", "--force"] and name in p for p in pre):
        problems.append("an ExecStartPre=-/usr/bin/docker rm --force <name> must remove a stale container (the '-' ignores its absence)")
    if not any(f"docker pull {image_ref}" in " ".join(p.split()) and re.search(r"\bfor\b", p) for p in pre):
        problems.append(f"an ExecStartPre must pull {image_ref} with retries")

    if "--rm" not in argv:
        problems.append("docker run needs --rm (no stale container after a stop)")
    if not name:
        problems.append("docker run needs --name")
    if "--detach" in argv or "-d" in argv:
        problems.append("docker run must stay in the foreground under systemd")
    publish = cloudconfig.option_values(argv, "-p", "--publish")
    if publish != [f"{values['app_port']}:{values['container_port']}"]:
        problems.append(f"docker run must publish {values['app_port']}:{values['container_port']}, publishes {publish}")
    if "--read-only" not in argv:
        problems.append("docker run needs --read-only")
    if cloudconfig.option_values(argv, "--cap-drop") != ["ALL"]:
        problems.append("docker run needs --cap-drop ALL")
    if "no-new-privileges" not in cloudconfig.option_values(argv, "--security-opt"):
        problems.append("docker run needs --security-opt no-new-privileges")
    for forbidden in ("--privileged", "--cap-add"):
        if any(w == forbidden or w.startswith(forbidden + "=") for w in argv):
            problems.append(f"docker run must not use {forbidden}")
    if cloudconfig.option_values(argv, "--network", "--net") == ["host"]:
        problems.append("docker run must not use host networking")
    problems += log_problems(argv, sections, values)
    if argv[-1] != image_ref:
        problems.append(f"the image must be {image_ref} (last argument), is {argv[-1]}")

    env = cloudconfig.env(argv)
    expected_env = {
        "PORT": values["container_port"],
        "HEALTH_FAILURE_RATE": values["health_failure_rate"],
        "SHUTDOWN_TIMEOUT": values["shutdown_timeout"],
        "IDLE_TIMEOUT": values["idle_timeout"],
        "ACCESS_LOG": values["access_log"],
    }
    for key, value in expected_env.items():
        if env.get(key) != cloudconfig.format_value(value):
            problems.append(f"the container needs {key}={cloudconfig.format_value(value)}, has {env.get(key)}")

    # SIGTERM, then the service's grace period, then docker's SIGKILL, then systemd's.
    stop = cloudconfig.stop_timeout(argv)
    grace = float(env.get("SHUTDOWN_TIMEOUT", "5"))
    systemd_stop = need("Service", "TimeoutStopSec")
    if not stop > grace:
        problems.append(f"docker's --stop-timeout ({stop} s) must exceed SHUTDOWN_TIMEOUT ({grace:g} s)")
    if len(systemd_stop) != 1 or not float(systemd_stop[0]) > stop:
        problems.append(f"TimeoutStopSec ({systemd_stop}) must exceed docker's stop timeout ({stop} s)")
    stops = need("Service", "ExecStop")
    if len(stops) != 1 or shlex.split(stops[0])[:4] != ["/usr/bin/docker", "stop", "--time", str(stop)] or name not in stops[0]:
        problems.append(f"ExecStop must be '/usr/bin/docker stop --time {stop} {name}' (SIGTERM, then SIGKILL after {stop} s)")
    return problems


# The systemd variables the unit may use: coreos-metadata's, from the file it loads.
METADATA_FILE = "/run/metadata/flatcar"
METADATA_VARS = re.compile(r"\$\{COREOS_EC2_(?:INSTANCE_ID|REGION)\}")


def log_problems(argv: list[str], sections: dict, values: dict) -> list[str]:
    """awslogs (CloudWatch Logs) that can never block the service, into the module's
    group, one stream per instance; or json-file with rotation (journal only)."""
    drivers = cloudconfig.option_values(argv, "--log-driver")
    opts = dict(o.split("=", 1) for o in cloudconfig.option_values(argv, "--log-opt"))
    if drivers == ["json-file"]:
        return [] if "max-size" in opts else ["json-file logs need rotation (--log-opt max-size=...)"]
    if drivers != ["awslogs"]:
        return [f"docker run needs --log-driver awslogs or json-file, has {drivers}"]
    problems = []
    expected = {
        "awslogs-group": values.get("log_group_name"),
        "awslogs-region": "${COREOS_EC2_REGION}",
        "mode": "non-blocking",
    }
    for key, value in expected.items():
        if opts.get(key) != value:
            problems.append(f"awslogs needs --log-opt {key}={value}, has {opts.get(key)}")
    if "${COREOS_EC2_INSTANCE_ID}" not in opts.get("awslogs-stream", ""):
        problems.append("awslogs-stream must carry the instance ID (${COREOS_EC2_INSTANCE_ID}): one stream per instance")
    if not re.fullmatch(r"[0-9]+[kmg]?", opts.get("max-buffer-size", "")):
        problems.append("awslogs needs a bounded --log-opt max-buffer-size=<size> for its non-blocking buffer")
    if "awslogs-create-group" in opts:
        problems.append("the module creates the log group; awslogs-create-group would need logs:CreateLogGroup")
    files = [f.lstrip("-") for f in cloudconfig.directive(sections, "Service", "EnvironmentFile")]
    after = " ".join(cloudconfig.directive(sections, "Unit", "After")).split()
    if METADATA_FILE not in files or "coreos-metadata.service" not in after:
        problems.append(f"the unit must load {METADATA_FILE} (EnvironmentFile=) after coreos-metadata.service for the instance ID and region")
    return problems


def yamllint_problems(text: str) -> list[str]:
    from yamllint import linter
    from yamllint.config import YamlLintConfig

    # The project's rules, except where coreos-cloudinit decides: the first line must be
    # exactly '#cloud-config' (the comments rule wants '# ...', document-start '---').
    conf = YamlLintConfig(
        f"extends: {YAMLLINT_CONFIG}\nrules:\n  comments:\n    require-starting-space: false\n"
        "  document-start: disable\n"
    )
    return [f"line {p.line}: {p.desc} ({p.rule})" for p in linter.run(text, conf)]


def case_values(image: str, version: str, **variables) -> dict:
    """The template's values, and the log group's name the unit must write to."""
    values = cloudconfig.module_values(image=image, app_version=version, **variables)
    values["log_group_name"] = cloudconfig.module_local("log_group_name", image=image, app_version=version, **variables)
    return values


def check_case(image: str, version: str, **variables) -> list[str]:
    values = case_values(image, version, **variables)
    try:
        text = cloudconfig.render(values)
        doc = cloudconfig.load(text)
    except (cloudconfig.TemplateError, ValueError) as e:
        return [f"does not render or parse: {e}"]
    problems = []
    if "$" in METADATA_VARS.sub("", text):
        problems.append("a dollar sign is left after rendering (coreos-cloudinit and systemd would substitute it)")
    problems += structure_problems(doc)
    try:
        problems += unit_problems(cloudconfig.app_unit(doc), values)
    except cloudconfig.TemplateError as e:
        problems.append(str(e))
    problems += [f"yamllint: {p}" for p in yamllint_problems(text)]
    return problems


def main() -> int:
    failures = 0
    print(f"  rendering {cloudconfig.TEMPLATE.relative_to(ROOT)} with local.{cloudconfig.VALUES_LOCAL} of the module")
    for (image, version), variables in [(case, {}) for case in CASES] + [(CASES[0], {"cloudwatch_logs": False})]:
        problems = check_case(image, version, **variables)
        logs = "json-file (journal only)" if variables else "awslogs to CloudWatch Logs"
        print(f"  {'ok  ' if not problems else 'FAIL'} {image}:{version[:12]}, logs {logs}: renders, parses as YAML, units well-formed, yamllint clean")
        for p in problems:
            print(f"         - {p}")
        failures += len(problems)
    values = cloudconfig.module_values(image=CASES[0][0], app_version=CASES[0][1])
    argv = cloudconfig.docker_run_argv(cloudconfig.app_unit(cloudconfig.render(values)))
    print(f"  the unit runs: docker {' '.join(argv)}")
    if failures:
        print(f"cloud-config: {failures} problem(s)")
        return 1
    print("cloud-config: all checks passed")
    return 0


if __name__ == "__main__":
    sys.exit(main())
