output "autoscaling_groups" {
  description = "Autoscaling group name per fleet."
  value       = { for name, fleet in module.fleet : name => fleet.autoscaling_group_name }
}

output "load_balancers" {
  description = "DNS name per load balancer."
  value       = { for name, edge in module.edge : name => edge.dns_name }
}
