# The instances' permissions: with CloudWatch Logs on and no instance profile given, the
# module creates a role and profile allowing exactly what the awslogs driver does,
# creating its stream and putting events, on this module's log group and nothing else
# (as terraform-aws-modules/autoscaling's create_iam_instance_profile does). A caller who
# gives iam_instance_profile_arn adds that statement to its own role (README.md).

locals {
  create_instance_profile = var.cloudwatch_logs && var.iam_instance_profile_arn == null
  # Known at plan time (the ARN of a created profile is not): it decides the launch
  # template's iam_instance_profile block.
  instance_profile_set = local.create_instance_profile || var.iam_instance_profile_arn != null
  instance_profile_arn = local.create_instance_profile ? one(aws_iam_instance_profile.app[*].arn) : var.iam_instance_profile_arn
}

resource "aws_iam_role" "app" {
  count = local.create_instance_profile ? 1 : 0

  name_prefix = "${var.name_prefix}-"
  # AWS's default, written out: a path is part of the identity (a change replaces it).
  path        = "/"
  description = "micro-service instances of ${var.name_prefix}: write their container logs"
  assume_role_policy = jsonencode({
    Version = "2012-10-17"
    Statement = [{
      Effect    = "Allow"
      Principal = { Service = "ec2.amazonaws.com" }
      Action    = "sts:AssumeRole"
    }]
  })

  tags = var.tags
}

# The log group's ARN for CreateLogStream, its streams' for PutLogEvents.
resource "aws_iam_role_policy" "logs" {
  count = local.create_instance_profile ? 1 : 0

  name = "write-container-logs"
  role = aws_iam_role.app[0].id
  policy = jsonencode({
    Version = "2012-10-17"
    Statement = [{
      Effect   = "Allow"
      Action   = ["logs:CreateLogStream", "logs:PutLogEvents"]
      Resource = [aws_cloudwatch_log_group.app[0].arn, "${aws_cloudwatch_log_group.app[0].arn}:log-stream:*"]
    }]
  })
}

resource "aws_iam_instance_profile" "app" {
  count = local.create_instance_profile ? 1 : 0

  name_prefix = "${var.name_prefix}-"
  path        = "/"
  role        = aws_iam_role.app[0].name

  tags = var.tags
}
