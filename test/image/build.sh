#!/usr/bin/env bash
# Builds the image offline, from the project's Dockerfile: compiles the static musl binary
# on the host, then builds the Dockerfile with BINARY_SOURCE=host-binary. With BuildKit the
# unused builder stage is skipped, so no base image is pulled (only FROM scratch remains).
#
#   test/image/build.sh [TAG] [VERSION] [ARCH]      (what `make image [ARCH=arm64]` runs)
#
# TAG defaults to micro-service-as-code:local, VERSION to Cargo.toml's version; VERSION is
# baked into the binary (APP_VERSION) and the version label. ARCH is amd64 (the default) or
# arm64: the binary is cross-compiled for it (rustup target aarch64-unknown-linux-musl,
# linked by rust-lld, see .cargo/config.toml) and the image is built for that platform.
set -euo pipefail
cd "$(dirname "$0")/../.."

tag="${1:-micro-service-as-code:local}"
version="${2:-$(sed -n 's/^version = "\(.*\)"/\1/p' Cargo.toml | head -n1)}"
arch="${3:-amd64}"

fail() { echo "image build: $*" >&2; exit 1; }

case "$arch" in
  amd64 | x86_64) arch=amd64 target=x86_64-unknown-linux-musl machine=x86_64 ;;
  arm64 | aarch64) arch=arm64 target=aarch64-unknown-linux-musl machine=aarch64 ;;
  *) fail "ARCH=$arch: the image is built for amd64 or arm64" ;;
esac
# The binary is run once below (its --version); on another architecture, under emulation.
runner=()
if [ "$(uname -m)" != "$machine" ]; then
  command -v "qemu-$machine-static" >/dev/null \
    || fail "to check the $arch binary on this $(uname -m) host, install qemu-user-static (apt-get install qemu-user-static)"
  runner=("qemu-$machine-static")
fi
if command -v rustup >/dev/null && ! rustup target list --installed | grep -qx "$target"; then
  fail "the Rust target $target is missing: rustup target add $target"
fi

# BuildKit is what skips the builder stage. Docker's CLI from version 23 on needs the buildx
# plugin for it; older CLIs (Debian 12's /usr/bin/docker is 20.10) speak BuildKit
# themselves when DOCKER_BUILDKIT=1. The legacy builder would try to pull the Rust image.
find_builder_cli() {
  local cli major
  if docker buildx version >/dev/null 2>&1; then echo docker; return 0; fi
  for cli in docker /usr/bin/docker; do
    command -v "$cli" >/dev/null 2>&1 || continue
    major="$("$cli" --version 2>/dev/null | sed -n 's/^Docker version \([0-9]*\)\..*/\1/p')"
    if [ -n "$major" ] && [ "$major" -lt 23 ]; then echo "$cli"; return 0; fi
  done
  return 1
}
cli="$(find_builder_cli)" || fail "no Docker client that can use BuildKit: install the buildx plugin, or Debian's docker.io (its 20.10 CLI has BuildKit built in)"

# build.rs declares rerun-if-env-changed=APP_VERSION, so cargo recompiles when it changes.
APP_VERSION="$version" cargo build --release --locked --target "$target"

# A private build context: a snapshot of the binary, so that another build of the musl
# target running meanwhile (another version) cannot change what goes into the image.
# Cargo.lock is there because the host-binary stage's COPY names it (see the Dockerfile).
context="$(mktemp -d)"
trap 'rm -rf "$context"' EXIT
mkdir -p "$context/target/$target/release"
cp Cargo.lock "$context/"
cp "target/$target/release/micro-service" "$context/target/$target/release/micro-service"
got="$("${runner[@]}" "$context/target/$target/release/micro-service" --version)"
[ "$got" = "micro-service $version" ] || fail "the compiled binary says '$got', expected 'micro-service $version'"

# The revision labels the sources the binary came from; -dirty if they differ from HEAD.
revision=""
if revision="$(git rev-parse HEAD 2>/dev/null)"; then
  git diff --quiet HEAD -- Cargo.toml Cargo.lock build.rs .cargo src Dockerfile || revision="$revision-dirty"
fi

DOCKER_BUILDKIT=1 "$cli" build \
  --file Dockerfile \
  --platform "linux/$arch" \
  --build-arg BINARY_SOURCE=host-binary \
  --build-arg APP_VERSION="$version" \
  --build-arg REVISION="$revision" \
  --build-arg CREATED="$(date -u +%Y-%m-%dT%H:%M:%SZ)" \
  --tag "$tag" \
  "$context"

echo "image build: $tag ($got, $(docker image inspect -f '{{.Os}}/{{.Architecture}}, {{.Size}}' "$tag") bytes)"
