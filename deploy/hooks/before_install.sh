#!/usr/bin/env bash
# CodeDeploy BeforeInstall: the folders (and, under systemd, the system user)
# ingestd needs, and an empty staging folder for the bundle's files (the
# agent refuses to copy over files an earlier, failed deployment left).
# Safe to run any number of times.
set -euo pipefail

# shellcheck source=deploy/hooks/common.sh
source "$(dirname "${BASH_SOURCE[0]}")/common.sh"
hook_init before_install 50

if [[ ${INGESTD_SUPERVISOR} == systemd ]] && ! getent passwd "${INGESTD_USER}" >/dev/null; then
  log "creating system user ${INGESTD_USER}"
  useradd --system --user-group --no-create-home --home-dir "${INGESTD_STATE_DIR}" \
    --shell /usr/sbin/nologin "${INGESTD_USER}"
fi

require_safe_dir "${INGESTD_STAGING_DIR}"
if [[ -e ${INGESTD_STAGING_DIR} ]]; then
  log "removing the staging folder of an earlier bundle: ${INGESTD_STAGING_DIR}"
  rm -rf -- "${INGESTD_STAGING_DIR}"
fi

config_dir="$(dirname "${INGESTD_CONFIG}")"
mkdir -p "${INGESTD_PREFIX}/bin" "${config_dir}" "${INGESTD_STATE_DIR}"
if [[ ${INGESTD_SUPERVISOR} == systemd ]]; then
  # Configuration and keys: root writes, the service's group reads.
  chown root:"${INGESTD_USER}" "${config_dir}"
  chmod 0750 "${config_dir}"
  chown "${INGESTD_USER}:${INGESTD_USER}" "${INGESTD_STATE_DIR}"
  chmod 0750 "${INGESTD_STATE_DIR}"
fi
log "folders ready"
