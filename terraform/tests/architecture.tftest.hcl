# An arm64 (Graviton) fleet is one variable away: architecture = "arm64" picks the arm64
# Flatcar AMI and, unless instance_type is given, an arm64 instance type; a type of the
# other architecture is refused at plan time. Against the mocked AWS provider, whose AMI
# and instance type are x86_64 unless a run overrides them with what EC2 reports for arm64.
# (An arm64 type with x86_64: validations.tftest.hcl, instance_type_of_another_architecture.)

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

run "x86_64_by_default_on_t3_micro" {
  command = plan

  assert {
    condition = (
      aws_launch_template.app.instance_type == "t3.micro"
      && data.aws_ec2_instance_type.selected.instance_type == "t3.micro"
      && anytrue([for f in data.aws_ami.flatcar.filter : f.name == "architecture" && f.values == toset(["x86_64"])])
    )
    error_message = "Without architecture and instance_type: an x86_64 AMI on t3.micro, as before arm64 existed."
  }
}

run "arm64_is_one_variable_away" {
  command = plan

  variables {
    architecture = "arm64"
  }

  override_data {
    target = data.aws_ami.flatcar
    values = { architecture = "arm64", name = "Flatcar-stable-4152.2.3-hvm" }
  }

  override_data {
    target = data.aws_ec2_instance_type.selected
    values = { supported_architectures = ["arm64"] }
  }

  assert {
    condition = (
      aws_launch_template.app.instance_type == "t4g.micro"
      && data.aws_ec2_instance_type.selected.instance_type == "t4g.micro"
    )
    error_message = "architecture = \"arm64\" alone must launch t4g.micro (and check that type), got ${aws_launch_template.app.instance_type}."
  }

  assert {
    condition     = anytrue([for f in data.aws_ami.flatcar.filter : f.name == "architecture" && f.values == toset(["arm64"])])
    error_message = "The AMI lookup must ask for arm64 Flatcar images."
  }

  # One multi-architecture manifest per version: the tag is the same on either fleet.
  assert {
    condition     = strcontains(base64decode(aws_launch_template.app.user_data), "docker.io/example/micro-service:v1")
    error_message = "The arm64 fleet must run the same image:app_version as the x86_64 one."
  }
}

run "an_explicit_arm64_type_is_kept" {
  command = plan

  variables {
    architecture  = "arm64"
    instance_type = "t4g.nano"
  }

  override_data {
    target = data.aws_ami.flatcar
    values = { architecture = "arm64" }
  }

  override_data {
    target = data.aws_ec2_instance_type.selected
    values = { supported_architectures = ["arm64"] }
  }

  assert {
    condition     = aws_launch_template.app.instance_type == "t4g.nano"
    error_message = "An instance_type given explicitly must be launched as given."
  }
}

run "an_x86_64_type_with_arm64_is_refused" {
  command = plan

  variables {
    architecture  = "arm64"
    instance_type = "t3.micro"
  }

  override_data {
    target = data.aws_ami.flatcar
    values = { architecture = "arm64" }
  }

  # The mocked t3.micro supports i386 and x86_64 (aws_mock/aws.tfmock.hcl).
  expect_failures = [aws_launch_template.app]
}

# Issue 16: the OS release can be pinned, so that a new Flatcar release rolls nothing
# until the pin changes; unpinned, the lookup takes the newest of the channel.
run "a_pinned_flatcar_release" {
  command = plan

  variables {
    flatcar_version = "4152.2.0"
  }

  assert {
    condition     = anytrue([for f in data.aws_ami.flatcar.filter : f.name == "name" && f.values == toset(["Flatcar-stable-4152.2.0-hvm"])])
    error_message = "flatcar_version must look up exactly Flatcar-stable-4152.2.0-hvm."
  }
}

run "the_newest_release_unpinned" {
  command = plan

  assert {
    condition     = anytrue([for f in data.aws_ami.flatcar.filter : f.name == "name" && f.values == toset(["Flatcar-stable-*"])]) && data.aws_ami.flatcar.most_recent
    error_message = "Without flatcar_version the lookup must take the newest Flatcar-stable-* image."
  }
}
