# The fleet, and the rollout.
#
# A rollout is a new Auto Scaling group. The group is replaced whenever what makes an
# instance changes: local.instance (launch_template.tf) is held by terraform_data.instance,
# and the group's replace_triggered_by names it. Its name is AWS-unique (name_prefix),
# so a replacement never asks for the name of a group that still exists: after a failed
# rollout Terraform still holds the serving group (deposed) and the failed one
# (tainted), and the next apply, whatever version it asks for (the one that serves, the
# same one again, a new one), creates one more group and then removes both
# (test/converge, steps 3d and 3e). Tags are not part of local.instance: a tag change
# makes a new template version that the group takes in place, and no instance is
# replaced (instances launched later carry the new tags; running ones keep theirs until
# the next rollout).
#
# With create_before_destroy, Terraform creates the new group first and waits until
# min_elb_capacity of its instances pass the ALB's health checks; only then does it
# destroy the old group, whose instances are deregistered, drained for
# deregistration_delay, and stopped with SIGTERM. If the new fleet never becomes healthy,
# apply fails after wait_for_capacity_timeout and the old fleet keeps serving. README.md
# times the whole sequence; test/converge applies it against a local AWS API.
#
# Between rollouts the group's size belongs to scaling (the target tracking policies
# below): desired_capacity is ignored after creation, so neither a plan nor a saved plan
# applied later resizes a group that scaling grew, and in-place updates wait for no
# instance count. min_size is the floor an apply enforces.

locals {
  # Tags that find this deployment's groups (the name of a replaced group is not known
  # to the next plan) and record what their instances were started with.
  fleet_tag        = "ServiceFleet"
  app_port_tag     = "AppPort"
  idle_timeout_tag = "ServiceIdleTimeout"

  # A rollout starts the new group at what the running one has grown to (scaling
  # policies act on the group, and a new group would start from scratch), but never
  # below desired_capacity.
  running_capacity = max(0, [for g in data.aws_autoscaling_group.running : g.desired_capacity]...)
  start_capacity   = min(var.max_size, max(var.desired_capacity, local.running_capacity))

  # The IDLE_TIMEOUT the running instances were started with (groups older than this
  # tag say nothing). The ALB's idle timeout must stay below every one of them.
  running_idle_timeouts = flatten([
    for g in data.aws_autoscaling_group.running : [for t in g.tag : tonumber(t.value) if t.key == local.idle_timeout_tag]
  ])

  # Group metrics in CloudWatch (free at 1-minute granularity): sizes and instance states.
  group_metrics = [
    "GroupMinSize", "GroupMaxSize", "GroupDesiredCapacity", "GroupInServiceInstances",
    "GroupPendingInstances", "GroupStandbyInstances", "GroupTerminatingInstances", "GroupTotalInstances",
  ]
}

# What makes an instance (launch_template.tf), as a resource: it changes exactly when
# local.instance does, and its change replaces the group (replace_triggered_by).
resource "terraform_data" "instance" {
  input = local.instance
}

# This deployment's groups as they are now: normally one, two during a rollout (or after
# a failed one). Read at plan time, before any of them changes.
data "aws_autoscaling_groups" "running" {
  filter {
    name   = "tag:${local.fleet_tag}"
    values = [var.name_prefix]
  }
}

data "aws_autoscaling_groups" "running_on_app_port" {
  filter {
    name   = "tag:${local.fleet_tag}"
    values = [var.name_prefix]
  }

  filter {
    name   = "tag:${local.app_port_tag}"
    values = [tostring(var.app_port)]
  }
}

data "aws_autoscaling_group" "running" {
  for_each = toset(data.aws_autoscaling_groups.running.names)
  name     = each.value
}

