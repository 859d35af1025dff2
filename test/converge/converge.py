"""The converge: test/fixtures/wrapper applied, rolled, failed, recovered and destroyed
against moto's server mode (moto_gaps.py), as a user's journey. Each step asserts what
it must and prints what it saw. Usage: converge.py TERRAFORM_WORKDIR (run.sh prepares it).
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import tempfile
import time
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

FLATCAR_OWNER = "075585003325"
ACCOUNT = "123456789012"  # moto's default account
REGION = "us-east-1"
IMAGE = "registry.example.com/micro-service"
NAME_PREFIX = "converge"
# Where the alarms notify (moto does not check that the topic exists).
ALARM_TOPIC = f"arn:aws:sns:{REGION}:{ACCOUNT}:converge-alarms"


def _ami(ami_id: str, name: str, owner: str, arch: str, days_ago: int) -> dict[str, Any]:
    created = datetime.now(timezone.utc) - timedelta(days=days_ago)
    return {
        "ami_id": ami_id,
        "name": name,
        "description": f"{name} (converge test image)",
        "owner_id": owner,
        "public": True,
        "state": "available",
        "architecture": arch,
        "virtualization_type": "hvm",
        "hypervisor": "xen",
        "root_device_type": "ebs",
        "root_device_name": "/dev/xvda",
        "image_type": "machine",
        "sriov": "simple",
        "creation_date": created.strftime("%Y-%m-%dT%H:%M:%S.000Z"),
    }


# The one the lookup must pick, and newer ones it must skip: another owner's
# look-alike, the arm64 build, the beta channel.
STABLE = _ami("ami-0f1a7ca70000000a", "Flatcar-stable-4152.2.0-hvm", FLATCAR_OWNER, "x86_64", 30)
DECOYS = [
    _ami("ami-0ba5e0000000000b", "Flatcar-stable-9999.0.0-hvm", "111122223333", "x86_64", 1),
    _ami("ami-0a4b6400000000c0", "Flatcar-stable-4152.2.1-hvm", FLATCAR_OWNER, "arm64", 2),
    _ami("ami-0be7a00000000d00", "Flatcar-beta-4186.1.0-hvm", FLATCAR_OWNER, "x86_64", 3),
]
# Published during the journey (step 4).
NEWER_STABLE = _ami("ami-0f1a7ca70000000e", "Flatcar-stable-4152.2.1-hvm", FLATCAR_OWNER, "x86_64", 0)

# Joined to the fixture as an override file: the provider talks to the emulator, and the
# journey sets module inputs that the fixture does not expose.
# Inputs of the journey that the fixture does not have (a primary file: an override
# file cannot declare variables).
INPUTS = """
variable "wait_for_capacity_timeout" {
  type    = string
  default = "2m"
}

variable "app_port" {
  type    = number
  default = 8080
}

variable "extra_tags" {
  type    = map(string)
  default = {}
}

# Every output of the module, not only the few the fixture passes on.
output "service" {
  value = module.service
}

"""

OVERRIDE = """
provider "aws" {
  access_key                  = "converge"
  secret_key                  = "converge"
  skip_credentials_validation = true
  skip_metadata_api_check     = true
  skip_region_validation      = true
  # The provider does ask STS for the account ID (skip_requesting_account_id stays
  # false): without it, rules that reference a security group read back with an
  # account prefix and every plan shows a diff.
  # A few retries: under load the emulator's server sometimes drops a keep-alive
  # connection mid-answer ("use of closed network connection"), which one attempt turned
  # into a failed run. Its 4xx answers are not retried: a refusal still fails at once.
  max_retries = 4

  endpoints {
    autoscaling = "%(url)s"
    cloudwatch  = "%(url)s"
    ec2         = "%(url)s"
    elbv2       = "%(url)s"
    iam         = "%(url)s"
    logs        = "%(url)s"
    ssm         = "%(url)s"
    sts         = "%(url)s"
  }
}

