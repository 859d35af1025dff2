# Bad inputs are refused at plan time, before anything is created: each run sets bad
# values and lists the checks that must refuse them (expect_failures). A run fails if
# one of them is accepted, or if anything else fails. The other test files pass with
# valid values, so the same checks also accept what they should.
#
# Variable validations see only their own variable (Terraform 1.5); rules between
# variables are preconditions of the resources they protect.

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

run "empty_version_and_tagged_image" {
  command = plan

  variables {
    app_version = ""
    # The tag is app_version's job; a tag here would run image:1.0:v1.
    image = "docker.io/example/micro-service:1.0"
  }

  expect_failures = [var.app_version, var.image]
}

run "version_that_is_no_docker_tag" {
  command = plan

  variables {
    app_version = "-rc1"
    image       = "docker.io/example/micro-service@sha256:0123"
  }

  expect_failures = [var.app_version, var.image]
}

run "sizes_below_one" {
  command = plan

  variables {
    min_size         = 0
    max_size         = 0
    desired_capacity = 0
  }

  expect_failures = [var.min_size, var.max_size, var.desired_capacity]
}

run "min_size_above_desired_capacity" {
  command = plan

  variables {
    min_size         = 3
    desired_capacity = 2
    max_size         = 4
  }

  expect_failures = [aws_autoscaling_group.app]
}

run "desired_capacity_above_max_size" {
  command = plan

  variables {
    min_size         = 2
    desired_capacity = 5
    max_size         = 4
  }

  expect_failures = [aws_autoscaling_group.app]
}

# A zero timeout would make apply return before the new fleet is healthy: the rollout
# would no longer be gated on health checks.
run "no_wait_for_capacity" {
  command = plan

  variables {
    wait_for_capacity_timeout = "0m"
  }

  expect_failures = [var.wait_for_capacity_timeout]
}

run "no_wait_for_capacity_in_hours" {
  command = plan

  variables {
    wait_for_capacity_timeout = "0h"
  }

  expect_failures = [var.wait_for_capacity_timeout]
}

# Outside the ALB's limits: AWS would refuse them at apply time, after the plan.
run "health_check_outside_alb_limits" {
  command = plan

  variables {
    health_check_path                = "health"
    health_check_grace_period        = 7201
    health_check_interval            = 4
    health_check_timeout             = 1
    health_check_healthy_threshold   = 11
    health_check_unhealthy_threshold = 1
    deregistration_delay             = 3601
    lb_idle_timeout                  = 4001
  }

  expect_failures = [
    var.health_check_path,
    var.health_check_grace_period,
    var.health_check_interval,
    var.health_check_timeout,
    var.health_check_healthy_threshold,
    var.health_check_unhealthy_threshold,
    var.deregistration_delay,
    var.lb_idle_timeout,
  ]
}

run "timeout_not_shorter_than_interval" {
  command = plan

  variables {
    health_check_interval = 5
    health_check_timeout  = 5
  }

  expect_failures = [aws_lb_target_group.app]
}

run "service_settings_out_of_range" {
  command = plan

  variables {
    app_port            = 80
    health_failure_rate = 1.5
    shutdown_timeout    = 0
  }

  expect_failures = [var.app_port, var.health_failure_rate, var.shutdown_timeout]
}

run "load_balancer_settings" {
  command = plan

  variables {
    desync_mitigation_mode = "monitor"
    certificate_arn        = "arn:aws:iam::123456789012:server-certificate/example"
  }

  expect_failures = [var.desync_mitigation_mode, var.certificate_arn]
}

run "network_inputs" {
  command = plan

  variables {
    vpc_id              = "vpc-"
    lb_subnet_ids       = ["subnet-0a00000000000000a"]
    instance_subnet_ids = []
    # IPv6 ranges are not supported by the rules (cidr_ipv4).
    allowed_client_cidrs     = ["::/0"]
    instance_egress_cidrs    = ["0.0.0.0"]
    extra_security_group_ids = ["default"]
  }

  expect_failures = [
    var.vpc_id,
    var.lb_subnet_ids,
    var.instance_subnet_ids,
    var.allowed_client_cidrs,
    var.instance_egress_cidrs,
    var.extra_security_group_ids,
  ]
}

