"""The arithmetic behind the module's health-check defaults, from terraform/variables.tf.

/health answers 500 on purpose with probability p (HEALTH_FAILURE_RATE, 0.1), each call
on its own. An ALB node takes a target out after k consecutive failed checks, one every
T seconds. The expected number of checks until the first run of k failures is

    E_k(p) = (1 - p^k) / ((1 - p) p^k)

so one node falsely evicts a healthy instance once every E_k(p) * T seconds on average.
Every ALB node (at least one per enabled Availability Zone, more as the ALB scales)
checks every target on its own; AWS does not document how the nodes' verdicts combine
into the target's health (which the Auto Scaling group acts on), so the design goal is
met even if any one node's verdict counts: time between false evictions / nodes.

Design goals checked against the defaults (they are goals of the configuration, not
timings of a run):
- a healthy instance is falsely evicted less than once a day, with 8 ALB nodes;
- a dead instance is out within 2 minutes: the first check after the death fails within
  one interval, k - 1 more intervals make k failures, plus the timeout of a hung one;
- the deregistration delay lets ALB nodes stop routing (>= 5 s) without slowing every
  rollout by the 300 s default (<= 60 s).

The table in terraform/README.md (between the health-math markers) is this script's
output; it fails when they differ. `--write` updates the README.
"""

from __future__ import annotations

import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parents[1]
sys.path.insert(0, str(ROOT / "test" / "lib"))

import cloudconfig  # noqa: E402

README = ROOT / "terraform" / "README.md"
BEGIN, END = "<!-- health-math:begin -->", "<!-- health-math:end -->"
NODES = (2, 8)  # the fewest an ALB in two AZs has, and a scaled-out one
DAY = 86400.0


def checks_until_run(p: float, k: int) -> float:
    """Expected number of independent checks (each failing with probability p) up to and
    including the first run of k consecutive failures."""
    if p <= 0:
        return float("inf")
    if p >= 1:
        return float(k)
    return (1 - p**k) / ((1 - p) * p**k)


def human(seconds: float) -> str:
    if seconds == float("inf"):
        return "never"
    for unit, size in (("years", 365 * DAY), ("days", DAY), ("h", 3600.0), ("min", 60.0)):
        if seconds >= size * (1 if unit != "years" else 2):
            value = seconds / size
            return f"{value:.1f} {unit}" if value < 10 else f"{value:.0f} {unit}"
    return f"{seconds:.0f} s"


def row(label: str, p: float, interval: float, timeout: float, unhealthy: int) -> dict:
    per_node = checks_until_run(p, unhealthy) * interval
    return {
        "label": label,
        "interval": interval,
        "unhealthy": unhealthy,
        "per_node": per_node,
        "per_instance": {n: per_node / n for n in NODES},
        "dead_out": ((unhealthy - 1) * interval, unhealthy * interval + timeout),
    }


def table(defaults: dict) -> tuple[str, dict]:
    p = float(defaults["health_failure_rate"])
    t = float(defaults["health_check_timeout"])
    chosen = row("**module defaults**", p, defaults["health_check_interval"], t, defaults["health_check_unhealthy_threshold"])
    rows = [
        chosen,
        row("ALB defaults (the issue's example)", p, 30, 5, 2),
        row("", p, 10, t, 5),
        row("", p, 10, t, 6),
        row("", p, 5, t, 6),
    ]
    lines = [
        f"| interval T | unhealthy threshold k | checks to a false eviction E_k({p:g}) "
        f"| one ALB node | per instance, {NODES[0]} nodes | per instance, {NODES[1]} nodes | dead instance out after | |",
        "|---:|---:|---:|---:|---:|---:|---:|---|",
    ]
    for r in rows:
        lo, hi = r["dead_out"]
        lines.append(
            f"| {r['interval']:g} s | {r['unhealthy']} | {checks_until_run(p, r['unhealthy']):,.0f} "
            f"| {human(r['per_node'])} | {human(r['per_instance'][NODES[0]])} | {human(r['per_instance'][NODES[1]])} "
            f"| {lo:.0f}-{hi:.0f} s | {r['label']} |"
        )
    return "\n".join(lines) + "\n", chosen


def goal_problems(defaults: dict, chosen: dict) -> list[str]:
    problems = []
    worst = chosen["per_instance"][NODES[-1]]
    if worst < DAY:
        problems.append(f"a healthy instance would be falsely evicted every {human(worst)} with {NODES[-1]} ALB nodes (goal: less than once a day)")
    if chosen["dead_out"][1] > 120:
        problems.append(f"a dead instance could stay in rotation {chosen['dead_out'][1]:.0f} s (goal: at most 120 s)")
    delay = defaults["deregistration_delay"]
    if not 5 <= delay <= 60:
        problems.append(f"deregistration_delay {delay} s: at least 5 s for the ALB nodes to stop routing, at most 60 s to keep rollouts quick")
    return problems


def readme_table() -> str | None:
    text = README.read_text() if README.exists() else ""
    if BEGIN not in text or END not in text:
        return None
    return text.split(BEGIN, 1)[1].split(END, 1)[0].strip("\n") + "\n"


def main(argv: list[str]) -> int:
    defaults = cloudconfig.variable_defaults()
    text, chosen = table(defaults)
    p = defaults["health_failure_rate"]
    print(f"  p = {p:g} (health_failure_rate), T = {defaults['health_check_interval']} s, "
          f"k = {defaults['health_check_unhealthy_threshold']}, timeout = {defaults['health_check_timeout']} s, "
          f"healthy threshold = {defaults['health_check_healthy_threshold']}, deregistration delay = {defaults['deregistration_delay']} s")
    for line in text.splitlines():
        print(f"    {line}")
    back = checks_until_run(1 - p, defaults["health_check_healthy_threshold"]) * defaults["health_check_interval"]
    print(f"  an evicted healthy instance passes {defaults['health_check_healthy_threshold']} checks in a row after {back:.0f} s on average")

    problems = goal_problems(defaults, chosen)
    if "--write" in argv:
        current = README.read_text()
        if readme_table() is None:
            print(f"  FAIL {README.relative_to(ROOT)} has no {BEGIN} ... {END} markers")
            return 1
        head, rest = current.split(BEGIN, 1)
        README.write_text(head + BEGIN + "\n" + text + rest[rest.index(END):])
        print(f"  wrote the table into {README.relative_to(ROOT)}")
    elif readme_table() != text:
        problems.append(f"the table in {README.relative_to(ROOT)} differs from the defaults' numbers: "
                        "run python3 test/infra/check_health_math.py --write")
    for p_ in problems:
        print(f"  FAIL {p_}")
    if problems:
        return 1
    print("  ok   defaults meet the goals: false evictions rarer than daily with 8 nodes, dead instance out within 2 min,"
          " deregistration delay 5-60 s; README table matches")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
