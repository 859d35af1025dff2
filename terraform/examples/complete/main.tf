# The README's usage (terraform/README.md, "Usage"), as a root module a user would copy:
# test/infra/terraform.sh runs `terraform validate` on it, and
# test/infra/check_module_contract.py checks that the README shows this module call.
# The IDs are placeholders: point them at your VPC, subnets and certificate.

provider "aws" {
  region = "us-east-1"
}

module "micro_service" {
  source = "../.."

  # ECR Public: no anonymous pull limit per IP address, unlike Docker Hub's (README).
  image       = "public.ecr.aws/example/micro-service" # pushed by CI, tagged with the commit
  app_version = "3f97376c0ffee3f97376c0ffee3f97376c0ffee0"

  # OS updates are explicit: a new Flatcar release rolls the fleet only when this changes.
  flatcar_version = "4152.2.0"

  vpc_id               = "vpc-0123456789abcdef0"
  lb_subnet_ids        = ["subnet-0aaa0000000000001", "subnet-0bbb0000000000002"] # public, two AZs
  instance_subnet_ids  = ["subnet-0ccc0000000000003", "subnet-0ddd0000000000004"] # private, with NAT
  allowed_client_cidrs = ["0.0.0.0/0"]

  certificate_arn = "arn:aws:acm:us-east-1:123456789012:certificate/00000000-0000-0000-0000-000000000000" # optional: HTTPS, 80 -> 443

  tags = { Team = "web" }
}

output "url" {
  value = module.micro_service.app_url
}
