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
import check_examples as cex  # noqa: E402
import check_manifest as cm  # noqa: E402
import check_probe_math as cpm  # noqa: E402
import check_release as crel  # noqa: E402
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
        self.assertFlags(lambda o: o["Deployment"]["spec"].update({"replicas": 2}), "sets replicas: 2 beside the autoscaler")
        self.assertFlags(lambda o: set_env(o, "PORT", "9000"), "the service listens elsewhere")

    def test_flags_labels_and_selectors_a_second_copy_would_collide_with(self):
        def name_only(o):
            o["Service"]["spec"]["selector"].pop("app.kubernetes.io/instance")
        self.assertFlags(name_only, "Service/micro-service selector selects on ['app.kubernetes.io/name']")
        self.assertFlags(lambda o: o["PodDisruptionBudget"]["spec"]["selector"]["matchLabels"].update(
            {"app.kubernetes.io/version": "0.1.0"}), "PodDisruptionBudget/micro-service selector selects on")
        self.assertFlags(lambda o: o["HorizontalPodAutoscaler"]["metadata"]["labels"].pop("app.kubernetes.io/part-of"),
                         "HorizontalPodAutoscaler/micro-service lacks the labels app.kubernetes.io/{part-of}")
        self.assertFlags(lambda o: o["Deployment"]["spec"]["template"]["metadata"]["labels"].update(
            {"app.kubernetes.io/version": "0.0.9"}), "the pod template's app.kubernetes.io/version is '0.0.9'")
        self.assertFlags(lambda o: pod(o)["topologySpreadConstraints"][0]["labelSelector"]["matchLabels"].update(
            {"app.kubernetes.io/instance": "other"}), "spread on kubernetes.io/hostname does not select the pods")

    def test_flags_a_spread_that_lets_both_pods_share_a_node(self):
        def spread(o):
            return {c["topologyKey"]: c for c in pod(o)["topologySpreadConstraints"]}
        cases = [
            (lambda o: spread(o)["kubernetes.io/hostname"].update({"whenUnsatisfiable": "ScheduleAnyway"}),
             "the hostname spread is ScheduleAnyway"),
            (lambda o: spread(o)["kubernetes.io/hostname"].pop("matchLabelKeys"),
             "the spread on kubernetes.io/hostname has no matchLabelKeys [pod-template-hash]"),
            (lambda o: spread(o)["kubernetes.io/hostname"].update({"minDomains": 2}),
             "minDomains is 2: on a cluster with fewer nodes"),
            (lambda o: spread(o)["kubernetes.io/hostname"].update({"maxSkew": 2}), "maxSkew is 2"),
            (lambda o: spread(o)["kubernetes.io/hostname"].pop("nodeTaintsPolicy"), "nodeTaintsPolicy not Honor"),
            (lambda o: pod(o).update({"topologySpreadConstraints": pod(o)["topologySpreadConstraints"][:1]}),
             "no zone spread with ScheduleAnyway"),
            (lambda o: pod(o).pop("topologySpreadConstraints"), "no topologySpreadConstraint on kubernetes.io/hostname"),
        ]
        for change, expected in cases:
            with self.subTest(expected=expected):
                self.assertFlags(change, expected)

    def test_flags_a_pull_policy_other_than_if_not_present(self):
        self.assertFlags(lambda o: container(o).update({"imagePullPolicy": "Always"}), "imagePullPolicy Always")
        self.assertFlags(lambda o: container(o).pop("imagePullPolicy"), "imagePullPolicy None")

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

    def states_problems(self, change) -> str:
        return "\n".join(cpm.states(km.one(broken(change), "Deployment"))[1])

    def test_the_real_liveness_meets_the_goals(self):
        self.assertEqual(self.states_problems(lambda o: None), "")

    def test_flags_a_liveness_that_restarts_before_readiness_takes_the_pod_out(self):
        # The settings before issue 18: 10 s x 3 restarts at 20 s, readiness has until 32 s.
        problems = self.states_problems(lambda o: container(o)["livenessProbe"].update({"failureThreshold": 3}))
        self.assertIn("restart a pod that stopped answering after 20 s, before readiness", problems)

    def test_flags_a_liveness_path_that_a_busy_pod_answers_503(self):
        problems = self.states_problems(lambda o: container(o)["livenessProbe"]["httpGet"].update({"path": "/"}))
        self.assertIn("answers 503: a busy pod would be restarted", problems)

    def test_flags_a_liveness_timeout_shorter_than_readiness(self):
        problems = self.states_problems(lambda o: container(o)["livenessProbe"].update({"timeoutSeconds": 1}))
        self.assertIn("liveness timeout 1 s is shorter than readiness's 2 s", problems)

    def test_readme_table_is_compared(self):
        tmp = HERE / "__nonexistent_readme__.md"
        self.assertIsNone(cpm.readme_table(tmp))


