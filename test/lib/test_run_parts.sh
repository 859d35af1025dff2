#!/usr/bin/env bash
# The runner behind `make test` (test/lib/run_parts.sh), on fixture parts of each outcome
# (test/lib/fixtures/parts.mk): a failed part shows as failed in the summary, the parts
# after it still run, skips carry their reason, and the exit status is non-zero.
set -uo pipefail
cd "$(dirname "$0")/../.."

fail() { echo "run_parts test: FAILED: $*" >&2; printf '%s\n' "$out" >&2; exit 1; }

out="$(RUN_PARTS_MAKEFILE=test/lib/fixtures/parts.mk bash test/lib/run_parts.sh \
  part-passes part-fails part-skips-some part-skipped part-after-failure 2>&1)"
rc=$?

[ "$rc" -eq 1 ] || fail "exit status $rc, expected 1 (a part failed)"
for part in part-passes part-fails part-skips-some part-skipped part-after-failure; do
  grep -qx "$part ran" <<<"$out" || fail "$part did not run"
done
grep -q '^\[2/5\] part-fails: started ' <<<"$out" || fail "no progress line for part 2 of 5"
summary="$(sed -n '/^== Summary$/,$p' <<<"$out")"
expect_row() { # PART RESULT
  grep -Eq "^  $1 +$2 +[0-9]+s$" <<<"$summary" || fail "no summary row: $1 $2"
}
expect_row part-passes 'passed'
expect_row part-fails 'FAILED \(exit [0-9]+\)'
expect_row part-skips-some 'passed \(skipped: no widget\)'
expect_row part-skipped 'skipped: no gadget'
expect_row part-after-failure 'passed'
grep -Eq '^  total +[0-9]+s$' <<<"$summary" || fail "no total row"
[ "$(tail -n1 <<<"$out")" = "3 passed, 1 failed, 1 skipped" ] || fail "last line: $(tail -n1 <<<"$out")"

out="$(RUN_PARTS_MAKEFILE=test/lib/fixtures/parts.mk bash test/lib/run_parts.sh part-passes part-skips-some 2>&1)"
rc=$?
[ "$rc" -eq 0 ] || fail "exit status $rc with no failed part"
[ "$(tail -n1 <<<"$out")" = "2 passed, 0 failed" ] || fail "last line: $(tail -n1 <<<"$out")"
# A part started in the background: its output is printed whole at its turn, between the
# parts before and after it, and its failure counts.
out="$(RUN_PARTS_BACKGROUND=part-slow-background RUN_PARTS_MAKEFILE=test/lib/fixtures/parts.mk \
  bash test/lib/run_parts.sh part-passes part-slow-background part-after-failure 2>&1)"
rc=$?
[ "$rc" -eq 1 ] || fail "exit status $rc, expected 1 (the background part failed)"
grep -q '^\[2/3\] part-slow-background: started .* in the background' <<<"$out" || fail "no background start line"
order="$(grep -E '^part-(passes|slow-background|after-failure) ran$' <<<"$out" | paste -sd ' ')"
[ "$order" = "part-passes ran part-slow-background ran part-after-failure ran" ] || fail "output order: $order"
summary="$(sed -n '/^== Summary$/,$p' <<<"$out")"
expect_row part-slow-background 'FAILED \(exit [0-9]+\)'
echo "  ok   a failed part is reported, the others still run, exit status 1; skips carry their reason; a background part's output comes at its turn"
