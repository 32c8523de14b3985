# The instance role may write and read this zone's recordings, assume the
# cross-account store role, fetch CodeDeploy revisions, and talk to Session
# Manager. Nothing else: no other zone's prefix, no deletes, no EC2 or
# Auto Scaling calls.
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

# Session Manager instead of SSH.
resource "aws_iam_role_policy_attachment" "ssm_core" {
  role       = aws_iam_role.ingestd.name
  policy_arn = "arn:aws:iam::aws:policy/AmazonSSMManagedInstanceCore"
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
