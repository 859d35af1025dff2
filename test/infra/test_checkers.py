"""The checkers themselves, on small broken inputs: each must find what is wrong, so that
their "ok" lines on the real module mean something. Run by run.sh:
python3 -m unittest discover -s test/infra -p 'test_*.py'
"""

from __future__ import annotations

import json
import sys
import tempfile
import textwrap
import unittest
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
sys.path.insert(0, str(HERE.parents[1] / "test" / "lib"))

import check_cloud_config as ccc  # noqa: E402
import check_health_math as chm  # noqa: E402
import check_module_contract as cmc  # noqa: E402
import check_terraform_test as ctt  # noqa: E402
import cloudconfig  # noqa: E402
import tfconfig as tf  # noqa: E402


# Every synthetic input lives under one temporary directory, removed after the tests.
_TMP = tempfile.TemporaryDirectory(prefix="infra-selfcheck-")


def tearDownModule():
    _TMP.cleanup()


def scratch() -> Path:
    return Path(tempfile.mkdtemp(dir=_TMP.name))


def module(files: dict[str, str]) -> tf.Module:
    """A module from {file name: HCL text}, in a temporary directory."""
    tmp = scratch()
    for name, text in files.items():
        (tmp / name).parent.mkdir(parents=True, exist_ok=True)
        (tmp / name).write_text(textwrap.dedent(text))
    return tf.load_module(tmp)


class ContractChecker(unittest.TestCase):
    def test_flags_undeclared_and_unknown_references(self):
        mod = module({"main.tf": """
            variable "declared" {
              type = string
            }
            locals {
              known = var.declared
            }
            resource "aws_lb" "real" {
              name     = "${var.undeclared}-${local.known}-${local.unknown}"
              subnets  = [aws_subnet.ghost.id]
              image_id = data.aws_ami.nowhere.id
              dynamic "access_logs" {
                for_each = [1]
                content {
                  bucket = access_logs.value
                }
              }
            }
        """})
        problems = "\n".join(cmc.unresolved_references(mod))
        for expected in ("var.undeclared", "local.unknown", "aws_subnet.ghost", "data.aws_ami.nowhere"):
            self.assertIn(expected, problems)
        self.assertNotIn("local.known", problems)
        self.assertNotIn("access_logs", problems)  # a dynamic block's iterator, not a resource

    def test_flags_missing_required_and_unknown_module_arguments(self):
        child = module({"variables.tf": """
            variable "app_version" {
              type = string
            }
            variable "optional" {
              type    = number
              default = 1
            }
        """})
        parent = module({"main.tf": f"""
            module "service" {{
              source = "{child.path}"
              bogus  = 1
            }}
        """})
        problems = "\n".join(cmc.module_call_problems(parent, "service", child))
        self.assertIn("does not pass required variable app_version", problems)
        self.assertIn("passes bogus", problems)

    def test_flags_missing_validation_and_lax_regex(self):
        mod = module({"variables.tf": """
            variable "app_version" {
              type = string
              validation {
                condition     = can(regex("^.*$", var.app_version))
                error_message = "anything goes"
              }
            }
            variable "min_size" {
              type = number
            }
        """})
        self.assertIn("variable min_size has no validation block", cmc.validation_problems(mod, ["min_size"]))
        lax = "\n".join(cmc.regex_behaviour_problems(mod, {"app_version": cmc.REGEX_CASES["app_version"]}))
        self.assertIn("accepts the invalid value ''", lax)

    def test_flags_a_group_that_a_new_version_would_not_replace(self):
        mod = module({"main.tf": """
            locals {
              cloud_config_vars = { app_version = var.app_version }
              user_data         = base64encode(templatefile("templates/cloud-config.yaml.tftpl", local.cloud_config_vars))
              instance          = { instance_type = "t3.micro", tags = var.tags }
            }
            resource "terraform_data" "instance" {
              input = local.instance
            }
            resource "aws_launch_template" "app" {
              user_data = local.user_data
              metadata_options {
                http_put_response_hop_limit = 1
              }
            }
            resource "aws_autoscaling_group" "app" {
              name = "fixed-name"
              launch_template {
                id      = aws_launch_template.app.id
                version = "$Latest"
              }
              wait_for_elb_capacity = 2
              health_check_type     = "EC2"
            }
        """})
        problems = "\n".join(cmc.rollout_problems(mod))
        self.assertIn("must take name_prefix, not name", problems)
        self.assertIn("local.instance must include local.user_data", problems)
        self.assertIn("local.instance must not include tags", problems)
        self.assertIn("replace_triggered_by must name the terraform_data", problems)
        # A hard-coded field on the template itself would change instances in place.
        self.assertIn("launch template metadata_options.http_put_response_hop_limit = 1 must come from local.instance", problems)
        self.assertIn("launch template user_data = '${local.user_data}' must come from local.instance", problems)
        self.assertIn("create_before_destroy", problems)
        self.assertIn("min_elb_capacity must be the group's desired_capacity", problems)
        self.assertIn("wait_for_elb_capacity waits for an exact count", problems)
        self.assertIn("ignore changes of desired_capacity", problems)
        self.assertIn("health_check_type must be ELB", problems)

    def test_flags_a_readme_usage_that_differs_from_the_example(self):
        with tempfile.TemporaryDirectory() as tmp:
            example, readme = Path(tmp) / "main.tf", Path(tmp) / "README.md"
            example.write_text('provider "aws" {}\n\nmodule "micro_service" {\n  source = "../.."\n\n  image = "public.ecr.aws/a/b"\n}\n')
            shown = 'module "micro_service" {\n  ' + cmc.README_SOURCE + '\n\n  image = "public.ecr.aws/a/b"\n}\n'
            readme.write_text("## Usage\n\n```hcl\n" + shown + "```\n")
            self.assertEqual(cmc.example_problems(readme, example), [])
            readme.write_text("## Usage\n\n```hcl\n" + shown.replace("public.ecr.aws", "docker.io") + "```\n")
            self.assertIn("no hcl block equals", "\n".join(cmc.example_problems(readme, example)))

    def test_flags_readme_rows_missing_or_with_a_stale_default(self):
        mod = module({"main.tf": """
            variable "interval" {
              type    = number
              default = 5
            }
            variable "undocumented" {
              type = string
            }
            output "url" {
              value = "x"
            }
        """})
        readme = scratch() / "README.md"
        readme.write_text("| name | d | t | default |\n|---|---|---|---|\n| `interval` | x | `number` | `30` |\n")
        problems = "\n".join(cmc.readme_problems(mod, readme))
        self.assertIn("interval ending in its default `5`", problems)
        self.assertIn("undocumented", problems)
        self.assertIn("no outputs row for url", problems)

    def test_flags_kitchen_outputs_the_fixture_lacks(self):
        fixture = module({"main.tf": """
            variable "app_version" {
              type = string
            }
            output "app_url" {
              value = "x"
            }
        """})
        profile = scratch()
        (profile / "controls").mkdir()
        (profile / "inspec.yml").write_text("inputs:\n  - name: app_url\n    required: true\n")
        (profile / "controls" / "c.rb").write_text("x = input('app_url')\ny = input('undeclared')\ncontrol 'one' do\nend\n")
        kitchen = profile / "kitchen.yml"
        kitchen.write_text(textwrap.dedent(f"""
            driver:
              variables:
                extra: "1"
            transport:
              root_module_directory: {fixture.path}
            verifier:
              systems:
                - name: s
                  attrs_outputs:
                    app_url: no_such_output
                  controls: [one, two]
        """))
        problems = "\n".join(cmc.kitchen_problems(kitchen, fixture, profile))
        for expected in ("required variable app_version", "sets extra", "output 'no_such_output'",
                         "input 'undeclared'", "control 'two'"):
            self.assertIn(expected, problems)


