# Inputs rendered by the controller (templates/fleets.auto.tfvars.json.j2).
# stacks/aws and stacks/local declare exactly the same variables; a test holds them equal.

variable "fleets" {
  description = "Capacity per fleet, as decided by the controller's allocator."
  type = map(object({
    region            = string
    instance_type     = string
    min_size          = number
    max_size          = number
    desired_capacity  = number
    lb_capacity_units = number
    scheduled_actions = list(object({
      name             = string
      start_time       = string
      desired_capacity = number
      min_size         = number
      max_size         = number
    }))
  }))

  validation {
    condition     = alltrue([for f in values(var.fleets) : f.min_size <= f.desired_capacity && f.desired_capacity <= f.max_size])
    error_message = "Every fleet needs min_size <= desired_capacity <= max_size."
  }
}
