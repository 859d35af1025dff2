# One entry point for humans and CI. `make test` is the test command README.md documents
# and .ci/run calls; every target below it is also runnable on its own.
SHELL := /bin/bash
APP_VERSION ?= $(shell sed -n 's/^version = "\(.*\)"/\1/p' Cargo.toml | head -n1)
IMAGE ?= micro-service-as-code:local

.PHONY: run build test test-rust test-infra test-image test-rehearsal test-converge bench bench-smoke image

run:
	cargo run --release

build:
	cargo build --release --locked

# Fast checks first, so that a broken build fails in seconds.
test: test-rust test-image test-infra test-rehearsal bench-smoke test-converge

test-rust:
	cargo fmt --all -- --check
	cargo clippy --locked --all-targets -- -D warnings
	cargo test --locked

test-infra:
	bash test/infra/run.sh

test-image:
	bash test/image/run.sh

test-rehearsal:
	bash test/rehearsal/run.sh

test-converge:
	bash test/converge/run.sh

bench:
	bash bench/run.sh

bench-smoke:
	bash bench/run.sh --smoke

image:
	bash test/image/build.sh "$(IMAGE)" "$(APP_VERSION)"
