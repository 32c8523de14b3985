#!/usr/bin/env bash
# The main job on one machine: builds if needed, starts ingestd on its
# embedded defaults (development CA and certificates generated on first run,
# recordings stored in a local folder), and streams a fleet of simulated
# cameras into it with live figures; then stops the server cleanly and reads
# one camera's recording back.
#
#   scripts/demo.sh                      # 200 cameras, 1 Mbit/s, 2 s segments, 30 s
#   CAMERAS=1000 SECONDS_TO_RUN=60 scripts/demo.sh
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
CAMERAS="${CAMERAS:-200}"
SECONDS_TO_RUN="${SECONDS_TO_RUN:-30}"
BITRATE_KBPS="${BITRATE_KBPS:-1000}"
SEGMENT_MS="${SEGMENT_MS:-2000}"
PORT="${PORT:-7443}"
STATE_DIR="${STATE_DIR:-${ROOT}/var/demo}"

"${ROOT}/scripts/setup.sh"
if [[ ! -x ${ROOT}/build/server/ingestd || ! -x ${ROOT}/build/bench/camera-sim ]]; then
  "${ROOT}/scripts/build.sh"
else
  cmake --build "${ROOT}/build" >/dev/null
fi
BIN="${ROOT}/build"
mkdir -p "${STATE_DIR}"

echo "== ingestd on 127.0.0.1:${PORT}, state in ${STATE_DIR} (log: ${STATE_DIR}/ingestd.log)"
"${BIN}/server/ingestd" --dev-certs --listen "127.0.0.1:${PORT}" --admin-listen "127.0.0.1:${ADMIN_PORT:-0}" --state-dir "${STATE_DIR}" \
  --seal-age-ms 5000 --stats-interval-s 5 --drain-announce-delay-ms 0 >"${STATE_DIR}/ingestd.log" 2>&1 &
SERVER_PID=$!
stop_server() {
  if kill -0 "${SERVER_PID}" 2>/dev/null; then
    kill -TERM "${SERVER_PID}"
    wait "${SERVER_PID}" || true
  fi
}
trap stop_server EXIT

for _ in $(seq 1 100); do
  if grep -q '"event":"ingestd_serving"' "${STATE_DIR}/ingestd.log" 2>/dev/null; then break; fi
  if ! kill -0 "${SERVER_PID}" 2>/dev/null; then
    cat "${STATE_DIR}/ingestd.log" >&2
    exit 1
  fi
  sleep 0.1
done
ADMIN="$(grep -o '"admin_port":[0-9]*' "${STATE_DIR}/ingestd.log" | head -n 1 | cut -d: -f2)"
echo "== admin endpoints on http://127.0.0.1:${ADMIN}/ (healthz, readyz, metrics, status)"

echo "== ${CAMERAS} simulated cameras, ${BITRATE_KBPS} kbit/s, ${SEGMENT_MS} ms segments, ${SECONDS_TO_RUN} s"
"${BIN}/bench/camera-sim" --target "127.0.0.1:${PORT}" --certs_dir "${STATE_DIR}/dev-certs" \
  --cameras "${CAMERAS}" --bitrate_kbps "${BITRATE_KBPS}" --segment_ms "${SEGMENT_MS}" \
  --duration_s "${SECONDS_TO_RUN}" --wait_for persisted

if command -v curl >/dev/null; then
  echo "== GET /status"
  curl -s "http://127.0.0.1:${ADMIN}/status" || true
fi

# No load balancer in front here, so the drain skips its announce delay.
echo "== draining ingestd (SIGTERM: readiness fails, GOAWAY to cameras in waves, upload the spool, exit)"
stop_server
trap - EXIT
echo "== the drain's audit lines (${STATE_DIR}/audit.log)"
tail -n 5 "${STATE_DIR}/audit.log"

echo "== reading cam-000001 back from the store"
"${BIN}/server/ingestctl" --store_dir "${STATE_DIR}/store" ranges --camera cam-000001
"${BIN}/server/ingestctl" --store_dir "${STATE_DIR}/store" export --camera cam-000001 \
  --from 0 --to 9999999999999999 --out "${STATE_DIR}/cam-000001.bin"
ls -l "${STATE_DIR}/cam-000001.bin"
