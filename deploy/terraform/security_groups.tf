# No SSH anywhere: operators use Session Manager (SSM), which needs only
# outbound 443 from the instance.
resource "aws_security_group" "ingestd" {
  name        = "${local.name}-server"
  description = "ingestd servers of zone ${var.zone}: cameras in, admin from the VPC, HTTPS out"
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

# NLB health checks come from the NLB's addresses inside the VPC; Prometheus
# scrapes from inside the VPC as well.
resource "aws_vpc_security_group_ingress_rule" "admin" {
  security_group_id = aws_security_group.ingestd.id
  description       = "admin HTTP: NLB health checks (/readyz) and Prometheus (/metrics)"
  ip_protocol       = "tcp"
  from_port         = var.admin_port
  to_port           = var.admin_port
  cidr_ipv4         = var.vpc_cidr
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
