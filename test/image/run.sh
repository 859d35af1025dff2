#!/usr/bin/env bash
# The image, tested for real (`make test-image`): builds it with `make image` (the project's
# Dockerfile, offline) under a unique version, then checks its size and contents, its
# configuration, and containers of it: the routes and the version header, the user,
# the hardened options, the health check, and `docker stop` with a slow request in flight.
# Without a Docker daemon it skips, except in CI (CI=true), where that is a failure.
# Everything it creates is named image-test-<pid>* and removed on exit, also on failure.
set -euo pipefail
cd "$(dirname "$0")/../.."
# shellcheck source=../lib/steps.sh
source test/lib/steps.sh

# The size bound README.md states: under 512 KB, counted as `docker images` does (1 kB =
# 1000 bytes). `docker image inspect` gives the exact size in bytes.
max_bytes=512000

passed=0
ok() { passed=$((passed + 1)); echo "test-image: ok: $*"; }
fail() { echo "test-image: FAILED: $*" >&2; exit 1; }

# Needs no Docker: the Dockerfile's default version (for a plain `docker build .`) is
# Cargo's, like the binary's.
cargo_version="$(sed -n 's/^version = "\(.*\)"/\1/p' Cargo.toml | head -n1)"
dockerfile_version="$(sed -n 's/^ARG APP_VERSION=\(.*\)/\1/p' Dockerfile)"
[ "$dockerfile_version" = "$cargo_version" ] \
  || fail "Dockerfile's ARG APP_VERSION=$dockerfile_version differs from Cargo.toml's version $cargo_version"
ok "Dockerfile's default APP_VERSION is Cargo.toml's version ($cargo_version)"

if ! docker info >/dev/null 2>&1; then
  [ "${CI:-}" = true ] && fail "no Docker daemon answers (docker info), and CI=true: the image tests must run in CI"
  echo "test-image: SKIPPED: no Docker daemon answers (docker info); CI (CI=true) runs these tests"
  report_part_skipped "no Docker daemon answers"
  exit 0
fi
command -v curl >/dev/null || fail "curl is needed (apt-get install curl)"

id="image-test-$$"
version="t$(date +%Y%m%d%H%M%S).$$" # unique, so the version header proves a fresh build
image="micro-service-as-code:$id"
main="$id-main"
hardened="$id-hardened"
work="$(mktemp -d)"

cleanup() {
  local status=$?
  if [ "$status" -ne 0 ]; then
    for c in "$main" "$hardened"; do
      docker logs --tail 20 "$c" 2>/dev/null | sed "s/^/test-image: $c: /" >&2 || true
    done
    echo "test-image: $passed passed, 1 failed" >&2
  fi
  docker rm -f "$main" "$hardened" >/dev/null 2>&1 || true
  docker rmi "$image" >/dev/null 2>&1 || true
  rm -rf "$work"
}
trap cleanup EXIT

# --- The image --------------------------------------------------------------------------
make --no-print-directory image IMAGE="$image" APP_VERSION="$version" >"$work/build.log" 2>&1 \
  || { cat "$work/build.log" >&2; fail "make image IMAGE=$image APP_VERSION=$version"; }
ok "make image built $image from the Dockerfile, offline (APP_VERSION=$version)"

size="$(docker image inspect -f '{{.Size}}' "$image")"
[ "$size" -lt "$max_bytes" ] || fail "image size $size bytes, not under $max_bytes"
ok "image size $size bytes < $max_bytes"

# The layers as `docker save` writes them, listed from its manifest.json.
docker save -o "$work/image.tar" "$image"
mkdir "$work/saved"
tar -xf "$work/image.tar" -C "$work/saved"
mapfile -t layers < <(python3 -c 'import json, sys; print("\n".join(json.load(open(sys.argv[1]))[0]["Layers"]))' "$work/saved/manifest.json")
[ "${#layers[@]}" -eq 1 ] || fail "expected one layer, found ${#layers[@]}"
files="$(tar -tf "$work/saved/${layers[0]}")"
[ "$files" = "micro-service" ] || fail "expected only micro-service in the image, found: $(echo "$files" | tr '\n' ' ')"
ok "one layer holding one file: $(tar -tvf "$work/saved/${layers[0]}")"