def objects_by_kind(objects: list[dict]) -> dict:
    return {o["kind"]: o for o in objects}


@unittest.skipIf(km.kubectl_minor() < 22, "the examples need kustomize v4.1 (kubectl 1.22 or later)")
class Examples(unittest.TestCase):
    """The example overlays' rules, on broken copies of their real renders."""

    @classmethod
    def setUpClass(cls):
        cls.canary = cex.render_example("canary", km.BASE_DIR)
        cls.public = cex.render_example("public", km.BASE_DIR)
        cls.ingress = cex.render_example("public-ingress", km.BASE_DIR)

    def changed(self, objects, change):
        objects = copy.deepcopy(objects)
        change(objects_by_kind(objects))
        return objects

    def test_the_real_examples_pass(self):
        self.assertEqual(cex.copies_problems(REAL, self.canary), [])
        self.assertEqual(cex.route_problems(self.public), [])
        self.assertEqual(cex.ingress_problems(self.ingress), [])

    def test_flags_copies_whose_selectors_overlap(self):
        def name_only(o):
            for kind in ("Service", "PodDisruptionBudget"):
                sel = o[kind]["spec"]["selector"]
                (sel.get("matchLabels") or sel).pop("app.kubernetes.io/instance")
        problems = "\n".join(cex.copies_problems(self.changed(REAL, name_only), self.canary))
        self.assertIn("the base's Service/micro-service selector {'app.kubernetes.io/name': 'micro-service'} also selects "
                      "the other copy's pods", problems)
        self.assertIn("the base's PodDisruptionBudget/micro-service selector", problems)

    def test_flags_copies_with_the_same_names(self):
        same = self.changed(self.canary, lambda o: o["Service"]["metadata"].update({"name": "micro-service"}))
        self.assertIn("both copies name ['Service/micro-service']", "\n".join(cex.copies_problems(REAL, same)))

    def test_flags_a_route_to_another_service_or_namespace(self):
        def elsewhere(o):
            o["HTTPRoute"]["spec"]["rules"][0]["backendRefs"][0].update({"name": "other"})
        self.assertIn("not the Service micro-service", "\n".join(cex.route_problems(self.changed(self.public, elsewhere))))
        no_ns = self.changed(self.public, lambda o: o["HTTPRoute"]["metadata"].pop("namespace"))
        self.assertIn("not all in one namespace", "\n".join(cex.route_problems(no_ns)))

    def test_flags_a_policy_that_is_not_narrowed_to_the_gateway(self):
        open_policy = self.changed(self.public, lambda o: o["NetworkPolicy"]["spec"]["ingress"][0].pop("from"))
        self.assertIn("admits every source", "\n".join(cex.route_problems(open_policy)))

        def other_ns(o):
            o["NetworkPolicy"]["spec"]["ingress"][0]["from"][0]["namespaceSelector"]["matchLabels"][cex.NS_LABEL] = "x"
        self.assertIn("the NetworkPolicy admits ['x'], the Gateway is in ['gateway-system']",
                      "\n".join(cex.route_problems(self.changed(self.public, other_ns))))

        def any_pod(o):
            o["NetworkPolicy"]["spec"]["ingress"][0]["from"].append({"podSelector": {}})
        self.assertIn("is not one namespace", "\n".join(cex.ingress_problems(self.changed(self.ingress, any_pod))))

    def test_flags_an_ingress_to_the_wrong_port(self):
        def wrong_port(o):
            o["Ingress"]["spec"]["rules"][0]["http"]["paths"][0]["backend"]["service"]["port"] = {"number": 8080}
        self.assertIn("not the Service micro-service on one of its ports",
                      "\n".join(cex.ingress_problems(self.changed(self.ingress, wrong_port))))


