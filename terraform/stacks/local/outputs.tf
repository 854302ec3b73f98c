output "desired_capacity" {
  description = "Desired capacity applied per fleet."
  value       = { for name, r in terraform_data.desired_capacity : name => r.output }
}

output "scheduled_actions" {
  description = "Number of scheduled actions per fleet."
  value       = { for name, fleet in var.fleets : name => length(fleet.scheduled_actions) }
}
