# Operating the fleet (logging.tf, iam.tf, alarms.tf), against the mocked AWS provider:
# the container's output goes to a log group of the module's, which the instances may
# write to and nothing else; or stays on the instance when cloudwatch_logs = false; the
# alarms exist only with alarm_actions, on the load balancer's and target group's
# dimensions (which a roll does not change); every threshold is validated.
# `cd terraform && terraform init && terraform test -filter=tests/operations.tftest.hcl`

mock_provider "aws" {
  source = "./tests/aws_mock"
}

variables {
  image                = "docker.io/example/micro-service"
  app_version          = "v1"
  vpc_id               = "vpc-0123456789abcdef0"
  lb_subnet_ids        = ["subnet-0a00000000000000a", "subnet-0b00000000000000b"]
  instance_subnet_ids  = ["subnet-0c00000000000000c", "subnet-0d00000000000000d"]
  allowed_client_cidrs = ["203.0.113.0/24"]
}

run "logs_go_to_cloudwatch_by_default" {
  assert {
    condition = (
      aws_cloudwatch_log_group.app[0].name == "/micro-service/micro-service"
      && aws_cloudwatch_log_group.app[0].retention_in_days == 30
      && aws_cloudwatch_log_group.app[0].kms_key_id == null
    )
    error_message = "One log group, /micro-service/<name_prefix>, kept 30 days, without a KMS key unless given."
  }

  # The unit's docker run, its continuation lines joined.
  assert {
    condition = alltrue([for opt in [
      "--log-driver awslogs",
      "--log-opt awslogs-group=/micro-service/micro-service",
      "--log-opt awslogs-region=$${COREOS_EC2_REGION}",
      "--log-opt awslogs-stream=$${COREOS_EC2_INSTANCE_ID}",
      "--log-opt mode=non-blocking",
      "--log-opt max-buffer-size=4m",
      "--env ACCESS_LOG=json",
      ] : strcontains(
      " ${replace(regex("\nExecStart=([^\n]*)", replace(one([for u in yamldecode(base64decode(aws_launch_template.app.user_data)).coreos.units : u.content if u.name == "micro-service.service"]), "\\\n", " "))[0], "/ +/", " ")} ",
      " ${opt} "
    )])
    error_message = "docker run must send its output to the module's log group, one stream per instance, without blocking: ${replace(regex("\nExecStart=([^\n]*)", replace(one([for u in yamldecode(base64decode(aws_launch_template.app.user_data)).coreos.units : u.content if u.name == "micro-service.service"]), "\\\n", " "))[0], "/ +/", " ")}"
  }

  # systemd fills in the instance ID and region from coreos-metadata's file.
  assert {
    condition = alltrue([for line in ["EnvironmentFile=-/run/metadata/flatcar", "Wants=coreos-metadata.service"] : strcontains(
      one([for u in yamldecode(base64decode(aws_launch_template.app.user_data)).coreos.units : u.content if u.name == "micro-service.service"]),
      line
    )])
    error_message = "The unit must load coreos-metadata's environment file for the stream's instance ID."
  }

  # Exactly the awslogs driver's two calls, on this group and its streams.
  assert {
    condition = (
      length(jsondecode(aws_iam_role_policy.logs[0].policy).Statement) == 1
      && jsondecode(aws_iam_role_policy.logs[0].policy).Statement[0].Effect == "Allow"
      && toset(jsondecode(aws_iam_role_policy.logs[0].policy).Statement[0].Action) == toset(["logs:CreateLogStream", "logs:PutLogEvents"])
      && toset(jsondecode(aws_iam_role_policy.logs[0].policy).Statement[0].Resource) == toset([
        "arn:aws:logs:us-east-1:123456789012:log-group:/micro-service/micro-service",
        "arn:aws:logs:us-east-1:123456789012:log-group:/micro-service/micro-service:log-stream:*",
      ])
      && aws_iam_role_policy.logs[0].role == aws_iam_role.app[0].id
    )
    error_message = "The instance role may create streams and put events in the module's log group, and nothing else."
  }

  assert {
    condition = (
      jsondecode(aws_iam_role.app[0].assume_role_policy).Statement[0].Principal.Service == "ec2.amazonaws.com"
      && aws_iam_instance_profile.app[0].role == aws_iam_role.app[0].name
      && aws_launch_template.app.iam_instance_profile[0].arn == "arn:aws:iam::123456789012:instance-profile/micro-service-20260101000000000000000003"
    )
    error_message = "The instances must run with the module's profile, whose role EC2 assumes."
  }

  assert {
    condition = (
      length(aws_cloudwatch_metric_alarm.target_5xx_rate) + length(aws_cloudwatch_metric_alarm.unhealthy_hosts)
      + length(aws_cloudwatch_metric_alarm.healthy_hosts) + length(aws_cloudwatch_metric_alarm.p99_response_time)
    ) == 0
    error_message = "Without alarm_actions no alarm is created."
  }
}

