locals {
  container_port = 8080 # the service's default PORT, set explicitly in the unit

  # Docker sends SIGKILL this long after SIGTERM: longer than the service's grace period.
  stop_timeout = var.shutdown_timeout + 5

  # The values of templates/cloud-config.yaml.tftpl. Keep each one a plain reference,
  # number or sum: test/lib/cloudconfig.py evaluates them to render the same user data
  # for the local checks and the rollout rehearsal.
  cloud_config_vars = {
    image               = var.image
    app_version         = var.app_version
    app_port            = var.app_port
    container_port      = local.container_port
    health_failure_rate = var.health_failure_rate
    shutdown_timeout    = var.shutdown_timeout
    stop_timeout        = local.stop_timeout
    unit_stop_timeout   = local.stop_timeout + 10
    idle_timeout        = var.lb_idle_timeout + 15
    log_options         = local.docker_log_options
    access_log          = var.access_log
  }

  user_data = base64encode(templatefile("${path.module}/templates/cloud-config.yaml.tftpl", local.cloud_config_vars))
}

# What an instance is. Every change here makes a new version of this template. A change
# of what runs on an instance (a new app_version changes the user data, a new Flatcar
# release the AMI) also changes local.fleet_identity, which replaces the Auto Scaling
# group (autoscaling.tf): that is the rollout. A change of tags only makes a new
# version, which the group takes in place for the instances it launches later.
resource "aws_launch_template" "app" {
  name_prefix            = "${var.name_prefix}-"
  description            = "${var.name_prefix}: ${var.image}:${var.app_version} on ${data.aws_ami.flatcar.name}"
  image_id               = data.aws_ami.flatcar.id
  instance_type          = local.instance_type
  user_data              = local.user_data
  update_default_version = true

  # IMDSv2 only, and a hop limit of 1 so that containers (one hop further, behind the
  # docker bridge) cannot reach the instance's metadata and credentials.
  metadata_options {
    http_endpoint               = "enabled"
    http_tokens                 = "required"
    http_put_response_hop_limit = 1
    instance_metadata_tags      = "disabled"
  }

  block_device_mappings {
    device_name = data.aws_ami.flatcar.root_device_name

    ebs {
      encrypted             = true
      kms_key_id            = var.root_volume_kms_key_id
      volume_type           = "gp3"
      delete_on_termination = true
    }
  }

  network_interfaces {
    device_index                = 0
    associate_public_ip_address = var.associate_public_ip_address
    delete_on_termination       = true
    security_groups             = concat([aws_security_group.instance.id], var.extra_security_group_ids)
  }

  dynamic "iam_instance_profile" {
    for_each = local.instance_profile_set ? [local.instance_profile_arn] : []
    content {
      arn = iam_instance_profile.value
    }
  }

  tag_specifications {
    resource_type = "instance"
    tags          = local.launch_tags
  }

  tag_specifications {
    resource_type = "volume"
    tags          = local.launch_tags
  }

  tag_specifications {
    resource_type = "network-interface"
    tags          = local.launch_tags
  }

  tags = var.tags

  lifecycle {
    precondition {
      condition     = data.aws_ami.flatcar.architecture == var.architecture
      error_message = "The AMI is built for ${data.aws_ami.flatcar.architecture}, not var.architecture (${var.architecture})."
    }

    precondition {
      condition     = contains(data.aws_ec2_instance_type.selected.supported_architectures, var.architecture)
      error_message = "Instance type ${local.instance_type} does not run ${var.architecture} (it supports ${join(", ", data.aws_ec2_instance_type.selected.supported_architectures)})."
    }
  }
}
