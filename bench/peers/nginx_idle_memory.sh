#!/usr/bin/env bash
# The peer of bench/scripts/idle_memory.sh: resident memory of nginx per idle
# mutual-TLS connection. nginx runs 2 worker processes (one per core here)
# with TLS 1.3 and ssl_verify_client on, using the same development
# certificates as ingestd. Before the baseline one warm-up connection is made
# (as idle_memory.sh does), then N connections are opened and held idle
# (TLS handshake done, no request sent) by hold_tls_connections.py.
#
#   bench/peers/nginx_idle_memory.sh 1000 10000      # one run per count
#
# Prints per count: nginx_connections=N connected=... rss_before_kib=... (the
# workers' summed RSS) rss_after_kib=... bytes_per_connection=... load=...
set -euo pipefail

# shellcheck source=bench/peers/nginx_common.sh
source "$(dirname "${BASH_SOURCE[0]}")/nginx_common.sh"
HOLD="$(dirname "${BASH_SOURCE[0]}")/hold_tls_connections.py"

(($# > 0)) || peers_die "usage: $0 CONNECTIONS..."
peers_init idle
# The client's arguments besides the count and hold time.
HOLD_ARGS=(--port "${PORT}" --ca "${WORK}/certs/server-ca.crt"
  --cert "${WORK}/certs/cameras/cam-000001.pem" --connect-timeout-s 10)

established() { ss -Htn state established "( sport = :${PORT} )" | wc -l; }


for count in "$@"; do
  [[ ${count} =~ ^[0-9]+$ && ${count} -le 10000 ]] ||
    peers_die "connection count must be 0..10000 (one client process, 20,000 fds)"
  # Every connection may land on one worker, so each must take all of them.
  write_nginx_conf 2 $((count + 100)) <<CONF
  client_header_timeout 600s;
  server {
    listen 127.0.0.1:${PORT} ssl reuseport backlog=4096;
    ssl_verify_client on;
    location / { return 204; }
  }
CONF
  start_nginx
  python3 "${HOLD}" "${HOLD_ARGS[@]}" --count 1 --hold-s 0.1 >/dev/null
  before=$(nginx_workers_rss_kib)
  # The Python client manages a few hundred handshakes/s on a busy machine:
  # allow 10 ms per connection plus 20 s to connect them all, then hold 30 s.
  connect_budget_s=$((count / 100 + 20))
  timeout $((connect_budget_s + 60)) python3 "${HOLD}" "${HOLD_ARGS[@]}" --count "${count}" \
    --hold-s 30 >"${WORK}/hold.out" 2>&1 &
  client=$!
  for _ in $(seq 1 $((connect_budget_s * 10))); do
    grep -q '^connected=' "${WORK}/hold.out" && break
    sleep 0.1
  done
  sleep 2  # the same settling time idle_memory.sh gives ingestd
  after=$(nginx_workers_rss_kib)
  connected=$(established)
  kill "${client}" 2>/dev/null || true
  wait "${client}" 2>/dev/null || true
  stop_nginx
  per=$(((after - before) * 1024 / (connected > 0 ? connected : 1)))
  echo "nginx_connections=${count} connected=${connected} rss_before_kib=${before}" \
    "rss_after_kib=${after} bytes_per_connection=${per} $(load_averages)" \
    "client: $(grep -m1 '^connected=' "${WORK}/hold.out" || echo 'still connecting')"
  if [[ ${connected} -lt ${count} ]]; then
    sed 's/^/  client: /' "${WORK}/hold.out" >&2
  fi
done
