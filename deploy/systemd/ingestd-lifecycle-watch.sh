#!/usr/bin/env bash
# One short look at this instance's Auto Scaling target lifecycle state
# (IMDSv2), run every 5 s by ingestd-lifecycle-watch.timer. A run never waits
# for a drain: it starts one, records what it saw in small state files, and
# the next run carries on.
#
# "Terminated" (the group is terminating the instance, which waits in
# Terminating:Wait on the group's drain lifecycle hook):
#   - ingestd serving: start its drain (`systemctl stop --no-block`, or
#     SIGTERM in pidfile mode) and record a lifecycle heartbeat. The drain
#     fails readiness, moves the cameras to the zone's other servers through
#     the NLB and uploads everything acknowledged.
#   - draining (ActiveState deactivating, or a drain started over HTTP):
#     record a heartbeat every INGESTD_HEARTBEAT_EVERY_S.
#   - stopped (inactive or failed): if nothing is left to upload (ingestd
#     never ran here, the last drain since the termination began says
#     "complete" in the audit log, or `ingestctl spool` finds nothing
#     unpersisted), complete the lifecycle action (CONTINUE) once: the
#     instance terminates at once instead of idling out the heartbeat
#     timeout. Otherwise (a drain that hit its deadline, a crash) the spool
#     still holds data and goes with the instance: start ingestd again (the
#     NLB no longer sends it cameras) so it keeps uploading, keep
#     heartbeating, and drain it again on a later run.
#   Heartbeats stop after INGESTD_LIFECYCLE_MAX_WAIT_S: the spool is then
#   lost when the heartbeat timeout runs out, and the log says so.
#
# "InService": liveness only. The group uses EC2 health checks, so nothing
# here or in the NLB's readiness check (/readyz fails on every server during
# an S3 outage) replaces an instance; this watcher marks the instance
# Unhealthy only when ingestd is alive but wedged: active, serving (not
# draining), older than INGESTD_LIVENESS_GRACE_S, and /healthz has failed for
# INGESTD_LIVENESS_FAIL_S without a break. A stopped or failed ingestd (a
# deployment, an operator, a crash loop) is the alerts' business: replacing
# the instance would delete its spool. /readyz is never looked at.
#
# Installed as /opt/ingestd/bin/ingestd-lifecycle-watch.sh, with the
# CodeDeploy hooks' common.sh (the supervisor abstraction, the deploy env
# file) as /opt/ingestd/lib/common.sh: it sources ../lib/common.sh, or in the
# source tree ../hooks/common.sh.
# Needs curl, flock, timeout and the AWS CLI.
#
# Settings: the environment, then /etc/default/ingestd-deploy (common.sh's
# INGESTD_* keys: INGESTD_SUPERVISOR, INGESTD_SERVICE, INGESTD_ADMIN_ADDR,
# INGESTD_STATE_DIR, INGESTD_PREFIX, INGESTD_CONFIG, INGESTD_PIDFILE, ...),
# then these defaults:
#   INGESTD_ASG_NAME               the Auto Scaling group            (needed for any AWS call)
#   INGESTD_LIFECYCLE_HOOK_NAME    its termination lifecycle hook    (needed for heartbeats, completion)
#   INGESTD_AWS_REGION             region for the AWS calls          from the instance identity document
#   INGESTD_HEARTBEAT_EVERY_S      seconds between heartbeats; also the
#                                  least time between two restarts   60
#   INGESTD_LIFECYCLE_MAX_WAIT_S   heartbeat no longer than this     21600 (6 h; AWS caps a lifecycle
#                                  after the termination began       action at min(48 h, 100 x heartbeat timeout))
#   INGESTD_LIVENESS_GRACE_S       no liveness verdict on a younger ingestd process   300
#   INGESTD_LIVENESS_FAIL_S        /healthz failing this long = wedged                  60
#   INGESTD_SPOOL_DIR              the spool, for `ingestctl spool`  spool.dir from the configuration
#   INGESTD_WATCH_STATE_DIR        this watcher's state files        /run/ingestd-lifecycle-watch
#   INGESTD_IMDS_ENDPOINT          instance metadata                 http://169.254.169.254
#   INGESTD_AWS_ENDPOINT_URL       --endpoint-url for the AWS calls (tests)   none
#   INGESTD_AWS_CLI                the AWS CLI                       aws
#
#   ingestd-lifecycle-watch.sh      # what the timer runs; exits 0 unless misconfigured
set -euo pipefail

