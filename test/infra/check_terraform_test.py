"""Reads `terraform test -json` output: every run must pass, and the rollout's plans
(tests/rollout.tftest.hcl, run with -verbose so that the plans are in the output) must
replace what a rollout replaces and nothing else.

Assertions in a .tftest.hcl file cannot see whether a plan replaces a resource, nor
whether a value is unknown until apply; the plan in the JSON output says both:

- a new launch template version is planned when the provider marks `latest_version`
  unknown (AWS numbers versions); the Auto Scaling group is replaced when its actions are
  ["create", "delete"] (create before destroy: the old group goes only after the new
  one is healthy), because what makes an instance changed (action_reason
  "replace_by_triggers": terraform_data.instance was updated);
- same version, or only a new size: no new template version, nothing replaced;
- nothing changed while scaling grew the group: no change of the group at all.

Run: python3 test/infra/check_terraform_test.py [--rollout] [--edit] RESULTS.jsonl...
(test/infra/terraform.sh does).
"""

from __future__ import annotations

import json
import sys
from dataclasses import dataclass, field
from pathlib import Path

ROLLOUT_FILE = "tests/rollout.tftest.hcl"
# Run by test/infra/terraform.sh on a copy of the module with one hard-coded field of
# local.instance edited (test/infra/edits/).
EDIT_FILE = "tests/edited/hop_limit.tftest.hcl"
EDIT_EXPECTATIONS = {"hop_limit_edited": "replaced"}
TEMPLATE = "aws_launch_template.app"
GROUP = "aws_autoscaling_group.app"

POLICY = "aws_autoscaling_policy."

TRIGGER = "terraform_data.instance"

# Run of the rollout file -> what its plan does to the fleet (runs not listed: no plan
# expected): "rolls" replaces the group, "retags" makes a new template version that the
# group takes in place, "stays" makes neither, "nothing" leaves the group untouched.
ROLLOUT_EXPECTATIONS = {
    "reapply_v1": "nothing",
    "scale_out": "stays",
    "scaled_out_by_a_policy": "nothing",
    "deploy_v2": "rolls",
    "new_flatcar_release": "rolls",
    "retag": "retags",
    "roll_a_scaled_out_fleet": "rolls",
}


@dataclass
class Results:
    runs: dict[str, dict[str, str]] = field(default_factory=dict)  # file -> run -> status
    diagnostics: list[str] = field(default_factory=list)
    plans: dict[tuple[str, str], list[dict]] = field(default_factory=dict)  # (file, run) -> resource_changes
    summaries: list[dict] = field(default_factory=list)


def read(lines, results: Results) -> None:
    """Folds one `terraform test -json` output into results. Plans keep only their
    resource changes (each -verbose message also carries the provider's whole schema)."""
    for line in lines:
        line = line.strip()
        if not line.startswith("{"):
            continue
        msg = json.loads(line)
        kind = msg.get("type")
        if kind == "test_run":
            run = msg["test_run"]
            if run.get("progress") == "complete":
                results.runs.setdefault(run["path"], {})[run["run"]] = run.get("status", "?")
        elif kind == "diagnostic" and msg["diagnostic"].get("severity") == "error":
            d = msg["diagnostic"]
            where = " ".join(x for x in (msg.get("@testfile"), msg.get("@testrun")) if x)
            results.diagnostics.append(f"{where}: {d.get('summary', '')}: {d.get('detail', '')}".strip())
        elif kind == "test_plan":
            key = (msg.get("@testfile", ""), msg.get("@testrun", ""))
            results.plans[key] = msg["test_plan"].get("resource_changes", [])
        elif kind == "test_summary":
            results.summaries.append(msg["test_summary"])


