"""moto 5.2.5 in server mode, in this process, with its gaps for this module closed.

The converge (converge.py) applies test/fixtures/wrapper against this emulator. Where
moto 5.2.5 differs from AWS in a way the module meets, the patch below makes it behave
as AWS does, and says what AWS does. Nothing here changes the module: a patch that
made moto *less* like AWS would hide a defect, so each one is as narrow as it can be.

It is tied to one moto version (test/converge/requirements.txt): start() refuses any
other, since a patch of a moved function would silently do nothing.

Besides the gaps, one control the converge needs and AWS has no API for: which
instances fail their target group health checks (FleetHealth). In moto every
registered target is healthy at once, so a capacity wait could never fail.
"""

from __future__ import annotations

import threading
from importlib.metadata import version
from typing import Any

MOTO_VERSION = "5.2.5"


class FleetHealth:
    """Which instances the ALB finds unhealthy: those whose user data mentions a marker.

    The module writes image:app_version into each instance's user data, so a marker
    such as ":v3-broken" stands for "this release never passes its health check", as a
    release that crashes at start would on AWS.
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._markers: set[str] = set()

    def fail_user_data_containing(self, marker: str) -> None:
        with self._lock:
            self._markers.add(marker)

    def heal(self, marker: str) -> None:
        """The release is fine after all (a registry's rate limit passed, say)."""
        with self._lock:
            self._markers.discard(marker)

    def is_unhealthy(self, user_data: str) -> bool:
        with self._lock:
            return any(m in user_data for m in self._markers)


def _user_data_text(instance: Any) -> str:
    import base64

    raw = getattr(instance, "user_data", None)
    if not raw:
        return ""
    try:
        return base64.b64decode(str(raw)).decode("utf-8", "replace")
    except ValueError:
        return str(raw)


def _patch(health: FleetHealth) -> None:
    from moto.ec2.models import elastic_block_store, launch_templates
    from moto.ec2.utils import parse_user_data
    from moto.elbv2 import models as elbv2_models
    from moto.ec2.responses import launch_templates as lt_responses

    # Gap 1: a launch template's root device mapping without VolumeSize makes moto's
    # CreateAutoScalingGroup (its first launch) fail with "MissingParameter
    # size/snapshot". EC2 takes the size from the AMI's snapshot. Here: the size of the
    # snapshot moto made for every AMI when no size and no snapshot are given.
    original_create_volume = elastic_block_store.EBSBackend.create_volume

    def create_volume(self: Any, size: Any = None, *args: Any, **kwargs: Any) -> Any:
        if size is None and not kwargs.get("snapshot_id"):
            size = 8  # Flatcar's images have an 8 GiB root snapshot
        return original_create_volume(self, size, *args, **kwargs)

    elastic_block_store.EBSBackend.create_volume = create_volume

    # Gap 2: CreateLaunchTemplateVersion stores UserData as the raw base64 text, not
    # decoded like CreateLaunchTemplate does, and every launch from version 2 on then
    # fails with HTTP 500. EC2 treats both calls' UserData alike (base64).
    original_create_version = launch_templates.LaunchTemplate.create_version

    def create_version(self: Any, data: dict[str, Any], description: str) -> Any:
        if isinstance(data.get("UserData"), str):
            data = dict(data, UserData=parse_user_data(data["UserData"]))
        return original_create_version(self, data, description)

    launch_templates.LaunchTemplate.create_version = create_version

    # Gap 3: CreateLaunchTemplate copies the template's own tags (TagSpecification of
    # resource type launch-template) into the template data's TagSpecifications, so
    # the data reads back with an extra entry and every plan shows a diff. In EC2 those
    # tags tag the template only.
    original_create_lt = lt_responses.LaunchTemplates.create_launch_template

    def create_launch_template(self: Any) -> Any:
        own = self._parse_tag_specification()
        result = original_create_lt(self)
        template = self.ec2_backend.get_launch_template_by_name(
            self._get_param("LaunchTemplateName")
        )
        if own:
            for v in template.versions:
                specs = v.data.get("TagSpecifications") or []
                v.data["TagSpecifications"] = [
                    s for s in specs if s.get("ResourceType") != "launch-template"
                ]
        return result

    lt_responses.LaunchTemplates.create_launch_template = create_launch_template

    # Gap 7: a launch template's tags are a snapshot taken at creation, so CreateTags
    # on it (how the provider changes them) never shows in DescribeLaunchTemplates and
    # the next plan wants the same tags again. EC2 returns the template's current tags.
    launch_templates.LaunchTemplate.tags = property(  # type: ignore[assignment]
        lambda self: self.get_tags(), lambda self, value: None
    )

    # Gap 5: an instance launched from a launch template gets the template's
    # NetworkInterfaces[0].Groups only if the launch names them itself; an Auto Scaling
    # group's launches do not, so its instances land in the VPC's default group. EC2
    # attaches the template's interface groups.
    from moto.ec2.models import instances

    original_run_instances = instances.InstanceBackend.run_instances

    def run_instances(self: Any, *args: Any, **kwargs: Any) -> Any:
        if kwargs.get("launch_template") and not kwargs.get("security_group_ids"):
            data = self._get_template_from_args(kwargs["launch_template"]).data
            for nic in data.get("NetworkInterfaces") or []:
                if int(nic.get("DeviceIndex", 0)) == 0 and nic.get("Groups"):
                    kwargs["security_group_ids"] = list(nic["Groups"])
        return original_run_instances(self, *args, **kwargs)

    instances.InstanceBackend.run_instances = run_instances

    # Gap 6: PutScalingPolicy ignores Enabled and DescribePolicies returns none, which
    # the provider reads as false; and it returns an empty PredictiveScalingConfiguration
    # for a target tracking policy, which the provider reads as one block. Either makes
    # every plan want to update the policy. AWS returns Enabled (true unless the call
    # disabled the policy, which the module never does) and no predictive configuration.
    from moto.autoscaling import models as autoscaling_models

    original_policy_init = autoscaling_models.FakeScalingPolicy.__init__

    def policy_init(self: Any, *args: Any, **kwargs: Any) -> None:
        original_policy_init(self, *args, **kwargs)
        self.enabled = True
        if not self.predictive_scaling_configuration:
            self.predictive_scaling_configuration = None

    autoscaling_models.FakeScalingPolicy.__init__ = policy_init

    # Gap 8: scaling policies are keyed by name alone, across groups: a rollout's new
    # group gets a policy of the same name, which replaces the old group's entry, and
    # the old group's DeletePolicy then deletes the new one. In AWS a policy name is
    # unique per group, and DeletePolicy names the group.
    from moto.autoscaling import responses as autoscaling_responses

    original_put_policy = autoscaling_models.AutoScalingBackend.put_scaling_policy

    def put_scaling_policy(self: Any, *args: Any, **kwargs: Any) -> Any:
        policy = original_put_policy(self, *args, **kwargs)
        self.policies.pop(policy.name, None)
        self.policies[(policy.auto_scaling_group_name, policy.name)] = policy
        return policy

    autoscaling_models.AutoScalingBackend.put_scaling_policy = put_scaling_policy

    def delete_policy(self: Any) -> Any:
        from moto.core.responses import EmptyResult

        key = (self._get_param("AutoScalingGroupName"), self._get_param("PolicyName"))
        self.autoscaling_backend.policies.pop(key, None)
        return EmptyResult()

    autoscaling_responses.AutoScalingResponse.delete_policy = delete_policy

    # Gap 9: CreateAutoScalingGroup with the name of a group that exists replaces that
    # group in moto's table (its instances orphaned). AWS refuses the call with
    # AlreadyExists ("You already have an Auto Scaling group or launch configuration
    # with this name", CreateAutoScalingGroup's API reference) and changes nothing: a
    # module that asks again for the name of a group still running (a failed rollout's
    # deposed or tainted group) fails there.
    from moto.autoscaling.exceptions import AutoscalingClientError

    class AlreadyExists(AutoscalingClientError):
        code = "AlreadyExists"

    # moto finds an error's service (and its HTTP status, 400) by the class's module.
    AlreadyExists.__module__ = AutoscalingClientError.__module__

    original_create_group = autoscaling_models.AutoScalingBackend.create_auto_scaling_group

    def create_auto_scaling_group(self: Any, name: str, *args: Any, **kwargs: Any) -> Any:
        if name in self.autoscaling_groups:
            raise AlreadyExists(f"AutoScalingGroup by this name already exists - A group with the name {name} already exists")
        return original_create_group(self, name, *args, **kwargs)

    autoscaling_models.AutoScalingBackend.create_auto_scaling_group = create_auto_scaling_group

    # Gap 10: CreateAutoScalingGroup and UpdateAutoScalingGroup ignore
    # InstanceMaintenancePolicy, and DescribeAutoScalingGroups returns none, so every plan
    # wants to set it again. AWS keeps it and returns it.
    original_create_response = autoscaling_responses.AutoScalingResponse.create_auto_scaling_group
    original_update_response = autoscaling_responses.AutoScalingResponse.update_auto_scaling_group

    def keep_maintenance_policy(self: Any) -> None:
        policy = self._get_params().get("InstanceMaintenancePolicy")
        group = self.autoscaling_backend.autoscaling_groups.get(self._get_param("AutoScalingGroupName"))
        if policy is not None and group is not None:
            group.instance_maintenance_policy = {k: int(v) for k, v in policy.items()}

    def create_group_response(self: Any) -> Any:
        result = original_create_response(self)
        keep_maintenance_policy(self)
        return result

    def update_group_response(self: Any) -> Any:
        result = original_update_response(self)
        keep_maintenance_policy(self)
        return result

    autoscaling_responses.AutoScalingResponse.create_auto_scaling_group = create_group_response
    autoscaling_responses.AutoScalingResponse.update_auto_scaling_group = update_group_response

    # The health control (not a gap of moto's API, a missing behaviour: no health checks).
    original_health_for = elbv2_models.FakeTargetGroup.health_for

    def health_for(self: Any, target: dict[str, Any], ec2_backend: Any) -> Any:
        status = original_health_for(self, target, ec2_backend)
        if status.status == "healthy":
            instance = ec2_backend.get_instance_by_id(target["Id"])
            if instance is not None and health.is_unhealthy(_user_data_text(instance)):
                return elbv2_models.FakeHealthStatus(
                    target["Id"],
                    status.port,
                    self.health_check_port,
                    "unhealthy",
                    "Target.ResponseCodeMismatch",
                    "Health checks failed with these codes: [503]",
                )
        return status

    elbv2_models.FakeTargetGroup.health_for = health_for

    # Gap 4: rules that reference another security group read back without their
    # description (moto keeps it with the referenced group, and describes only the CIDR
    # one), so every plan wants to set it again. EC2 returns it for either kind.
    from moto.ec2.models.security_groups import SecurityGroupRule

    SecurityGroupRule.description = property(  # type: ignore[assignment]
        lambda self: self.ip_range.get("Description")
        or self.source_group.get("Description")
    )


ACCOUNT = "123456789012"  # moto's default account


def _port_allowed(rules: list[Any], port: int, peer_groups: set[str]) -> bool:
    for rule in rules:
        if rule.ip_protocol not in ("tcp", "-1"):
            continue
        if rule.ip_protocol == "tcp" and not (rule.from_port <= port <= rule.to_port):
            continue
        if rule.source_group.get("GroupId") in peer_groups:
            return True
        if rule.ip_range.get("CidrIp") == "0.0.0.0/0":
            return True
    return False


def serving(region: str) -> dict[str, Any]:
    """What clients of each listener reach now, as the ALB would route them.

    For every listener that forwards: the targets of its target group that are
    healthy and whose port the security groups open both ways (ALB group egress to
    the instance, instance group ingress from the ALB), grouped by Auto Scaling group.
    Returns {"listener port": {"group name": [instance ids]}}.
    """
    from moto.autoscaling.models import autoscaling_backends
    from moto.ec2.models import ec2_backends
    from moto.elbv2.models import elbv2_backends

    ec2 = ec2_backends[ACCOUNT][region]
    elbv2 = elbv2_backends[ACCOUNT][region]
    group_of = {}
    for group in autoscaling_backends[ACCOUNT][region].autoscaling_groups.values():
        for state in group.instance_states:
            group_of[state.instance.id] = group.name
    out: dict[str, Any] = {}
    for lb in list(elbv2.load_balancers.values()):
        lb_groups = set(lb.security_groups)
        lb_rules = [r for g in lb_groups for r in ec2.groups[lb.vpc_id][g].egress_rules]
        for listener in list(lb.listeners.values()):
            reached: dict[str, list[str]] = {}
            for action in listener.default_actions:
                if action.type != "forward":
                    continue
                tg = elbv2.target_groups.get(action.data.get("TargetGroupArn"))
                if tg is None:
                    continue
                for target in list(tg.targets.values()):
                    if tg.health_for(target, ec2).status != "healthy":
                        continue
                    instance = ec2.get_instance_by_id(target["Id"])
                    # moto leaves a terminated group's instances registered (and
                    # "healthy"); AWS deregisters them first. Either way they serve no one.
                    if instance is None or instance.state != "running":
                        continue
                    sg_ids = {g.id for g in instance.security_groups}
                    for nic in instance.nics.values():
                        sg_ids |= {g.id for g in nic.group_set}
                    port = int(target["Port"])
                    in_rules = [r for g in sg_ids for r in ec2.groups[lb.vpc_id][g].ingress_rules]
                    if _port_allowed(lb_rules, port, sg_ids) and _port_allowed(in_rules, port, lb_groups):
                        reached.setdefault(group_of.get(target["Id"], "?"), []).append(target["Id"])
            out[str(listener.port)] = reached
    return out


class ServingMonitor:
    """After every call that changes something, records what the listeners serve.

    This is the client's view during an apply: a roll is safe when the number of
    instances serving never drops below the fleet's size at any point between calls.
    """

    def __init__(self, region: str) -> None:
        self.region = region
        self._lock = threading.Lock()
        self.samples: list[tuple[str, dict[str, Any]]] = []

    def reset(self) -> None:
        with self._lock:
            self.samples = []

    def record(self, action: str) -> None:
        with self._lock:
            self.samples.append((action, serving(self.region)))

    def wrap(self, app: Any) -> Any:
        import io
        from urllib.parse import parse_qs

        def middleware(environ: dict[str, Any], start_response: Any) -> Any:
            length = int(environ.get("CONTENT_LENGTH") or 0)
            body = environ["wsgi.input"].read(length) if length else b""
            environ["wsgi.input"] = io.BytesIO(body)
            action = (parse_qs(body.decode("utf-8", "replace")).get("Action") or [""])[0]
            result = list(app(environ, start_response))
            if action and not action.startswith(("Describe", "Get", "List")):
                self.record(action)
            return result

        return middleware


class Emulator:
    """moto's server on 127.0.0.1 at a free port, in a thread of this process."""

    def __init__(self, region: str) -> None:
        found = version("moto")
        if found != MOTO_VERSION:
            raise SystemExit(
                f"moto {found} installed; the converge's patches are for {MOTO_VERSION}"
            )
        self.health = FleetHealth()
        _patch(self.health)
        from moto.moto_server.threaded_moto_server import ThreadedMotoServer
        from moto.moto_server.werkzeug_app import (
            DomainDispatcherApplication,
            MotoRequestHandler,
            create_backend_app,
        )
        from werkzeug.serving import make_server

        self.monitor = ServingMonitor(region)
        monitor = self.monitor

        class MonitoredServer(ThreadedMotoServer):
            # ThreadedMotoServer._server_entry, with the monitor around the app.
            def _server_entry(self) -> None:
                app = monitor.wrap(DomainDispatcherApplication(create_backend_app))
                self._server = make_server(
                    self._ip_address, self._port, app, True, request_handler=MotoRequestHandler
                )
                self._server_ready_event.set()
                self._server.serve_forever()

        self._server = MonitoredServer(ip_address="127.0.0.1", port=0, verbose=False)
        # One line per request from werkzeug's dev server would bury the journey.
        import logging

        logging.getLogger("werkzeug").setLevel(logging.ERROR)

    def start(self) -> str:
        self._server.start()
        host, port = self._server.get_host_and_port()
        return f"http://{host}:{port}"

    def stop(self) -> None:
        self._server.stop()
