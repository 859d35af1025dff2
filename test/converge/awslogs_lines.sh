#!/usr/bin/env bash
# Lines arriving, by hand and as root (not part of `make test`): the module's unit's
# container sends its access log through Docker's awslogs driver to moto, and the lines
# are read back. awslogs_lines.py says what it changes and why it needs root.
#
#   bash test/converge/awslogs_lines.sh IMAGE      (e.g. micro-service-as-code:local)
set -euo pipefail
cd "$(dirname "$0")/../.."
[ $# -eq 1 ] || { echo "usage: $0 IMAGE" >&2; exit 2; }

# The unit is rendered with the infra checks' venv (python-hcl2), the rest runs in the
# converge's (moto, boto3).
# shellcheck disable=SC1091  # sourced at runtime; checked on its own
source test/lib/venv.sh test/requirements.txt
render_python="$(command -v python3)"
deactivate
# shellcheck disable=SC1091
source test/lib/venv.sh test/converge/requirements.txt
exec python3 test/converge/awslogs_lines.py "$1" "$render_python"
