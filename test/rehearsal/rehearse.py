"""The rollout rehearsal: the module's fleet on 127.0.0.1, HAProxy as its ALB, under load.

Run by test/rehearsal/run.sh, which builds the images, owns the temp dir and the trap
that cleans up. Phases, each printing its numbers:
  1. fleet   two v1 instances registered and in service, load starts;
  2. rollout what the ASG's rollout does, in its order: start two v2 instances, register
             them, wait until the balancer has them in service, deregister (drain) the v1
             ones, wait the deregistration delay, stop them with SIGTERM, remove them;
  3. kill    SIGKILL one v2 instance under load: time until the balancer takes it out,
             against the thresholds' prediction, and the failures clients saw meanwhile;
  4. flaky   checks of healthy instances, fast, with the unit's HEALTH_FAILURE_RATE:
             false evictions counted by HAProxy against the threshold math.
Exit status 1 with the list of broken promises, if any.
"""

import argparse
import re
import subprocess
import sys
import threading
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

import haproxy as hx  # noqa: E402
import instances  # noqa: E402
import load as loadmod  # noqa: E402
import module  # noqa: E402

SCALED_INTERVAL = 0.5  # seconds: the module's check interval becomes this; all times alike
FLAKY_INTERVAL = 0.01  # seconds between checks in the flaky phase
FLAKY_CHECKS = 4000  # checks in the flaky phase, in total over its instances
FLAKY_MAX_SECONDS = 45
SERVICE_DEFAULT_FAILURE_RATE = 0.1  # the service's HEALTH_FAILURE_RATE default (contract)

broken: list[str] = []


