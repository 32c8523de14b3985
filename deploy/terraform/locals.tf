locals {
  name = "ingestd-${var.zone}"

  instance_tags = merge(var.tags, {
    Name    = local.name
    Service = "ingestd"
    Zone    = var.zone
  })

  # Objects of this zone: <store_prefix>/<zone>/batches/... and .../index/...
  zone_key_prefix = "${var.store_prefix}/${var.zone}"

  # The NLB keeps a deregistered target's connections open this long; cameras
  # leave on GOAWAY within the drain, so the drain deadline plus a margin.
  deregistration_delay_s = var.drain_deadline_s + 30

  # A terminating instance waits in Terminating:Wait on the drain hook. The
  # instance's watcher records a heartbeat every minute while ingestd drains
  # or still holds unpersisted data, and completes the action as soon as a
  # drain's audit says "complete": the timeout only matters if the watcher
  # itself dies. Auto Scaling ends any wait after min(48 h, 100 x timeout).
  termination_heartbeat_s       = 300
  termination_heartbeat_every_s = 60
  termination_max_wait_s        = min(172800, 100 * local.termination_heartbeat_s)

  # Where the servers' secrets live (SSM Parameter Store, SecureString).
  secrets_parameter_path = var.secrets_parameter_path != "" ? var.secrets_parameter_path : "/ingestd/${var.zone}"

  # Settings of the hooks and the lifecycle watcher on each instance,
  # written by user_data.sh to /etc/default/ingestd-deploy
  # (deploy/hooks/common.sh reads INGESTD_* keys from it).
  deploy_env = {
    INGESTD_ADMIN_ADDR           = "127.0.0.1:${var.admin_port}"
    INGESTD_AWS_REGION           = var.region
    INGESTD_ASG_NAME             = local.name
    INGESTD_LIFECYCLE_HOOK_NAME  = "${local.name}-drain"
    INGESTD_HEARTBEAT_EVERY_S    = local.termination_heartbeat_every_s
    INGESTD_LIFECYCLE_MAX_WAIT_S = local.termination_max_wait_s
    INGESTD_LIVENESS_FAIL_S      = var.liveness_fail_s
    INGESTD_LIVENESS_GRACE_S     = var.health_check_grace_period_s
    INGESTD_SECRETS_PATH         = local.secrets_parameter_path
    INGESTD_SPOOL_VOLUME_GB      = var.spool_volume_gb
  }
}
