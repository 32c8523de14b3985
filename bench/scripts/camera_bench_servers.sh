#!/usr/bin/env bash
# camera-bench against fresh ingestd processes on this machine: N servers,
# each with its own state folder and ports, all trusting one camera CA and
# sharing one set of session-ticket keys (so a camera can move between them
# and resume its TLS session, as behind a load balancer), then stopped.
# The first server's admin listener is given to camera-bench (its /status,
# /metrics, and drain), and its process is the one sampled from /proc.
#
#   bench/scripts/camera_bench_servers.sh 1 run steady --cameras 500 --out /tmp/steady.json
#   bench/scripts/camera_bench_servers.sh 2 run drain --cameras 2000 --out /tmp/drain.json
#   bench/scripts/camera_bench_servers.sh 1 capacity --bitrate_kbps 1000 --out /tmp/capacity.json
#
# Environment:
#   CERTS          a certificate folder kept between runs (camera certificates
#                  are issued once: 100,000 take about 80 s); default: a new one
#   PORT           the first server's camera port (default 17700; admin ports from 17800)
#   INGESTD_FLAGS  more flags for every ingestd
set -euo pipefail

# shellcheck source=bench/scripts/bench_lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/bench_lib.sh"
bench_init camera-bench 17700

servers=()
stop_servers() {
  local pid
  for pid in "${servers[@]}"; do
    kill -TERM "${pid}" 2>/dev/null || true
    wait "${pid}" 2>/dev/null || true
  done
  bench_cleanup
}
trap stop_servers EXIT

count="${1:?usage: $0 SERVERS camera-bench-arguments...}"
shift
certs="${CERTS:-${WORK}/certs}"
[[ -f "${certs}/camera-ca.key" ]] || "${BIN}/server/ingestd" certs --out "${certs}" --cameras 1 >/dev/null

ticket_keys=()
[[ -f "${certs}/ticket.keys" ]] && ticket_keys=(--ticket_keys "${certs}/ticket.keys")

targets=""
for ((i = 0; i < count; i++)); do
  # shellcheck disable=SC2153  # PORT is set by bench_init
  port=$((PORT + i))
  admin=$((PORT + 100 + i))
  # shellcheck disable=SC2086  # INGESTD_FLAGS is a list of flags
  "${BIN}/server/ingestd" --listen "127.0.0.1:${port}" --admin-listen "127.0.0.1:${admin}" \
    --state-dir "${WORK}/server-${i}" --tls_cert "${certs}/server.crt" --tls_key "${certs}/server.key" \
    --camera_ca "${certs}/camera-ca.crt" "${ticket_keys[@]}" --stats-interval-s 0 --log-level warn \
    --max-connections 60000 --max-connections-per-source 60000 --drain_announce_delay_ms 0 \
    ${INGESTD_FLAGS:-} >"${WORK}/ingestd-${i}.log" 2>&1 &
  servers+=($!)
  targets+="${targets:+,}127.0.0.1:${port}"
done
for ((i = 0; i < count; i++)); do
  for _ in $(seq 1 100); do
    (exec 3<>"/dev/tcp/127.0.0.1/$((PORT + i))") 2>/dev/null && break
    kill -0 "${servers[i]}" 2>/dev/null || { cat "${WORK}/ingestd-${i}.log" >&2; exit 1; }
    sleep 0.1
  done
done

# The command first (run SCENARIO, capacity), then the servers, then the caller's flags.
words=()
while [[ $# -gt 0 && $1 != -* ]]; do
  words+=("$1")
  shift
done
"${BIN}/bench/camera-bench" "${words[@]}" --target "${targets}" --admin "127.0.0.1:$((PORT + 100))" \
  --certs_dir "${certs}" --source_addresses 16 "$@"
