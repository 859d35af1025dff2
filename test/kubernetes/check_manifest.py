"""The rendered Kubernetes base (kubernetes/) against the project's deployment rules.

Reads the output of `kubectl kustomize kubernetes/` and checks what a schema cannot:
that the objects fit together (selectors, ports, the autoscaler's target), that the pod
is locked down, that the probes follow the health math (liveness never on /health),
that the stop sequence fits the grace period, that every variable is one the service
reads, and that the memory limit holds MAX_CONNECTIONS connections by the measured
per-connection cost. Prints one line per rule; exits 1 on any problem.

Usage: check_manifest.py RENDERED.yaml
"""

from __future__ import annotations

import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parents[1]
sys.path.insert(0, str(ROOT / "test" / "lib"))

import kubemanifest as km  # noqa: E402

UID = 65534  # nobody, as the image's USER
MIN_PODS = 2  # the autoscaler's floor: one pod serves while the other is replaced or its node drained
# The recommended labels (kubernetes.io/docs/concepts/overview/working-with-objects/
# common-labels/) on every object; version only where a version runs (the Deployment
# and its pods). Selectors use name and instance only: they are immutable, and a
# second copy of the service differs in instance.
LABELS = ("name", "instance", "component", "part-of", "managed-by")
SELECTOR_KEYS = {"app.kubernetes.io/name", "app.kubernetes.io/instance"}
# Measured with test/kubernetes/measure_memory.py (kubernetes/README.md has the run):
# the container's cgroup memory with no connection (1.0-1.1 MiB) and the cost of one
# more open connection (up to 6.4 KiB with a request under way: a 4 KiB buffer, its bookkeeping, the kernel's
# socket), rounded up for what another kernel may charge.
IDLE_BYTES = 2 * 2**20
PER_CONNECTION_BYTES = 8 * 2**10
# Kubelet and runtime need a moment between the end of the service's drain and the kill.
STOP_MARGIN = 2


def matches(selector: dict, labels: dict) -> bool:
    return bool(selector) and all(labels.get(k) == v for k, v in selector.items())


