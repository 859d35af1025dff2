"""Validates the rendered objects offline against the Kubernetes API's JSON schemas, as
kubernetes-validate (PyPI, pinned in test/requirements.txt) ships them: strict (a field
the API does not have is an error, so a typo cannot pass), for the minimum version the
base supports and for the newest version the package has. An object whose kind the
schemas do not have is an error here (the package's CLI only warns).

It also shows where the minimum comes from: the preStop `sleep` action is not in the
1.28 API, so the 1.28 schema must reject the Deployment on exactly that field. (1.29 has
the field as alpha, behind a feature gate that is off by default; 1.30 turns it on.)

Usage: check_schema.py RENDERED.yaml
"""

from __future__ import annotations

import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parents[1]
sys.path.insert(0, str(ROOT / "test" / "lib"))

import kubemanifest as km  # noqa: E402

MINIMUM = "1.30"  # kubernetes/README.md states it; the preStop sleep action is on by default from here
BEFORE_SLEEP = "1.28"  # the last API without lifecycle.preStop.sleep


def validate(objects: list[dict], version: str) -> list[str]:
    import kubernetes_validate
    from kubernetes_validate import utils

    problems = []
    for obj in objects:
        what = f"{obj['kind']}/{obj['metadata']['name']}"
        try:
            kubernetes_validate.validate(obj, version, strict=True)
        except utils.ValidationError as e:
            path = ".".join(str(p) for p in e.path)
            problems.append(f"{what} against {version}: {path}: {e.message}")
        except utils.SchemaNotFoundError as e:
            problems.append(f"{what}: {e.message}")
    return problems


def main(argv: list[str]) -> int:
    from importlib.metadata import version as package_version

    from kubernetes_validate import utils

    objects = km.load(Path(argv[0]).read_text())
    shipped = utils.all_versions()
    newest = utils.major_minor(shipped[-1])
    print(f"  kubernetes-validate {package_version('kubernetes-validate')}: schemas "
          f"{utils.major_minor(shipped[0])} to {newest}; {len(objects)} objects: "
          + ", ".join(o["kind"] for o in objects))
    failed = False
    for version in (MINIMUM, newest):
        problems = validate(objects, version)
        print(f"  {'ok  ' if not problems else 'FAIL'} strict schema of Kubernetes {version}")
        for p in problems:
            print(f"       {p}")
        failed |= bool(problems)

    older = validate(objects, BEFORE_SLEEP)
    sleep_only = older and all("preStop" in p and "'sleep' was unexpected" in p for p in older)
    print(f"  {'ok  ' if sleep_only else 'FAIL'} Kubernetes {BEFORE_SLEEP} rejects the preStop sleep action, "
          f"and nothing else: {older[0] if older else 'it accepted everything'}")
    failed |= not sleep_only
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
