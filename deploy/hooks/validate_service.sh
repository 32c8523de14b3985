#!/usr/bin/env bash
# CodeDeploy ValidateService: waits until /readyz answers 200, that is until
# the spool is recovered, the store is reachable and the camera listeners are
# up. Fails the deployment (naming the failed checks) if that takes longer
# than the hook's own limit.
set -euo pipefail

# shellcheck source=deploy/hooks/common.sh
source "$(dirname "${BASH_SOURCE[0]}")/common.sh"
hook_init validate_service 110

last="no answer"
while ((SECONDS < HOOK_DEADLINE)); do
  if response="$(http_get /readyz)"; then
    last="${response}"
    if [[ ${response%% *} == 200 ]]; then
      log "ready: ${response#* }"
      exit 0
    fi
  fi
  if [[ ${INGESTD_SUPERVISOR} == pidfile ]] && ! ingestd_running; then
    tail -n 30 "${INGESTD_LOG_FILE}" >&2 || true
    die "ingestd is not running"
  fi
  sleep 0.5
done
die "not ready at http://${INGESTD_ADMIN_ADDR}/readyz: ${last}"
