# Sourced by the test scripts: a step heading, the rule for a missing tool (a failure in
# CI (CI=true), a message and a skip elsewhere), and how a part tells `make test`'s
# summary what it skipped (test/lib/run_parts.sh reads $TEST_SKIP_LOG).
step() { printf '\n== %s\n' "$*"; }

# Some checks of this part did not run, for REASON.
report_skip() { # REASON
  [ -z "${TEST_SKIP_LOG:-}" ] || printf '%s\n' "$1" >>"$TEST_SKIP_LOG"
}
# None of this part ran, for REASON.
report_part_skipped() { # REASON
  [ -z "${TEST_SKIP_LOG:-}" ] || printf 'ALL\t%s\n' "$1" >>"$TEST_SKIP_LOG"
}

missing_tool() {
  if [ "${CI:-}" = "true" ]; then
    echo "FAIL: $1 is required in CI" >&2
    exit 1
  fi
  echo "SKIPPED: $1 is not installed (CI=true makes this a failure)"
  report_skip "no $1"
}
