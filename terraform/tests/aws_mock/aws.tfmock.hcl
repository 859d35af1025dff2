# What the mocked AWS provider returns (mock_provider "aws" { source = "./tests/aws_mock" }
# in the *.tftest.hcl files beside this directory; Terraform >= 1.7).
#
# A mock provider invents every computed value, but the real provider's schema and its
# argument validation still run: an ID or ARN argument built from an invented value fails
# ("must begin with 'lt-'", "invalid ARN"), so those get plausible values here. The rest
# are the values the assertions compare against.

# The newest Flatcar stable AMI of the default architecture.
mock_data "aws_ami" {
  defaults = {
    id               = "ami-0f1a7c0ffee000001"
    name             = "Flatcar-stable-4152.2.3-hvm"
    architecture     = "x86_64"
    root_device_name = "/dev/xvda"
  }
}

# t3.micro runs x86_64 only (and i386, which does not matter here).
mock_data "aws_ec2_instance_type" {
  defaults = {
    supported_architectures = ["i386", "x86_64"]
  }
}

# A caller's provider default_tags: the module must copy them onto what the Auto Scaling
# group launches.
mock_data "aws_default_tags" {
  defaults = {
    tags = { CostCenter = "cc-42" }
  }
}

# name: what AWS derives from name_prefix. latest_version: a new template starts at 1;
# 7 (say, the seventh app_version deployed) tells the version apart from a constant 1.
mock_resource "aws_launch_template" {
  defaults = {
    id             = "lt-0123456789abcdef0"
    name           = "micro-service-20260101000000000000000001"
    latest_version = 7
  }
}

mock_resource "aws_lb" {
  defaults = {
    arn      = "arn:aws:elasticloadbalancing:us-east-1:123456789012:loadbalancer/app/micro-service-alb/50dc6c495c0c9188"
    dns_name = "micro-service-alb-1234567890.us-east-1.elb.amazonaws.com"
    zone_id  = "Z35SXDOTRQ7X7K"
    # The alarms' LoadBalancer dimension (alarms.tf).
    arn_suffix = "app/micro-service-alb/50dc6c495c0c9188"
  }
}

mock_resource "aws_lb_target_group" {
  defaults = {
    arn        = "arn:aws:elasticloadbalancing:us-east-1:123456789012:targetgroup/micros20260101/73e2d6bc24d8a067"
    arn_suffix = "targetgroup/micros20260101/73e2d6bc24d8a067"
  }
}

# Two different groups, so that a rule pointing at the wrong one fails its assertion.
override_resource {
  target = aws_security_group.alb
  values = { id = "sg-0a1b000000000a1b0" }
}

override_resource {
  target = aws_security_group.instance
  values = { id = "sg-0c2d000000000c2d0" }
}

# An empty account: no group of this deployment runs yet (autoscaling.tf reads them to
# carry a scaled-out size into a rollout and to refuse an app_port change).
mock_data "aws_autoscaling_groups" {
  defaults = {
    names = []
    arns  = []
  }
}

# Logs and the instance profile (logging.tf, iam.tf): ARNs the launch template and the
# role's policy take, in the forms AWS gives them (a log group's without ":*").
mock_resource "aws_cloudwatch_log_group" {
  defaults = {
    arn = "arn:aws:logs:us-east-1:123456789012:log-group:/micro-service/micro-service"
  }
}

mock_resource "aws_iam_role" {
  defaults = {
    arn  = "arn:aws:iam::123456789012:role/micro-service-20260101000000000000000002"
    id   = "micro-service-20260101000000000000000002"
    name = "micro-service-20260101000000000000000002"
  }
}

mock_resource "aws_iam_instance_profile" {
  defaults = {
    arn = "arn:aws:iam::123456789012:instance-profile/micro-service-20260101000000000000000003"
  }
}

# No load balancer of this deployment yet (load_balancer.tf reads it to refuse a change
# that would replace it).
mock_data "aws_lbs" {
  defaults = {
    arns = []
  }
}
