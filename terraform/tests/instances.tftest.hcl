# What an instance is and how the fleet runs: the user data, the launch template and
# the Auto Scaling group, against a mocked AWS provider (nothing is created, no
# credentials are needed). `cd terraform && terraform init && terraform test`.
#
# The user data is asserted on after decoding it the way an instance gets it: base64,
# then YAML (the #cloud-config document), then the systemd unit's text with its
# line continuations joined, so that "the docker run line" is one string.

mock_provider "aws" {
  source = "./tests/aws_mock"
}

variables {
  # A registry with a port: the tag must still be appended as ":<app_version>".
  image                = "registry.example.com:5000/team/micro-service"
  app_version          = "3f97376"
  vpc_id               = "vpc-0123456789abcdef0"
  lb_subnet_ids        = ["subnet-0a00000000000000a", "subnet-0b00000000000000b"]
  instance_subnet_ids  = ["subnet-0c00000000000000c", "subnet-0d00000000000000d"]
  allowed_client_cidrs = ["203.0.113.0/24"]
}

run "user_data_runs_the_image_hardened" {
  assert {
    condition     = startswith(base64decode(aws_launch_template.app.user_data), "#cloud-config\n")
    error_message = "The user data must be a #cloud-config document (Flatcar's coreos-cloudinit reads it only then)."
  }

  assert {
    condition = (
      yamldecode(base64decode(aws_launch_template.app.user_data)).coreos.update["reboot-strategy"] == "off"
      && anytrue([for u in yamldecode(base64decode(aws_launch_template.app.user_data)).coreos.units : u.name == "update-engine.service" && lookup(u, "command", "") == "stop" && lookup(u, "mask", false)])
      && anytrue([for u in yamldecode(base64decode(aws_launch_template.app.user_data)).coreos.units : u.name == "micro-service.service" && lookup(u, "command", "") == "start"])
    )
    error_message = "Expected reboot-strategy \"off\", update-engine.service stopped and masked, micro-service.service started."
  }

  # The image, tagged with app_version, is the last argument of docker run: nothing
  # after it would be taken as options.
  assert {
    condition = endswith(
      replace(regex("\nExecStart=([^\n]*)", replace(one([for u in yamldecode(base64decode(aws_launch_template.app.user_data)).coreos.units : u.content if u.name == "micro-service.service"]), "\\\n", " "))[0], "/ +/", " "),
      " registry.example.com:5000/team/micro-service:3f97376"
    )
    error_message = "ExecStart must end with image:app_version."
  }

  # The options README.md and terraform/README.md promise, each as a whole word.
  assert {
    condition = alltrue([for opt in [
      "/usr/bin/docker run --rm --name micro-service",
      "--publish 8080:8080",
      "--read-only",
      "--cap-drop ALL",
      "--security-opt no-new-privileges",
      "--pids-limit 256",
      "--memory 256m",
      "--stop-timeout 10",
      "--log-driver awslogs",
      "--log-opt mode=non-blocking",
      "--env PORT=8080",
      "--env HEALTH_FAILURE_RATE=0.1",
      "--env SHUTDOWN_TIMEOUT=5",
      "--env IDLE_TIMEOUT=75",
      ] : strcontains(
      " ${replace(regex("\nExecStart=([^\n]*)", replace(one([for u in yamldecode(base64decode(aws_launch_template.app.user_data)).coreos.units : u.content if u.name == "micro-service.service"]), "\\\n", " "))[0], "/ +/", " ")} ",
      " ${opt} "
    )])
    error_message = "docker run lacks a promised option: ${replace(regex("\nExecStart=([^\n]*)", replace(one([for u in yamldecode(base64decode(aws_launch_template.app.user_data)).coreos.units : u.content if u.name == "micro-service.service"]), "\\\n", " "))[0], "/ +/", " ")}"
  }

  assert {
    condition = alltrue([for opt in ["--privileged", "--network host", "--cap-add", "--pid host"] : !strcontains(
      one([for u in yamldecode(base64decode(aws_launch_template.app.user_data)).coreos.units : u.content if u.name == "micro-service.service"]),
      opt
    )])
    error_message = "The unit must not weaken the container's isolation."
  }

  # The image pulled before the start is the one run; the stop waits docker's timeout,
  # and systemd waits longer still.
  assert {
    condition = alltrue([for line in [
      "/usr/bin/docker pull registry.example.com:5000/team/micro-service:3f97376",
      "ExecStop=/usr/bin/docker stop --time 10 micro-service",
      "TimeoutStopSec=20",
      "Restart=always",
      "Requires=docker.service",
      ] : strcontains(
      replace(replace(one([for u in yamldecode(base64decode(aws_launch_template.app.user_data)).coreos.units : u.content if u.name == "micro-service.service"]), "\\\n", " "), "/ +/", " "),
      line
    )])
    error_message = "The unit's pull, stop or restart settings differ from the promised ones."
  }
}

