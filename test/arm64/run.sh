#!/usr/bin/env bash
# The arm64 (Graviton) build, tested under emulation (`make test-arm64`): this x86_64 host
# runs the aarch64 binary with qemu-user-static. It checks, in this order:
#   1. the unit tests, compiled for aarch64-unknown-linux-musl and run under qemu (the FFI
#      declarations in src/sys meet the arm64 kernel ABI, checked against the libc crate);
#   2. `make image ARCH=arm64` beside `make image`: the arm64 image says linux/arm64, is
#      under 512 KB, holds one file, and has the amd64 image's user, labels, health check,
#      stop signal, port and entrypoint;
#   3. the binary extracted from that image, run under qemu: the routes and their Server
#      header, the health-check command, a bad setting, SIGTERM;
#   4. the integration tests (tests/*.rs) against that same binary, through the harness's
#      MICRO_SERVICE_BIN and MICRO_SERVICE_RUNNER.
# Emulation says nothing about speed on Graviton: no timing here is a performance figure.
# 48-60 s after the other targets of `make test`, 97 s on a clean clone (load average 5-10
# on 2 cores), most of it compiling: two release builds, the aarch64 unit tests.
# Without qemu-user-static, the musl target or Docker it skips, except in CI (CI=true),
# where that is a failure (make setup installs them). Everything it creates is named
# arm64-test-<pid>* and removed on exit, also on failure.
set -euo pipefail
cd "$(dirname "$0")/../.."
# shellcheck source=../lib/steps.sh
source test/lib/steps.sh

target=aarch64-unknown-linux-musl
max_bytes=512000 # the bound README.md states for both images (1 kB = 1000 bytes)

passed=0
ok() { passed=$((passed + 1)); echo "test-arm64: ok: $*"; }
fail() { echo "test-arm64: FAILED: $*" >&2; exit 1; }
missing() {
  [ "${CI:-}" = true ] && fail "$1, and CI=true: the arm64 tests must run in CI"
  echo "test-arm64: SKIPPED: $1; CI (CI=true) runs these tests"
  report_part_skipped "$1"
  exit 0
}

qemu="$(command -v qemu-aarch64-static || true)"
[ -n "$qemu" ] || missing "no qemu-aarch64-static (apt-get install qemu-user-static)"
rustup target list --installed 2>/dev/null | grep -qx "$target" \
  || missing "the Rust target $target is not installed (rustup target add $target)"
docker info >/dev/null 2>&1 || missing "no Docker daemon answers (docker info)"
command -v curl >/dev/null || fail "curl is needed (apt-get install curl)"

started_s="$(date +%s)"
id="arm64-test-$$"
arm_image="micro-service-as-code:$id-arm64"
amd_image="micro-service-as-code:$id-amd64"
# Cargo's version: the integration tests expect it in the Server header.
version="$(sed -n 's/^version = "\(.*\)"/\1/p' Cargo.toml | head -n1)"
work="$(mktemp -d)"
service_pid=""

cleanup() {
  local status=$?
  [ -n "$service_pid" ] && kill "$service_pid" 2>/dev/null
  [ "$status" -ne 0 ] && [ -s "$work/service.log" ] && sed 's/^/test-arm64: service: /' "$work/service.log" >&2
  [ "$status" -ne 0 ] && echo "test-arm64: $passed passed, 1 failed" >&2
  docker rmi "$arm_image" "$amd_image" >/dev/null 2>&1 || true
  rm -rf "$work"
}
trap cleanup EXIT

# --- 1. Unit tests on aarch64 --------------------------------------------------------------
CARGO_TARGET_AARCH64_UNKNOWN_LINUX_MUSL_RUNNER="$qemu" \
  cargo test --quiet --locked --target "$target" --bins >"$work/unit.log" 2>&1 \
  || { cat "$work/unit.log" >&2; fail "the unit tests compiled for $target, under qemu"; }
ok "unit tests on $target under qemu: $(grep '^test result' "$work/unit.log")"

