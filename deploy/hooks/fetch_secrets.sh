#!/usr/bin/env bash
# Fetches ingestd's secrets (TLS keys, ticket keys, store credentials) from
# SSM Parameter Store into a folder, for AfterInstall to run before it
# validates the configuration:
#
#   fetch_secrets.sh DEST_DIR
#
# Every SecureString under INGESTD_SECRETS_PATH (e.g. /ingestd/eu-west-1a/)
# becomes a file under DEST_DIR named by the parameter's name relative to
# that path: /ingestd/eu-west-1a/tls/server.key -> DEST_DIR/tls/server.key.
# Files get mode 0640 (group INGESTD_USER's group when it exists, so the
# server can read them), folders 0750; each file is replaced atomically, so
# a running ingestd reading one sees the old or the new secret. Parameters of
# other types are skipped. A name with a "." or ".." component, an empty
# component or anything but [A-Za-z0-9_.-] fails the whole fetch before a
# file is written. INGESTD_SECRETS_PATH unset: nothing to fetch, said so,
# exit 0.
#
# Settings (environment, then /etc/default/ingestd-deploy; see common.sh):
#   INGESTD_SECRETS_PATH       SSM path to fetch                 none: fetch nothing
#   INGESTD_AWS_REGION         region for the SSM call            the AWS CLI's own (instance metadata)
#   INGESTD_AWS_ENDPOINT_URL   --endpoint-url for the call (tests)  none
#   INGESTD_AWS_CLI            the AWS CLI                         aws
# Needs python3 to read the CLI's JSON (values are PEM files: several lines).
set -euo pipefail

# shellcheck source=deploy/hooks/common.sh
source "$(dirname "${BASH_SOURCE[0]}")/common.sh"
hook_init fetch_secrets 60

(($# == 1)) || die "usage: fetch_secrets.sh DEST_DIR"
dest="${1%/}"
secrets_path="${INGESTD_SECRETS_PATH:-}"
if [[ -z ${secrets_path} ]]; then
  log "INGESTD_SECRETS_PATH is not set: no secrets to fetch"
  exit 0
fi
[[ ${secrets_path} == /* ]] || die "INGESTD_SECRETS_PATH must start with /, got '${secrets_path}'"
prefix="${secrets_path%/}/"

# A name relative to the path, safe to use as a file path under DEST_DIR.
safe_relative_name() {
  local name="$1" part
  [[ -n ${name} && ${name} != /* && ${name} != */ && ${name} =~ ^[A-Za-z0-9_./-]+$ ]] || return 1
  local -a parts
  IFS=/ read -r -a parts <<<"${name}"
  for part in "${parts[@]}"; do
    [[ -n ${part} && ${part} != . && ${part} != .. ]] || return 1
  done
}

mkdir -p "${dest}"
umask 077
work="$(mktemp -d "${dest}/.fetch_secrets.XXXXXX")"
trap 'rm -rf -- "${work}"' EXIT

aws=("${INGESTD_AWS_CLI:-aws}" --cli-connect-timeout 5 --cli-read-timeout 10 --output json)
if [[ -n ${INGESTD_AWS_REGION:-} ]]; then aws+=(--region "${INGESTD_AWS_REGION}"); fi
if [[ -n ${INGESTD_AWS_ENDPOINT_URL:-} ]]; then aws+=(--endpoint-url "${INGESTD_AWS_ENDPOINT_URL}"); fi
# The CLI follows NextToken itself and prints every page's parameters as one list.
if ! timeout "$(seconds_left)" "${aws[@]}" ssm get-parameters-by-path --path "${secrets_path}" \
  --recursive --with-decryption >"${work}/parameters.json" 2>"${work}/error"; then
  die "aws ssm get-parameters-by-path --path ${secrets_path} failed or timed out: $(cat "${work}/error")"
fi

# name NUL value NUL for the SecureStrings; the other names, one a line, to
# stderr.
# shellcheck disable=SC2016  # a Python program, not shell
timeout 10 python3 -c '
import json, sys
for p in json.load(sys.stdin).get("Parameters", []):
    if p.get("Type") == "SecureString":
        sys.stdout.write(p["Name"] + "\0" + p["Value"] + "\0")
    else:
        print(p["Name"], file=sys.stderr)
' <"${work}/parameters.json" >"${work}/pairs" 2>"${work}/skipped" ||
  die "could not read the AWS CLI's answer: $(tail -n 3 "${work}/skipped")"
rm -f "${work}/parameters.json"
while IFS= read -r name; do
  log "skipping ${name}: not a SecureString"
done <"${work}/skipped"

# First every name is checked and every file written to the work folder;
# only then does anything move into DEST_DIR.
names=()
while IFS= read -r -d '' name && IFS= read -r -d '' value; do
  [[ ${name} == "${prefix}"* ]] || die "parameter ${name} is not under ${prefix}"
  relative="${name#"${prefix}"}"
  safe_relative_name "${relative}" || die "refusing parameter ${name}: '${relative}' is not a safe file name under ${dest}"
  mkdir -p "${work}/files/$(dirname "${relative}")"
  printf '%s' "${value}" >"${work}/files/${relative}"
  names+=("${relative}")
done <"${work}/pairs"
rm -f "${work}/pairs"

group=""
if getent group "${INGESTD_USER}" >/dev/null 2>&1; then group="${INGESTD_USER}"; fi
for relative in "${names[@]}"; do
  target="${dest}/${relative}"
  # Each missing folder on the way gets the same mode and group.
  dir="${dest}"
  IFS=/ read -r -a parts <<<"$(dirname "${relative}")"
  for part in "${parts[@]}"; do
    [[ ${part} != . ]] || continue
    dir+="/${part}"
    [[ ! -d ${dir} ]] || continue
    mkdir -m 0750 -- "${dir}"
    if [[ -n ${group} ]]; then chgrp -- "${group}" "${dir}"; fi
  done
  dir="$(dirname "${target}")"
  tmp="${dir}/.$(basename "${target}").new.$$"
  mv -f -- "${work}/files/${relative}" "${tmp}"
  chmod 0640 -- "${tmp}"
  if [[ -n ${group} ]]; then chgrp -- "${group}" "${tmp}"; fi
  mv -f -- "${tmp}" "${target}"
done
log "wrote ${#names[@]} secret(s) from ${prefix} to ${dest}"
