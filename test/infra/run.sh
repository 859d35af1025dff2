#!/usr/bin/env bash
# The deployment's local checks (`make test-infra`): everything about terraform/, the
# end-to-end fixtures and the pipeline that can be checked without AWS or RubyGems.
# Each step prints what it checked. About 25 s once the venv and the image exist (the
# first run installs the venv, and builds the image if missing), 20 s of it Terraform
# (test/infra/terraform.sh), which runs when a terraform binary and a provider mirror
# are there.
#
# In CI (CI=true) a missing tool is a failure; elsewhere the docker and ruby steps are
# skipped with a message when those tools are absent.
set -euo pipefail
cd "$(dirname "$0")/../.."

IMAGE="${INFRA_IMAGE:-micro-service-as-code:local}"
CONTAINER="infra-check-$$"

# shellcheck source=../lib/steps.sh
source test/lib/steps.sh

# Whatever happens, the container this script starts goes away.
cleanup() { docker rm --force "$CONTAINER" >/dev/null 2>&1 || true; }
trap cleanup EXIT

step "Python tools in the project venv (test/requirements.txt, pinned)"
# shellcheck disable=SC1091  # sourced at runtime; checked on its own
source test/lib/venv.sh
python3 - <<'EOF'
from importlib.metadata import version
print("  " + ", ".join(f"{p} {version(p)}" for p in ("checkov", "bc-python-hcl2", "PyYAML", "yamllint")))
EOF

step "The checkers can fail: synthetic broken inputs (test/infra/test_checkers.py)"
python3 -m unittest discover -s test/infra -p 'test_*.py'

step "make test's runner: a failing part, the parts after it, the summary (test/lib/test_run_parts.sh)"
bash test/lib/test_run_parts.sh

step "Module contract: HCL2 parse, references, variables, outputs, fixtures, rollout wiring"
python3 test/infra/check_module_contract.py

step "Health-check arithmetic of the defaults (terraform/README.md)"
python3 test/infra/check_health_math.py

step "checkov on terraform/ (no failed check; skips carry their reason inline)"
# Not terraform/tests: test files are no infrastructure (and checkov cannot parse them all).
# Not terraform/examples: a call of this same module, whose resources checkov sees here.
checkov --directory terraform --framework terraform --skip-download --compact --quiet --skip-path terraform/tests --skip-path terraform/examples
grep -rhn 'checkov:skip=' terraform | sed 's/^ *#*/  skipped:/'

step "Terraform: fmt, init from a local provider mirror, validate (module, examples/, fixture), terraform test (mocked AWS; the rollout planned offline; an edited instance field rolls)"
# Skips with a message when there is no terraform binary or provider mirror, even in CI:
# nothing can install them here. .travis.yml's deploy-test stage runs fmt, validate and
# terraform test too, with a pinned Terraform and the registry's provider.
bash test/infra/terraform.sh

step "User data: render the cloud-config template, parse it, check its units"
python3 test/infra/check_cloud_config.py

step "yamllint (test/infra/yamllint.yml): kitchen.yml, .travis.yml, the InSpec profile"
yamllint --strict -c test/infra/yamllint.yml kitchen.yml .travis.yml test/integration/default/inspec.yml
echo "  ok   kitchen.yml .travis.yml test/integration/default/inspec.yml (the rendered cloud-config: above)"

step "ruby -c: the InSpec controls and the Gemfile"
if command -v ruby >/dev/null 2>&1; then
  for f in test/integration/default/controls/*.rb Gemfile; do
    printf '  %s: ' "$f"
    ruby -c "$f"
  done
else
  missing_tool ruby
fi

step "The unit's docker run against the local image ($IMAGE)"
if ! command -v docker >/dev/null 2>&1 || ! docker info >/dev/null 2>&1; then
  missing_tool "docker (with a running daemon)"
else
  # Built every time (Docker's cache makes that about a second when nothing changed): an
  # image left by an earlier build would test old code.
  make --no-print-directory image IMAGE="$IMAGE" | tail -n 1
  python3 test/infra/check_container.py "$IMAGE" "$CONTAINER"
fi

printf '\ninfra checks: all passed\n'
