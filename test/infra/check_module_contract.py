"""The module's contract, checked without Terraform:

- every reference (var., local., resource, data., module.x.y) resolves to a declaration,
  in the module, the fixture and the test helper module;
- every variable has a description and a type, every output a description, and the
  variables that can be wrong in a way that would fail late have a validation (two of
  them are exercised: app_version and name_prefix accept and refuse what they promise);
- the fixture passes every required variable of the module and nothing it does not
  declare; kitchen.yml passes every required variable of the fixture;
- every output that kitchen.yml, the InSpec profile and the terraform test use exists,
  every input the controls read is declared, every control kitchen.yml selects exists;
- the rollout is wired as documented: the launch template is built from local.instance
  alone, whose holder (terraform_data) replaces the Auto Scaling group when it changes;
  the group is named by AWS (name_prefix), created before the old group is destroyed,
  waits for ELB capacity on creation only, and leaves its size to scaling;
- the names other checks rely on exist: the variables the rehearsal reads, and the
  template's variables match local.cloud_config_vars, whose expressions
  test/lib/cloudconfig.py can evaluate.

Run: python3 test/infra/check_module_contract.py (from the venv: test/lib/venv.sh).
"""

from __future__ import annotations

import re
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parents[1]
sys.path.insert(0, str(ROOT / "test" / "lib"))

import cloudconfig  # noqa: E402
import tfconfig as tf  # noqa: E402

MODULE_DIR = ROOT / "terraform"
FIXTURE_DIR = ROOT / "test" / "fixtures" / "wrapper"
KITCHEN_YML = ROOT / "kitchen.yml"
PROFILE_DIR = ROOT / "test" / "integration" / "default"

META_ARGUMENTS = {"source", "version", "providers", "depends_on", "count", "for_each"}

# Variables whose bad values would only fail at apply time (or worse, at runtime):
# each must have a validation block.
PROMISED_VALIDATIONS = [
    "app_version", "image", "name_prefix", "vpc_id", "instance_subnet_ids", "lb_subnet_ids",
    "allowed_client_cidrs", "app_port", "min_size", "max_size", "desired_capacity",
    "health_check_interval", "health_check_timeout", "health_check_healthy_threshold",
    "health_check_unhealthy_threshold", "deregistration_delay", "health_failure_rate",
    "shutdown_timeout", "ami_id", "wait_for_capacity_timeout", "desync_mitigation_mode",
]

# Read by the rollout rehearsal (test/rehearsal/module.py), with their defaults.
REHEARSAL_VARIABLES = [
    "app_port", "health_check_path", "health_check_interval", "health_check_timeout",
    "health_check_healthy_threshold", "health_check_unhealthy_threshold", "deregistration_delay",
]

# Values each regex validation must accept and refuse.
REGEX_CASES = {
    "app_version": (
        ["v1", "0.1.0", "3f97376", "release_2026-11.1", "a" * 64],
        ["", "-v1", ".v1", "a" * 65, "v1:2", "v1/2", "v 1", "v1+build"],
    ),
    "name_prefix": (
        ["micro-service", "ab", "a" * 24, "svc-2"],
        ["", "a", "Micro", "svc-", "-svc", "2svc", "a" * 25, "svc_a"],
    ),
}


class Report:
    """Prints one line per check; collects the failures."""

    def __init__(self):
        self.failures: list[str] = []

    def check(self, what: str, problems: list[str]) -> None:
        print(f"  {'ok  ' if not problems else 'FAIL'} {what}")
        for p in problems:
            print(f"         - {p}")
        self.failures.extend(f"{what}: {p}" for p in problems)


def rel(path: Path) -> str:
    try:
        return str(path.relative_to(ROOT))
    except ValueError:
        return str(path)


# ---- References ---------------------------------------------------------------------------

def reference_count(mod: tf.Module) -> int:
    return sum(
        len(tf.references(doc, kind, tf.dynamic_labels(doc)))
        for doc in mod.blocks
        for kind in ("var", "local", "resource", "data", "module")
    )