module "service" {
  wait_for_capacity_timeout = var.wait_for_capacity_timeout
  app_port                  = var.app_port
  tags                      = merge({ Suite = "default" }, var.extra_tags)
  alarm_actions             = ["%(topic)s"]
}
"""


class Failed(Exception):
    pass


# Steps that show one defect each (section 6 and the outputs of step 3) record their
# failure here and the journey goes on, so that one run shows every defect.
DEFECTS: list[str] = []


class defect_step:
    def __init__(self, title: str) -> None:
        self.title = title

    def __enter__(self) -> None:
        step(self.title)

    def __exit__(self, kind: Any, error: Any, tb: Any) -> bool:
        if isinstance(error, Failed):
            print(f"    FAIL {error}", flush=True)
            DEFECTS.append(f"{self.title}: {error}")
            return True
        return False


def check(condition: bool, what: str) -> None:
    if not condition:
        raise Failed(what)
    print(f"    ok   {what}")


class Terraform:
    """terraform in the fixture's copy; JSON output parsed, raw output kept in log/."""

    def __init__(self, chdir: Path, log_dir: Path) -> None:
        self.chdir = chdir
        self.log_dir = log_dir
        self.runs = 0
        self.inputs: dict[str, Any] = {
            "app_version": "v1",
            "image": IMAGE,
            "name_prefix": NAME_PREFIX,
        }

    def _run(self, *args: str) -> tuple[int, list[dict[str, Any]]]:
        self.runs += 1
        log = self.log_dir / f"{self.runs:02d}-{args[0]}.jsonl"
        cmd = ["terraform", f"-chdir={self.chdir}", *args]
        with open(log, "w") as out:
            rc = subprocess.run(cmd, stdout=out, stderr=subprocess.STDOUT, check=False).returncode
        events = []
        for line in log.read_text().splitlines():
            try:
                events.append(json.loads(line))
            except json.JSONDecodeError:
                events.append({"type": "text", "@message": line})
        return rc, events

    def _vars(self) -> list[str]:
        out = []
        for key, value in self.inputs.items():
            text = value if isinstance(value, str) else json.dumps(value)
            out += ["-var", f"{key}={text}"]
        return out

    def init(self) -> None:
        rc, events = self._run("init", "-input=false", "-backend=false")
        if rc != 0:
            raise Failed("terraform init: " + " ".join(e.get("@message", "") for e in events))

    def apply(self) -> tuple[int, list[dict[str, Any]]]:
        return self._run("apply", "-auto-approve", "-json", *self._vars())

    def plan(self) -> list[tuple[str, str]]:
        """The planned changes, as (address, action)."""
        rc, events = self._run("plan", "-json", "-detailed-exitcode", *self._vars())
        if rc not in (0, 2):
            raise Failed("plan failed: " + errors(events))
        return [
            (e["change"]["resource"]["addr"], e["change"]["action"])
            for e in events
            if e.get("type") == "planned_change"
        ]

    def plan_out(self, path: Path) -> list[tuple[str, str]]:
        """A plan saved to a file, to apply later; returns its changes, as plan() does."""
        rc, events = self._run("plan", "-json", f"-out={path}", *self._vars())
        if rc != 0:
            raise Failed("plan failed: " + errors(events))
        return [
            (e["change"]["resource"]["addr"], e["change"]["action"])
            for e in events
            if e.get("type") == "planned_change"
        ]

    def apply_saved(self, path: Path) -> tuple[int, list[dict[str, Any]]]:
        return self._run("apply", "-auto-approve", "-json", str(path))

    def destroy(self) -> tuple[int, list[dict[str, Any]]]:
        return self._run("destroy", "-auto-approve", "-json", *self._vars())

    def outputs(self) -> dict[str, Any]:
        result = subprocess.run(
            ["terraform", f"-chdir={self.chdir}", "output", "-json"],
            capture_output=True, text=True, check=True,
        )
        return {k: v["value"] for k, v in json.loads(result.stdout).items()}


def errors(events: list[dict[str, Any]]) -> str:
    return " | ".join(
        e.get("diagnostic", {}).get("summary", "") + ": " + e.get("diagnostic", {}).get("detail", "")
        for e in events
        if e.get("@level") == "error"
    )


def hooks(events: list[dict[str, Any]], kind: str, addr_part: str) -> list[tuple[int, str, str]]:
    """(position, address, action) of apply_start/apply_complete events for a resource."""
    out = []
    for i, e in enumerate(events):
        if e.get("type") == kind:
            hook = e["hook"]
            addr = hook["resource"]["addr"]
            if addr_part in addr:
                out.append((i, addr, hook.get("action", "")))
    return out


