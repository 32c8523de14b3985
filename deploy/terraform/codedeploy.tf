# Releases: CodeDeploy deploys in place, one server at a time, taking each out
# of the target group while the appspec hooks (deploy/appspec.yml) drain,
# install, start and validate it. A failed deployment, or the alarm below
# during one, rolls back to the last good revision.
#
# Two things CodeDeploy does not do, which the release procedure in
# docs/deploy.md ("Releasing") does: under OneAtATime a failure on the last
# instance still counts as success (no rollback, that server stays out of
# service), so the procedure checks every instance's status; and a
# scale-in or instance refresh during a deployment fails it (and the
# rollback drains every server again), so the procedure suspends Terminate
# and InstanceRefresh for its duration.
resource "aws_codedeploy_app" "ingestd" {
  name             = local.name
  compute_platform = "Server"
}

resource "aws_codedeploy_deployment_group" "ingestd" {
  app_name               = aws_codedeploy_app.ingestd.name
  deployment_group_name  = local.name
  service_role_arn       = aws_iam_role.codedeploy.arn
  deployment_config_name = "CodeDeployDefault.OneAtATime"

  # Naming the group makes CodeDeploy install its launch lifecycle hook on
  # it: a new instance waits in Pending:Wait until the latest successful
  # revision is deployed to it (ValidateService included), and only then is
  # registered with the target group.
  autoscaling_groups = [aws_autoscaling_group.ingestd.name]

  # Instances launched while a deployment runs get the new revision too.
  outdated_instances_strategy = "UPDATE"

  # Scale-in drains through our own lifecycle hook (servers.tf), not
  # through CodeDeploy termination deployments.
  termination_hook_enabled = false

  deployment_style {
    deployment_type   = "IN_PLACE"
    deployment_option = "WITH_TRAFFIC_CONTROL"
  }

  # CodeDeploy deregisters the instance from the target group before
  # ApplicationStop and registers it again after ValidateService.
  load_balancer_info {
    target_group_info {
      name = aws_lb_target_group.cameras.name
    }
  }

  # A revision that passes ValidateService on its own host but then fails
  # readiness in the target group stops the deployment and rolls it back.
  alarm_configuration {
    enabled = true
    alarms  = [aws_cloudwatch_metric_alarm.registered_server_not_ready.alarm_name]
  }

  auto_rollback_configuration {
    enabled = true
    events  = ["DEPLOYMENT_FAILURE", "DEPLOYMENT_STOP_ON_ALARM"]
  }
}

# A server registered with the target group has failed /readyz for three
# minutes. During a release that means the new revision (or the server it
# just left) is not taking cameras, and CodeDeploy rolls back. The instance
# being deployed is deregistered, so it does not count. Outside releases it
# only notifies deploy_alarm_actions; the Prometheus alerts
# (deploy/observability) say why.
resource "aws_cloudwatch_metric_alarm" "registered_server_not_ready" {
  alarm_name          = "${local.name}-registered-server-not-ready"
  alarm_description   = "An ingestd server in the ${var.zone} target group fails /readyz; stops and rolls back a CodeDeploy release. Runbook: IngestNotReady."
  namespace           = "AWS/NetworkELB"
  metric_name         = "UnHealthyHostCount"
  statistic           = "Maximum"
  period              = 60
  evaluation_periods  = 3
  datapoints_to_alarm = 3
  threshold           = 1
  comparison_operator = "GreaterThanOrEqualToThreshold"
  treat_missing_data  = "notBreaching"
  alarm_actions       = var.deploy_alarm_actions
  ok_actions          = var.deploy_alarm_actions

  dimensions = {
    LoadBalancer = aws_lb.cameras.arn_suffix
    TargetGroup  = aws_lb_target_group.cameras.arn_suffix
  }
}