def unresolved_references(mod: tf.Module) -> list[str]:
    """References in a module that do not resolve to a declaration of that module."""
    problems = []
    children = {name: child_module(mod, name) for name in mod.modules}
    for file, doc in zip(mod.files, mod.blocks):
        ignore = tf.dynamic_labels(doc)
        where = rel(file)
        for (name,) in tf.references(doc, "var"):
            if name not in mod.variables:
                problems.append(f"{where}: var.{name} is not declared")
        for (name,) in tf.references(doc, "local"):
            if name not in mod.locals:
                problems.append(f"{where}: local.{name} is not defined")
        for rtype, name in tf.references(doc, "resource", ignore):
            if (rtype, name) not in mod.resources:
                problems.append(f"{where}: {rtype}.{name} is not a resource of this module")
        for dtype, name in tf.references(doc, "data"):
            if (dtype, name) not in mod.data:
                problems.append(f"{where}: data.{dtype}.{name} is not a data source of this module")
        for ref in tf.references(doc, "module"):
            name = ref[0]
            if name not in mod.modules:
                problems.append(f"{where}: module.{name} is not called here")
            elif len(ref) > 1 and children[name] is not None and ref[1] not in children[name].outputs:
                problems.append(f"{where}: module.{name}.{ref[1]} is not an output of {rel(children[name].path)}")
    return problems


def child_module(mod: tf.Module, name: str) -> tf.Module | None:
    """The called module, when its source is a local path."""
    source = tf.unwrap(mod.modules[name].get("source"))
    if isinstance(source, str) and source.startswith("."):
        return tf.load_module((mod.path / source).resolve())
    return None


def module_call_problems(parent: tf.Module, name: str, child: tf.Module) -> list[str]:
    call = parent.modules[name]
    passed = {k for k in call if not k.startswith("__")} - META_ARGUMENTS
    problems = [
        f"module.{name} does not pass required variable {v}"
        for v in sorted(child.required_variables() - passed)
    ]
    problems += [
        f"module.{name} passes {v}, which {rel(child.path)} does not declare"
        for v in sorted(passed - set(child.variables))
    ]
    return problems


def documentation_problems(mod: tf.Module) -> list[str]:
    problems = []
    for name, body in mod.variables.items():
        for key in ("description", "type"):
            if key not in body:
                problems.append(f"variable {name} has no {key}")
    for name, body in mod.outputs.items():
        if "description" not in body:
            problems.append(f"output {name} has no description")
    return problems


def readme_problems(mod: tf.Module, readme: Path) -> list[str]:
    """Every variable has a row in the README's inputs table, with its default; every
    output a row in the outputs table."""
    import json

    rows = {}
    for line in readme.read_text().splitlines():
        m = re.match(r"^\|\s*`([A-Za-z0-9_]+)`\s*\|(.*)\|\s*$", line)
        if m:
            rows.setdefault(m.group(1), []).append(m.group(2))
    problems = []
    for name, body in mod.variables.items():
        expected = "required" if "default" not in body else f"`{json.dumps(tf.unwrap(body['default']))}`"
        if not any(cells.rstrip().endswith(expected) for cells in rows.get(name, [])):
            problems.append(f"{rel(readme)}: no inputs row for {name} ending in its default {expected}")
    problems += [f"{rel(readme)}: no outputs row for {name}" for name in mod.outputs if name not in rows]
    return problems


# ---- Validations --------------------------------------------------------------------------

def validation_problems(mod: tf.Module, promised: list[str]) -> list[str]:
    problems = []
    for name in promised:
        body = mod.variables.get(name)
        if body is None:
            problems.append(f"variable {name} is not declared")
        elif not body.get("validation"):
            problems.append(f"variable {name} has no validation block")
    return problems