def check(ok, what):
    print(f"  [{'ok' if ok else 'FAIL'}] {what}")
    if not ok:
        broken.append(what)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--root", type=Path, required=True)
    ap.add_argument("--workdir", type=Path, required=True)
    ap.add_argument("--prefix", required=True, help="container name prefix")
    ap.add_argument("--old", required=True, help="image tag of v1")
    ap.add_argument("--new", required=True, help="image tag of v2")
    ap.add_argument("--old-version", default="v1")
    ap.add_argument("--new-version", default="v2")
    ap.add_argument("--port-base", type=int, default=21000)
    ap.add_argument("--only", choices=["flaky"], help="(development) run one phase")
    ap.add_argument("--unit", help="(development) a file with the unit's docker run line, instead of cloudconfig")
    a = ap.parse_args()

    mod = module.read_defaults(a.root / "terraform" / "variables.tf")
    unit = instances.unit_from_cloudconfig(a.root) if not a.unit else instances.unit_from_file(Path(a.unit))
    scale = mod["health_check_interval"] / SCALED_INTERVAL
    inter = mod["health_check_interval"] / scale
    timeout = mod["health_check_timeout"] / scale
    dereg = mod["deregistration_delay"] / scale
    rise, fall = mod["health_check_healthy_threshold"], mod["health_check_unhealthy_threshold"]
    p = unit.health_failure_rate if unit.health_failure_rate is not None else SERVICE_DEFAULT_FAILURE_RATE

    print(f"== the module's target group (terraform/variables.tf), time scaled by 1/{scale:g}")
    print(f"  {'health_check_path':34} {mod['health_check_path']}")
    print(f"  {'health_check_interval':34} {mod['health_check_interval']} s -> inter {inter:g} s")
    print(f"  {'health_check_timeout':34} {mod['health_check_timeout']} s -> timeout check {timeout:g} s")
    print(f"  {'health_check_healthy_threshold':34} {rise} -> rise {rise}")
    print(f"  {'health_check_unhealthy_threshold':34} {fall} -> fall {fall}")
    print(f"  {'deregistration_delay':34} {mod['deregistration_delay']} s -> drain {dereg:g} s")
    print(f"  {'unit: docker stop timeout':34} {unit.stop_timeout} s (not scaled)")
    print(f"  {'unit: HEALTH_FAILURE_RATE':34} {p:g}")
    print("  retries: none (ALB does not retry a failed request; see haproxy.py)")

    hap = hx.HAProxy(a.workdir, a.port_base, mod, scale)
    fleet = instances.Instances(a.prefix, unit.argv)
    ports = iter(range(a.port_base + 1, a.port_base + 100))
    load = None
    try:
        hap.start()
        if a.only == "flaky":
            flaky_phase(a, hap, fleet, ports, rise, fall, p, mod["health_check_interval"])
            return
        # -- 1. the v1 fleet -------------------------------------------------------------
        print(f"\n== 1. fleet: two {a.old_version} instances behind HAProxy on 127.0.0.1:{a.port_base}")
        old = ["v1a", "v1b"]
        port_of = {}
        for n in old:
            port_of[n] = next(ports)
            fleet.start(n, a.old, port_of[n])
            hap.register("fleet", n, port_of[n], inter, rise, fall)
        bring_in_service(hap, old, inter, rise)
        print(f"  docker {' '.join(instances.adapt(unit.argv(a.old), fleet.cname('v1a'), port_of['v1a']))}")
        for note in fleet.deviations:
            print(f"  NOTE: {note}")

        load = loadmod.Load("127.0.0.1", a.port_base, threads=6, max_requests=400_000, max_seconds=100).start()
        t_load = time.monotonic()
        time.sleep(2.0)

        # -- 2. the rollout ----------------------------------------------------------------
        print(f"\n== 2. rollout {a.old_version} -> {a.new_version} under load "
              "(start new, wait in service, drain old, deregistration delay, SIGTERM, remove)")
        events = []

        def ev(what):
            events.append((time.monotonic(), what))

        new = ["v2a", "v2b"]
        t0 = time.monotonic()
        ev(f"start {', '.join(new)}")
        for n in new:
            port_of[n] = next(ports)
            fleet.start(n, a.new, port_of[n])
            hap.register("fleet", n, port_of[n], inter, rise, fall)
        ev("registered (initial: no traffic until they pass checks)")
        t_registered = time.monotonic()
        t_in = bring_in_service(hap, new, inter, rise, ev)
        t_first_new = min(t_in.values())
        for n in old:
            hap.drain("fleet", n)
        t_drained = time.monotonic()
        ev(f"draining {', '.join(old)}")
        time.sleep(dereg)
        for n in old:
            hap.maint("fleet", n)
        ev(f"deregistered {', '.join(old)} after {dereg:g} s")
        t_stop = time.monotonic()
        codes = stop_all(fleet, old, unit.stop_timeout)
        t_stopped = time.monotonic()
        ev(f"stopped {', '.join(old)} (SIGTERM): exit codes {codes}")
        for n in old:
            hap.delete("fleet", n)
        t1 = time.monotonic()
        ev("removed from the balancer")
        time.sleep(2.0)
        t_after = time.monotonic()
        for t, what in events:
            print(f"  +{t - t0:6.2f} s  {what}")
        rollout = t1 - t0
        checks_s = max(t_in.values()) - t_registered
        print(f"  rollout time: {rollout:.2f} s = start {t_registered - t0:.2f} + checks {checks_s:.2f} "
              f"+ drain {dereg:g} + stop {t_stopped - t_stop:.2f} + the rest")
        print(f"  with the module's numbers: checks {checks_s * scale:.0f} s + deregistration delay "
              f"{mod['deregistration_delay']} s + stop, after the instances' boot (HAProxy asks {rise} "
              "passing checks of a new target; ALB's guide says one)")
        print_timeline(load.results, t0 - 1.0, t_after, inter, a.old_version, a.new_version)

        sel, failures, versions = loadmod.summary(load.results, t_load, t_after)
        print(f"  requests from the start of the load to 2 s after the rollout: {len(sel)}, "
              f"failed: {len(failures)}, answers by version: {versions}")
        lat = sorted(r.done - r.sent for r in sel)
        slow = max(sel, key=lambda r: r.done - r.sent)
        print(f"  latency: median {lat[len(lat) // 2] * 1000:.1f} ms, p99 {lat[int(len(lat) * 0.99)] * 1000:.1f} ms, "
              f"max {lat[-1] * 1000:.0f} ms (sent at +{slow.sent - t0:.2f} s to {slow.server})")
        for r in failures[:10]:
            print(f"    failed: +{r.sent - t0:.3f} s {r.path} keepalive={r.keepalive} -> {r.error} (server {r.server})")
        # Answered before the first new instance could take requests: by when the answer
        # came, since a request sent just before may still be dispatched just after (a
        # loaded machine once showed one such v2 answer, sent a few ms before t_first_new).
        before = loadmod.summary([r for r in load.results if r.done < t_first_new], t_load)[2]
        _, _, mixed = loadmod.summary(load.results, t_first_new, t_drained)
        _, _, after = loadmod.summary(load.results, t_drained, t_after)
        print(f"  answered before the first {a.new_version} instance was in service: {before}")
        print(f"  while both versions were in service ({t_drained - t_first_new:.2f} s): {mixed}")
        print(f"  after the {a.old_version} instances were drained: {after}")
        check(len(sel) > 0 and not failures, f"zero failed requests across the rollout ({len(failures)} of {len(sel)})")
        check(set(before) == {a.old_version}, f"only {a.old_version} answered before the rollout")
        check(set(after) == {a.new_version}, f"only {a.new_version} answered after the drain")
        check(all(c == 0 for c in codes.values()), "the old instances exited 0 on SIGTERM (graceful shutdown)")

        # -- 3. a killed instance -------------------------------------------------------------
        victim, survivor = "v2a", "v2b"
        lo, hi = (fall - 1) * inter, fall * inter + timeout
        print(f"\n== 3. SIGKILL {victim} under load (no goodbye: connections refused from then on)")
        # Kill it while its last checks passed (a recent 500 would count towards `fall`).
        deadline = time.monotonic() + 20 * inter
        while hap.states("fleet")[victim]["health"] != rise + fall - 1 and time.monotonic() < deadline:
            time.sleep(0.005)
        log_mark = len(hap.log_lines())
        t_kill = time.monotonic()
        fleet.kill(victim)
        t_down = hap.wait_state("fleet", victim, "DOWN", timeout=max(10.0, 5 * hi), poll=0.005)
        time.sleep(1.0)
        t_end = time.monotonic()
        results = load.stop()
        load = None
        sel, failures, _ = loadmod.summary(results, t_kill, t_end)
        if t_down is None or not failures:
            check(False, f"HAProxy took {victim} out of service after clients saw it fail")
        else:
            # `docker kill` takes a while to deliver the signal on a busy machine: the
            # death is when the first request failed.
            t_dead = min(r.done for r in failures)
            detect = t_down - t_dead
            print(f"  first failed request {t_dead - t_kill:.3f} s after `docker kill` was called")
            print(f"  taken out of service {detect:.3f} s after that; thresholds predict "
                  f"{lo:g}-{hi:g} s ((fall-1) x inter .. fall x inter + timeout)")
            print(f"  at the module's scale: {detect * scale:.1f} s; predicted "
                  f"{lo * scale:g}-{hi * scale:g} s")
            kinds = {}
            for r in failures:
                kinds[r.error] = kinds.get(r.error, 0) + 1
            print(f"  requests meanwhile: {len(sel)}, failed: {len(failures)} {kinds}")
            print(f"  failed after it was out of service: {sum(1 for r in failures if r.sent > t_down)}")
            fails, before = failed_checks_until_down(hap.log_lines(), log_mark, "fleet", victim)
            print(f"  failed checks in a row until out of service (HAProxy's log): {fails}"
                  + (f", of which {before} before the kill (500s of the flaky /health)" if before else ""))
            check(fails == fall, f"out of service after fall={fall} failed checks in a row")
            check(not [r for r in failures if r.sent > t_down], "no request failed once it was out of service")
            # HAProxy's log names the server of every request that went wrong, also of
            # those the client saw no answer for.
            logged = {}
            for line in hap.log_lines()[log_mark:]:
                m = ALB_LOG.search(line)
                if m:
                    logged[m["server"]] = logged.get(m["server"], 0) + 1
            print(f"  requests HAProxy logged as failed, by server: {logged}")
            check(set(logged) == {victim} and all(r.server in (victim, None) for r in failures),
                  f"every failure was a request sent to {victim}")
            check(not [r for r in sel if r.server == survivor and r.error], f"{survivor} answered every request")
        hap.maint("fleet", victim)
        fleet.remove(victim)

        # -- 4. the flaky /health ---------------------------------------------------------------
        flaky_phase(a, hap, fleet, ports, rise, fall, p, mod['health_check_interval'])
    finally:
        if load is not None:
            load.stop()
        hap.stop()
    if broken:
        print("\nrehearsal: FAILED:\n  " + "\n  ".join(broken))
        sys.exit(1)
    print("\nrehearsal: every promise held")


