"""The arithmetic behind the pod's readiness probe, read from the rendered Deployment,
with the same formula as the Terraform module's health checks (test/infra/check_health_math.py).

/health answers 500 on purpose with probability p (the manifest's HEALTH_FAILURE_RATE).
The kubelet marks a pod unready after k consecutive failures (failureThreshold), one
probe every T seconds (periodSeconds); unlike an ALB, one prober per pod. So a healthy pod
is falsely taken out of the Service's endpoints once every E_k(p) * T seconds on average,
E_k(p) = (1 - p^k) / ((1 - p) p^k), and back after its next success.

Goals checked (of the configuration, not timings of a run):
- a healthy pod is falsely unready less than once a week, at the period used;
- a pod that stops answering leaves the endpoints within a minute: (k-1)T to kT + timeout;
- liveness is never /health (check_manifest.py), and a readiness probe on /ping is
  never falsely unready.

The table in kubernetes/README.md (between the probe-math markers) is this script's
output for the manifest; it fails when they differ. `--write` updates the README.

Usage: check_probe_math.py RENDERED.yaml [--write]
"""

from __future__ import annotations

import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parents[1]
sys.path.insert(0, str(ROOT / "test" / "lib"))
sys.path.insert(0, str(ROOT / "test" / "infra"))

import kubemanifest as km  # noqa: E402
from check_health_math import checks_until_run, human  # noqa: E402

README = ROOT / "kubernetes" / "README.md"
BEGIN, END = "<!-- probe-math:begin -->", "<!-- probe-math:end -->"
WEEK = 7 * 86400.0
DEAD_OUT_WITHIN = 60.0


def row(label: str, p: float, period: float, timeout: float, threshold: int, pods: int) -> dict:
    per_pod = checks_until_run(p, threshold) * period
    return {
        "label": label, "period": period, "threshold": threshold, "timeout": timeout,
        "per_pod": per_pod, "fleet": per_pod / pods,
        "dead_out": ((threshold - 1) * period, threshold * period + timeout),
    }


def readiness(deployment: dict) -> tuple[dict, float, str]:
    container = km.app_container(deployment)
    probe = km.probe(container, "readinessProbe")
    if probe is None:
        raise km.ManifestError("no readinessProbe")
    path = (probe.get("httpGet") or {}).get("path")
    p = float(km.setting(container, "HEALTH_FAILURE_RATE")) if path == "/health" else 0.0
    return probe, p, path


def table(deployment: dict, pods: int) -> tuple[str, dict]:
    probe, p, path = readiness(deployment)
    rate = float(km.setting(km.app_container(deployment), "HEALTH_FAILURE_RATE"))
    chosen = row(f"**the manifest** ({path})", p, probe["periodSeconds"], probe["timeoutSeconds"],
                 probe["failureThreshold"], pods)
    rows = [
        chosen,
        row("Kubernetes defaults", rate, 10, 1, 3, pods),
        row("", rate, 5, 2, 5, pods),
        row("", rate, 10, 2, 5, pods),
        row("", rate, 5, 2, 7, pods),
    ]
    lines = [
        f"| period T | failureThreshold k | probes to a false unready E_k({rate:g}) | per pod "
        f"| somewhere in {pods} pods | unresponsive pod out after | |",
        "|---:|---:|---:|---:|---:|---:|---|",
    ]
    for r in rows:
        lo, hi = r["dead_out"]
        p_row = p if r is chosen else rate
        lines.append(
            f"| {r['period']:g} s | {r['threshold']} | {checks_until_run(p_row, r['threshold']):,.0f} "
            f"| {human(r['per_pod'])} | {human(r['fleet'])} | {lo:.0f}-{hi:.0f} s | {r['label']} |"
        )
    return "\n".join(lines) + "\n", chosen


def goal_problems(chosen: dict) -> list[str]:
    problems = []
    if chosen["per_pod"] < WEEK:
        problems.append(f"a healthy pod would be falsely unready every {human(chosen['per_pod'])} (goal: rarer than once a week)")
    if chosen["dead_out"][1] > DEAD_OUT_WITHIN:
        problems.append(f"an unresponsive pod could stay in the endpoints {chosen['dead_out'][1]:.0f} s (goal: at most {DEAD_OUT_WITHIN:.0f} s)")
    return problems


def readme_table(readme: Path = README) -> str | None:
    text = readme.read_text() if readme.exists() else ""
    if BEGIN not in text or END not in text:
        return None
    return text.split(BEGIN, 1)[1].split(END, 1)[0].strip("\n") + "\n"


def main(argv: list[str]) -> int:
    objects = km.load(Path(argv[0]).read_text())
    deployment = km.one(objects, "Deployment")
    hpa = km.of_kind(objects, "HorizontalPodAutoscaler")
    pods = int(hpa[0]["spec"]["maxReplicas"]) if hpa else int(deployment["spec"].get("replicas", 1))
    probe, p, path = readiness(deployment)
    text, chosen = table(deployment, pods)
    print(f"  readiness: GET {path}, p = {p:g}, T = {probe['periodSeconds']} s, k = {probe['failureThreshold']}, "
          f"timeout = {probe['timeoutSeconds']} s, successThreshold = {probe['successThreshold']}; "
          f"{pods} pods at most (the autoscaler's maxReplicas)")
    for line in text.splitlines():
        print(f"    {line}")
    back = checks_until_run(1 - p, probe["successThreshold"]) * probe["periodSeconds"] if p < 1 else float("inf")
    print(f"  a falsely unready pod is back after {probe['successThreshold']} passing probe(s), {back:.1f} s on average")

    problems = goal_problems(chosen)
    if "--write" in argv:
        if readme_table() is None:
            print(f"  FAIL {README.relative_to(ROOT)} has no {BEGIN} ... {END} markers")
            return 1
        head, rest = README.read_text().split(BEGIN, 1)
        README.write_text(head + BEGIN + "\n" + text + rest[rest.index(END):])
        print(f"  wrote the table into {README.relative_to(ROOT)}")
    elif readme_table() != text:
        problems.append(f"the table in {README.relative_to(ROOT)} differs from the manifest's numbers: "
                        "run python3 test/kubernetes/check_probe_math.py RENDERED.yaml --write")
    for problem in problems:
        print(f"  FAIL {problem}")
    if problems:
        return 1
    print("  ok   readiness meets the goals: a false unready rarer than weekly per pod, an unresponsive pod out "
          f"within {DEAD_OUT_WITHIN:.0f} s; README table matches")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
