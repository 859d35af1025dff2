"""The example overlays under examples/kubernetes/, rendered against this checkout's base:

- canary: a second copy beside the base in the same namespace (namePrefix canary-,
  instance canary-micro-service). Both renders together must have no two objects of
  the same kind and name, and each copy's selectors (Service, Deployment, PDB,
  NetworkPolicy, topology spread) must pick its own pods and not the other's. The
  autoscalers must scale their own Deployment.
- public (Gateway API HTTPRoute) and public-ingress (Ingress): clients from outside
  reach the Service through the cluster's gateway. The route's or the Ingress's backend
  must be the Service, on one of its ports, in the objects' one namespace; and the
  NetworkPolicy admits port 8080 from the gateway's namespace only (for the HTTPRoute:
  the namespace of the Gateway it attaches to).

Every overlay must also keep every rule of check_manifest.py, and its built-in kinds
must pass the strict schema of the minimum Kubernetes version (the HTTPRoute is a CRD,
not in those schemas: its fields are checked here).

Usage: check_examples.py [BASE_DIR]   (BASE_DIR: another base, to show what a rule finds)
"""

from __future__ import annotations

import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parents[1]
sys.path.insert(0, str(ROOT / "test" / "lib"))
sys.path.insert(0, str(HERE))

import check_manifest  # noqa: E402
import check_schema  # noqa: E402
import kubemanifest as km  # noqa: E402

EXAMPLES = ROOT / "examples" / "kubernetes"
NS_LABEL = "kubernetes.io/metadata.name"


def render_example(name: str, base: Path) -> list[dict]:
    """The example overlay, its references to ../../../kubernetes pointed at `base`."""
    text = (EXAMPLES / name / "kustomization.yaml").read_text()
    if base == km.BASE_DIR:
        return km.load(km.render(EXAMPLES / name))
    return km.load(km.render_overlay(text, base=base, base_ref="../../../kubernetes"))


def pods(objects: list[dict]) -> dict:
    return km.one(objects, "Deployment")["spec"]["template"]["metadata"].get("labels") or {}


def copies_problems(first: list[dict], second: list[dict]) -> list[str]:
    problems = []
    names = {(o["kind"], o["metadata"].get("namespace"), o["metadata"]["name"]) for o in first}
    clash = sorted(f"{k}/{n}" for k, ns, n in ((o["kind"], o["metadata"].get("namespace"), o["metadata"]["name"])
                                             for o in second) if (k, ns, n) in names)
    if clash:
        problems.append(f"both copies name {clash}: the second apply would overwrite the first")
    for mine, other, label in ((first, second, "the base"), (second, first, "the canary")):
        for where, selector in check_manifest.selectors(mine):
            if not check_manifest.matches(selector, pods(mine)):
                problems.append(f"{label}'s {where} does not select its own pods")
            if check_manifest.matches(selector, pods(other)):
                problems.append(f"{label}'s {where} {selector} also selects the other copy's pods")
        deployment = km.one(mine, "Deployment")["metadata"]["name"]
        target = km.one(mine, "HorizontalPodAutoscaler")["spec"]["scaleTargetRef"]["name"]
        if target != deployment:
            problems.append(f"{label}'s autoscaler scales {target}, not its Deployment {deployment}")
    return problems


def namespace_of(objects: list[dict]) -> tuple[str | None, list[str]]:
    spaces = {o["metadata"].get("namespace") for o in objects}
    if len(spaces) != 1 or None in spaces:
        return None, [f"the objects are not all in one namespace: {sorted(map(str, spaces))} "
                      "(an object without one goes wherever kubectl's context points)"]
    return spaces.pop(), []


def service_ports(objects: list[dict]) -> tuple[str, set]:
    service = km.one(objects, "Service")
    ports = set()
    for p in service["spec"].get("ports") or []:
        ports.add(p.get("port"))
        if p.get("name"):
            ports.add(p["name"])
    return service["metadata"]["name"], ports


def policy_namespaces(objects: list[dict]) -> tuple[list[str], list[str]]:
    """The namespaces the NetworkPolicy admits port 8080 from; problems if it admits more."""
    problems, spaces = [], []
    for rule in km.one(objects, "NetworkPolicy")["spec"].get("ingress") or []:
        peers = rule.get("from")
        if not peers:
            problems.append("a NetworkPolicy ingress rule admits every source: not narrowed to the gateway's namespace")
            continue
        for peer in peers:
            labels = (peer.get("namespaceSelector") or {}).get("matchLabels") or {}
            if set(peer) != {"namespaceSelector"} or set(labels) != {NS_LABEL} \
                    or (peer["namespaceSelector"].get("matchExpressions")):
                problems.append(f"a NetworkPolicy peer {peer} is not one namespace by its {NS_LABEL} label")
            else:
                spaces.append(labels[NS_LABEL])
    return spaces, problems


