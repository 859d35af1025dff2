# The rollout, planned by the real AWS provider without reaching AWS.
#
# The other test files mock the provider, and a mock cannot say when AWS would make a new
# launch template version: that is the provider's own plan logic. Here the real provider
# plans, offline: the first run builds a deployed state from overrides (no provider call
# for an overridden resource or data source), then each plan run changes one input and
# the provider plans against that state, with refresh off (a refresh would call AWS).
#
# What a plan replaces is not visible to assertions: test/infra/check_terraform_test.py
# reads the plans from `terraform test -json -verbose` and checks, per run, which
# resources are updated and which replaced (create before destroy). Here the assertions
# check what is known at plan time: a version or name that stays known has not changed.
#
# No credentials: the keys below are placeholders, the provider is told not to check
# them, and nothing here makes an API call (any call would fail: the first run overrides
# every resource; a new resource in the module needs an override there too).

provider "aws" {
  region                      = "us-east-1"
  access_key                  = "placeholder-not-a-key"
  secret_key                  = "placeholder-not-a-secret"
  skip_credentials_validation = true
  skip_requesting_account_id  = true
  skip_metadata_api_check     = true
  skip_region_validation      = true

  # data.aws_default_tags reads these from the provider configuration, offline.
  default_tags {
    tags = { CostCenter = "cc-42" }
  }
}

variables {
  image                = "docker.io/example/micro-service"
  app_version          = "v1"
  vpc_id               = "vpc-0123456789abcdef0"
  lb_subnet_ids        = ["subnet-0a00000000000000a", "subnet-0b00000000000000b"]
  instance_subnet_ids  = ["subnet-0c00000000000000c", "subnet-0d00000000000000d"]
  allowed_client_cidrs = ["203.0.113.0/24"]
}

# Data sources that would ask AWS.
override_data {
  target = data.aws_ami.flatcar
  values = {
    id               = "ami-0f1a7c0ffee000001"
    name             = "Flatcar-stable-4152.2.3-hvm"
    architecture     = "x86_64"
    root_device_name = "/dev/xvda"
  }
}

override_data {
  target = data.aws_ec2_instance_type.selected
  values = { supported_architectures = ["i386", "x86_64"] }
}

# The groups of this deployment that run (autoscaling.tf): from the second run on, the
# one deploy_v1 created, at its desired_capacity, publishing the default app_port.
override_data {
  target = data.aws_autoscaling_groups.running
  values = { names = ["micro-service-20260101000000000000000001-0123456789ab"] }
}

override_data {
  target = data.aws_autoscaling_groups.running_on_app_port
  values = { names = ["micro-service-20260101000000000000000001-0123456789ab"] }
}

override_data {
  target = data.aws_autoscaling_group.running
  values = { desired_capacity = 2 }
}

# This deployment's load balancer, as load_balancer.tf looks it up: none is found, so
# the check that refuses a replacement of it has nothing to compare (validations.tftest.hcl
# tests it).
override_data {
  target = data.aws_lbs.running
  values = { arns = [] }
}

# Version 1 deployed: every resource from overrides, as AWS would have created it.
run "deploy_v1" {
  # Into an empty account.
  override_data {
    target = data.aws_autoscaling_groups.running
    values = { names = [] }
  }

  override_data {
    target = data.aws_autoscaling_groups.running_on_app_port
    values = { names = [] }
  }

  override_resource {
    target = aws_autoscaling_policy.requests_per_target
  }

  override_resource {
    target = aws_launch_template.app
    values = {
      id             = "lt-0123456789abcdef0"
      name           = "micro-service-20260101000000000000000001"
      latest_version = 1
    }
  }

  # AWS names the group from name_prefix.
  override_resource {
    target = aws_autoscaling_group.app
    values = {
      name = "micro-service-20260101000000000000000002"
      arn  = "arn:aws:autoscaling:us-east-1:123456789012:autoScalingGroup:0c0ffee0-0000-4000-8000-000000000001:autoScalingGroupName/micro-service-20260101000000000000000002"
    }
  }

  override_resource {
    target = aws_lb.app
    values = {
      arn      = "arn:aws:elasticloadbalancing:us-east-1:123456789012:loadbalancer/app/micro-service-alb/50dc6c495c0c9188"
      dns_name = "micro-service-alb-1234567890.us-east-1.elb.amazonaws.com"
    }
  }

  override_resource {
    target = aws_lb_target_group.app
    values = { arn = "arn:aws:elasticloadbalancing:us-east-1:123456789012:targetgroup/micros20260101/73e2d6bc24d8a067" }
  }

  override_resource {
    target = aws_lb_listener.http
  }

  override_resource {
    target = aws_security_group.alb
    values = { id = "sg-0a1b000000000a1b0" }
  }

  override_resource {
    target = aws_security_group.instance
    values = { id = "sg-0c2d000000000c2d0" }
  }

  override_resource {
    target = aws_vpc_security_group_ingress_rule.alb_from_clients
  }

  override_resource {
    target = aws_vpc_security_group_egress_rule.alb_to_instances
  }

  override_resource {
    target = aws_vpc_security_group_ingress_rule.instance_from_alb
  }

  override_resource {
    target = aws_vpc_security_group_egress_rule.instance_to_registry
  }

  override_resource {
    target = aws_cloudwatch_log_group.app
    values = { arn = "arn:aws:logs:us-east-1:123456789012:log-group:/micro-service/micro-service" }
  }

  override_resource {
    target = aws_iam_role.app
    values = {
      id   = "micro-service-20260101000000000000000002"
      name = "micro-service-20260101000000000000000002"
      arn  = "arn:aws:iam::123456789012:role/micro-service-20260101000000000000000002"
    }
  }

  override_resource {
    target = aws_iam_role_policy.logs
    values = { id = "micro-service-20260101000000000000000002:write-container-logs" }
  }

  override_resource {
    target = aws_iam_instance_profile.app
    values = {
      id   = "micro-service-20260101000000000000000003"
      name = "micro-service-20260101000000000000000003"
      arn  = "arn:aws:iam::123456789012:instance-profile/micro-service-20260101000000000000000003"
    }
  }

  assert {
    condition     = aws_autoscaling_group.app.name_prefix == "micro-service-" && output.autoscaling_group_name == "micro-service-20260101000000000000000002"
    error_message = "The group's name must come from AWS (name_prefix), so that a replacement never asks for a name that exists."
  }
}