run "names" {
  command = plan

  variables {
    # 25 characters: the ALB's name ("<prefix>-alb") would pass AWS's 32.
    name_prefix     = "a-very-long-service-name1"
    flatcar_channel = "edge"
    architecture    = "aarch64"
    ami_id          = "ami-"
    ami_owners      = []
    instance_type   = "t3micro"
  }

  expect_failures = [
    var.name_prefix,
    var.flatcar_channel,
    var.architecture,
    var.ami_id,
    var.ami_owners,
    var.instance_type,
  ]
}

# The mocked AMI is x86_64 (aws_mock/aws.tfmock.hcl).
run "ami_of_another_architecture" {
  command = plan

  variables {
    architecture  = "arm64"
    instance_type = "t4g.micro"
  }

  override_data {
    target = data.aws_ec2_instance_type.selected
    values = { supported_architectures = ["arm64"] }
  }

  expect_failures = [aws_launch_template.app]
}

run "instance_type_of_another_architecture" {
  command = plan

  variables {
    instance_type = "t4g.micro"
  }

  override_data {
    target = data.aws_ec2_instance_type.selected
    values = { supported_architectures = ["arm64"] }
  }

  expect_failures = [aws_launch_template.app]
}

# Issue 11: inputs that AWS would refuse only at apply time, or that fail 15 minutes
# later (no egress: the image pull never succeeds and the capacity wait runs out).
run "listener_and_logs_inputs" {
  command = plan

  variables {
    ssl_policy           = "TLS13-1-2-2021-06"
    health_check_matcher = "200-600"
    access_logs_bucket   = "arn:aws:s3:::my-logs"
  }

  expect_failures = [var.ssl_policy, var.health_check_matcher, var.access_logs_bucket]
}

run "instance_inputs" {
  command = plan

  variables {
    iam_instance_profile_arn = "arn:aws:iam::123456789012:role/ecr-pull"
    root_volume_kms_key_id   = "1234abcd-12ab-34cd-56ef-1234567890ab"
    instance_egress_cidrs    = []
  }

  expect_failures = [var.iam_instance_profile_arn, var.root_volume_kms_key_id, var.instance_egress_cidrs]
}

# The unit runs a plain docker pull; Flatcar has no ECR credential helper, so a private
# ECR image would never start (terraform/README.md). One run per host name private ECR
# answers to; ECR Public and other registries pass (image_hosts_accepted).

run "private_ecr_image" {
  command = plan

  # IPv4 endpoint
  variables {
    image = "123456789012.dkr.ecr.eu-west-1.amazonaws.com/micro-service"
  }

  expect_failures = [var.image]
}

run "private_ecr_fips_image" {
  command = plan

  # FIPS endpoint
  variables {
    image = "123456789012.dkr.ecr-fips.us-east-1.amazonaws.com/team/micro-service"
  }

  expect_failures = [var.image]
}

run "private_ecr_china_image" {
  command = plan

  # China partition
  variables {
    image = "123456789012.dkr.ecr.cn-north-1.amazonaws.com.cn/micro-service"
  }

  expect_failures = [var.image]
}

run "private_ecr_dual_stack_image" {
  command = plan

  # dual-stack endpoint
  variables {
    image = "123456789012.dkr-ecr.eu-west-1.on.aws/micro-service"
  }

  expect_failures = [var.image]
}

run "private_ecr_dual_stack_fips_image" {
  command = plan

  # dual-stack FIPS endpoint
  variables {
    image = "123456789012.dkr-ecr-fips.us-east-1.on.aws/micro-service"
  }

  expect_failures = [var.image]
}