# --- The binary: a static PIE, so that the kernel loads it at a random address (ASLR) -----
tar -xf "$work/saved/${layers[0]}" -C "$work" micro-service
elf="$(python3 - "$work/micro-service" 2>&1 <<'PY'
import struct, sys
data = open(sys.argv[1], "rb").read()
if data[:4] != b"\x7fELF" or data[4] != 2 or data[5] != 1:
    sys.exit("not a little-endian 64-bit ELF file")
e_type, = struct.unpack_from("<H", data, 16)
e_phoff, = struct.unpack_from("<Q", data, 32)
e_phentsize, e_phnum = struct.unpack_from("<HH", data, 54)
p_types = [struct.unpack_from("<I", data, e_phoff + i * e_phentsize)[0] for i in range(e_phnum)]
PT_INTERP, ET_DYN = 3, 3
if e_type != ET_DYN:
    sys.exit(f"ELF type {e_type}, expected {ET_DYN} (ET_DYN, position-independent)")
if PT_INTERP in p_types:
    sys.exit("a PT_INTERP header: the binary asks for a dynamic loader, which the image lacks")
print(f"ELF type {e_type} (ET_DYN), {e_phnum} program headers, no PT_INTERP")
PY
)" || fail "the binary is not a static PIE: $elf"
ok "static PIE: $elf"

# Where the kernel mapped the binary in one run of it, on an ephemeral loopback port.
load_address() {
  "$work/micro-service" --port 0 --bind 127.0.0.1 >"$work/aslr.log" 2>&1 &
  local pid=$! address=""
  for _ in $(seq 1 50); do
    grep -q listening "$work/aslr.log" && break
    sleep 0.1
  done
  address="$(awk -v bin="$work/micro-service" '$NF == bin { split($1, range, "-"); print range[1]; exit }' "/proc/$pid/maps")"
  kill "$pid"
  wait "$pid" || true
  echo "$address"
}
first="$(load_address)"
second="$(load_address)"
[ -n "$first" ] && [ -n "$second" ] || fail "no mapping of the binary found in /proc/<pid>/maps"
[ "$first" != "$second" ] || fail "two runs loaded the binary at the same address, 0x$first"
ok "two runs loaded the binary at different addresses: 0x$first, 0x$second"