def wiring_problems(objects: list[dict]) -> list[str]:
    """How the objects fit together."""
    problems = []
    try:
        deployment = km.one(objects, "Deployment")
        service = km.one(objects, "Service")
        pdb = km.one(objects, "PodDisruptionBudget")
        hpa = km.one(objects, "HorizontalPodAutoscaler")
        policy = km.one(objects, "NetworkPolicy")
    except km.ManifestError as e:
        return [str(e)]
    spec = deployment["spec"]
    pod_labels = spec["template"]["metadata"].get("labels") or {}
    container = km.app_container(deployment)
    ports = container.get("ports") or []
    if len(ports) != 1:
        return [f"the container must have one port, has {len(ports)}"]
    port = int(ports[0]["containerPort"])
    if str(port) != km.setting(container, "PORT"):
        problems.append(f"containerPort {port} but PORT={km.setting(container, 'PORT')}: the service listens elsewhere")

    if "replicas" in spec:
        problems.append(f"the Deployment sets replicas: {spec['replicas']} beside the autoscaler: every apply would set "
                        "the count back, in a scale-down maxUnavailable does not bound")
    strategy = spec.get("strategy") or {}
    rolling = strategy.get("rollingUpdate") or {}
    if strategy.get("type") != "RollingUpdate" or rolling.get("maxUnavailable") != 0:
        problems.append("the Deployment must roll with RollingUpdate and maxUnavailable 0 (no pod removed before its replacement is ready)")
    if rolling.get("maxSurge") in (0, "0%"):
        problems.append("maxSurge 0 with maxUnavailable 0 cannot roll at all")
    if not matches((spec.get("selector") or {}).get("matchLabels") or {}, pod_labels):
        problems.append("the Deployment's selector does not match its pod template's labels")

    if not matches(service["spec"].get("selector") or {}, pod_labels):
        problems.append("the Service's selector does not match the pods")
    for sp in service["spec"].get("ports") or []:
        try:
            target = km.container_port(container, sp.get("targetPort", sp.get("port")))
        except km.ManifestError as e:
            problems.append(f"Service port {sp.get('port')}: {e}")
            continue
        if target != port:
            problems.append(f"the Service sends port {sp.get('port')} to {target}, the service listens on {port}")

    if not matches((pdb["spec"].get("selector") or {}).get("matchLabels") or {}, pod_labels):
        problems.append("the PodDisruptionBudget's selector does not match the pods")
    if pdb["spec"].get("maxUnavailable") != 1:
        problems.append("the PodDisruptionBudget must allow one disruption at a time (maxUnavailable 1): "
                        "no more, so that one pod always serves, and not 0, which blocks every node drain")

    target = hpa["spec"].get("scaleTargetRef") or {}
    if (target.get("kind"), target.get("name")) != ("Deployment", deployment["metadata"]["name"]):
        problems.append(f"the HorizontalPodAutoscaler scales {target}, not the Deployment")
    if hpa["spec"].get("minReplicas", 1) < MIN_PODS:
        problems.append(f"the HorizontalPodAutoscaler's minReplicas is below {MIN_PODS}: it would scale the service to one pod")
    metrics = [m.get("resource", {}).get("name") for m in hpa["spec"].get("metrics") or [] if m.get("type") == "Resource"]
    if metrics != ["cpu"]:
        problems.append(f"the HorizontalPodAutoscaler must scale on CPU alone, scales on {metrics}")
    if "cpu" not in ((container.get("resources") or {}).get("requests") or {}):
        problems.append("no CPU request: the autoscaler's utilization is a fraction of it")

    pspec = policy["spec"]
    if not matches((pspec.get("podSelector") or {}).get("matchLabels") or {}, pod_labels):
        problems.append("the NetworkPolicy's podSelector does not select the pods")
    if "Ingress" not in (pspec.get("policyTypes") or []):
        problems.append("the NetworkPolicy does not restrict ingress")
    admitted = []
    for rule in pspec.get("ingress") or []:
        if not rule.get("ports"):
            problems.append("a NetworkPolicy ingress rule without ports admits every port")
        for p in rule.get("ports") or []:
            admitted.append((km.container_port(container, p.get("port")), p.get("protocol", "TCP"), p.get("endPort")))
    if admitted != [(port, "TCP", None)]:
        problems.append(f"the NetworkPolicy must admit exactly TCP port {port}, admits {admitted}")
    if "Egress" in (pspec.get("policyTypes") or []) and pspec.get("egress"):
        problems.append("the NetworkPolicy allows egress, which the service never needs")
    return problems


def selectors(objects: list[dict]) -> list[tuple[str, dict]]:
    """Every label selector of the objects that picks pods, as (where, matchLabels)."""
    found = []
    for obj in objects:
        what, spec = f"{obj['kind']}/{obj['metadata']['name']}", obj.get("spec") or {}
        if obj["kind"] == "Service":
            found.append((f"{what} selector", spec.get("selector") or {}))
        elif obj["kind"] in ("Deployment", "PodDisruptionBudget"):
            found.append((f"{what} selector", (spec.get("selector") or {}).get("matchLabels") or {}))
        elif obj["kind"] == "NetworkPolicy":
            found.append((f"{what} podSelector", (spec.get("podSelector") or {}).get("matchLabels") or {}))
        if obj["kind"] == "Deployment":
            for c in km.pod_spec(obj).get("topologySpreadConstraints") or []:
                found.append((f"{what} spread on {c.get('topologyKey')}",
                              (c.get("labelSelector") or {}).get("matchLabels") or {}))
    return found


def label_problems(objects: list[dict]) -> list[str]:
    """The recommended labels on every object, the version where a version runs, and
    selectors on exactly name and instance, matching the pods."""
    problems = []
    deployment = km.one(objects, "Deployment")
    pod_labels = deployment["spec"]["template"]["metadata"].get("labels") or {}
    for obj in objects:
        labels = obj["metadata"].get("labels") or {}
        missing = [k for k in LABELS if not labels.get(f"app.kubernetes.io/{k}")]
        if missing:
            problems.append(f"{obj['kind']}/{obj['metadata']['name']} lacks the labels app.kubernetes.io/{{{','.join(missing)}}}")
    for key in SELECTOR_KEYS:
        if not pod_labels.get(key):
            problems.append(f"the pods lack the label {key}")
    tag = km.app_container(deployment)["image"].split("@")[0].rsplit("/", 1)[-1].partition(":")[2]
    for where, labels in (("Deployment", deployment["metadata"].get("labels") or {}), ("pod template", pod_labels)):
        version = labels.get("app.kubernetes.io/version")
        if tag and version != tag:
            problems.append(f"the {where}'s app.kubernetes.io/version is {version!r}, not the image's tag {tag!r}")
    for where, selector in selectors(objects):
        if set(selector) != SELECTOR_KEYS:
            problems.append(f"{where} selects on {sorted(selector)}, not on exactly {sorted(SELECTOR_KEYS)}: "
                            "a second copy with another instance would be selected too")
        elif not matches(selector, pod_labels):
            problems.append(f"{where} does not select the pods")
    return problems


