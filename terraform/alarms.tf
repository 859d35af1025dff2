# Alarms on the load balancer and its target group: both outlive a roll (the Auto
# Scaling group's name changes with every app_version; an alarm on it would watch a
# group that no longer exists). Created only when alarm_actions names where to send
# them. README.md says what each one means and what to do when it fires.

locals {
  alarms_enabled = length(var.alarm_actions) > 0
  alarm_dimensions = {
    LoadBalancer = aws_lb.app.arn_suffix
    TargetGroup  = aws_lb_target_group.app.arn_suffix
  }
}

# Responses of the instances that were 5xx, in percent of all requests, per minute. The
# ALB publishes no zero counts, so a minute without requests or without errors is
# missing data: not breaching.
resource "aws_cloudwatch_metric_alarm" "target_5xx_rate" {
  count = local.alarms_enabled ? 1 : 0

  alarm_name          = "${var.name_prefix}-target-5xx-rate"
  alarm_description   = "More than ${var.alarm_5xx_rate_percent}% of the requests the instances answered were 5xx, in 3 of the last 5 minutes."
  comparison_operator = "GreaterThanThreshold"
  threshold           = var.alarm_5xx_rate_percent
  evaluation_periods  = 5
  datapoints_to_alarm = 3
  treat_missing_data  = "notBreaching"
  alarm_actions       = var.alarm_actions
  ok_actions          = var.alarm_actions

  metric_query {
    id          = "rate"
    expression  = "100 * errors / requests"
    label       = "target 5xx, % of requests"
    return_data = true
  }

  metric_query {
    id = "errors"
    metric {
      namespace   = "AWS/ApplicationELB"
      metric_name = "HTTPCode_Target_5XX_Count"
      dimensions  = local.alarm_dimensions
      period      = 60
      stat        = "Sum"
    }
  }

  metric_query {
    id = "requests"
    metric {
      namespace   = "AWS/ApplicationELB"
      metric_name = "RequestCount"
      dimensions  = local.alarm_dimensions
      period      = 60
      stat        = "Sum"
    }
  }

  tags = var.tags
}

# Any target failing its health check, every minute for alarm_unhealthy_minutes: longer
# than a roll's new instances take to pass, so a healthy roll does not fire it.
resource "aws_cloudwatch_metric_alarm" "unhealthy_hosts" {
  count = local.alarms_enabled ? 1 : 0

  alarm_name          = "${var.name_prefix}-unhealthy-hosts"
  alarm_description   = "At least one instance failed the ALB health check in each of the last ${var.alarm_unhealthy_minutes} minutes."
  namespace           = "AWS/ApplicationELB"
  metric_name         = "UnHealthyHostCount"
  dimensions          = local.alarm_dimensions
  statistic           = "Minimum"
  period              = 60
  evaluation_periods  = var.alarm_unhealthy_minutes
  comparison_operator = "GreaterThanThreshold"
  threshold           = 0
  treat_missing_data  = "notBreaching"
  alarm_actions       = var.alarm_actions
  ok_actions          = var.alarm_actions

  tags = var.tags
}

# Fewer healthy instances than min_size for 3 minutes: capacity the fleet promises is
# missing. No data at all means no healthy target: breaching.
resource "aws_cloudwatch_metric_alarm" "healthy_hosts" {
  count = local.alarms_enabled ? 1 : 0

  alarm_name          = "${var.name_prefix}-healthy-hosts-below-min"
  alarm_description   = "Fewer than min_size (${var.min_size}) instances passed the ALB health check, for 3 minutes."
  namespace           = "AWS/ApplicationELB"
  metric_name         = "HealthyHostCount"
  dimensions          = local.alarm_dimensions
  statistic           = "Minimum"
  period              = 60
  evaluation_periods  = 3
  comparison_operator = "LessThanThreshold"
  threshold           = var.min_size
  treat_missing_data  = "breaching"
  alarm_actions       = var.alarm_actions
  ok_actions          = var.alarm_actions

  tags = var.tags
}

# The 99th percentile of the time from the ALB sending a request to the instance's first
# response byte, in seconds, per minute.
resource "aws_cloudwatch_metric_alarm" "p99_response_time" {
  count = local.alarms_enabled ? 1 : 0

  alarm_name          = "${var.name_prefix}-p99-target-response-time"
  alarm_description   = "The instances' p99 response time was above ${var.alarm_p99_response_time_seconds} s in 3 of the last 5 minutes."
  namespace           = "AWS/ApplicationELB"
  metric_name         = "TargetResponseTime"
  dimensions          = local.alarm_dimensions
  extended_statistic  = "p99"
  period              = 60
  evaluation_periods  = 5
  datapoints_to_alarm = 3
  comparison_operator = "GreaterThanThreshold"
  threshold           = var.alarm_p99_response_time_seconds
  treat_missing_data  = "notBreaching"
  alarm_actions       = var.alarm_actions
  ok_actions          = var.alarm_actions

  tags = var.tags
}
