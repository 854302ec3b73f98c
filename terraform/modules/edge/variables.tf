variable "region" {
  description = "AWS region of every resource (provider >= 6.0 sets it per resource)."
  type        = string
}

variable "name" {
  description = "Load balancer name."
  type        = string
}

variable "subnet_ids" {
  description = "Subnets of the load balancer (at least two zones)."
  type        = list(string)
}

variable "security_groups" {
  description = "Security groups of the load balancer."
  type        = list(string)
  default     = []
}

variable "internal" {
  description = "Internal rather than internet-facing."
  type        = bool
  default     = false
}

variable "capacity_units" {
  description = "LCU reservation from the forecast peak (0 = none)."
  type        = number
  default     = 0
}

variable "weights" {
  description = "Fleet name -> target-group weight (0-999), at most 5 fleets."
  type        = map(number)
}

variable "target_group_arns" {
  description = "Fleet name -> target group ARN."
  type        = map(string)
}
