#!/usr/bin/env bash
# CodeDeploy ApplicationStop: drains ingestd and waits for it to exit. The
# drain fails readiness, waits for the load balancer to notice, moves the
# cameras to the peers in waves and flushes everything acknowledged to the
# store. Succeeds when the drain's audit line says "complete"; otherwise the
# deployment stops here (nothing is lost: the next start uploads what is left
# in the spool). Nothing running (a first deployment): nothing to do. A drain
# already under way (the Auto Scaling lifecycle watcher's stop, POST
# /admin/drain) is waited for until ingestd is inactive or failed, and its
# audit checked the same way.
set -euo pipefail

# shellcheck source=deploy/hooks/common.sh
source "$(dirname "${BASH_SOURCE[0]}")/common.sh"
# appspec.yml gives this hook 300 s; the drain's own deadline is 120 s.
hook_init application_stop 290

audit_log="${INGESTD_STATE_DIR}/audit.log"

# Only the lines this drain appends are ours: remember where the log ends.
audit_offset=0
if [[ -f ${audit_log} ]]; then audit_offset="$(stat -c %s "${audit_log}")"; fi

state="$(ingestd_state)"
if [[ ${state} == inactive || ${state} == failed ]]; then
  log "ingestd is not running (${state}); nothing to drain"
  if [[ ${INGESTD_SUPERVISOR} == pidfile ]]; then rm -f "${INGESTD_PIDFILE}"; fi
  exit 0
fi

started=${SECONDS}
if [[ ${state} == deactivating ]]; then
  # A stop is already under way (the Auto Scaling lifecycle watcher, an
  # operator): its drain is waited for, never signalled again, since a
  # second SIGTERM makes it a fast drain. `systemctl stop` would wait too,
  # but with no word of what it waits for.
  log "ingestd is already stopping (a drain under way); waiting for it"
  wait_until_stopped || die "ingestd still draining after $((SECONDS - started)) s"
elif [[ ${INGESTD_SUPERVISOR} == systemd ]]; then
  # A drain started over HTTP (POST /admin/drain) leaves the unit active
  # until the process exits on its own: wait for that rather than signal it.
  drain="$(drain_state)"
  if [[ -n ${drain} && ${drain} != serving ]]; then
    log "a drain is already under way (${drain}); waiting for it"
    wait_until_stopped || die "ingestd still draining after $((SECONDS - started)) s"
  fi
  # ExecStop= starts the drain and returns when the process has exited.
  log "stopping ${INGESTD_SERVICE} (drain)"
  if ! timeout "$(seconds_left)" systemctl stop "${INGESTD_SERVICE}"; then
    die "${INGESTD_SERVICE} did not stop within the hook's time limit (state: $(ingestd_state))"
  fi
elif pid="$(pidfile_pid)"; then
  log "sending SIGTERM to ingestd pid ${pid} (drain)"
  kill -TERM "${pid}" 2>/dev/null || true
  wait_for_exit "${pid}" || die "ingestd pid ${pid} still draining after $((SECONDS - started)) s"
else
  log "ingestd exited on its own"
fi
if [[ ${INGESTD_SUPERVISOR} == pidfile ]]; then rm -f "${INGESTD_PIDFILE}"; fi
log "ingestd exited after $((SECONDS - started)) s"

[[ -f ${audit_log} ]] || die "no ${audit_log}: ingestd stopped without draining"
# A log shorter than before was rotated: then all of it is new.
(($(stat -c %s "${audit_log}") >= audit_offset)) || audit_offset=0
finished="$(tail -c "+$((audit_offset + 1))" "${audit_log}" | grep '"event": *"drain_finished"' | tail -n 1 || true)"
[[ -n ${finished} ]] || die "no drain_finished line in ${audit_log}: ingestd stopped without finishing a drain"

# This drain's lines: from its drain_started (which may predate this hook).
grep '"event": *"drain_' "${audit_log}" | awk '/"event": *"drain_started"/ { n = 0 } { lines[n++] = $0 }
  END { for (i = 0; i < n; i++) print lines[i] }'

if ! grep -q '"outcome": *"complete"' <<<"${finished}"; then
  die "the drain did not complete; what is left stays in the spool for the next start: ${finished}"
fi
log "drain complete"
