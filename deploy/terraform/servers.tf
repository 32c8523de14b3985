# The servers: a launch template (IMDSv2 only, a gp3 spool volume) and an
# Auto Scaling group in the zone's subnets behind the NLB's target group.
resource "aws_launch_template" "ingestd" {
  name                   = local.name
  image_id               = var.ami_id
  instance_type          = var.instance_type
  vpc_security_group_ids = [aws_security_group.ingestd.id]
  user_data              = filebase64("${path.module}/user_data.sh")
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
    device_name = "/dev/xvda"
    ebs {
      volume_type           = "gp3"
      volume_size           = var.root_volume_gb
      encrypted             = true
      delete_on_termination = true
    }
  }

  # The spool: every camera byte is fsync'd here before it is acknowledged.
  # user_data.sh formats it (label ingestd-spool) and mounts it at
  # /var/lib/ingestd. It goes with the instance: a terminating instance drains
  # (uploads its spool) first, see the lifecycle hook below.
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

  health_check_type         = var.asg_health_check_type
  health_check_grace_period = var.health_check_grace_period_s

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

# Termination waits for the drain: the instance sits in Terminating:Wait
# while ingestd-lifecycle-watch (deploy/systemd) sees the target lifecycle
# state "Terminated" in instance metadata and stops ingestd, which drains.
# Nobody completes the action early (the instance role may not), so the
# instance terminates when the heartbeat runs out, after the drain.
resource "aws_autoscaling_lifecycle_hook" "drain" {
  name                   = "${local.name}-drain"
  autoscaling_group_name = aws_autoscaling_group.ingestd.name
  lifecycle_transition   = "autoscaling:EC2_INSTANCE_TERMINATING"
  heartbeat_timeout      = local.termination_heartbeat_s
  default_result         = "CONTINUE"
}
