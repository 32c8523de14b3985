#!/usr/bin/env bash
# A throw-away S3 server for tests: a single-node Ceph cluster (one monitor,
# one OSD on the in-memory object store) and a RADOS Gateway (beast frontend),
# all on 127.0.0.1 and all kept inside one directory. Unlike s3rver it checks
# SigV4 signatures, so a test that passes against it says something about our
# signer. Facts behind the settings: shared/S3-TEST-SERVER.md.
#
#   scripts/s3_test_server.sh start DIR          # prints and writes DIR/s3.env
#   scripts/s3_test_server.sh stop-gateway DIR   # an S3 outage; the OSD keeps the data
#   scripts/s3_test_server.sh start-gateway DIR  # back on the same port
#   scripts/s3_test_server.sh stop DIR           # everything; idempotent
#
# DIR/s3.env holds S3_ENDPOINT, S3_ACCESS_KEY, S3_SECRET_KEY and S3_REGION.
# The OSD keeps objects in memory: S3_TEST_MEMSTORE_BYTES (default 2 GiB)
# bounds what one run may store; deleted objects are not freed soon.
# Only processes whose pid files are in DIR (and whose command line names
# DIR's ceph.conf) are ever signalled.
set -euo pipefail

# Everything start waits for shares one deadline.
readonly START_TIMEOUT_S=60
# A daemon that ignores SIGTERM this long gets SIGKILL.
readonly STOP_TIMEOUT_S=15
# Ports come from a random block below the kernel's ephemeral range (32768+),
# so outgoing connections never take them; a block is the monitor, the
# gateway, then the range the OSD binds its messengers in.
readonly PORT_LOW=20000
readonly PORT_BLOCKS=1200
readonly PORT_BLOCK_SIZE=10
readonly START_ATTEMPTS=3
# Keeps admin socket paths under the 107-byte limit of a Unix socket.
readonly MAX_DIR_LENGTH=60
# Any region string works with this gateway: it checks a SigV4 signature
# against the region named in the request's own credential scope (measured:
# us-east-1, eu-west-9, default and zz all sign and create buckets, with or
# without a LocationConstraint, though the zonegroup is "default").
# us-east-1 is what AWS tools assume without configuration.
readonly REGION=us-east-1
readonly RGW_NAME=client.rgw.gw

die() {
  echo "s3_test_server: $*" >&2
  exit 1
}

usage() {
  echo "usage: $0 start|stop|stop-gateway|start-gateway DIR" >&2
  exit 2
}

# Paths inside DIR; set by set_paths.
DIR=""
CLUSTER=""
CONF=""
LOGS=""