resource "aws_autoscaling_group" "app" {
  name_prefix         = "${var.name_prefix}-"
  vpc_zone_identifier = var.instance_subnet_ids
  min_size            = var.min_size
  max_size            = var.max_size
  desired_capacity    = local.start_capacity

  launch_template {
    id      = aws_launch_template.app.id
    version = aws_launch_template.app.latest_version
  }

  target_group_arns         = [aws_lb_target_group.app.arn]
  health_check_type         = "ELB"
  health_check_grace_period = var.health_check_grace_period

  # On creation (every rollout creates a group) Terraform waits until at least this
  # many of the group's instances are healthy in the target group. Not
  # wait_for_elb_capacity: it also waits on every in-place update, for exactly its
  # number, so a scale event during that wait would fail the apply.
  min_elb_capacity          = local.start_capacity
  wait_for_capacity_timeout = var.wait_for_capacity_timeout

  enabled_metrics     = local.group_metrics
  metrics_granularity = "1Minute"

  # When AWS replaces an instance (a failed health check, a scheduled event, a
  # rebalancing), it launches the new one first: capacity never drops below desired.
  instance_maintenance_policy {
    min_healthy_percentage = 100
    max_healthy_percentage = 200
  }

  # Instance tags come from the launch template (with provider default_tags, which do
  # not reach this resource); these tag the group itself.
  dynamic "tag" {
    for_each = merge(local.launch_tags, {
      (local.fleet_tag)        = var.name_prefix
      (local.app_port_tag)     = tostring(var.app_port)
      (local.idle_timeout_tag) = tostring(var.service_idle_timeout)
    })
    content {
      key                 = tag.key
      value               = tag.value
      propagate_at_launch = false
    }
  }

  timeouts {
    delete = "15m"
  }

  lifecycle {
    create_before_destroy = true
    replace_triggered_by  = [terraform_data.instance]

    # Scaling owns the size once the group exists; a new group's values are used at
    # creation.
    ignore_changes = [desired_capacity, min_elb_capacity]

    precondition {
      condition     = var.min_size <= var.desired_capacity && var.desired_capacity <= var.max_size
      error_message = "desired_capacity (${var.desired_capacity}) must be between min_size (${var.min_size}) and max_size (${var.max_size})."
    }

    # A new port cannot roll safely with one target group and one listener: Terraform
    # would replace the target group, point the listener at it and switch the security
    # group rules before the new fleet exists, so clients would get 503s until it is
    # healthy (test/converge shows it). Refused here, at plan time.
    precondition {
      condition     = length(data.aws_autoscaling_groups.running.names) == 0 || length(data.aws_autoscaling_groups.running_on_app_port.names) > 0
      error_message = "app_port cannot change while the fleet runs: the switch would send clients to an empty target group and cut the old instances off (503s until the new fleet is healthy). To move to port ${var.app_port}: deploy a second instance of this module with another name_prefix and the new port, move clients to it (DNS), then destroy this one; or destroy and re-create in a maintenance window."
    }
  }
}

# Scaling lives with the group: each rollout creates the policies again on the new group
# (after it is complete) and removes the old group's with it.
resource "aws_autoscaling_policy" "requests_per_target" {
  name                      = "${var.name_prefix}-requests-per-target"
  autoscaling_group_name    = aws_autoscaling_group.app.name
  policy_type               = "TargetTrackingScaling"
  estimated_instance_warmup = var.health_check_grace_period

  target_tracking_configuration {
    predefined_metric_specification {
      predefined_metric_type = "ALBRequestCountPerTarget"
      resource_label         = "${aws_lb.app.arn_suffix}/${aws_lb_target_group.app.arn_suffix}"
    }
    target_value = var.scaling_requests_per_target
  }

  # AWS accepts the resource label only once the target group is attached to the ALB.
  depends_on = [aws_lb_listener.http, aws_lb_listener.https]

  # Without it Terraform deletes the old group's policy first, and a failed rollout
  # leaves the serving group without scaling (the converge saw DeletePolicy before the
  # new group). Policy names are per group, so old and new coexist.
  lifecycle {
    create_before_destroy = true
  }
}

resource "aws_autoscaling_policy" "cpu" {
  count = var.scaling_cpu_utilization == null ? 0 : 1

  name                      = "${var.name_prefix}-cpu"
  autoscaling_group_name    = aws_autoscaling_group.app.name
  policy_type               = "TargetTrackingScaling"
  estimated_instance_warmup = var.health_check_grace_period

  target_tracking_configuration {
    predefined_metric_specification {
      predefined_metric_type = "ASGAverageCPUUtilization"
    }
    target_value = var.scaling_cpu_utilization
  }

  lifecycle {
    create_before_destroy = true
  }
}
