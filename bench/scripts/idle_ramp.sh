#!/usr/bin/env bash
# An idle ramp, as an SRE sizing a server runs it: one camera-sim process
# connects N idle cameras to one ingestd (direct descriptors, rings of at most
# 16,384 cameras, source addresses spread over 127.0.0.2 and up, at most
# MAX_HANDSHAKES between connect and WELCOME) and holds them; prints the
# ramp time, the cameras connected, the server's handshake timeouts and its
# resident memory per camera, and how long the simulator waited on its own
# handshake bound.
#
#   bench/scripts/idle_ramp.sh 30000
#   CONNECT_RATE=2000 MAX_HANDSHAKES=512 SOURCES=16 bench/scripts/idle_ramp.sh 10000 30000
set -euo pipefail

# shellcheck source=bench/scripts/bench_lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/bench_lib.sh"
bench_init ingest-ramp 17613

# metric NAME: the sum of NAME's samples (per shard, or unlabelled) in /metrics.
metric() {
  curl -s "http://127.0.0.1:${admin_port}/metrics" |
    awk -v name="$1" '$1 == name || index($1, name "{") == 1 {sum += $2} END {print sum + 0}'
}

for count in "$@"; do
  rm -rf "${WORK:?}/var"
  start_ingestd --max-connections 60000 --max-connections-per-source 60000
  admin_port="$(sed -n 's/.*"event":"ingestd_serving".*"admin_port":\([0-9]*\).*/\1/p' "${WORK}/ingestd.log")"
  certs_start=${SECONDS}
  "${BIN}/server/ingestd" certs --out "${WORK}/var/dev-certs" --cameras "${count}" >/dev/null
  certs_s=$((SECONDS - certs_start))
  before=$(rss_kib "${server}")
  hold=$((count / 200 + 60))
  ramp_start=$(date +%s.%N)
  "${BIN}/bench/camera-sim" --target "127.0.0.1:${PORT}" --certs_dir "${WORK}/var/dev-certs" \
    --cameras "${count}" --idle --duration_s "${hold}" --connect_rate "${CONNECT_RATE:-2000}" \
    --max_handshakes "${MAX_HANDSHAKES:-512}" --source_addresses "${SOURCES:-16}" --quiet --json \
    >"${WORK}/sim.json" 2>"${WORK}/sim.err" &
  sim=$!
  connected=0
  for _ in $(seq 1 $((hold * 10))); do
    connected=$(established)
    [[ ${connected} -ge ${count} ]] && break
    kill -0 "${sim}" 2>/dev/null || break
    sleep 0.1
  done
  ramp_s=$(echo "$(date +%s.%N) - ${ramp_start}" | bc)
  sleep 6  # idle connections trim their TLS buffers (1 s), ingestd trims malloc (every 5 s)
  after=$(rss_kib "${server}")
  connected=$(established)
  timeouts=$(metric ingest_handshake_timeouts_total)
  kill -TERM "${sim}" 2>/dev/null || true
  wait "${sim}" 2>/dev/null || true
  stop_ingestd
  per=$(((after - before) * 1024 / (connected > 0 ? connected : 1)))
  sim_figures="$(python3 -c 'import json,sys; r=json.load(open(sys.argv[1])); print("rings=%d peak_handshakes=%d bound_wait_s=%.1f welcome_p99_ms=%.0f connect_failures=%d" % (r["rings"], r["peak_handshakes_in_flight"], r["handshake_bound_wait_s"], r["welcome_ms"]["p99"], r["connect_failures"]))' "${WORK}/sim.json" 2>/dev/null || echo "sim: $(tail -n 1 "${WORK}/sim.err")")"
  echo "cameras=${count} certs_s=${certs_s} ramp_s=${ramp_s} connected=${connected} handshake_timeouts=${timeouts:-?} rss_before_kib=${before} rss_after_kib=${after} bytes_per_camera=${per} ${sim_figures}"
done
