#!/usr/bin/env bash
# One run, one comparison: the same segment workload against ingestd and
# against nginx on 127.0.0.1, written as a camera-bench "compare" result
# document (RESULT_SCHEMA.md) and rendered to HTML beside it.
#
#   bench/scripts/compare_nginx.sh [--cameras N] [--segment_bytes B] [--duration_s S]
#                                  [--idle N] [--out FILE.json]
#   nice -n 5 bench/scripts/compare_nginx.sh --cameras 50 --duration_s 8 --idle 300
#
# Four phases, one after the other:
#  1. ingestd throughput: camera-sim --saturate, N cameras over mutual TLS; its
#     closed loop keeps 4 segments outstanding per camera. Latency is
#     ACK(spooled): segment sent -> answer after fdatasync to the spool.
#  2. nginx throughput: wrk with 4 x N connections PUTting B-byte bodies
#     (bench/peers/put_segment.lua). HTTP/1.1 has one request outstanding per
#     connection, so 4 x N connections equal N cameras' 4 x N outstanding
#     segments. Latency is wrk's, request -> response. wrk presents no client
#     certificate: server-auth TLS 1.3 on this side only.
#  3. ingestd memory per idle mutual-TLS camera: bench/scripts/idle_memory.sh.
#  4. nginx memory per idle mutual-TLS connection: bench/peers/nginx_idle_memory.sh.
# Server CPU is utime + stime from /proc/PID/stat over the measured window
# (ingestd; nginx master and workers), divided by the GB the server received:
# ingestd the segments camera-sim sent, nginx the bytes its processes read
# from their sockets (rchar: the bodies plus headers and TLS framing,
# requests cut off when wrk stopped included).
set -euo pipefail

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
REPO="$(cd "${HERE}/../.." && pwd)"
PEERS="${REPO}/bench/peers"
OUTSTANDING_PER_CAMERA=4  # camera-sim --saturate: "fewer than four are outstanding"

usage() {
  sed -n '6,7p' "$0" | sed 's/^# \{0,1\}//' >&2
  exit 2
}
die() {
  echo "compare_nginx: $*" >&2
  exit 1
}

COMMAND="$0 $*"
CAMERAS=200
SEGMENT_BYTES=262144
DURATION_S=15
IDLE=1000
OUT=""
while (($# > 0)); do
  [[ $# -ge 2 ]] || usage
  case $1 in
    --cameras) CAMERAS=$2 ;;
    --segment_bytes) SEGMENT_BYTES=$2 ;;
    --duration_s) DURATION_S=$2 ;;
    --idle) IDLE=$2 ;;
    --out) OUT=$2 ;;
    *) usage ;;
  esac
  shift 2
done
in_range() {
  if ! [[ $2 =~ ^[0-9]+$ ]] || (($2 < $3 || $2 > $4)); then
    die "$1 must be $3..$4, not '$2'"
  fi
}
# nginx's workers and wrk share this machine's 20,000-descriptor limit: 4 x 2,400 + slack.
in_range --cameras "${CAMERAS}" 1 2400
in_range --segment_bytes "${SEGMENT_BYTES}" 1024 16777216
in_range --duration_s "${DURATION_S}" 1 120
# nginx_idle_memory.sh holds at most 10,000 from one client process.
in_range --idle "${IDLE}" 1 10000
OUT="${OUT:-${PWD}/compare-nginx-$(date -u +%Y%m%d-%H%M%S).json}"
[[ ${OUT} == *.json ]] || die "--out must end in .json (the report is written beside it as .html)"
OUT="$(cd "$(dirname "${OUT}")" && pwd)/$(basename "${OUT}")"
CONNECTIONS=$((CAMERAS * OUTSTANDING_PER_CAMERA))

for tool in nginx wrk; do
  command -v "${tool}" >/dev/null || die "${tool} is missing: run bench/peers/setup.sh"
done
for binary in server/ingestd bench/camera-sim bench/camera-bench; do
  [[ -x ${REPO}/build/${binary} ]] || die "build/${binary} is missing: scripts/build.sh"
done

