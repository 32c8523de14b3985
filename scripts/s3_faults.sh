#!/usr/bin/env bash
# The long run of the S3 faults test (tests/faults/s3_faults.py): one ingestd
# uploading to radosgw through the fault-injecting proxy while CAMERAS
# cameras stream; 30 s of 30% 503 SlowDown + 10% 500 InternalError (and
# 0.1% of requests stalled until ingestd's 30 s I/O timeout), 30 s of 300 ms
# added latency, then the store unreachable for DOWN_S seconds (refused,
# then reset), then recovery. Every acknowledged segment must be in the
# store once and byte-exact, the retries counted, the RSS within its bound.
# Prints progress on stderr and one JSON line of figures on stdout; exits as
# the test does (0 passed, 1 failed, 77 radosgw not installed).
#
#   scripts/s3_faults.sh                  # build/, 300 cameras, 120 s down
#   scripts/s3_faults.sh build 500 120    # 500 cameras
#
# Build first: cmake --build BUILD_DIR --target ingestd ingestctl camera-sim
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
BUILD_DIR="${1:-build}"
CAMERAS="${2:-300}"
DOWN_S="${3:-120}"
case "${BUILD_DIR}" in
  /*) ;;
  *) BUILD_DIR="${ROOT}/${BUILD_DIR}" ;;
esac
for tool in server/ingestd server/ingestctl bench/camera-sim; do
  [[ -x "${BUILD_DIR}/${tool}" ]] || {
    echo "s3_faults.sh: ${BUILD_DIR}/${tool} not built" >&2
    exit 2
  }
done

# The OSD keeps every object in memory: about CAMERAS x 32 KiB/s for the
# whole run, so 4 GiB for the defaults.
export S3_TEST_MEMSTORE_BYTES="${S3_TEST_MEMSTORE_BYTES:-4294967296}"
exec python3 "${ROOT}/tests/faults/s3_faults.py" --build_dir "${BUILD_DIR}" \
  --cameras "${CAMERAS}" --segment_bytes 16384 --down_s "${DOWN_S}" \
  --baseline_s 15 --errors_s 30 --stall_share 0.001 --latency_s 30 --recovery_s 15