class World:
    """What the emulator holds, read in-process from moto's backends."""

    def __init__(self, emulator: Any) -> None:
        from moto.autoscaling.models import autoscaling_backends
        from moto.ec2.models import ec2_backends
        from moto.elbv2.models import elbv2_backends

        self.emulator = emulator
        self.asg = autoscaling_backends[ACCOUNT][REGION]
        self.ec2 = ec2_backends[ACCOUNT][REGION]
        self.elbv2 = elbv2_backends[ACCOUNT][REGION]

    def groups(self) -> dict[str, dict[str, Any]]:
        import base64

        out = {}
        for g in self.asg.autoscaling_groups.values():
            lt = g.ec2_launch_template
            version = lt.get_version(g.launch_template_version)
            user_data = base64.b64decode(str(version.data.get("UserData") or "")).decode()
            out[g.name] = {
                "desired": g.desired_capacity,
                "min": g.min_size,
                "max": g.max_size,
                "instances": [s.instance.id for s in g.instance_states],
                "lt_version": int(version.number),
                "image_id": version.data.get("ImageId"),
                "user_data": user_data,
                "policies": sorted(
                    p.name for p in self.asg.policies.values() if p.auto_scaling_group_name == g.name
                ),
            }
        return out

    def serving(self) -> dict[str, list[str]]:
        """Port 80's view: Auto Scaling group -> instances that clients reach."""
        from moto_gaps import serving

        return serving(REGION).get("80", {})

    def publish_ami(self, ami: dict[str, Any]) -> None:
        """Flatcar publishes a release: an image of its account appears (no API for that)."""
        from moto.ec2.models.amis import Ami

        ami = dict(ami, owner_alias="amazon", creation_date=datetime.strptime(ami["creation_date"], "%Y-%m-%dT%H:%M:%S.000Z").replace(tzinfo=timezone.utc))
        self.ec2.amis[ami["ami_id"]] = Ami(self.ec2, **ami)

    def leftovers(self) -> list[str]:
        """Everything the fixture could have made that is still there."""
        left = []
        left += [f"vpc {v.id}" for v in self.ec2.vpcs.values() if not v.is_default]
        left += [f"subnet {s.id}" for azs in self.ec2.subnets.values() for s in azs.values() if not s.default_for_az]
        left += [f"security group {g.id} ({g.name})" for vpc in self.ec2.groups.values() for g in vpc.values() if g.name != "default"]
        left += [f"internet gateway {i.id}" for i in self.ec2.internet_gateways.values()]
        left += [f"launch template {t.name}" for t in self.ec2.launch_templates.values()]
        left += [f"instance {i.id}" for r in self.ec2.reservations.values() for i in r.instances if i.state != "terminated"]
        left += [f"load balancer {lb.name}" for lb in self.elbv2.load_balancers.values()]
        left += [f"target group {tg.name}" for tg in self.elbv2.target_groups.values()]
        left += [f"auto scaling group {g}" for g in self.asg.autoscaling_groups]
        left += [f"scaling policy {p}" for p in self.asg.policies]
        return left


def min_serving(emulator: Any) -> tuple[int, str]:
    """The fewest instances port 80 served after any change call of the last apply."""
    worst = (10**9, "no change call")
    for action, view in emulator.monitor.samples:
        count = sum(len(ids) for ids in view.get("80", {}).values())
        if count < worst[0]:
            worst = (count, action)
    return worst


def describe_groups(world: World) -> str:
    serving = world.serving()
    parts = []
    for name, g in sorted(world.groups().items(), key=lambda kv: kv[1]["lt_version"]):
        found = re.search(re.escape(IMAGE) + r":([A-Za-z0-9_.-]+)", g["user_data"])
        version = found.group(1) if found else "?"
        parts.append(
            f"{name} (template v{g['lt_version']}, image {version}, {g['image_id']}, "
            f"desired {g['desired']}, serving {len(serving.get(name, []))})"
        )
    return "; ".join(parts) or "no group"


def operations_seen(world: World, title: str, before: dict[str, Any] | None = None) -> dict[str, Any]:
    """Logs, the instances' permissions and the alarms (operations.py), as the emulator
    holds them now; with `before`, also what a roll must leave as it was."""
    import operations

    (group_name,) = world.groups()
    group = world.asg.autoscaling_groups[group_name]
    snap = operations.snapshot(world.emulator.url, REGION, NAME_PREFIX, group.ec2_launch_template.id)
    with defect_step(title):
        (lb,) = world.elbv2.load_balancers.values()
        (tg,) = world.elbv2.target_groups.values()
        found = operations.checks(snap, name_prefix=NAME_PREFIX, user_data=world.groups()[group_name]["user_data"],
                                  lb_suffix=lb.arn.split(":loadbalancer/")[1], tg_suffix=tg.arn.split(":")[-1], topic=ALARM_TOPIC)
        for holds, what in found + (operations.survived(before, snap, NAME_PREFIX) if before else []):
            check(holds, what)
    return snap


