# The load balancer, its health check and the security groups, against a mocked AWS
# provider (aws_mock/aws.tfmock.hcl gives the two security groups different IDs, so a
# rule attached to the wrong group fails).

mock_provider "aws" {
  source = "./tests/aws_mock"
}

variables {
  image                = "docker.io/example/micro-service"
  app_version          = "v1"
  vpc_id               = "vpc-0123456789abcdef0"
  lb_subnet_ids        = ["subnet-0a00000000000000a", "subnet-0b00000000000000b"]
  instance_subnet_ids  = ["subnet-0c00000000000000c", "subnet-0d00000000000000d"]
  allowed_client_cidrs = ["203.0.113.0/24", "198.51.100.0/24"]
}

run "http_by_default" {
  # Request smuggling defences (README.md, "Deployment").
  assert {
    condition = (
      aws_lb.app.load_balancer_type == "application"
      && aws_lb.app.drop_invalid_header_fields
      && aws_lb.app.desync_mitigation_mode == "strictest"
      && aws_lb.app.idle_timeout == 60
      && !aws_lb.app.internal
      && aws_lb.app.enable_deletion_protection
      && length(aws_lb.app.access_logs) == 0
    )
    error_message = "The ALB must drop invalid header fields, use the strictest desync mitigation, a 60 s idle timeout, deletion protection."
  }

  assert {
    condition = (
      aws_lb.app.security_groups == toset(["sg-0a1b000000000a1b0"])
      && aws_lb.app.subnets == toset(["subnet-0a00000000000000a", "subnet-0b00000000000000b"])
    )
    error_message = "The ALB must sit in lb_subnet_ids, with the ALB security group only."
  }

  # The README's health-check arithmetic assumes exactly these numbers.
  assert {
    condition = (
      aws_lb_target_group.app.health_check[0].enabled
      && aws_lb_target_group.app.health_check[0].protocol == "HTTP"
      && aws_lb_target_group.app.health_check[0].port == "traffic-port"
      && aws_lb_target_group.app.health_check[0].path == "/health"
      && aws_lb_target_group.app.health_check[0].matcher == "200"
      && aws_lb_target_group.app.health_check[0].interval == 5
      && aws_lb_target_group.app.health_check[0].timeout == 3
      && aws_lb_target_group.app.health_check[0].healthy_threshold == 3
      && aws_lb_target_group.app.health_check[0].unhealthy_threshold == 7
    )
    error_message = "Health check: GET /health on the traffic port, 200, every 5 s, 3 s timeout, 3 passes in, 7 failures out."
  }

  # The provider's schema keeps deregistration_delay as a string.
  assert {
    condition = (
      aws_lb_target_group.app.deregistration_delay == "20"
      && aws_lb_target_group.app.port == 8080
      && aws_lb_target_group.app.protocol == "HTTP"
      && aws_lb_target_group.app.target_type == "instance"
      && aws_lb_target_group.app.vpc_id == "vpc-0123456789abcdef0"
    )
    error_message = "Target group: instances over HTTP on app_port 8080, 20 s deregistration delay."
  }

  assert {
    condition = (
      aws_lb_listener.http.port == 80
      && aws_lb_listener.http.protocol == "HTTP"
      && aws_lb_listener.http.default_action[0].type == "forward"
      && aws_lb_listener.http.default_action[0].target_group_arn == aws_lb_target_group.app.arn
      && length(aws_lb_listener.https) == 0
      && output.app_url == "http://micro-service-alb-1234567890.us-east-1.elb.amazonaws.com"
    )
    error_message = "Without a certificate: one HTTP listener on 80 forwarding to the target group, an http:// URL."
  }

  # Security groups, as terraform/README.md lists them: clients -> ALB on the listener
  # ports, ALB -> instances on app_port only, instances -> 443 only.
  assert {
    condition = (
      toset(keys(aws_vpc_security_group_ingress_rule.alb_from_clients)) == toset(["203.0.113.0/24 port 80", "198.51.100.0/24 port 80"])
      && alltrue([for r in aws_vpc_security_group_ingress_rule.alb_from_clients :
      r.security_group_id == "sg-0a1b000000000a1b0" && r.ip_protocol == "tcp" && r.from_port == 80 && r.to_port == 80 && contains(var.allowed_client_cidrs, r.cidr_ipv4)])
    )
    error_message = "Clients may reach the ALB on port 80 only, from allowed_client_cidrs only."
  }

  assert {
    condition = (
      aws_vpc_security_group_egress_rule.alb_to_instances.security_group_id == "sg-0a1b000000000a1b0"
      && aws_vpc_security_group_egress_rule.alb_to_instances.referenced_security_group_id == "sg-0c2d000000000c2d0"
      && aws_vpc_security_group_egress_rule.alb_to_instances.ip_protocol == "tcp"
      && aws_vpc_security_group_egress_rule.alb_to_instances.from_port == 8080
      && aws_vpc_security_group_egress_rule.alb_to_instances.to_port == 8080
      && aws_vpc_security_group_egress_rule.alb_to_instances.cidr_ipv4 == null
    )
    error_message = "The ALB may reach the instance security group on app_port only."
  }

  assert {
    condition = (
      aws_vpc_security_group_ingress_rule.instance_from_alb.security_group_id == "sg-0c2d000000000c2d0"
      && aws_vpc_security_group_ingress_rule.instance_from_alb.referenced_security_group_id == "sg-0a1b000000000a1b0"
      && aws_vpc_security_group_ingress_rule.instance_from_alb.ip_protocol == "tcp"
      && aws_vpc_security_group_ingress_rule.instance_from_alb.from_port == 8080
      && aws_vpc_security_group_ingress_rule.instance_from_alb.to_port == 8080
      && aws_vpc_security_group_ingress_rule.instance_from_alb.cidr_ipv4 == null
    )
    error_message = "Instances may be reached from the ALB's security group only, on app_port only."
  }

  assert {
    condition = (
      toset(keys(aws_vpc_security_group_egress_rule.instance_to_registry)) == toset(["0.0.0.0/0"])
      && alltrue([for r in aws_vpc_security_group_egress_rule.instance_to_registry :
      r.security_group_id == "sg-0c2d000000000c2d0" && r.ip_protocol == "tcp" && r.from_port == 443 && r.to_port == 443])
    )
    error_message = "Instances may go out on 443 only (image pulls)."
  }
}