class Release(unittest.TestCase):
    """.travis.yml against Travis's schema, the release job's shape, one repository, and
    .ci/publish-image under a stand-in docker."""

    @classmethod
    def setUpClass(cls):
        import json

        import yaml

        cls.config = yaml.safe_load(crel.TRAVIS.read_text())
        cls.schema = json.loads(crel.SCHEMA.read_text()) if crel.SCHEMA.exists() else None
        cls.version = crel.cargo_version()

    def broken_config(self, change):
        config = copy.deepcopy(self.config)
        change(config)
        return config

    def release_job(self, config):
        return crel.jobs(config, "release")[0]

    def test_the_real_config_passes(self):
        self.assertEqual(crel.release_problems(self.config, self.version), [])
        self.assertEqual(crel.repository_problems(self.config, REAL, crel.README.read_text())[0], [])

    @unittest.skipIf(not crel.SCHEMA.exists(), "no ../shared/travis-yml-schema.json (check_release.py fails on it)")
    def test_the_schema_flags_what_travis_would_reject(self):
        self.assertEqual(crel.schema_problems(self.config, self.schema), [])
        for change, expected in ((lambda c: c.update({"dist": "nobel"}), "dist"),
                                 (lambda c: c["jobs"]["include"][0].update({"language": "rusty"}),
                                  "jobs/include/0/language: 'rusty' is not one of"),
                                 (lambda c: c["jobs"]["include"][1].update({"services": {"docker": True}}),
                                  "jobs/include/1/services"),
                                 (lambda c: c["jobs"]["include"][2].update({"script": 5}), "jobs/include/2/script"),
                                 (lambda c: c["jobs"].update({"include": {"stage": "test"}}), "not a list of jobs"),
                                 (lambda c: c.update({"os": ["linux", "plan9"]}), "os")):
            with self.subTest(expected=expected):
                self.assertIn(expected, "\n".join(crel.schema_problems(self.broken_config(change), self.schema)))

    def test_flags_a_release_stage_that_is_missing_or_too_wide(self):
        no_stage = self.broken_config(lambda c: c.update({"stages": [s for s in c["stages"] if s["name"] != "release"]}))
        self.assertIn("no release stage that runs on version tags", "\n".join(crel.release_problems(no_stage, self.version)))
        wide = self.broken_config(lambda c: [s.update({"if": "type = push AND tag =~ ."}) for s in c["stages"]
                                             if s["name"] == "release"])
        self.assertIn("also matches 'main'", "\n".join(crel.release_problems(wide, self.version)))

    def test_flags_a_release_job_without_its_checks(self):
        cases = [
            (lambda c: self.release_job(c).update({"script": ['.ci/publish-image "$IMAGE_REPO" "$TRAVIS_TAG" "$TRAVIS_TAG"']}),
             "--once"),
            (lambda c: self.release_job(c).update({"before_script": self.release_job(c)["before_script"][1:]}),
             "that the tag is Cargo.toml's version"),
            (lambda c: self.release_job(c).update({"script": self.release_job(c)["before_script"]
                                                   + self.release_job(c)["script"], "before_script": []}),
             "does not log in to the registry in before_script"),
            (lambda c: c["jobs"]["include"].remove(self.release_job(c)), "expected one job in the release stage, found 0"),
        ]
        for change, expected in cases:
            with self.subTest(expected=expected):
                self.assertIn(expected, "\n".join(crel.release_problems(self.broken_config(change), self.version)))

    def test_flags_a_base_that_pulls_from_elsewhere(self):
        elsewhere = broken(lambda o: container(o).update({"image": "micro-service:0.1.0"}))
        problems = "\n".join(crel.repository_problems(self.config, elsewhere, crel.README.read_text())[0])
        self.assertIn("names no registry: it resolves to docker.io/library/micro-service", problems)
        self.assertIn("the base pulls micro-service, CI publishes to ghcr.io/micro-service-as-code/micro-service", problems)
        no_repo = self.broken_config(lambda c: c.pop("env"))
        self.assertIn("sets no IMAGE_REPO", "\n".join(crel.repository_problems(no_repo, REAL, "")[0]))

    def test_publish_problems_flag_a_run_that_skips_a_step(self):
        ref = "r/x:1"
        good = [["build", "--platform", "linux/amd64", "--build-arg", "APP_VERSION=1", "--tag", f"{ref}-amd64", "."],
                ["build", "--platform", "linux/arm64", "--build-arg", "APP_VERSION=1", "--tag", f"{ref}-arm64", "."],
                ["push", f"{ref}-amd64"], ["push", f"{ref}-arm64"],
                ["manifest", "create", ref, f"{ref}-amd64", f"{ref}-arm64"],
                ["manifest", "push", "--purge", ref], ["manifest", "inspect", ref]]
        self.assertEqual(crel.publish_problems(good, "r/x", "1", "1"), [])
        self.assertIn("not read back", "\n".join(crel.publish_problems(good[:-1], "r/x", "1", "1")))
        self.assertIn("pushed ['r/x:1-amd64']", "\n".join(crel.publish_problems(good[:3] + good[4:], "r/x", "1", "1")))
        self.assertIn("no build of r/x:1-arm64", "\n".join(crel.publish_problems(good[:1] + good[2:], "r/x", "1", "1")))


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
