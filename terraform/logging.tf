# Logs that outlive the instances: Docker's awslogs driver sends the container's output
# (the access log, errors) to a log group of the module's, one stream per instance, so
# that what an old version logged is still there after the roll that terminated it.
# With cloudwatch_logs = false the unit keeps json-file: the journal and docker logs only.

locals {
  log_group_name = "/micro-service/${var.name_prefix}"

  # The unit's `docker run` log options (templates/cloud-config.yaml.tftpl). systemd
  # fills in the region and the instance ID from coreos-metadata's environment file
  # (the unit reads /run/metadata/flatcar), hence the escaped $${...}.
  # mode=non-blocking: the container's writes never wait for CloudWatch; when it is slow
  # or unreachable, at most max-buffer-size of lines wait in dockerd's memory and the
  # rest are dropped.
  # The instance authenticates with its instance profile (iam.tf), through IMDSv2 from
  # dockerd on the host (the hop limit of 1 keeps containers out).
  # One option a line in the rendered unit: a backslash continues ExecStart, and the
  # next line keeps the unit's indentation inside the YAML block.
  next_option        = " \\\n          "
  awslogs_options    = "--log-driver awslogs${local.next_option}--log-opt awslogs-region=$${COREOS_EC2_REGION}${local.next_option}--log-opt awslogs-group=${local.log_group_name}${local.next_option}--log-opt awslogs-stream=$${COREOS_EC2_INSTANCE_ID}${local.next_option}--log-opt mode=non-blocking${local.next_option}--log-opt max-buffer-size=4m"
  json_file_options  = "--log-driver json-file${local.next_option}--log-opt max-size=10m${local.next_option}--log-opt max-file=3"
  docker_log_options = var.cloudwatch_logs ? local.awslogs_options : local.json_file_options
}

resource "aws_cloudwatch_log_group" "app" {
  # checkov:skip=CKV_AWS_158:encryption with a customer key is the caller's choice (log_kms_key_id); CloudWatch Logs encrypts every group at rest by default
  # checkov:skip=CKV_AWS_338:retention is the caller's choice (log_retention_days, default 30 days): a year of access logs is a cost many do not want
  count = var.cloudwatch_logs ? 1 : 0

  name              = local.log_group_name
  retention_in_days = var.log_retention_days
  kms_key_id        = var.log_kms_key_id

  tags = var.tags
}
