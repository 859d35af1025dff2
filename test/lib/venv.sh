# Sourced by test scripts: creates (once) and activates the project's Python virtualenv
# with the pinned tools in test/requirements.txt. Re-installs when the pins change.
_root="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
_venv="$_root/.venv"
_req="$_root/test/requirements.txt"
if [ ! -x "$_venv/bin/python" ]; then
  python3 -m venv "$_venv"
fi
if ! cmp -s "$_req" "$_venv/.installed-requirements" 2>/dev/null; then
  "$_venv/bin/pip" install --quiet --disable-pip-version-check -r "$_req"
  cp "$_req" "$_venv/.installed-requirements"
fi
# shellcheck disable=SC1091
source "$_venv/bin/activate"