# The same inputs again: the provider must plan no new template version, so the group
# keeps its name (both stay known in the plan) and no instance is replaced.
run "reapply_v1" {
  command = plan

  plan_options {
    refresh = false
  }

  assert {
    condition = (
      tostring(aws_launch_template.app.latest_version) == run.deploy_v1.launch_template_version
      && aws_autoscaling_group.app.name == run.deploy_v1.autoscaling_group_name
    )
    error_message = "Applying the same app_version again must not make a new template version or a new group."
  }
}

# Issue 16: scaling owns the size between rollouts. A new desired_capacity changes
# nothing of the running group (it applies to the next new group; min_size is the
# floor), and check_terraform_test.py checks that nothing is replaced.
run "scale_out" {
  command = plan

  plan_options {
    refresh = false
  }

  variables {
    desired_capacity = 4
    max_size         = 8
  }

  assert {
    condition = (
      tostring(aws_launch_template.app.latest_version) == run.deploy_v1.launch_template_version
      && aws_autoscaling_group.app.name == run.deploy_v1.autoscaling_group_name
      && aws_autoscaling_group.app.desired_capacity == 2
      && aws_autoscaling_group.app.min_elb_capacity == 2
      && aws_autoscaling_group.app.max_size == 8
    )
    error_message = "desired_capacity must not resize the running group, nor set an exact-count wait; max_size changes in place."
  }
}

# Issue 16: a policy grew the group to 5 since the last apply: with nothing changed the
# plan is empty (check_terraform_test.py: "nothing"), so neither it nor a saved plan
# applied later shrinks the group or waits for a count.
run "scaled_out_by_a_policy" {
  command = plan

  plan_options {
    refresh = false
  }

  override_data {
    target = data.aws_autoscaling_group.running
    values = { desired_capacity = 5 }
  }

  assert {
    condition     = aws_autoscaling_group.app.wait_for_elb_capacity == null
    error_message = "An in-place update must not wait for an exact number of instances."
  }
}

# A new app_version: new user data, so (check_terraform_test.py) the template is updated
# and the group replaced, the new one created before the old one is destroyed. The new
# version number is AWS's to give, unknown in the plan, so it is not asserted here.
run "deploy_v2" {
  command = plan

  plan_options {
    refresh = false
  }

  variables {
    app_version = "v2"
  }

  assert {
    condition = (
      strcontains(base64decode(aws_launch_template.app.user_data), "docker.io/example/micro-service:v2\n")
      && !strcontains(base64decode(aws_launch_template.app.user_data), "micro-service:v1")
    )
    error_message = "The user data must run the new version, and only it."
  }
}

# A new Flatcar release (the AMI lookup returns another image) rolls the fleet the same
# way, at the next apply (terraform/README.md).
run "new_flatcar_release" {
  command = plan

  plan_options {
    refresh = false
  }

  override_data {
    target = data.aws_ami.flatcar
    values = {
      id               = "ami-0f1a7c0ffee000002"
      name             = "Flatcar-stable-4230.2.0-hvm"
      architecture     = "x86_64"
      root_device_name = "/dev/xvda"
    }
  }

  assert {
    condition     = aws_launch_template.app.image_id == "ami-0f1a7c0ffee000002"
    error_message = "The template must follow the newest AMI."
  }
}

# Issue 11: a tag change makes a new template version (instances launched from now on
# carry the tag), which the group takes in place: check_terraform_test.py checks that the
# group is updated, not replaced.
run "retag" {
  command = plan

  plan_options {
    refresh = false
  }

  variables {
    tags = { Team = "payments" }
  }

  assert {
    condition     = aws_autoscaling_group.app.name == run.deploy_v1.autoscaling_group_name
    error_message = "A tag change must not rename (so replace) the group."
  }
}

# Issue 11: scaling grew the running group to 5; a rollout must start the new group at
# 5, and wait for 5, not fall back to desired_capacity.
run "roll_a_scaled_out_fleet" {
  command = plan

  plan_options {
    refresh = false
  }

  override_data {
    target = data.aws_autoscaling_group.running
    values = { desired_capacity = 5 }
  }

  variables {
    app_version = "v2"
    max_size    = 8
  }

  assert {
    condition     = aws_autoscaling_group.app.desired_capacity == 5 && aws_autoscaling_group.app.min_elb_capacity == 5
    error_message = "The new group must start at the running group's size (5) and wait for all of it."
  }
}

# Issue 11: a new app_port would cut clients off (autoscaling.tf); refused at plan time
# while a group runs (running_on_app_port finds none on the new port).
run "app_port_change_refused" {
  command = plan

  plan_options {
    refresh = false
  }

  override_data {
    target = data.aws_autoscaling_groups.running_on_app_port
    values = { names = [] }
  }

  variables {
    app_port = 8081
  }

  expect_failures = [aws_autoscaling_group.app]
}