def route_problems(objects: list[dict]) -> list[str]:
    namespace, problems = namespace_of(objects)
    service, ports = service_ports(objects)
    routes = km.of_kind(objects, "HTTPRoute")
    if len(routes) != 1:
        return problems + [f"expected one HTTPRoute, found {len(routes)}"]
    route = routes[0]
    if route["apiVersion"] != "gateway.networking.k8s.io/v1":
        problems.append(f"HTTPRoute apiVersion {route['apiVersion']}, not gateway.networking.k8s.io/v1 (GA)")
    parents = route["spec"].get("parentRefs") or []
    gateway_spaces = {p.get("namespace", namespace) for p in parents if p.get("kind", "Gateway") == "Gateway"}
    if not parents or len(gateway_spaces) != 1:
        problems.append(f"the HTTPRoute should attach to one Gateway's namespace, attaches to {parents}")
    backends = [b for r in route["spec"].get("rules") or [] for b in r.get("backendRefs") or []]
    if not backends:
        problems.append("the HTTPRoute has no backendRefs")
    for b in backends:
        if (b.get("kind", "Service"), b.get("name"), b.get("namespace", namespace)) != ("Service", service, namespace) \
                or b.get("port") not in ports:
            problems.append(f"HTTPRoute backend {b}: not the Service {service} on one of its ports {sorted(map(str, ports))}")
    spaces, policy = policy_namespaces(objects)
    problems += policy
    if spaces and set(spaces) != gateway_spaces:
        problems.append(f"the NetworkPolicy admits {spaces}, the Gateway is in {sorted(gateway_spaces)}")
    if not spaces and not policy:
        problems.append("the NetworkPolicy admits no namespace")
    return problems


def ingress_problems(objects: list[dict]) -> list[str]:
    namespace, problems = namespace_of(objects)
    service, ports = service_ports(objects)
    ingresses = km.of_kind(objects, "Ingress")
    if len(ingresses) != 1:
        return problems + [f"expected one Ingress, found {len(ingresses)}"]
    spec = ingresses[0]["spec"]
    if not spec.get("ingressClassName"):
        problems.append("the Ingress names no ingressClassName: which controller serves it is left to a default")
    backends = [p["backend"] for r in spec.get("rules") or [] for p in (r.get("http") or {}).get("paths") or []]
    if spec.get("defaultBackend"):
        backends.append(spec["defaultBackend"])
    if not backends:
        problems.append("the Ingress has no backend")
    for b in backends:
        svc = b.get("service") or {}
        port = (svc.get("port") or {}).get("name") or (svc.get("port") or {}).get("number")
        if svc.get("name") != service or port not in ports:
            problems.append(f"Ingress backend {b}: not the Service {service} on one of its ports")
    spaces, policy = policy_namespaces(objects)
    problems += policy
    if len(set(spaces)) != 1:
        problems.append(f"the NetworkPolicy should admit the ingress controller's one namespace, admits {spaces}")
    return problems


def builtin_schema_problems(objects: list[dict]) -> list[str]:
    return check_schema.validate([o for o in objects if o["kind"] != "HTTPRoute"], check_schema.MINIMUM)


def main(argv: list[str]) -> int:
    base = Path(argv[0]).resolve() if argv else km.BASE_DIR
    base_objects = km.load(km.render(base))
    canary = render_example("canary", base)
    public = render_example("public", base)
    ingress = render_example("public-ingress", base)
    checked = [
        ("canary (examples/kubernetes/canary) beside the base: no shared name, each copy's selectors pick its own "
         "pods only", copies_problems(base_objects, canary)),
        ("public (examples/kubernetes/public): HTTPRoute to the Service, one namespace, NetworkPolicy from the "
         "Gateway's namespace only", route_problems(public)),
        ("public-ingress (examples/kubernetes/public-ingress): Ingress to the Service, one namespace, NetworkPolicy "
         "from the controller's namespace only", ingress_problems(ingress)),
        (f"the examples' built-in kinds against the strict schema of Kubernetes {check_schema.MINIMUM}",
         builtin_schema_problems(canary + public + ingress)),
    ]
    ok = check_manifest.report(checked)
    for name, objects in (("canary", canary), ("public", public), ("public-ingress", ingress)):
        print(f"  {name}: the base's rules")
        ok &= check_manifest.report(check_manifest.groups(objects))
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