def rollout_problems(run: str, changes: list[dict], expected: str) -> list[str]:
    """What is wrong with one plan of the rollout file."""
    by_address = {c["address"]: c["change"] for c in changes}
    reasons = {c["address"]: c.get("action_reason") for c in changes}
    if TEMPLATE not in by_address or GROUP not in by_address:
        return [f"{run}: the plan has no {TEMPLATE} or no {GROUP}"]
    problems = []
    template, group = by_address[TEMPLATE], by_address[GROUP]
    new_version = bool((template.get("after_unknown") or {}).get("latest_version"))
    if expected == "replaced":
        # A mocked provider plans no unknown template version; the group's replacement
        # by its trigger is Terraform's own logic, and is what matters here.
        if group["actions"] != ["create", "delete"] or reasons.get(GROUP) != "replace_by_triggers":
            problems.append(f"{run}: expected the group to be replaced by its trigger, created before destroyed, got {group['actions']} ({reasons.get(GROUP)})")
    elif expected == "nothing":
        # The fleet untouched: the group and its trigger plan no change at all. (Other
        # resources of this offline state, built from overrides, read back with values
        # the overrides invented, so they show updates; none may be replaced.)
        fleet = {a: by_address[a]["actions"] for a in (GROUP, TRIGGER) if a in by_address}
        if fleet != {GROUP: ["no-op"], TRIGGER: ["no-op"]} or new_version:
            problems.append(f"{run}: expected no change of the fleet, got {fleet}, new template version: {new_version}")
    elif expected == "rolls":
        if template["actions"] != ["update"] or not new_version:
            problems.append(f"{run}: expected a new version of the launch template (an update with latest_version unknown), got {template['actions']}, latest_version unknown: {new_version}")
        if group["actions"] != ["create", "delete"]:
            problems.append(f"{run}: expected the group to be replaced, created before the old one is destroyed (['create', 'delete']), got {group['actions']}")
        elif reasons.get(GROUP) != "replace_by_triggers" or (by_address.get(TRIGGER) or {}).get("actions") != ["update"]:
            problems.append(f"{run}: expected the group to be replaced by its trigger ({TRIGGER} updated, action_reason replace_by_triggers), got {reasons.get(GROUP)}, {TRIGGER}: {(by_address.get(TRIGGER) or {}).get('actions')}")
    else:
        if expected == "stays" and new_version:
            problems.append(f"{run}: the launch template gets a new version")
        if expected == "retags" and (template["actions"] != ["update"] or not new_version):
            problems.append(f"{run}: expected a new version of the launch template, got {template['actions']}, latest_version unknown: {new_version}")
        if expected == "retags" and group["actions"] != ["update"]:
            problems.append(f"{run}: expected the group to take the new version in place (['update']), got {group['actions']}")
        if "delete" in group["actions"]:
            problems.append(f"{run}: the group is replaced ({group['actions']}), which rolls the fleet")
    # A rollout replaces the group (and the scaling policies that live on it) and
    # nothing else: not the ALB, the target group, the listeners or the security groups
    # the old fleet is still using.
    for address, change in by_address.items():
        if address != GROUP and not address.startswith(POLICY) and "delete" in change["actions"]:
            problems.append(f"{run}: {address} would be {'replaced' if 'create' in change['actions'] else 'destroyed'} ({change['actions']})")
    return problems


def check(results: Results, expect_rollout: bool, expect_edit: bool = False) -> tuple[list[str], list[str]]:
    """(lines to print, failures)."""
    out, failures = [], []
    for path in sorted(results.runs):
        runs = results.runs[path]
        bad = {r: s for r, s in runs.items() if s != "pass"}
        if bad:
            failures += [f"{path}: run {r}: {s}" for r, s in bad.items()]
            out.append(f"  FAIL {path}: {len(runs) - len(bad)} of {len(runs)} runs passed; " + ", ".join(f"{r} {s}" for r, s in bad.items()))
        else:
            out.append(f"  ok   {path}: {len(runs)} runs passed")
    failures += [f"terraform test: {s['failed']} failed, {s['errored']} errored" for s in results.summaries if s.get("status") != "pass"]
    failures += results.diagnostics
    if not results.runs:
        failures.append("terraform test reported no run at all")

    expectations = []
    if expect_rollout:
        expectations += [(ROLLOUT_FILE, run, e) for run, e in ROLLOUT_EXPECTATIONS.items()]
    if expect_edit:
        expectations += [(EDIT_FILE, run, e) for run, e in EDIT_EXPECTATIONS.items()]
    if expectations:
        for path, run, expected in expectations:
            if run not in results.runs.get(path, {}):
                failures.append(f"{path}: run {run} is missing")
                continue
            changes = results.plans.get((path, run))
            if changes is None:
                failures.append(f"{path}: no plan for run {run} (terraform test -json -verbose)")
                continue
            problems = rollout_problems(run, changes, expected)
            failures += problems
            what = {
                "rolls": "new template version; group replaced by its trigger, created before destroyed; nothing else replaced",
                "retags": "new template version; group updated in place; nothing replaced",
                "stays": "same template version; nothing replaced",
                "nothing": "the group and its trigger unchanged, same template version",
                "replaced": "group replaced by its trigger, created before destroyed",
            }[expected]
            out.append(f"  {'ok  ' if not problems else 'FAIL'} plan of {run}: {what}")
    return out, failures


def main(argv: list[str]) -> int:
    expect_rollout = "--rollout" in argv
    expect_edit = "--edit" in argv
    files = [a for a in argv if a not in ("--rollout", "--edit")]
    results = Results()
    for f in files:
        with Path(f).open() as lines:
            read(lines, results)
    out, failures = check(results, expect_rollout, expect_edit)
    print("\n".join(out))
    for f in failures:
        print(f"         - {f}")
    total = sum(len(r) for r in results.runs.values())
    passed = sum(s == "pass" for r in results.runs.values() for s in r.values())
    print(f"  terraform test: {passed} of {total} runs passed in {len(results.runs)} files")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
