"""The module's health-check numbers (from terraform/variables.tf, never a second copy)
and the arithmetic that predicts what the balancer does with them.

Threshold semantics (ALB target groups and HAProxy alike): a target in service is taken
out after `unhealthy` consecutive failed checks; a target out of service comes back after
`healthy` consecutive passing checks. With checks failing independently with probability
p, the number of checks until k consecutive failures has the expectation
    E_k(p) = (1 - p^k) / ((1 - p) p^k)
(the classic "run of k" waiting time). A false eviction is such a run while in service;
after it the target needs a run of `healthy` successes (E_h(1 - p) checks) to return.
So over n checks of one healthy target, the expected number of false evictions is
    n / (E_unhealthy(p) + E_healthy(1 - p)),
which is n / E_unhealthy(p) to within a percent for the module's numbers.
"""

import math
from pathlib import Path

NAMES = (
    "app_port",
    "health_check_path",
    "health_check_interval",
    "health_check_timeout",
    "health_check_healthy_threshold",
    "health_check_unhealthy_threshold",
    "deregistration_delay",
)


def read_defaults(variables_tf: Path) -> dict:
    """The defaults of the variables the rehearsal uses, parsed with python-hcl2."""
    import hcl2  # from the project's venv (checkov brings it): test/lib/venv.sh

    with open(variables_tf) as f:
        doc = hcl2.load(f)
    defaults = {}
    for block in doc.get("variable", []):
        for name, body in block.items():
            if "default" in body:
                value = body["default"]
                # bc-python-hcl2 (checkov's fork) wraps attribute values in a list.
                if isinstance(value, list) and len(value) == 1:
                    value = value[0]
                defaults[name] = value
    missing = [n for n in NAMES if n not in defaults]
    if missing:
        raise SystemExit(f"{variables_tf}: no default for {', '.join(missing)}")
    out = {n: defaults[n] for n in NAMES}
    for n in NAMES:
        if n != "health_check_path":
            out[n] = int(out[n])
    # Optional: the matcher and the idle timeout, if the module sets them (ALB's defaults).
    out["health_check_matcher"] = str(defaults.get("health_check_matcher", "200"))
    out["lb_idle_timeout"] = int(defaults.get("lb_idle_timeout", 60))
    return out


def checks_until_run(p: float, k: int) -> float:
    """Expected number of independent trials (each a 'hit' with probability p) up to and
    including the first run of k consecutive hits."""
    if p <= 0:
        return math.inf
    return (1 - p**k) / ((1 - p) * p**k)


def expected_false_evictions(checks_per_target: list[int], p: float, unhealthy: int, healthy: int) -> float:
    cycle = checks_until_run(p, unhealthy) + checks_until_run(1 - p, healthy)
    return sum(n / cycle for n in checks_per_target)


def replay(results: list[bool], rise: int, fall: int, health: int | None = None) -> int:
    """How many times a balancer with these thresholds takes a target out of service when
    its checks return `results` (True = pass), starting in service. This is HAProxy's
    counter (src/check.c): in service at rise..rise+fall-1, a pass sets it to the top, a
    failure at `rise` takes the target out and sets it to 0; out of service, a pass counts
    up and reaching `rise` puts it back (at the top), a failure goes back to 0. A server
    that leaves maintenance starts in service at `rise` (one failure away from out).
    """
    top = rise + fall - 1
    h = top if health is None else health
    evictions = 0
    for ok in results:
        if ok:
            if h < top:
                h += 1
                if h >= rise:
                    h = top
        elif h > rise:
            h -= 1
        else:
            if h >= rise:
                evictions += 1
            h = 0
    return evictions


def poisson_tail(m: int, lam: float) -> tuple[float, float]:
    """(P[X <= m], P[X >= m]) for X ~ Poisson(lam)."""
    pmf = [math.exp(-lam)]
    for i in range(1, m + 1):
        pmf.append(pmf[-1] * lam / i)
    le = min(1.0, sum(pmf))
    ge = min(1.0, 1 - sum(pmf[:-1]))
    return le, ge