run "health_check_follows_the_variables" {
  variables {
    app_port                         = 9090
    health_check_path                = "/ping"
    health_check_matcher             = "200-299"
    health_check_interval            = 10
    health_check_timeout             = 4
    health_check_healthy_threshold   = 2
    health_check_unhealthy_threshold = 5
    deregistration_delay             = 45
    lb_idle_timeout                  = 120
    service_idle_timeout             = 135
    desync_mitigation_mode           = "defensive"
    internal                         = true
    enable_deletion_protection       = false
    access_logs_bucket               = "example-alb-logs"
    instance_egress_cidrs            = ["10.0.0.0/16"]
  }

  assert {
    condition = (
      aws_lb_target_group.app.port == 9090
      && aws_lb_target_group.app.health_check[0].path == "/ping"
      && aws_lb_target_group.app.health_check[0].matcher == "200-299"
      && aws_lb_target_group.app.health_check[0].interval == 10
      && aws_lb_target_group.app.health_check[0].timeout == 4
      && aws_lb_target_group.app.health_check[0].healthy_threshold == 2
      && aws_lb_target_group.app.health_check[0].unhealthy_threshold == 5
      && aws_lb_target_group.app.deregistration_delay == "45"
    )
    error_message = "The target group must take app_port, its health check and deregistration delay from the variables."
  }

  assert {
    condition = (
      aws_lb.app.idle_timeout == 120
      && aws_lb.app.desync_mitigation_mode == "defensive"
      && aws_lb.app.internal
      && !aws_lb.app.enable_deletion_protection
      && aws_lb.app.access_logs[0].bucket == "example-alb-logs"
      && aws_lb.app.access_logs[0].enabled
    )
    error_message = "lb_idle_timeout, desync_mitigation_mode, internal, enable_deletion_protection or access_logs_bucket did not reach the ALB."
  }

  assert {
    condition = (
      aws_vpc_security_group_egress_rule.alb_to_instances.from_port == 9090
      && aws_vpc_security_group_egress_rule.alb_to_instances.to_port == 9090
      && aws_vpc_security_group_ingress_rule.instance_from_alb.from_port == 9090
      && aws_vpc_security_group_ingress_rule.instance_from_alb.to_port == 9090
      && [for r in aws_vpc_security_group_egress_rule.instance_to_registry : r.cidr_ipv4] == ["10.0.0.0/16"]
    )
    error_message = "The ALB <-> instance rules must follow app_port; the registry rule instance_egress_cidrs."
  }
}

run "https_with_a_certificate" {
  variables {
    certificate_arn = "arn:aws:acm:us-east-1:123456789012:certificate/12345678-1234-1234-1234-123456789012"
  }

  # Port 80 only redirects; nothing is served over plain HTTP.
  assert {
    condition = (
      aws_lb_listener.http.default_action[0].type == "redirect"
      && aws_lb_listener.http.default_action[0].redirect[0].port == "443"
      && aws_lb_listener.http.default_action[0].redirect[0].protocol == "HTTPS"
      && aws_lb_listener.http.default_action[0].redirect[0].status_code == "HTTP_301"
      && coalesce(aws_lb_listener.http.default_action[0].target_group_arn, "none") == "none"
    )
    error_message = "With a certificate, port 80 must redirect permanently to HTTPS on 443 and forward nothing."
  }

  assert {
    condition = (
      length(aws_lb_listener.https) == 1
      && aws_lb_listener.https[0].port == 443
      && aws_lb_listener.https[0].protocol == "HTTPS"
      && aws_lb_listener.https[0].certificate_arn == var.certificate_arn
      && aws_lb_listener.https[0].ssl_policy == "ELBSecurityPolicy-TLS13-1-2-2021-06"
      && aws_lb_listener.https[0].default_action[0].type == "forward"
      && aws_lb_listener.https[0].default_action[0].target_group_arn == aws_lb_target_group.app.arn
    )
    error_message = "With a certificate: an HTTPS listener on 443 with it and the TLS 1.3/1.2 policy, forwarding to the target group."
  }

  # Two client ranges, two listener ports: four rules, no more.
  assert {
    condition = toset(keys(aws_vpc_security_group_ingress_rule.alb_from_clients)) == toset([
      "203.0.113.0/24 port 80", "203.0.113.0/24 port 443", "198.51.100.0/24 port 80", "198.51.100.0/24 port 443",
    ])
    error_message = "Clients must reach both listeners (80 for the redirect, 443), from allowed_client_cidrs only."
  }

  assert {
    condition     = output.app_url == "https://micro-service-alb-1234567890.us-east-1.elb.amazonaws.com"
    error_message = "With a certificate the URL must be https://, got ${output.app_url}."
  }
}