def validation_regex(mod: tf.Module, name: str) -> str | None:
    """The pattern of a `can(regex("...", var.name))` validation condition."""
    for validation in mod.variables.get(name, {}).get("validation", []):
        condition = tf.unwrap(validation.get("condition"))
        m = re.search(r'regex\("((?:[^"\\]|\\.)*)",\s*var\.' + re.escape(name) + r"\)", condition or "")
        if m:
            return m.group(1).replace("\\\\", "\\")
    return None


def regex_behaviour_problems(mod: tf.Module, cases: dict) -> list[str]:
    problems = []
    for name, (good, bad) in cases.items():
        pattern = validation_regex(mod, name)
        if pattern is None:
            problems.append(f"variable {name} has no can(regex(...)) validation to exercise")
            continue
        for value in good:
            if not re.search(pattern, value):
                problems.append(f"{name}: the validation refuses the valid value {value!r}")
        for value in bad:
            if re.search(pattern, value):
                problems.append(f"{name}: the validation accepts the invalid value {value!r}")
    return problems


# ---- The rollout and the user data ----------------------------------------------------------

def only(mod: tf.Module, rtype: str):
    found = [(name, body) for (t, name), body in mod.resources.items() if t == rtype]
    return found[0] if len(found) == 1 else (None, None)


def text_of(body: dict, key: str) -> str:
    value = tf.unwrap(body.get(key))
    return value if isinstance(value, str) else repr(value)


def rollout_problems(mod: tf.Module) -> list[str]:
    problems = []
    lt_name, lt = only(mod, "aws_launch_template")
    asg_name, asg = only(mod, "aws_autoscaling_group")
    if lt is None or asg is None:
        return ["the module must have exactly one aws_launch_template and one aws_autoscaling_group"]
    latest = f"aws_launch_template.{lt_name}.latest_version"

    # What makes an instance is one value, local.instance: the launch template is built
    # from it and nothing else, and its holder (terraform_data) replaces the group when
    # it changes. The group's name comes from AWS (name_prefix), so a replacement never
    # asks for the name of a group that still exists.
    instance = mod.locals.get("instance")
    if not isinstance(instance, dict):
        return problems + ["local.instance (what makes an instance) must be an object"]
    if asg.get("name") is not None or asg.get("name_prefix") is None:
        problems.append("the Auto Scaling group must take name_prefix, not name: a fixed or derived name collides with the group a failed rollout leaves")
    for needed in ("local.user_data", "data.aws_ami."):
        if needed not in str(instance):
            problems.append(f"local.instance must include {needed}, so that a change of it rolls the fleet")
    if "var.tags" in str(instance) or "local.launch_tags" in str(instance):
        problems.append("local.instance must not include tags: a tag change needs no new instance")
    holders = [n for (t, n), body in mod.resources.items() if t == "terraform_data" and text_of(body, "input") == "${local.instance}"]
    lifecycle_block = tf.unwrap(asg.get("lifecycle", [{}])) or {}
    triggers = str(tf.unwrap(lifecycle_block.get("replace_triggered_by")))
    if not any(f"terraform_data.{n}" in triggers for n in holders):
        problems.append("the group's replace_triggered_by must name the terraform_data whose input is local.instance")
    problems += template_source_problems(lt)
    lifecycle = tf.unwrap(asg.get("lifecycle", [{}])) or {}
    if tf.unwrap(lifecycle.get("create_before_destroy")) is not True:
        problems.append("the Auto Scaling group needs lifecycle { create_before_destroy = true }")
    template = tf.unwrap(asg.get("launch_template")) or {}
    if latest not in text_of(template, "version"):
        problems.append(f"the Auto Scaling group must launch {latest}, not {text_of(template, 'version')}")
    # The wait must cover the whole group the rollout starts (at the running group's
    # size), on creation only: wait_for_elb_capacity would also wait on every in-place
    # update, for exactly its count, which a scale event breaks.
    if asg.get("min_elb_capacity") is None or text_of(asg, "min_elb_capacity") != text_of(asg, "desired_capacity"):
        problems.append("min_elb_capacity must be the group's desired_capacity, so that apply waits for the whole new fleet")
    if asg.get("wait_for_elb_capacity") is not None:
        problems.append("wait_for_elb_capacity waits for an exact count on every update: use min_elb_capacity")
    if "desired_capacity" not in str(tf.unwrap(lifecycle_block.get("ignore_changes"))):
        problems.append("the group must ignore changes of desired_capacity: scaling owns the size between rollouts")
    if text_of(asg, "health_check_type") != "ELB":
        problems.append("health_check_type must be ELB, so that instances the ALB finds unhealthy are replaced")
    if "aws_lb_target_group." not in text_of(asg, "target_group_arns"):
        problems.append("the Auto Scaling group must register its instances with the target group")

    user_data = text_of(lt, "user_data")
    if user_data == "${local.instance.user_data}":
        user_data = str(instance.get("user_data", ""))
    if user_data == "${local.user_data}":
        user_data = str(mod.locals.get("user_data", ""))
    if "templates/cloud-config.yaml.tftpl" not in user_data or f"local.{cloudconfig.VALUES_LOCAL}" not in user_data:
        problems.append(f"user_data must be templatefile(.../templates/cloud-config.yaml.tftpl, local.{cloudconfig.VALUES_LOCAL})")
    values = mod.locals.get(cloudconfig.VALUES_LOCAL)
    if not isinstance(values, dict) or values.get("app_version") != "${var.app_version}":
        problems.append(f"local.{cloudconfig.VALUES_LOCAL}.app_version must be var.app_version")
    return problems


