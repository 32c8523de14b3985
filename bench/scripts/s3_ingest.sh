#!/usr/bin/env bash
# Cameras through ingestd into a local S3 server (radosgw, which verifies
# signatures): upload throughput, S3 requests per camera-hour, and the time
# from a segment's send to its ACK(persisted) at the default seal policy.
#
#   bench/scripts/s3_ingest.sh [cameras] [segment_bytes] [bitrate_kbps|max] [seconds] [extra ingestd flags...]
#   bench/scripts/s3_ingest.sh 200 262144 1000 60          # 200 cameras at 1 Mbit/s, 2 s segments
#   bench/scripts/s3_ingest.sh 200 262144 max 30           # closed loop: upload throughput to the gateway
#   bench/scripts/s3_ingest.sh 200 262144 1000 60 --seal_bytes=4MiB
set -euo pipefail

# shellcheck source=bench/scripts/bench_lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/bench_lib.sh"
CAMERAS="${1:-200}"
SEGMENT_BYTES="${2:-262144}"
BITRATE_KBPS="${3:-1000}"
SECONDS_TO_RUN="${4:-60}"
shift $(($# < 4 ? $# : 4))
bench_init s3-ingest 17613

S3_DIR="${WORK}/s3"
mkdir -p "${S3_DIR}"
s3_cleanup() {
  stop_ingestd
  "${ROOT}/scripts/s3_test_server.sh" stop "${S3_DIR}" >/dev/null 2>&1 || true
  rm -rf "${WORK}"
}
trap s3_cleanup EXIT
"${ROOT}/scripts/s3_test_server.sh" start "${S3_DIR}" >/dev/null
# shellcheck source=/dev/null
source "${S3_DIR}/s3.env"
export AWS_ACCESS_KEY_ID="${S3_ACCESS_KEY}" AWS_SECRET_ACCESS_KEY="${S3_SECRET_KEY}"
export AWS_EC2_METADATA_DISABLED=true AWS_CONFIG_FILE=/dev/null AWS_SHARED_CREDENTIALS_FILE=/dev/null
/usr/bin/aws --endpoint-url "${S3_ENDPOINT}" --region "${S3_REGION}" s3api create-bucket --bucket bench >/dev/null

start_ingestd --log-level info --stats-interval-s 2 --store s3://bench/zone-bench \
  --s3_endpoint "${S3_ENDPOINT}" --s3_region "${S3_REGION}" --s3_path_style "$@"
"${BIN}/server/ingestd" certs --out "${WORK}/var/dev-certs" --cameras "${CAMERAS}" >/dev/null
if [[ ${BITRATE_KBPS} == max ]]; then
  SEGMENT_MS=2000
  LOAD_FLAGS=(--saturate --segment_ms "${SEGMENT_MS}")
else
  SEGMENT_MS=$((SEGMENT_BYTES * 8 / BITRATE_KBPS))
  LOAD_FLAGS=(--segment_ms "${SEGMENT_MS}")
fi
"${BIN}/bench/camera-sim" --target "127.0.0.1:${PORT}" --certs_dir "${WORK}/var/dev-certs" \
  --cameras "${CAMERAS}" --segment_bytes "${SEGMENT_BYTES}" "${LOAD_FLAGS[@]}" \
  --duration_s "${SECONDS_TO_RUN}" --wait_for persisted --quiet --json >"${WORK}/sim.json"
# The last stats line while streaming (every 2 s) counts the requests of the
# run itself; shutdown then writes every camera's index at once.
stats_while_streaming="$(grep '"event":"stats"' "${WORK}/ingestd.log" | tail -n 1)"
stop_ingestd
python3 - "${WORK}/sim.json" "${stats_while_streaming}" "${SEGMENT_MS}" <<'PY'
import json, sys
r = json.load(open(sys.argv[1]))
s = json.loads(sys.argv[2])
segment_ms = int(sys.argv[3])
secs = r["elapsed_s"]
camera_hours = r["cameras"] * secs / 3600
print(f"cameras={r['cameras']} segments_acked={r['segments_acked']} all_acked={r['all_acked']} "
      f"MB_per_s_uploaded={s['batch_bytes_written']/secs/1e6:.2f} batches={s['batches_written']} "
      f"s3_requests={s['s3_requests']} s3_retries={s['s3_retries']} "
      f"ack_persisted_ms_p50={r['ack_persisted_ms']['p50']:.1f} p99={r['ack_persisted_ms']['p99']:.1f} "
      f"batch_puts_per_camera_hour={s['batches_written']/camera_hours:.1f} "
      f"one_put_per_segment_per_camera_hour={3600e3/segment_ms:.0f}")
PY
