# micro-service in a FROM scratch image: one static binary, nothing else.
#
#   docker build -t micro-service .        compiles the service in the builder stage below
#                                          (pulls the Rust image, fetches crates)
#   docker buildx build --platform linux/amd64,linux/arm64 .
#                                          both architectures, one manifest list; the
#                                          builder cross-compiles, nothing is emulated
#   make image [ARCH=arm64]                offline: compiles on the host, then builds this
#                                          file with BINARY_SOURCE=host-binary (BuildKit
#                                          skips the builder stage, so nothing is pulled)
#
# Build arguments: APP_VERSION (baked into the binary and the version label; keep its
# default equal to Cargo.toml's version, test/image/run.sh checks), REVISION and CREATED
# (labels), RUST_IMAGE, BINARY_SOURCE. The architecture is the build's platform
# (--platform linux/amd64 or linux/arm64; BuildKit sets TARGETARCH from it).
#
# Bumping Rust: set RUST_IMAGE to another exact tag of the official image,
# rust:<major.minor.patch>-alpine<version> (the tags are listed on Docker Hub's `rust` page),
# the same version as the toolchain CI compiles with (`rustc --version`), then run
# `docker build .` and `make test-image`, and update the size in README.md.

ARG RUST_IMAGE=rust:1.95.0-alpine3.23
ARG BINARY_SOURCE=builder
ARG APP_VERSION=0.1.0
# BUILDPLATFORM, TARGETARCH and BUILDARCH are BuildKit's, from --platform and the build
# machine: not declared here, since a global `ARG TARGETARCH` would blank them in FROM
# (seen with Docker 20.10's BuildKit). The legacy builder (DOCKER_BUILDKIT=0) sets none of
# them, hence the amd64 defaults: it builds amd64 only.

# Alpine's Rust is a musl toolchain; the image ships gcc and musl-dev, which link the build
# script and the static binary. It runs on the build machine's own architecture
# (BUILDPLATFORM) and cross-compiles for the other one with rustup's musl target and
# rust-lld, so a multi-architecture build emulates nothing.
FROM --platform=${BUILDPLATFORM:-linux/amd64} ${RUST_IMAGE} AS builder
WORKDIR /src
# Crates first, in a layer of their own that survives changes to the sources.
COPY Cargo.toml Cargo.lock ./
RUN mkdir src && echo 'fn main() {}' > src/main.rs && cargo fetch --locked && rm -r src
COPY .cargo ./.cargo
COPY build.rs ./
COPY src ./src
ARG APP_VERSION
ARG TARGETARCH
ARG BUILDARCH
RUN case "${TARGETARCH:-amd64}" in \
      amd64) target=x86_64-unknown-linux-musl ;; \
      arm64) target=aarch64-unknown-linux-musl ;; \
      *) echo "TARGETARCH=$TARGETARCH: this image is built for amd64 or arm64" >&2; exit 1 ;; \
    esac \
 && rustup target add "$target" \
 && APP_VERSION="${APP_VERSION}" cargo build --release --locked --target "$target" \
 && cp "target/$target/release/micro-service" /micro-service \
 && if [ "${TARGETARCH:-amd64}" = "${BUILDARCH:-amd64}" ]; then /micro-service --version; fi

# The binary compiled on the host by
#   APP_VERSION=... cargo build --release --locked --target x86_64-unknown-linux-musl
# (or aarch64-unknown-linux-musl for arm64), one stage per architecture.
# The pattern `micro-servic[e]` and Cargo.lock are for the legacy builder
# (DOCKER_BUILDKIT=0, the default before Docker 23), which builds every stage even when
# unused: in a clean checkout the pattern matches nothing and the COPY still has a source,
# so that `docker build .` works there too.
FROM scratch AS host-binary-amd64
COPY Cargo.lock target/x86_64-unknown-linux-musl/release/micro-servic[e] /
FROM scratch AS host-binary-arm64
COPY Cargo.lock target/aarch64-unknown-linux-musl/release/micro-servic[e] /
FROM host-binary-${TARGETARCH:-amd64} AS host-binary

FROM ${BINARY_SOURCE} AS binary

FROM scratch
ARG APP_VERSION
ARG REVISION=
ARG CREATED=
ARG SOURCE=https://github.com/micro-service-as-code/micro-service-as-code
LABEL org.opencontainers.image.title="micro-service" \
      org.opencontainers.image.description="A tiny std-only HTTP/1.1 service: Hello World!, Pong! and a deliberately flaky health check" \
      org.opencontainers.image.version="${APP_VERSION}" \
      org.opencontainers.image.revision="${REVISION}" \
      org.opencontainers.image.created="${CREATED}" \
      org.opencontainers.image.source="${SOURCE}" \
      org.opencontainers.image.licenses="MIT"
COPY --from=binary /micro-service /micro-service
# nobody:nogroup, numeric because the image has no /etc/passwd.
USER 65534:65534
EXPOSE 8080
# The binary is the health check (there is no shell): GET /ping on $PORT, exit 0 or 1.
# Never /health, which fails on purpose. Its own timeout is 2 s.
HEALTHCHECK --interval=10s --timeout=3s --start-period=5s --retries=3 \
  CMD ["/micro-service", "healthcheck"]
# SIGTERM (docker stop) drains requests in flight and exits 0 within SHUTDOWN_TIMEOUT (5 s),
# before Docker's 10 s kill.
STOPSIGNAL SIGTERM
ENTRYPOINT ["/micro-service"]