RESULTS="$(mktemp -d /tmp/compare-nginx-XXXXXX)"
phase=""  # the PID of the phase running now: each phase stops its own servers
cleanup() {
  local children=() child
  if [[ -n ${phase} ]]; then
    # nginx_idle_memory.sh's trap stops nginx but not its client: end the
    # phase's children that outlive it.
    mapfile -t children < <(pgrep -P "${phase}" || true)
    kill -TERM "${phase}" 2>/dev/null || true
    wait "${phase}" 2>/dev/null || true
    for child in "${children[@]}"; do
      kill -TERM "${child}" 2>/dev/null || true
    done
  fi
  rm -rf "${RESULTS}"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# run_phase NAME COMMAND...: runs one phase in the background, so that a
# signal reaches cleanup at once, and fails the run when the phase fails.
run_phase() {
  local name=$1 status=0 start=${SECONDS}
  shift
  "$@" &
  phase=$!
  wait "${phase}" || status=$?
  phase=""
  ((status == 0)) || die "${name} failed (exit ${status})"
  echo "compare_nginx: ${name}: $((SECONDS - start)) s" >&2
}

free_port() {
  python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

# Phase 1. run_phase runs it in a background subshell, so bench_lib.sh's
# trap and globals stay there and a TERM to that PID stops the server.
ingestd_throughput() {
  local result=$1 sim="" hz start_ticks end_ticks start_ns end_ns
  # shellcheck source=bench/scripts/bench_lib.sh
  source "${HERE}/bench_lib.sh"
  bench_init compare-ingest "$(free_port)"
  trap '[[ -n ${sim} ]] && kill "${sim}" 2>/dev/null; exit 130' INT TERM
  # No drain announce: stopping the server would wait 20 s for a load balancer.
  start_ingestd --log-level info --drain-announce-delay-ms 0
  "${BIN}/server/ingestd" certs --out "${WORK}/var/dev-certs" --cameras "${CAMERAS}" >/dev/null
  cpu_ticks() { awk '{print $14 + $15}' "/proc/$1/stat"; }
  start_ticks=$(cpu_ticks "${server}")
  start_ns=$(date +%s%N)
  "${BIN}/bench/camera-sim" --target "127.0.0.1:${PORT}" --certs_dir "${WORK}/var/dev-certs" \
    --cameras "${CAMERAS}" --segment_bytes "${SEGMENT_BYTES}" --saturate --segment_ms 2000 \
    --duration_s "${DURATION_S}" --quiet --json >"${WORK}/sim.json" &
  sim=$!
  wait "${sim}"
  sim=""
  end_ns=$(date +%s%N)
  end_ticks=$(cpu_ticks "${server}")
  stop_ingestd
  hz=$(getconf CLK_TCK)
  python3 - "${WORK}/sim.json" "${SEGMENT_BYTES}" "$((end_ticks - start_ticks))" "${hz}" \
    "$((end_ns - start_ns))" >"${result}" <<'PY'
import json, sys
r = json.load(open(sys.argv[1]))
segment, ticks, hz, ns = (int(a) for a in sys.argv[2:])
cpu_s, window_s, secs = ticks / hz, ns / 1e9, r["elapsed_s"]
received = r["bytes_recorded"]
json.dump({
    "segments_per_s": r["segments_acked"] / secs,
    "mb_per_s": r["segments_acked"] * segment / secs / 1e6,
    "latency_p50_ms": r["ack_spooled_ms"]["p50"],
    "latency_p99_ms": r["ack_spooled_ms"]["p99"],
    "server_cpu_s_per_gb": cpu_s / (received / 1e9) if received else None,
    "server_cores": cpu_s / window_s,
    "note": f"segments_acked={r['segments_acked']} all_acked={r['all_acked']} elapsed_s={secs:.2f} "
            f"connect_failures={r['connect_failures']} protocol_errors={r['protocol_errors']}",
}, sys.stdout)
PY
}

# Phase 2: nginx_put_throughput.sh's server and client, measured here over
# the master and the workers (that script counts the workers only and prints
# no machine-readable figures).
nginx_throughput() {
  local result=$1 client="" hz start_ticks end_ticks start_rchar end_rchar start_ns end_ns
  # shellcheck source=bench/peers/nginx_common.sh
  source "${PEERS}/nginx_common.sh"
  peers_init compare-put
  trap '[[ -n ${client} ]] && kill "${client}" 2>/dev/null; exit 130' INT TERM
  write_nginx_put_conf "${CONNECTIONS}" "${SEGMENT_BYTES}"
  start_nginx
  # sum_proc ticks|rchar: CPU clock ticks (user + system) or bytes read,
  # summed over the master and the workers.
  sum_proc() {
    local pid total=0 value pids
    mapfile -t pids < <(nginx_worker_pids)
    for pid in "${NGINX_PID}" "${pids[@]}"; do
      if [[ $1 == ticks ]]; then
        value=$(cut -d' ' -f14,15 "/proc/${pid}/stat" | tr ' ' +)
      else
        value=$(sed -n 's/^rchar: //p' "/proc/${pid}/io")
      fi
      total=$((total + value))
    done
    echo "${total}"
  }
  start_ticks=$(sum_proc ticks)
  start_rchar=$(sum_proc rchar)
  start_ns=$(date +%s%N)
  timeout $((DURATION_S + 60)) wrk -t 2 -c "${CONNECTIONS}" -d "${DURATION_S}s" --timeout 30s \
    --latency -s "${PEERS}/put_segment.lua" "https://127.0.0.1:${PORT}" -- "${SEGMENT_BYTES}" 128 \
    >"${WORK}/wrk.out" 2>&1 &
  client=$!
  wait "${client}" || { cat "${WORK}/wrk.out" >&2; peers_die "wrk failed"; }
  client=""
  end_ns=$(date +%s%N)
  end_ticks=$(sum_proc ticks)
  end_rchar=$(sum_proc rchar)
  stop_nginx
  hz=$(getconf CLK_TCK)
  python3 - "${WORK}/wrk.out" "${SEGMENT_BYTES}" "$((end_ticks - start_ticks))" "${hz}" \
    "$((end_ns - start_ns))" "$((end_rchar - start_rchar))" >"${result}" <<'PY'
import json, re, sys
text = open(sys.argv[1]).read()
body, ticks, hz, ns, received = (int(a) for a in sys.argv[2:])
def seconds(value, unit):
    return float(value) * {"us": 1e-6, "ms": 1e-3, "s": 1.0, "m": 60.0}[unit]
requests = int(re.search(r"(\d+) requests in", text).group(1))
elapsed = seconds(*re.search(r"requests in ([\d.]+)(us|ms|s|m)", text).groups())
latency = {p: seconds(v, u) * 1e3
           for p, v, u in re.findall(r"^\s+(50|99)%\s+([\d.]+)(us|ms|s|m)", text, re.M)}
non2xx = re.search(r"Non-2xx or 3xx responses: (\d+)", text)
errors = re.search(r"Socket errors: (.*)", text)
# What wrk answered, if the socket reads were not counted.
received = received or requests * body
cpu_s, window_s = ticks / hz, ns / 1e9
json.dump({
    "segments_per_s": requests / elapsed,
    "mb_per_s": requests * body / elapsed / 1e6,
    "latency_p50_ms": latency.get("50"),
    "latency_p99_ms": latency.get("99"),
    "server_cpu_s_per_gb": cpu_s / (received / 1e9) if received else None,
    "server_cores": cpu_s / window_s,
    "note": f"requests={requests} elapsed_s={elapsed:.2f} non_2xx={non2xx.group(1) if non2xx else 0} "
            f"socket_errors=[{errors.group(1) if errors else 'none'}] received_mb={received / 1e6:.0f}",
}, sys.stdout)
PY
}

# Phases 3 and 4 run the idle scripts as they are (exec: the phase's PID is
# the script's, whose EXIT trap stops its server); their last line says
# bytes_per_camera= / bytes_per_connection=.
idle_phase() {
  local result=$1
  shift
  exec "$@" >"${result}"
}

STARTED_AT="$(date -u +%Y-%m-%dT%H:%M:%SZ)"
LOAD_BEFORE="$(cut -d' ' -f1-3 /proc/loadavg)"
run_phase "ingestd throughput: ${CAMERAS} cameras, ${DURATION_S} s" \
  ingestd_throughput "${RESULTS}/ingestd_tput.json"
run_phase "nginx throughput: ${CONNECTIONS} connections, ${DURATION_S} s" \
  nginx_throughput "${RESULTS}/nginx_tput.json"
run_phase "ingestd idle memory: ${IDLE} cameras" \
  idle_phase "${RESULTS}/ingestd_idle.txt" env PORT="$(free_port)" "${HERE}/idle_memory.sh" "${IDLE}"
run_phase "nginx idle memory: ${IDLE} connections" \
  idle_phase "${RESULTS}/nginx_idle.txt" "${PEERS}/nginx_idle_memory.sh" "${IDLE}"
sed 's/^/  /' "${RESULTS}/ingestd_idle.txt" "${RESULTS}/nginx_idle.txt" >&2

python3 - "${RESULTS}" "${OUT}" "${STARTED_AT}" "${LOAD_BEFORE}" "$(cut -d' ' -f1-3 /proc/loadavg)" \
  "${CAMERAS}" "${SEGMENT_BYTES}" "${DURATION_S}" "${IDLE}" "${OUTSTANDING_PER_CAMERA}" \
  "$(nproc)" "$(uname -r)" "$(openssl version)" "$(hostname)" "${COMMAND}" <<'PY'
import json, os, re, sys
(results, out, started_at, load_before, load_after, cameras, segment, duration, idle, outstanding,
 cores, kernel, openssl, hostname, command) = sys.argv[1:]
cameras, segment, duration, idle, outstanding = map(int, (cameras, segment, duration, idle, outstanding))

def idle_kb(path, key):
    text = open(os.path.join(results, path)).read()
    per = re.findall(rf"\b{key}=(-?\d+)", text)
    connected = re.findall(r"\bconnected=(\d+)", text)
    return (int(per[-1]) / 1e3 if per else None), (int(connected[-1]) if connected else 0)

sides = []
for name, guarantee, idle_file, idle_key in (
    ("ingestd", "ingestd: the answer (ACK spooled) is sent after the segment is fdatasync'd "
                "to the spool; mutual TLS", "ingestd_idle.txt", "bytes_per_camera"),
    ("nginx", "nginx: 201 or 204 (a path written again) after the body is written into the page cache; "
              "server-auth TLS 1.3, dav_methods PUT", "nginx_idle.txt", "bytes_per_connection")):
    side = json.load(open(os.path.join(results, f"{name}_tput.json")))
    kb, connected = idle_kb(idle_file, idle_key)
    note = side.pop("note") + f" idle_connected={connected}"
    side = {"name": name, "guarantee": guarantee, **side, "idle_kb_per_connection": kb, "note": note}
    sides.append(side)

keys = ("segments_per_s", "mb_per_s", "latency_p50_ms", "latency_p99_ms",
        "server_cpu_s_per_gb", "server_cores", "idle_kb_per_connection")
ratios = {}
for key in keys:
    a, b = sides[0].get(key), sides[1].get(key)
    ratios[key] = a / b if isinstance(a, (int, float)) and isinstance(b, (int, float)) and b else None

workload = (f"{cameras} ingestd cameras (camera-sim --saturate, {outstanding} segments outstanding each) vs "
            f"{cameras * outstanding} nginx connections (wrk, HTTP/1.1 PUT, 1 outstanding each): "
            f"{cameras * outstanding} segments of {segment} bytes outstanding on both sides, {duration} s, "
            f"loopback. Latency: ingestd ACK(spooled), nginx response. Idle: {idle} mutual-TLS "
            f"connections each. Load {load_before} before, {load_after} after.")
doc = {
    "tool": "camera-bench",
    "schema_version": 1,
    "kind": "compare",
    "title": f"ingestd vs nginx: {cameras * outstanding} segments of {segment} bytes outstanding, "
             f"{duration} s; {idle} idle connections",
    "started_at": started_at,
    "command": command.strip(),
    "parameters": {"cameras": cameras, "nginx_connections": cameras * outstanding,
                   "outstanding_per_camera": outstanding, "segment_bytes": segment,
                   "duration_s": duration, "idle": idle},
    "machine": {"cores": int(cores), "kernel": kernel, "openssl": openssl, "hostname": hostname},
    "compare": {"workload": workload, "sides": sides, "ratios": ratios},
}
with open(out, "w") as f:
    json.dump(doc, f, indent=2)
    f.write("\n")

def cell(value, width=12):
    return f"{value:>{width}.2f}" if isinstance(value, (int, float)) else f"{'n/a':>{width}}"
print(f"{'':24}{'ingestd':>12}{'nginx':>12}{'ratio':>12}")
for key in keys:
    print(f"{key:24}{cell(sides[0][key])}{cell(sides[1][key])}{cell(ratios[key])}")
for side in sides:
    print(f"{side['name']}: {side['note']}")
print(workload)
PY

echo "wrote ${OUT}"
"${REPO}/build/bench/camera-bench" report "${OUT}" 2>&1
