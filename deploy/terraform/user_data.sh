#!/usr/bin/env bash
# EC2 user data of an ingestd server (launch template). Runs once at first
# boot, as root:
#   1. writes the settings Terraform filled in below to
#      /etc/default/ingestd-deploy (read by the CodeDeploy hooks and the
#      lifecycle watcher: group and hook names, region, secrets path);
#   2. formats the gp3 spool volume (label ingestd-spool) unless it already
#      carries that label, and mounts it at /var/lib/ingestd through fstab;
#   3. starts the lifecycle watcher, which drains ingestd when the Auto
#      Scaling group terminates the instance and reports liveness;
#   4. only then starts the CodeDeploy agent, so the launch deployment (and
#      with it the first start of ingestd) never runs before the spool is
#      mounted.
# The AMI ships the CodeDeploy agent installed but not enabled.
set -euo pipefail

readonly LABEL=ingestd-spool
readonly MOUNT_POINT=/var/lib/ingestd
readonly DEPLOY_ENV_FILE=/etc/default/ingestd-deploy

# KEY=VALUE lines; servers.tf replaces the marker line (local.deploy_env).
readonly DEPLOY_ENV='
#@DEPLOY_ENV@
'

log() { echo "ingestd-user-data: $*" | systemd-cat -t ingestd-user-data -p info; echo "$*"; }

write_deploy_env() {
  local tmp="${DEPLOY_ENV_FILE}.new"
  {
    echo "# Written at first boot by the launch template's user data (deploy/terraform)."
    sed '/^[[:space:]]*$/d; /^#@/d' <<<"${DEPLOY_ENV}"
  } >"${tmp}"
  chmod 0644 "${tmp}"
  mv -f "${tmp}" "${DEPLOY_ENV_FILE}"
}

# A value from the settings above, e.g. deploy_setting INGESTD_SPOOL_VOLUME_GB.
deploy_setting() {
  sed -n "s/^$1=//p" <<<"${DEPLOY_ENV}" | head -n 1
}

root_disk() {
  local source
  source="$(findmnt -no SOURCE /)"
  lsblk -no PKNAME "${source}" | head -n 1
}

# The spool volume: the whole disk that is not the root disk, has no
# partitions, no file system or other signature, and has exactly the spool
# volume's size. Matching the size means an unexpected extra volume (say, a
# root mapping under a name the AMI does not use) is never formatted.
# Nitro instances name EBS volumes nvme*, older ones xvd*.
find_spool_disk() {
  local root name type size want found=""
  root="$(root_disk)"
  want=$(($(deploy_setting INGESTD_SPOOL_VOLUME_GB) * 1024 * 1024 * 1024))
  while read -r name type size; do
    [[ ${type} == disk && ${name} != "${root}" && ${size} == "${want}" ]] || continue
    [[ -z "$(lsblk -no NAME "/dev/${name}" | tail -n +2)" ]] || continue
    [[ -z "$(blkid -p -o value -s TYPE "/dev/${name}" 2>/dev/null)" ]] || continue
    if [[ -n ${found} ]]; then
      log "two empty disks of the spool volume's size (${found}, /dev/${name}): formatting neither"
      return 1
    fi
    found="/dev/${name}"
  done < <(lsblk -dbno NAME,TYPE,SIZE)
  [[ -n ${found} ]] && echo "${found}"
}

mount_spool() {
  if findmnt -rn "${MOUNT_POINT}" >/dev/null; then
    log "${MOUNT_POINT} already mounted"
    return 0
  fi
  local device=""
  # EBS volumes attach asynchronously at launch: wait up to 120 s, and let
  # udev finish creating device nodes and probing labels before each look.
  for _ in $(seq 1 60); do
    udevadm settle --timeout=10 || true
    if device="$(blkid -L "${LABEL}" 2>/dev/null)"; then
      break
    fi
    if device="$(find_spool_disk)"; then
      log "formatting ${device} as ${LABEL}"
      mkfs.ext4 -q -L "${LABEL}" -E lazy_itable_init=1,lazy_journal_init=1 "${device}"
      udevadm settle --timeout=10 || true
      break
    fi
    device=""
    sleep 2
  done
  if [[ -z ${device} ]]; then
    log "no spool volume appeared within 120 s"
    return 1
  fi
  mkdir -p "${MOUNT_POINT}"
  if ! grep -q "^LABEL=${LABEL} " /etc/fstab; then
    echo "LABEL=${LABEL} ${MOUNT_POINT} ext4 defaults,noatime,nofail,x-systemd.device-timeout=60s 0 2" >>/etc/fstab
  fi
  systemctl daemon-reload
  mount "${MOUNT_POINT}"
  log "mounted ${device} at ${MOUNT_POINT}"
}

main() {
  write_deploy_env
  mount_spool
  systemctl enable --now ingestd-lifecycle-watch.timer
  systemctl enable --now codedeploy-agent
  log "ready for the CodeDeploy launch deployment"
}

main "$@"
