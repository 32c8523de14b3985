#!/usr/bin/env bash
# CodeDeploy ApplicationStart: starts ingestd and fails if it does not stay
# up for a few seconds (a bad certificate or an unusable store stops it at
# once). Whether it is ready for cameras is ValidateService's question. A stop
# still under way (ActiveState deactivating: a drain) is waited for first,
# within the hook's own limit.
set -euo pipefail

# shellcheck source=deploy/hooks/common.sh
source "$(dirname "${BASH_SOURCE[0]}")/common.sh"
hook_init application_start 50
settle_s="${INGESTD_START_SETTLE_S:-3}"

state="$(ingestd_state)"
if [[ ${state} == active ]]; then
  log "ingestd is already running"
  exit 0
fi
if [[ ${state} == deactivating ]]; then
  # A stop under way (a drain started by an operator or the Auto Scaling
  # lifecycle watcher): `systemctl start` would queue behind the stop job
  # and wait silently. Wait for it here, with a word, then start.
  log "ingestd is still stopping (a drain under way); waiting for it to finish before starting"
  wait_until_stopped || die "ingestd still stopping after ${SECONDS} s; not started"
fi

if [[ ${INGESTD_SUPERVISOR} == systemd ]]; then
  if ! timeout "$(seconds_left)" systemctl start "${INGESTD_SERVICE}"; then
    journalctl -u "${INGESTD_SERVICE}" -n 30 --no-pager >&2 || true
    die "systemctl start ${INGESTD_SERVICE} failed or did not return within the hook's time limit (state: $(ingestd_state))"
  fi
  sleep "${settle_s}"
  if ! systemctl is-active --quiet "${INGESTD_SERVICE}"; then
    journalctl -u "${INGESTD_SERVICE}" -n 30 --no-pager >&2 || true
    die "${INGESTD_SERVICE} stopped within ${settle_s} s of starting"
  fi
  log "started ${INGESTD_SERVICE}"
else
  pidfile_start
  pid="$(cat "${INGESTD_PIDFILE}")"
  sleep "${settle_s}"
  if ! pidfile_pid >/dev/null; then
    tail -n 30 "${INGESTD_LOG_FILE}" >&2 || true
    die "ingestd (pid ${pid}) exited within ${settle_s} s of starting; log: ${INGESTD_LOG_FILE}"
  fi
  log "started ingestd pid ${pid}, log ${INGESTD_LOG_FILE}"
fi
