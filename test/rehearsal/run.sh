#!/usr/bin/env bash
# The rollout rehearsal (`make test-rehearsal`, README "Rehearsal"): the module's fleet on
# 127.0.0.1 with HAProxy as its ALB, under load. Builds the image twice (v1, v2), then
# test/rehearsal/rehearse.py runs the phases and fails on a broken promise.
# Everything it starts is removed by the trap below, also on failure or Ctrl-C:
# HAProxy, the containers named rehearsal-<pid>-*, the two images, the temp dir.
set -euo pipefail
cd "$(dirname "$0")/../.."
# shellcheck source=../lib/steps.sh
source test/lib/steps.sh

missing=()
command -v haproxy >/dev/null 2>&1 || missing+=(haproxy)
if ! command -v docker >/dev/null 2>&1 || ! docker info >/dev/null 2>&1; then missing+=(docker); fi
if [ ${#missing[@]} -gt 0 ]; then
  if [ "${CI:-}" = true ]; then
    echo "rehearsal: FAILED: ${missing[*]} not available (CI must have them: make setup installs them)" >&2
    exit 1
  fi
  echo "rehearsal: SKIPPED: needs ${missing[*]} (apt-get install haproxy docker.io, and a running dockerd)"
  report_part_skipped "needs ${missing[*]}"
  exit 0
fi

export PYTHONDONTWRITEBYTECODE=1
# The rehearsal's own pieces first: its math, its replay, its rewrite of the unit's line.
if ! out="$(python3 test/rehearsal/test_pieces.py 2>&1)"; then
  echo "$out" >&2
  echo "rehearsal: FAILED: test/rehearsal/test_pieces.py" >&2
  exit 1
fi
echo "rehearsal: own unit tests: $(tail -n 1 <<<"$out")"

prefix="rehearsal-$$"
old_image="micro-service-as-code:rehearsal-v1"
new_image="micro-service-as-code:rehearsal-v2"
port_base="${REHEARSAL_PORT_BASE:-21000}"
work="$(mktemp -d /tmp/rehearsal.XXXXXX)"

rehearsal_pid=""
cleanup() {
  local rc=$?
  # Interrupted: stop the rehearsal and the docker commands it is running first, so
  # that none of them creates a container after the sweep below.
  if [ -n "$rehearsal_pid" ] && kill -0 "$rehearsal_pid" 2>/dev/null; then
    pkill -TERM -P "$rehearsal_pid" 2>/dev/null || true
    kill "$rehearsal_pid" 2>/dev/null || true
    wait "$rehearsal_pid" 2>/dev/null || true
  fi
  if [ -f "$work/haproxy.pid" ]; then kill "$(cat "$work/haproxy.pid")" 2>/dev/null || true; fi
  if [ "$rc" -ne 0 ] && [ -s "$work/haproxy.log" ]; then
    echo "rehearsal: the last lines of HAProxy's log:" >&2
    grep -v '^\[' "$work/haproxy.log" | tail -n 20 >&2 || true
  fi
  docker ps -aq --filter "name=^$prefix-" | xargs -r docker rm -f >/dev/null 2>&1 || true
  docker rmi "$old_image" "$new_image" >/dev/null 2>&1 || true
  rm -rf "$work"
  exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

for v in v1 v2; do
  start=$SECONDS
  make --no-print-directory image APP_VERSION="$v" IMAGE="micro-service-as-code:rehearsal-$v" >"$work/build-$v.log" 2>&1 \
    || { cat "$work/build-$v.log" >&2; echo "rehearsal: FAILED: make image APP_VERSION=$v" >&2; exit 1; }
  echo "rehearsal: built micro-service-as-code:rehearsal-$v (APP_VERSION=$v) in $((SECONDS - start)) s"
done

# python-hcl2 (brought by checkov) reads terraform/variables.tf.
# shellcheck disable=SC1091
source test/lib/venv.sh
# In the background and waited for, so that a signal runs the trap at once.
python test/rehearsal/rehearse.py --root "$PWD" --workdir "$work" --prefix "$prefix" \
  --old "$old_image" --new "$new_image" --port-base "$port_base" "$@" &
rehearsal_pid=$!
wait "$rehearsal_pid"
echo "rehearsal: total ${SECONDS} s"