class Renderer(unittest.TestCase):
    def test_renders_like_templatefile(self):
        self.assertEqual(cloudconfig.render({"a": 1.0, "b": "x"}, "${a}-${ b }-$${c}-%%{d}"), "1-x-${c}-%{d}")

    def test_refuses_what_templatefile_would_not_render_the_same_way(self):
        for bad in ("${missing}", "${a + 1}", "%{ if a }x%{ endif }"):
            with self.assertRaises(cloudconfig.TemplateError, msg=bad):
                cloudconfig.render({"a": 1}, bad)

    def test_evaluates_only_simple_sums(self):
        self.assertEqual(cloudconfig.evaluate("${var.a + local.b - 1}", {"a": 5}, {"b": "${var.a}"}), 9)
        for bad in ("${var.a * 2}", "${max(var.a, 1)}", "${var.nope + 1}"):
            with self.assertRaises(cloudconfig.TemplateError, msg=bad):
                cloudconfig.evaluate(bad, {"a": 5}, {})

    def test_evaluates_a_choice_and_strings_with_interpolations(self):
        local_values = {"on": "--a=${var.a}/$${X}\\\\\\n\\\"", "off": "--b", "pick": "${var.f ? local.on : local.off}"}
        self.assertEqual(cloudconfig.evaluate("${local.pick}", {"a": 5, "f": True}, local_values), '--a=5/${X}\\\n"')
        self.assertEqual(cloudconfig.evaluate("${local.pick}", {"a": 5, "f": False}, local_values), "--b")
        for bad in ("${var.a ? 1 : 2}", "${var.f ? max(1) : 2}", "x-${var.a * 2}", "${var.f ? 1 : 2 ? 3 : 4}"):
            with self.assertRaises(cloudconfig.TemplateError, msg=bad):
                cloudconfig.evaluate(bad, {"a": 5, "f": True}, {})