here="$(dirname "$(readlink -f "${BASH_SOURCE[0]}")")"
common="${here}/../lib/common.sh"
[[ -r ${common} ]] || common="${here}/../hooks/common.sh"
# shellcheck source=deploy/hooks/common.sh
source "${common}"
HOOK_NAME=ingestd-lifecycle-watch

readonly IMDS="${INGESTD_IMDS_ENDPOINT:-http://169.254.169.254}"
readonly WATCH_DIR="${INGESTD_WATCH_STATE_DIR:-/run/ingestd-lifecycle-watch}"
readonly ASG_NAME="${INGESTD_ASG_NAME:-}"
readonly HOOK_NAME_AWS="${INGESTD_LIFECYCLE_HOOK_NAME:-}"
whole_seconds() {
  [[ $2 =~ ^[0-9]+$ ]] || die "$1 must be a whole number of seconds, got '$2'"
  echo "$2"
}
HEARTBEAT_EVERY_S="$(whole_seconds INGESTD_HEARTBEAT_EVERY_S "${INGESTD_HEARTBEAT_EVERY_S:-60}")"
MAX_WAIT_S="$(whole_seconds INGESTD_LIFECYCLE_MAX_WAIT_S "${INGESTD_LIFECYCLE_MAX_WAIT_S:-21600}")"
GRACE_S="$(whole_seconds INGESTD_LIVENESS_GRACE_S "${INGESTD_LIVENESS_GRACE_S:-300}")"
FAIL_S="$(whole_seconds INGESTD_LIVENESS_FAIL_S "${INGESTD_LIVENESS_FAIL_S:-60}")"
readonly HEARTBEAT_EVERY_S MAX_WAIT_S GRACE_S FAIL_S
readonly AWS_CLI="${INGESTD_AWS_CLI:-aws}"
readonly INGESTCTL="${INGESTD_PREFIX}/bin/ingestctl"
readonly AUDIT_LOG="${INGESTD_STATE_DIR}/audit.log"

NOW="$(date +%s)"
IMDS_TOKEN=""
INSTANCE_ID=""
REGION="${INGESTD_AWS_REGION:-}"
AWS_ERROR=""

# --- instance metadata (IMDSv2), each request bounded to 2 s ----------------

imds_get() {
  curl -sf --max-time 2 -H "X-aws-ec2-metadata-token: ${IMDS_TOKEN}" "${IMDS}$1"
}

imds_session() {
  IMDS_TOKEN="$(curl -sf --max-time 2 -X PUT "${IMDS}/latest/api/token" \
    -H "X-aws-ec2-metadata-token-ttl-seconds: 300")"
}

