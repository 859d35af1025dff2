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
    idle_timeout        = var.service_idle_timeout
    log_options         = local.docker_log_options
    access_log          = var.access_log
  }

  user_data = base64encode(templatefile("${path.module}/templates/cloud-config.yaml.tftpl", local.cloud_config_vars))

  # What makes an instance, in one value: the launch template below is built from it
  # field by field, and autoscaling.tf replaces the group whenever it changes
  # (terraform_data.instance). A field added or edited here, even a hard-coded one
  # (the hop limit, the volume type), therefore rolls the fleet; one set on the
  # template directly would make a new template version that the group takes in
  # place, and leave the running instances as they were. Tags are not part of it: a
  # tag change needs no new instance.
  instance = {
    image_id      = data.aws_ami.flatcar.id
    instance_type = local.instance_type
    user_data     = local.user_data

    # IMDSv2 only, and a hop limit of 1 so that containers (one hop further, behind
    # the docker bridge) cannot reach the instance's metadata and credentials.
    metadata_options = {
      http_endpoint               = "enabled"
      http_tokens                 = "required"
      http_put_response_hop_limit = 1
      instance_metadata_tags      = "disabled"
    }

    root_volume = {
      device_name           = data.aws_ami.flatcar.root_device_name
      encrypted             = true
      kms_key_id            = var.root_volume_kms_key_id
      volume_type           = "gp3"
      delete_on_termination = true
    }

    network_interface = {
      device_index                = 0
      associate_public_ip_address = var.associate_public_ip_address
      delete_on_termination       = true
      security_groups             = concat([aws_security_group.instance.id], var.extra_security_group_ids)
    }

    iam_instance_profile_arn = local.instance_profile_arn
  }
}

# What an instance is (local.instance), and the tags of what it launches. Every change
# makes a new version of this template; the group launches the latest. A change of
# local.instance also replaces the group (autoscaling.tf): that is the rollout. A tag
# change only makes a new version, which the group takes in place for the instances it
# launches later.
resource "aws_launch_template" "app" {
  name_prefix            = "${var.name_prefix}-"
  description            = "${var.name_prefix}: ${var.image}:${var.app_version} on ${data.aws_ami.flatcar.name}"
  image_id               = local.instance.image_id
  instance_type          = local.instance.instance_type
  user_data              = local.instance.user_data
  update_default_version = true

  metadata_options {
    http_endpoint               = local.instance.metadata_options.http_endpoint
    http_tokens                 = local.instance.metadata_options.http_tokens
    http_put_response_hop_limit = local.instance.metadata_options.http_put_response_hop_limit
    instance_metadata_tags      = local.instance.metadata_options.instance_metadata_tags
  }

  block_device_mappings {
    device_name = local.instance.root_volume.device_name

    ebs {
      encrypted             = local.instance.root_volume.encrypted
      kms_key_id            = local.instance.root_volume.kms_key_id
      volume_type           = local.instance.root_volume.volume_type
      delete_on_termination = local.instance.root_volume.delete_on_termination
    }
  }

  network_interfaces {
    device_index                = local.instance.network_interface.device_index
    associate_public_ip_address = local.instance.network_interface.associate_public_ip_address
    delete_on_termination       = local.instance.network_interface.delete_on_termination
    security_groups             = local.instance.network_interface.security_groups
  }

  dynamic "iam_instance_profile" {
    # Whether there is one is known at plan time; the ARN of a profile created here is not.
    for_each = local.instance_profile_set ? [local.instance.iam_instance_profile_arn] : []
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