def bring_in_service(hap, names, inter, rise, ev=None):
    """Wait until the balancer's checks have each target up, then give it its weight
    (the end of ALB's `initial` state). Returns name -> time in service: the moment
    before its weight is set, from which the balancer may send it requests."""
    t_in = {}
    deadline = time.monotonic() + 30 + 3 * rise * inter
    while len(t_in) < len(names):
        if time.monotonic() > deadline:
            raise SystemExit(f"not in service after {30 + 3 * rise * inter:g} s: {hap.states('fleet')}")
        st = hap.states("fleet")
        for n in names:
            if n not in t_in and st.get(n, {}).get("op") == "UP":
                t_in[n] = time.monotonic()
                hap.set_weight("fleet", n, 100)
                if ev:
                    ev(f"{n} in service (passed {rise} checks)")
        time.sleep(0.01)
    return t_in


def stop_all(fleet, names, stop_timeout):
    """docker stop (SIGTERM, SIGKILL after the unit's timeout) of all at once, as the ASG
    terminates a batch; the exit codes come from `docker wait`, since the unit's
    container may be removed on exit."""
    waits = {n: subprocess.Popen(["docker", "wait", fleet.cname(n)], stdout=subprocess.PIPE, text=True)
             for n in names}
    time.sleep(0.1)  # let `docker wait` attach before the container can go away
    threads = [threading.Thread(target=fleet.stop, args=(n, stop_timeout)) for n in names]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    codes = {}
    for n, w in waits.items():
        out, _ = w.communicate(timeout=stop_timeout + 30)
        codes[n] = int(out.strip()) if out.strip().lstrip("-").isdigit() else out.strip()
    return codes


