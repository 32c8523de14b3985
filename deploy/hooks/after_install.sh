#!/usr/bin/env bash
# CodeDeploy AfterInstall: checks the bundle's configuration with the
# bundle's binary, then installs binaries, configuration and certificates
# (each file replaced atomically) and, under systemd, the unit. A bad
# configuration fails here, before anything is replaced.
#
# Bundle layout (appspec.yml `files:` copies it to INGESTD_STAGING_DIR):
#   bin/ingestd  bin/ingestctl  systemd/ingestd.service
#   config/ingestd.toml  config/...   (everything under config/ goes beside INGESTD_CONFIG)
set -euo pipefail

# shellcheck source=deploy/hooks/common.sh
source "$(dirname "${BASH_SOURCE[0]}")/common.sh"
hook_init after_install 110

bundle="${INGESTD_BUNDLE_DIR}"
[[ -x ${bundle}/bin/ingestd ]] || die "no executable bin/ingestd in the bundle at ${bundle}"
config_dir="$(dirname "${INGESTD_CONFIG}")"

# --print_config parses and validates everything, then exits.
check_config() {
  local binary="$1" config="$2" problems
  if ! problems="$(timeout "$(seconds_left)" "${binary}" --config "${config}" --print_config 2>&1 >/dev/null)"; then
    printf '%s\n' "${problems}" >&2
    die "configuration ${config} rejected by ${binary}"
  fi
}

if [[ -f ${bundle}/config/ingestd.toml ]]; then
  check_config "${bundle}/bin/ingestd" "${bundle}/config/ingestd.toml"
elif [[ -f ${INGESTD_CONFIG} ]]; then
  # The new binary must accept the configuration already on the host.
  check_config "${bundle}/bin/ingestd" "${INGESTD_CONFIG}"
else
  die "no configuration: neither config/ingestd.toml in the bundle nor ${INGESTD_CONFIG}"
fi

mkdir -p "${INGESTD_PREFIX}/bin"
for program in ingestd ingestctl; do
  if [[ -f ${bundle}/bin/${program} ]]; then
    install_atomically "${bundle}/bin/${program}" "${INGESTD_PREFIX}/bin/${program}" 0755
    log "installed ${INGESTD_PREFIX}/bin/${program}"
  fi
done

if [[ -d ${bundle}/config ]]; then
  while IFS= read -r -d '' file; do
    relative="${file#"${bundle}/config/"}"
    if [[ ${relative} == ingestd.toml ]]; then
      dest="${INGESTD_CONFIG}"
    else
      dest="${config_dir}/${relative}"
    fi
    mkdir -p "$(dirname "${dest}")"
    # Keys and configuration are readable by the service's group only.
    install_atomically "${file}" "${dest}" 0640
    if [[ ${INGESTD_SUPERVISOR} == systemd ]]; then chown "root:${INGESTD_USER}" "${dest}"; fi
    log "installed ${dest}"
  done < <(find "${bundle}/config" -type f -print0)
fi

if [[ ${INGESTD_SUPERVISOR} == systemd ]]; then
  [[ -f ${bundle}/systemd/ingestd.service ]] || die "no systemd/ingestd.service in the bundle"
  install_atomically "${bundle}/systemd/ingestd.service" "/etc/systemd/system/${INGESTD_SERVICE}" 0644
  timeout "$(seconds_left)" systemctl daemon-reload
  # Back after a reboot without waiting for a deployment.
  timeout "$(seconds_left)" systemctl enable "${INGESTD_SERVICE}"
  log "installed and enabled ${INGESTD_SERVICE}"
fi

check_config "${INGESTD_BIN}" "${INGESTD_CONFIG}"
log "installed; configuration ${INGESTD_CONFIG} is valid"