run "journal_only" {
  variables {
    cloudwatch_logs = false
    access_log      = "on"
  }

  assert {
    condition = (
      length(aws_cloudwatch_log_group.app) + length(aws_iam_role.app) + length(aws_iam_role_policy.logs)
      + length(aws_iam_instance_profile.app) + length(aws_launch_template.app.iam_instance_profile)
    ) == 0
    error_message = "cloudwatch_logs = false creates no log group, role or profile, and launches without a profile."
  }

  assert {
    condition = alltrue([for opt in ["--log-driver json-file", "--log-opt max-size=10m", "--log-opt max-file=3", "--env ACCESS_LOG=on"] : strcontains(
      " ${replace(regex("\nExecStart=([^\n]*)", replace(one([for u in yamldecode(base64decode(aws_launch_template.app.user_data)).coreos.units : u.content if u.name == "micro-service.service"]), "\\\n", " "))[0], "/ +/", " ")} ",
      " ${opt} "
    )])
    error_message = "Journal only: json-file with rotation, as before CloudWatch Logs; access_log reaches ACCESS_LOG."
  }

  assert {
    condition     = !strcontains(base64decode(aws_launch_template.app.user_data), "awslogs")
    error_message = "Journal only: no awslogs option may remain."
  }
}

run "a_given_profile_is_used_and_none_created" {
  variables {
    iam_instance_profile_arn = "arn:aws:iam::123456789012:instance-profile/ops"
    log_retention_days       = 365
    log_kms_key_id           = "arn:aws:kms:us-east-1:123456789012:key/1234abcd-12ab-34cd-56ef-1234567890ab"
  }

  assert {
    condition = (
      length(aws_iam_role.app) + length(aws_iam_instance_profile.app) + length(aws_iam_role_policy.logs) == 0
      && aws_launch_template.app.iam_instance_profile[0].arn == "arn:aws:iam::123456789012:instance-profile/ops"
    )
    error_message = "A caller's profile replaces the module's role and profile (README.md shows the policy it needs)."
  }

  assert {
    condition = (
      aws_cloudwatch_log_group.app[0].retention_in_days == 365
      && aws_cloudwatch_log_group.app[0].kms_key_id == "arn:aws:kms:us-east-1:123456789012:key/1234abcd-12ab-34cd-56ef-1234567890ab"
    )
    error_message = "log_retention_days and log_kms_key_id must reach the log group."
  }
}