def spread_problems(deployment: dict) -> list[str]:
    """Two pods never on one node while another node can take one (DoNotSchedule per
    hostname), counted per pod-template-hash so a rollout spreads its new pods; zones
    preferred. And a single schedulable node must still take both pods: skew there is
    always 0 unless minDomains > 1, which counts the missing domains as empty ones."""
    constraints = {c.get("topologyKey"): c for c in km.pod_spec(deployment).get("topologySpreadConstraints") or []}
    problems = []
    host = constraints.get("kubernetes.io/hostname")
    if host is None:
        return ["no topologySpreadConstraint on kubernetes.io/hostname: both pods may share a node"]
    if host.get("whenUnsatisfiable") != "DoNotSchedule":
        problems.append(f"the hostname spread is {host.get('whenUnsatisfiable')}: a preference, so both pods can land on one "
                        "node (DoNotSchedule makes it a rule)")
    if host.get("maxSkew") != 1:
        problems.append(f"the hostname spread's maxSkew is {host.get('maxSkew')}: with 2 pods, 1 keeps them on two nodes")
    if (host.get("minDomains") or 1) > 1:
        problems.append(f"the hostname spread's minDomains is {host['minDomains']}: on a cluster with fewer nodes the "
                        "global minimum counts as 0 and the second pod stays Pending (a single-node cluster runs one pod)")
    if host.get("nodeTaintsPolicy") != "Honor":
        problems.append("the hostname spread counts nodes the pod cannot go to (nodeTaintsPolicy not Honor): an untolerated "
                        "tainted node, such as a control plane, holds the minimum at 0 and leaves the second pod Pending")
    for key, c in constraints.items():
        if "pod-template-hash" not in (c.get("matchLabelKeys") or []):
            problems.append(f"the spread on {key} has no matchLabelKeys [pod-template-hash]: during a rollout it counts "
                            "the old pods, and may place both new ones together")
    zone = constraints.get("topology.kubernetes.io/zone")
    if zone is None or zone.get("whenUnsatisfiable") != "ScheduleAnyway":
        problems.append("no zone spread with ScheduleAnyway (a preference: a cluster in one zone must still schedule)")
    return problems


def image_problems(container: dict) -> list[str]:
    policy = container.get("imagePullPolicy")
    if policy != "IfNotPresent":
        return [f"imagePullPolicy {policy}, not IfNotPresent: a release tag never moves and a digest cannot, and "
                "Always makes every pod start depend on the registry"]
    return []


def security_problems(deployment: dict) -> list[str]:
    pod, container = km.pod_spec(deployment), km.app_container(deployment)
    sec = km.security(deployment)
    rules = {
        f"runs as uid {UID}": sec.get("runAsUser") == UID,
        f"runs as gid {UID}": sec.get("runAsGroup") == UID,
        "runAsNonRoot": sec.get("runAsNonRoot") is True,
        "readOnlyRootFilesystem": sec.get("readOnlyRootFilesystem") is True,
        "allowPrivilegeEscalation false": sec.get("allowPrivilegeEscalation") is False,
        "not privileged": not sec.get("privileged"),
        "capabilities: drop ALL, add none": (sec.get("capabilities") or {}).get("drop") == ["ALL"]
        and not (sec.get("capabilities") or {}).get("add"),
        "seccompProfile RuntimeDefault": (sec.get("seccompProfile") or {}).get("type") == "RuntimeDefault",
        "automountServiceAccountToken false": pod.get("automountServiceAccountToken") is False,
        "no host namespaces": not any(pod.get(k) for k in ("hostNetwork", "hostPID", "hostIPC")),
        "no volumes": not pod.get("volumes") and not container.get("volumeMounts"),
    }
    image = container.get("image", "")
    tag = image.rsplit("/", 1)[-1].partition(":")[2]
    rules["image by tag or digest, not latest"] = ("@sha256:" in image) or (tag not in ("", "latest"))
    return [f"the pod is not locked down: {rule}" for rule, ok in rules.items() if not ok]