# Sets INSTANCE_ID and REGION, needed only for the AWS calls.
load_identity() {
  [[ -z ${INSTANCE_ID} ]] || return 0
  local document
  document="$(imds_get /latest/dynamic/instance-identity/document)" || return 1
  INSTANCE_ID="$(grep -o '"instanceId" *: *"[^"]*"' <<<"${document}" | cut -d'"' -f4)"
  [[ -n ${REGION} ]] || REGION="$(grep -o '"region" *: *"[^"]*"' <<<"${document}" | cut -d'"' -f4)"
  [[ -n ${INSTANCE_ID} && -n ${REGION} ]]
}

# --- Auto Scaling calls: bounded, failures logged and retried next run ------

# aws_ready WHAT: true when an Auto Scaling call can be made (the group's
# name, the instance id and region are known).
aws_ready() {
  if [[ -z ${ASG_NAME} ]]; then
    log "INGESTD_ASG_NAME is not set: cannot $1"
    return 1
  fi
  if ! load_identity; then
    log "instance metadata gave no instance id or region: cannot $1"
    return 1
  fi
}

# asg_call SUBCOMMAND ARGS...: true on success; AWS_ERROR holds the CLI's
# message otherwise. Call aws_ready first.
asg_call() {
  local -a cmd=("${AWS_CLI}" --cli-connect-timeout 5 --cli-read-timeout 10 --region "${REGION}" --output text)
  if [[ -n ${INGESTD_AWS_ENDPOINT_URL:-} ]]; then cmd+=(--endpoint-url "${INGESTD_AWS_ENDPOINT_URL}"); fi
  # The CLI retries throttling and 5xx on its own; 20 s bounds it all.
  if AWS_ERROR="$(timeout 20 "${cmd[@]}" autoscaling "$@" 2>&1 >/dev/null)"; then
    return 0
  fi
  AWS_ERROR="${AWS_ERROR:-timed out or failed without a message}"
  log "aws autoscaling $1 failed (tried again on the next run): ${AWS_ERROR}"
  return 1
}

lifecycle_call() {
  if [[ -z ${HOOK_NAME_AWS} ]]; then
    log "INGESTD_LIFECYCLE_HOOK_NAME is not set: cannot call autoscaling $1"
    return 1
  fi
  aws_ready "call autoscaling $1" || return 1
  local subcommand="$1"
  shift
  asg_call "${subcommand}" --auto-scaling-group-name "${ASG_NAME}" \
    --lifecycle-hook-name "${HOOK_NAME_AWS}" --instance-id "${INSTANCE_ID}" "$@"
}

# --- this watcher's state files -------------------------------------------

state_file() { echo "${WATCH_DIR}/$1"; }
read_state() { cat "$(state_file "$1")" 2>/dev/null || true; }
write_state() {
  local tmp
  tmp="$(state_file ".$1.$$")"
  echo "$2" >"${tmp}"
  mv -f "${tmp}" "$(state_file "$1")"
}
clear_state() { for name; do rm -f "$(state_file "${name}")"; done; }

# --- termination ------------------------------------------------------------

# The spool folder: the setting, else spool.dir from the configuration
# (which defaults it under state_dir), else <state_dir>/spool.
spool_dir() {
  if [[ -n ${INGESTD_SPOOL_DIR:-} ]]; then
    echo "${INGESTD_SPOOL_DIR}"
    return
  fi
  local dir=""
  if [[ -x ${INGESTD_BIN} && -r ${INGESTD_CONFIG} ]]; then
    dir="$(timeout 10 "${INGESTD_BIN}" --config "${INGESTD_CONFIG}" --print_config 2>/dev/null |
      awk '/^\[/ { in_spool = ($0 == "[spool]") } in_spool && /^dir *=/ { sub(/^dir *= *"/, ""); sub(/"[^"]*$/, ""); print; exit }' || true)"
  fi
  echo "${dir:-${INGESTD_STATE_DIR}/spool}"
}

# True when nothing was ever spooled here: no ingestd installed and no file
# in the spool (a launch deployment that failed before installing).
never_ran_here() {
  [[ ! -e ${INGESTD_BIN} ]] || return 1
  local dir
  dir="$(spool_dir)"
  [[ ! -d ${dir} || -z "$(find "${dir}" -type f -size +0 -print -quit 2>/dev/null)" ]]
}

# The last drain_finished line written since the termination began.
last_drain_finished() {
  local offset="$1"
  [[ -f ${AUDIT_LOG} ]] || return 0
  # A log shorter than at the start was rotated: then all of it is new.
  (($(stat -c %s "${AUDIT_LOG}") >= offset)) || offset=0
  tail -c "+$((offset + 1))" "${AUDIT_LOG}" | grep '"event": *"drain_finished"' | tail -n 1 || true
}

# True when `ingestctl spool` reads the spool and finds nothing waiting:
# no pending record, no batch journaled but not known uploaded, no persisted
# segment waiting for its camera index.
spool_provably_empty() {
  local dir report
  dir="$(spool_dir)"
  [[ -x ${INGESTCTL} && -d ${dir} ]] || return 1
  report="$(timeout 30 "${INGESTCTL}" --spool_dir="${dir}" spool --json 2>/dev/null)" || return 1
  grep -Eq '"pending": *\[\]' <<<"${report}" &&
    grep -Eq '"uncommitted_batches": *0[,}]' <<<"${report}" &&
    grep -Eq '"unindexed_segments": *0[,}]' <<<"${report}"
}

# heartbeat [now]: records a lifecycle heartbeat when one is due (or at once
# with "now"), while the termination has not outlasted MAX_WAIT_S.
heartbeat() {
  local waited="$((NOW - TERMINATION_START))"
  if ((waited > MAX_WAIT_S)); then
    if [[ ! -e $(state_file gave_up) ]]; then
      log "GIVING UP: the termination began ${waited} s ago (INGESTD_LIFECYCLE_MAX_WAIT_S=${MAX_WAIT_S})" \
        "and ingestd has not yet drained completely; no more heartbeats: whatever its spool still" \
        "holds is LOST when the lifecycle hook's heartbeat timeout runs out and the instance terminates"
      write_state gave_up "${NOW}"
    fi
    return 0
  fi
  local last
  last="$(read_state heartbeat)"
  if [[ ${1:-} != now && -n ${last} ]] && ((NOW - last < HEARTBEAT_EVERY_S)); then
    return 0
  fi
  if lifecycle_call record-lifecycle-action-heartbeat; then
    write_state heartbeat "${NOW}"
    log "lifecycle heartbeat recorded (${waited} s into the termination)"
  fi
}

complete_action() {
  if lifecycle_call complete-lifecycle-action --lifecycle-action-result CONTINUE; then
    log "lifecycle action completed (CONTINUE): $1; the instance terminates now"
  elif [[ ${AWS_ERROR} == *"No active Lifecycle Action"* ]]; then
    # Completed by an earlier run whose answer was lost, or timed out.
    log "no lifecycle action is pending any more: $1"
  else
    return 0
  fi
  write_state completed "${NOW}"
}

start_drain() {
  local pid="$1"
  log "the instance is terminating: draining ingestd (pid ${pid})"
  if [[ ${INGESTD_SUPERVISOR} == systemd ]]; then
    timeout 10 systemctl stop --no-block "${INGESTD_SERVICE}" || log "systemctl stop --no-block ${INGESTD_SERVICE} failed"
  else
    kill -TERM "${pid}" 2>/dev/null || true
  fi
  write_state drain_requested "${pid}"
}

restart_to_upload() {
  local why="$1" last
  # Paced, so a crash loop does not become a restart every 5 s.
  last="$(read_state restarted)"
  if [[ -n ${last} ]] && ((NOW - last < HEARTBEAT_EVERY_S)); then return 0; fi
  write_state restarted "${NOW}"
  log "the spool may still hold data not uploaded (${why}); starting ingestd again to upload it" \
    "(the load balancer no longer sends it cameras); it is drained again on a later run"
  if [[ ${INGESTD_SUPERVISOR} == systemd ]]; then
    timeout 10 systemctl reset-failed "${INGESTD_SERVICE}" 2>/dev/null || true
    timeout 60 systemctl start "${INGESTD_SERVICE}" || log "systemctl start ${INGESTD_SERVICE} failed: the spool cannot be uploaded"
  else
    # Not with our lock: a server inheriting fd 9 would hold it for its
    # whole life, and every later run would find the watcher "busy".
    pidfile_start 9>&-
  fi
}

on_terminating() {
  [[ ! -e $(state_file completed) ]] || return 0
  if [[ ! -e $(state_file termination) ]]; then
    local offset=0
    if [[ -f ${AUDIT_LOG} ]]; then offset="$(stat -c %s "${AUDIT_LOG}")"; fi
    write_state termination "${NOW} ${offset}"
    log "the Auto Scaling group is terminating this instance (Terminating:Wait)"
  fi
  local audit_offset state pid drain finished
  read -r TERMINATION_START audit_offset <"$(state_file termination)"
  state="$(ingestd_state)"
  case "${state}" in
    active)
      pid="$(ingestd_main_pid || true)"
      drain="$(drain_state)"
      # Never a second SIGTERM to a draining process: it hurries the drain.
      if [[ -n ${pid} && ${drain} =~ ^(serving)?$ && ${pid} != "$(read_state drain_requested)" ]]; then
        start_drain "${pid}"
        heartbeat now
      else
        heartbeat
      fi
      ;;
    activating | deactivating | unknown)
      heartbeat
      ;;
    inactive | failed)
      finished="$(last_drain_finished "${audit_offset}")"
      if never_ran_here; then
        complete_action "ingestd never ran on this instance"
      elif grep -q '"outcome": *"complete"' <<<"${finished}"; then
        complete_action "the drain completed: ${finished}"
      elif spool_provably_empty; then
        complete_action "ingestd is ${state} and its spool holds nothing unpersisted"
      else
        restart_to_upload "ingestd is ${state}, last drain: ${finished:-none since the termination began}"
        heartbeat
      fi
      ;;
  esac
}