# Arguments of the launch template that are not what an instance is: its own name and
# description, how versions work, and tags (which must not roll the fleet).
TEMPLATE_OWN = {"name_prefix", "description", "update_default_version", "tags", "tag_specifications", "lifecycle"}


def template_source_problems(lt: dict) -> list[str]:
    """Every value of the launch template that describes an instance reads local.instance:
    a literal or another reference there would change instances without a rollout."""
    problems = []

    def walk(where: str, value) -> None:
        value = tf.unwrap(value)
        if isinstance(value, dict):
            for key, inner in value.items():
                if not str(key).startswith("__"):
                    walk(f"{where}.{key}", inner)
        elif isinstance(value, list):
            for inner in value:
                walk(where, inner)
        elif where.endswith(".arn") and "iam_instance_profile" in where and value == "${iam_instance_profile.value}":
            pass  # the dynamic block's iterator, over local.instance.iam_instance_profile_arn
        elif not (isinstance(value, str) and value.startswith("${local.instance.") or isinstance(value, str) and "local.instance." in value and where.endswith("for_each")):
            problems.append(f"launch template {where[1:]} = {value!r} must come from local.instance, or a change of it would not roll the fleet")

    for key, value in lt.items():
        if key not in TEMPLATE_OWN and not key.startswith("__"):
            walk(f".{key}", value)
    return problems


def template_values_problems(mod: tf.Module, template_text: str) -> list[str]:
    values = mod.locals.get(cloudconfig.VALUES_LOCAL)
    if not isinstance(values, dict):
        return [f"local.{cloudconfig.VALUES_LOCAL} is not a map"]
    names = cloudconfig.template_names(template_text)
    problems = [f"the template uses {n}, which local.{cloudconfig.VALUES_LOCAL} does not set" for n in sorted(names - set(values))]
    problems += [f"local.{cloudconfig.VALUES_LOCAL} sets {n}, which the template never uses" for n in sorted(set(values) - names)]
    variables = {**mod.defaults(), **{n: f"<{n}>" for n in mod.required_variables()}}
    for key, expr in values.items():
        try:
            cloudconfig.evaluate(expr, variables, mod.locals)
        except cloudconfig.TemplateError as e:
            problems.append(f"{key}: {e}")
    return problems