run "private_ecr_vpc_endpoint_image" {
  command = plan

  # interface VPC endpoint
  variables {
    image = "vpce-0a1b2c3d4e5f60718-abcdefgh.dkr.ecr.eu-west-1.vpce.amazonaws.com/micro-service"
  }

  expect_failures = [var.image]
}

run "private_ecr_vpc_endpoint_zonal_image" {
  command = plan

  # zonal VPC endpoint name
  variables {
    image = "vpce-0a1b2c3d4e5f60718-abcdefgh-eu-west-1a.dkr.ecr.eu-west-1.vpce.amazonaws.com/micro-service"
  }

  expect_failures = [var.image]
}

# Public registries, and names that only look like ECR's, are not refused.
run "image_hosts_accepted" {
  command = plan

  variables {
    image = "ghcr.io/example/123456789012.dkr.ecr.eu-west-1.amazonaws.com"
  }
}

run "scaling_inputs" {
  command = plan

  variables {
    scaling_requests_per_target = 0
    scaling_cpu_utilization     = 101
  }

  expect_failures = [var.scaling_requests_per_target, var.scaling_cpu_utilization]
}

# The valid forms of the same inputs pass.
run "listener_and_instance_inputs_accepted" {
  command = plan

  variables {
    ssl_policy               = "ELBSecurityPolicy-FS-1-2-Res-2020-10"
    health_check_matcher     = "200,204,300-399"
    access_logs_bucket       = "my-alb-logs.example"
    iam_instance_profile_arn = "arn:aws:iam::123456789012:instance-profile/micro-service"
    root_volume_kms_key_id   = "arn:aws:kms:us-east-1:123456789012:key/1234abcd-12ab-34cd-56ef-1234567890ab"
    image                    = "public.ecr.aws/example/micro-service"
    scaling_cpu_utilization  = 60
  }
}

# Issue 16: an OS release can be pinned by version; anything else is refused.
run "flatcar_version_not_a_release" {
  command = plan

  variables {
    flatcar_version = "stable"
  }

  expect_failures = [var.flatcar_version]
}

run "service_idle_timeout_out_of_range" {
  command = plan

  variables {
    service_idle_timeout = 5000
  }

  expect_failures = [var.service_idle_timeout]
}

# The ALB must close idle connections at least 5 s before the service does.
run "lb_idle_timeout_not_below_the_service" {
  command = plan

  variables {
    lb_idle_timeout = 71
  }

  expect_failures = [aws_lb.app]
}

# ... also on the instances that run: a fleet started with IDLE_TIMEOUT 75 (its group's
# tag) still serves, so the ALB may not go to 90 even though the new fleet would get 120.
run "lb_idle_timeout_not_below_the_running_fleet" {
  command = plan

  override_data {
    target = data.aws_autoscaling_groups.running
    values = { names = ["micro-service-20260101000000000000000001"] }
  }

  override_data {
    target = data.aws_autoscaling_groups.running_on_app_port
    values = { names = ["micro-service-20260101000000000000000001"] }
  }

  override_data {
    target = data.aws_autoscaling_group.running
    values = {
      desired_capacity = 2
      tag              = [{ key = "ServiceIdleTimeout", value = "75", propagate_at_launch = false }]
    }
  }

  variables {
    lb_idle_timeout      = 90
    service_idle_timeout = 120
  }

  expect_failures = [aws_lb.app]
}

# A change that replaces the ALB is refused while it exists, as app_port is.
run "internal_change_refused" {
  command = plan

  override_data {
    target = data.aws_lbs.running
    values = { arns = ["arn:aws:elasticloadbalancing:us-east-1:123456789012:loadbalancer/app/micro-service-alb/50dc6c495c0c9188"] }
  }

  override_data {
    target = data.aws_lb.running
    values = { internal = false }
  }

  variables {
    internal = true
  }

  expect_failures = [aws_lb.app]
}