# --- liveness ---------------------------------------------------------------

# Seconds since the process started (its start time in /proc/PID/stat).
process_age_s() {
  local stat fields uptime
  stat="$(cat "/proc/$1/stat" 2>/dev/null)" || return 1
  read -r -a fields <<<"${stat##*) }"
  read -r uptime _ </proc/uptime
  echo $((${uptime%.*} - fields[19] / $(getconf CLK_TCK)))
}

on_in_service() {
  # A later termination starts afresh.
  clear_state termination heartbeat drain_requested restarted completed gave_up
  [[ ! -e $(state_file unhealthy) ]] || return 0
  local pid age response drain since_pid since
  # Only an active, serving process old enough to be past its start-up.
  if [[ "$(ingestd_state)" != active ]] || ! pid="$(ingestd_main_pid)" ||
    ! age="$(process_age_s "${pid}")" || ((age < GRACE_S)); then
    clear_state healthz_failing
    return 0
  fi
  response="$(http_get /healthz || true)"
  if [[ ${response%% *} == 200 ]]; then
    clear_state healthz_failing
    return 0
  fi
  # /healthz fails by design once a drain closes the listeners; the admin
  # listener still answers then. No answer at all is no excuse.
  if [[ -n ${response} ]]; then
    drain="$(drain_state)"
    if [[ -n ${drain} && ${drain} != serving ]]; then
      clear_state healthz_failing
      return 0
    fi
  fi
  read -r since_pid since <<<"$(read_state healthz_failing)"
  if [[ ${since_pid:-} != "${pid}" ]]; then
    write_state healthz_failing "${pid} ${NOW}"
    log "ingestd pid ${pid} is active but /healthz fails (${response:-no answer within 3 s})"
    return 0
  fi
  ((NOW - since >= FAIL_S)) || return 0
  log "ingestd pid ${pid} is alive but wedged: /healthz has failed for $((NOW - since)) s" \
    "(${response:-no answer within 3 s}); marking the instance Unhealthy so the group replaces it"
  aws_ready "mark the instance Unhealthy" || return 0
  if asg_call set-instance-health --instance-id "${INSTANCE_ID}" --health-status Unhealthy \
    --no-should-respect-grace-period; then
    write_state unhealthy "${NOW}"
    log "instance ${INSTANCE_ID} marked Unhealthy"
  fi
}

main() {
  local state
  mkdir -p "${WATCH_DIR}"
  chmod 0700 "${WATCH_DIR}"
  # One run at a time (the timer never overlaps runs; a manual run might).
  exec 9>"$(state_file lock)"
  flock -n 9 || exit 0
  # Outside an Auto Scaling group (or with IMDS unreachable) there is nothing
  # to watch; the timer simply tries again.
  imds_session || exit 0
  state="$(imds_get /latest/meta-data/autoscaling/target-lifecycle-state)" || exit 0
  case "${state}" in
    Terminated) on_terminating ;;
    InService) on_in_service ;;
    *) ;; # Pending, Warmed:*, Standby, Detached: nothing to do.
  esac
}

main "$@"
