# Releases: CodeDeploy deploys in place, one server at a time, taking each out
# of the target group while the appspec hooks (deploy/appspec.yml) drain,
# install, start and validate it. A failed deployment rolls back to the last
# good revision.
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

  auto_rollback_configuration {
    enabled = true
    events  = ["DEPLOYMENT_FAILURE"]
  }
}
