output "autoscaling_group_name" {
  description = "Name of the autoscaling group."
  value       = aws_autoscaling_group.this.name
}

output "target_group_arn" {
  description = "Target group the edge forwards to."
  value       = aws_lb_target_group.this.arn
}
