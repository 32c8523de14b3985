#!/usr/bin/env bash
# Full vs resumed TLS 1.3 mutual-TLS handshakes per second: ingestd's TLS
# stack (bench/micro/tls_handshake_benchmark, medians of 5 repetitions) and
# nginx measured with `openssl s_time` using the same development
# certificates, client certificate included.
#
#   bench/peers/handshake_rate.sh [seconds_per_s_time_run]     # default 10
#
# s_time is one client process on the same two cores as nginx, so its
# connections/s includes the client's own handshake CPU. The nginx workers'
# CPU time during the run is measured too, giving nginx_handshakes_per_core,
# the counterpart of the benchmark's server_handshakes_per_core.
set -euo pipefail

# shellcheck source=bench/peers/nginx_common.sh
source "$(dirname "${BASH_SOURCE[0]}")/nginx_common.sh"

SECONDS_PER_RUN="${1:-10}"
BENCHMARK="${BIN}/bench/tls_handshake_benchmark"
[[ -x ${BENCHMARK} ]] || BENCHMARK="${BIN}/bench/micro/tls_handshake_benchmark"
[[ -x ${BENCHMARK} ]] || peers_die "tls_handshake_benchmark is missing: build the tree first"

peers_init handshake

echo "ours: $(basename "${BENCHMARK}") (in-memory client+server in one thread) $(load_averages)"
"${BENCHMARK}" --benchmark_filter='Handshake' --benchmark_repetitions=5 \
  --benchmark_report_aggregates_only=true --benchmark_format=json \
  >"${WORK}/ours.json" 2>"${WORK}/ours.err" ||
  { cat "${WORK}/ours.err" >&2; peers_die "tls_handshake_benchmark failed"; }
python3 - "${WORK}/ours.json" <<'PY'
import json, sys
for b in json.load(open(sys.argv[1]))["benchmarks"]:
    if b.get("aggregate_name") != "median":
        continue
    print(f"ours {b['run_name'].removeprefix('BM_')}: client+server handshakes_per_s={b['handshakes']:.0f} "
          f"server_handshakes_per_core={b['server_handshakes_per_core']:.0f} server_us={b['server_us']:.1f}")
PY

# TLS 1.3 session tickets are sent after the handshake; s_time -reuse only
# gets one if it reads from the connection, hence -www (a tiny 204 answer).
write_nginx_conf 2 1024 <<CONF
  server {
    listen 127.0.0.1:${PORT} ssl reuseport backlog=4096;
    ssl_verify_client on;
    ssl_session_tickets on;
    location / { return 204; }
  }
CONF
start_nginx

hz=$(getconf CLK_TCK)
for mode in new reuse; do
  load="$(load_averages)"
  start_ticks=$(nginx_workers_cpu_ticks)
  start_ns=$(date +%s%N)
  timeout $((SECONDS_PER_RUN + 30)) openssl s_time -connect "127.0.0.1:${PORT}" "-${mode}" -tls1_3 \
    -cert "${WORK}/certs/cameras/cam-000001.pem" -CAfile "${WORK}/certs/server-ca.crt" \
    -verify 1 -www / -time "${SECONDS_PER_RUN}" >"${WORK}/s_time.out" 2>&1 ||
    { cat "${WORK}/s_time.out" >&2; peers_die "s_time -${mode} failed"; }
  end_ns=$(date +%s%N)
  end_ticks=$(nginx_workers_cpu_ticks)
  # s_time prints its "real seconds" rounded to whole seconds, so the wall
  # time is our own (it includes s_time's start-up, a few ms).
  python3 - "${WORK}/s_time.out" "${mode}" "$((end_ns - start_ns))" \
    "$((end_ticks - start_ticks))" "${hz}" "${load}" <<'PY'
import re, sys
path, mode, ns, ticks, hz, load = sys.argv[1:]
text = open(path).read()
conns = int(re.findall(r"^(\d+) connections in [\d.]+s;", text, re.M)[-1])
# One mark per connection: '*' a full handshake, 'r' a resumed one.
marks = "".join(re.findall(r"^[*r]+$", text, re.M))
real_s, cpu_s = int(ns) / 1e9, int(ticks) / int(hz)
per_core = f"{conns / cpu_s:.0f}" if cpu_s > 0 else "n/a"
print(f"nginx {'FullHandshake' if mode == 'new' else 'ResumedHandshake'} (s_time -{mode}): "
      f"connections={conns} resumed={marks.count('r')} connections_per_s={conns / real_s:.0f} "
      f"nginx_cpu_s={cpu_s:.2f} nginx_handshakes_per_core={per_core} {load}")
PY
done