# --- 2. The images ---------------------------------------------------------------------------
for arch in arm64 amd64; do
  image="$arm_image"
  [ "$arch" = amd64 ] && image="$amd_image"
  make --no-print-directory image ARCH="$arch" IMAGE="$image" APP_VERSION="$version" >"$work/build-$arch.log" 2>&1 \
    || { cat "$work/build-$arch.log" >&2; fail "make image ARCH=$arch IMAGE=$image"; }
done
ok "make image ARCH=arm64 and ARCH=amd64 built $arm_image and $amd_image, offline"

platform="$(docker image inspect -f '{{.Os}}/{{.Architecture}}' "$arm_image")"
[ "$platform" = linux/arm64 ] || fail "$arm_image: the image config says $platform, expected linux/arm64"
ok "$arm_image: the image config says $platform ($amd_image: $(docker image inspect -f '{{.Os}}/{{.Architecture}}' "$amd_image"))"

arm_size="$(docker image inspect -f '{{.Size}}' "$arm_image")"
amd_size="$(docker image inspect -f '{{.Size}}' "$amd_image")"
[ "$arm_size" -lt "$max_bytes" ] || fail "$arm_image: $arm_size bytes, not under $max_bytes"
ok "image sizes: arm64 $arm_size bytes, amd64 $amd_size bytes, both < $max_bytes"

# Everything but the build time and the platform must be the amd64 image's.
config_without_time() {
  docker image inspect -f '{{json .Config}}' "$1" \
    | python3 -c 'import json, sys; c = json.load(sys.stdin); c["Labels"].pop("org.opencontainers.image.created"); print(json.dumps(c, indent=1, sort_keys=True))'
}
config_without_time "$arm_image" >"$work/arm.json"
config_without_time "$amd_image" >"$work/amd.json"
diff -u "$work/amd.json" "$work/arm.json" >&2 || fail "the arm64 image's config differs from the amd64 one's (above)"
ok "same config as amd64: user $(docker image inspect -f '{{.Config.User}}' "$arm_image"), stop signal $(docker image inspect -f '{{.Config.StopSignal}}' "$arm_image"), health check $(docker image inspect -f '{{json .Config.Healthcheck.Test}}' "$arm_image"), $(python3 -c 'import json, sys; print(len(json.load(open(sys.argv[1]))["Labels"]))' "$work/arm.json") labels besides created"

# The binary, as `docker save` writes the image's only layer.
docker save -o "$work/image.tar" "$arm_image"
mkdir "$work/saved"
tar -xf "$work/image.tar" -C "$work/saved"
mapfile -t layers < <(python3 -c 'import json, sys; print("\n".join(json.load(open(sys.argv[1]))[0]["Layers"]))' "$work/saved/manifest.json")
[ "${#layers[@]}" -eq 1 ] || fail "expected one layer, found ${#layers[@]}"
files="$(tar -tf "$work/saved/${layers[0]}")"
[ "$files" = micro-service ] || fail "expected only micro-service in the image, found: $(echo "$files" | tr '\n' ' ')"
tar -xf "$work/saved/${layers[0]}" -C "$work" micro-service
bin="$work/micro-service"
# ELF e_machine (2 bytes at offset 18, little-endian): 183 is EM_AARCH64.
machine="$(od -An -tu2 -j18 -N2 "$bin" | tr -d ' ')"
[ "$machine" = 183 ] || fail "the image's binary has ELF machine $machine, expected 183 (aarch64)"
cmp -s "$bin" "target/$target/release/micro-service" || fail "the image's binary is not the one just built"
ok "one layer holding one file, micro-service: ELF aarch64, $(stat -c %s "$bin") bytes, the build of this run"

# --- 3. The image's binary under qemu ------------------------------------------------------
got="$("$qemu" "$bin" --version)"
[ "$got" = "micro-service $version" ] || fail "--version says '$got', expected 'micro-service $version'"
ok "--version: $got"

rc=0
env -i PORT=eighty "$qemu" "$bin" >/dev/null 2>"$work/bad.err" || rc=$?
[ "$rc" = 2 ] && grep -q PORT "$work/bad.err" || fail "PORT=eighty exited $rc ($(cat "$work/bad.err")), expected 2 naming PORT"
ok "a bad setting exits 2: $(head -n1 "$work/bad.err")"

