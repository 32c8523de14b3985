# The instance role may write and read this zone's recordings, assume the
# cross-account store role, fetch CodeDeploy revisions, read this zone's
# secrets, answer its own group's termination hook and report its own
# liveness, and talk to Session Manager. Nothing else: no other zone's
# prefix or secrets, no deletes, no EC2 calls, no other Auto Scaling group.
data "aws_caller_identity" "current" {}

data "aws_partition" "current" {}

locals {
  account_id = data.aws_caller_identity.current.account_id
  partition  = data.aws_partition.current.partition
  group_arn = join(":", ["arn", local.partition, "autoscaling", var.region, local.account_id,
  "autoScalingGroup:*:autoScalingGroupName/${local.name}"])
  secrets_arn_prefix = "arn:${local.partition}:ssm:${var.region}:${local.account_id}:parameter${local.secrets_parameter_path}"
}

data "aws_iam_policy_document" "ec2_assume" {
  statement {
    actions = ["sts:AssumeRole"]
    principals {
      type        = "Service"
      identifiers = ["ec2.amazonaws.com"]
    }
  }
}

resource "aws_iam_role" "ingestd" {
  name               = "${local.name}-server"
  assume_role_policy = data.aws_iam_policy_document.ec2_assume.json
}

resource "aws_iam_instance_profile" "ingestd" {
  name = "${local.name}-server"
  role = aws_iam_role.ingestd.name
}

data "aws_iam_policy_document" "ingestd" {
  # Batches and index objects (single PUTs and multipart uploads; an upload
  # that fails is aborted), and read-back for recovery and the index.
  statement {
    sid = "ZoneRecordings"
    actions = [
      "s3:PutObject",
      "s3:GetObject",
      "s3:AbortMultipartUpload",
    ]
    resources = ["arn:aws:s3:::${var.store_bucket}/${local.zone_key_prefix}/*"]
  }

  # ingestd's start-up access check lists one key directly under the store
  # prefix (a wrong bucket or credentials then stop it at once).
  statement {
    sid       = "StoreAccessCheck"
    actions   = ["s3:ListBucket"]
    resources = ["arn:aws:s3:::${var.store_bucket}"]
    condition {
      test     = "StringEquals"
      variable = "s3:prefix"
      values   = ["${var.store_prefix}/"]
    }
  }

  statement {
    sid       = "ListZoneRecordings"
    actions   = ["s3:ListBucket"]
    resources = ["arn:aws:s3:::${var.store_bucket}"]
    condition {
      test     = "StringLike"
      variable = "s3:prefix"
      values   = ["${local.zone_key_prefix}/*"]
    }
  }

  # The CodeDeploy agent downloads revisions with the instance's credentials.
  statement {
    sid       = "CodeDeployRevisions"
    actions   = ["s3:GetObject", "s3:GetObjectVersion"]
    resources = ["arn:aws:s3:::${var.codedeploy_revision_bucket}/${var.codedeploy_revision_prefix}/*"]
  }

  # The lifecycle watcher (deploy/systemd/ingestd-lifecycle-watch.sh): keep
  # this instance in Terminating:Wait while its spool uploads, release it as
  # soon as the drain completes, and mark it Unhealthy when ingestd is stuck.
  # The API takes the instance id as a parameter, so the group is the
  # narrowest resource IAM can name.
  statement {
    sid = "OwnGroupLifecycle"
    actions = [
      "autoscaling:RecordLifecycleActionHeartbeat",
      "autoscaling:CompleteLifecycleAction",
      "autoscaling:SetInstanceHealth",
    ]
    resources = [local.group_arn]
  }

  # Secrets (TLS private key, ticket keys, drain token), fetched at install
  # by deploy/hooks/fetch_secrets.sh. The path itself is the resource of
  # GetParametersByPath; the parameters under it of GetParameter(s).
  statement {
    sid = "ZoneSecrets"
    actions = [
      "ssm:GetParametersByPath",
      "ssm:GetParameters",
      "ssm:GetParameter",
    ]
    resources = [local.secrets_arn_prefix, "${local.secrets_arn_prefix}/*"]
  }

  dynamic "statement" {
    for_each = var.secrets_kms_key_arn == "" ? [] : [var.secrets_kms_key_arn]
    content {
      sid       = "SecretsDecryption"
      actions   = ["kms:Decrypt"]
      resources = [statement.value]
    }
  }

  # Session Manager (instead of SSH): the agent registers the instance and
  # opens the session channels. Not AmazonSSMManagedInstanceCore, which also
  # grants ssm:GetParameter(s) on every parameter of the account and region.
  statement {
    sid = "SessionManager"
    actions = [
      "ssm:UpdateInstanceInformation",
      "ssmmessages:CreateControlChannel",
      "ssmmessages:CreateDataChannel",
      "ssmmessages:OpenControlChannel",
      "ssmmessages:OpenDataChannel",
      "ec2messages:AcknowledgeMessage",
      "ec2messages:DeleteMessage",
      "ec2messages:FailMessage",
      "ec2messages:GetEndpoint",
      "ec2messages:GetMessages",
      "ec2messages:SendReply",
    ]
    resources = ["*"]
  }

  dynamic "statement" {
    for_each = var.cross_account_role_arn == "" ? [] : [var.cross_account_role_arn]
    content {
      sid       = "CrossAccountStoreRole"
      actions   = ["sts:AssumeRole"]
      resources = [statement.value]
    }
  }

  dynamic "statement" {
    for_each = var.store_kms_key_arn == "" ? [] : [var.store_kms_key_arn]
    content {
      sid       = "StoreEncryption"
      actions   = ["kms:GenerateDataKey", "kms:Decrypt"]
      resources = [statement.value]
    }
  }
}

resource "aws_iam_role_policy" "ingestd" {
  name   = "recordings-${var.zone}"
  role   = aws_iam_role.ingestd.id
  policy = data.aws_iam_policy_document.ingestd.json
}

# CodeDeploy's service role: the managed policy, plus what CodeDeploy needs
# to launch replacement instances from a launch template.
data "aws_iam_policy_document" "codedeploy_assume" {
  statement {
    actions = ["sts:AssumeRole"]
    principals {
      type        = "Service"
      identifiers = ["codedeploy.amazonaws.com"]
    }
  }
}

resource "aws_iam_role" "codedeploy" {
  name               = "${local.name}-codedeploy"
  assume_role_policy = data.aws_iam_policy_document.codedeploy_assume.json
}

resource "aws_iam_role_policy_attachment" "codedeploy" {
  role       = aws_iam_role.codedeploy.name
  policy_arn = "arn:aws:iam::aws:policy/service-role/AWSCodeDeployRole"
}

data "aws_iam_policy_document" "codedeploy_launch_template" {
  statement {
    actions   = ["ec2:RunInstances", "ec2:CreateTags"]
    resources = ["*"]
  }
  statement {
    actions   = ["iam:PassRole"]
    resources = [aws_iam_role.ingestd.arn]
  }
}

resource "aws_iam_role_policy" "codedeploy_launch_template" {
  name   = "launch-template"
  role   = aws_iam_role.codedeploy.id
  policy = data.aws_iam_policy_document.codedeploy_launch_template.json
}
