#!/usr/bin/env bash
# Shared by the CodeDeploy hook scripts (sourced, not run): settings, the
# supervisor (systemd, or a pid file where there is no systemd), and small
# bounded waits. Every setting comes from the environment, then from the
# deploy env file, then from the defaults below, which match a production host
# set up by deploy/terraform and deploy/systemd. The lifecycle watcher
# (deploy/systemd/ingestd-lifecycle-watch.sh) sources it too, installed as
# /opt/ingestd/lib/common.sh.
#
#   source "$(dirname "${BASH_SOURCE[0]}")/common.sh"
#   hook_init application_stop 290        # name for the log lines, own time limit (s)
#   if ingestd_running; then ...; fi
#   case "$(ingestd_state)" in deactivating) ...;; esac
#
# Settings (all optional):
#   INGESTD_DEPLOY_ENV   env file read for the settings below   /etc/default/ingestd-deploy
#   INGESTD_ADMIN_ADDR   admin listener host:port               127.0.0.1:9090
#   INGESTD_PREFIX       install prefix (binaries in bin/)      /opt/ingestd
#   INGESTD_CONFIG       configuration file                      /etc/ingestd/ingestd.toml
#   INGESTD_STATE_DIR    state: spool, audit.log                 /var/lib/ingestd
#   INGESTD_SERVICE      systemd unit                            ingestd.service
#   INGESTD_USER         system user (systemd mode)              ingestd
#   INGESTD_SUPERVISOR   systemd | pidfile                       systemd if PID 1 is systemd
#   INGESTD_STAGING_DIR  where appspec.yml `files:` puts the bundle   /opt/ingestd/staging
#   INGESTD_BUNDLE_DIR   the bundle AfterInstall installs from   INGESTD_STAGING_DIR
#   INGESTD_PIDFILE      pidfile mode: the server's pid          INGESTD_STATE_DIR/ingestd.pid
#   INGESTD_LOG_FILE     pidfile mode: stdout and stderr         INGESTD_STATE_DIR/ingestd.log
#   INGESTD_HOOK_TIMEOUT_S  overrides the hook's own time limit

# Reads KEY=VALUE lines (INGESTD_* keys only; blank lines and # comments
# skipped; one level of surrounding quotes removed). The file is parsed, not
# sourced, so it cannot run commands as root; the environment wins over it.
load_deploy_env() {
  local file="$1" line key value
  [[ -r ${file} ]] || return 0
  while IFS= read -r line || [[ -n ${line} ]]; do
    [[ ${line} =~ ^[[:space:]]*(export[[:space:]]+)?(INGESTD_[A-Z0-9_]+)=(.*)$ ]] || continue
    key="${BASH_REMATCH[2]}"
    value="${BASH_REMATCH[3]}"
    if [[ ${value} =~ ^\"(.*)\"[[:space:]]*$ || ${value} =~ ^\'(.*)\'[[:space:]]*$ ]]; then
      value="${BASH_REMATCH[1]}"
    fi
    [[ -n ${!key+set} ]] || printf -v "${key}" '%s' "${value}"
  done <"${file}"
}

default_supervisor() {
  if command -v systemctl >/dev/null 2>&1 && [[ "$(cat /proc/1/comm 2>/dev/null)" == systemd ]]; then
    echo systemd
  else
    echo pidfile
  fi
}

load_deploy_env "${INGESTD_DEPLOY_ENV:-/etc/default/ingestd-deploy}"
INGESTD_ADMIN_ADDR="${INGESTD_ADMIN_ADDR:-127.0.0.1:9090}"
INGESTD_PREFIX="${INGESTD_PREFIX:-/opt/ingestd}"
INGESTD_CONFIG="${INGESTD_CONFIG:-/etc/ingestd/ingestd.toml}"
INGESTD_STATE_DIR="${INGESTD_STATE_DIR:-/var/lib/ingestd}"
INGESTD_SERVICE="${INGESTD_SERVICE:-ingestd.service}"
INGESTD_USER="${INGESTD_USER:-ingestd}"
INGESTD_SUPERVISOR="${INGESTD_SUPERVISOR:-$(default_supervisor)}"
INGESTD_STAGING_DIR="${INGESTD_STAGING_DIR:-/opt/ingestd/staging}"
INGESTD_BUNDLE_DIR="${INGESTD_BUNDLE_DIR:-${INGESTD_STAGING_DIR}}"
INGESTD_PIDFILE="${INGESTD_PIDFILE:-${INGESTD_STATE_DIR}/ingestd.pid}"
INGESTD_LOG_FILE="${INGESTD_LOG_FILE:-${INGESTD_STATE_DIR}/ingestd.log}"
INGESTD_BIN="${INGESTD_PREFIX}/bin/ingestd"

HOOK_NAME=hook
HOOK_DEADLINE=0

# hook_init NAME LIMIT_S: names the log lines and starts the hook's own clock.
# LIMIT_S stays below the hook's timeout in appspec.yml, so the hook fails
# with its own message instead of being killed by the CodeDeploy agent.
hook_init() {
  HOOK_NAME="$1"
  HOOK_DEADLINE=$((SECONDS + ${INGESTD_HOOK_TIMEOUT_S:-$2}))
  case "${INGESTD_SUPERVISOR}" in
    systemd | pidfile) ;;
    *) die "INGESTD_SUPERVISOR must be systemd or pidfile, got '${INGESTD_SUPERVISOR}'" ;;
  esac
  log "supervisor ${INGESTD_SUPERVISOR}, prefix ${INGESTD_PREFIX}, config ${INGESTD_CONFIG}," \
    "state ${INGESTD_STATE_DIR}, admin ${INGESTD_ADMIN_ADDR}"
}

