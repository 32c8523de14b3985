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

  # The instance waits in Terminating:Wait this long (no one completes the
  # action early; the instance role may not). Room for a drain, a second
  # drain if the first hit its deadline, and the watcher's 5 s period.
  termination_heartbeat_s = 2 * (var.drain_deadline_s + 30) + 60
}
