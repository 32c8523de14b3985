# Cameras -> NLB (TCP, TLS passes through untouched so the camera's
# certificate reaches ingestd) -> target group -> the ASG's instances.
resource "aws_lb" "cameras" {
  name               = local.name
  load_balancer_type = "network"
  internal           = false
  subnets            = [var.nlb_subnet_id]
}

resource "aws_lb_target_group" "cameras" {
  name        = local.name
  vpc_id      = var.vpc_id
  target_type = "instance"
  protocol    = "TCP"
  port        = var.camera_port

  # ingestd sees the camera's address: per-source connection limits and logs
  # need it.
  preserve_client_ip = true

  # A deregistered instance keeps its camera connections for the whole drain:
  # ingestd moves them itself with GOAWAY, in rate-limited waves.
  deregistration_delay   = local.deregistration_delay_s
  connection_termination = false

  # Readiness: should this server get new cameras? /readyz fails as soon as
  # a drain starts (and while starting, spool past high water, store
  # failing, at capacity). The NLB notices within 2 x 10 s = 20 s, inside
  # the 30 s drain.announce_delay_ms (deploy/ingestd.example.toml) during
  # which a draining server still accepts: a 10 s margin for a late check.
  # Only the NLB acts on it; the Auto Scaling group does not (servers.tf).
  health_check {
    enabled             = true
    protocol            = "HTTP"
    port                = tostring(var.admin_port)
    path                = "/readyz"
    matcher             = "200"
    interval            = 10
    timeout             = 5
    healthy_threshold   = 2
    unhealthy_threshold = 2
  }
}

resource "aws_lb_listener" "cameras" {
  load_balancer_arn = aws_lb.cameras.arn
  protocol          = "TCP"
  port              = var.camera_port

  default_action {
    type             = "forward"
    target_group_arn = aws_lb_target_group.cameras.arn
  }
}
