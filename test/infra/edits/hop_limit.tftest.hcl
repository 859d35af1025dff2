# A hard-coded field of what makes an instance, edited, rolls the fleet (issue 16).
#
# test/infra/terraform.sh copies the module to tests/edited/hop_limit/ with one edit,
# the metadata hop limit in local.instance from 1 to 2, and runs this file from the
# module's copy: the first run deploys the module as it is, the second plans the edited
# copy against the same state (state_key). check_terraform_test.py reads the plan: the
# group must be replaced (created before destroyed) because its trigger changed, as for
# a new app_version, not updated in place to a template version that only instances
# launched later would get.

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

run "deployed" {
  state_key = "fleet"
}

run "hop_limit_edited" {
  command   = plan
  state_key = "fleet"

  module {
    source = "./tests/edited/hop_limit"
  }

  assert {
    condition     = aws_launch_template.app.metadata_options[0].http_put_response_hop_limit == 2 && terraform_data.instance.input.metadata_options.http_put_response_hop_limit == 2
    error_message = "The edited copy must set a hop limit of 2 (test/infra/terraform.sh makes it)."
  }
}