# The service's settings follow the variables: port, timeouts, failure rate.
run "user_data_follows_the_variables" {
  variables {
    app_version          = "release_2026-11.1"
    app_port             = 9090
    shutdown_timeout     = 20
    service_idle_timeout = 135
    health_failure_rate  = 0.25
  }

  assert {
    condition = alltrue([for opt in [
      "--publish 9090:8080",
      "--stop-timeout 25",
      "--env SHUTDOWN_TIMEOUT=20",
      "--env IDLE_TIMEOUT=135",
      "--env HEALTH_FAILURE_RATE=0.25",
      "registry.example.com:5000/team/micro-service:release_2026-11.1",
      ] : strcontains(
      " ${replace(regex("\nExecStart=([^\n]*)", replace(one([for u in yamldecode(base64decode(aws_launch_template.app.user_data)).coreos.units : u.content if u.name == "micro-service.service"]), "\\\n", " "))[0], "/ +/", " ")} ",
      " ${opt}"
    )])
    error_message = "docker run does not follow app_port, shutdown_timeout, service_idle_timeout, health_failure_rate or app_version."
  }

  assert {
    condition     = strcontains(one([for u in yamldecode(base64decode(aws_launch_template.app.user_data)).coreos.units : u.content if u.name == "micro-service.service"]), "TimeoutStopSec=35")
    error_message = "systemd must wait longer than docker's stop timeout (shutdown_timeout + 5 + 10)."
  }

  # Only the user data's tag changes with app_version, so the old version is gone.
  assert {
    condition     = !strcontains(base64decode(aws_launch_template.app.user_data), ":3f97376")
    error_message = "The previous app_version is still in the user data."
  }

  assert {
    condition     = strcontains(aws_launch_template.app.description, "registry.example.com:5000/team/micro-service:release_2026-11.1")
    error_message = "The launch template's description should name the image and version it runs."
  }
}

run "launch_template_is_locked_down" {
  assert {
    condition = (
      aws_launch_template.app.metadata_options[0].http_endpoint == "enabled"
      && aws_launch_template.app.metadata_options[0].http_tokens == "required"
      && aws_launch_template.app.metadata_options[0].http_put_response_hop_limit == 1
    )
    error_message = "IMDSv2 must be required, with a hop limit of 1 (containers behind the docker bridge are a hop further)."
  }

  # The encrypted volume must be the AMI's root device, not an extra disk.
  assert {
    condition = (
      length(aws_launch_template.app.block_device_mappings) == 1
      && aws_launch_template.app.block_device_mappings[0].device_name == "/dev/xvda"
      && aws_launch_template.app.block_device_mappings[0].ebs[0].encrypted == "true"
      && aws_launch_template.app.block_device_mappings[0].ebs[0].volume_type == "gp3"
      && aws_launch_template.app.block_device_mappings[0].ebs[0].delete_on_termination == "true"
    )
    error_message = "The root volume (the AMI's root_device_name) must be an encrypted gp3 volume deleted with the instance."
  }

  assert {
    condition = (
      aws_launch_template.app.network_interfaces[0].associate_public_ip_address == "false"
      && aws_launch_template.app.network_interfaces[0].security_groups == toset(["sg-0c2d000000000c2d0"])
    )
    error_message = "By default: no public IP, and only the instance security group."
  }

  assert {
    condition = (
      aws_launch_template.app.image_id == "ami-0f1a7c0ffee000001"
      && aws_launch_template.app.instance_type == "t3.micro"
      && aws_launch_template.app.update_default_version
      && aws_launch_template.app.iam_instance_profile[0].arn == aws_iam_instance_profile.app[0].arn
    )
    error_message = "The template must launch the looked-up Flatcar AMI as t3.micro, with the module's instance profile (for its logs) unless given one."
  }

  # Provider default_tags (mocked as CostCenter) do not reach launched instances and
  # volumes by themselves: the tag specifications must carry them.
  assert {
    condition = alltrue([for rt in ["instance", "volume", "network-interface"] : anytrue([
      for ts in aws_launch_template.app.tag_specifications :
      ts.resource_type == rt && lookup(ts.tags, "CostCenter", "") == "cc-42" && lookup(ts.tags, "AppVersion", "") == "3f97376" && lookup(ts.tags, "Name", "") == "micro-service"
    ])])
    error_message = "Instances, volumes and network interfaces must be tagged with the default tags, Name and AppVersion."
  }
}