def wiring_problems(mod: tf.Module) -> list[str]:
    """The variables the rehearsal reads are the ones the target group uses."""
    problems = [f"variable {n} is not declared with a default" for n in REHEARSAL_VARIABLES if n not in mod.defaults()]
    _, tg = only(mod, "aws_lb_target_group")
    if tg is None:
        return problems + ["the module must have exactly one aws_lb_target_group"]
    health = tf.unwrap(tg.get("health_check")) or {}
    expected = [
        ("port", tg, "var.app_port"),
        ("deregistration_delay", tg, "var.deregistration_delay"),
        ("path", health, "var.health_check_path"),
        ("interval", health, "var.health_check_interval"),
        ("timeout", health, "var.health_check_timeout"),
        ("healthy_threshold", health, "var.health_check_healthy_threshold"),
        ("unhealthy_threshold", health, "var.health_check_unhealthy_threshold"),
    ]
    for key, body, ref in expected:
        if text_of(body, key) != "${" + ref + "}":
            problems.append(f"target group {key} must be {ref}, is {text_of(body, key)}")
    return problems


def hardening_problems(mod: tf.Module) -> list[str]:
    problems = []
    # The launch template reads these from local.instance (template_source_problems).
    instance = mod.locals.get("instance") if isinstance(mod.locals.get("instance"), dict) else {}
    meta = instance.get("metadata_options") or {}
    if meta.get("http_tokens") != "required" or meta.get("http_put_response_hop_limit") != 1:
        problems.append("the launch template must require IMDSv2 tokens with a hop limit of 1")
    if (instance.get("root_volume") or {}).get("encrypted") is not True:
        problems.append("the root volume must be encrypted")
    if mod.defaults().get("associate_public_ip_address") is not False:
        problems.append("associate_public_ip_address must default to false")
    _, lb = only(mod, "aws_lb")
    if tf.unwrap((lb or {}).get("drop_invalid_header_fields")) is not True:
        problems.append("the ALB must drop invalid header fields")
    if mod.defaults().get("desync_mitigation_mode") not in ("defensive", "strictest"):
        problems.append("desync_mitigation_mode must default to defensive or strictest")
    for (rtype, name), body in mod.resources.items():
        if rtype.startswith("aws_vpc_security_group_") and rtype.endswith("_rule") and not body.get("description"):
            problems.append(f"{rtype}.{name} has no description")
    return problems


def ami_problems(mod: tf.Module) -> list[str]:
    problems = []
    if "075585003325" not in (mod.defaults().get("ami_owners") or []):
        problems.append("ami_owners must default to Flatcar's publisher, 075585003325")
    ami = mod.data.get(("aws_ami", "flatcar"))
    if ami is None:
        return problems + ["data.aws_ami.flatcar is missing"]
    if "var.ami_owners" not in text_of(ami, "owners"):
        problems.append("data.aws_ami.flatcar must be limited to var.ami_owners")
    lookups = str(mod.locals.get("ami_filters"))
    for needed in ("Flatcar-${var.flatcar_channel}-*", "architecture", "var.architecture"):
        if needed not in lookups:
            problems.append(f"local.ami_filters must filter on {needed}")
    return problems


# ---- Kitchen, InSpec and terraform test ------------------------------------------------------

def profile_controls(profile_dir: Path) -> tuple[set[str], set[str]]:
    """Control names and input() names of an InSpec profile."""
    controls, inputs = set(), set()
    for rb in sorted((profile_dir / "controls").glob("*.rb")):
        text = rb.read_text()
        controls |= set(re.findall(r"^\s*control\s+'([^']+)'", text, re.M))
        inputs |= set(re.findall(r"\binput\(\s*'([^']+)'", text))
    return controls, inputs