def env_problems(container: dict) -> list[str]:
    settings = km.service_settings()
    problems = [f"env {name} is not a setting the service reads (src/config.rs: {', '.join(settings)})"
                for name in km.env(container) if name not in settings]
    limit = km.ceil_cpus(container)
    workers = km.env(container).get("WORKERS")
    if limit is not None and workers is None:
        problems.append("a CPU limit without WORKERS: the default counts CPUs, which need not be the limit")
    elif limit is not None and int(workers) > limit:
        problems.append(f"WORKERS {workers} on a CPU limit of {limit}: more event loops than CPUs only take turns")
    return problems


def probe_problems(container: dict) -> list[str]:
    """Liveness never on /health (it fails on purpose, and a liveness failure restarts);
    the readiness probe's arithmetic is check_probe_math.py's."""
    problems = []
    port = int(container["ports"][0]["containerPort"])
    for kind in ("livenessProbe", "readinessProbe"):
        p = km.probe(container, kind)
        if p is None:
            problems.append(f"no {kind}")
            continue
        get = p.get("httpGet") or {}
        if not get:
            problems.append(f"{kind} is not an httpGet probe (the image has no shell for exec probes)")
            continue
        if km.container_port(container, get.get("port")) != port:
            problems.append(f"{kind} asks port {get.get('port')}, the service listens on {port}")
        if get.get("path") not in ("/ping", "/health"):
            problems.append(f"{kind} asks {get.get('path')!r}; the service's probe paths are /ping and /health")
        if p["timeoutSeconds"] >= p["periodSeconds"]:
            problems.append(f"{kind}: timeout {p['timeoutSeconds']} s is not shorter than the period {p['periodSeconds']} s")
    live = km.probe(container, "livenessProbe") or {}
    if (live.get("httpGet") or {}).get("path") == "/health":
        problems.append("livenessProbe on /health: it fails on purpose, and each run of failures would restart a healthy container")
    startup = km.probe(container, "startupProbe")
    if startup and (startup.get("httpGet") or {}).get("path") == "/health":
        problems.append("startupProbe on /health: a failing start restarts the container")
    return problems


def stop_problems(deployment: dict) -> list[str]:
    container = km.app_container(deployment)
    sleep = km.prestop_sleep(container)
    grace = km.grace_period(deployment)
    shutdown = float(km.setting(container, "SHUTDOWN_TIMEOUT"))
    problems = []
    if sleep is None:
        problems.append("no preStop sleep: SIGTERM would arrive while endpoints still route to the pod")
    elif sleep < 5:
        problems.append(f"preStop sleep {sleep} s: too short for kube-proxy and ingress controllers to drop the pod")
    elif grace < sleep + shutdown + STOP_MARGIN:
        problems.append(f"terminationGracePeriodSeconds {grace} s < preStop sleep {sleep} s + SHUTDOWN_TIMEOUT {shutdown:g} s "
                        f"+ {STOP_MARGIN} s: the kubelet would SIGKILL a draining service")
    if float(km.setting(container, "IDLE_TIMEOUT")) <= float(km.setting(container, "REQUEST_TIMEOUT")):
        problems.append("IDLE_TIMEOUT not above REQUEST_TIMEOUT")
    return problems


def skip_problems(objects: list[dict]) -> tuple[list[str], str]:
    """checkov skips are annotations `checkov.io/skipN: CHECK_ID=reason`; each needs a reason."""
    problems, skipped = [], []
    for obj in objects:
        for key, value in ((obj.get("metadata") or {}).get("annotations") or {}).items():
            if not key.startswith("checkov.io/skip"):
                continue
            check, eq, reason = str(value).partition("=")
            if not eq or len(reason.strip()) < 20:
                problems.append(f"{obj['kind']} {key}: {value!r} gives no reason (CHECK_ID=why)")
            skipped.append(f"{check.strip()} on the {obj['kind']}")
    return problems, f"checkov skips carry their reason: {', '.join(skipped) or 'none'}"


