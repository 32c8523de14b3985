#!/usr/bin/env bash
# EC2 user data of an ingestd server (launch template). Runs once at first
# boot, as root:
#   1. formats the gp3 spool volume (label ingestd-spool) unless it already
#      carries that label, and mounts it at /var/lib/ingestd through fstab;
#   2. starts the lifecycle watcher, which drains ingestd when the Auto
#      Scaling group terminates the instance;
#   3. only then starts the CodeDeploy agent, so the launch deployment (and
#      with it the first start of ingestd) never runs before the spool is
#      mounted.
# The AMI ships the CodeDeploy agent installed but not enabled.
set -euo pipefail

readonly LABEL=ingestd-spool
readonly MOUNT_POINT=/var/lib/ingestd

log() { echo "ingestd-user-data: $*" | systemd-cat -t ingestd-user-data -p info; echo "$*"; }

root_disk() {
  local source
  source="$(findmnt -no SOURCE /)"
  lsblk -no PKNAME "${source}"
}

# The spool volume: the one whole disk that is neither the root disk nor
# partitioned. Nitro instances name EBS volumes nvme*, older ones xvd*.
find_spool_disk() {
  local root name type
  root="$(root_disk)"
  while read -r name type; do
    [[ ${type} == disk && ${name} != "${root}" ]] || continue
    if [[ -z "$(lsblk -no NAME "/dev/${name}" | tail -n +2)" ]]; then
      echo "/dev/${name}"
      return 0
    fi
  done < <(lsblk -dno NAME,TYPE)
  return 1
}

mount_spool() {
  if findmnt -rn "${MOUNT_POINT}" >/dev/null; then
    log "${MOUNT_POINT} already mounted"
    return 0
  fi
  local device=""
  # EBS volumes attach asynchronously at launch: wait up to 120 s.
  for _ in $(seq 1 60); do
    if blkid -L "${LABEL}" >/dev/null 2>&1; then
      device="$(blkid -L "${LABEL}")"
      break
    fi
    if device="$(find_spool_disk)"; then
      log "formatting ${device} as ${LABEL}"
      mkfs.ext4 -q -L "${LABEL}" -E lazy_itable_init=1,lazy_journal_init=1 "${device}"
      break
    fi
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
  mount_spool
  systemctl enable --now ingestd-lifecycle-watch.timer
  systemctl enable --now codedeploy-agent
  log "ready for the CodeDeploy launch deployment"
}

main "$@"
