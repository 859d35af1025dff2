"""The Kubernetes checkers on broken copies of the real render: each must find what is
wrong, so that their "ok" lines on the base mean something. Run by run.sh, which passes
the rendered base in K8S_RENDERED:
python3 -m unittest discover -s test/kubernetes -p 'test_*.py'
"""

from __future__ import annotations

import copy
import os
import sys
import unittest
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
sys.path.insert(0, str(HERE.parents[1] / "test" / "lib"))

import check_container as ccont  # noqa: E402
import check_manifest as cm  # noqa: E402
import check_probe_math as cpm  # noqa: E402
import check_schema as cs  # noqa: E402
import kubemanifest as km  # noqa: E402


def real() -> list[dict]:
    path = os.environ.get("K8S_RENDERED")
    text = Path(path).read_text() if path else km.render()
    return km.load(text)


REAL = real()


def broken(change) -> list[dict]:
    """A deep copy of the real render, changed by change(objects_by_kind)."""
    objects = copy.deepcopy(REAL)
    change({o["kind"]: o for o in objects})
    return objects


def container(objs: dict) -> dict:
    return objs["Deployment"]["spec"]["template"]["spec"]["containers"][0]


def pod(objs: dict) -> dict:
    return objs["Deployment"]["spec"]["template"]["spec"]


def set_env(objs: dict, name: str, value: str) -> None:
    env = container(objs)["env"]
    for item in env:
        if item["name"] == name:
            item["value"] = value
            return
    env.append({"name": name, "value": value})


def all_problems(objects: list[dict]) -> str:
    return "\n".join(p for _, problems in cm.groups(objects) for p in problems)


