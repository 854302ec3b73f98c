# Inputs rendered by the controller (templates/fleets.auto.tfvars.json.j2), plus the account's
# environment. stacks/aws and stacks/local declare exactly the same variables; a test holds them
# equal (the local stack ignores `environment`).

variable "fleets" {
  description = "Capacity per fleet, as decided by the controller's allocator."
  type = map(object({
    region                 = string
    instance_type          = string
    min_size               = number
    max_size               = number
    desired_capacity       = number
    load_balancer          = string
    target_cpu_utilization = number
    instance_warmup        = number
    scheduled_actions = list(object({
      name             = string
      start_time       = string
      desired_capacity = number
      min_size         = number
      max_size         = number
    }))
    # null = no warm pool (docs/allocation.md#warm-pools)
    warm_pool = optional(object({
      pool_state                  = string
      min_size                    = number
      max_group_prepared_capacity = number
      reuse_on_scale_in           = bool
    }))
  }))

  validation {
    condition     = alltrue([for f in values(var.fleets) : f.min_size <= f.desired_capacity && f.desired_capacity <= f.max_size])
    error_message = "Every fleet needs min_size <= desired_capacity <= max_size."
  }

  validation {
    condition     = alltrue([for f in values(var.fleets) : length(f.scheduled_actions) <= 100])
    error_message = "An autoscaling group takes at most 100 scheduled actions."
  }

  validation {
    condition     = alltrue([for f in values(var.fleets) : f.warm_pool == null ? true : contains(["Stopped", "Hibernated"], f.warm_pool.pool_state)])
    error_message = "A warm pool's pool_state is \"Stopped\" or \"Hibernated\"."
  }

  validation {
    condition     = alltrue([for f in values(var.fleets) : f.warm_pool == null ? true : f.warm_pool.min_size >= 0 && f.warm_pool.min_size <= f.warm_pool.max_group_prepared_capacity])
    error_message = "A warm pool needs 0 <= min_size <= max_group_prepared_capacity."
  }
}

variable "load_balancers" {
  description = "Application load balancers: LCU reservation and target-group weights per fleet."
  type = map(object({
    region         = string
    capacity_units = number
    weights        = map(number)
  }))
  default = {}

  validation {
    condition     = alltrue([for lb in values(var.load_balancers) : alltrue([for w in values(lb.weights) : w >= 0 && w <= 999])])
    error_message = "Target-group weights are between 0 and 999."
  }
}

variable "environment" {
  description = "Where the fleets run (set once per account, e.g. in environment.auto.tfvars)."
  type = object({
    name_prefix     = string
    vpc_id          = string
    subnet_ids      = list(string)
    image_id        = string
    security_groups = list(string)
  })
  default = {
    name_prefix     = "fleet"
    vpc_id          = ""
    subnet_ids      = []
    image_id        = ""
    security_groups = []
  }
}

variable "anomaly_rate_limits" {
  description = "Recommended per-client request limits (per 5 minutes) from the anomaly mitigation policy, keyed by fleet; {} = no throttling. Wire to an aws_wafv2_web_acl rate_based_statement (docs/anomalies.md)."
  type        = map(number)
  default     = {}

  validation {
    condition     = alltrue([for limit in values(var.anomaly_rate_limits) : limit >= 10 && limit <= 2000000000 && floor(limit) == limit])
    error_message = "Rate limits are whole numbers between 10 and 2,000,000,000 (the AWS WAF rate-based rule range)."
  }
}
