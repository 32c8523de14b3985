#!/usr/bin/env bash
# One look at this instance's Auto Scaling target lifecycle state (IMDSv2),
# run every 5 s by ingestd-lifecycle-watch.timer. When the group is about to
# terminate the instance (state "Terminated": the instance waits in
# Terminating:Wait on the group's drain lifecycle hook), it stops ingestd,
# which drains: readiness fails, cameras get GOAWAY in waves and reconnect to
# the zone's other servers through the NLB, and everything acknowledged is
# uploaded. `systemctl stop` returns when the drain is over (bounded by the
# unit's TimeoutStopSec).
#
# A drain that hit its deadline (or a crashed ingestd) may leave segments in
# the spool, and the spool volume is deleted with the instance: ingestd is
# started again so it keeps uploading (the NLB no longer sends it cameras),
# and the next run drains it again. The lifecycle hook's heartbeat timeout
# bounds the whole affair.
#
#   ingestd-lifecycle-watch.sh              # what the timer runs
#   IMDS_ENDPOINT=http://127.0.0.1:8080 ingestd-lifecycle-watch.sh   # against a stand-in
set -euo pipefail

readonly IMDS="${IMDS_ENDPOINT:-http://169.254.169.254}"
readonly UNIT="${INGESTD_UNIT:-ingestd.service}"
# Set once ingestd has drained cleanly, so later runs stay quiet.
readonly DRAINED_MARKER="${DRAINED_MARKER:-/run/ingestd-lifecycle-watch.drained}"

log() { echo "ingestd-lifecycle-watch: $*"; }

target_lifecycle_state() {
  local token
  token="$(curl -sf --max-time 2 -X PUT "${IMDS}/latest/api/token" \
    -H "X-aws-ec2-metadata-token-ttl-seconds: 60")" || return 1
  curl -sf --max-time 2 -H "X-aws-ec2-metadata-token: ${token}" \
    "${IMDS}/latest/meta-data/autoscaling/target-lifecycle-state"
}

main() {
  local state
  # Outside an Auto Scaling group (or with IMDS unreachable) there is nothing
  # to watch; the timer simply tries again.
  state="$(target_lifecycle_state)" || exit 0
  [[ ${state} == Terminated ]] || exit 0
  [[ -e ${DRAINED_MARKER} ]] && exit 0

  if systemctl is-active --quiet "${UNIT}"; then
    log "instance is terminating: draining ${UNIT}"
    systemctl stop "${UNIT}"
  fi
  # 0 also when ingestd never ran (a launch deployment that failed).
  local exit_status
  exit_status="$(systemctl show -p ExecMainStatus --value "${UNIT}")"
  if [[ ${exit_status} == 0 ]]; then
    log "drained; the lifecycle hook releases the instance when its heartbeat runs out"
    touch "${DRAINED_MARKER}"
    exit 0
  fi
  # A drain past its deadline, or a crash: acknowledged segments may still
  # be in the spool, which goes with the instance. Upload them.
  log "ingestd last exited with status ${exit_status}: starting ${UNIT} again to upload the spool"
  systemctl reset-failed "${UNIT}" || true
  systemctl start "${UNIT}" || log "${UNIT} did not start; the spool cannot be uploaded"
}

main "$@"
