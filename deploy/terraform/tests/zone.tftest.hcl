# Offline checks of the zone's plan: `terraform test` with the AWS provider
# mocked (no credentials, no API calls), run by scripts/check_deploy.sh
# where `terraform init` can install the provider. Each run asserts one of
# the promises docs/deploy.md makes about the set-up.

mock_provider "aws" {
  mock_data "aws_ami" {
    defaults = {
      root_device_name = "/dev/sda1"
    }
  }
  mock_data "aws_subnet" {
    defaults = {
      cidr_block = "10.20.1.0/24"
    }
  }
  mock_data "aws_caller_identity" {
    defaults = {
      account_id = "123456789012"
    }
  }
  mock_data "aws_partition" {
    defaults = {
      partition = "aws"
    }
  }
  mock_data "aws_iam_policy_document" {
    defaults = {
      json = "{}"
    }
  }
}

variables {
  region                     = "eu-west-1"
  zone                       = "eu-west-1a"
  vpc_id                     = "vpc-0123456789abcdef0"
  instance_subnet_ids        = ["subnet-0aaa"]
  nlb_subnet_id              = "subnet-0ccc"
  ami_id                     = "ami-0123456789abcdef0"
  store_bucket               = "recordings-eu-west-1"
  codedeploy_revision_bucket = "releases-eu-west-1"
}

run "the_group_replaces_on_liveness_never_on_readiness" {
  command = plan

  assert {
    condition     = aws_autoscaling_group.ingestd.health_check_type == "EC2"
    error_message = "the Auto Scaling group must not use the NLB's /readyz (ELB) health check"
  }
  assert {
    condition     = aws_lb_target_group.cameras.health_check[0].path == "/readyz"
    error_message = "the NLB must keep routing on readiness"
  }
  assert {
    condition = (aws_autoscaling_group.ingestd.instance_maintenance_policy[0].min_healthy_percentage == 100 &&
    aws_autoscaling_group.ingestd.instance_maintenance_policy[0].max_healthy_percentage > 100)
    error_message = "replacements must launch before they terminate"
  }
  assert {
    condition     = aws_autoscaling_group.ingestd.instance_refresh[0].preferences[0].max_healthy_percentage > 100
    error_message = "an instance refresh must launch before it terminates"
  }
}

run "the_root_mapping_follows_the_ami" {
  command = plan

  assert {
    condition     = contains([for m in aws_launch_template.ingestd.block_device_mappings : m.device_name], "/dev/sda1")
    error_message = "the root volume mapping must use the AMI's root device name"
  }
  assert {
    condition     = !contains([for m in aws_launch_template.ingestd.block_device_mappings : m.device_name], "/dev/xvda")
    error_message = "no mapping may add an extra volume under a guessed root device name"
  }
}

run "user_data_carries_the_watcher_settings" {
  command = plan

  assert {
    condition     = strcontains(base64decode(aws_launch_template.ingestd.user_data), "INGESTD_ASG_NAME=ingestd-eu-west-1a")
    error_message = "user data must name the group for the lifecycle watcher"
  }
  assert {
    condition     = strcontains(base64decode(aws_launch_template.ingestd.user_data), "INGESTD_LIFECYCLE_HOOK_NAME=ingestd-eu-west-1a-drain")
    error_message = "user data must name the termination hook"
  }
  assert {
    condition     = !strcontains(base64decode(aws_launch_template.ingestd.user_data), "#@DEPLOY_ENV@")
    error_message = "the settings marker must be replaced"
  }
  assert {
    condition     = aws_autoscaling_lifecycle_hook.drain.name == "ingestd-eu-west-1a-drain"
    error_message = "the hook's name must match what the watcher is told"
  }
}

run "the_instance_role_answers_its_own_hook_only" {
  command = plan

  assert {
    condition     = local.group_arn == "arn:aws:autoscaling:eu-west-1:123456789012:autoScalingGroup:*:autoScalingGroupName/ingestd-eu-west-1a"
    error_message = "lifecycle permissions must be scoped to the zone's own group"
  }
  assert {
    condition = anytrue([for st in data.aws_iam_policy_document.ingestd.statement :
      contains(st.actions, "autoscaling:CompleteLifecycleAction") && st.resources == toset([local.group_arn])
    ])
    error_message = "the instance role must complete its own group's lifecycle actions, no other group's"
  }
  assert {
    condition     = local.secrets_arn_prefix == "arn:aws:ssm:eu-west-1:123456789012:parameter/ingestd/eu-west-1a"
    error_message = "secrets must be readable under the zone's own path only"
  }
  assert {
    condition = alltrue([for st in data.aws_iam_policy_document.ingestd.statement :
      !contains(st.actions, "ssm:GetParameter") || alltrue([for r in st.resources : startswith(r, local.secrets_arn_prefix)])
    ])
    error_message = "no statement may read parameters outside the zone's secrets path"
  }
}

run "the_admin_port_is_open_to_the_nlb_subnet_only" {
  command = plan

  assert {
    condition     = aws_vpc_security_group_ingress_rule.admin_health_checks.cidr_ipv4 == "10.20.1.0/24"
    error_message = "health checks come from the NLB's subnet"
  }
  assert {
    condition     = length(aws_vpc_security_group_ingress_rule.admin_prometheus) == 0
    error_message = "no Prometheus rule without a Prometheus security group"
  }
}

run "releases_roll_back_on_the_alarm" {
  command = plan

  assert {
    condition     = contains(aws_codedeploy_deployment_group.ingestd.auto_rollback_configuration[0].events, "DEPLOYMENT_STOP_ON_ALARM")
    error_message = "a release must roll back when a registered server stops being ready"
  }
}

run "a_zone_name_too_long_for_the_nlb_is_refused" {
  command = plan

  variables {
    zone = "a-zone-name-of-25-chars-x"
  }
  expect_failures = [var.zone]
}

run "equal_root_and_spool_sizes_are_refused" {
  command = plan

  variables {
    root_volume_gb  = 200
    spool_volume_gb = 200
  }
  expect_failures = [aws_launch_template.ingestd]
}
