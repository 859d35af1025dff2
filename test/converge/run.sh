#!/usr/bin/env bash
# `make test-converge`: test/fixtures/wrapper applied, rolled, failed, recovered and
# destroyed against moto's server mode on 127.0.0.1 (converge.py walks the journey,
# moto_gaps.py runs moto with its gaps for this module closed). README.md in this
# directory says what it proves and what it cannot.
#
# Needs the terraform binary and the hashicorp/aws mirror that test/infra/terraform.sh
# uses (TF_PROVIDER_MIRROR, default /opt/tf-plugins); neither can be installed from the
# registries this project's machines reach, so without them this says so and succeeds.
# moto comes from PyPI, pinned (requirements.txt), into its own venv (test/lib/venv.sh):
# its Flask/boto stack would otherwise share a venv with checkov's pins.
set -euo pipefail
cd "$(dirname "$0")/../.."
# shellcheck source=../lib/steps.sh
source test/lib/steps.sh

MIRROR="${TF_PROVIDER_MIRROR:-/opt/tf-plugins}"

skip() {
  echo "  skipped: $1 (not installable from this machine's registries)"
  report_part_skipped "$1"
  exit 0
}
command -v terraform >/dev/null 2>&1 || skip "no terraform binary"
compgen -G "$MIRROR/registry.terraform.io/hashicorp/aws/*/*/terraform-provider-aws*" >/dev/null ||
  skip "no hashicorp/aws under $MIRROR"

# shellcheck disable=SC1091  # sourced at runtime; checked on its own
source test/lib/venv.sh test/converge/requirements.txt

# The provider reads a CA bundle from AWS_CA_BUNDLE when set; the emulator is plain
# HTTP on loopback, and no AWS credentials of the environment may reach it.
exec env -u AWS_CA_BUNDLE -u AWS_PROFILE -u AWS_ACCESS_KEY_ID -u AWS_SECRET_ACCESS_KEY -u AWS_SESSION_TOKEN \
  python3 test/converge/converge.py "$MIRROR"