def operations_left(world: World) -> list[str]:
    import operations

    return operations.leftovers(world.emulator.url, REGION, NAME_PREFIX)


def step(title: str) -> None:
    print(f"\n-- {title}", flush=True)


def replan_is_empty(tf: Terraform) -> None:
    changes = tf.plan()
    if changes:
        # What would change, in Terraform's words, for the failure message.
        _, events = tf._run("plan", "-no-color", *tf._vars())
        diff = [e["@message"].strip() for e in events if e["@message"].lstrip().startswith(("~", "+", "-", "#"))]
        changes.append(("diff", " | ".join(diff)[:1500]))
    check(not changes, f"the re-plan is empty{'' if not changes else ': ' + repr(changes)}")


def ordered_roll(events: list[dict[str, Any]]) -> tuple[int, int]:
    """Positions of the new group's creation complete and the old group's destroy start."""
    created = [i for i, _, a in hooks(events, "apply_complete", "aws_autoscaling_group.app") if a == "create"]
    destroyed = [i for i, _, a in hooks(events, "apply_start", "aws_autoscaling_group.app") if a == "delete"]
    return (created[0] if created else -1, destroyed[0] if destroyed else -1)


def roll(tf: Terraform, world: World, version: str, capacity: int, replan: bool = True) -> str:
    """Apply a new version or image; asserts a safe replacement; returns the new group."""
    before = set(world.groups())
    world.emulator.monitor.reset()
    started = time.monotonic()
    rc, events = tf.apply()
    check(rc == 0, f"apply succeeded ({time.monotonic() - started:.0f} s){'' if rc == 0 else ': ' + errors(events)}")
    after = world.groups()
    new = [name for name in after if name not in before]
    check(len(new) == 1 and set(after) == set(new), f"one new group, the old one gone: {describe_groups(world)}")
    created, destroyed = ordered_roll(events)
    check(0 <= created < destroyed, f"Terraform completed the new group (event {created}) before it destroyed the old one (event {destroyed})")
    fewest, when = min_serving(world.emulator)
    check(fewest >= capacity, f"clients were served by at least {capacity} instances after every change call (fewest: {fewest}, after {when})")
    group = after[new[0]]
    check(f"{IMAGE}:{version}" in group["user_data"], f"the new group's launch template version {group['lt_version']} runs {IMAGE}:{version}")
    serving = world.serving()
    check(list(serving) == new and len(serving[new[0]]) == capacity, f"port 80 serves {capacity} instances, all of the new group: {serving}")
    # Rolls after the first show the same resources again; their re-plans are left
    # out to keep the run short (each terraform run costs 15-25 s of provider start-up).
    if replan:
        replan_is_empty(tf)
    return new[0]


