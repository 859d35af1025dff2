# The module: an Auto Scaling group of Flatcar Container Linux instances, each running
# the micro-service image with systemd, behind an Application Load Balancer.
#
#   main.tf             shared locals, the AMI and instance-type lookups
#   security_groups.tf  clients -> ALB -> instances, instances -> registry
#   load_balancer.tf    ALB, listeners, target group and its health check
#   launch_template.tf  what an instance is: AMI, user data, IMDSv2, encrypted disk
#   autoscaling.tf      the fleet, and how a new version replaces it
#   outputs.tf          what callers and the tests use

locals {
  https_enabled  = var.certificate_arn != null
  listener_ports = local.https_enabled ? [80, 443] : [80]

  # Provider default_tags reach the resources below but not the instances and volumes
  # the Auto Scaling group launches, so the launch template copies them explicitly.
  launch_tags = merge(data.aws_default_tags.current.tags, var.tags, {
    Name       = var.name_prefix
    AppVersion = var.app_version
  })

  # The pinned AMI, the pinned Flatcar release, or the newest of the channel.
  # Flatcar-stable-* names match both architectures, hence the architecture filter.
  ami_filters = var.ami_id != null ? tomap({
    "image-id" = [var.ami_id]
    }) : tomap({
    "name"                = [var.flatcar_version == null ? "Flatcar-${var.flatcar_channel}-*" : "Flatcar-${var.flatcar_channel}-${var.flatcar_version}-hvm"]
    "architecture"        = [var.architecture]
    "virtualization-type" = ["hvm"]
    "state"               = ["available"]
  })
}

data "aws_default_tags" "current" {}

data "aws_ami" "flatcar" {
  owners      = var.ami_owners
  most_recent = true

  dynamic "filter" {
    for_each = local.ami_filters
    content {
      name   = filter.key
      values = filter.value
    }
  }
}

data "aws_ec2_instance_type" "selected" {
  instance_type = local.instance_type
}
