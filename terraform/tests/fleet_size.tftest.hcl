# The size of the fleet: a new group's, and who owns it afterwards (issue 16), against
# a mocked AWS provider. Its own file, so that its first run creates the group.

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

# A new group starts at desired_capacity and apply waits for all of it.
run "a_new_group_starts_at_desired_capacity" {
  variables {
    min_size                  = 3
    desired_capacity          = 5
    max_size                  = 10
    health_check_grace_period = 300
    wait_for_capacity_timeout = "25m"
  }

  assert {
    condition = (
      aws_autoscaling_group.app.min_elb_capacity == 5
      && aws_autoscaling_group.app.desired_capacity == 5
      && aws_autoscaling_group.app.min_size == 3
      && aws_autoscaling_group.app.max_size == 10
      && aws_autoscaling_group.app.health_check_grace_period == 300
      && aws_autoscaling_group.app.wait_for_capacity_timeout == "25m"
    )
    error_message = "min_elb_capacity must follow desired_capacity; sizes, grace period and timeout their variables."
  }
}

# Afterwards scaling owns the size: a new desired_capacity leaves the group as it is
# (and its wait), while min_size, the floor, is applied.
run "a_running_group_keeps_its_size" {
  variables {
    min_size         = 4
    desired_capacity = 8
    max_size         = 10
  }

  assert {
    condition = (
      aws_autoscaling_group.app.desired_capacity == 5
      && aws_autoscaling_group.app.min_elb_capacity == 5
      && aws_autoscaling_group.app.min_size == 4
      && aws_autoscaling_group.app.name == run.a_new_group_starts_at_desired_capacity.autoscaling_group_name
    )
    error_message = "desired_capacity must not resize a running group (5), nor replace it; min_size must be applied (4)."
  }
}