def print_timeline(results, start, end, step, old_v, new_v):
    print(f"  answers per {step:g} s (by when the request was sent):")
    print(f"    {'t (s)':>7} {old_v:>6} {new_v:>6} {'failed':>6}")
    t = start
    while t < end:
        sel, failures, versions = loadmod.summary(results, t, t + step)
        print(f"    {t - start - 1.0:+7.2f} {versions.get(old_v, 0):6d} {versions.get(new_v, 0):6d} {len(failures):6d}")
        t += step


def failed_checks_until_down(lines, mark, backend, server):
    """The run of failed checks that took the server out after line `mark` (the kill):
    (its length, how many of them came before the mark). HAProxy logs every change of a
    check's result or of the server's health, so each failure of a run is a line and the
    run starts after the last logged success."""
    lines = [(i, line) for i, line in enumerate(lines) if not line.startswith("[")]  # "[": stderr copies
    down = next((i for i, line in lines if i >= mark and f"Server {backend}/{server} is DOWN" in line), None)
    if down is None:
        return None, 0
    run = []
    for i, line in reversed([x for x in lines if x[0] < down]):
        if f"server {backend}/{server} succeeded" in line or f"Server {backend}/{server} is UP" in line:
            break
        if f"server {backend}/{server} failed" in line:
            run.append(i)
    return len(run), sum(1 for i in run if i < mark)


ALB_LOG = re.compile(r" alb (?P<backend>[^/ ]+)/(?P<server>\S+) ")
# The module's access log is JSON (ACCESS_LOG=json), one object a line.
HEALTH_LINE = re.compile(r'"method":"GET","path":"/health","status":(\d{3}),')