def journey(tf: Terraform, world: World) -> None:
    step("1. apply v1 into an empty account")
    rc, events = tf.apply()
    check(rc == 0, "apply succeeded" + ("" if rc == 0 else ": " + errors(events)))
    groups = world.groups()
    check(len(groups) == 1, f"one group: {describe_groups(world)}")
    (group,) = groups.values()
    check(group["image_id"] == STABLE["ami_id"], f"the AMI lookup chose {STABLE['name']} of {FLATCAR_OWNER} ({STABLE['ami_id']}), not the newer decoys (another owner's, arm64, beta)")
    check(f"{IMAGE}:v1" in group["user_data"], f"its user data runs {IMAGE}:v1")
    check(sum(map(len, world.serving().values())) == 2, "port 80 serves 2 instances")
    replan_is_empty(tf)
    seen_v1 = operations_seen(world, "1b. the log group, the instances' permissions, the alarms")

    step("2. roll to v2")
    tf.inputs["app_version"] = "v2"
    # Its re-plan is left out: 3d and 3e re-plan after a roll.
    v2_group = roll(tf, world, "v2", 2, replan=False)
    operations_seen(world, "2b. the log group, the permissions and the alarms after the roll", before=seen_v1)

    failed_roll(tf, world, v2_group)
    revert(tf, world)
    retry(tf, world)

    step("4. Flatcar publishes a newer stable image")
    world.publish_ami(NEWER_STABLE)
    # Its re-plan is left out: step 5 plans (and applies) right after it.
    name = roll(tf, world, "v4", 2, replan=False)
    check(world.groups()[name]["image_id"] == NEWER_STABLE["ami_id"], f"the new group runs {NEWER_STABLE['name']} ({NEWER_STABLE['ami_id']})")

    step("5. capacity 2 -> 3")
    tf.inputs["desired_capacity"] = 3
    rc, events = tf.apply()
    check(rc == 0, "apply succeeded")
    # The apply's own plan (one terraform run less than a separate plan).
    changes = [(e["change"]["resource"]["addr"], e["change"]["action"]) for e in events if e.get("type") == "planned_change"]
    check(changes and all(a == "update" for _, a in changes), f"planned in place: {changes}")
    groups = world.groups()
    check(list(groups) == [name] and groups[name]["desired"] == 3, f"same group, now 3: {describe_groups(world)}")
    check(len(world.serving().get(name, [])) == 3, "port 80 serves 3 instances")
    # Its re-plan is 6b's first plan (6a changes nothing).

    fixes(tf, world, name)

    step("7. destroy")
    rc, events = tf.destroy()
    check(rc == 0, "destroy succeeded" + ("" if rc == 0 else ": " + errors(events)))
    left = world.leftovers()
    left += operations_left(world)
    check(not left, f"nothing of the fixture is left in the emulator{'' if not left else ': ' + ', '.join(left)}")


# A failing apply waits this long for capacity before it gives up (moto answers at once:
# the wait only decides how long the failure takes).
FAILING_WAIT = "10s"


def failed_apply(tf: Terraform, world: World, serving_group: str, capacity: int) -> None:
    """Applies tf.inputs, which must fail on the capacity wait with serving_group still
    serving `capacity` instances throughout."""
    world.emulator.monitor.reset()
    started = time.monotonic()
    rc, events = tf.apply()
    message = errors(events)
    check(rc != 0, f"apply failed after {time.monotonic() - started:.0f} s: {message[:160]}...")
    check("capacity" in message.lower(), "on the group's capacity wait")
    serving = world.serving()
    check(list(serving) == [serving_group] and len(serving[serving_group]) == capacity, f"{serving_group} still serves with {capacity} instances: {describe_groups(world)}")
    fewest, when = min_serving(world.emulator)
    check(fewest >= capacity, f"clients were served by at least {capacity} instances throughout (fewest: {fewest}, after {when})")


def failed_roll(tf: Terraform, world: World, v2_group: str) -> None:
    step("3. roll to a version whose instances never become healthy")
    world.emulator.health.fail_user_data_containing(f"{IMAGE}:v3-broken")
    tf.inputs.update(app_version="v3-broken", wait_for_capacity_timeout=FAILING_WAIT)
    failed_apply(tf, world, v2_group, 2)
    outputs = tf.outputs()
    print(f"    the outputs after the failure: app_version = {outputs.get('app_version')!r}, autoscaling_group_name = {outputs.get('autoscaling_group_name')!r}")
    with defect_step("3b. the outputs after the failed rollout describe what serves"):
        check(outputs.get("app_version") == "v2", f"app_version names the version that serves (v2): {outputs.get('app_version')!r}")
        check(outputs.get("autoscaling_group_name") == v2_group, f"autoscaling_group_name names the group that serves ({v2_group})")
    with defect_step("3c. the group that serves keeps its scaling policy through the failed rollout"):
        policies = world.groups()[v2_group]["policies"]
        check(any("requests-per-target" in p for p in policies), f"{v2_group} has its target tracking policy: {policies}")


def all_in_service(world: World, name: str) -> None:
    group = world.asg.autoscaling_groups[name]
    states = [s.lifecycle_state for s in group.instance_states]
    check(len(states) == group.desired_capacity and all(s == "InService" for s in states), f"all {group.desired_capacity} of its instances are in service: {states}")


def revert(tf: Terraform, world: World) -> None:
    """Issue 16: after the failed roll of step 3, the operator applies the version that
    still serves. Terraform holds v2's group as deposed and v3-broken's as tainted."""
    with defect_step("3d. revert: apply the version that serves (v2) again"):
        tf.inputs.update(app_version="v2", wait_for_capacity_timeout="2m")
        name = roll(tf, world, "v2", 2)
        all_in_service(world, name)