set_paths() {
  [[ -n $1 ]] || die "DIR is empty"
  DIR="$(cd "$1" 2>/dev/null && pwd)" || die "no such directory: $1"
  [[ ${#DIR} -le ${MAX_DIR_LENGTH} ]] ||
    die "DIR '${DIR}' is longer than ${MAX_DIR_LENGTH} characters (admin socket paths would not fit)"
  CLUSTER="${DIR}/cluster"
  CONF="${CLUSTER}/ceph.conf"
  LOGS="${CLUSTER}/log"
}

pid_file() { echo "${CLUSTER}/run/$1.pid"; }

# daemon_pid NAME: the pid of DIR's daemon NAME (mon, osd, rgw) if it runs,
# else nothing. A pid is trusted only while /proc says that process was
# started with DIR's ceph.conf: a stale pid file must never name a stranger.
daemon_pid() {
  local file pid cmdline
  file="$(pid_file "$1")"
  [[ -f ${file} ]] || return 0
  pid="$(head -c 32 "${file}" 2>/dev/null | tr -dc '0-9')" || return 0
  [[ -n ${pid} ]] || return 0
  cmdline="$(tr '\0' ' ' <"/proc/${pid}/cmdline" 2>/dev/null)" || return 0
  [[ ${cmdline} == *" ${CONF} "* || ${cmdline} == *" ${CONF}" ]] || return 0
  echo "${pid}"
}

# ceph_cli ARGS...: the ceph command line client against DIR's cluster, bounded.
ceph_cli() {
  timeout 20 ceph -c "${CONF}" --connect-timeout 15 "$@" 2>>"${LOGS}/cli.err"
}

log_tail() {
  local file="$1"
  if [[ -s ${file} ]]; then
    echo "--- last lines of ${file}:" >&2
    tail -n 25 "${file}" >&2
  fi
}

# ---------------------------------------------------------------- stopping

# running PID: the process exists and is not a zombie. The daemons fork away
# from us, so once they exit they wait as zombies until init reaps them,
# which here can take seconds.
running() {
  local stat
  stat="$(cat "/proc/$1/stat" 2>/dev/null)" || return 1
  stat="${stat##*) }"
  [[ ${stat:0:1} != Z && ${stat:0:1} != X ]]
}

# stop_daemon NAME [SIGNAL]: SIGNAL (default TERM), wait, SIGKILL after
# STOP_TIMEOUT_S. Nothing to do if it is not running.
stop_daemon() {
  local name="$1" signal="${2:-TERM}" pid waited=0
  pid="$(daemon_pid "${name}")"
  if [[ -n ${pid} ]]; then
    kill "-${signal}" "${pid}" 2>/dev/null || true
    while running "${pid}" && ((waited < STOP_TIMEOUT_S * 20)); do
      sleep 0.05
      waited=$((waited + 1))
    done
    if running "${pid}"; then
      echo "s3_test_server: ${name} (pid ${pid}) ignored SIGTERM for ${STOP_TIMEOUT_S}s; SIGKILL" >&2
      kill -KILL "${pid}" 2>/dev/null || true
      waited=0
      while running "${pid}" && ((waited < 100)); do
        sleep 0.05
        waited=$((waited + 1))
      done
    fi
  fi
  rm -f "$(pid_file "${name}")"
}

cmd_stop() {
  # Order matters: radosgw first, or it may hang for minutes waiting on the
  # OSD and monitor it talks to. The whole cluster is thrown away, so the
  # gateway is killed outright: on SIGTERM it takes 3 to 5 s to wind down,
  # which every test that starts a cluster paid (measured 2026-12-03).
  stop_daemon rgw KILL
  stop_daemon osd
  stop_daemon mon
}

cmd_stop_gateway() {
  stop_daemon rgw
}

# ---------------------------------------------------------------- starting

# port_in_use PORT: any TCP socket (listening, connected, TIME_WAIT) on it.
port_in_use() {
  ss -Htan "( sport = :$1 )" | grep -q .
}

block_free() {
  local port
  for ((port = $1; port < $1 + PORT_BLOCK_SIZE; port++)); do
    if port_in_use "${port}"; then return 1; fi
  done
  return 0
}

# pick_ports: sets MON_PORT, RGW_PORT, MSG_PORT_MIN, MSG_PORT_MAX to a free
# random block.
pick_ports() {
  local try base
  for ((try = 0; try < 50; try++)); do
    base=$((PORT_LOW + (RANDOM * 32768 + RANDOM) % PORT_BLOCKS * PORT_BLOCK_SIZE))
    if block_free "${base}"; then
      MON_PORT=${base}
      RGW_PORT=$((base + 1))
      MSG_PORT_MIN=$((base + 2))
      MSG_PORT_MAX=$((base + PORT_BLOCK_SIZE - 1))
      return 0
    fi
  done
  die "no free block of ${PORT_BLOCK_SIZE} ports found in 50 tries"
}

write_conf() {
  local memstore_bytes="$1"
  cat >"${CONF}" <<EOF
# Written by scripts/s3_test_server.sh; everything lives under ${CLUSTER}.
[global]
fsid = ${FSID}
mon_host = v2:127.0.0.1:${MON_PORT}
public_addr = 127.0.0.1
cluster_addr = 127.0.0.1
ms_bind_msgr1 = false
ms_bind_ipv6 = false
ms_bind_port_min = ${MSG_PORT_MIN}
ms_bind_port_max = ${MSG_PORT_MAX}
# No cephx inside the throw-away cluster; radosgw still verifies S3 signatures.
auth_cluster_required = none
auth_service_required = none
auth_client_required = none
# Without these radosgw loops on "get_initial_auth_request returned -13".
ms_mon_client_mode = crc
ms_mon_service_mode = crc
ms_mon_cluster_mode = crc
ms_client_mode = crc
ms_service_mode = crc
ms_cluster_mode = crc
run_dir = ${CLUSTER}/run
admin_socket = ${CLUSTER}/run/\$name.asok
log_file = ${LOGS}/\$name.log
log_to_stderr = false
err_to_stderr = false
crash_dir = ${CLUSTER}/crash
keyring = ${CLUSTER}/keyring
osd_pool_default_size = 1
osd_pool_default_min_size = 1
mon_allow_pool_size_one = true
osd_pool_default_pg_num = 8
osd_pool_default_pgp_num = 8
osd_pool_default_pg_autoscale_mode = off
osd_crush_chooseleaf_type = 0
mon_data_avail_warn = 1
mon_data_avail_crit = 0
client_mount_timeout = 30

[mon]
mon_data = ${CLUSTER}/mon
pid_file = ${CLUSTER}/run/mon.pid
# The 1 s default makes radosgw's first start (it creates its pools) slow.
paxos_propose_interval = 0.02
paxos_min_wait = 0.01
mon_cluster_log_file = ${LOGS}/cluster.log

[osd]
osd_data = ${CLUSTER}/osd
pid_file = ${CLUSTER}/run/osd.pid
osd_objectstore = memstore
memstore_device_bytes = ${memstore_bytes}
osd_op_num_shards = 1

[${RGW_NAME}]
pid_file = ${CLUSTER}/run/rgw.pid
rgw_frontends = beast endpoint=127.0.0.1:${RGW_PORT}
rgw_dns_name = localhost
rgw_thread_pool_size = 32
EOF
}

# wait_for WHAT DAEMON LOG CHECK...: runs CHECK until it succeeds, the start
# deadline passes, or DAEMON (mon, osd, rgw) is no longer running.
wait_for() {
  local what="$1" daemon="$2" log="$3"
  shift 3
  while ! "$@"; do
    if [[ -z $(daemon_pid "${daemon}") ]]; then
      echo "s3_test_server: ${daemon} exited while waiting for ${what}" >&2
      log_tail "${log}"
      return 1
    fi
    if ((SECONDS >= DEADLINE)); then
      echo "s3_test_server: timed out after ${START_TIMEOUT_S}s waiting for ${what}" >&2
      log_tail "${log}"
      return 1
    fi
    sleep 0.1
  done
}

mon_up() { ceph_cli mon stat >/dev/null; }

osd_up() {
  ceph_cli osd stat -f json 2>/dev/null | grep -q '"num_up_osds":1'
}

rgw_answers() {
  local code
  code="$(curl -s --noproxy '*' -o /dev/null -w '%{http_code}' --max-time 2 \
    "http://127.0.0.1:${RGW_PORT}/")" || true
  [[ ${code} =~ ^[1-5][0-9][0-9]$ ]]
}

# launch DAEMON LOG COMMAND...: starts a daemon that forks into the
# background and writes its own pid file (radosgw only after its launcher has
# returned); waits (bounded) for the pid file. LOG is the daemon's own log,
# shown on failure.
launch() {
  local daemon="$1" log="$2"
  shift 2
  if ! "$@" </dev/null >>"${LOGS}/${daemon}.out" 2>&1; then
    echo "s3_test_server: '$*' failed" >&2
    log_tail "${LOGS}/${daemon}.out"
    log_tail "${log}"
    return 1
  fi
  while [[ -z $(daemon_pid "${daemon}") ]]; do
    if ((SECONDS >= DEADLINE)); then
      echo "s3_test_server: ${daemon} wrote no pid file in time (or exited)" >&2
      log_tail "${LOGS}/${daemon}.out"
      log_tail "${log}"
      return 1
    fi
    sleep 0.05
  done
}

start_gateway() {
  launch rgw "${LOGS}/${RGW_NAME}.log" radosgw -c "${CONF}" -n "${RGW_NAME}" &&
    wait_for "radosgw to answer HTTP on 127.0.0.1:${RGW_PORT}" rgw "${LOGS}/${RGW_NAME}.log" rgw_answers
}

# The ceph daemons log a failed bind in several wordings.
port_clash() {
  grep -qsE 'Address already in use|unable to bind|failed to bind' "${LOGS}"/*
}

# setup_step COMMAND...: a one-shot set-up command, bounded, its output in
# setup.out (shown on failure).
setup_step() {
  timeout 30 "$@" </dev/null >>"${LOGS}/setup.out" 2>&1 && return 0
  echo "s3_test_server: '$1' failed (exit $?): $*" >&2
  log_tail "${LOGS}/setup.out"
  return 1
}

random_hex() { od -An -tx1 -N"$1" /dev/urandom | tr -d ' \n'; }

# start_attempt: one try at the whole cluster on fresh ports; on failure the
# caller stops what it started.
start_attempt() {
  local memstore_bytes="$1"
  rm -rf "${CLUSTER}"
  mkdir -p "${CLUSTER}/run" "${CLUSTER}/mon" "${CLUSTER}/osd" "${CLUSTER}/crash" "${LOGS}" ||
    return 1
  pick_ports
  FSID="$(uuidgen)" || return 1
  write_conf "${memstore_bytes}" || return 1

  setup_step ceph-authtool --create-keyring "${CLUSTER}/keyring" --gen-key -n mon. \
    --cap mon 'allow *' || return 1
  setup_step ceph-authtool "${CLUSTER}/keyring" --gen-key -n client.admin --cap mon 'allow *' \
    --cap osd 'allow *' --cap mgr 'allow *' || return 1
  setup_step monmaptool --create --fsid "${FSID}" --addv a "[v2:127.0.0.1:${MON_PORT}]" \
    "${CLUSTER}/monmap" || return 1
  setup_step ceph-mon -c "${CONF}" --mkfs -i a --monmap "${CLUSTER}/monmap" \
    --keyring "${CLUSTER}/keyring" || return 1
  launch mon "${LOGS}/mon.a.log" ceph-mon -c "${CONF}" -i a || return 1
  wait_for "the monitor on 127.0.0.1:${MON_PORT}" mon "${LOGS}/mon.a.log" mon_up || return 1

  local osd_uuid osd_id
  osd_uuid="$(uuidgen)"
  osd_id="$(ceph_cli osd new "${osd_uuid}")" || {
    echo "s3_test_server: 'ceph osd new' failed" >&2
    log_tail "${LOGS}/cli.err"
    return 1
  }
  [[ ${osd_id} =~ ^[0-9]+$ ]] || {
    echo "s3_test_server: 'ceph osd new' said '${osd_id}', not an OSD id" >&2
    return 1
  }
  setup_step ceph-osd -c "${CONF}" -i "${osd_id}" --mkfs --osd-uuid "${osd_uuid}" || return 1
  launch osd "${LOGS}/osd.${osd_id}.log" ceph-osd -c "${CONF}" -i "${osd_id}" || return 1
  wait_for "the OSD to be up" osd "${LOGS}/osd.${osd_id}.log" osd_up || return 1

  start_gateway || return 1

  ACCESS_KEY="AK$(random_hex 9 | tr 'a-f' 'A-F')"
  # 30 random bytes in base64: 40 characters that may include '/' and '+',
  # as real AWS secrets do.
  SECRET_KEY="$(head -c 30 /dev/urandom | base64)"
  setup_step radosgw-admin -c "${CONF}" -n client.admin user create --uid test \
    --display-name test --access-key "${ACCESS_KEY}" --secret-key "${SECRET_KEY}" || return 1
}

cmd_start() {
  local memstore_bytes="${S3_TEST_MEMSTORE_BYTES:-2147483648}"
  if ! [[ ${memstore_bytes} =~ ^[0-9]{1,15}$ ]] || ((memstore_bytes < 64 * 1024 * 1024)); then
    die "S3_TEST_MEMSTORE_BYTES='${memstore_bytes}' is not a byte count of at least 64 MiB"
  fi
  local tool
  for tool in ceph ceph-mon ceph-osd ceph-authtool monmaptool radosgw radosgw-admin curl ss uuidgen; do
    command -v "${tool}" >/dev/null ||
      die "'${tool}' not found; install radosgw ceph-mon ceph-osd ceph-common (scripts/setup.sh)"
  done
  if [[ -n $(daemon_pid mon) || -n $(daemon_pid osd) || -n $(daemon_pid rgw) ]]; then
    die "a cluster is already running in ${DIR}; stop it first"
  fi

  # Killed half-way (a test harness giving up): leave nothing running.
  trap 'cmd_stop; exit 1' INT TERM
  DEADLINE=$((SECONDS + START_TIMEOUT_S))
  local attempt
  for ((attempt = 1; attempt <= START_ATTEMPTS; attempt++)); do
    if start_attempt "${memstore_bytes}"; then
      write_env
      cat "${DIR}/s3.env"
      return 0
    fi
    local clash=0
    port_clash && clash=1
    cmd_stop
    if ((clash == 0)) || ((SECONDS >= DEADLINE)); then
      die "could not start the S3 test server in ${DIR} (logs in ${LOGS})"
    fi
    echo "s3_test_server: a port of ${MON_PORT}..${MSG_PORT_MAX} was taken; retrying on others" >&2
  done
  die "could not find free ports in ${START_ATTEMPTS} attempts (logs in ${LOGS})"
}

write_env() {
  local tmp="${DIR}/s3.env.tmp"
  {
    echo "S3_ENDPOINT=http://127.0.0.1:${RGW_PORT}"
    echo "S3_ACCESS_KEY=${ACCESS_KEY}"
    echo "S3_SECRET_KEY=${SECRET_KEY}"
    echo "S3_REGION=${REGION}"
  } >"${tmp}"
  mv "${tmp}" "${DIR}/s3.env"
}

cmd_start_gateway() {
  [[ -f ${CONF} ]] || die "no cluster in ${DIR} (run start first)"
  [[ -n $(daemon_pid osd) && -n $(daemon_pid mon) ]] ||
    die "the monitor or OSD in ${DIR} is not running; the gateway needs both"
  if [[ -n $(daemon_pid rgw) ]]; then
    return 0
  fi
  RGW_PORT="$(sed -n 's/^rgw_frontends = beast endpoint=127\.0\.0\.1:\([0-9]*\)$/\1/p' "${CONF}")"
  [[ ${RGW_PORT} =~ ^[0-9]+$ ]] || die "no gateway port in ${CONF}"
  DEADLINE=$((SECONDS + START_TIMEOUT_S))
  start_gateway || {
    stop_daemon rgw
    die "could not restart the gateway on 127.0.0.1:${RGW_PORT}"
  }
}

main() {
  [[ $# -eq 2 ]] || usage
  set_paths "$2"
  case "$1" in
    start) cmd_start ;;
    stop) cmd_stop ;;
    stop-gateway) cmd_stop_gateway ;;
    start-gateway) cmd_start_gateway ;;
    *) usage ;;
  esac
}

main "$@"
