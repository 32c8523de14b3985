#!/usr/bin/env bash
# Resident memory of ingestd per idle connected camera: starts ingestd, reads
# its RSS, connects N idle cameras (TLS + HELLO + WELCOME, then only
# keepalives), reads the RSS again once all N are established.
#
#   bench/scripts/idle_memory.sh 1000 10000      # one run per count
set -euo pipefail

# shellcheck source=bench/scripts/bench_lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/bench_lib.sh"
bench_init ingest-idle 17611


for count in "$@"; do
  rm -rf "${WORK:?}/var"
  start_ingestd --max-connections 60000 --max-connections-per-source 60000
  # Issue the camera certificates first so they are not part of the timing.
  "${BIN}/bench/camera-sim" --target "127.0.0.1:${PORT}" --certs_dir "${WORK}/var/dev-certs" \
    --cameras 1 --idle --duration_s 0.1 --quiet >/dev/null
  "${BIN}/server/ingestd" certs --out "${WORK}/var/dev-certs" --cameras "${count}" >/dev/null
  before=$(rss_kib "${server}")
  # camera-sim holds its cameras this long; it is stopped once RSS is read.
  # Generous: on a loaded machine a 10,000-camera ramp took over 40 s, the
  # cameras left before the reading and it saw none.
  hold=$((count / 100 + 60))
  "${BIN}/bench/camera-sim" --target "127.0.0.1:${PORT}" --certs_dir "${WORK}/var/dev-certs" \
    --cameras "${count}" --idle --duration_s "${hold}" --connect_rate "${CONNECT_RATE:-2000}" --quiet \
    >"${WORK}/sim.out" 2>&1 &
  sim=$!
  for _ in $(seq 1 $((hold * 10))); do
    [[ $(established) -ge ${count} ]] && break
    sleep 0.1
  done
  sleep 6  # idle connections trim their TLS buffers (1 s), ingestd trims malloc (every 5 s)
  after=$(rss_kib "${server}")
  connected=$(established)
  [[ ${connected} -gt 0 ]] || { echo "idle_memory: no camera connected; camera-sim said:" >&2; tail -5 "${WORK}/sim.out" >&2; }
  kill "${sim}" 2>/dev/null || true
  wait "${sim}" 2>/dev/null || true
  stop_ingestd
  per=$(( (after - before) * 1024 / (connected > 0 ? connected : 1) ))
  echo "cameras=${count} connected=${connected} rss_before_kib=${before} rss_after_kib=${after} bytes_per_camera=${per}"
done
