terraform {
  # strcontains() in the variable validations needs 1.5; 1.5.7 is that line's last
  # release. The end-to-end test (test/fixtures/wrapper/tests) needs `terraform test`,
  # which came with 1.6.
  required_version = ">= 1.5.7"

  required_providers {
    aws = {
      source  = "hashicorp/aws"
      version = ">= 5.0, < 7.0"
    }
  }
}
