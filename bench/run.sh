#!/usr/bin/env bash
# Load benchmark: micro-service against nginx, both on this machine's loopback.
#
#   bench/run.sh           full run (5 rounds of 4 s per load shape and server, ~3 minutes)
#   bench/run.sh --smoke   1 round of 1 s: shows the benchmark works; asserts no timing
#
# Writes the markdown table to bench/results/latest.md (smoke: smoke.md) and every raw
# measurement to the .jsonl beside it. Environment: BENCH_ROUNDS, BENCH_DURATION (seconds
# per run), BENCH_PORT (micro-service; nginx uses +1, the spawn timings +2 and +3;
# default: four free ports).
set -euo pipefail
cd "$(dirname "$0")/.."

smoke=false
if [ "${1:-}" = --smoke ]; then smoke=true; fi
if $smoke; then
  rounds=${BENCH_ROUNDS:-1} duration=${BENCH_DURATION:-1} spawns=3 warmup=0 out=smoke
else
  rounds=${BENCH_ROUNDS:-5} duration=${BENCH_DURATION:-4} spawns=9 warmup=1 out=latest
fi
source bench/lib.sh
if [ -n "${BENCH_PORT:-}" ]; then
  read -r ms_port nginx_port ms_spawn_port nginx_spawn_port <<<"$BENCH_PORT $((BENCH_PORT + 1)) $((BENCH_PORT + 2)) $((BENCH_PORT + 3))"
else
  read -r ms_port nginx_port ms_spawn_port nginx_spawn_port <<<"$(free_ports 4)"
fi
ensure_tools wrk=wrk nginx=nginx-light

# --- the service: release builds --------------------------------------------------------
# The binary under load is the static musl build: what the image ships and the fleet runs.
# BENCH_BINARY=target/release/micro-service loads the glibc build instead. The other build
# is only started, for its idle memory and spawn time.
glibc_binary=target/release/micro-service
musl_target=x86_64-unknown-linux-musl
musl_binary=target/$musl_target/release/micro-service
cargo build --release --locked --quiet
if rustup target add "$musl_target" >/dev/null 2>&1; then
  cargo build --release --locked --quiet --target "$musl_target"
  default_binary=$musl_binary
else
  echo "bench: WARNING: rustup cannot add $musl_target; loading the glibc build instead" >&2
  default_binary=$glibc_binary
fi
binary=${BENCH_BINARY:-$default_binary}
if [ "$binary" = "$musl_binary" ]; then
  other_binary=$glibc_binary other_label=glibc
else
  other_binary=$musl_binary other_label=musl
fi

results=$tmp/results.jsonl
: >"$results"
nginx_config "$tmp/nginx" "$nginx_port"
nginx_config "$tmp/nginx-spawn" "$nginx_spawn_port"
refuse_busy_ports "$ms_port" "$nginx_port" "$ms_spawn_port" "$nginx_spawn_port"

echo "== starting micro-service on :$ms_port and nginx on :$nginx_port"
PORT=$ms_port BIND=127.0.0.1 ACCESS_LOG=off "$binary" >"$tmp/micro-service.log" 2>&1 &
ms_pid=$!
pids+=("$ms_pid")
nginx_cmd "$tmp/nginx"
"${cmd[@]}" &
nginx_pid=$!
pids+=("$nginx_pid")
await_ping micro-service "$ms_port" "$ms_pid"
await_ping nginx "$nginx_port" "$nginx_pid"
sleep 1
"${measure[@]}" memory --server micro-service --what idle --pid "$ms_pid" --out "$results"
"${measure[@]}" memory --server nginx --what idle --pid "$nginx_pid" --out "$results"

server_port() { if [ "$1" = nginx ]; then echo "$nginx_port"; else echo "$ms_port"; fi; }
server_pid() { if [ "$1" = nginx ]; then echo "$nginx_pid"; else echo "$ms_pid"; fi; }

if [ "$warmup" -gt 0 ]; then
  for server in micro-service nginx; do
    wrk -t2 -c50 -d"${warmup}s" "http://127.0.0.1:$(server_port $server)/ping" >/dev/null
  done
fi

# --- load: each shape, each round, the two servers back to back (A B A B ...) -----------
strict=()
if $smoke; then strict=(--strict); fi
echo "== load: $rounds round(s) of ${duration}s per shape and server"
for round in $(seq 1 "$rounds"); do
  for shape in ka50 ka256 close50 pipe16; do
    for server in micro-service nginx; do
      extra=() wrk_extra=() script_args=() conns=50
      case $shape in
        ka256) conns=256 extra=(--peak) ;;
        close50) wrk_extra=(-H "Connection: close") ;;
        pipe16) script_args=(-- 16) ;;
      esac
      "${measure[@]}" wrk --server "$server" --shape "$shape" --round "$round" \
        --pid "$(server_pid $server)" --out "$results" "${extra[@]}" "${strict[@]}" -- \
        wrk -t2 -c"$conns" -d"${duration}s" --timeout 2s --latency -s bench/wrk.lua \
        "${wrk_extra[@]}" "http://127.0.0.1:$(server_port $server)/ping" "${script_args[@]}"
    done
  done
done

sleep 1
"${measure[@]}" memory --server micro-service --what "idle after load" --pid "$ms_pid" --out "$results"
"${measure[@]}" memory --server nginx --what "idle after load" --pid "$nginx_pid" --out "$results"
await_ping micro-service "$ms_port" "$ms_pid"
await_ping nginx "$nginx_port" "$nginx_pid"

# --- spawn to first correct /ping (the load servers stay up, idle, on other ports) ------
echo "== spawn to first /ping, $spawns starts each"
PORT=$ms_spawn_port BIND=127.0.0.1 ACCESS_LOG=off "${measure[@]}" spawn \
  --server micro-service --port "$ms_spawn_port" --runs "$spawns" --out "$results" -- "$binary"
nginx_cmd "$tmp/nginx-spawn"
"${measure[@]}" spawn --server nginx --port "$nginx_spawn_port" --runs "$spawns" \
  --out "$results" -- "${cmd[@]}"
if [ -x "$other_binary" ]; then
  PORT=$ms_spawn_port BIND=127.0.0.1 ACCESS_LOG=off "${measure[@]}" spawn \
    --server "micro-service ($other_label)" --port "$ms_spawn_port" --runs "$spawns" --memory \
    --out "$results" -- "$other_binary"
fi

# --- the table --------------------------------------------------------------------------
mkdir -p bench/results
cp "$results" "bench/results/$out.jsonl"
table_args=(--results "$results" --out "bench/results/$out.md" --subject "$binary"
  --other "$other_label"
  --binary "release (glibc)=$glibc_binary"
  --binary "release (musl, static)=$musl_binary")
if $smoke; then table_args+=(--smoke); fi
echo
"${measure[@]}" table "${table_args[@]}"
echo "bench: table written to bench/results/$out.md"
