# The fleet, and the rollout.
#
# Only a change of an Auto Scaling group's name replaces it; a new launch template
# version alone would update the group in place and leave the old instances running.
# So the name carries the launch template's version: a new app_version (or AMI) makes a
# new version, hence a new group. With create_before_destroy, Terraform creates the new
# group first and waits (wait_for_elb_capacity) until all of its instances pass the
# ALB's health checks; only then does it destroy the old group, whose instances are
# deregistered, drained for deregistration_delay, and stopped with SIGTERM. If the new
# fleet never becomes healthy, apply fails after wait_for_capacity_timeout and the old
# fleet keeps serving. README.md times the whole sequence.
resource "aws_autoscaling_group" "app" {
  name                = "${aws_launch_template.app.name}-v${aws_launch_template.app.latest_version}"
  vpc_zone_identifier = var.instance_subnet_ids
  min_size            = var.min_size
  max_size            = var.max_size
  desired_capacity    = var.desired_capacity

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
  wait_for_elb_capacity     = var.desired_capacity
  wait_for_capacity_timeout = var.wait_for_capacity_timeout

  # Instance tags come from the launch template (with provider default_tags, which do
  # not reach this resource); these tag the group itself.
  dynamic "tag" {
    for_each = local.launch_tags
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
  }
}
