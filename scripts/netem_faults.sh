#!/usr/bin/env bash
# Camera <-> server network faults made by the kernel: the phases of
# tests/faults/network_faults.py (which injects them with a user-space proxy
# on 127.0.0.1), here with `tc qdisc ... netem` on a veth pair between two
# network namespaces of their own: ingestd in one, camera-sim in the other.
#
#   baseline   no qdisc;
#   delay      netem delay 150ms, each way;
#   throttle   netem rate 128kbit, each way (below what the cameras offer);
#   stall      netem loss 100%, each way, until the server timed every
#              connection out (protocol.idle_timeout_ms, 3 s here); its FINs
#              are lost too, so the cameras learn of it only once the path
#              is back;
#   half-open  netem loss 100% on the camera side only, and the cameras'
#              sockets destroyed there (ss -K; the RSTs are lost): the
#              server side stays open and silent until its idle timeout, the
#              cameras' new SYNs are lost until the path is back;
#   reset      ss -K on the server side: RST to every camera;
#   recovery   no qdisc.
#
# Then the cameras stop, ingestd flushes and drains, and the store is read
# back (tests/faults/fault_run.py check_exactly_once): every recorded
# segment acknowledged, once, byte-exact. Asserted on the way: ingestd stays
# up; stall and half-open each count an idle timeout per camera; every
# camera is streaming again after each fault. One JSON line of figures on
# stdout, progress on stderr.
#
#   sudo scripts/netem_faults.sh                      # build/, 40 cameras
#   sudo scripts/netem_faults.sh build 100
#   sudo PHASES="baseline reset recovery" scripts/netem_faults.sh   # the phases that need no netem
#
# Exit 0 passed, 1 failed, 2 usage, 77 skipped: not root, no ip/tc/ss, no
# network namespaces, or a kernel without netem ("Specified qdisc kind is
# unknown": sch_netem not built or not loadable) when a phase needs it.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
BUILD_DIR="${1:-build}"
CAMERAS="${2:-40}"
PHASES="${PHASES:-baseline delay throttle stall half-open reset recovery}"
PHASE_S="${PHASE_S:-5}"
IDLE_TIMEOUT_MS=3000
RESUME_BOUND_S=40
SKIPPED=77
case "${BUILD_DIR}" in
  /*) ;;
  *) BUILD_DIR="${ROOT}/${BUILD_DIR}" ;;
esac
INGESTD="${BUILD_DIR}/server/ingestd"
INGESTCTL="${BUILD_DIR}/server/ingestctl"
CAMERA_SIM="${BUILD_DIR}/bench/camera-sim"

say() { printf '[%(%H:%M:%S)T] %s\n' -1 "$*" >&2; }
skip() {
  echo "netem_faults.sh: SKIPPED: $*" >&2
  exit "${SKIPPED}"
}

for tool in "${INGESTD}" "${INGESTCTL}" "${CAMERA_SIM}"; do
  [[ -x "${tool}" ]] || {
    echo "netem_faults.sh: ${tool} not built" >&2
    exit 2
  }
done
[[ "$(id -u)" == 0 ]] || skip "network namespaces and qdiscs need root"
for tool in ip tc ss curl python3; do
  command -v "${tool}" >/dev/null || skip "${tool} is not installed"
done

needs_netem=0
for phase in ${PHASES}; do
  case "${phase}" in
    baseline | reset | recovery) ;;
    delay | throttle | stall | half-open) needs_netem=1 ;;
    *)
      echo "netem_faults.sh: unknown phase ${phase}" >&2
      exit 2
      ;;
  esac
done

# Probe in a throwaway namespace of our own: nothing on the host is touched.
probe="$(unshare -n sh -c 'ip link set lo up && tc qdisc add dev lo root netem delay 1ms' 2>&1)" || {
  if [[ "${probe}" == *"Operation not permitted"* && "${probe}" != *qdisc* ]]; then
    skip "cannot create a network namespace here: ${probe}"
  fi
  if (( needs_netem )); then
    skip "this kernel has no netem qdisc (tc said: ${probe//$'\n'/ }); build or load sch_netem" \
      "(CONFIG_NET_SCH_NETEM), or run tests/faults/network_faults.py, which needs none"
  fi
  say "no netem here (${probe//$'\n'/ }); running only the phases that need none: ${PHASES}"
}

NS_SRV="ingestd-srv-$$"
NS_CAM="ingestd-cam-$$"
VETH_SRV="ingv-s$$"
VETH_CAM="ingv-c$$"
SRV_ADDR=10.213.0.1
CAM_ADDR=10.213.0.2
PORT=7443
ADMIN_PORT=9090
WORK="$(mktemp -d /tmp/netem-faults-XXXXXX)"
SERVER_PID=""
SIM_PID=""
FAILURES=()
SETUP_DONE=0

cleanup() {
  local rc=$?
  local pid
  for pid in "${SIM_PID}" "${SERVER_PID}"; do
    if [[ -n "${pid}" ]]; then
      kill -9 "${pid}" 2>/dev/null || true
    fi
  done
  wait 2>/dev/null || true
  ip netns del "${NS_CAM}" 2>/dev/null || true  # takes the veth pair with it
  ip netns del "${NS_SRV}" 2>/dev/null || true
  if (( rc == 0 )) && [[ -z "${KEEP:-}" ]]; then
    rm -rf "${WORK}"
  elif (( SETUP_DONE )); then
    say "work folder kept: ${WORK}"
  else
    rm -rf "${WORK}"
  fi
}
trap cleanup EXIT

in_srv() { ip netns exec "${NS_SRV}" "$@"; }
in_cam() { ip netns exec "${NS_CAM}" "$@"; }

metric() {  # the sum of one metric over its label sets; 0 without an answer
  in_srv curl -s --max-time 2 "http://127.0.0.1:${ADMIN_PORT}/metrics" 2>/dev/null |
    awk -v name="$1" '$1 == name || index($1, name "{") == 1 { sum += $NF } END { printf "%d\n", sum }'
}

server_alive() { kill -0 "${SERVER_PID}" 2>/dev/null; }

wait_for() {  # wait_for WHAT SECONDS COMMAND...: polls every 0.2 s
  local what="$1" seconds="$2"
  shift 2
  local deadline=$((SECONDS + seconds))
  until "$@"; do
    if (( SECONDS >= deadline )); then
      FAILURES+=("timed out after ${seconds} s waiting for ${what}")
      say "timed out waiting for ${what}"
      return 1
    fi
    sleep 0.2
  done
}

qdisc() {  # qdisc both|camera netem ARGS... ; qdisc clear
  local side="$1"
  shift
  if [[ "${side}" == clear ]]; then
    in_srv tc qdisc del dev "${VETH_SRV}" root 2>/dev/null || true
    in_cam tc qdisc del dev "${VETH_CAM}" root 2>/dev/null || true
    return
  fi
  in_cam tc qdisc replace dev "${VETH_CAM}" root "$@"
  if [[ "${side}" == both ]]; then
    in_srv tc qdisc replace dev "${VETH_SRV}" root "$@"
  fi
}

idle_timeouts_at_least() { (( $(metric ingest_idle_timeouts_total) >= $1 )); }
all_streaming_since() {  # every camera welcomed again since $1 and streaming
  (( $(metric ingest_sessions_welcomed_total) - $1 >= CAMERAS &&
     $(metric ingest_sessions_streaming) >= CAMERAS ))
}

# --- set-up ---
say "work folder ${WORK}; namespaces ${NS_SRV} (ingestd, ${SRV_ADDR}) and ${NS_CAM} (cameras, ${CAM_ADDR})"
ip netns add "${NS_SRV}"
ip netns add "${NS_CAM}"
ip link add "${VETH_SRV}" netns "${NS_SRV}" type veth peer name "${VETH_CAM}" netns "${NS_CAM}"
in_srv ip link set lo up
in_cam ip link set lo up
in_srv ip addr add "${SRV_ADDR}/30" dev "${VETH_SRV}"
in_cam ip addr add "${CAM_ADDR}/30" dev "${VETH_CAM}"
in_srv ip link set "${VETH_SRV}" up
in_cam ip link set "${VETH_CAM}" up
SETUP_DONE=1

"${INGESTD}" certs --out="${WORK}/certs" --cameras="${CAMERAS}" >/dev/null
mkdir -p "${WORK}/store" "${WORK}/state"
cat >"${WORK}/ingestd.toml" <<TOML
# written by scripts/netem_faults.sh
[server]
id = "netem-faults"
zone = "dev"
listen = "${SRV_ADDR}:${PORT}"
admin_listen = "127.0.0.1:${ADMIN_PORT}"
shards = 1
max_connections = 10000
state_dir = "${WORK}/state"

[tls]
cert_file = "${WORK}/certs/server.crt"
key_file = "${WORK}/certs/server.key"
camera_ca_file = "${WORK}/certs/camera-ca.crt"
handshake_timeout_ms = 5000

[protocol]
idle_timeout_ms = ${IDLE_TIMEOUT_MS}
keepalive_interval_ms = 1000
hello_timeout_ms = 5000

[spool]
shard_memory_bytes = "64MiB"

[store]
url = "dir:${WORK}/store"
seal_age_ms = 300
index_interval_s = 1

[drain]
announce_delay_ms = 100
deadline_ms = 60000
TOML

# `ip netns exec` execs the command: these pids are ingestd's and camera-sim's own.
ip netns exec "${NS_SRV}" "${INGESTD}" --config="${WORK}/ingestd.toml" >"${WORK}/ingestd.log" 2>&1 &
SERVER_PID=$!
ready() { in_srv curl -s -o /dev/null -w '%{http_code}' --max-time 2 "http://127.0.0.1:${ADMIN_PORT}/readyz" |
  grep -q 200; }
wait_for "ingestd ready" 60 ready || exit 1
ip netns exec "${NS_CAM}" "${CAMERA_SIM}" --target="${SRV_ADDR}:${PORT}" --certs_dir="${WORK}/certs" \
  --cameras="${CAMERAS}" --segment_ms=500 --segment_bytes=16384 --duration_s=100000 --drain_timeout_s=60 \
  --json --per_camera >"${WORK}/camera-sim.json" 2>"${WORK}/camera-sim.log" &
SIM_PID=$!
streaming() { (( $(metric ingest_sessions_streaming) >= CAMERAS )); }
wait_for "${CAMERAS} cameras streaming" 60 streaming || exit 1

# --- the phases ---
declare -A FIG
for phase in ${PHASES}; do
  say "phase ${phase}"
  welcomed=$(metric ingest_sessions_welcomed_total)
  timeouts=$(metric ingest_idle_timeouts_total)
  acks=$(metric ingest_acks_spooled_total)
  began=${SECONDS}
  case "${phase}" in
    baseline | recovery)
      sleep "${PHASE_S}"
      ;;
    delay)
      qdisc both netem delay 150ms
      sleep "${PHASE_S}"
      qdisc clear
      ;;
    throttle)
      qdisc both netem rate 128kbit
      sleep "${PHASE_S}"
      qdisc clear
      ;;
    stall)
      qdisc both netem loss 100%
      wait_for "the server to time out the stalled connections" $((IDLE_TIMEOUT_MS / 1000 + 15)) \
        idle_timeouts_at_least $((timeouts + CAMERAS)) || true
      qdisc clear
      wait_for "every camera streaming again" "${RESUME_BOUND_S}" all_streaming_since "${welcomed}" || true
      ;;
    half-open)
      qdisc camera netem loss 100%
      in_cam ss -K state established "( dport = :${PORT} )" >/dev/null 2>&1 || true
      wait_for "the server to time out the half-open connections" $((IDLE_TIMEOUT_MS / 1000 + 15)) \
        idle_timeouts_at_least $((timeouts + CAMERAS)) || true
      qdisc clear
      wait_for "every camera streaming again" "${RESUME_BOUND_S}" all_streaming_since "${welcomed}" || true
      ;;
    reset)
      # (ss may complain about sockets it cannot destroy; whether every camera
      # was reset shows in the welcomes that follow.)
      in_srv ss -K state established "( sport = :${PORT} )" >/dev/null 2>&1 || true
      wait_for "every camera streaming again" "${RESUME_BOUND_S}" all_streaming_since "${welcomed}" || true
      ;;
  esac
  server_alive || {
    FAILURES+=("ingestd exited in phase ${phase}")
    break
  }
  kill -0 "${SIM_PID}" 2>/dev/null || {
    FAILURES+=("camera-sim exited in phase ${phase}")
    break
  }
  FIG[${phase}]="{\"seconds\": $((SECONDS - began)), \"idle_timeouts\": $(($(metric ingest_idle_timeouts_total) - timeouts)), \"welcomed\": $(($(metric ingest_sessions_welcomed_total) - welcomed)), \"acks_spooled\": $(($(metric ingest_acks_spooled_total) - acks))}"
  say "phase ${phase}: ${FIG[${phase}]}"
done

# --- the end: cameras stop, the server flushes and drains, the store is read back ---
say "stopping the cameras"
kill -TERM "${SIM_PID}" 2>/dev/null || true
sim_rc=0
wait "${SIM_PID}" || sim_rc=$?
SIM_PID=""
say "camera-sim exited ${sim_rc}; flushing ingestd"
nothing_pending() {
  (( $(metric ingest_pending_segments) == 0 && $(metric ingest_batches_in_flight) == 0 &&
     $(metric ingest_unindexed_segments) == 0 ))
}
wait_for "nothing pending, in flight or unindexed" 60 nothing_pending || true
kill -TERM "${SERVER_PID}" 2>/dev/null || true
server_rc=0
wait "${SERVER_PID}" || server_rc=$?
SERVER_PID=""
(( server_rc == 0 )) || FAILURES+=("the final drain ended with exit code ${server_rc}")

phases_json="{"
for phase in ${PHASES}; do
  [[ -n "${FIG[${phase}]:-}" ]] && phases_json+="\"${phase}\": ${FIG[${phase}]}, "
done
phases_json="${phases_json%, }}"
say "reading the store back"
failures_json="$(printf '%s\n' "${FAILURES[@]+"${FAILURES[@]}"}" | python3 -c \
  'import json, sys; print(json.dumps([l.rstrip("\n") for l in sys.stdin if l.strip()]))')"
python3 - "${ROOT}" "${INGESTCTL}" "${WORK}" "${phases_json}" "${failures_json}" "${CAMERAS}" "${SECONDS}" <<'PY'
import json
import sys
import time
import types

sys.dont_write_bytecode = True
root, ingestctl, work, phases, failures, cameras, elapsed = sys.argv[1:8]
sys.path.insert(0, f"{root}/tests/faults")
import fault_run  # noqa: E402

fault_run.START = time.monotonic() - int(elapsed)  # the script's run, for wall_s

failures = json.loads(failures)
try:
    with open(f"{work}/camera-sim.json") as f:
        report = json.load(f)
    problems, figures = fault_run.check_exactly_once(types.SimpleNamespace(ingestctl=ingestctl), f"{work}/store",
                                                     report)
    failures.extend(problems)
except (OSError, ValueError) as e:
    failures.append(f"camera-sim's report: {e}")
    figures = {}
figures = {"cameras": int(cameras), "phases": json.loads(phases), **figures}
sys.exit(fault_run.finish(figures, failures))
PY