def memory_problems(container: dict) -> tuple[list[str], str]:
    resources = container.get("resources") or {}
    limits, requests = resources.get("limits") or {}, resources.get("requests") or {}
    if "memory" not in limits or "memory" not in requests:
        return ["memory request and limit must both be set"], ""
    limit = km.quantity(limits["memory"], "memory")
    request = km.quantity(requests["memory"], "memory")
    connections = int(km.setting(container, "MAX_CONNECTIONS"))
    needed = IDLE_BYTES + connections * PER_CONNECTION_BYTES
    problems = []
    if limit < needed:
        problems.append(f"memory limit {limits['memory']} < {needed / 2**20:.1f} MiB, what MAX_CONNECTIONS={connections} "
                        f"connections take ({IDLE_BYTES / 2**20:g} MiB + {PER_CONNECTION_BYTES / 1024:g} KiB each)")
    if request > limit:
        problems.append("memory request above the limit")
    if request < IDLE_BYTES:
        problems.append("memory request below the idle size")
    allows = (limit - IDLE_BYTES) // PER_CONNECTION_BYTES
    summary = (f"memory limit {limits['memory']} holds {allows:,.0f} open connections at "
               f"{PER_CONNECTION_BYTES / 1024:g} KiB each over {IDLE_BYTES / 2**20:g} MiB idle; MAX_CONNECTIONS is {connections}")
    return problems, summary


def groups(objects: list[dict]) -> list[tuple[str, list[str]]]:
    """(what was checked, problems) for every rule."""
    deployment = km.one(objects, "Deployment")
    container = km.app_container(deployment)
    mem, mem_summary = memory_problems(container)
    return [
        ("objects fit together: selectors, Service and NetworkPolicy ports, PDB, HPA target; no replicas beside the "
         "autoscaler; rolled with maxUnavailable 0", wiring_problems(objects)),
        ("recommended labels on every object, version = image tag; selectors on exactly name + instance",
         label_problems(objects)),
        ("spread: DoNotSchedule per node, ScheduleAnyway per zone, per pod-template-hash, no minDomains, "
         "tainted nodes not counted", spread_problems(deployment)),
        (f"image {container.get('image')} pulled IfNotPresent", image_problems(container)),
        (f"the pod is locked down: uid {UID}, non-root, read-only root, no privilege escalation, "
         "capabilities dropped, RuntimeDefault seccomp, no token, image tag not latest", security_problems(deployment)),
        ("every env variable is a service setting; WORKERS fits the CPU limit", env_problems(container)),
        ("probes: httpGet on the service port, liveness on /ping not /health", probe_problems(container)),
        (f"stop: preStop sleep {km.prestop_sleep(container)} s + SHUTDOWN_TIMEOUT "
         f"{km.setting(container, 'SHUTDOWN_TIMEOUT')} s + {STOP_MARGIN} s <= grace {km.grace_period(deployment)} s",
         stop_problems(deployment)),
        (mem_summary, mem),
        tuple(reversed(skip_problems(objects))),
    ]


def report(checked: list[tuple[str, list[str]]]) -> bool:
    """Prints one line per rule; True when all passed."""
    failed = False
    for label, problems in checked:
        print(f"  {'ok  ' if not problems else 'FAIL'} {label}")
        for p in problems:
            print(f"       {p}")
        failed |= bool(problems)
    return not failed


def version_problems(container: dict) -> tuple[list[str], str]:
    """The base names the version this checkout builds (Cargo.toml's), so that it cannot
    silently stay behind a version bump."""
    import re

    cargo = re.search(r'^version = "([^"]+)"', (ROOT / "Cargo.toml").read_text(), re.M).group(1)
    tag = container["image"].rsplit("/", 1)[-1].partition(":")[2]
    problems = [] if tag == cargo else [f"the base's image tag {tag!r} is not Cargo.toml's version {cargo!r}: "
                                        "update images: newTag in kubernetes/kustomization.yaml"]
    return problems, f"the base's image {container['image']} is at Cargo.toml's version"


def main(argv: list[str]) -> int:
    objects = km.load(Path(argv[0]).read_text())
    container = km.app_container(km.one(objects, "Deployment"))
    return 0 if report(groups(objects) + [tuple(reversed(version_problems(container)))]) else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
