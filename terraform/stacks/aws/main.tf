# The AWS stack: one modules/fleet per fleet and one modules/edge per load balancer, driven by the
# variables the controller renders (fleets.auto.tfvars.json) and the account's `environment`.
#
# State: an S3 backend with S3-native locking (use_lockfile, Terraform >= 1.10), so two applies
# never run at once even from different machines. Configure it per account at init time:
#   terraform init -backend-config="bucket=my-tf-state" -backend-config="key=fleets/terraform.tfstate" \
#                  -backend-config="region=us-east-1"
# The bucket should have versioning on (every state version recoverable) and encryption.

terraform {
  required_version = ">= 1.10"

  required_providers {
    aws = {
      source  = "hashicorp/aws"
      version = "~> 6.0" # region per resource (>= 6.0), minimum_load_balancer_capacity (>= 5.99)
    }
  }

  backend "s3" {
    use_lockfile = true
    encrypt      = true
  }
}

provider "aws" {
  region = local.home_region
}

locals {
  home_region = try(values(var.fleets)[0].region, "us-east-1")
}

module "fleet" {
  source   = "../../modules/fleet"
  for_each = var.fleets

  name                   = "${var.environment.name_prefix}-${each.key}"
  region                 = each.value.region
  instance_type          = each.value.instance_type
  image_id               = var.environment.image_id
  vpc_id                 = var.environment.vpc_id
  subnet_ids             = var.environment.subnet_ids
  security_groups        = var.environment.security_groups
  min_size               = each.value.min_size
  max_size               = each.value.max_size
  desired_capacity       = each.value.desired_capacity
  instance_warmup        = each.value.instance_warmup
  target_cpu_utilization = each.value.target_cpu_utilization
  scheduled_actions      = each.value.scheduled_actions
  warm_pool              = each.value.warm_pool
}

module "edge" {
  source   = "../../modules/edge"
  for_each = var.load_balancers

  name              = "${var.environment.name_prefix}-${each.key}"
  region            = each.value.region
  subnet_ids        = var.environment.subnet_ids
  security_groups   = var.environment.security_groups
  capacity_units    = each.value.capacity_units
  weights           = each.value.weights
  target_group_arns = { for fleet in keys(each.value.weights) : fleet => module.fleet[fleet].target_group_arn }
}
