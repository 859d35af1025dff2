#!/usr/bin/env bash
# `make test-converge`: test/fixtures/wrapper applied, rolled, failed, recovered and
# destroyed against moto's server mode on 127.0.0.1 (converge.py walks the journey,
# moto_gaps.py runs moto with its gaps for this module closed). README.md in this
# directory says what it proves and what it cannot.
#
# Needs the terraform binary and the hashicorp/aws mirror that test/infra/terraform.sh
# uses (TF_PROVIDER_MIRROR, default /opt/tf-plugins); neither can be installed from the
# registries this project's machines reach, so without them this says so and succeeds.
# moto comes from PyPI, pinned (requirements.txt), into its own venv (.venv-converge):
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

venv=.venv-converge
req=test/converge/requirements.txt
if [ ! -x "$venv/bin/python" ]; then
  python3 -m venv "$venv"
fi
if ! cmp -s "$req" "$venv/.installed-requirements" 2>/dev/null; then
  echo "  installing $(grep -v '^#' "$req" | tr '\n' ' ')into $venv"
  "$venv/bin/pip" install --quiet --disable-pip-version-check -r "$req"
  cp "$req" "$venv/.installed-requirements"
fi

# The provider reads a CA bundle from AWS_CA_BUNDLE when set; the emulator is plain
# HTTP on loopback, and no AWS credentials of the environment may reach it.
exec env -u AWS_CA_BUNDLE -u AWS_PROFILE -u AWS_ACCESS_KEY_ID -u AWS_SECRET_ACCESS_KEY -u AWS_SESSION_TOKEN \
  "$venv/bin/python" test/converge/converge.py "$MIRROR"