def retry(tf: Terraform, world: World) -> None:
    """Issue 16: a version fails for a while (a registry's rate limit, a slow boot), then
    the operator applies the same version again."""
    with defect_step("3e. retry: the same version again after a transient failure"):
        (serving_group,) = world.serving()
        marker = f"{IMAGE}:v4"
        world.emulator.health.fail_user_data_containing(marker)
        tf.inputs.update(app_version="v4", wait_for_capacity_timeout=FAILING_WAIT)
        failed_apply(tf, world, serving_group, 2)
        world.emulator.health.heal(marker)
        tf.inputs.update(wait_for_capacity_timeout="2m")
        name = roll(tf, world, "v4", 2)
        all_in_service(world, name)


def scaling_between_applies(tf: Terraform, world: World, work: Path) -> int:
    """Issue 16: scaling (target tracking) owns the group's size between applies. With
    nothing changed a plan is empty; a saved plan of an unrelated change (a tag), applied
    after the group grew again, neither shrinks it nor fails on a capacity wait; and, as
    issue 11 asked, the tag change replaces no instance. Returns the group's size."""
    import boto3

    with defect_step("6b. scaling acts between applies; a tag change (a saved plan) replaces and shrinks nothing"):
        (name,) = world.groups()
        client = boto3.client(
            "autoscaling", region_name=REGION, endpoint_url=world.emulator.url,
            aws_access_key_id="converge", aws_secret_access_key="converge",
        )
        # What a scale-out by a policy does to the group.
        client.set_desired_capacity(AutoScalingGroupName=name, DesiredCapacity=5)
        check(len(world.serving().get(name, [])) == 5, "the group was scaled out to 5 (SetDesiredCapacity)")
        replan_is_empty(tf)
        tf.inputs["extra_tags"] = {"Team": "payments"}
        saved = work / "retag.tfplan"
        tf.plan_out(saved)
        client.set_desired_capacity(AutoScalingGroupName=name, DesiredCapacity=6)
        before = world.groups()
        check(len(world.serving().get(name, [])) == 6, "after the plan, the group grew to 6")
        rc, events = tf.apply_saved(saved)
        check(rc == 0, "the saved plan applied" + ("" if rc == 0 else ": " + errors(events)))
        after = world.groups()
        check(list(after) == list(before), f"the same group: {describe_groups(world)}")
        check(after[name]["desired"] == 6 and len(world.serving().get(name, [])) == 6, f"still 6, serving 6: {describe_groups(world)}")
        check(after[name]["instances"] == before[name]["instances"], f"the same {len(after[name]['instances'])} instances")
        group = world.asg.autoscaling_groups[name]
        version = group.ec2_launch_template.get_version(group.launch_template_version)
        tagged = any(
            t.get("Key") == "Team" and t.get("Value") == "payments"
            for spec in version.data.get("TagSpecifications") or []
            if spec.get("ResourceType") == "instance"
            for t in spec.get("Tags", [])
        )
        check(tagged, f"instances it launches from now on get the tag (template version {version.number})")
        replan_is_empty(tf)
    (name,) = world.groups()
    return len(world.serving().get(name, []))


def fixes(tf: Terraform, world: World, group_name: str) -> None:
    """Section 6: one step per module defect of issue 11."""
    with defect_step("6a. outputs for alarms and scaling from outside"):
        outputs = tf.outputs()["service"]
        (lb,) = world.elbv2.load_balancers.values()
        (tg,) = world.elbv2.target_groups.values()
        listeners = {l.port: l.arn for l in lb.listeners.values()}
        group = world.asg.autoscaling_groups[group_name]
        expected = {
            "alb_arn_suffix": lb.arn.split(":loadbalancer/")[1],
            "target_group_arn_suffix": tg.arn.split(":")[-1],
            "http_listener_arn": listeners.get(80),
            "autoscaling_group_arn": group.arn,
            "launch_template_id": group.ec2_launch_template.id,
            "launch_template_version": str(group.launch_template_version),
        }
        for key, value in expected.items():
            check(str(outputs.get(key)) == str(value), f"output {key} = {outputs.get(key)!r} (the emulator: {value!r})")

    size = scaling_between_applies(tf, world, tf.chdir)

    with defect_step("6c. a roll keeps the size scaling gave the fleet, and its scaling policies"):
        tf.inputs["app_version"] = "v5"
        new = roll(tf, world, "v5", size, replan=False)
        policies = world.groups()[new]["policies"]
        check(any("requests-per-target" in p for p in policies), f"the new group has its target tracking policy: {policies}")
        size = len(world.serving().get(new, []))

    with defect_step("6d. an app_port change does not cut clients off"):
        tf.inputs["app_port"] = 8081
        world.emulator.monitor.reset()
        rc, events = tf.apply()
        message = errors(events)
        fewest, when = min_serving(world.emulator)
        if rc == 0:
            check(fewest >= size, f"clients were served by at least {size} instances throughout (fewest: {fewest}, after {when})")
        else:
            check("app_port cannot change" in message and "name_prefix" in message, f"refused at plan time, saying how to do it safely: {message[:200]}...")
            check(not world.emulator.monitor.samples, "nothing was changed")
        tf.inputs["app_port"] = 8080