class UnitChecker(unittest.TestCase):
    def real(self, **variables):
        values = ccc.case_values("micro-service-as-code", "local", **variables)
        return cloudconfig.app_unit(cloudconfig.render(values)), values

    def test_the_real_unit_passes(self):
        unit, values = self.real()
        self.assertEqual(ccc.unit_problems(unit, values), [])

    def test_flags_a_weakened_unit(self):
        unit, values = self.real()
        content = unit["content"]
        for old, new in (("--read-only \\", "\\"), ("--stop-timeout 10", "--stop-timeout 3"),
                         ("Restart=always", "Restart=no"), ("-/usr/bin/docker rm", "/usr/bin/docker rm")):
            self.assertIn(old, content)
            content = content.replace(old, new)
        problems = "\n".join(ccc.unit_problems({**unit, "content": content}, values))
        for expected in ("--read-only", "must exceed SHUTDOWN_TIMEOUT", "Restart= must be always", "stale container"):
            self.assertIn(expected, problems)

    def test_flags_logs_that_could_block_or_mix_instances(self):
        unit, values = self.real()
        content = unit["content"]
        for old, new in (("mode=non-blocking", "mode=blocking"), ("max-buffer-size=4m", "max-buffer-size=lots"),
                         ("awslogs-stream=${COREOS_EC2_INSTANCE_ID}", "awslogs-stream=app"),
                         ("EnvironmentFile=-/run/metadata/flatcar", ""), ("--env ACCESS_LOG=json", "--env ACCESS_LOG=on")):
            self.assertIn(old, content)
            content = content.replace(old, new)
        problems = "\n".join(ccc.unit_problems({**unit, "content": content}, values))
        for expected in ("mode=non-blocking", "max-buffer-size", "instance ID", "/run/metadata/flatcar", "ACCESS_LOG=json"):
            self.assertIn(expected, problems)
        unit, values = self.real(cloudwatch_logs=False)
        self.assertEqual(ccc.unit_problems(unit, values), [])
        content = unit["content"].replace("--log-opt max-size=10m", "--log-opt max-file=9")
        self.assertIn("rotation", "\n".join(ccc.unit_problems({**unit, "content": content}, values)))

    def test_flags_a_bare_off_and_an_unmasked_update_engine(self):
        problems = "\n".join(ccc.structure_problems({"coreos": {"update": {"reboot-strategy": False}, "units": []}}))
        self.assertIn("must be the string 'off'", problems)
        self.assertIn("update-engine.service must be stopped and masked", problems)


class HealthMath(unittest.TestCase):
    def test_expected_checks_to_a_run(self):
        self.assertAlmostEqual(chm.checks_until_run(0.1, 2), 110.0)
        self.assertAlmostEqual(chm.checks_until_run(0.5, 1), 2.0)  # geometric: 1/p

    def test_the_issues_example_misses_the_goal(self):
        defaults = {"health_failure_rate": 0.1, "health_check_interval": 30, "health_check_timeout": 5,
                    "health_check_unhealthy_threshold": 2, "deregistration_delay": 300}
        _, chosen = chm.table(defaults)
        self.assertAlmostEqual(chosen["per_node"], 3300.0)  # "about an hour"
        problems = "\n".join(chm.goal_problems(defaults, chosen))
        self.assertIn("less than once a day", problems)
        self.assertIn("deregistration_delay 300", problems)