run "alarms_with_alarm_actions" {
  variables {
    alarm_actions                   = ["arn:aws:sns:us-east-1:123456789012:ops-pager"]
    min_size                        = 3
    desired_capacity                = 3
    alarm_5xx_rate_percent          = 2.5
    alarm_unhealthy_minutes         = 7
    alarm_p99_response_time_seconds = 0.5
  }

  # The dimensions a roll leaves alone: the ALB's and the target group's (mocked ARNs).
  assert {
    condition = alltrue([for a in [aws_cloudwatch_metric_alarm.unhealthy_hosts[0], aws_cloudwatch_metric_alarm.healthy_hosts[0], aws_cloudwatch_metric_alarm.p99_response_time[0]] :
      a.dimensions == tomap({ LoadBalancer = "app/micro-service-alb/50dc6c495c0c9188", TargetGroup = "targetgroup/micros20260101/73e2d6bc24d8a067" })
      && a.namespace == "AWS/ApplicationELB"
      && a.alarm_actions == toset(["arn:aws:sns:us-east-1:123456789012:ops-pager"])
    ])
    error_message = "Each alarm must watch the ALB and target group (not the Auto Scaling group) and notify alarm_actions."
  }

  assert {
    condition = (
      aws_cloudwatch_metric_alarm.unhealthy_hosts[0].metric_name == "UnHealthyHostCount"
      && aws_cloudwatch_metric_alarm.unhealthy_hosts[0].evaluation_periods == 7
      && aws_cloudwatch_metric_alarm.unhealthy_hosts[0].comparison_operator == "GreaterThanThreshold"
      && aws_cloudwatch_metric_alarm.unhealthy_hosts[0].threshold == 0
      && aws_cloudwatch_metric_alarm.healthy_hosts[0].metric_name == "HealthyHostCount"
      && aws_cloudwatch_metric_alarm.healthy_hosts[0].comparison_operator == "LessThanThreshold"
      && aws_cloudwatch_metric_alarm.healthy_hosts[0].threshold == 3
      && aws_cloudwatch_metric_alarm.healthy_hosts[0].treat_missing_data == "breaching"
      && aws_cloudwatch_metric_alarm.p99_response_time[0].metric_name == "TargetResponseTime"
      && aws_cloudwatch_metric_alarm.p99_response_time[0].extended_statistic == "p99"
      && aws_cloudwatch_metric_alarm.p99_response_time[0].threshold == 0.5
    )
    error_message = "Unhealthy hosts for alarm_unhealthy_minutes, healthy hosts below min_size, p99 response time over its threshold."
  }

  assert {
    condition = (
      aws_cloudwatch_metric_alarm.target_5xx_rate[0].threshold == 2.5
      && aws_cloudwatch_metric_alarm.target_5xx_rate[0].alarm_actions == toset(["arn:aws:sns:us-east-1:123456789012:ops-pager"])
      && one([for q in aws_cloudwatch_metric_alarm.target_5xx_rate[0].metric_query : q.expression if q.return_data == true]) == "100 * errors / requests"
      && toset([for q in aws_cloudwatch_metric_alarm.target_5xx_rate[0].metric_query : q.metric[0].metric_name if length(q.metric) > 0]) == toset(["HTTPCode_Target_5XX_Count", "RequestCount"])
      && alltrue([for q in aws_cloudwatch_metric_alarm.target_5xx_rate[0].metric_query : q.metric[0].dimensions == tomap({ LoadBalancer = "app/micro-service-alb/50dc6c495c0c9188", TargetGroup = "targetgroup/micros20260101/73e2d6bc24d8a067" }) if length(q.metric) > 0])
    )
    error_message = "The 5xx alarm must compare the instances' 5xx responses, in percent of the ALB's requests to the target group, with alarm_5xx_rate_percent."
  }
}

run "operating_inputs_are_validated" {
  command = plan

  variables {
    access_log                      = "yes"
    log_retention_days              = 31
    log_kms_key_id                  = "alias/logs"
    alarm_actions                   = ["arn:aws:sqs:us-east-1:123456789012:queue"]
    alarm_5xx_rate_percent          = 0
    alarm_unhealthy_minutes         = 1
    alarm_p99_response_time_seconds = 120
  }

  expect_failures = [
    var.access_log,
    var.log_retention_days,
    var.log_kms_key_id,
    var.alarm_actions,
    var.alarm_5xx_rate_percent,
    var.alarm_unhealthy_minutes,
    var.alarm_p99_response_time_seconds,
  ]
}
