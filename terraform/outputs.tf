locals {
  # Known only once the group exists and has passed its capacity wait: a new group's ARN
  # is unknown until then. The outputs that say what serves are built on it, because
  # Terraform stores an output whose value was known at plan time even when the apply
  # fails; one known in advance (a version, a name) would then describe the failed
  # group while the old one serves (test/converge, step 3b, showed both cases).
  group_applied = aws_autoscaling_group.app.arn != ""
}

output "app_url" {
  description = "URL of the service: https:// when a certificate is configured, else http://."
  value       = "${local.https_enabled ? "https" : "http"}://${aws_lb.app.dns_name}"
}

output "alb_dns_name" {
  description = "DNS name of the load balancer (point a CNAME or an alias record at it)."
  value       = aws_lb.app.dns_name
}

output "alb_zone_id" {
  description = "Route 53 hosted zone ID of the load balancer, for alias records."
  value       = aws_lb.app.zone_id
}

output "alb_arn" {
  description = "ARN of the load balancer (e.g. for a WAF web ACL association)."
  value       = aws_lb.app.arn
}

output "alb_arn_suffix" {
  description = "ARN suffix of the load balancer (app/<name>/<id>), the LoadBalancer dimension of its CloudWatch metrics."
  value       = aws_lb.app.arn_suffix
}

output "target_group_arn_suffix" {
  description = "ARN suffix of the target group (targetgroup/<name>/<id>), the TargetGroup dimension of its CloudWatch metrics."
  value       = aws_lb_target_group.app.arn_suffix
}

output "http_listener_arn" {
  description = "ARN of the port 80 listener (it redirects to HTTPS when a certificate is configured)."
  value       = aws_lb_listener.http.arn
}

output "https_listener_arn" {
  description = "ARN of the HTTPS listener; null without a certificate."
  value       = one(aws_lb_listener.https[*].arn)
}

output "target_group_arn" {
  description = "ARN of the target group the instances register with."
  value       = aws_lb_target_group.app.arn
}

output "autoscaling_group_name" {
  description = "Name of the current Auto Scaling group; it changes with every rollout (attach alarms and policies in this module, or follow the name)."
  value       = local.group_applied ? aws_autoscaling_group.app.name : null
}

output "autoscaling_group_arn" {
  description = "ARN of the current Auto Scaling group; it changes with every rollout."
  value       = aws_autoscaling_group.app.arn
}

output "launch_template_id" {
  description = "ID of the launch template."
  value       = aws_launch_template.app.id
}

output "launch_template_version" {
  description = "Launch template version the current group launches (read from the group, so that it describes what serves)."
  value       = local.group_applied ? one(aws_autoscaling_group.app.launch_template[*].version) : null
}

output "ami_id" {
  description = "Flatcar AMI the instances run."
  value       = data.aws_ami.flatcar.id
}

output "app_version" {
  description = "The version the current group runs, for tests that compare it with the Server header. Read from the group's AppVersion tag, so that after a failed rollout it still names the version that serves."
  value       = local.group_applied ? one([for t in aws_autoscaling_group.app.tag : t.value if t.key == "AppVersion"]) : null
}

output "alb_security_group_id" {
  description = "Security group of the load balancer."
  value       = aws_security_group.alb.id
}

output "instance_security_group_id" {
  description = "Security group of the instances."
  value       = aws_security_group.instance.id
}

output "log_group_name" {
  description = "CloudWatch Logs group of the container's output (one stream per instance, named by its ID); null with cloudwatch_logs = false."
  value       = one(aws_cloudwatch_log_group.app[*].name)
}

output "log_group_arn" {
  description = "ARN of that log group, for the policy of a caller-given instance profile; null with cloudwatch_logs = false."
  value       = one(aws_cloudwatch_log_group.app[*].arn)
}

output "instance_profile_arn" {
  description = "The instances' profile: the module's (created when CloudWatch Logs is on and none is given), the caller's, or null."
  value       = local.instance_profile_set ? local.instance_profile_arn : null
}

output "alarm_arns" {
  description = "The CloudWatch alarms by name (target_5xx_rate, unhealthy_hosts, healthy_hosts, p99_response_time); empty without alarm_actions."
  value = { for name, alarms in {
    target_5xx_rate   = aws_cloudwatch_metric_alarm.target_5xx_rate
    unhealthy_hosts   = aws_cloudwatch_metric_alarm.unhealthy_hosts
    healthy_hosts     = aws_cloudwatch_metric_alarm.healthy_hosts
    p99_response_time = aws_cloudwatch_metric_alarm.p99_response_time
  } : name => alarms[0].arn if length(alarms) > 0 }
}
