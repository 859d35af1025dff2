#!/usr/bin/env bash
# Load benchmark: micro-service against nginx, both on this machine's loopback.
#
#   bench/run.sh           full run (3 rounds of 5 s per load shape and server, ~3 minutes)
#   bench/run.sh --smoke   1 round of 1 s: shows the benchmark works; asserts no timing
#
# Writes the markdown table to bench/results/latest.md (smoke: smoke.md) and every raw
# measurement to the .jsonl beside it. Environment: BENCH_ROUNDS, BENCH_DURATION (seconds
# per run), BENCH_PORT (micro-service; nginx uses +1, the spawn timings +2 and +3).
set -euo pipefail
cd "$(dirname "$0")/.."

smoke=false
if [ "${1:-}" = --smoke ]; then smoke=true; fi
if $smoke; then
  rounds=${BENCH_ROUNDS:-1} duration=${BENCH_DURATION:-1} spawns=3 warmup=0 out=smoke
else
  rounds=${BENCH_ROUNDS:-3} duration=${BENCH_DURATION:-5} spawns=9 warmup=1 out=latest
fi
port=${BENCH_PORT:-20080}
ms_port=$port nginx_port=$((port + 1)) ms_spawn_port=$((port + 2)) nginx_spawn_port=$((port + 3))
measure=(python3 bench/measure.py)

# --- tools: Debian's nginx and wrk ------------------------------------------------------
missing=()
command -v wrk >/dev/null || missing+=(wrk)
command -v nginx >/dev/null || missing+=(nginx-light)
if [ ${#missing[@]} -gt 0 ]; then
  echo "bench: installing ${missing[*]}"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
  # Debian starts nginx on :80 when it installs it; we run our own.
  (service nginx stop || true) >/dev/null 2>&1
fi

# --- the service: release builds --------------------------------------------------------
cargo build --release --locked --quiet
musl_target=x86_64-unknown-linux-musl
musl_binary=target/$musl_target/release/micro-service
if rustup target list --installed 2>/dev/null | grep -qx "$musl_target"; then
  cargo build --release --locked --quiet --target "$musl_target"
fi
# The binary under load: the glibc release build unless told otherwise (BENCH_BINARY=
# target/x86_64-unknown-linux-musl/release/micro-service loads the image's static build).
binary=${BENCH_BINARY:-target/release/micro-service}

# --- everything we start is stopped on exit, also on failure ---------------------------
tmp=$(mktemp -d /tmp/bench.XXXXXX)
pids=()
cleanup() {
  local pid
  for pid in "${pids[@]}"; do kill -TERM "$pid" 2>/dev/null || true; done
  for pid in "${pids[@]}"; do wait "$pid" 2>/dev/null || true; done
  rm -rf "$tmp"
}
trap cleanup EXIT
results=$tmp/results.jsonl
: >"$results"

# nginx as the reference: Debian's defaults plus what makes it a fair /ping server (no
# access log, keep-alive never cut short by a request count), everything in DIR.
nginx_config() { # DIR PORT
  mkdir -p "$1"
  cat >"$1/nginx.conf" <<EOF
worker_processes auto;
daemon off;
pid $1/nginx.pid;
error_log $1/error.log warn;
events { worker_connections 4096; }
http {
  access_log off;
  keepalive_requests 1000000000;
  client_body_temp_path $1/body;
  proxy_temp_path $1/proxy;
  fastcgi_temp_path $1/fastcgi;
  uwsgi_temp_path $1/uwsgi;
  scgi_temp_path $1/scgi;
  server {
    listen 127.0.0.1:$2;
    location = /ping { default_type text/plain; return 200 "Pong!"; }
  }
}
EOF
}
nginx_config "$tmp/nginx" "$nginx_port"
nginx_config "$tmp/nginx-spawn" "$nginx_spawn_port"
# The command line that starts nginx with DIR's config, in the array `cmd`. (micro-service
# is configured by the environment: PORT, BIND=127.0.0.1, ACCESS_LOG=off.)
nginx_cmd() { cmd=(nginx -p "$1/" -c "$1/nginx.conf" -e "$1/error.log"); }

# Fails unless something answers /ping correctly on PORT within 5 s.
await_ping() { # NAME PORT PID
  local _
  for _ in $(seq 1 100); do
    if "${measure[@]}" ping "$2" 2>/dev/null; then return 0; fi
    kill -0 "$3" 2>/dev/null || break
    sleep 0.05
  done
  echo "bench: $1 does not answer /ping correctly on 127.0.0.1:$2" >&2
  "${measure[@]}" ping "$2" || true
  cat "$tmp"/ms.log "$tmp"/nginx/error.log 2>/dev/null >&2 || true
  exit 1
}

for p in "$ms_port" "$nginx_port" "$ms_spawn_port" "$nginx_spawn_port"; do
  if (exec 3<>"/dev/tcp/127.0.0.1/$p") 2>/dev/null; then
    echo "bench: port $p is in use (set BENCH_PORT)" >&2
    exit 1
  fi
done

echo "== starting micro-service on :$ms_port and nginx on :$nginx_port"
PORT=$ms_port BIND=127.0.0.1 ACCESS_LOG=off "$binary" >"$tmp/ms.log" 2>&1 &
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
if [ -x "$musl_binary" ]; then
  PORT=$ms_spawn_port BIND=127.0.0.1 ACCESS_LOG=off "${measure[@]}" spawn \
    --server "micro-service (musl)" --port "$ms_spawn_port" --runs "$spawns" --memory \
    --out "$results" -- "$musl_binary"
fi

# --- the table --------------------------------------------------------------------------
mkdir -p bench/results
cp "$results" "bench/results/$out.jsonl"
table_args=(--results "$results" --out "bench/results/$out.md" --subject "$binary"
  --binary "release (glibc)=target/release/micro-service"
  --binary "release (musl, static)=$musl_binary")
if $smoke; then table_args+=(--smoke); fi
echo
"${measure[@]}" table "${table_args[@]}"
echo "bench: table written to bench/results/$out.md"
