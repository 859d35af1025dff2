# The CPU architecture decides three things that must agree: the Flatcar AMI (main.tf
# filters on var.architecture), the instance type (below) and the image, which is one
# multi-architecture manifest (amd64 + arm64, see .travis.yml), so `docker pull` on
# the instance fetches the variant of its own architecture.
#
# With instance_type left null, the type follows the architecture: the same size in the
# burstable general-purpose family of each (2 vCPUs, 1 GiB). A type given explicitly
# must run the architecture; launch_template.tf's precondition checks that at plan time
# against what EC2 reports for the type (data.aws_ec2_instance_type.selected).
locals {
  default_instance_types = {
    x86_64 = "t3.micro"
    arm64  = "t4g.micro" # Graviton2, cheaper than t3.micro (README.md, "arm64")
  }
  instance_type = coalesce(var.instance_type, local.default_instance_types[var.architecture])
}
