variable "region" {
  description = "AWS region of every resource (provider >= 6.0 sets it per resource)."
  type        = string
}

variable "name" {
  description = "Fleet name (the autoscaling group's name)."
  type        = string
}

variable "instance_type" {
  description = "EC2 instance type chosen by the allocator."
  type        = string
}

variable "image_id" {
  description = "AMI the instances boot."
  type        = string
}

variable "vpc_id" {
  description = "VPC of the target group."
  type        = string
}

variable "subnet_ids" {
  description = "Subnets the group launches into."
  type        = list(string)
}

variable "security_groups" {
  description = "Security groups of the instances."
  type        = list(string)
  default     = []
}

variable "min_size" {
  description = "Smallest group size."
  type        = number
}

variable "max_size" {
  description = "Largest group size (the allocator may raise it, IncreaseMaxCapacity-style)."
  type        = number
}

variable "desired_capacity" {
  description = "Desired capacity at creation only (ignored afterwards)."
  type        = number
}

variable "instance_warmup" {
  description = "Seconds a new instance needs before it serves."
  type        = number
  default     = 300
}

variable "target_cpu_utilization" {
  description = "Target-tracking policy's average CPU target (percent)."
  type        = number
  default     = 70
}

variable "health_check_path" {
  description = "Target group health check path."
  type        = string
  default     = "/healthz"
}

variable "scheduled_actions" {
  description = "The controller's forecast as scheduled actions (UTC, at most 100)."
  type = list(object({
    name             = string
    start_time       = string
    desired_capacity = number
    min_size         = number
    max_size         = number
  }))
  default = []
}

variable "warm_pool" {
  description = "Warm pool of stopped or hibernated instances (null = none): docs/allocation.md#warm-pools."
  type = object({
    pool_state                  = string
    min_size                    = number
    max_group_prepared_capacity = number
    reuse_on_scale_in           = bool
  })
  default = null

  validation {
    condition     = var.warm_pool == null ? true : contains(["Stopped", "Hibernated"], var.warm_pool.pool_state)
    error_message = "A warm pool's pool_state is \"Stopped\" or \"Hibernated\"."
  }
}
