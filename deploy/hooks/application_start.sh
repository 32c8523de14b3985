#!/usr/bin/env bash
# CodeDeploy ApplicationStart: starts ingestd and fails if it does not stay
# up for a few seconds (a bad certificate or an unusable store stops it at
# once). Whether it is ready for cameras is ValidateService's question.
set -euo pipefail

# shellcheck source=deploy/hooks/common.sh
source "$(dirname "${BASH_SOURCE[0]}")/common.sh"
hook_init application_start 50
settle_s="${INGESTD_START_SETTLE_S:-3}"

if ingestd_running; then
  log "ingestd is already running"
  exit 0
fi

if [[ ${INGESTD_SUPERVISOR} == systemd ]]; then
  timeout "$(seconds_left)" systemctl start "${INGESTD_SERVICE}"
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
