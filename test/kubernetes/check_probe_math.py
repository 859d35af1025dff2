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
  never falsely unready;
- liveness does not restart a busy pod: its path is one the service answers 200 at
  MAX_CONNECTIONS with nothing quiet (/ping; / and /health answer 503 there), its
  timeout is no shorter than readiness's, and a pod that stops answering is out of the
  endpoints before liveness can restart it ((k-1)T of liveness > kT + timeout of
  readiness), so no client is sent to a pod being restarted.

The tables in kubernetes/README.md (between the probe-math and probe-states markers)
are this script's output for the manifest; it fails when they differ. `--write` updates
the README.

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
STATES_BEGIN, STATES_END = "<!-- probe-states:begin -->", "<!-- probe-states:end -->"
WEEK = 7 * 86400.0
DEAD_OUT_WITHIN = 60.0
DEAD_RESTART_WITHIN = 120.0
# What the service answers a newcomer at MAX_CONNECTIONS with no quiet connection to
# close (src/event_loop.rs; the top-level README's "Hostile and careless clients"):
# /ping stays 200 so that liveness never restarts a pod for being busy.
AT_LIMIT = {"/ping": 200, "/health": 503, "/": 503}


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


def out_after(probe: dict) -> tuple[float, float]:
    """From the moment a pod stops answering to the probe's verdict: the next probe may
    come at once or a period later, and one that hangs fails at its timeout."""
    k, period = probe["failureThreshold"], probe["periodSeconds"]
    return (k - 1) * period, k * period + probe["timeoutSeconds"]


def states(deployment: dict) -> tuple[str, list[str]]:
    """The probes in each state of a pod, as a README table, and the liveness goals."""
    container = km.app_container(deployment)
    ready, live = km.probe(container, "readinessProbe"), km.probe(container, "livenessProbe")
    if live is None or ready is None:
        return "", ["no livenessProbe or readinessProbe"]
    rpath, lpath = ready["httpGet"]["path"], live["httpGet"]["path"]
    rate = float(km.setting(container, "HEALTH_FAILURE_RATE")) if rpath == "/health" else 0.0
    r_lo, r_hi = out_after(ready)
    l_lo, l_hi = out_after(live)
    per_pod = checks_until_run(rate, ready["failureThreshold"]) * ready["periodSeconds"]
    r_busy, l_busy = AT_LIMIT.get(rpath), AT_LIMIT.get(lpath)
    rows = [
        ("readiness", ready, rpath,
         f"200, or 500 {rate:.0%} of the time: falsely unready once in {human(per_pod)}" if rate else "200",
         f"{r_busy}: out of the endpoints after {r_lo:.0f}-{r_hi:.0f} s of it, back at the first 200"
         if r_busy != 200 else f"{r_busy}: stays in the endpoints",
         f"out of the endpoints after {r_lo:.0f}-{r_hi:.0f} s"),
        ("liveness", live, lpath, "200",
         f"{l_busy}: never restarted for being busy" if l_busy == 200
         else f"{l_busy}: restarted after {l_lo:.0f}-{l_hi:.0f} s of it",
         f"restarted after {l_lo:.0f}-{l_hi:.0f} s"),
    ]
    lines = ["| probe | asks | every | timeout | failures | a healthy pod | at `MAX_CONNECTIONS`, nothing quiet "
             "| a pod that stops answering |",
             "|---|---|---:|---:|---:|---|---|---|"]
    for name, p, path, healthy, busy, dead in rows:
        lines.append(f"| {name} | `{path}` | {p['periodSeconds']} s | {p['timeoutSeconds']} s | {p['failureThreshold']} "
                     f"| {healthy} | {busy} | {dead} |")
    problems = []
    if l_busy != 200:
        problems.append(f"liveness asks {lpath}, which a pod at MAX_CONNECTIONS answers {l_busy}: a busy pod would be "
                        "restarted, its connections dropped and its load moved to the others")
    if live["timeoutSeconds"] < ready["timeoutSeconds"]:
        problems.append(f"liveness timeout {live['timeoutSeconds']} s is shorter than readiness's {ready['timeoutSeconds']} s: "
                        "a slow pod would be restarted before it is taken out of the endpoints")
    if l_lo <= r_hi:
        problems.append(f"liveness may restart a pod that stopped answering after {l_lo:.0f} s, before readiness has taken "
                        f"it out of the endpoints (up to {r_hi:.0f} s): clients would be sent to a restarting pod")
    if l_hi > DEAD_RESTART_WITHIN:
        problems.append(f"a hung pod is restarted only after up to {l_hi:.0f} s (goal: {DEAD_RESTART_WITHIN:.0f} s)")
    return "\n".join(lines) + "\n", problems


def readme_table(readme: Path = README, begin: str = BEGIN, end: str = END) -> str | None:
    text = readme.read_text() if readme.exists() else ""
    if begin not in text or end not in text:
        return None
    return text.split(begin, 1)[1].split(end, 1)[0].strip("\n") + "\n"


def write_table(text: str, begin: str, end: str) -> None:
    head, rest = README.read_text().split(begin, 1)
    README.write_text(head + begin + "\n" + text + rest[rest.index(end):])


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

    state_text, state_problems = states(deployment)
    print("  the probes in each state of a pod:")
    for line in state_text.splitlines():
        print(f"    {line}")

    problems = goal_problems(chosen) + state_problems
    tables = ((text, BEGIN, END), (state_text, STATES_BEGIN, STATES_END))
    if "--write" in argv:
        for table_text, begin, end in tables:
            if readme_table(README, begin, end) is None:
                print(f"  FAIL {README.relative_to(ROOT)} has no {begin} ... {end} markers")
                return 1
            write_table(table_text, begin, end)
        print(f"  wrote the tables into {README.relative_to(ROOT)}")
    else:
        for table_text, begin, end in tables:
            if readme_table(README, begin, end) != table_text:
                problems.append(f"the table between {begin} and {end} in {README.relative_to(ROOT)} differs from the "
                                "manifest's numbers: run python3 test/kubernetes/check_probe_math.py RENDERED.yaml --write")
    for problem in problems:
        print(f"  FAIL {problem}")
    if problems:
        return 1
    print("  ok   readiness meets the goals: a false unready rarer than weekly per pod, an unresponsive pod out "
          f"within {DEAD_OUT_WITHIN:.0f} s; liveness never restarts a busy pod, nor one still in the endpoints; "
          "README tables match")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
