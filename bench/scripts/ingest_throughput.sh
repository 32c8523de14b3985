#!/usr/bin/env bash
# Ingest throughput and ACK(spooled) latency with N cameras streaming at a
# given bitrate and segment size, plus the server's CPU and memory.
#
#   bench/scripts/ingest_throughput.sh [cameras] [segment_bytes] [bitrate_kbps|max] [seconds]
#   bench/scripts/ingest_throughput.sh 1000 262144 1000 30    # 1,000 cameras at 1 Mbit/s
#   bench/scripts/ingest_throughput.sh 1000 262144 max 20     # closed loop: what the server takes
set -euo pipefail

# shellcheck source=bench/scripts/bench_lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/bench_lib.sh"
CAMERAS="${1:-1000}"
SEGMENT_BYTES="${2:-262144}"
BITRATE_KBPS="${3:-1000}"
SECONDS_TO_RUN="${4:-30}"
bench_init ingest-tput 17612

# The segment duration that gives the bitrate with this segment size.
LOAD_FLAGS=()
if [[ ${BITRATE_KBPS} == max ]]; then
  LOAD_FLAGS=(--saturate --segment_ms 2000)
else
  LOAD_FLAGS=(--segment_ms "$((SEGMENT_BYTES * 8 / BITRATE_KBPS))")
fi

start_ingestd --log-level info
"${BIN}/server/ingestd" certs --out "${WORK}/var/dev-certs" --cameras "${CAMERAS}" >/dev/null
cpu_ticks() { awk '{print $14 + $15}' "/proc/$1/stat"; }
start_ticks=$(cpu_ticks "${server}")
start_ns=$(date +%s%N)
"${BIN}/bench/camera-sim" --target "127.0.0.1:${PORT}" --certs_dir "${WORK}/var/dev-certs" \
  --cameras "${CAMERAS}" --segment_bytes "${SEGMENT_BYTES}" "${LOAD_FLAGS[@]}" \
  --duration_s "${SECONDS_TO_RUN}" --quiet --json >"${WORK}/sim.json"
end_ns=$(date +%s%N)
end_ticks=$(cpu_ticks "${server}")
rss=$(awk '/VmRSS/ {print $2}' "/proc/${server}/status")
stop_ingestd
hz=$(getconf CLK_TCK)
python3 - "${WORK}/sim.json" "$((end_ticks - start_ticks))" "$((end_ns - start_ns))" "${hz}" "${rss}" <<'PY'
import json, sys
r = json.load(open(sys.argv[1]))
ticks, ns, hz, rss = int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4]), int(sys.argv[5])
secs = r["elapsed_s"]
print(f"cameras={r['cameras']} segments_acked={r['segments_acked']} all_acked={r['all_acked']} "
      f"segments_per_s={r['segments_acked']/secs:.1f} MB_per_s={r['bytes_recorded']/secs/1e6:.2f} "
      f"ack_spooled_ms_p50={r['ack_spooled_ms']['p50']:.2f} p99={r['ack_spooled_ms']['p99']:.2f} "
      f"max={r['ack_spooled_ms']['max']:.2f} server_cpu_cores={ticks/hz/(ns/1e9):.2f} server_rss_MiB={rss/1024:.0f}")
PY