run "launch_template_options" {
  variables {
    associate_public_ip_address = true
    extra_security_group_ids    = ["sg-0e0e00000000000e0"]
    iam_instance_profile_arn    = "arn:aws:iam::123456789012:instance-profile/ecr-pull"
    root_volume_kms_key_id      = "arn:aws:kms:us-east-1:123456789012:key/1234abcd-12ab-34cd-56ef-1234567890ab"
  }

  assert {
    condition = (
      aws_launch_template.app.network_interfaces[0].associate_public_ip_address == "true"
      && aws_launch_template.app.network_interfaces[0].security_groups == toset(["sg-0c2d000000000c2d0", "sg-0e0e00000000000e0"])
      && aws_launch_template.app.iam_instance_profile[0].arn == "arn:aws:iam::123456789012:instance-profile/ecr-pull"
      && aws_launch_template.app.block_device_mappings[0].ebs[0].kms_key_id == "arn:aws:kms:us-east-1:123456789012:key/1234abcd-12ab-34cd-56ef-1234567890ab"
    )
    error_message = "associate_public_ip_address, extra_security_group_ids, iam_instance_profile_arn or root_volume_kms_key_id did not reach the template."
  }
}

# The fleet. The mocked launch template is at version 7 (aws_mock/aws.tfmock.hcl);
# tests/rollout.tftest.hcl shows, with the real provider's plan, that a new app_version
# makes a new version and so replaces the group.
run "autoscaling_group_rolls_with_the_template" {
  # AWS names the group (name_prefix): a replacement never asks for the name of a group
  # that a failed rollout left (issue 16). What replaces it is its trigger, which holds
  # what makes an instance (autoscaling.tf).
  assert {
    condition     = aws_autoscaling_group.app.name_prefix == "micro-service-" && terraform_data.instance.input.user_data == aws_launch_template.app.user_data
    error_message = "The group must take name_prefix = \"micro-service-\", and its trigger hold the template's user data."
  }

  # Group metrics on; AWS-initiated replacements launch before they terminate.
  assert {
    condition = (
      length(aws_autoscaling_group.app.enabled_metrics) == 8
      && contains(aws_autoscaling_group.app.enabled_metrics, "GroupInServiceInstances")
      && aws_autoscaling_group.app.metrics_granularity == "1Minute"
      && aws_autoscaling_group.app.instance_maintenance_policy[0].min_healthy_percentage == 100
      && aws_autoscaling_group.app.instance_maintenance_policy[0].max_healthy_percentage == 200
    )
    error_message = "enabled_metrics (8 group metrics, 1Minute) and instance_maintenance_policy (100-200 %) must be set."
  }

  # The outputs describe the group that serves: its version and its launch template
  # version come from the group itself (terraform/README.md, after a failed rollout).
  assert {
    condition     = output.app_version == "3f97376" && output.launch_template_version == "7"
    error_message = "app_version and launch_template_version must be read from the group (3f97376, 7), got ${output.app_version}, ${output.launch_template_version}."
  }

  # The exact version, not $Latest or $Default: the group launches what it was created
  # for, even while the next version's group is being created.
  assert {
    condition = (
      aws_autoscaling_group.app.launch_template[0].id == "lt-0123456789abcdef0"
      && aws_autoscaling_group.app.launch_template[0].version == "7"
    )
    error_message = "The group must launch this template at its latest version number (7), got ${aws_autoscaling_group.app.launch_template[0].version}."
  }

  assert {
    condition = (
      aws_autoscaling_group.app.health_check_type == "ELB"
      && aws_autoscaling_group.app.health_check_grace_period == 180
      && aws_autoscaling_group.app.target_group_arns == toset([aws_lb_target_group.app.arn])
      && aws_autoscaling_group.app.vpc_zone_identifier == toset(["subnet-0c00000000000000c", "subnet-0d00000000000000d"])
    )
    error_message = "The group must replace instances the ALB finds unhealthy (ELB checks, 180 s grace), in the instance subnets."
  }

  # apply returns only once the whole new fleet passes the ALB's health checks; an
  # in-place update waits for no count (fleet_size.tftest.hcl).
  assert {
    condition = (
      aws_autoscaling_group.app.min_elb_capacity == 2
      && aws_autoscaling_group.app.wait_for_elb_capacity == null
      && aws_autoscaling_group.app.wait_for_capacity_timeout == "15m"
      && aws_autoscaling_group.app.min_size == 2
      && aws_autoscaling_group.app.max_size == 4
      && aws_autoscaling_group.app.desired_capacity == 2
    )
    error_message = "apply must wait for desired_capacity (2) healthy instances, up to 15m."
  }

  # Instance tags come from the launch template; propagating them from the group too
  # would tag instances twice, with the group's tags winning.
  assert {
    condition     = alltrue([for t in aws_autoscaling_group.app.tag : !t.propagate_at_launch])
    error_message = "The group's own tags must not propagate at launch."
  }
}
