#!/usr/bin/env bash
# HTTPS ingest throughput: wrk PUTting fixed-size segments to ingestd's HTTPS
# listener (docs/https-ingest.md) from N keep-alive connections in a closed
# loop (each connection sends its next PUT once the previous one is
# answered), with a bearer token. Every 201 means the segment is durable in
# the spool (group commit: writev + fdatasync). The peer, on the same wrk
# script: bench/peers/nginx_put_throughput.sh N BYTES SECONDS numbered.
#
#   bench/scripts/https_put_throughput.sh [connections] [body_bytes] [seconds] [length|chunked|hls]
#   bench/scripts/https_put_throughput.sh 1000 262144 20
#   bench/scripts/https_put_throughput.sh 1000 262144 20 chunked   # as ffmpeg sends: no size up front
#   bench/scripts/https_put_throughput.sh 100 262144 20 hls        # each segment followed by its playlist
#
# BIN=<build dir> runs another build's ingestd (before/after comparisons).
set -euo pipefail

# shellcheck source=bench/scripts/bench_lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/bench_lib.sh"
CONNECTIONS="${1:-1000}"
BODY_BYTES="${2:-262144}"
SECONDS_TO_RUN="${3:-20}"
BODY_CODING="${4:-length}"
THREADS=2
LUA="$(cd "$(dirname "${BASH_SOURCE[0]}")/../peers" && pwd)/put_numbered_segment.lua"
command -v wrk >/dev/null || { echo "wrk is missing: run bench/peers/setup.sh" >&2; exit 1; }
bench_init https-put 0
HTTPS_PORT="$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')"
TOKEN="bench-token-$$"
# A token is good for the cameras its lines name, and every PUT of the run
# goes to a camera of its own (put_numbered_segment.lua): the file names
# each camera the run can reach, b<thread>-<n>, with the same token.
python3 - "${WORK}/encoders.txt" "${TOKEN}" "${THREADS}" "${CONNECTIONS}" "${SECONDS_TO_RUN}" <<'PY'
import hashlib, sys
path, token, threads, connections, seconds = sys.argv[1], sys.argv[2], *map(int, sys.argv[3:])
digest = hashlib.sha256(token.encode()).hexdigest()
# At most 3,000 PUTs a second per thread for the run's length.
per_thread = 3000 * seconds + connections
with open(path, "w") as f:
    for t in range(threads):
        for n in range(1, per_thread + 1):
            f.write(f"token b{t}-{n} sha256:{digest}\n")
PY

start_ingestd --log-level info --https_listen "127.0.0.1:${HTTPS_PORT}" --encoder_credentials "${WORK}/encoders.txt" \
  --max_connections_per_source $((CONNECTIONS + 100))
cpu_ticks() { awk '{print $14 + $15}' "/proc/$1/stat"; }
hz=$(getconf CLK_TCK)
start_ticks=$(cpu_ticks "${server}")
start_ns=$(date +%s%N)
timeout $((SECONDS_TO_RUN + 60)) wrk -t "${THREADS}" -c "${CONNECTIONS}" -d "${SECONDS_TO_RUN}s" \
  --timeout 30s --latency -s "${LUA}" "https://127.0.0.1:${HTTPS_PORT}" -- "${BODY_BYTES}" /v1/cameras \
  "Bearer ${TOKEN}" "${BODY_CODING}" >"${WORK}/wrk.out" 2>&1 || { cat "${WORK}/wrk.out" >&2; exit 1; }
end_ns=$(date +%s%N)
end_ticks=$(cpu_ticks "${server}")
rss=$(rss_kib "${server}")
admin_port=$(grep -o '"admin_port":[0-9]*' "${WORK}/ingestd.log" | head -1 | cut -d: -f2)
stored=$(curl -s "127.0.0.1:${admin_port}/metrics" |
  awk '/^ingest_https_requests_total\{.*outcome="segment_stored"/ {s += $2} END {print s + 0}')
load="$(awk '{printf "load=%s,%s,%s", $1, $2, $3}' /proc/loadavg)"
stop_ingestd

python3 - "${WORK}/wrk.out" "${BODY_BYTES}" "$((end_ticks - start_ticks))" "$((end_ns - start_ns))" "${hz}" \
  "${rss}" "${stored}" "${CONNECTIONS}" "${load}" "${BODY_CODING}" <<'PY'
import re, sys
text = open(sys.argv[1]).read()
body, ticks, ns, hz, rss, stored, conns, load, coding = sys.argv[2:]
def seconds(value, unit):
    return float(value) * {"us": 1e-6, "ms": 1e-3, "s": 1.0, "m": 60.0}[unit]
requests = int(re.search(r"(\d+) requests in", text).group(1))
elapsed = seconds(*re.search(r"requests in ([\d.]+)(us|ms|s|m)", text).groups())
latency = {p: seconds(v, u) * 1e3 for p, v, u in re.findall(r"^\s+(50|99)%\s+([\d.]+)(us|ms|s|m)", text, re.M)}
non2xx = re.search(r"Non-2xx or 3xx responses: (\d+)", text)
errors = re.search(r"Socket errors: (.*)", text)
cpu_s = int(ticks) / int(hz)
# In "hls" runs every other request is a playlist of a few dozen bytes.
segments = requests // 2 if coding == "hls" else requests
gb = segments * int(body) / 1e9
print(f"ingestd_https_put connections={conns} body_bytes={body} coding={coding} requests={requests} "
      f"requests_per_s={requests / elapsed:.1f} segments_per_s={segments / elapsed:.1f} "
      f"MB_per_s={segments * int(body) / elapsed / 1e6:.2f} "
      f"latency_ms_p50={latency.get('50', float('nan')):.2f} p99={latency.get('99', float('nan')):.2f} "
      f"non_2xx={non2xx.group(1) if non2xx else 0} socket_errors=[{errors.group(1) if errors else 'none'}] "
      f"server_cpu_cores={cpu_s / (int(ns) / 1e9):.2f} cpu_s_per_GB={cpu_s / gb if gb else float('nan'):.2f} "
      f"server_rss_MiB={int(rss) / 1024:.0f} segments_stored={stored} {load}")
PY