log() { printf '%s %s: %s\n' "$(date -u +%Y-%m-%dT%H:%M:%S.%3NZ)" "${HOOK_NAME}" "$*"; }
die() {
  log "FAILED: $*" >&2
  exit 1
}
seconds_left() { echo $((HOOK_DEADLINE - SECONDS)); }

# A directory we may delete or fill: absolute and not a top-level folder, so
# an empty or mistyped setting cannot remove / or /opt.
require_safe_dir() {
  [[ $1 == /*/* && $1 != *'/../'* && $1 != */.. ]] || die "refusing to use '$1' as a directory to replace"
}

# install_atomically SRC DEST MODE: readers see the old file or the whole new
# one (a running ingestd keeps its open, now unlinked, binary).
install_atomically() {
  local src="$1" dest="$2" mode="$3" tmp
  tmp="$(dirname "${dest}")/.$(basename "${dest}").new.$$"
  cp -- "${src}" "${tmp}"
  chmod "${mode}" "${tmp}"
  mv -f -- "${tmp}" "${dest}"
}

# The pid in the pid file if that process is our ingestd (its argv[0] is our
# binary), so a stale pid file never gets an unrelated process signalled.
pidfile_pid() {
  local pid argv0
  [[ -r ${INGESTD_PIDFILE} ]] || return 1
  pid="$(tr -dc '0-9' <"${INGESTD_PIDFILE}")"
  [[ -n ${pid} && -r /proc/${pid}/cmdline ]] || return 1
  argv0="$(tr '\0' '\n' <"/proc/${pid}/cmdline" | head -n 1)"
  [[ ${argv0} == "${INGESTD_BIN}" ]] || return 1
  echo "${pid}"
}

# The drain state the admin listener reports (serving, announced, ...,
# done); empty when it does not answer within 3 s.
drain_state() {
  http_get /admin/drain | grep -o '"state": *"[a-z_]*"' | grep -o '[a-z_]*"$' | tr -d '"' || true
}

# What ingestd is doing, in systemd's ActiveState words:
#   active        running (serving, or draining after POST /admin/drain)
#   activating    a start (or an automatic restart) is under way
#   deactivating  a stop is under way: ExecStop= is draining the server
#   inactive      not running
#   failed        not running; its last exit was not clean (a drain that hit
#                 its deadline exits 1), or it never started
#   unknown       systemctl did not answer
# `systemctl is-active` is false while deactivating, so it cannot tell "not
# running" from "in the middle of a drain". In pidfile mode there is no stop
# job: a live process whose admin listener says it is draining is
# deactivating, and a dead one is inactive (its exit status is not kept).
ingestd_state() {
  if [[ ${INGESTD_SUPERVISOR} == systemd ]]; then
    local state
    state="$(systemctl show -p ActiveState --value "${INGESTD_SERVICE}" 2>/dev/null)" || state=""
    case "${state}" in
      active | reloading) echo active ;;
      activating | deactivating | inactive | failed) echo "${state}" ;;
      *) echo unknown ;;
    esac
  elif pidfile_pid >/dev/null; then
    case "$(drain_state)" in
      "" | serving) echo active ;;
      *) echo deactivating ;;
    esac
  else
    echo inactive
  fi
}

