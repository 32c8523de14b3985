#!/usr/bin/env bash
# Shared by the figure scripts (sourced, not run): a throw-away work folder,
# an ingestd on 127.0.0.1 with development certificates, and a cleanup that
# never leaves a server behind, even when the load generator fails. No load
# balancer watches these servers, so their drain does not wait to be noticed.
#
#   source "$(dirname "${BASH_SOURCE[0]}")/bench_lib.sh"
#   bench_init ingest-tput 17612
#   start_ingestd [extra ingestd flags...]     # sets ${server}
#   stop_ingestd
#   rss_kib PID; established                    # memory; connections to ${PORT}

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
BIN="${BIN:-${ROOT}/build}"  # another build: BIN=/path/to/build
WORK=""
server=""

bench_cleanup() {
  stop_ingestd
  [[ -n ${WORK} ]] && rm -rf "${WORK}"
}

# bench_init NAME DEFAULT_PORT: the work folder and the port (a PORT from the
# environment wins).
bench_init() {
  WORK="$(mktemp -d "/tmp/$1-XXXXXX")"
  PORT="${PORT:-$2}"
  trap bench_cleanup EXIT
}

start_ingestd() {
  "${BIN}/server/ingestd" --dev-certs --listen "127.0.0.1:${PORT}" --admin-listen 127.0.0.1:0 --state-dir "${WORK}/var" \
    --stats-interval-s 0 --drain-announce-delay-ms 0 "$@" >"${WORK}/ingestd.log" 2>&1 &
  server=$!
  local _
  for _ in $(seq 1 100); do
    grep -q '"event":"ingestd_serving"' "${WORK}/ingestd.log" 2>/dev/null && return 0
    kill -0 "${server}" 2>/dev/null || break
    sleep 0.1
  done
  cat "${WORK}/ingestd.log" >&2
  return 1
}

stop_ingestd() {
  if [[ -n ${server} ]] && kill -0 "${server}" 2>/dev/null; then
    kill -TERM "${server}"
    wait "${server}" || true
  fi
  server=""
}

# rss_kib PID: the process's resident memory in KiB.
rss_kib() { awk '/VmRSS/ {print $2}' "/proc/$1/status"; }

# established: TCP connections established to ingestd's camera port.
established() { ss -Htn state established "( sport = :${PORT} )" | wc -l; }
