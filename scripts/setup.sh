#!/usr/bin/env bash
# Installs the Debian packages that building and testing ingestd need, and
# only those that are missing, so it is cheap to run before every test run.
#
#   scripts/setup.sh                      # the build and unit-test toolchain
#   scripts/setup.sh haproxy prometheus   # ... plus what a later test needs
#
# Runs as root, or through sudo when it is available; never prompts.
set -euo pipefail

# The one list of what the build and the tests need.
PACKAGES=(
  build-essential
  cmake
  ninja-build
  pkg-config
  g++
  lld
  # A compiler cache: a fresh clone rebuilds only what changed (scripts/build.sh).
  ccache
  liburing-dev
  libboost-dev
  libabsl-dev
  libssl-dev
  libtomlplusplus-dev
  libgtest-dev
  libgmock-dev
  libbenchmark-dev
  openssl
  shellcheck
  python3
  # S3 tests (scripts/s3_test_server.sh): Ceph's RADOS Gateway is a real S3
  # server that verifies signatures; the AWS CLI reads what we stored
  # independently; botocore cross-checks our SigV4 signatures.
  radosgw
  ceph-mon
  ceph-osd
  ceph-common
  awscli
  python3-botocore
  # Deploy and operations tests: HAProxy health-checks ingestd's /readyz in
  # the rolling-replacement test; Prometheus scrapes /metrics and promtool
  # checks the alert rules; yamllint checks appspec.yml and the rules.
  haproxy
  prometheus
  # camera-bench's HTML report is opened in headless Chromium by a test
  # (tests/bench/check_report_renders.py).
  chromium
  yamllint
  python3-yaml
  # Fuzzing (scripts/fuzz.sh): clang 14 with libFuzzer and the sanitizer
  # runtimes it links.
  clang-14
  libclang-rt-14-dev
  # Fault tests: a slow spool disk through a FUSE file system of our own
  # (tests/faults/slow_fs.c, tests/faults/slow_disk.py), and a wall clock
  # stepped under ingestd by libfaketime (tests/faults/clock_faults.py).
  fuse3
  libfuse3-dev
  libfaketime
  # HTTPS ingest from standard encoders (issue 16): ffmpeg pushes HLS over
  # PUT and MPEG-TS over a chunked POST; ffprobe checks what was stored.
  ffmpeg
)

die() {
  echo "setup: $*" >&2
  exit 1
}

# dpkg -s also knows removed packages whose configuration files remain, so
# look at the Status line, not just the exit code.
is_installed() {
  dpkg -s "$1" 2>/dev/null | grep -q '^Status: install ok installed$'
}

as_root() {
  if [[ ${EUID} -eq 0 ]]; then
    "$@"
  elif command -v sudo >/dev/null; then
    sudo "$@"
  else
    die "need root or sudo to run: $*"
  fi
}

main() {
  command -v dpkg >/dev/null || die "this script expects a Debian-based system (no dpkg)"
  local wanted=("${PACKAGES[@]}" "$@")
  local missing=()
  local package
  for package in "${wanted[@]}"; do
    # Package names only: an argument like "-y" must not reach apt-get as an option.
    [[ ${package} =~ ^[a-z0-9][a-z0-9+.-]+(:[a-z0-9]+)?$ ]] || die "not a package name: '${package}'"
    if ! is_installed "${package}"; then
      missing+=("${package}")
    fi
  done

  if [[ ${#missing[@]} -eq 0 ]]; then
    echo "setup: all ${#wanted[@]} packages already installed"
    return 0
  fi
  echo "setup: installing ${missing[*]}"
  as_root env DEBIAN_FRONTEND=noninteractive apt-get update -q
  as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -q "${missing[@]}"
}

main "$@"
