#!/usr/bin/env bash
# The Kubernetes base's local checks (`make test-kubernetes`): everything about
# kubernetes/ that can be checked without a cluster. Each step prints what it checked.
# About 25 s once the venv and the image exist (the first run installs the venv, and
# builds the image if missing): checkov about 10 s, the container's stop 5-6 s.
#
# In CI (CI=true) a missing tool is a failure; elsewhere the kubectl and docker steps are
# skipped with a message when those tools are absent.
set -euo pipefail
cd "$(dirname "$0")/../.."

IMAGE="${KUBERNETES_IMAGE:-micro-service-as-code:local}"
CONTAINER="kubernetes-check-$$"
work="$(mktemp -d)"
rendered="$work/rendered/micro-service.yaml"

# shellcheck source=../lib/steps.sh
source test/lib/steps.sh

# Whatever happens, the container and the render go away.
cleanup() {
  docker rm --force "$CONTAINER" >/dev/null 2>&1 || true
  rm -rf "$work"
}
trap cleanup EXIT

step "Python tools in the project venv (test/requirements.txt, pinned)"
# shellcheck disable=SC1091  # sourced at runtime; checked on its own
source test/lib/venv.sh
python3 - <<'PY'
from importlib.metadata import version
print("  " + ", ".join(f"{p} {version(p)}" for p in ("kubernetes-validate", "jsonschema", "checkov", "PyYAML", "yamllint")))
PY

step "Render: kubectl kustomize kubernetes/"
if ! command -v kubectl >/dev/null 2>&1; then
  missing_tool "kubectl (Debian: kubernetes-client)"
  printf '\nkubernetes checks: skipped without kubectl\n'
  exit 0
fi
kubectl version --client 2>/dev/null | sed 's/^/  /'
mkdir -p "$(dirname "$rendered")"
kubectl kustomize kubernetes/ >"$rendered"
python3 - "$rendered" <<'PY'
import sys
sys.path.insert(0, "test/lib")
import kubemanifest as km
objects = km.load(open(sys.argv[1]).read())
print(f"  ok   {len(objects)} objects: " + ", ".join(f"{o['apiVersion']} {o['kind']}/{o['metadata']['name']}" for o in objects))
PY

step "yamllint (test/infra/yamllint.yml): kubernetes/, examples/kubernetes/"
yamllint --strict -c test/infra/yamllint.yml kubernetes/ examples/kubernetes/
echo "  ok   $(find kubernetes examples/kubernetes -name '*.yaml' | sort | tr '\n' ' ')"

step "The checkers can fail: broken copies of the render (test/kubernetes/test_checkers.py)"
K8S_RENDERED="$rendered" python3 -m unittest discover -s test/kubernetes -p 'test_*.py'

step "API schemas, offline and strict: the minimum version (1.30) and the newest shipped"
python3 test/kubernetes/check_schema.py "$rendered"

step "checkov on the render (no failed check; skips carry their reason in an annotation)"
checkov --directory "$(dirname "$rendered")" --framework kubernetes --skip-download --compact --quiet

step "The base's rules: wiring, lockdown, env, probes, stop timing, memory (kubernetes/README.md)"
python3 test/kubernetes/check_manifest.py "$rendered"

step "Readiness arithmetic of the manifest (kubernetes/README.md)"
python3 test/kubernetes/check_probe_math.py "$rendered"

step "The release: .travis.yml against Travis's schema, the release job, one repository, .ci/publish-image"
python3 test/kubernetes/check_release.py "$rendered"

step "The README's overlay example: image by digest, namespace, replicas, resources"
# Inline patches and directories under resources: need kustomize v4 (kubectl 1.21+);
# Debian 12's kubernetes-client is kubectl 1.20 with kustomize v2.0.3.
minor="$(kubectl version --client -o json 2>/dev/null | python3 -c 'import json,sys; print(json.load(sys.stdin)["clientVersion"]["minor"].rstrip("+"))' || echo 0)"
if [ "${minor:-0}" -ge 21 ]; then
  python3 test/kubernetes/check_overlay_example.py
else
  echo "SKIPPED: kubectl 1.${minor} has a kustomize older than v4, which cannot render the overlay example (the base rendered above)"
  report_skip "the overlay example (kubectl 1.${minor}'s kustomize is older than v4)"
fi

step "The examples (examples/kubernetes): a canary beside the base, the Gateway API route, the Ingress"
# Components and `labels:` need kustomize v4.1 (kubectl 1.22 or later).
if [ "${minor:-0}" -ge 22 ]; then
  python3 test/kubernetes/check_examples.py
else
  echo "SKIPPED: kubectl 1.${minor} has a kustomize older than v4.1, which cannot render the examples"
fi

step "The pod's container settings under Docker with the local image ($IMAGE)"
if ! command -v docker >/dev/null 2>&1 || ! docker info >/dev/null 2>&1; then
  missing_tool "docker (with a running daemon)"
else
  # Built every time (Docker's cache makes that about a second when nothing changed): an
  # image left by an earlier build would test old code.
  make --no-print-directory image IMAGE="$IMAGE" | tail -n 1
  python3 test/kubernetes/check_container.py "$rendered" "$IMAGE" "$CONTAINER"
fi

printf '\nkubernetes checks: all passed\n'