def kitchen_problems(kitchen_yml: Path, fixture: tf.Module, profile_dir: Path) -> list[str]:
    import yaml

    problems = []
    conf = yaml.safe_load(kitchen_yml.read_text())
    root_dir = (conf.get("transport") or {}).get("root_module_directory")
    if not root_dir or (ROOT / root_dir).resolve() != fixture.path.resolve():
        problems.append(f"transport.root_module_directory is {root_dir!r}, not the fixture {rel(fixture.path)}")
    passed = set(((conf.get("driver") or {}).get("variables") or {}))
    problems += [f"driver.variables does not set the fixture's required variable {v}" for v in sorted(fixture.required_variables() - passed)]
    problems += [f"driver.variables sets {v}, which the fixture does not declare" for v in sorted(passed - set(fixture.variables))]

    import yaml as _yaml

    profile = _yaml.safe_load((profile_dir / "inspec.yml").read_text())
    declared_inputs = {i["name"] for i in profile.get("inputs", [])}
    required_inputs = {i["name"] for i in profile.get("inputs", []) if i.get("required")}
    controls, used_inputs = profile_controls(profile_dir)
    problems += [f"the controls read input {i!r}, which inspec.yml does not declare" for i in sorted(used_inputs - declared_inputs)]

    systems = (conf.get("verifier") or {}).get("systems") or []
    if not systems:
        problems.append("verifier.systems is empty")
    for system in systems:
        mapping = system.get("attrs_outputs") or {}
        for inp, out in mapping.items():
            if out not in fixture.outputs:
                problems.append(f"system {system.get('name')!r}: output {out!r} does not exist in the fixture")
            if inp not in declared_inputs:
                problems.append(f"system {system.get('name')!r}: input {inp!r} is not declared in inspec.yml")
        # kitchen-terraform also passes every output under its own name.
        provided = set(mapping) | set(fixture.outputs)
        problems += [f"system {system.get('name')!r} provides no value for required input {i!r}" for i in sorted(required_inputs - provided)]
        problems += [f"system {system.get('name')!r} selects control {c!r}, which the profile does not define" for c in system.get("controls") or [] if c not in controls]
    return problems


def tftest_problems(fixture: tf.Module) -> list[str]:
    """Every *.tftest.hcl of the fixture: helper modules, variables, outputs and run references."""
    problems = []
    files = sorted(fixture.path.glob("*.tftest.hcl")) + sorted((fixture.path / "tests").glob("*.tftest.hcl"))
    if not files:
        return ["the fixture has no *.tftest.hcl file"]
    for file in files:
        doc = tf.parse(file)
        where = rel(file)
        file_vars = set()
        for block in doc.get("variables", []):
            file_vars |= {k for k in block if not k.startswith("__")}
        run_outputs: dict[str, set[str]] = {}
        for run_block in doc.get("run", []):
            for run_name, body in run_block.items():
                module_block = tf.unwrap(body.get("module"))
                if module_block:
                    source = tf.unwrap(module_block.get("source"))
                    target_dir = (fixture.path / source).resolve()
                    if not target_dir.is_dir():
                        problems.append(f"{where}: run {run_name}: module {source} does not exist")
                        continue
                    target = tf.load_module(target_dir)
                else:
                    target = fixture
                passed = set()
                for block in body.get("variables", []):
                    passed |= {k for k in block if not k.startswith("__")}
                problems += [f"{where}: run {run_name} sets {v}, which {rel(target.path)} does not declare" for v in sorted(passed - set(target.variables))]
                missing = target.required_variables() - passed - file_vars
                if target is not fixture:  # the fixture's own required variables come from TF_VAR_*
                    problems += [f"{where}: run {run_name} does not set {v}, required by {rel(target.path)}" for v in sorted(missing)]
                for (name,) in tf.references(body, "output"):
                    if name not in target.outputs:
                        problems.append(f"{where}: run {run_name}: output.{name} does not exist in {rel(target.path)}")
                for dtype, name in tf.references(body, "data"):
                    if (dtype, name) not in target.data:
                        problems.append(f"{where}: run {run_name}: data.{dtype}.{name} does not exist in {rel(target.path)}")
                for earlier, name in tf.references(body, "run"):
                    if earlier not in run_outputs:
                        problems.append(f"{where}: run {run_name} refers to run.{earlier}, which does not come before it")
                    elif name not in run_outputs[earlier]:
                        problems.append(f"{where}: run {run_name}: run.{earlier}.{name} is not an output of that run")
                run_outputs[run_name] = set(target.outputs)
    return problems


