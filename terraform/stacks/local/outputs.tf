output "desired_capacity" {
  description = "Desired capacity applied per fleet."
  value       = { for name, r in terraform_data.desired_capacity : name => r.output }
}

output "scheduled_actions" {
  description = "Number of scheduled actions per fleet."
  value       = { for name, fleet in var.fleets : name => length(fleet.scheduled_actions) }
}

output "load_balancer_capacity_units" {
  description = "LCU reservation per load balancer."
  value       = { for name, lb in var.load_balancers : name => lb.capacity_units }
}

output "fleet_groups" {
  description = "What each group stand-in records (region, instance type, bounds, load balancer). A refresh-only plan recomputes it from the state, so a group changed outside Terraform shows up as drift."
  value       = { for name, group in terraform_data.autoscaling_group : name => group.output }
}
