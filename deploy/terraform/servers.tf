# The servers: a launch template (IMDSv2 only, a gp3 spool volume) and an
# Auto Scaling group in the zone's subnets behind the NLB's target group.

# The root volume's mapping must name the AMI's own root device: under any
# other name it would add a second, empty volume, which first boot could
# mistake for the spool volume.
data "aws_ami" "server" {
  filter {
    name   = "image-id"
    values = [var.ami_id]
  }
}

resource "aws_launch_template" "ingestd" {
  name                   = local.name
  image_id               = var.ami_id
  instance_type          = var.instance_type
  vpc_security_group_ids = [aws_security_group.ingestd.id]
  # user_data.sh writes these settings to /etc/default/ingestd-deploy.
  user_data = base64encode(replace(file("${path.module}/user_data.sh"), "#@DEPLOY_ENV@",
  join("\n", [for key, value in local.deploy_env : "${key}=${value}"])))
  update_default_version = true
  # No key_name: there is no SSH; Session Manager instead.

  iam_instance_profile {
    arn = aws_iam_instance_profile.ingestd.arn
  }

  # IMDSv2 only: a request needs a session token from a PUT, which an SSRF or
  # an open proxy cannot forward. Hop limit 1: ingestd runs on the host, so
  # the token's IP packets never need to cross a container bridge.
  metadata_options {
    http_endpoint               = "enabled"
    http_tokens                 = "required"
    http_put_response_hop_limit = 1
  }

  block_device_mappings {
    device_name = data.aws_ami.server.root_device_name
    ebs {
      volume_type           = "gp3"
      volume_size           = var.root_volume_gb
      encrypted             = true
      delete_on_termination = true
    }
  }

  # The spool: every camera byte is fsync'd here before it is acknowledged.
  # user_data.sh formats it (label ingestd-spool) and mounts it at
  # /var/lib/ingestd; it recognises the volume by its size, which must
  # differ from the root volume's. It goes with the instance: a terminating
  # instance first uploads its spool, see the lifecycle hook below.
  block_device_mappings {
    device_name = "/dev/sdf"
    ebs {
      volume_type           = "gp3"
      volume_size           = var.spool_volume_gb
      iops                  = var.spool_volume_iops
      throughput            = var.spool_volume_throughput_mibps
      encrypted             = true
      delete_on_termination = true
    }
  }

  # The provider's default_tags do not reach instances the group launches.
  # Prometheus finds the servers by Service and labels them by Zone
  # (deploy/observability/scrape.example.yml).
  tag_specifications {
    resource_type = "instance"
    tags          = local.instance_tags
  }

  tag_specifications {
    resource_type = "volume"
    tags          = local.instance_tags
  }

  lifecycle {
    precondition {
      condition     = var.spool_volume_gb != var.root_volume_gb
      error_message = "spool_volume_gb must differ from root_volume_gb: first boot recognises the spool volume by its size."
    }
  }
}

resource "aws_autoscaling_group" "ingestd" {
  # A fixed name, never a name_prefix: CodeDeploy's launch hook lives on this
  # group, installed when the deployment group below names it; a replaced
  # group would launch instances without it (README.md, "Launch pitfall").
  name                = local.name
  vpc_zone_identifier = var.instance_subnet_ids
  min_size            = var.asg_min_size
  max_size            = var.asg_max_size
  desired_capacity    = var.asg_desired_capacity
  target_group_arns   = [aws_lb_target_group.cameras.arn]

  # Liveness, never readiness. The NLB's /readyz check decides whether a
  # server gets new cameras; it fails on every server of the zone at once
  # when the store is unreachable, so it must never decide whether a server
  # is replaced (a replaced server loses its spool volume, and with it
  # acknowledged segments not yet uploaded). The group replaces an instance
  # on EC2 status checks, or when the instance's own watcher
  # (deploy/systemd/ingestd-lifecycle-watch.sh) reports ingestd running but
  # stuck (/healthz failing for liveness_fail_s) through SetInstanceHealth.
  health_check_type         = "EC2"
  health_check_grace_period = var.health_check_grace_period_s

  # Replacements (unhealthy instances, instance refresh) launch first and
  # terminate after, so the zone keeps its capacity while a server drains.
  instance_maintenance_policy {
    min_healthy_percentage = var.instance_refresh_min_healthy_percentage
    max_healthy_percentage = var.instance_refresh_max_healthy_percentage
  }

  launch_template {
    id      = aws_launch_template.ingestd.id
    version = aws_launch_template.ingestd.latest_version
  }

  # A new launch template version (AMI, instance type) replaces the servers
  # a few at a time; each old one drains through the lifecycle hook.
  instance_refresh {
    strategy = "Rolling"
    preferences {
      min_healthy_percentage = var.instance_refresh_min_healthy_percentage
      max_healthy_percentage = var.instance_refresh_max_healthy_percentage
      instance_warmup        = var.health_check_grace_period_s
    }
  }

  tag {
    key                 = "Name"
    value               = local.name
    propagate_at_launch = true
  }

  lifecycle {
    # Scaling policies and operators own the count after creation.
    ignore_changes = [desired_capacity]
  }
}

# Termination waits for the spool: the instance sits in Terminating:Wait
# while ingestd-lifecycle-watch (deploy/systemd) sees the target lifecycle
# state "Terminated" in instance metadata and drains ingestd. It records a
# heartbeat every minute while the drain runs or unpersisted segments remain
# (a drain that hit its deadline, say during a store outage, is followed by
# a restart that keeps uploading), and completes the action as soon as a
# drain's audit says "complete". The timeout's default result applies only
# if the watcher stops heartbeating (it died, or termination_max_wait_s
# passed).
resource "aws_autoscaling_lifecycle_hook" "drain" {
  name                   = local.deploy_env.INGESTD_LIFECYCLE_HOOK_NAME
  autoscaling_group_name = aws_autoscaling_group.ingestd.name
  lifecycle_transition   = "autoscaling:EC2_INSTANCE_TERMINATING"
  heartbeat_timeout      = local.termination_heartbeat_s
  default_result         = "CONTINUE"
}
