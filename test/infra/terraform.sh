#!/usr/bin/env bash
# Terraform itself on the module, without AWS (run.sh calls this; it also runs alone):
# fmt -check; init from a local provider mirror and validate, for terraform/, its
# examples (the README's usage) and the fixture test/fixtures/wrapper; terraform test on
# terraform/tests (a mocked AWS provider, and the rollout planned by the real provider
# offline) and on a copy of the module with a hard-coded instance field edited
# (test/infra/edits), whose JSON output test/infra/check_terraform_test.py reads.
#
# Needs a terraform binary (>= 1.7, for mock providers; the edited copy's test needs
# 1.11, for state_key, and is skipped with a message before) and hashicorp/aws in a
# filesystem mirror (TF_PROVIDER_MIRROR, default /opt/tf-plugins). Neither can be
# installed from the registries this project's machines reach, so without them this
# says so and succeeds, also in CI; with them, any failure fails.
#
# Nothing is written into the work tree: init and test run on a copy in a temp dir
# (.terraform/, lock files), with the provider hard-linked from the mirror when the
# temp dir is on the same file system.
set -euo pipefail
cd "$(dirname "$0")/../.."
# shellcheck source=../lib/steps.sh
source test/lib/steps.sh

MIRROR="${TF_PROVIDER_MIRROR:-/opt/tf-plugins}"
ROLLOUT_TEST=tests/rollout.tftest.hcl

skip() {
  echo "  skipped: no terraform binary / provider mirror here${1:+ ($1)} (not installable from this machine's registries)"
  report_skip "terraform validate and test: ${1:-no terraform binary}"
  exit 0
}

if ! command -v terraform >/dev/null 2>&1; then
  skip
fi
if ! compgen -G "$MIRROR/registry.terraform.io/hashicorp/aws/*/*/terraform-provider-aws*" >/dev/null; then
  skip "no hashicorp/aws under $MIRROR"
fi

# Offline and quiet: no version check against HashiCorp, no prompts, and no AWS
# credentials from the environment (none is needed; the tests must show it).
export CHECKPOINT_DISABLE=1 TF_IN_AUTOMATION=1 TF_INPUT=0
unset AWS_ACCESS_KEY_ID AWS_SECRET_ACCESS_KEY AWS_SESSION_TOKEN AWS_PROFILE

work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT

cat >"$work/terraformrc" <<EOF
provider_installation {
  filesystem_mirror {
    path    = "$MIRROR"
    include = ["registry.terraform.io/*/*"]
  }
  direct {
    exclude = ["registry.terraform.io/*/*"]
  }
}
EOF
export TF_CLI_CONFIG_FILE="$work/terraformrc"

tf_version="$(terraform version | sed -n '1s/^Terraform v//p')"
if [ "$(printf '%s\n' 1.7.0 "$tf_version" | sort -V | head -n1)" != 1.7.0 ]; then
  skip "terraform $tf_version is older than 1.7, which mock providers need"
fi

# Runs a command quietly; shows its output only when it fails.
quiet() {
  if ! "$@" >"$work/out.log" 2>&1; then
    cat "$work/out.log"
    echo "FAIL: $*" >&2
    exit 1
  fi
}

terraform fmt -check -recursive -diff terraform test/fixtures
echo "  ok   terraform fmt -check: terraform/ and test/fixtures/ (.tf, .tftest.hcl, .tfmock.hcl)"

tar --exclude=.terraform --exclude=.terraform.lock.hcl -cf - terraform test/fixtures/wrapper | tar -xf - -C "$work"

quiet terraform -chdir="$work/terraform" init -backend=false -input=false
aws_version="$(sed -n 's/^ *version *= *"\(.*\)"/\1/p' "$work/terraform/.terraform.lock.hcl" | head -n1)"
quiet terraform -chdir="$work/terraform" validate
echo "  ok   terraform $tf_version validate: terraform/ and its tests (hashicorp/aws $aws_version from $MIRROR)"

# The README's usage, as a module call a user would copy (examples/).
for example in "$work"/terraform/examples/*/; do
  quiet terraform -chdir="$example" init -backend=false -input=false
  quiet terraform -chdir="$example" validate
  echo "  ok   terraform validate: terraform/examples/$(basename "$example") (the README's usage)"
done

# The fixture's end-to-end test needs hashicorp/http (tests/probe), which the mirror
# lacks, and AWS: init and validate it without its tests directory.
quiet terraform -chdir="$work/test/fixtures/wrapper" init -backend=false -input=false -test-directory=no-tests-here
quiet terraform -chdir="$work/test/fixtures/wrapper" validate -no-tests
echo "  ok   terraform validate: test/fixtures/wrapper (without its AWS end-to-end tests)"

# The rollout file runs apart, with -verbose for its plans: each verbose message also
# carries the provider's whole schema (13 MB), too much for every run.
filters=()
for f in "$work"/terraform/tests/*.tftest.hcl; do
  f="tests/${f##*/}"
  if [ "$f" != "$ROLLOUT_TEST" ]; then filters+=("-filter=$f"); fi
done
# Both at once (two cores: about a third faster), each in its own copy of the module so
# that the two never share a working directory.
cp -al "$work/terraform" "$work/terraform-rollout"
terraform -chdir="$work/terraform" test -json "${filters[@]}" >"$work/mocked.jsonl" &
mocked=$!
terraform -chdir="$work/terraform-rollout" test -json -verbose -filter="$ROLLOUT_TEST" >"$work/rollout.jsonl" &
rollout=$!
rc=0
wait "$mocked" || rc=$?
wait "$rollout" || rc=$?

# Issue 16: a hard-coded field of what makes an instance, edited, rolls the fleet. The
# edit is made here, on a copy of the module (tests/edited/hop_limit), and
# test/infra/edits/hop_limit.tftest.hcl plans that copy against the state of the
# unedited module (state_key).
edit_flag=()
if [ "$(printf '%s\n' 1.11.0 "$tf_version" | sort -V | head -n1)" = 1.11.0 ]; then
  edited="$work/terraform/tests/edited"
  mkdir -p "$edited/hop_limit"
  cp -r "$work"/terraform/*.tf "$work/terraform/templates" "$edited/hop_limit/"
  sed -i 's/^\( *http_put_response_hop_limit *= *\)1$/\12/' "$edited/hop_limit/launch_template.tf"
  if [ "$(diff "$work/terraform/launch_template.tf" "$edited/hop_limit/launch_template.tf" | grep -c '^>')" != 1 ]; then
    echo "FAIL: the hop limit edit did not change exactly one line of launch_template.tf" >&2
    exit 1
  fi
  cp test/infra/edits/hop_limit.tftest.hcl "$edited/"
  quiet terraform -chdir="$work/terraform" init -backend=false -input=false -test-directory=tests/edited
  terraform -chdir="$work/terraform" test -json -verbose -test-directory=tests/edited >"$work/edited.jsonl" || rc=$?
  edit_flag=(--edit "$work/edited.jsonl")
else
  echo "  skipped: the edited-field test (terraform $tf_version; state_key needs 1.11)"
fi
python3 test/infra/check_terraform_test.py --rollout "${edit_flag[@]}" "$work/mocked.jsonl" "$work/rollout.jsonl" || rc=$?
if [ "$rc" -ne 0 ]; then
  echo "FAIL: terraform test (details: cd terraform && terraform init && terraform test)" >&2
  exit 1
fi
