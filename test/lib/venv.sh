# Sourced by test scripts: creates (once) and activates a virtualenv holding the pinned
# tools of a requirements file (the first argument; default test/requirements.txt).
# The venv lives in the user's cache, named after the file's content: a clean clone reuses
# it instead of spending minutes installing checkov again, and a change of pins makes a
# new one. (Old ones are left there: rm -rf ~/.cache/micro-service-as-code.)
_root="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
_req="${1:-$_root/test/requirements.txt}"
_cache="${XDG_CACHE_HOME:-$HOME/.cache}/micro-service-as-code"
_venv="$_cache/venv-$(basename "$_req" .txt)-$(sha256sum <"$_req" | cut -c1-16)"
mkdir -p "$_cache"
# Two checkouts may test at once: one installs, the other waits for it.
exec {_venv_lock}>"$_venv.lock"
flock "$_venv_lock"
if [ ! -f "$_venv/.complete" ]; then
  echo "  installing $(grep -v '^#' "$_req" | tr '\n' ' ')into $_venv"
  rm -rf "$_venv"
  python3 -m venv "$_venv"
  "$_venv/bin/pip" install --quiet --disable-pip-version-check -r "$_req"
  touch "$_venv/.complete"
fi
flock -u "$_venv_lock"
exec {_venv_lock}>&-
# shellcheck disable=SC1091
source "$_venv/bin/activate"
