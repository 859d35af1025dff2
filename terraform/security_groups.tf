# Least privilege, one rule per resource (the provider's recommended style):
#   clients  -> ALB        on the listener ports, from var.allowed_client_cidrs
#   ALB      -> instances  on var.app_port only
#   instances -> anywhere  on 443 only, to pull the image
# The groups start empty: the provider removes the default allow-all egress rule of a
# group it creates, and nothing else is allowed.

resource "aws_security_group" "alb" {
  name_prefix = "${var.name_prefix}-alb-"
  description = "Load balancer of ${var.name_prefix}: clients in, instances out"
  vpc_id      = var.vpc_id
  tags        = merge(var.tags, { Name = "${var.name_prefix}-alb" })

  lifecycle {
    create_before_destroy = true
  }
}

resource "aws_security_group" "instance" {
  name_prefix = "${var.name_prefix}-instance-"
  description = "Instances of ${var.name_prefix}: the ALB in, image pulls out"
  vpc_id      = var.vpc_id
  tags        = merge(var.tags, { Name = "${var.name_prefix}-instance" })

  lifecycle {
    create_before_destroy = true
  }
}

resource "aws_vpc_security_group_ingress_rule" "alb_from_clients" {
  for_each = {
    for pair in setproduct(var.allowed_client_cidrs, local.listener_ports) :
    "${pair[0]} port ${pair[1]}" => { cidr = pair[0], port = pair[1] }
  }

  security_group_id = aws_security_group.alb.id
  description       = "Clients to the ${each.value.port == 443 ? "HTTPS" : "HTTP"} listener"
  ip_protocol       = "tcp"
  from_port         = each.value.port
  to_port           = each.value.port
  cidr_ipv4         = each.value.cidr
  tags              = var.tags
}

resource "aws_vpc_security_group_egress_rule" "alb_to_instances" {
  security_group_id            = aws_security_group.alb.id
  description                  = "Requests and health checks to the instances"
  ip_protocol                  = "tcp"
  from_port                    = var.app_port
  to_port                      = var.app_port
  referenced_security_group_id = aws_security_group.instance.id
  tags                         = var.tags
}

resource "aws_vpc_security_group_ingress_rule" "instance_from_alb" {
  security_group_id            = aws_security_group.instance.id
  description                  = "Requests and health checks from the load balancer"
  ip_protocol                  = "tcp"
  from_port                    = var.app_port
  to_port                      = var.app_port
  referenced_security_group_id = aws_security_group.alb.id
  tags                         = var.tags
}

resource "aws_vpc_security_group_egress_rule" "instance_to_registry" {
  for_each = toset(var.instance_egress_cidrs)

  security_group_id = aws_security_group.instance.id
  description       = "HTTPS to the container registry to pull the image"
  ip_protocol       = "tcp"
  from_port         = 443
  to_port           = 443
  cidr_ipv4         = each.value
  tags              = var.tags
}