EXAMPLES_DIR = MODULE_DIR / "examples"
# The README's usage is examples/complete's module call, with the source a user writes.
README_SOURCE = 'source = "github.com/<you>/micro-service-as-code//terraform"'


def example_problems(readme: Path, example: Path) -> list[str]:
    """The README's usage block shows the module call that terraform.sh validates."""
    text = example.read_text()
    start = text.find('module "micro_service" {')
    if start < 0:
        return [f"{rel(example)} has no module \"micro_service\" call"]
    call = re.sub(r'source = "\.\./\.\."', README_SOURCE, text[start:].strip())
    blocks = re.findall(r"```hcl\n(.*?)```", readme.read_text(), re.S)
    if not any(b.strip() == call for b in blocks):
        return [f"{rel(readme)}: no hcl block equals {rel(example)}'s module call (with {README_SOURCE})"]
    return []


def main() -> int:
    report = Report()
    module = tf.load_module(MODULE_DIR)
    fixture = tf.load_module(FIXTURE_DIR)
    helpers = [tf.load_module(p) for p in sorted((FIXTURE_DIR / "tests").iterdir()) if p.is_dir()]
    parsed = module.files + fixture.files + [f for h in helpers for f in h.files]
    print(f"  ok   {len(parsed)} .tf files parse as HCL2 (python-hcl2): {', '.join(sorted({rel(f.parent) for f in parsed}))}")

    for mod in [module, fixture, *helpers]:
        report.check(f"{rel(mod.path)}: all {reference_count(mod)} distinct references resolve", unresolved_references(mod))
        report.check(f"{rel(mod.path)}: variables and outputs documented", documentation_problems(mod))
    report.check(f"{rel(MODULE_DIR / 'README.md')}: every input (with its default) and output documented",
                 readme_problems(module, MODULE_DIR / "README.md"))
    report.check("fixture passes every required module variable, and only declared ones",
                 module_call_problems(fixture, "service", module))
    report.check(f"validations on the {len(PROMISED_VALIDATIONS)} variables that would fail late",
                 validation_problems(module, PROMISED_VALIDATIONS))
    report.check("app_version and name_prefix validations accept and refuse what they promise",
                 regex_behaviour_problems(module, REGEX_CASES))
    report.check("rollout: app_version -> user data -> local.instance -> its trigger replaces the group (name_prefix), created before destroy; tags apart",
                 rollout_problems(module))
    report.check(f"template variables = local.{cloudconfig.VALUES_LOCAL}, each evaluable by test/lib/cloudconfig.py",
                 template_values_problems(module, cloudconfig.TEMPLATE.read_text()))
    report.check("rehearsal variables exist with defaults and drive the target group",
                 wiring_problems(module))
    report.check("IMDSv2, encrypted root volume, no public IP by default, ALB header hygiene, described rules",
                 hardening_problems(module))
    report.check("AMI lookup: Flatcar's account, channel name pattern, architecture filter", ami_problems(module))
    report.check("kitchen.yml: fixture variables, outputs, InSpec inputs and controls",
                 kitchen_problems(KITCHEN_YML, fixture, PROFILE_DIR))
    report.check("terraform test files: helper modules, variables, outputs, run references", tftest_problems(fixture))
    example = tf.load_module(EXAMPLES_DIR / "complete")
    report.check("examples/complete: calls the module with its required variables, and only declared ones",
                 module_call_problems(example, "micro_service", module))
    report.check("README usage = examples/complete's module call", example_problems(MODULE_DIR / "README.md", EXAMPLES_DIR / "complete" / "main.tf"))

    if report.failures:
        print(f"module contract: {len(report.failures)} problem(s)")
        return 1
    print("module contract: all checks passed")
    return 0


if __name__ == "__main__":
    sys.exit(main())