env -i PORT=0 BIND=127.0.0.1 HEALTH_FAILURE_RATE=0 "$qemu" "$bin" >"$work/service.log" 2>&1 &
service_pid=$!
port=""
for _ in $(seq 1 100); do
  port="$(sed -n '1s/.*:\([0-9]*\)$/\1/p' "$work/service.log")"
  [ -n "$port" ] && break
  sleep 0.1
done
[ -n "$port" ] || fail "the service under qemu printed no listening address within 10 s"

expect_route() { # path, status, exact body
  local got_status server
  got_status="$(curl -sS --max-time 10 -D "$work/headers" -o "$work/body" -w '%{http_code}' "http://127.0.0.1:$port$1")" \
    || fail "GET $1: no answer"
  printf '%s' "$3" >"$work/want"
  server="$(sed -n 's/^[Ss]erver: \(.*\)\r$/\1/p' "$work/headers")"
  [ "$got_status" = "$2" ] || fail "GET $1: status $got_status, expected $2"
  cmp -s "$work/body" "$work/want" || fail "GET $1: body '$(cat "$work/body")', expected '$3'"
  [ "$server" = "micro-service/$version" ] || fail "GET $1: Server '$server', expected 'micro-service/$version'"
  ok "GET $1 -> $got_status '$3', Server: $server"
}
expect_route / 200 "Hello World!"
expect_route /ping 200 "Pong!"
expect_route /health 200 "OK"

"$qemu" "$bin" healthcheck --port "$port" >"$work/hc.out" 2>&1 || fail "healthcheck against the running service: $(cat "$work/hc.out")"
ok "the health check (the image's HEALTHCHECK command) passes against it: $(tr -d '\n' <"$work/hc.out")"

kill -TERM "$service_pid"
rc=0
timeout 10 tail --pid="$service_pid" -f /dev/null || fail "no exit within 10 s of SIGTERM"
wait "$service_pid" || rc=$?
service_pid=""
[ "$rc" = 0 ] || fail "exit code $rc after SIGTERM, expected 0"
said="$(grep "received SIGTERM" "$work/service.log")" || fail "the service did not report SIGTERM"
rm "$work/service.log" # shown on a failure; from here on, it is no longer the one that failed
ok "SIGTERM: exit code 0, the service said '$said'"

rc=0
"$qemu" "$bin" healthcheck --port "$port" >/dev/null 2>&1 || rc=$?
[ "$rc" = 1 ] || fail "healthcheck with nothing listening exited $rc, expected 1"
ok "the health check fails (exit 1) once nothing answers on the port"

# --- 4. The integration tests against the image's binary ----------------------------------
# These four start the binary with Command::new(BIN) instead of the harness, so they would
# test the host's build: their checks on the arm64 binary are the ones in part 3 above.
# The runner notes each start, so that a harness which ignored the variables (and tested the
# host's build) cannot pass for one that ran the arm64 binary.
printf '#!/bin/sh\necho "$*" >>"%s"\nexec "%s" "$@"\n' "$work/runner.calls" "$qemu" >"$work/runner"
chmod +x "$work/runner"
start_ns="$(date +%s%N)"
MICRO_SERVICE_BIN="$bin" MICRO_SERVICE_RUNNER="$work/runner" \
  cargo test --quiet --locked --test '*' >"$work/integration.log" 2>&1 \
  || { cat "$work/integration.log" >&2; fail "the integration tests against the arm64 binary under qemu"; }
took_ms=$((($(date +%s%N) - start_ns) / 1000000))
starts="$(grep -cx "$bin" "$work/runner.calls" 2>/dev/null || true)"
[ "${starts:-0}" -gt 0 ] || fail "the integration tests passed without starting $bin through MICRO_SERVICE_RUNNER (does tests/common/mod.rs read it?)"
summary="$(grep '^test result' "$work/integration.log" | awk '{p += $4; f += $6} END {print p " passed, " f " failed"}')"
ok "integration tests (tests/*.rs) against the image's arm64 binary under qemu: $summary, $starts service starts, in $took_ms ms"

echo "test-arm64: $passed passed, 0 failed, in $(($(date +%s) - started_s)) s"