class ManifestChecker(unittest.TestCase):
    def assertFlags(self, change, expected: str):
        problems = all_problems(broken(change))
        self.assertIn(expected, problems)

    def test_the_real_render_passes(self):
        self.assertEqual(all_problems(REAL), "")

    def test_flags_objects_that_do_not_fit_together(self):
        self.assertFlags(lambda o: o["Service"]["spec"]["selector"].update({"app.kubernetes.io/name": "other"}),
                         "Service's selector does not match")
        self.assertFlags(lambda o: o["Service"]["spec"]["ports"][0].update({"targetPort": 9090}),
                         "the service listens on 8080")
        self.assertFlags(lambda o: o["NetworkPolicy"]["spec"]["ingress"][0]["ports"][0].update({"port": 80}),
                         "must admit exactly TCP port 8080")
        self.assertFlags(lambda o: o["NetworkPolicy"]["spec"]["ingress"][0].pop("ports"),
                         "without ports admits every port")
        self.assertFlags(lambda o: o["NetworkPolicy"]["spec"].update({"egress": [{}]}), "allows egress")
        self.assertFlags(lambda o: o["PodDisruptionBudget"]["spec"].update({"maxUnavailable": 0}),
                         "blocks every node drain")
        self.assertFlags(lambda o: o["HorizontalPodAutoscaler"]["spec"].update({"minReplicas": 1}),
                         "scale the service to one pod")
        self.assertFlags(lambda o: o["HorizontalPodAutoscaler"]["spec"]["scaleTargetRef"].update({"name": "x"}),
                         "not the Deployment")
        self.assertFlags(lambda o: o["Deployment"]["spec"]["strategy"]["rollingUpdate"].update({"maxUnavailable": 1}),
                         "maxUnavailable 0")
        self.assertFlags(lambda o: o["Deployment"]["spec"].update({"replicas": 1}), "replicas 1, not 2")
        self.assertFlags(lambda o: set_env(o, "PORT", "9000"), "the service listens elsewhere")

    def test_flags_a_pod_that_is_not_locked_down(self):
        cases = [
            (lambda o: container(o)["securityContext"].update({"runAsUser": 0}), "runs as uid 65534"),
            (lambda o: (container(o)["securityContext"].pop("runAsNonRoot"),
                        pod(o)["securityContext"].pop("runAsNonRoot")), "runAsNonRoot"),
            (lambda o: container(o)["securityContext"].update({"readOnlyRootFilesystem": False}), "readOnlyRootFilesystem"),
            (lambda o: container(o)["securityContext"].pop("allowPrivilegeEscalation"), "allowPrivilegeEscalation false"),
            (lambda o: container(o)["securityContext"]["capabilities"].update({"add": ["NET_ADMIN"]}), "drop ALL, add none"),
            (lambda o: container(o)["securityContext"]["capabilities"].update({"drop": ["NET_RAW"]}), "drop ALL, add none"),
            (lambda o: container(o)["securityContext"].update({"seccompProfile": {"type": "Unconfined"}}), "seccompProfile"),
            (lambda o: pod(o).update({"automountServiceAccountToken": True}), "automountServiceAccountToken"),
            (lambda o: container(o).update({"image": "micro-service:latest"}), "not latest"),
            (lambda o: container(o).update({"image": "micro-service"}), "not latest"),
        ]
        for change, expected in cases:
            with self.subTest(expected=expected):
                self.assertFlags(change, expected)

    def test_flags_unknown_variables_and_too_many_workers(self):
        self.assertFlags(lambda o: set_env(o, "SHUTDOWN_TIMOUT", "5"), "env SHUTDOWN_TIMOUT is not a setting")
        self.assertFlags(lambda o: set_env(o, "WORKERS", "4"), "WORKERS 4 on a CPU limit of 1")
        self.assertFlags(lambda o: container(o).update({"env": [e for e in container(o)["env"] if e["name"] != "WORKERS"]}),
                         "a CPU limit without WORKERS")

    def test_flags_probes_on_the_wrong_path_or_port(self):
        self.assertFlags(lambda o: container(o)["livenessProbe"]["httpGet"].update({"path": "/health"}),
                         "livenessProbe on /health")
        self.assertFlags(lambda o: container(o)["readinessProbe"]["httpGet"].update({"path": "/healthz"}),
                         "probe paths are /ping and /health")
        self.assertFlags(lambda o: container(o)["livenessProbe"]["httpGet"].update({"port": 9090}), "asks port 9090")
        self.assertFlags(lambda o: container(o).pop("readinessProbe"), "no readinessProbe")

    def test_flags_a_stop_that_the_grace_period_cuts_short(self):
        self.assertFlags(lambda o: pod(o).update({"terminationGracePeriodSeconds": 15}),
                         "the kubelet would SIGKILL a draining service")
        self.assertFlags(lambda o: set_env(o, "SHUTDOWN_TIMEOUT", "30"), "the kubelet would SIGKILL a draining service")
        self.assertFlags(lambda o: container(o).pop("lifecycle"), "no preStop sleep")
        self.assertFlags(lambda o: container(o)["lifecycle"]["preStop"]["sleep"].update({"seconds": 1}), "too short")

    def test_flags_a_base_behind_the_cargo_version(self):
        c = container({o["kind"]: o for o in broken(lambda o: container(o).update({"image": "micro-service:0.0.9"}))})
        self.assertIn("not Cargo.toml's version", "\n".join(cm.version_problems(c)[0]))
        self.assertEqual(cm.version_problems(container({o["kind"]: o for o in REAL}))[0], [])

    def test_flags_a_checkov_skip_without_a_reason(self):
        self.assertFlags(lambda o: o["Service"]["metadata"].setdefault("annotations", {}).update(
            {"checkov.io/skip1": "CKV_K8S_21"}), "gives no reason")

    def test_flags_a_memory_limit_below_max_connections(self):
        self.assertFlags(lambda o: set_env(o, "MAX_CONNECTIONS", "10000"), "what MAX_CONNECTIONS=10000 connections take")
        self.assertFlags(lambda o: container(o)["resources"]["limits"].update({"memory": "16Mi"}), "memory limit 16Mi <")
        self.assertFlags(lambda o: container(o)["resources"]["requests"].update({"memory": "128Mi"}), "request above the limit")


class ProbeMath(unittest.TestCase):
    def chosen(self, change):
        objects = broken(change)
        return cpm.table(km.one(objects, "Deployment"), 10)[1]

    def test_the_real_probe_meets_the_goals(self):
        self.assertEqual(cpm.goal_problems(self.chosen(lambda o: None)), [])

    def test_flags_kubernetes_default_thresholds_on_health(self):
        chosen = self.chosen(lambda o: container(o)["readinessProbe"].update({"periodSeconds": 10, "failureThreshold": 3}))
        self.assertIn("falsely unready every 3.1 h", "\n".join(cpm.goal_problems(chosen)))

    def test_flags_a_slow_unready(self):
        chosen = self.chosen(lambda o: container(o)["readinessProbe"].update({"periodSeconds": 30, "failureThreshold": 6}))
        self.assertIn("stay in the endpoints 182 s", "\n".join(cpm.goal_problems(chosen)))

    def test_a_higher_failure_rate_needs_a_higher_threshold(self):
        chosen = self.chosen(lambda o: set_env(o, "HEALTH_FAILURE_RATE", "0.3"))
        self.assertIn("falsely unready", "\n".join(cpm.goal_problems(chosen)))

    def test_ping_is_never_falsely_unready(self):
        chosen = self.chosen(lambda o: container(o)["readinessProbe"]["httpGet"].update({"path": "/ping"}))
        self.assertEqual(chosen["per_pod"], float("inf"))

    def test_readme_table_is_compared(self):
        tmp = HERE / "__nonexistent_readme__.md"
        self.assertIsNone(cpm.readme_table(tmp))


