#!/usr/bin/env bash
# CodeDeploy AfterInstall: validates the release as it will run, then
# installs it. A bad bundle fails here, before anything on the host changes.
#
# Validation is `ingestd check` with the bundle's binary on the bundle's
# configuration (if the bundle ships none, on the host's). Every file the
# configuration names under the configuration folder is read from the bundle
# when the bundle ships it and from the host otherwise: exactly the files the
# server will open once installed (on a fresh host, none are installed yet).
# Each is opened with the server's own loaders: certificate chain and dates,
# key against certificate, camera CA, ticket keys, zone map and zone, drain
# token, store CA.
#
# Secrets are fetched into the staged configuration first (fetch_secrets.sh,
# from SSM Parameter Store), so they are checked like shipped files.
#
# Then binaries, configuration and certificates are installed (each file
# replaced atomically), the lifecycle watcher with the hooks' common.sh,
# and, under systemd, the unit; a last `ingestd check` of the installed
# configuration with the installed binary confirms it.
#
# Bundle layout (appspec.yml `files:` copies it to INGESTD_STAGING_DIR):
#   bin/ingestd  bin/ingestctl  systemd/ingestd.service  systemd/ingestd-lifecycle-watch.sh
#   config/ingestd.toml  config/...   (everything under config/ goes beside INGESTD_CONFIG;
#                                      no private keys: those come from Parameter Store)
set -euo pipefail

# shellcheck source=deploy/hooks/common.sh
source "$(dirname "${BASH_SOURCE[0]}")/common.sh"
hook_init after_install 110

bundle="${INGESTD_BUNDLE_DIR}"
[[ -x ${bundle}/bin/ingestd ]] || die "no executable bin/ingestd in the bundle at ${bundle}"
config_dir="$(dirname "${INGESTD_CONFIG}")"

# check_release BINARY CONFIG [FLAGS...]: `ingestd check` loads CONFIG as the
# server would and opens every file it names; its report (one line per file,
# saying which copy was checked) goes to the hook's log.
check_release() {
  local binary="$1" config="$2" report line
  shift 2
  if ! report="$(timeout "$(seconds_left)" "${binary}" check --config "${config}" "$@" 2>&1)"; then
    printf '%s\n' "${report}" >&2
    die "release rejected by ${binary} check --config ${config}"
  fi
  while IFS= read -r line; do log "${line}"; done <<<"${report}"
}

if [[ -f ${bundle}/config/ingestd.toml ]]; then
  release_config="${bundle}/config/ingestd.toml"
elif [[ -f ${INGESTD_CONFIG} ]]; then
  # The new binary must accept the configuration already on the host, with
  # whatever files the bundle ships beside it.
  release_config="${INGESTD_CONFIG}"
else
  die "no configuration: neither config/ingestd.toml in the bundle nor ${INGESTD_CONFIG}"
fi

# Secrets (server key, ticket keys, drain token) never ship in the bundle:
# fetch_secrets.sh writes them from Parameter Store (INGESTD_SECRETS_PATH)
# into the staged configuration, so the check below opens them and the
# install puts them beside the configuration like any shipped file.
hooks_dir="$(dirname "${BASH_SOURCE[0]}")"
if ! timeout "$(seconds_left)" "${hooks_dir}/fetch_secrets.sh" "${bundle}/config"; then
  die "could not fetch the secrets from ${INGESTD_SECRETS_PATH:-Parameter Store}"
fi

check_release "${bundle}/bin/ingestd" "${release_config}" \
  --installed_config_dir "${config_dir}" --staged_config_dir "${bundle}/config"

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

# The lifecycle watcher runs between deployments with the hooks' common.sh
# beside it: both come with each release, so they never drift apart.
mkdir -p "${INGESTD_PREFIX}/lib"
install_atomically "${hooks_dir}/common.sh" "${INGESTD_PREFIX}/lib/common.sh" 0644
if [[ -f ${bundle}/systemd/ingestd-lifecycle-watch.sh ]]; then
  install_atomically "${bundle}/systemd/ingestd-lifecycle-watch.sh" "${INGESTD_PREFIX}/bin/ingestd-lifecycle-watch.sh" 0755
  log "installed ${INGESTD_PREFIX}/bin/ingestd-lifecycle-watch.sh and ${INGESTD_PREFIX}/lib/common.sh"
fi

if [[ ${INGESTD_SUPERVISOR} == systemd ]]; then
  [[ -f ${bundle}/systemd/ingestd.service ]] || die "no systemd/ingestd.service in the bundle"
  install_atomically "${bundle}/systemd/ingestd.service" "/etc/systemd/system/${INGESTD_SERVICE}" 0644
  timeout "$(seconds_left)" systemctl daemon-reload
  # Back after a reboot without waiting for a deployment.
  timeout "$(seconds_left)" systemctl enable "${INGESTD_SERVICE}"
  log "installed and enabled ${INGESTD_SERVICE}"
fi

check_release "${INGESTD_BIN}" "${INGESTD_CONFIG}"
log "installed; configuration ${INGESTD_CONFIG} and its files are valid"
