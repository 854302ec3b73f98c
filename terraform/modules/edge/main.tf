# One application load balancer: LCU reservation from the forecast peak, an HTTP listener, and a
# listener rule that forwards to the target groups of the fleets behind it, weighted by the
# controller's forecast.

terraform {
  required_providers {
    aws = {
      source  = "hashicorp/aws"
      version = "~> 6.0"
    }
  }
}

locals {
  targets = [for fleet, weight in var.weights : { arn = var.target_group_arns[fleet], weight = weight }]
}

resource "aws_lb" "this" {
  region             = var.region
  name               = var.name
  load_balancer_type = "application"
  internal           = var.internal
  subnets            = var.subnet_ids
  security_groups    = var.security_groups

  # LCU reservation (provider >= 5.99). Zero means no reservation: the block is left out.
  dynamic "minimum_load_balancer_capacity" {
    for_each = var.capacity_units > 0 ? [var.capacity_units] : []
    content {
      capacity_units = minimum_load_balancer_capacity.value
    }
  }
}

resource "aws_lb_listener" "http" {
  region            = var.region
  load_balancer_arn = aws_lb.this.arn
  port              = 80
  protocol          = "HTTP"

  default_action {
    type = "fixed-response"

    fixed_response {
      content_type = "text/plain"
      message_body = "no route"
      status_code  = "404"
    }
  }
}

resource "aws_lb_listener_rule" "weighted" {
  region       = var.region
  listener_arn = aws_lb_listener.http.arn
  priority     = 100

  action {
    type = "forward"

    forward {
      dynamic "target_group" {
        for_each = local.targets
        content {
          arn    = target_group.value.arn
          weight = target_group.value.weight
        }
      }
    }
  }

  condition {
    path_pattern {
      values = ["/*"]
    }
  }
}