class Schema(unittest.TestCase):
    def test_the_real_render_is_valid_for_the_minimum(self):
        self.assertEqual(cs.validate(REAL, cs.MINIMUM), [])

    def test_flags_unknown_fields_wrong_types_and_unknown_kinds(self):
        objects = broken(lambda o: container(o)["securityContext"].update({"readOnlyRootFileSystem": True}))
        self.assertIn("'readOnlyRootFileSystem' was unexpected", "\n".join(cs.validate(objects, cs.MINIMUM)))
        objects = broken(lambda o: set_env(o, "PORT", 8080))
        self.assertIn("8080 is not of type 'string'", "\n".join(cs.validate(objects, cs.MINIMUM)))
        objects = broken(lambda o: o["HorizontalPodAutoscaler"].update({"apiVersion": "autoscaling/v9"}))
        self.assertIn("Couldn't find schema", "\n".join(cs.validate(objects, cs.MINIMUM)))

    def test_an_old_version_rejects_the_sleep_action(self):
        self.assertIn("'sleep' was unexpected", "\n".join(cs.validate(REAL, cs.BEFORE_SLEEP)))


class DockerTranslation(unittest.TestCase):
    def argv(self, change):
        deployment = km.one(broken(change), "Deployment")
        return km.docker_run_argv(deployment, "img:local", "n", 18999)[0]

    def test_carries_over_the_pods_settings(self):
        argv = " ".join(self.argv(lambda o: None))
        for expected in ("--user 65534:65534", "--read-only", "--cap-drop ALL", "--security-opt no-new-privileges",
                         "--memory 67108864", "--cpus 1", "--env PORT=8080", "--env SHUTDOWN_TIMEOUT=5",
                         "--publish 127.0.0.1:18999:8080/tcp"):
            self.assertIn(expected, argv)
        self.assertTrue(argv.endswith("img:local"))

    def test_weakened_settings_change_the_options(self):
        argv = " ".join(self.argv(lambda o: container(o)["securityContext"].update(
            {"readOnlyRootFilesystem": False, "allowPrivilegeEscalation": True, "capabilities": {"add": ["NET_ADMIN"]}})))
        for gone in ("--read-only", "no-new-privileges", "--cap-drop"):
            self.assertNotIn(gone, argv)
        self.assertIn("--cap-add NET_ADMIN", argv)

    def test_refuses_fields_it_cannot_run(self):
        for change in (lambda o: container(o).update({"volumeMounts": [{"name": "x", "mountPath": "/x"}]}),
                       lambda o: container(o).update({"command": ["/bin/sh"]}),
                       lambda o: pod(o).update({"hostNetwork": True}),
                       lambda o: container(o)["securityContext"].update({"procMount": "Unmasked"})):
            with self.assertRaises(km.ManifestError):
                self.argv(change)

    def test_stop_time_is_the_grace_left_after_the_sleep(self):
        self.assertEqual(km.stop_seconds(km.one(REAL, "Deployment")), 10)

    def test_kernel_view_flags_root_and_capabilities(self):
        status = {"Uid": "0\t0\t0\t0", "Gid": "0\t0\t0\t0", "CapEff": "00000000a80425fb", "CapPrm": "00000000a80425fb",
                  "NoNewPrivs": "0", "Seccomp": "0"}
        problems = "\n".join(ccont.kernel_view_problems(status, {"runAsUser": 65534, "runAsGroup": 65534}))
        for key in ("Uid", "Gid", "CapEff", "NoNewPrivs", "Seccomp"):
            self.assertIn(key, problems)
        good = {"Uid": "65534\t65534\t65534\t65534", "Gid": "65534\t65534\t65534\t65534", "CapEff": "0000000000000000",
                "CapPrm": "0000000000000000", "NoNewPrivs": "1", "Seccomp": "2"}
        self.assertEqual(ccont.kernel_view_problems(good, {"runAsUser": 65534, "runAsGroup": 65534}), [])


if __name__ == "__main__":
    unittest.main()
