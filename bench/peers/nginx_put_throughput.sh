#!/usr/bin/env bash
# The peer of bench/scripts/ingest_throughput.sh: nginx (2 workers, TLS 1.3)
# accepting HTTP PUT /<camera>/<seq> of segment bodies into a temp dir with
# the dav module, driven by wrk in a closed loop (each connection sends its
# next PUT as soon as the previous one is answered).
#
#   bench/peers/nginx_put_throughput.sh [connections] [body_bytes] [seconds] [repeating|numbered]
#   bench/peers/nginx_put_throughput.sh 1000 262144 30
#
# "numbered" PUTs every segment to a new path with the wrk script of
# bench/scripts/https_put_throughput.sh (the same client work as that run);
# the default repeats 128 paths per thread (bounded disk use).
#
# Two differences from ingestd that the output repeats:
#  - wrk cannot present a client certificate, so nginx runs with
#    ssl_verify_client optional: the TLS handshakes are server-auth only.
#  - nginx answers 201/204 once the body was written (write(2) to its temp
#    file, then rename) without fsync; stock nginx has no per-request fsync.
#    ingestd acknowledges a segment only after fdatasync.
set -euo pipefail

# shellcheck source=bench/peers/nginx_common.sh
source "$(dirname "${BASH_SOURCE[0]}")/nginx_common.sh"
PEERS="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"

CONNECTIONS="${1:-1000}"
BODY_BYTES="${2:-262144}"
SECONDS_TO_RUN="${3:-30}"
PATHS="${4:-repeating}"
case "${PATHS}" in
  repeating) LUA="${PEERS}/put_segment.lua" LUA_ARGS=(128) ;;
  numbered) LUA="${PEERS}/put_numbered_segment.lua" LUA_ARGS=("") ;;
  *) peers_die "paths: repeating or numbered, not ${PATHS}" ;;
esac
THREADS=2

command -v wrk >/dev/null || peers_die "wrk is missing: run bench/peers/setup.sh"
peers_init put
write_nginx_put_conf "${CONNECTIONS}" "${BODY_BYTES}"
start_nginx

hz=$(getconf CLK_TCK)
start_ticks=$(nginx_workers_cpu_ticks)
start_ns=$(date +%s%N)
timeout $((SECONDS_TO_RUN + 60)) wrk -t "${THREADS}" -c "${CONNECTIONS}" -d "${SECONDS_TO_RUN}s" \
  --timeout 30s --latency -s "${LUA}" "https://127.0.0.1:${PORT}" -- "${BODY_BYTES}" "${LUA_ARGS[@]}" \
  >"${WORK}/wrk.out" 2>&1 || { cat "${WORK}/wrk.out" >&2; peers_die "wrk failed"; }
end_ns=$(date +%s%N)
end_ticks=$(nginx_workers_cpu_ticks)
rss=$(nginx_workers_rss_kib)
files=$(find "${WORK}/store" -type f | wc -l)
load="$(load_averages)"
stop_nginx

python3 - "${WORK}/wrk.out" "${BODY_BYTES}" "$((end_ticks - start_ticks))" \
  "$((end_ns - start_ns))" "${hz}" "${rss}" "${files}" "${CONNECTIONS}" "${load}" <<'PY'
import re, sys
text = open(sys.argv[1]).read()
body, ticks, ns, hz, rss, files, conns, load = sys.argv[2:]
def seconds(value, unit):
    return float(value) * {"us": 1e-6, "ms": 1e-3, "s": 1.0, "m": 60.0}[unit]
requests = int(re.search(r"(\d+) requests in", text).group(1))
elapsed = seconds(*re.search(r"requests in ([\d.]+)(us|ms|s|m)", text).groups())
latency = {p: seconds(v, u) * 1e3
           for p, v, u in re.findall(r"^\s+(50|99)%\s+([\d.]+)(us|ms|s|m)", text, re.M)}
non2xx = re.search(r"Non-2xx or 3xx responses: (\d+)", text)
errors = re.search(r"Socket errors: (.*)", text)
print(f"nginx_put connections={conns} body_bytes={body} requests={requests} "
      f"requests_per_s={requests / elapsed:.1f} MB_per_s={requests * int(body) / elapsed / 1e6:.2f} "
      f"latency_ms_p50={latency.get('50', float('nan')):.2f} p99={latency.get('99', float('nan')):.2f} "
      f"non_2xx={non2xx.group(1) if non2xx else 0} socket_errors=[{errors.group(1) if errors else 'none'}] "
      f"nginx_cpu_cores={int(ticks) / int(hz) / (int(ns) / 1e9):.2f} nginx_workers_rss_MiB={int(rss) / 1024:.0f} "
      f"files_in_store={files} {load}")
print("note: ssl_verify_client optional (wrk presents no client certificate); "
      "nginx acknowledges after write(2) + rename without fsync (stock nginx has no "
      "per-request fsync), ingestd only after fdatasync")
PY
