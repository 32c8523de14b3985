#!/usr/bin/env bash
# The long run of the abuse test (tests/faults/abuse.py): one ingestd and
# CAMERAS well-behaved cameras (1 Mbit/s, 500 ms segments), then phases of
# PHASE_S seconds each of a handshake flood (400 attempts a second from
# random 127.x.y.z addresses), slowloris on the camera port (300
# connections) and on the admin port (48: the admin port's 64-connection cap
# is a known failure, reproduced by the test's --admin_slowloris 100), a camera sending as fast as the server takes it, a
# camera reconnecting in a tight loop, and all of them at once. The cameras'
# ACK (spooled) p99 must stay within its bound, /healthz must answer, the
# abusers must be closed by the server's limits, the RSS stay bounded, and
# every acknowledged segment be in the store once, byte-exact.
# Prints progress on stderr and one JSON line of figures on stdout; exits as
# the test does (0 passed, 1 failed, 77 skipped).
#
#   scripts/abuse.sh                  # build/, 100 cameras, 30 s phases
#   scripts/abuse.sh build 200 60     # 200 cameras, one minute a phase
#
# Build first: cmake --build BUILD_DIR --target ingestd ingestctl camera-sim
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
BUILD_DIR="${1:-build}"
CAMERAS="${2:-100}"
PHASE_S="${3:-30}"
case "${BUILD_DIR}" in
  /*) ;;
  *) BUILD_DIR="${ROOT}/${BUILD_DIR}" ;;
esac
for tool in server/ingestd server/ingestctl bench/camera-sim; do
  [[ -x "${BUILD_DIR}/${tool}" ]] || {
    echo "abuse.sh: ${BUILD_DIR}/${tool} not built" >&2
    exit 2
  }
done

exec python3 "${ROOT}/tests/faults/abuse.py" --build_dir "${BUILD_DIR}" \
  --cameras "${CAMERAS}" --baseline_s 15 --phase_s "${PHASE_S}" --all_s "${PHASE_S}" --after_s 10 \
  --flood_rate 400 --flood_max_open 4000 --tls_slowloris 300 --reconnect_max 20000
