#!/usr/bin/env bash
# `make setup` (and the first step of `make test`): installs what the tests need, so that a
# fresh machine runs the same parts as CI instead of skipping them.
#   - Rust: rustfmt and clippy, the musl targets of both architectures (rustup).
#   - Tools from Debian's packages, each only when its command is missing: one
#     `apt-get update`, then one `apt-get install` of what is missing. Only as root on a
#     Debian-family system; anywhere else this stops before any test runs and prints the
#     command to run, and why each tool is needed.
#   - A Docker daemon, started when none answers and we are root.
# Terraform and its provider mirror cannot come from any registry this project's machines
# reach: they are not installed here; the parts that need them say they skipped.
# SETUP=skip runs the tests with whatever is installed (the parts then skip what is missing).
set -euo pipefail
cd "$(dirname "$0")/.."

say() { echo "setup: $*"; }
# What this script cannot do itself: all of it is said at the end, before any test runs.
problems=()

if [ "${SETUP:-}" = skip ]; then
  say "SETUP=skip: nothing installed or started"
  exit 0
fi

# --- Rust ---------------------------------------------------------------------------
if ! command -v rustup >/dev/null 2>&1; then
  problems+=("rustup is needed for the musl targets of both architectures: install it (https://rustup.rs), then run this again")
else
  installed_targets="$(rustup target list --installed)"
  for target in x86_64-unknown-linux-musl aarch64-unknown-linux-musl; do
    if ! grep -qx "$target" <<<"$installed_targets"; then
      say "rustup target add $target"
      rustup target add "$target" >/dev/null
    fi
  done
  for component in rustfmt clippy; do
    if ! rustup component list --installed 2>/dev/null | grep -q "^$component"; then
      say "rustup component add $component"
      rustup component add "$component" >/dev/null
    fi
  done
fi

# --- Tools from Debian's packages -----------------------------------------------------
# command  package  what needs it
tools=(
  "make          make              the test entry point"
  "python3       python3           the checkers, moto, the rehearsal"
  "curl          curl              the image and arm64 tests"
  "pgrep         procps            the stress and lifecycle tests"
  "ss            iproute2          the listener tests (ss -ltn)"
  "unshare       util-linux        the listener tests' private network namespace"
  "ruby          ruby              ruby -c of the InSpec controls"
  "wrk           wrk               the benchmark"
  "nginx         nginx-light       the benchmark's reference server"
  "haproxy       haproxy           the rollout rehearsal's load balancer"
  "qemu-aarch64-static qemu-user-static the arm64 build under emulation"
  "kubectl       kubernetes-client the Kubernetes render"
  "docker        docker.io         the image, rehearsal and container checks"
)
missing_packages=()
why=()
for line in "${tools[@]}"; do
  read -r cmd package reason <<<"$line"
  if ! command -v "$cmd" >/dev/null 2>&1; then
    missing_packages+=("$package")
    why+=("  $package ($cmd): $reason")
  fi
done
# python3 -m venv needs ensurepip, a package of its own on Debian.
if ! python3 -c 'import ensurepip' >/dev/null 2>&1; then
  missing_packages+=(python3-venv)
  why+=("  python3-venv: the checkers' pinned virtualenvs")
fi

if [ ${#missing_packages[@]} -gt 0 ]; then
  install_command="apt-get update && apt-get install -y --no-install-recommends ${missing_packages[*]}"
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
    say "installing ${missing_packages[*]}"
    printf '%s\n' "${why[@]}"
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq
    apt-get install -y -qq --no-install-recommends "${missing_packages[@]}" >/dev/null
    # Debian starts nginx and haproxy when it installs them; the tests start their own.
    for service in nginx haproxy; do
      (service "$service" stop || pkill -x "$service" || true) >/dev/null 2>&1
    done
  elif command -v apt-get >/dev/null 2>&1; then
    problems+=("these tools are missing, and only root may install them:" "${why[@]}" "run: sudo sh -c '$install_command'")
  else
    problems+=("these tools are missing (Debian's package names):" "${why[@]}" "this is not a Debian-family system: install them with its package manager")
  fi
fi

# --- A Docker daemon ------------------------------------------------------------------
if ! command -v docker >/dev/null 2>&1; then
  : # said above, with the packages
elif docker info >/dev/null 2>&1; then
  :
elif [ "$(id -u)" != 0 ]; then
  problems+=("no Docker daemon answers (docker info), and only root may start one here: start it (e.g. sudo systemctl start docker), or add yourself to the docker group")
else
  say "starting dockerd (log: /tmp/dockerd.log)"
  (dockerd >/tmp/dockerd.log 2>&1 &)
  for _ in $(seq 1 60); do docker info >/dev/null 2>&1 && break; sleep 1; done
  docker info >/dev/null 2>&1 || problems+=("dockerd did not answer within 60 s (see /tmp/dockerd.log)")
fi

if [ ${#problems[@]} -gt 0 ]; then
  printf 'setup: %s\n' "${problems[@]}" >&2
  echo "setup: nothing was tested. (SETUP=skip runs the tests anyway; parts skip what is missing.)" >&2
  exit 1
fi

say "ready (Rust targets, $(printf '%s\n' "${tools[@]}" | wc -l) tools, Docker daemon)"
