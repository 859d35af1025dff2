# Sourced by the check scripts (test/infra, test/kubernetes): a step heading, and the rule
# for a missing tool: a failure in CI (CI=true), a message and a skip elsewhere.
step() { printf '\n== %s\n' "$*"; }
missing_tool() {
  if [ "${CI:-}" = "true" ]; then
    echo "FAIL: $1 is required in CI" >&2
    exit 1
  fi
  echo "SKIPPED: $1 is not installed (CI=true makes this a failure)"
}
