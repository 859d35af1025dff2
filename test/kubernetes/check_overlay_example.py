"""Renders the overlay example of kubernetes/README.md (the kustomization.yaml between the
overlay-example markers), with its reference to the base pointed at this checkout, and
checks that it does what the README says: the image from another repository pinned to a
digest, another namespace, the replica count left to the autoscaler, resources changed, the objects valid for the
minimum Kubernetes version, and every rule of check_manifest.py still holding (its
replica count aside).

Usage: check_overlay_example.py
"""

from __future__ import annotations

import re
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parents[1]
sys.path.insert(0, str(ROOT / "test" / "lib"))
sys.path.insert(0, str(HERE))

import check_manifest  # noqa: E402
import check_schema  # noqa: E402
import kubemanifest as km  # noqa: E402

README = ROOT / "kubernetes" / "README.md"
BEGIN, END = "<!-- overlay-example:begin -->", "<!-- overlay-example:end -->"
BASE_REF = re.compile(r"^\s*-\s*(\S*micro-service-as-code//kubernetes\S*)\s*$", re.M)


def example(readme: Path = README) -> str:
    text = readme.read_text()
    if BEGIN not in text or END not in text:
        raise SystemExit(f"{readme} has no {BEGIN} ... {END} markers")
    block = text.split(BEGIN, 1)[1].split(END, 1)[0]
    m = re.search(r"```yaml\n(.*?)```", block, re.S)
    if not m:
        raise SystemExit("no ```yaml block between the overlay-example markers")
    return m.group(1)


def expectations(kustomization: str) -> dict:
    """What the overlay asks for, read from its own text."""
    import yaml

    k = yaml.safe_load(kustomization)
    image = k["images"][0]
    return {"namespace": k["namespace"], "repository": image["newName"], "digest": image["digest"]}


def overlay_problems(objects: list[dict], expected: dict) -> list[str]:
    problems = []
    deployment = km.one(objects, "Deployment")
    container = km.app_container(deployment)
    # kustomize v5 keeps the tag beside the digest (name:tag@sha256:...), older ones
    # drop it; either way the runtime pulls by the digest.
    name, at, digest = container["image"].partition("@")
    if not at or digest != expected["digest"] or name.split(":")[0] != expected["repository"]:
        problems.append(f"image {container['image']}, not {expected['repository']}[:tag]@{expected['digest']}")
    wrong_ns = [o["kind"] for o in objects if o["metadata"].get("namespace") != expected["namespace"]]
    if wrong_ns:
        problems.append(f"not in namespace {expected['namespace']}: {wrong_ns}")
    if "replicas" in deployment["spec"]:
        problems.append("the Deployment still sets replicas: every apply would undo the autoscaler's count")
    problems += check_schema.validate(objects, check_schema.MINIMUM)
    return problems


def main() -> int:
    kustomization = example()
    m = BASE_REF.search(kustomization)
    if not m:
        raise SystemExit("the example does not refer to the base as <repository>//kubernetes")
    objects = km.load(km.render_overlay(kustomization, base_ref=m.group(1)))
    expected = expectations(kustomization)
    deployment = km.one(objects, "Deployment")
    container = km.app_container(deployment)
    problems = overlay_problems(objects, expected)
    print(f"  {'ok  ' if not problems else 'FAIL'} README's overlay ({m.group(1)} -> this checkout): "
          f"image {container['image']}, namespace {expected['namespace']}, replicas {deployment['spec'].get('replicas', 'left to the autoscaler')}, "
          f"resources {container['resources']}; strict schema of Kubernetes {check_schema.MINIMUM}")
    for p in problems:
        print(f"       {p}")
    ok = check_manifest.report(check_manifest.groups(objects))
    return 0 if ok and not problems else 1


if __name__ == "__main__":
    sys.exit(main())
