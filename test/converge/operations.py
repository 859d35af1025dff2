"""The converge's checks of operating the fleet (terraform/logging.tf, iam.tf, alarms.tf),
read from the emulator through its API as an operator would (boto3): the log group and its
retention, the instances' role allowing exactly the awslogs driver's two calls on that
group, the instance profile the launch template names, and the four alarms on the load
balancer's and target group's dimensions. `snapshot` takes what is there; `checks` says
what must hold, as (holds, what) pairs that converge.py asserts; `survived` compares a
snapshot before a roll with one after it.
"""

from __future__ import annotations

import json
import re
from typing import Any
from urllib.parse import unquote

ALARMS = ("target-5xx-rate", "unhealthy-hosts", "healthy-hosts-below-min", "p99-target-response-time")
ACTIONS = {"logs:CreateLogStream", "logs:PutLogEvents"}


def _client(service: str, url: str, region: str) -> Any:
    import boto3

    return boto3.client(service, region_name=region, endpoint_url=url,
                        aws_access_key_id="converge", aws_secret_access_key="converge")


def _document(policy: Any) -> dict[str, Any]:
    # IAM returns policy documents URL-encoded (boto3 decodes some, not all).
    return policy if isinstance(policy, dict) else json.loads(unquote(policy))


def snapshot(url: str, region: str, name_prefix: str, launch_template_id: str) -> dict[str, Any]:
    logs = _client("logs", url, region)
    iam = _client("iam", url, region)
    ec2 = _client("ec2", url, region)
    cloudwatch = _client("cloudwatch", url, region)
    groups = {g["logGroupName"]: g for g in logs.describe_log_groups(logGroupNamePrefix="/micro-service/")["logGroups"]}
    template = ec2.describe_launch_template_versions(LaunchTemplateId=launch_template_id, Versions=["$Latest"])
    profile_arn = (template["LaunchTemplateVersions"][0]["LaunchTemplateData"].get("IamInstanceProfile") or {}).get("Arn")
    profiles = {p["Arn"]: p for p in iam.list_instance_profiles()["InstanceProfiles"]}
    roles = {}
    for role in iam.list_roles()["Roles"]:
        if role["RoleName"].startswith(f"{name_prefix}-"):
            names = iam.list_role_policies(RoleName=role["RoleName"])["PolicyNames"]
            roles[role["RoleName"]] = {
                "inline": {n: _document(iam.get_role_policy(RoleName=role["RoleName"], PolicyName=n)["PolicyDocument"]) for n in names},
                "attached": iam.list_attached_role_policies(RoleName=role["RoleName"])["AttachedPolicies"],
            }
    alarms = {a["AlarmName"]: a for a in cloudwatch.describe_alarms(AlarmNamePrefix=f"{name_prefix}-")["MetricAlarms"]}
    return {"log_groups": groups, "profile_arn": profile_arn, "profiles": profiles, "roles": roles, "alarms": alarms}


def _dimensions(entries: list[dict[str, str]]) -> dict[str, str]:
    return {d["Name"]: d["Value"] for d in entries}


def checks(snap: dict[str, Any], *, name_prefix: str, user_data: str, lb_suffix: str, tg_suffix: str,
           topic: str, retention: int = 30) -> list[tuple[bool, str]]:
    out = []
    name = f"/micro-service/{name_prefix}"
    group = snap["log_groups"].get(name)
    out.append((group is not None and group.get("retentionInDays") == retention,
                f"log group {name} exists, kept {retention} days: {group and group.get('retentionInDays')}"))
    arn = (group or {}).get("logGroupArn") or re.sub(r":\*$", "", (group or {}).get("arn", ""))
    out.append((f"awslogs-group={name}" in user_data and "awslogs-stream=${COREOS_EC2_INSTANCE_ID}" in user_data,
                "the instances' unit sends its output there, one stream per instance ID"))

    profile = snap["profiles"].get(snap["profile_arn"] or "")
    role_names = [r["RoleName"] for r in (profile or {}).get("Roles", [])]
    out.append((len(role_names) == 1 and role_names[0] in snap["roles"],
                f"the launch template's instance profile {snap['profile_arn']} holds the module's role {role_names}"))
    role = snap["roles"].get(role_names[0] if role_names else "", {"inline": {}, "attached": []})
    statements = [s for doc in role["inline"].values() for s in doc.get("Statement", [])]
    actions = {a for s in statements for a in ([s["Action"]] if isinstance(s["Action"], str) else s["Action"])}
    resources = {r for s in statements for r in ([s["Resource"]] if isinstance(s["Resource"], str) else s["Resource"])}
    out.append((not role["attached"] and all(s.get("Effect") == "Allow" for s in statements)
                and actions == ACTIONS and resources == {arn, f"{arn}:log-stream:*"},
                f"the role allows exactly {sorted(ACTIONS)} on {arn} and its streams, nothing else: {sorted(actions)} on {sorted(resources)}"))

    expected = {"LoadBalancer": lb_suffix, "TargetGroup": tg_suffix}
    for alarm in ALARMS:
        a = snap["alarms"].get(f"{name_prefix}-{alarm}")
        if a is None:
            out.append((False, f"alarm {name_prefix}-{alarm} exists"))
            continue
        if a.get("Metrics"):
            dims = [_dimensions(q["MetricStat"]["Metric"].get("Dimensions", [])) for q in a["Metrics"] if "MetricStat" in q]
        else:
            dims = [_dimensions(a.get("Dimensions", []))]
        out.append((bool(dims) and all(d == expected for d in dims) and a.get("AlarmActions") == [topic],
                    f"alarm {a['AlarmName']} on {dims} notifies {a.get('AlarmActions')}"))
    return out


def survived(before: dict[str, Any], after: dict[str, Any], name_prefix: str) -> list[tuple[bool, str]]:
    name = f"/micro-service/{name_prefix}"
    old, new = before["log_groups"].get(name), after["log_groups"].get(name)
    out = [(old is not None and new is not None and old.get("creationTime") == new.get("creationTime"),
            f"log group {name} survived the roll (created {old and old.get('creationTime')}, still {new and new.get('creationTime')})")]
    out.append((before["profile_arn"] == after["profile_arn"], f"the new group's instances use the same profile {after['profile_arn']}"))
    same = sorted(before["alarms"]) == sorted(after["alarms"]) and all(
        before["alarms"][n].get("Dimensions") == after["alarms"][n].get("Dimensions")
        and before["alarms"][n].get("Metrics") == after["alarms"][n].get("Metrics") for n in before["alarms"])
    out.append((same, f"the same {len(after['alarms'])} alarms on the same dimensions after the roll"))
    return out


def leftovers(url: str, region: str, name_prefix: str) -> list[str]:
    """What of logging.tf, iam.tf and alarms.tf is still in the emulator (after destroy)."""
    logs = _client("logs", url, region)
    iam = _client("iam", url, region)
    cloudwatch = _client("cloudwatch", url, region)
    left = [f"log group {g['logGroupName']}" for g in logs.describe_log_groups(logGroupNamePrefix="/micro-service/")["logGroups"]]
    left += [f"role {r['RoleName']}" for r in iam.list_roles()["Roles"] if r["RoleName"].startswith(f"{name_prefix}-")]
    left += [f"instance profile {p['InstanceProfileName']}" for p in iam.list_instance_profiles()["InstanceProfiles"]
             if p["InstanceProfileName"].startswith(f"{name_prefix}-")]
    left += [f"alarm {a['AlarmName']}" for a in cloudwatch.describe_alarms(AlarmNamePrefix=f"{name_prefix}-")["MetricAlarms"]]
    return left
