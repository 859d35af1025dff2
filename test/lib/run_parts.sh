#!/usr/bin/env bash
# Runs make targets one after another and ends with a summary (`make test` runs its parts
# with it): `[3/9] test-image` when a part starts, its result and time when it ends, and
# at the end one table, part by part, then `N passed, N failed`. A failed part does not
# stop the others; the exit status is 1 if any failed.
#
# A part says that it skipped something by writing the reason to $TEST_SKIP_LOG
# (test/lib/steps.sh: report_skip, report_part_skipped), so that the table can say why.
#
# Parts named in RUN_PARTS_BACKGROUND (space-separated) start at once, beside the others:
# parts that mostly wait (the converge waits on Terraform and the emulator) then cost no
# time of their own. Their output goes to a log, named when they start, and is printed
# whole at their turn, so that it never interleaves with another part's.
#
# Usage: run_parts.sh PART...   (RUN_PARTS_MAKEFILE picks another makefile: the runner's
# own test uses a fixture)
set -uo pipefail

makefile="${RUN_PARTS_MAKEFILE:-Makefile}"
parts=("$@")
total=${#parts[@]}
[ "$total" -gt 0 ] || { echo "usage: $0 PART..." >&2; exit 2; }

logs="$(mktemp -d)"
trap 'rm -rf "$logs"' EXIT

duration() { # SECONDS -> "1m 05s" or "42s"
  local s=$1
  if [ "$s" -ge 60 ]; then printf '%dm %02ds' $((s / 60)) $((s % 60)); else printf '%ds' "$s"; fi
}

# What a part's skip log says, in one line: "" (nothing skipped), or the reasons.
skip_reasons() { # FILE
  [ -s "$1" ] || return 0
  sed 's/^ALL\t//' "$1" | paste -sd ';' | sed 's/;/; /g'
}

# Runs part N, its skips going to $logs/N.skips.
run_part() { # N PART
  TEST_SKIP_LOG="$logs/$1.skips" make --no-print-directory -f "$makefile" "$2"
}

# Starts part N in the background; its output goes to $logs/N.out.
declare -A background_pid background_started
start_in_background() { # N PART
  background_started[$1]=$SECONDS
  run_part "$1" "$2" >"$logs/$1.out" 2>&1 &
  background_pid[$1]=$!
  printf '[%d/%d] %s: started %s in the background (tail -f %s)\n' "$1" "$total" "$2" "$(date +%H:%M:%S)" "$logs/$1.out"
}

results=() # part, result and time, joined by $sep (a result holds spaces and tabs)
sep=$'\x1f'
passed=0 failed=0 skipped=0
run_started=$SECONDS
for i in "${!parts[@]}"; do
  : >"$logs/$((i + 1)).skips"
  if [[ " ${RUN_PARTS_BACKGROUND:-} " == *" ${parts[$i]} "* ]]; then
    start_in_background $((i + 1)) "${parts[$i]}"
  fi
done
for i in "${!parts[@]}"; do
  part="${parts[$i]}"
  n=$((i + 1))
  skip_log="$logs/$n.skips"
  if [ -n "${background_pid[$n]:-}" ]; then
    printf '\n[%d/%d] %s: waiting for it (started in the background); its output:\n' "$n" "$total" "$part"
    wait "${background_pid[$n]}"
    rc=$?
    cat "$logs/$n.out"
    started=${background_started[$n]}
  else
    printf '\n[%d/%d] %s: started %s\n' "$n" "$total" "$part" "$(date +%H:%M:%S)"
    started=$SECONDS
    run_part "$n" "$part"
    rc=$?
  fi
  took=$((SECONDS - started))
  reasons="$(skip_reasons "$skip_log")"
  if [ "$rc" -ne 0 ]; then
    result="FAILED (exit $rc)"
    failed=$((failed + 1))
  elif grep -q '^ALL	' "$skip_log"; then
    result="skipped: $reasons"
    skipped=$((skipped + 1))
  else
    result="passed${reasons:+ (skipped: $reasons)}"
    passed=$((passed + 1))
  fi
  printf '[%d/%d] %s: %s in %s\n' "$n" "$total" "$part" "$result" "$(duration "$took")"
  results+=("$part$sep$result$sep$(duration "$took")")
done

rows=("part${sep}result${sep}time" "${results[@]}" "total$sep$sep$(duration $((SECONDS - run_started)))")
part_width=0 result_width=0
for row in "${rows[@]}"; do
  IFS=$sep read -r part result took <<<"$row"
  [ ${#part} -gt "$part_width" ] && part_width=${#part}
  [ ${#result} -gt "$result_width" ] && result_width=${#result}
done
printf '\n== Summary\n'
for row in "${rows[@]}"; do
  IFS=$sep read -r part result took <<<"$row"
  printf '  %-*s  %-*s  %s\n' "$part_width" "$part" "$result_width" "$result" "$took"
done
printf '%d passed, %d failed%s\n' "$passed" "$failed" "$([ "$skipped" -gt 0 ] && printf ', %d skipped' "$skipped")"
[ "$failed" -eq 0 ]
