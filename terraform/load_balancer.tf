resource "aws_lb" "app" {
  # checkov:skip=CKV2_AWS_28:A WAF web ACL is the caller's choice and cost (aws_wafv2_web_acl_association with the alb_arn output); drop_invalid_header_fields, strictest desync mitigation and the service's strict parser cover malformed requests
  name               = "${var.name_prefix}-alb"
  load_balancer_type = "application"
  internal           = var.internal
  security_groups    = [aws_security_group.alb.id]
  subnets            = var.lb_subnet_ids

  # Request smuggling defences: drop header fields that are not valid tokens, and
  # classify every request (strictest: only RFC 7230-compliant requests pass).
  drop_invalid_header_fields = true
  desync_mitigation_mode     = var.desync_mitigation_mode

  # The service keeps idle connections open longer (service_idle_timeout), so the ALB
  # always closes first and never reuses a connection the service is closing. The
  # preconditions below hold that for the instances that run, not only for new ones.
  idle_timeout = var.lb_idle_timeout

  enable_deletion_protection = var.enable_deletion_protection

  dynamic "access_logs" {
    for_each = var.access_logs_bucket == null ? [] : [var.access_logs_bucket]
    content {
      bucket  = access_logs.value
      prefix  = var.name_prefix
      enabled = true
    }
  }

  tags = merge(var.tags, { Name = "${var.name_prefix}-alb", (local.fleet_tag) = var.name_prefix })

  lifecycle {
    # A new ALB (internal is fixed for an ALB's life; its name is fixed by name_prefix)
    # means a new DNS name, and Terraform would destroy the old one, listeners and all,
    # before creating it: an outage, and clients pointed at a name that no longer
    # exists. Refused at plan time while this deployment's ALB exists.
    precondition {
      condition     = alltrue([for lb in data.aws_lb.running : lb.internal == var.internal])
      error_message = "internal cannot change while the load balancer exists: AWS would need a new ALB (a new DNS name), and Terraform would delete the old one first, an outage. To move: deploy a second instance of this module with another name_prefix and internal = ${var.internal}, move clients to its DNS name, then destroy this one; or destroy and re-create in a maintenance window."
    }

    # The ALB must close idle connections before the service does, on every instance
    # that runs, including a fleet still serving after a failed rollout: the ALB's
    # timeout changes in place, before (or without) a new fleet.
    precondition {
      condition     = var.lb_idle_timeout + 5 <= var.service_idle_timeout && alltrue([for t in local.running_idle_timeouts : var.lb_idle_timeout + 5 <= t])
      error_message = "lb_idle_timeout (${var.lb_idle_timeout}) must stay at least 5 s below the service's IDLE_TIMEOUT on every instance, or the ALB reuses connections the service is closing (502s). service_idle_timeout is ${var.service_idle_timeout}; the running instances have ${jsonencode(local.running_idle_timeouts)}. To raise it: first raise service_idle_timeout and apply (a rollout), then raise lb_idle_timeout."
    }
  }
}

# This deployment's load balancer as it is now (none before the first apply), found by
# its tag: read at plan time to refuse a change that would replace it.
data "aws_lbs" "running" {
  tags = { (local.fleet_tag) = var.name_prefix }
}

data "aws_lb" "running" {
  for_each = toset(data.aws_lbs.running.arns)
  arn      = each.value
}

# See README.md for how these numbers were chosen: /health fails 10% of the time on
# purpose, and every ALB node checks every instance on its own.
resource "aws_lb_target_group" "app" {
  # checkov:skip=CKV_AWS_378:TLS ends at the ALB; ALB to instance is plain HTTP inside the VPC, restricted by security groups to the ALB
  # A target group is replaced when its port changes; a generated name lets the new
  # one exist beside the old one (create_before_destroy). At most 6 characters.
  name_prefix          = substr(replace(var.name_prefix, "-", ""), 0, 6)
  port                 = var.app_port
  protocol             = "HTTP"
  protocol_version     = "HTTP1"
  target_type          = "instance"
  vpc_id               = var.vpc_id
  deregistration_delay = var.deregistration_delay

  health_check {
    enabled             = true
    protocol            = "HTTP"
    port                = "traffic-port"
    path                = var.health_check_path
    matcher             = var.health_check_matcher
    interval            = var.health_check_interval
    timeout             = var.health_check_timeout
    healthy_threshold   = var.health_check_healthy_threshold
    unhealthy_threshold = var.health_check_unhealthy_threshold
  }

  tags = merge(var.tags, { Name = "${var.name_prefix}-tg" })

  lifecycle {
    create_before_destroy = true

    precondition {
      condition     = var.health_check_timeout < var.health_check_interval
      error_message = "health_check_timeout must be shorter than health_check_interval."
    }
  }
}

resource "aws_lb_listener" "http" {
  load_balancer_arn = aws_lb.app.arn
  port              = 80
  protocol          = "HTTP"

  default_action {
    type             = local.https_enabled ? "redirect" : "forward"
    target_group_arn = local.https_enabled ? null : aws_lb_target_group.app.arn

    dynamic "redirect" {
      for_each = local.https_enabled ? [1] : []
      content {
        port        = "443"
        protocol    = "HTTPS"
        status_code = "HTTP_301"
      }
    }
  }

  tags = var.tags
}

resource "aws_lb_listener" "https" {
  count = local.https_enabled ? 1 : 0

  load_balancer_arn = aws_lb.app.arn
  port              = 443
  protocol          = "HTTPS"
  ssl_policy        = var.ssl_policy
  certificate_arn   = var.certificate_arn

  default_action {
    type             = "forward"
    target_group_arn = aws_lb_target_group.app.arn
  }

  tags = var.tags
}