# True unless ingestd is certainly stopped (inactive or failed): a drain or a
# start under way counts as running.
ingestd_running() {
  case "$(ingestd_state)" in
    inactive | failed) return 1 ;;
    *) return 0 ;;
  esac
}

# ingestd's main process id, if it has one.
ingestd_main_pid() {
  if [[ ${INGESTD_SUPERVISOR} == systemd ]]; then
    local pid
    pid="$(systemctl show -p MainPID --value "${INGESTD_SERVICE}" 2>/dev/null)" || return 1
    [[ ${pid} =~ ^[0-9]+$ && ${pid} != 0 ]] || return 1
    echo "${pid}"
  else
    pidfile_pid
  fi
}

# wait_until_stopped: waits for a stop under way (ActiveState deactivating,
# or a draining pidfile process) to end, until the hook's deadline. True once
# ingestd is inactive or failed, false at the deadline.
wait_until_stopped() {
  while ingestd_running; do
    ((SECONDS < HOOK_DEADLINE)) || return 1
    sleep 0.5
  done
}

# Starts ingestd in its own session, detached from the hook (the CodeDeploy
# agent waits for every process holding the hook's output open).
pidfile_start() {
  mkdir -p "$(dirname "${INGESTD_PIDFILE}")" "$(dirname "${INGESTD_LOG_FILE}")"
  setsid "${INGESTD_BIN}" --config "${INGESTD_CONFIG}" </dev/null >>"${INGESTD_LOG_FILE}" 2>&1 &
  echo "$!" >"${INGESTD_PIDFILE}.tmp"
  mv -f "${INGESTD_PIDFILE}.tmp" "${INGESTD_PIDFILE}"
}

# wait_for_exit PID: true once the process is gone, false at the deadline.
wait_for_exit() {
  local pid="$1"
  while [[ -e /proc/${pid} ]] && ! grep -q '^State:[[:space:]]*Z' "/proc/${pid}/status" 2>/dev/null; do
    ((SECONDS < HOOK_DEADLINE)) || return 1
    sleep 0.2
  done
}

# Plain HTTP/1.0 GET over bash's /dev/tcp, for hosts without curl. Prints
# "STATUS BODY". Run under timeout(1): connect and read are not bounded here.
devtcp_get() {
  local host="$1" port="$2" path="$3" line status body="" in_body=0
  exec 3<>"/dev/tcp/${host}/${port}" || return 1
  printf 'GET %s HTTP/1.0\r\nHost: %s\r\nConnection: close\r\n\r\n' "${path}" "${host}" >&3
  IFS= read -r line <&3 || return 1
  read -r _ status _ <<<"${line}"
  while IFS= read -r line <&3 || [[ -n ${line} ]]; do
    line="${line%$'\r'}"
    if ((in_body)); then
      body+="${line}"$'\n'
    elif [[ -z ${line} ]]; then
      in_body=1
    fi
  done
  printf '%s %s\n' "${status}" "${body%$'\n'}"
}
export -f devtcp_get

# http_get PATH: prints "STATUS BODY" from the admin listener, within 3 s.
http_get() {
  local path="$1"
  if command -v curl >/dev/null 2>&1; then
    local out
    out="$(curl -sS --max-time 3 -w '\n%{http_code}' "http://${INGESTD_ADMIN_ADDR}${path}" 2>/dev/null)" || return 1
    printf '%s %s\n' "${out##*$'\n'}" "${out%$'\n'*}"
  else
    # shellcheck disable=SC2016  # expanded by the inner shell
    timeout 3 bash -c 'devtcp_get "$@"' _ "${INGESTD_ADMIN_ADDR%:*}" "${INGESTD_ADMIN_ADDR##*:}" "${path}"
  fi
}
