# One entry point for humans and CI. `make test` is the test command README.md documents
# and .ci/run calls; every target below it is also runnable on its own.
SHELL := /bin/bash
APP_VERSION ?= $(shell sed -n 's/^version = "\(.*\)"/\1/p' Cargo.toml | head -n1)
# The image's architecture: amd64, or arm64 (Graviton), which is tagged local-arm64. Only
# from the command line (make image ARCH=arm64): an ARCH some shells export means other things.
ifeq ($(origin ARCH),environment)
ARCH := amd64
endif
ARCH ?= amd64
IMAGE ?= micro-service-as-code:local$(if $(filter arm64 aarch64,$(ARCH)),-arm64)

.PHONY: run build setup test test-rust test-stress test-infra test-kubernetes test-image test-arm64 test-rehearsal test-converge bench bench-smoke image

run:
	cargo run --release

build:
	cargo build --release --locked

# Fast checks first, so that a broken build fails in seconds. Every part runs even when one
# fails; the summary at the end says which (test/lib/run_parts.sh).
TEST_PARTS := test-rust test-stress test-image test-arm64 test-infra test-rehearsal bench-smoke test-kubernetes test-converge

# The converge mostly waits on Terraform and the emulator: it runs beside the others from
# the start (its output is printed whole at its turn), which saves about 7 of 15 minutes.
TEST_BACKGROUND := test-converge

test: setup
	@RUN_PARTS_BACKGROUND="$(TEST_BACKGROUND)" bash test/lib/run_parts.sh $(TEST_PARTS)

# What the tests need on a fresh machine: Rust targets, Debian's packages, a Docker daemon.
setup:
	@bash test/setup.sh

test-rust:
	cargo fmt --all -- --check
	cargo clippy --locked --all-targets -- -D warnings
	cargo test --locked

# The fault suite on the static musl build the image ships (its memory is the one that
# counts); a flood needs more descriptors than the usual default of 1024.
test-stress:
	rustup target add x86_64-unknown-linux-musl >/dev/null 2>&1 || true
	ulimit -n 8192 2>/dev/null || true; \
	cargo test --locked --release --target x86_64-unknown-linux-musl --test stress -- --ignored --nocapture --test-threads 1

test-infra:
	bash test/infra/run.sh

test-image:
	bash test/image/run.sh

test-kubernetes:
	bash test/kubernetes/run.sh

# The arm64 (Graviton) build under qemu: unit and integration tests, the arm64 image.
test-arm64:
	bash test/arm64/run.sh

test-rehearsal:
	bash test/rehearsal/run.sh

test-converge:
	bash test/converge/run.sh

bench:
	bash bench/run.sh

bench-smoke:
	bash bench/run.sh --smoke

image:
	bash test/image/build.sh "$(IMAGE)" "$(APP_VERSION)" "$(ARCH)"