def prepare(root: Path, work: Path, url: str, mirror: str) -> Path:
    import shutil

    module = Path(os.environ.get("CONVERGE_MODULE_DIR") or root / "terraform")
    shutil.copytree(module, work / "terraform", ignore=shutil.ignore_patterns(".terraform*", "tests"))
    shutil.copytree(root / "test/fixtures/wrapper", work / "test/fixtures/wrapper", ignore=shutil.ignore_patterns(".terraform*", "tests", "*.tfstate*"))
    fixture = work / "test/fixtures/wrapper"
    (fixture / "converge_inputs.tf").write_text(INPUTS)
    (fixture / "converge_override.tf").write_text(OVERRIDE % {"url": url, "topic": ALARM_TOPIC})
    rc = work / "terraformrc"
    rc.write_text(
        'provider_installation {\n'
        f'  filesystem_mirror {{\n    path    = "{mirror}"\n    include = ["registry.terraform.io/*/*"]\n  }}\n'
        '  direct {\n    exclude = ["registry.terraform.io/*/*"]\n  }\n}\n'
    )
    os.environ.update(TF_CLI_CONFIG_FILE=str(rc), CHECKPOINT_DISABLE="1", TF_IN_AUTOMATION="1", TF_INPUT="0")
    for key in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN", "AWS_PROFILE"):
        os.environ.pop(key, None)
    return fixture


def main() -> int:
    # CONVERGE_MODULE_DIR: another copy of the module, e.g. an older commit's, to see
    # which steps it fails.
    root = Path(__file__).resolve().parents[2]
    mirror = sys.argv[1]
    with tempfile.TemporaryDirectory(prefix="converge-") as tmp:
        work = Path(tmp)
        amis = work / "amis.json"
        amis.write_text(json.dumps([STABLE, *DECOYS]))
        # moto reads the images when it is first imported.
        os.environ["MOTO_AMIS_PATH"] = str(amis)
        import moto_gaps

        emulator = moto_gaps.Emulator(REGION)
        url = emulator.start()
        emulator.url = url
        print(f"  moto {moto_gaps.MOTO_VERSION} on {url}; images: " + ", ".join(f"{a['name']} {a['architecture']} of {a['owner_id']}" for a in [STABLE, *DECOYS]))
        log_dir = Path(os.environ.get("CONVERGE_LOG_DIR") or work / "log")
        log_dir.mkdir(parents=True, exist_ok=True)
        tf = Terraform(prepare(root, work, url, mirror), log_dir)
        tf.init()
        started = time.monotonic()
        try:
            journey(tf, World(emulator))
        except Failed as failure:
            print(f"    FAIL {failure}\n  (terraform's output of each run: {log_dir})", file=sys.stderr)
            if "CONVERGE_LOG_DIR" not in os.environ:
                import shutil
                keep = Path(tempfile.mkdtemp(prefix="converge-log-"))
                shutil.copytree(log_dir, keep, dirs_exist_ok=True)
                print(f"  logs kept in {keep}", file=sys.stderr)
            return 1
        finally:
            emulator.stop()
        if DEFECTS:
            print(f"\nconverge: {len(DEFECTS)} defect step(s) failed:\n  " + "\n  ".join(DEFECTS), file=sys.stderr)
            return 1
        print(f"\nconverge: all steps passed in {time.monotonic() - started:.0f} s ({tf.runs} terraform runs)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
