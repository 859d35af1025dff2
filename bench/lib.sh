# Shared by bench/run.sh and bench/profile.sh (sourced, from the repository root).
# shellcheck shell=bash

measure=(python3 bench/measure.py)

# Installs the Debian packages whose COMMAND is missing: ensure_tools COMMAND=PACKAGE...
ensure_tools() {
  local spec missing=()
  for spec in "$@"; do
    command -v "${spec%%=*}" >/dev/null || missing+=("${spec#*=}")
  done
  [ ${#missing[@]} -eq 0 ] && return 0
  echo "bench: installing ${missing[*]}"
  DEBIAN_FRONTEND=noninteractive apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends \
    "${missing[@]}" >/dev/null
  # Debian starts nginx on :80 when it installs it; we run our own.
  (service nginx stop || true) >/dev/null 2>&1
}

# A temp dir ($tmp) and the servers we start ($pids) are gone on exit, also on failure.
tmp=$(mktemp -d /tmp/bench.XXXXXX)
pids=()
cleanup() {
  local pid
  # Our children first (a measurement in flight stops its wrk), then the servers.
  pkill -TERM -P $$ 2>/dev/null || true
  for pid in "${pids[@]}"; do kill -TERM "$pid" 2>/dev/null || true; done
  for pid in "${pids[@]}"; do wait "$pid" 2>/dev/null || true; done
  rm -rf "$tmp"
}
trap cleanup EXIT

# nginx as the reference: Debian's defaults plus what makes it a fair /ping server (no
# access log, keep-alive never cut short by a request count), everything in DIR.
# MODE "single" runs one process, no master (for valgrind).
nginx_config() { # DIR PORT [MODE]
  local processes="worker_processes auto;"
  if [ "${3:-}" = single ]; then processes="worker_processes 1; master_process off;"; fi
  mkdir -p "$1"
  cat >"$1/nginx.conf" <<EOF
$processes
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
# The command line that starts nginx with DIR's config, in the array `cmd`. (micro-service
# is configured by the environment: PORT, BIND=127.0.0.1, ACCESS_LOG=off.)
# shellcheck disable=SC2034 # used by the scripts that source this
nginx_cmd() { cmd=(nginx -p "$1/" -c "$1/nginx.conf" -e "$1/error.log"); }

# Fails unless something answers /ping correctly on PORT within TRIES x 50 ms.
await_ping() { # NAME PORT PID [TRIES]
  local _
  for _ in $(seq 1 "${4:-100}"); do
    if "${measure[@]}" ping "$2" 2>/dev/null; then return 0; fi
    kill -0 "$3" 2>/dev/null || break
    sleep 0.05
  done
  echo "bench: $1 does not answer /ping correctly on 127.0.0.1:$2" >&2
  "${measure[@]}" ping "$2" || true
  cat "$tmp"/*.log "$tmp"/*/error.log 2>/dev/null >&2 || true
  exit 1
}

# Prints N loopback ports that are free now, each held open until all are chosen so that
# they differ. nginx cannot be told "port 0", so ports are picked, not asked of the kernel
# by each server; a port somebody else holds is never one of them.
free_ports() { # N
  python3 - "$1" <<'PY'
import socket, sys
held = [socket.socket() for _ in range(int(sys.argv[1]))]
for s in held:
    s.bind(("127.0.0.1", 0))
print(" ".join(str(s.getsockname()[1]) for s in held))
PY
}

refuse_busy_ports() { # PORT...
  local p
  for p in "$@"; do
    if (exec 3<>"/dev/tcp/127.0.0.1/$p") 2>/dev/null; then
      echo "bench: port $p is in use (set BENCH_PORT)" >&2
      exit 1
    fi
  done
}
