# No SSH anywhere: operators use Session Manager (SSM), which needs only
# outbound 443 from the instance.
resource "aws_security_group" "ingestd" {
  name        = "${local.name}-server"
  description = "ingestd servers of zone ${var.zone}: cameras in, admin from the NLB and Prometheus, HTTPS out"
  vpc_id      = var.vpc_id
}

# The NLB preserves the camera's address, so the cameras' own ranges are
# allowed here, not the NLB's.
resource "aws_vpc_security_group_ingress_rule" "camera" {
  for_each = toset(var.camera_cidrs)

  security_group_id = aws_security_group.ingestd.id
  description       = "cameras (mutual TLS through the NLB)"
  ip_protocol       = "tcp"
  from_port         = var.camera_port
  to_port           = var.camera_port
  cidr_ipv4         = each.value
}

# The admin port answers the NLB's health checks, which come from the NLB's
# own addresses in its subnet, and Prometheus; nobody else. (POST
# /admin/drain is for the host itself: loopback needs no rule.)
data "aws_subnet" "nlb" {
  id = var.nlb_subnet_id
}

resource "aws_vpc_security_group_ingress_rule" "admin_health_checks" {
  security_group_id = aws_security_group.ingestd.id
  description       = "admin HTTP: NLB health checks (/readyz) from the NLB's subnet"
  ip_protocol       = "tcp"
  from_port         = var.admin_port
  to_port           = var.admin_port
  cidr_ipv4         = data.aws_subnet.nlb.cidr_block
}

resource "aws_vpc_security_group_ingress_rule" "admin_prometheus" {
  count = var.prometheus_security_group_id == "" ? 0 : 1

  security_group_id            = aws_security_group.ingestd.id
  description                  = "admin HTTP: Prometheus (/metrics)"
  ip_protocol                  = "tcp"
  from_port                    = var.admin_port
  to_port                      = var.admin_port
  referenced_security_group_id = var.prometheus_security_group_id
}

# S3, STS, SSM and the CodeDeploy endpoints are all HTTPS. DNS to the VPC
# resolver and the instance metadata service are not filtered by security
# groups.
resource "aws_vpc_security_group_egress_rule" "https" {
  security_group_id = aws_security_group.ingestd.id
  description       = "HTTPS to S3, STS, SSM and CodeDeploy"
  ip_protocol       = "tcp"
  from_port         = 443
  to_port           = 443
  cidr_ipv4         = "0.0.0.0/0"
}