class TerraformTestChecker(unittest.TestCase):
    """check_terraform_test.py on hand-made `terraform test -json` lines."""

    @staticmethod
    def change(address, actions, new_version=False, reason=None):
        change = {"actions": actions, "after_unknown": {"latest_version": True} if new_version else {}}
        entry = {"address": address, "change": change}
        if reason:
            entry["action_reason"] = reason
        return entry

    def results(self, plans, statuses=None):
        """A rollout file whose runs have these plans (run -> resource changes)."""
        lines = []
        for run, changes in plans.items():
            status = (statuses or {}).get(run, "pass")
            lines.append({"type": "test_run", "test_run": {"path": ctt.ROLLOUT_FILE, "run": run, "progress": "complete", "status": status}})
            lines.append({"type": "test_plan", "@testfile": ctt.ROLLOUT_FILE, "@testrun": run, "test_plan": {"resource_changes": changes}})
        results = ctt.Results()
        ctt.read([json.dumps(line) for line in lines], results)
        return results

    def good_plans(self):
        stays = [self.change(ctt.TEMPLATE, ["update"]), self.change(ctt.GROUP, ["update"])]
        rolls = [self.change(ctt.TEMPLATE, ["update"], new_version=True),
                 self.change(ctt.TRIGGER, ["update"]),
                 self.change(ctt.GROUP, ["create", "delete"], reason="replace_by_triggers"),
                 self.change("aws_lb.app", ["update"])]
        retags = [self.change(ctt.TEMPLATE, ["update"], new_version=True), self.change(ctt.GROUP, ["update"])]
        nothing = [self.change(ctt.TEMPLATE, ["no-op"]), self.change(ctt.GROUP, ["no-op"]), self.change(ctt.TRIGGER, ["no-op"])]
        plans = {"rolls": rolls, "stays": stays, "retags": retags, "nothing": nothing}
        return {run: list(plans[e]) for run, e in ctt.ROLLOUT_EXPECTATIONS.items()}

    def test_the_expected_rollout_passes(self):
        _, failures = ctt.check(self.results(self.good_plans()), expect_rollout=True)
        self.assertEqual(failures, [])

    def test_flags_a_failed_run(self):
        _, failures = ctt.check(self.results(self.good_plans(), {"scale_out": "fail"}), expect_rollout=True)
        self.assertIn("run scale_out: fail", "\n".join(failures))

    def test_flags_destroy_before_create_and_a_roll_on_scaling(self):
        plans = self.good_plans()
        plans["deploy_v2"][2] = self.change(ctt.GROUP, ["delete", "create"], reason="replace_by_triggers")
        plans["scale_out"] = [self.change(ctt.TEMPLATE, ["update"], new_version=True), self.change(ctt.GROUP, ["update"])]
        failures = "\n".join(ctt.check(self.results(plans), expect_rollout=True)[1])
        self.assertIn("deploy_v2: expected the group to be replaced, created before", failures)
        self.assertIn("scale_out: the launch template gets a new version", failures)

    def test_flags_a_rollout_that_replaces_nothing_or_too_much(self):
        plans = self.good_plans()
        plans["new_flatcar_release"] = [self.change(ctt.TEMPLATE, ["update"]), self.change(ctt.GROUP, ["update"])]
        plans["deploy_v2"][3] = self.change("aws_lb.app", ["create", "delete"])
        failures = "\n".join(ctt.check(self.results(plans), expect_rollout=True)[1])
        self.assertIn("new_flatcar_release: expected a new version of the launch template", failures)
        self.assertIn("new_flatcar_release: expected the group to be replaced", failures)
        self.assertIn("deploy_v2: aws_lb.app would be replaced", failures)

    def test_flags_a_retag_that_rolls(self):
        plans = self.good_plans()
        plans["retag"] = [self.change(ctt.TEMPLATE, ["update"], new_version=True),
                          self.change(ctt.GROUP, ["create", "delete"], reason="replace_by_triggers")]
        failures = "\n".join(ctt.check(self.results(plans), expect_rollout=True)[1])
        self.assertIn("retag: expected the group to take the new version in place", failures)

    def test_flags_a_roll_not_driven_by_what_makes_an_instance(self):
        # Issue 16: replaced for another reason (a name), or with the trigger unchanged.
        plans = self.good_plans()
        plans["deploy_v2"][2] = self.change(ctt.GROUP, ["create", "delete"], reason="replace_because_cannot_update")
        plans["new_flatcar_release"][1] = self.change(ctt.TRIGGER, ["no-op"])
        failures = "\n".join(ctt.check(self.results(plans), expect_rollout=True)[1])
        self.assertIn("deploy_v2: expected the group to be replaced by its trigger", failures)
        self.assertIn("new_flatcar_release: expected the group to be replaced by its trigger", failures)

    def test_flags_any_change_where_scaling_alone_acted(self):
        plans = self.good_plans()
        plans["scaled_out_by_a_policy"][1] = self.change(ctt.GROUP, ["update"])
        failures = "\n".join(ctt.check(self.results(plans), expect_rollout=True)[1])
        self.assertIn("scaled_out_by_a_policy: expected no change of the fleet", failures)

    def test_a_roll_may_replace_the_scaling_policies_only(self):
        plans = self.good_plans()
        plans["deploy_v2"].append(self.change("aws_autoscaling_policy.requests_per_target", ["create", "delete"]))
        self.assertEqual(ctt.check(self.results(plans), expect_rollout=True)[1], [])

    def test_flags_missing_plans(self):
        results = self.results(self.good_plans())
        results.plans.clear()
        self.assertIn("no plan for run deploy_v2", "\n".join(ctt.check(results, expect_rollout=True)[1]))


if __name__ == "__main__":
    unittest.main()