def flaky_phase(a, hap, fleet, ports, rise, fall, p, module_interval):
    """Fast checks of healthy instances: HAProxy's false evictions against the math.

    Two instances are checked with the module's thresholds. With the module's numbers a
    false eviction may be too rare to ever see in a few thousand checks, so one control
    instance each is checked with an unhealthy threshold of 2 and of 3, where the same
    math predicts several: they show the measurement can see evictions at all.
    Every check is also in the instance's access log (`"path":"/health","status":200|500`), so each
    instance's eviction count is replayed exactly from its logged results as well.
    """
    print(f"\n== 4. flaky /health: HEALTH_FAILURE_RATE={p:g}, checks every {FLAKY_INTERVAL * 1000:g} ms, "
          f"rise {rise}")
    falls = {"m1": fall, "m2": fall}
    for k in (2, 3):
        if k != fall:
            falls[f"c{k}"] = k
    for n, k in falls.items():
        port = next(ports)
        fleet.start(n, a.new, port)
        hap.add_checked("flaky", n, port, FLAKY_INTERVAL, rise, k)
    deadline = time.monotonic() + FLAKY_MAX_SECONDS
    t_start = time.monotonic()
    while time.monotonic() < deadline:
        time.sleep(2.0)
        if sum(len(HEALTH_LINE.findall(fleet.logs(n))) for n in falls) >= FLAKY_CHECKS:
            break
    stats = hap.stats("flaky")
    for n in falls:
        # Stop the checks without a transition (maintenance would log one more DOWN).
        hap.ok(f"disable health flaky/{n}")
    elapsed = time.monotonic() - t_start
    time.sleep(0.1)
    lines = [line for line in hap.log_lines() if not line.startswith("[")]  # "[": stderr copies
    rows = {}
    for n, k in falls.items():
        seq = [s == "200" for s in HEALTH_LINE.findall(fleet.logs(n))]
        rows[n] = {
            "fall": k,
            "checks": len(seq),
            "failed": seq.count(False),
            # HAProxy's record of each eviction is its log line; chkdown counts the same
            # (read a moment before the checks stopped).
            "haproxy": sum(1 for line in lines if f"Server flaky/{n} is DOWN." in line),
            "chkdown": int(stats[n]["chkdown"] or 0),
            # From full health (see add_checked). A check in flight when the checks
            # stopped is logged but its result ignored: the replay without it is as right.
            "replayed": {module.replay(seq, rise, k), module.replay(seq[:-1], rise, k)},
            # Checks that failed for another reason than a 500 (a timeout on a busy
            # machine, say) are not in the access log: the replay cannot count them.
            "other": sum(1 for line in lines if f"server flaky/{n} failed, reason: " in line
                         and "Layer7 wrong status, code: 500" not in line),
            "expected": module.expected_false_evictions([len(seq)], p, k, rise),
        }
    total = sum(r["checks"] for r in rows.values())
    failed = sum(r["failed"] for r in rows.values())
    print(f"  {total} checks in {elapsed:.1f} s, {failed} failed ({failed / max(total, 1):.3f})")
    print(f"  predicted evictions = checks / (E[checks to `fall` failures in a row] + E[checks to {rise} "
          f"passes in a row]), E[k in a row] = (1 - q^k) / ((1 - q) q^k), q = {p:g} resp. {1 - p:g}")
    print(f"    {'instances':14} {'fall':>4} {'checks':>7} {'E[fall]':>11} {'predicted':>10} "
          f"{'HAProxy':>7} {'replayed':>8}  Poisson P[X<=m], P[X>=m]")
    groups = [("module", [n for n in rows if n.startswith("m")])]
    groups += [(f"control {n}", [n]) for n in rows if n.startswith("c")]
    for label, names in groups:
        k = rows[names[0]]["fall"]
        checks = sum(rows[n]["checks"] for n in names)
        expected = sum(rows[n]["expected"] for n in names)
        measured = sum(rows[n]["haproxy"] for n in names)
        lo, hi = (sum(f(rows[n]["replayed"]) for n in names) for f in (min, max))
        replayed = str(lo) if lo == hi else f"{lo}-{hi}"
        le, ge = module.poisson_tail(measured, expected)
        print(f"    {label + ' ' + ','.join(names):14} {k:4d} {checks:7d} {module.checks_until_run(p, k):11.1f} "
              f"{expected:10.4g} {measured:7d} {replayed:>8}  {le:.3g}, {ge:.3g}")
        check(min(le, ge) > 1e-4, f"{label}: false evictions within a generous Poisson bound of the prediction")
        for n in names:
            r = rows[n]
            if r["other"]:
                print(f"    {n}: {r['other']} checks failed for another reason than a 500; replay not compared")
            else:
                check(r["haproxy"] in r["replayed"], f"{n}: HAProxy's evictions ({r['haproxy']}) are the "
                      f"thresholds replayed on its logged checks ({'/'.join(map(str, sorted(r['replayed'])))})")
    cycle = module.checks_until_run(p, fall) + module.checks_until_run(1 - p, rise)
    print(f"  with the module's numbers ({module_interval} s interval, fall {fall}): one false eviction "
          f"per instance and load balancer node every {cycle * module_interval / 86400:.3g} days on average")
    check(total >= FLAKY_CHECKS // 2, f"at least {FLAKY_CHECKS // 2} checks ran ({total})")


if __name__ == "__main__":
    main()
