# The fleet, and the rollout.
#
# Only a change of an Auto Scaling group's name replaces it; a new launch template
# version alone would update the group in place and leave the old instances running.
# So the name carries local.fleet_identity, a digest of everything that makes an
# instance what it is: a new app_version (or AMI, instance type, ...) makes a new name,
# hence a new group. Tags are not part of it: a tag change makes a new template version
# that the group takes in place, and no instance is replaced (instances launched later
# carry the new tags; running ones keep theirs until the next rollout).
#
# With create_before_destroy, Terraform creates the new group first and waits
# (wait_for_elb_capacity) until all of its instances pass the ALB's health checks; only
# then does it destroy the old group, whose instances are deregistered, drained for
# deregistration_delay, and stopped with SIGTERM. If the new fleet never becomes healthy,
# apply fails after wait_for_capacity_timeout and the old fleet keeps serving. README.md
# times the whole sequence; test/converge applies it against a local AWS API.

locals {
  fleet_identity = substr(sha1(jsonencode({
    image_id                    = data.aws_ami.flatcar.id
    instance_type               = local.instance_type
    user_data                   = local.user_data
    iam_instance_profile_arn    = var.iam_instance_profile_arn
    root_volume_kms_key_id      = var.root_volume_kms_key_id
    associate_public_ip_address = var.associate_public_ip_address
    security_group_ids          = concat([aws_security_group.instance.id], var.extra_security_group_ids)
  })), 0, 12)

  # Tags that find this deployment's groups (the name of a replaced group is not known
  # to the next plan) and record the port their instances publish.
  fleet_tag    = "ServiceFleet"
  app_port_tag = "AppPort"

  # A rollout starts the new group at what the running one has grown to (scaling
  # policies act on the group, and a new group would start from scratch), but never
  # below desired_capacity. Each apply also restores desired_capacity as the floor.
  running_capacity = max(0, [for g in data.aws_autoscaling_group.running : g.desired_capacity]...)
  start_capacity   = min(var.max_size, max(var.desired_capacity, local.running_capacity))
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
  name                = "${aws_launch_template.app.name}-${local.fleet_identity}"
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

  # On creation (every rollout creates a group) Terraform waits until this many of the
  # group's instances are healthy in the target group; on an in-place update, for
  # exactly this many. min_elb_capacity would also cover creation, but is ignored when
  # this is set.
  wait_for_elb_capacity     = local.start_capacity
  wait_for_capacity_timeout = var.wait_for_capacity_timeout

  # Instance tags come from the launch template (with provider default_tags, which do
  # not reach this resource); these tag the group itself.
  dynamic "tag" {
    for_each = merge(local.launch_tags, {
      (local.fleet_tag)    = var.name_prefix
      (local.app_port_tag) = tostring(var.app_port)
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