inspect() { docker image inspect -f "$1" "$image"; }
expect_config() { # template, expected value, what it means
  local got
  got="$(inspect "$1")"
  [ "$got" = "$2" ] || fail "$3: $1 is '$got', expected '$2'"
  ok "$3: $got"
}
expect_config '{{.Config.User}}' "65534:65534" "numeric non-root user"
expect_config '{{json .Config.Entrypoint}} {{json .Config.Cmd}}' '["/micro-service"] null' "exec-form entrypoint"
expect_config '{{json .Config.ExposedPorts}}' '{"8080/tcp":{}}' "exposed port"
expect_config '{{json .Config.Healthcheck.Test}}' '["CMD","/micro-service","healthcheck"]' "health check without a shell"
expect_config '{{index .Config.Labels "org.opencontainers.image.version"}}' "$version" "version label"
for label in title description revision created source licenses; do
  value="$(inspect "{{index .Config.Labels \"org.opencontainers.image.$label\"}}")"
  [ -n "$value" ] || fail "label org.opencontainers.image.$label is empty"
done
ok "OCI labels title, description, revision, created, source, licenses are set (revision $(inspect '{{index .Config.Labels "org.opencontainers.image.revision"}}'))"

# --- Containers ---------------------------------------------------------------------------
# Published on an ephemeral 127.0.0.1 port that Docker picks, so runs never collide.
# A 1 s health interval instead of the image's 10 s keeps the test short.
docker run -d --name "$main" -p 127.0.0.1::8080 --health-interval 1s \
  -e HEALTH_FAILURE_RATE=0 "$image" >/dev/null
# The production options; /health always fails, which the health check must not notice.
docker run -d --name "$hardened" -p 127.0.0.1::8080 --health-interval 1s \
  --read-only --cap-drop ALL --security-opt no-new-privileges \
  -e HEALTH_FAILURE_RATE=1 "$image" >/dev/null

port_of() { docker port "$1" 8080/tcp | head -n1 | sed 's/.*://'; }
main_port="$(port_of "$main")"
hardened_port="$(port_of "$hardened")"

# Docker's proxy accepts before the service listens: retry until a real answer, for 10 s.
for port in "$main_port" "$hardened_port"; do
  for _ in $(seq 1 50); do
    curl -fsS --max-time 2 -o /dev/null "http://127.0.0.1:$port/ping" 2>/dev/null && break
    sleep 0.2
  done
done

expect_route() { # container, port, path, status, exact body
  local got_status server
  got_status="$(curl -sS --max-time 5 -D "$work/headers" -o "$work/body" -w '%{http_code}' "http://127.0.0.1:$2$3")" \
    || fail "$1: GET $3: no answer"
  printf '%s' "$5" >"$work/want"
  server="$(sed -n 's/^[Ss]erver: \(.*\)\r$/\1/p' "$work/headers")"
  [ "$got_status" = "$4" ] || fail "$1: GET $3: status $got_status, expected $4"
  cmp -s "$work/body" "$work/want" || fail "$1: GET $3: body '$(cat "$work/body")', expected '$5'"
  [ "$server" = "micro-service/$version" ] || fail "$1: GET $3: Server '$server', expected 'micro-service/$version'"
  ok "$1: GET $3 -> $got_status '$(head -c 40 "$work/body" | tr -d '\n')', Server: $server"
}
expect_route main "$main_port" / 200 "Hello World!"
expect_route main "$main_port" /ping 200 "Pong!"
expect_route main "$main_port" /health 200 "OK"
expect_route hardened "$hardened_port" /ping 200 "Pong!"
expect_route hardened "$hardened_port" /health 500 $'Unhealthy: simulated failure\n'

# What the kernel says about the running process (the daemon is on this host): its user,
# capabilities, no_new_privs flag, and whether its root filesystem is read-only.
proc_field() { # pid, field of /proc/PID/status
  sed -n "s/^$2:[[:space:]]*//p" "/proc/$1/status" | tr -s '[:space:]' ' ' | sed 's/ $//'
}
for c in "$main" "$hardened"; do
  pid="$(docker inspect -f '{{.State.Pid}}' "$c")"
  [ -r "/proc/$pid/status" ] || fail "$c: cannot read /proc/$pid/status (is the Docker daemon on this host?)"
  uids="$(proc_field "$pid" Uid)"
  gids="$(proc_field "$pid" Gid)"
  if [ "$uids" != "65534 65534 65534 65534" ] || [ "$gids" != "65534 65534 65534 65534" ]; then
    fail "$c: runs as uid $uids, gid $gids, expected 65534"
  fi
  ok "$c: the service (host pid $pid) runs as uid 65534, gid 65534 (real, effective, saved, fs)"
done
pid="$(docker inspect -f '{{.State.Pid}}' "$hardened")"
cap_eff="$(proc_field "$pid" CapEff)"
cap_bnd="$(proc_field "$pid" CapBnd)"
nnp="$(proc_field "$pid" NoNewPrivs)"
root_opts="$(awk '$5 == "/" { print $6 }' "/proc/$pid/mountinfo")"
if [ "$cap_eff" != 0000000000000000 ] || [ "$cap_bnd" != 0000000000000000 ]; then
  fail "hardened: capabilities effective $cap_eff, bounding $cap_bnd, expected none"
fi
[ "$nnp" = 1 ] || fail "hardened: NoNewPrivs is $nnp, expected 1"
[[ ",$root_opts," == *,ro,* ]] || fail "hardened: root filesystem mounted '$root_opts', expected ro"
ok "hardened: no capabilities (effective and bounding 0), no_new_privs 1, root filesystem $root_opts"

# The health check: `healthy` in Docker's eyes (also where /health fails every time), and
# the same command fails when nothing answers on its port.
for c in "$main" "$hardened"; do
  health=""
  for _ in $(seq 1 60); do
    health="$(docker inspect -f '{{.State.Health.Status}}' "$c")"
    [ "$health" = healthy ] && break
    sleep 0.5
  done
  [ "$health" = healthy ] || fail "$c: health status '$health' after 30 s, expected healthy"
  ok "$c: Docker reports the container healthy ($(docker inspect -f '{{(index .State.Health.Log 0).Output}}' "$c" | tr -d '\n'))"
done
rc=0
docker exec -e PORT=1 "$main" /micro-service healthcheck >/dev/null 2>&1 || rc=$?
[ "$rc" = 1 ] || fail "main: 'micro-service healthcheck' against port 1, where nothing listens, exited $rc, expected 1"
ok "main: the health check fails (exit 1) when nothing answers on its port"
# BIND=:: (all interfaces, as an operator may set it): Docker's default network gives the
# container no IPv6 loopback, so the check must find the server on 127.0.0.1.
if docker exec "$main" /micro-service healthcheck --bind :: >"$work/bind6.out" 2>&1; then
  ok "main: the health check with --bind :: finds the server ($(tr -d '\n' <"$work/bind6.out"))"
else
  fail "main: 'micro-service healthcheck --bind ::' failed: $(cat "$work/bind6.out")"
fi

# docker stop with a slow request in flight: the request head arrives in two parts 2 s
# apart, and SIGTERM comes between them. The service must finish that request, then exit 0
# by itself, before Docker's 10 s kill (which would make the exit code 137).
(
  exec 3<>"/dev/tcp/127.0.0.1/$hardened_port"
  printf 'GET / HTTP/1.1\r\nHost: image-test\r\n' >&3
  touch "$work/first-part-sent"
  sleep 2
  printf 'User-Agent: image-test\r\n\r\n' >&3
  timeout 15 cat <&3 >"$work/slow-response"
) &
client=$!
for _ in $(seq 1 50); do [ -e "$work/first-part-sent" ] && break; sleep 0.1; done
[ -e "$work/first-part-sent" ] || fail "the slow client could not connect"
sleep 0.5 # for the first part to cross Docker's proxy and reach the service
start_ns="$(date +%s%N)"
docker stop "$hardened" >/dev/null
stop_ms=$((($(date +%s%N) - start_ns) / 1000000))
wait "$client" || fail "the slow client failed (exit $?; 141: the service closed the connection before the request was whole)"
status_line="$(head -n1 "$work/slow-response" | tr -d '\r')"
[ "$status_line" = "HTTP/1.1 200 OK" ] || fail "slow request: status line '$status_line', expected 'HTTP/1.1 200 OK'"
grep -qi '^connection: close' "$work/slow-response" || fail "slow request: the answer during shutdown lacks Connection: close"
[ "$(tail -c 12 "$work/slow-response")" = "Hello World!" ] || fail "slow request: the body is not Hello World!"
exit_code="$(docker inspect -f '{{.State.ExitCode}}' "$hardened")"
[ "$exit_code" = 0 ] || fail "hardened: exit code $exit_code after docker stop, expected 0"
ok "docker stop with a request in flight: the request completed (200, Connection: close), exit code 0, stop took $stop_ms ms (Docker kills at 10000 ms)"

echo "test-image: $passed passed, 0 failed"
