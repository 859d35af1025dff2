#!/usr/bin/env bash
# Where the time goes, micro-service beside nginx (the same reference as bench/run.sh):
#
#   1. system calls per request (perf stat on the kernel's syscall tracepoints, wrk load);
#   2. CPU samples (perf record -e cpu-clock: this VM has no hardware counters): the
#      kernel/user split and the hottest user-space functions;
#   3. user-space instructions per request (valgrind --tool=callgrind), exact and stable
#      on a noisy machine: the difference between N and 3N requests, so start-up cancels.
#
#   bench/profile.sh     about two minutes; writes bench/results/profile.md as well
#
# micro-service is built with symbols into target/profile (same release profile otherwise).
set -euo pipefail
cd "$(dirname "$0")/.."
source bench/lib.sh
ensure_tools wrk=wrk nginx=nginx-light perf=linux-perf valgrind=valgrind

if [ -n "${BENCH_PORT:-}" ]; then
  ms_port=$((BENCH_PORT + 10)) nginx_port=$((BENCH_PORT + 11))
else
  read -r ms_port nginx_port <<<"$(free_ports 2)"
fi
duration=${PROFILE_DURATION:-3}
refuse_busy_ports "$ms_port" "$nginx_port"

CARGO_PROFILE_RELEASE_STRIP=false CARGO_PROFILE_RELEASE_DEBUG=line-tables-only \
  cargo build --release --locked --quiet --target-dir target/profile
binary=target/profile/release/micro-service
mkdir -p bench/results
report=bench/results/profile.md
exec > >(tee "$report")

start_servers() { # [MODE]: "" or "valgrind" (one worker each, under callgrind)
  local wrap=() ms_env=()
  nginx_config "$tmp/nginx" "$nginx_port" "${1:+single}"
  if [ "${1:-}" = valgrind ]; then
    ms_env=(WORKERS=1)
    wrap=(valgrind --tool=callgrind --callgrind-out-file="$tmp/callgrind.%p")
  fi
  env PORT="$ms_port" BIND=127.0.0.1 ACCESS_LOG=off "${ms_env[@]}" \
    "${wrap[@]}" "$binary" >"$tmp/micro-service.log" 2>&1 &
  ms_pid=$!
  nginx_cmd "$tmp/nginx"
  "${wrap[@]}" "${cmd[@]}" 2>"$tmp/valgrind-nginx.log" &
  nginx_pid=$!
  pids+=("$ms_pid" "$nginx_pid")
  await_ping micro-service "$ms_port" "$ms_pid" 600
  await_ping nginx "$nginx_port" "$nginx_pid" 600
}

stop_servers() {
  kill -TERM "$ms_pid" "$nginx_pid"
  wait "$ms_pid" "$nginx_pid" || true
  pids=()
}

# The threads that serve: all of micro-service's; nginx's workers (not the idle master).
serving_pids() { # NAME
  if [ "$1" = nginx ]; then pgrep -P "$nginx_pid" | paste -sd,; else echo "$ms_pid"; fi
}
server_port() { if [ "$1" = nginx ]; then echo "$nginx_port"; else echo "$ms_port"; fi; }

wrk_run() { # SERVER SHAPE: prints the number of requests served
  local url extra=() script=()
  url="http://127.0.0.1:$(server_port "$1")/ping"
  case $2 in
    close50) extra=(-H "Connection: close") ;;
    pipe16) script=(-- 16) ;;
  esac
  wrk -t2 -c50 -d"${duration}s" -s bench/wrk.lua "${extra[@]}" "$url" "${script[@]}" |
    sed -n 's/^BENCH requests=\([0-9]*\).*/\1/p'
}

echo "# Profile: micro-service and nginx on $(nproc) cores, $(uname -r), $(date -u +%F)"
echo
echo "Commit $(git rev-parse --short HEAD); \`bench/profile.sh\`."
start_servers

echo
# Counted by the kernel's syscall tracepoints, which cost little (strace would slow the
# servers tenfold and change how many requests each wake-up finds).
syscalls=(recvfrom recvmsg read readv sendto sendmsg write writev epoll_wait epoll_pwait
  epoll_ctl accept accept4 close shutdown setsockopt getsockopt ioctl fcntl futex
  clock_gettime brk mmap munmap madvise mprotect)
events=$(printf 'syscalls:sys_enter_%s,' "${syscalls[@]}")
echo "## 1. System calls per request (perf stat on syscall tracepoints, ${duration} s of wrk -t2 -c50)"
for shape in ka50 close50 pipe16; do
  summaries=()
  for server in micro-service nginx; do
    perf stat -x, -e "${events%,}" -p "$(serving_pids "$server")" \
      -o "$tmp/syscalls-$server-$shape" -- sleep "$((duration + 1))" &
    stat_pid=$!
    requests=$(wrk_run "$server" "$shape")
    wait "$stat_pid"
    summaries+=("$server=$requests=$tmp/syscalls-$server-$shape")
  done
  echo
  echo "### $shape"
  echo
  "${measure[@]}" syscalls "${summaries[@]}"
done

# The first LINES rows of a perf report sorted by SORT that match the awk PATTERN. awk
# reads to the end, so perf never dies of a closed pipe (which pipefail would report).
perf_top() { # FILE SORT PATTERN LINES
  perf report -i "$1" --stdio --no-children -g none --sort "$2" 2>/dev/null |
    awk -v n="$4" "/^#/ || /^\$/ { next } $3 && shown++ < n"
}

echo
echo "## 2. CPU samples (perf record -e cpu-clock -g, ${duration} s of wrk -t2 -c50)"
for shape in ka50 close50; do
  for server in micro-service nginx; do
    perf record -q -e cpu-clock -F 4999 -g -p "$(serving_pids "$server")" \
      -o "$tmp/perf-$server-$shape" -- sleep "$duration" 2>/dev/null &
    perf_pid=$!
    requests=$(wrk_run "$server" "$shape")
    wait "$perf_pid" || true
    echo
    echo "### $server, $shape: $requests requests"
    echo
    echo '```'
    perf_top "$tmp/perf-$server-$shape" dso '//' 5
    echo "top user-space functions:"
    perf_top "$tmp/perf-$server-$shape" dso,sym '/\[\.\]/' 12
    echo "top kernel functions:"
    perf_top "$tmp/perf-$server-$shape" sym '/\[k\]/' 8
    echo '```'
  done
done
stop_servers

echo
echo "## 3. User-space instructions per request (callgrind, one worker each)"
echo
echo "| instructions per request, requests in turn | micro-service | nginx |"
echo "|---|---:|---:|"
n=${PROFILE_REQUESTS:-1000}
declare -A total=()
for shape in keep-alive close; do
  close=()
  if [ "$shape" = close ]; then close=(--close); fi
  for count in "$n" $((3 * n)); do
    start_servers valgrind
    "${measure[@]}" requests --port "$ms_port" --count "$count" "${close[@]}"
    "${measure[@]}" requests --port "$nginx_port" --count "$count" "${close[@]}"
    stop_servers
    total[micro-service-$count]=$(sed -n 's/^summary: *//p' "$tmp/callgrind.$ms_pid")
    total[nginx-$count]=$(sed -n 's/^summary: *//p' "$tmp/callgrind.$nginx_pid")
  done
  row="| $shape |"
  for server in micro-service nginx; do
    row+=" $(((total[$server-$((3 * n))] - total[$server-$n]) / (2 * n))) |"
  done
  echo "$row"
done
echo
echo "(${n} and $((3 * n)) requests; the difference divided by $((2 * n)). Instructions in"
echo "the servers' own code and libraries, not the kernel's.)"
