# One recording zone of ingestd: an NLB, an Auto Scaling group of servers in
# one Availability Zone, and the CodeDeploy group that ships releases to them.
# README.md in this folder explains how the pieces fit.

variable "region" {
  description = "AWS region of the zone, e.g. \"eu-west-1\"."
  type        = string

  validation {
    condition     = can(regex("^[a-z]{2}(-[a-z]+)+-[0-9]+$", var.region))
    error_message = "region must be an AWS region name such as \"eu-west-1\"."
  }
}

variable "zone" {
  description = "Recording zone name: ingestd's server.zone, the first part of every object key, and part of every resource name. Usually the Availability Zone, e.g. \"eu-west-1a\"."
  type        = string

  # The NLB and its target group are named ingestd-<zone>, and AWS allows
  # those names 32 characters: 8 for "ingestd-" leaves 24 for the zone.
  validation {
    condition     = can(regex("^[a-z0-9]([a-z0-9-]{0,22}[a-z0-9])?$", var.zone))
    error_message = "zone must be 1-24 lowercase letters, digits or dashes, not starting or ending with a dash (ingestd-<zone> names the NLB and target group, which AWS limits to 32 characters)."
  }
}

variable "vpc_id" {
  description = "VPC that holds the zone's subnets."
  type        = string
}

variable "prometheus_security_group_id" {
  description = "Security group of the Prometheus servers that scrape /metrics on the admin port; empty: no scrape rule (the NLB's health checks are always allowed)."
  type        = string
  default     = ""
}

variable "instance_subnet_ids" {
  description = "Private subnets of the zone's Availability Zone for the servers. They need a route to S3, STS and SSM on 443 (NAT gateway or VPC endpoints)."
  type        = list(string)

  validation {
    condition     = length(var.instance_subnet_ids) > 0
    error_message = "At least one instance subnet is needed."
  }
}

variable "nlb_subnet_id" {
  description = "Public subnet in the same Availability Zone for the Network Load Balancer (an NLB takes one subnet per Availability Zone)."
  type        = string
}

variable "camera_cidrs" {
  description = "Source ranges allowed to reach the camera port. The NLB preserves client addresses, so this filters the cameras themselves."
  type        = list(string)
  default     = ["0.0.0.0/0"]
}

variable "camera_port" {
  description = "TCP port cameras connect to (mutual TLS passes through the NLB to ingestd); server.listen's port. Above 1024: the service has no capabilities."
  type        = number
  default     = 7443
}

variable "admin_port" {
  description = "ingestd's admin HTTP port (server.admin_listen, bound to 0.0.0.0 on EC2): /readyz for the NLB health check, /metrics for Prometheus. POST /admin/drain from off the host needs drain.token_file."
  type        = number
  default     = 9090
}

variable "ami_id" {
  description = "AMI for the servers: the SSM agent, the CodeDeploy agent and the ingestd systemd units (deploy/systemd) installed; see README.md."
  type        = string
}

variable "instance_type" {
  description = "EC2 instance type. Network and EBS throughput bound a server's camera count; see bench/README.md."
  type        = string
  default     = "c6in.2xlarge"
}

variable "root_volume_gb" {
  description = "Size of the root volume in GiB."
  type        = number
  default     = 20
}

variable "spool_volume_gb" {
  description = "Size of the gp3 spool volume mounted at /var/lib/ingestd, in GiB. Leave room above spool.max_bytes for the journal, the audit log and file-system overhead."
  type        = number
  default     = 200
}

variable "spool_volume_iops" {
  description = "Provisioned IOPS of the spool volume (gp3: 3000 included, up to 16000). Each group commit is one write plus one fdatasync per shard."
  type        = number
  default     = 6000
}

variable "spool_volume_throughput_mibps" {
  description = "Provisioned throughput of the spool volume in MiB/s (gp3: 125 included, up to 1000). Every camera byte is written once and read once."
  type        = number
  default     = 500
}

variable "asg_min_size" {
  description = "Fewest servers in the zone."
  type        = number
  default     = 2
}

variable "asg_max_size" {
  description = "Most servers in the zone. One more than the steady count lets an instance refresh launch before it terminates."
  type        = number
  default     = 6
}

variable "asg_desired_capacity" {
  description = "Servers at creation; afterwards scaling policies or operators own the count (Terraform ignores later drift)."
  type        = number
  default     = 3
}

variable "health_check_grace_period_s" {
  description = "Seconds after InService before the ASG acts on a failed EC2 status check or a SetInstanceHealth from the liveness watcher; also the instance warm-up of an instance refresh. Covers spool recovery after a restart."
  type        = number
  default     = 300
}

