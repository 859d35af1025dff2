terraform {
  # strcontains() in the variable validations needs 1.5; 1.5.7 is that line's last
  # release (terraform_data needs 1.4). Only 1.11.4 is tested here (README.md). The
  # end-to-end test (test/fixtures/wrapper/tests) needs `terraform test`, from 1.6.
  required_version = ">= 1.5.7"

  required_providers {
    # instance_maintenance_policy on aws_autoscaling_group came with 5.26.0.
    aws = {
      source  = "hashicorp/aws"
      version = ">= 5.26, < 7.0"
    }
  }
}
