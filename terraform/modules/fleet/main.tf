# One fleet: launch template, autoscaling group, the controller's scheduled actions, a
# target-tracking policy as the reactive safety net, and the target group its ALB forwards to.

terraform {
  required_providers {
    aws = {
      source  = "hashicorp/aws"
      version = "~> 6.0"
    }
  }
}

resource "aws_launch_template" "this" {
  region                 = var.region
  name_prefix            = "${var.name}-"
  image_id               = var.image_id
  instance_type          = var.instance_type
  vpc_security_group_ids = var.security_groups
  update_default_version = true

  metadata_options {
    http_tokens = "required"
  }

  # A Hibernated warm pool needs hibernation enabled at launch (and an encrypted root volume
  # large enough for the instance's RAM: docs/allocation.md#warm-pools).
  dynamic "hibernation_options" {
    for_each = try(var.warm_pool.pool_state, "") == "Hibernated" ? [true] : []
    content {
      configured = true
    }
  }

  tag_specifications {
    resource_type = "instance"
    tags          = { Fleet = var.name, ManagedBy = "fleet-persona-controller" }
  }
}

resource "aws_lb_target_group" "this" {
  region               = var.region
  name_prefix          = substr(var.name, 0, 6)
  port                 = 80
  protocol             = "HTTP"
  vpc_id               = var.vpc_id
  deregistration_delay = 60

  health_check {
    path    = var.health_check_path
    matcher = "200-399"
  }

  lifecycle {
    create_before_destroy = true
  }
}

resource "aws_autoscaling_group" "this" {
  region                    = var.region
  name                      = var.name
  min_size                  = var.min_size
  max_size                  = var.max_size
  desired_capacity          = var.desired_capacity
  vpc_zone_identifier       = var.subnet_ids
  target_group_arns         = [aws_lb_target_group.this.arn]
  health_check_type         = "ELB"
  health_check_grace_period = var.instance_warmup
  default_instance_warmup   = var.instance_warmup

  launch_template {
    id      = aws_launch_template.this.id
    version = aws_launch_template.this.latest_version
  }

  # A new instance type rolls out through an instance refresh, never a replacement of the group.
  instance_refresh {
    strategy = "Rolling"
    preferences {
      min_healthy_percentage = 90
      instance_warmup        = var.instance_warmup
    }
  }

  # Instances stopped (or hibernated) ahead of a burst: a scale-out takes them first and they
  # serve in about a minute instead of a full boot. AWS refuses a warm pool on a group with a
  # mixed-instances policy or Spot instances; this module launches one on-demand type only.
  dynamic "warm_pool" {
    for_each = var.warm_pool == null ? [] : [var.warm_pool]
    content {
      pool_state                  = warm_pool.value.pool_state
      min_size                    = warm_pool.value.min_size
      max_group_prepared_capacity = warm_pool.value.max_group_prepared_capacity

      instance_reuse_policy {
        reuse_on_scale_in = warm_pool.value.reuse_on_scale_in
      }
    }
  }

  tag {
    key                 = "Fleet"
    value               = var.name
    propagate_at_launch = true
  }

  lifecycle {
    # Desired capacity is set once at creation; afterwards the scheduled actions below and the
    # target-tracking policy own it, so a plan never fights them.
    ignore_changes = [desired_capacity]
  }
}

resource "aws_autoscaling_schedule" "forecast" {
  for_each = { for action in var.scheduled_actions : action.name => action }

  region                 = var.region
  autoscaling_group_name = aws_autoscaling_group.this.name
  scheduled_action_name  = each.key
  start_time             = each.value.start_time
  desired_capacity       = each.value.desired_capacity
  min_size               = each.value.min_size
  max_size               = each.value.max_size
  time_zone              = "Etc/UTC"
}

resource "aws_autoscaling_policy" "target_tracking" {
  region                    = var.region
  name                      = "${var.name}-cpu-target"
  autoscaling_group_name    = aws_autoscaling_group.this.name
  policy_type               = "TargetTrackingScaling"
  estimated_instance_warmup = var.instance_warmup

  target_tracking_configuration {
    target_value = var.target_cpu_utilization

    predefined_metric_specification {
      predefined_metric_type = "ASGAverageCPUUtilization"
    }
  }
}