variable "liveness_fail_s" {
  description = "Seconds /healthz must fail continuously (ingestd running but its event loops stuck) before the instance's watcher marks it Unhealthy and the group replaces it, draining it first. Readiness (/readyz) never leads to a replacement."
  type        = number
  default     = 60

  validation {
    condition     = var.liveness_fail_s >= 20
    error_message = "liveness_fail_s must be at least 20: a loaded server may miss a check or two."
  }
}

variable "instance_refresh_min_healthy_percentage" {
  description = "Share of the desired capacity kept in service while instances are replaced (instance refresh, unhealthy replacement). 100 with max above 100: launch the new server before the old one drains."
  type        = number
  default     = 100

  validation {
    condition     = var.instance_refresh_min_healthy_percentage >= 0 && var.instance_refresh_min_healthy_percentage <= 100
    error_message = "instance_refresh_min_healthy_percentage must be 0-100."
  }
}

variable "instance_refresh_max_healthy_percentage" {
  description = "Most of the desired capacity in service or pending while instances are replaced (100-200). Above 100 the group launches a replacement first, so a 3-server zone keeps 3 servers during each replacement; Auto Scaling replaces at least one instance at a time however small the group."
  type        = number
  default     = 110

  validation {
    condition = (var.instance_refresh_max_healthy_percentage >= 100 && var.instance_refresh_max_healthy_percentage <= 200 &&
    var.instance_refresh_max_healthy_percentage - var.instance_refresh_min_healthy_percentage <= 100)
    error_message = "instance_refresh_max_healthy_percentage must be 100-200 and at most 100 above the minimum."
  }
}

variable "drain_deadline_s" {
  description = "ingestd's drain.deadline_ms in seconds. The NLB deregistration delay is derived from it. It must also stay below the systemd unit's TimeoutStopSec (150 s) and the appspec's ApplicationStop timeout."
  type        = number
  default     = 120

  validation {
    condition     = var.drain_deadline_s >= 30 && var.drain_deadline_s < 150
    error_message = "drain_deadline_s must be at least 30 and below the systemd TimeoutStopSec of 150."
  }
}

variable "store_bucket" {
  description = "S3 bucket of the recordings (ingestd's store.url is s3://<store_bucket>/<store_prefix>)."
  type        = string
}

variable "store_prefix" {
  description = "Key prefix inside the bucket, without slashes at either end; objects of this zone live under <store_prefix>/<zone>/. ingestd checks access at start by listing one key under <store_prefix>/."
  type        = string
  default     = "recordings"

  validation {
    condition     = can(regex("^[A-Za-z0-9._-]+(/[A-Za-z0-9._-]+)*$", var.store_prefix))
    error_message = "store_prefix must be non-empty, without leading or trailing slashes."
  }
}

variable "store_kms_key_arn" {
  description = "KMS key of the bucket's default SSE-KMS encryption; empty when the bucket uses SSE-S3."
  type        = string
  default     = ""
}

variable "cross_account_role_arn" {
  description = "Role ingestd assumes (store.role_arn) when the bucket lives in another account; empty: no AssumeRole permission is granted."
  type        = string
  default     = ""
}

variable "codedeploy_revision_bucket" {
  description = "S3 bucket holding CodeDeploy revisions; the CodeDeploy agent downloads them with the instance role."
  type        = string
}

variable "codedeploy_revision_prefix" {
  description = "Key prefix of this application's revisions in codedeploy_revision_bucket."
  type        = string
  default     = "ingestd"
}

variable "secrets_parameter_path" {
  description = "SSM Parameter Store path of the servers' secrets (SecureString parameters: TLS private key, ticket keys, drain token), fetched at install into the configuration folder; empty = /ingestd/<zone>. The instance role may read this path only. Secrets never travel in the CodeDeploy revision."
  type        = string
  default     = ""

  validation {
    condition     = var.secrets_parameter_path == "" || can(regex("^(/[A-Za-z0-9_.-]+)+$", var.secrets_parameter_path))
    error_message = "secrets_parameter_path must look like /ingestd/eu-west-1a (no trailing slash)."
  }
}

variable "secrets_kms_key_arn" {
  description = "Customer-managed KMS key that encrypts the SecureString secrets; empty when they use the account's aws/ssm key (no KMS permission needed then)."
  type        = string
  default     = ""
}

variable "deploy_alarm_actions" {
  description = "SNS topic ARNs notified when the deployment alarm (a registered server failing /readyz during a release) fires; empty: CodeDeploy still rolls back."
  type        = list(string)
  default     = []
}

variable "tags" {
  description = "Extra tags for every resource."
  type        = map(string)
  default     = {}
}
