output "camera_endpoint" {
  description = "host:port cameras of this zone connect to (the NLB; point the zone's DNS name here)."
  value       = "${aws_lb.cameras.dns_name}:${var.camera_port}"
}

output "nlb_arn" {
  description = "ARN of the zone's Network Load Balancer."
  value       = aws_lb.cameras.arn
}

output "target_group_arn" {
  description = "ARN of the target group (health check: HTTP /readyz on the admin port)."
  value       = aws_lb_target_group.cameras.arn
}

output "autoscaling_group_name" {
  description = "Name of the Auto Scaling group of the zone's servers."
  value       = aws_autoscaling_group.ingestd.name
}

output "codedeploy_application" {
  description = "CodeDeploy application name."
  value       = aws_codedeploy_app.ingestd.name
}

output "codedeploy_deployment_group" {
  description = "CodeDeploy deployment group name."
  value       = aws_codedeploy_deployment_group.ingestd.deployment_group_name
}

output "instance_role_arn" {
  description = "IAM role of the servers; the cross-account store role must trust it."
  value       = aws_iam_role.ingestd.arn
}

output "security_group_id" {
  description = "Security group of the servers."
  value       = aws_security_group.ingestd.id
}

output "store_url" {
  description = "ingestd's store.url for this zone."
  value       = "s3://${var.store_bucket}/${var.store_prefix}"
}
