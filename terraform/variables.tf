# ---- What runs --------------------------------------------------------------------------

variable "app_version" {
  description = "Tag of the image to run, e.g. a commit SHA. The service reports it in its Server header (micro-service/<version>) when the image was built with the same APP_VERSION. Changing it rolls the whole fleet."
  type        = string

  validation {
    # A Docker tag (first character not . or -, at most 128) that the service also
    # accepts as APP_VERSION (at most 64 characters).
    condition     = can(regex("^[A-Za-z0-9_][A-Za-z0-9_.-]{0,63}$", var.app_version))
    error_message = "app_version must be 1-64 characters of letters, digits, '_', '.' and '-', not starting with '.' or '-' (a Docker tag the service also accepts as its version)."
  }
}

variable "image" {
  description = "Image repository without a tag, e.g. docker.io/example/micro-service or public.ecr.aws/<alias>/micro-service. It must be pullable without credentials: the instances run a plain docker pull of image:app_version, and Flatcar has no ECR credential helper, so a private ECR repository is refused (use ECR Public, or any registry that allows anonymous pulls from your network)."
  type        = string

  validation {
    condition     = can(regex("^[a-z0-9][a-z0-9._/:-]*[a-z0-9]$", var.image)) && !can(regex(":[^/]*$", var.image)) && !strcontains(var.image, "@")
    error_message = "image must be a repository name without a tag or digest (the tag is app_version); a registry host may carry a port, e.g. registry.example.com:5000/micro-service."
  }

  # Private ECR under every host name it answers to: the IPv4 endpoints (with FIPS and
  # the China partition), the dual-stack ones (<account>.dkr-ecr.<region>.on.aws) and
  # interface VPC endpoints (vpce-<id>.dkr.ecr.<region>.vpce.amazonaws.com). ECR Public
  # (public.ecr.aws) is a different host and stays allowed.
  validation {
    condition = !anytrue([for pattern in [
      "^[0-9]{12}\\.dkr\\.ecr(-fips)?\\.[a-z0-9-]+\\.amazonaws\\.com(\\.cn)?(/|:|$)",
      "^[0-9]{12}\\.dkr-ecr(-fips)?\\.[a-z0-9-]+\\.on\\.aws(/|:|$)",
      "^vpce-[a-z0-9-]+\\.dkr\\.ecr\\.[a-z0-9-]+\\.vpce\\.amazonaws\\.com(\\.cn)?(/|:|$)",
    ] : can(regex(pattern, var.image))])
    error_message = "image is in a private ECR registry, which the instances cannot pull from: docker on Flatcar has no ECR credentials (an instance profile alone does not log docker in). Use ECR Public (public.ecr.aws/...) or a registry that allows anonymous pulls."
  }
}

variable "app_port" {
  description = "Port the instances publish the container on; the ALB forwards to it and health-checks it. Inside the container the service listens on 8080. Fixed for the life of a deployment: a change is refused at plan time while a fleet runs (it cannot roll without an outage)."
  type        = number
  default     = 8080

  validation {
    condition     = var.app_port >= 1024 && var.app_port <= 65535 && floor(var.app_port) == var.app_port
    error_message = "app_port must be a whole number from 1024 to 65535."
  }
}

variable "health_failure_rate" {
  description = "HEALTH_FAILURE_RATE of the service: the fraction of /health calls it fails on purpose. The health-check thresholds below are chosen for 0.1 (see README.md)."
  type        = number
  default     = 0.1

  validation {
    condition     = var.health_failure_rate >= 0 && var.health_failure_rate <= 1
    error_message = "health_failure_rate must be between 0 and 1."
  }
}

variable "shutdown_timeout" {
  description = "SHUTDOWN_TIMEOUT of the service, in seconds: after SIGTERM it finishes requests in flight for at most this long. Docker's stop timeout is 5 s longer, systemd's 10 s longer still."
  type        = number
  default     = 5

  validation {
    condition     = var.shutdown_timeout >= 1 && var.shutdown_timeout <= 60 && floor(var.shutdown_timeout) == var.shutdown_timeout
    error_message = "shutdown_timeout must be a whole number of seconds from 1 to 60."
  }
}

# ---- Where it runs ----------------------------------------------------------------------

variable "name_prefix" {
  description = "Prefix of every resource name. Lower-case letters, digits and hyphens, at most 24 characters (the ALB name adds '-alb' and must stay within 32)."
  type        = string
  default     = "micro-service"

  validation {
    condition     = can(regex("^[a-z][a-z0-9-]{0,22}[a-z0-9]$", var.name_prefix))
    error_message = "name_prefix must be 2-24 lower-case letters, digits or hyphens, starting with a letter and not ending with a hyphen."
  }
}

variable "vpc_id" {
  description = "VPC of the load balancer and the instances."
  type        = string

  validation {
    condition     = can(regex("^vpc-[0-9a-f]+$", var.vpc_id))
    error_message = "vpc_id must look like vpc-0123456789abcdef0."
  }
}

variable "instance_subnet_ids" {
  description = "Subnets of the instances, ideally one per Availability Zone of the load balancer. Instances need a way out to pull the image: a NAT gateway, VPC endpoints (ECR), or public subnets with associate_public_ip_address = true."
  type        = list(string)

  validation {
    condition     = length(var.instance_subnet_ids) >= 1 && alltrue([for s in var.instance_subnet_ids : can(regex("^subnet-[0-9a-f]+$", s))])
    error_message = "instance_subnet_ids must hold at least one subnet ID (subnet-...)."
  }
}

variable "lb_subnet_ids" {
  description = "Subnets of the load balancer, in at least two Availability Zones (an ALB requirement); public subnets for an internet-facing ALB."
  type        = list(string)

  validation {
    condition     = length(var.lb_subnet_ids) >= 2 && alltrue([for s in var.lb_subnet_ids : can(regex("^subnet-[0-9a-f]+$", s))])
    error_message = "lb_subnet_ids must hold at least two subnet IDs (subnet-...), in different Availability Zones."
  }
}

variable "associate_public_ip_address" {
  description = "Give instances a public IPv4 address. Only for public instance subnets without NAT, so that instances can pull the image; the security group still admits nothing but the ALB."
  type        = bool
  default     = false
}

variable "internal" {
  description = "Make the load balancer internal (reachable from inside the VPC only). Fixed while the load balancer exists: a change needs a new ALB, so it is refused at plan time."
  type        = bool
  default     = false
}

variable "allowed_client_cidrs" {
  description = "IPv4 CIDR blocks allowed to reach the load balancer's listeners, e.g. [\"0.0.0.0/0\"] for a public service. No default: opening a service to the internet should be a decision."
  type        = list(string)

  validation {
    condition     = length(var.allowed_client_cidrs) >= 1 && alltrue([for c in var.allowed_client_cidrs : can(cidrhost(c, 0)) && !strcontains(c, ":")])
    error_message = "allowed_client_cidrs must hold at least one IPv4 CIDR block, e.g. 203.0.113.0/24."
  }
}

variable "instance_egress_cidrs" {
  description = "IPv4 CIDR blocks instances may reach on 443 (HTTPS) to pull the image: the registry and its CDN, which have no fixed addresses. Narrow it with VPC endpoints or a proxy. DNS (VPC resolver), instance metadata and the Amazon Time Sync Service are not subject to security groups."
  type        = list(string)
  default     = ["0.0.0.0/0"]

  validation {
    condition     = length(var.instance_egress_cidrs) >= 1 && alltrue([for c in var.instance_egress_cidrs : can(cidrhost(c, 0)) && !strcontains(c, ":")])
    error_message = "instance_egress_cidrs must hold at least one IPv4 CIDR block: with none, instances cannot pull the image and the apply fails only when wait_for_capacity_timeout runs out."
  }
}

variable "extra_security_group_ids" {
  description = "Further security groups for the instances, e.g. to reach a monitoring system."
  type        = list(string)
  default     = []

  validation {
    condition     = alltrue([for s in var.extra_security_group_ids : can(regex("^sg-[0-9a-f]+$", s))])
    error_message = "extra_security_group_ids must hold security group IDs (sg-...)."
  }
}

# ---- Instances ----------------------------------------------------------------------------

variable "instance_type" {
  description = "EC2 instance type; it must run var.architecture. null: t3.micro for x86_64, t4g.micro for arm64 (architecture.tf)."
  type        = string
  default     = null

  validation {
    condition     = var.instance_type == null || can(regex("^[a-z0-9-]+\\.[a-z0-9]+$", var.instance_type))
    error_message = "instance_type must look like t3.micro."
  }
}

variable "architecture" {
  description = "CPU architecture of the fleet: x86_64 or arm64 (Graviton). It picks the Flatcar AMI (Flatcar-stable-* names match both, so the AMI lookup filters on it) and the default instance_type; the image is multi-architecture."
  type        = string
  default     = "x86_64"

  validation {
    condition     = contains(["x86_64", "arm64"], var.architecture)
    error_message = "architecture must be x86_64 or arm64."
  }
}

variable "flatcar_channel" {
  description = "Flatcar release channel: stable, beta, alpha or lts."
  type        = string
  default     = "stable"

  validation {
    condition     = contains(["stable", "beta", "alpha", "lts"], var.flatcar_channel)
    error_message = "flatcar_channel must be stable, beta, alpha or lts."
  }
}

variable "flatcar_version" {
  description = "Pin a Flatcar release of the channel, e.g. 4152.2.0 (the AMI named Flatcar-<channel>-<version>-hvm of the architecture). null: the newest release of the channel, so that any apply after Flatcar publishes a release rolls the fleet, even one that changes only max_size. Pinned, an OS update is an explicit change of this value, and rolls the fleet like a new app_version. Flatcar un-publishes AMIs about 9 months after their release: update the pin regularly."
  type        = string
  default     = null

  validation {
    condition     = var.flatcar_version == null || can(regex("^[0-9]+\\.[0-9]+\\.[0-9]+$", var.flatcar_version))
    error_message = "flatcar_version must be null or a Flatcar release number such as 4152.2.0."
  }
}

variable "ami_id" {
  description = "Pin an AMI instead of a Flatcar release looked up by name (it wins over flatcar_version), e.g. an AMI you copied. Flatcar un-publishes AMIs about 9 months after their release, so a pin of theirs stops new launches (and rollouts) after that: update it regularly. Changing the AMI rolls the fleet like a new app_version."
  type        = string
  default     = null

  validation {
    condition     = var.ami_id == null || can(regex("^ami-[0-9a-f]+$", var.ami_id))
    error_message = "ami_id must be null or look like ami-0123456789abcdef0."
  }
}

variable "ami_owners" {
  description = "Accounts whose AMIs may be used. The default is Flatcar's publisher account; add yours (or \"self\") to pin an AMI you copied."
  type        = list(string)
  default     = ["075585003325"]

  validation {
    condition     = length(var.ami_owners) >= 1
    error_message = "ami_owners must name at least one account (an AMI lookup without an owner can return anyone's image)."
  }
}

variable "root_volume_kms_key_id" {
  description = "KMS key ARN for the encrypted root volume; null uses the account's default EBS key (aws/ebs)."
  type        = string
  default     = null

  validation {
    condition     = var.root_volume_kms_key_id == null || can(regex("^arn:aws[a-z-]*:kms:[a-z0-9-]+:[0-9]{12}:(key/[A-Za-z0-9-]+|alias/[A-Za-z0-9/_-]+)$", var.root_volume_kms_key_id))
    error_message = "root_volume_kms_key_id must be null or a KMS key or alias ARN (arn:aws:kms:<region>:<account>:key/<id>); a bare key ID fails only at launch."
  }
}

variable "iam_instance_profile_arn" {
  description = "Instance profile for the instances, for what they need from AWS APIs (say, SSM). None by default: pulling a public image needs no AWS permissions, and docker does not use the profile's credentials for a pull."
  type        = string
  default     = null

  validation {
    condition     = var.iam_instance_profile_arn == null || can(regex("^arn:aws[a-z-]*:iam::[0-9]{12}:instance-profile/[A-Za-z0-9+=,.@_/-]+$", var.iam_instance_profile_arn))
    error_message = "iam_instance_profile_arn must be null or an instance profile ARN (arn:aws:iam::<account>:instance-profile/<name>), not a role ARN or a name."
  }
}

# ---- Fleet size and rollout ---------------------------------------------------------------

variable "min_size" {
  description = "Minimum number of instances: the floor scaling keeps, and that an apply enforces on the running group."
  type        = number
  default     = 2

  validation {
    condition     = var.min_size >= 1 && floor(var.min_size) == var.min_size
    error_message = "min_size must be a whole number of at least 1."
  }
}

variable "max_size" {
  description = "Maximum number of instances of one fleet; scaling policies stay below it. A rollout runs two fleets side by side, so the account needs room for twice the running size."
  type        = number
  default     = 4

  validation {
    condition     = var.max_size >= 1 && floor(var.max_size) == var.max_size
    error_message = "max_size must be a whole number of at least 1."
  }
}

variable "desired_capacity" {
  description = "Size of a new group: a rollout starts it at the larger of this and the running group's size (if scaling grew it), and `terraform apply` waits until that many of its instances are healthy behind the ALB. A running group's size belongs to scaling: a change of this alone changes nothing until the next rollout; min_size is the floor."
  type        = number
  default     = 2

  validation {
    condition     = var.desired_capacity >= 1 && floor(var.desired_capacity) == var.desired_capacity
    error_message = "desired_capacity must be a whole number of at least 1."
  }
}

variable "health_check_grace_period" {
  description = "Seconds after launch during which the Auto Scaling group ignores failed ELB health checks: boot, image pull and start fit well within it."
  type        = number
  default     = 180

  validation {
    condition     = var.health_check_grace_period >= 0 && var.health_check_grace_period <= 7200
    error_message = "health_check_grace_period must be between 0 and 7200 seconds."
  }
}

variable "wait_for_capacity_timeout" {
  description = "How long `terraform apply` waits for a new fleet to become healthy behind the ALB before it fails (and leaves the old fleet serving)."
  type        = string
  default     = "15m"

  validation {
    # Any zero ("0m", "0h", "00s") disables the wait, not just "0".
    condition     = can(regex("^[0-9]*[1-9][0-9]*(s|m|h)$", var.wait_for_capacity_timeout))
    error_message = "wait_for_capacity_timeout must be a duration like 15m; 0 would skip the wait that makes rollouts safe."
  }
}

# ---- Load balancer ------------------------------------------------------------------------

variable "health_check_path" {
  description = "Path the ALB health-checks on every instance."
  type        = string
  default     = "/health"

  validation {
    condition     = startswith(var.health_check_path, "/")
    error_message = "health_check_path must start with '/'."
  }
}

variable "health_check_matcher" {
  description = "HTTP status codes of a passing health check: codes from 200 to 499, comma-separated, or a range such as 200-299."
  type        = string
  default     = "200"

  validation {
    condition     = can(regex("^[2-4][0-9]{2}(-[2-4][0-9]{2})?(,[2-4][0-9]{2}(-[2-4][0-9]{2})?)*$", var.health_check_matcher))
    error_message = "health_check_matcher must be HTTP codes from 200 to 499, comma-separated or as a range, e.g. 200 or 200,204 or 200-299."
  }
}

variable "health_check_interval" {
  description = "Seconds between two health checks of an instance by one ALB node (5-300). With the thresholds below and /health failing 10% of the time, see README.md for the arithmetic."
  type        = number
  default     = 5

  validation {
    condition     = var.health_check_interval >= 5 && var.health_check_interval <= 300
    error_message = "health_check_interval must be between 5 and 300 seconds (ALB limits)."
  }
}

variable "health_check_timeout" {
  description = "Seconds without an answer after which a health check fails (2-120, less than the interval). The service answers in microseconds; this only covers the network."
  type        = number
  default     = 3

  validation {
    condition     = var.health_check_timeout >= 2 && var.health_check_timeout <= 120
    error_message = "health_check_timeout must be between 2 and 120 seconds (ALB limits)."
  }
}

variable "health_check_healthy_threshold" {
  description = "Consecutive passing checks that bring an unhealthy instance back (2-10)."
  type        = number
  default     = 3

  validation {
    condition     = var.health_check_healthy_threshold >= 2 && var.health_check_healthy_threshold <= 10
    error_message = "health_check_healthy_threshold must be between 2 and 10 (ALB limits)."
  }
}

variable "health_check_unhealthy_threshold" {
  description = "Consecutive failed checks that take an instance out (2-10). 7 makes a false eviction by the 10% of failing /health calls a rare event (months per instance) while a dead instance leaves in about 35 s; see README.md."
  type        = number
  default     = 7

  validation {
    condition     = var.health_check_unhealthy_threshold >= 2 && var.health_check_unhealthy_threshold <= 10
    error_message = "health_check_unhealthy_threshold must be between 2 and 10 (ALB limits)."
  }
}

variable "deregistration_delay" {
  description = "Seconds the ALB keeps a deregistering instance draining before it is terminated (0-3600). Requests take microseconds; 20 s covers the ALB nodes learning of the deregistration, not the 300 s default."
  type        = number
  default     = 20

  validation {
    condition     = var.deregistration_delay >= 0 && var.deregistration_delay <= 3600
    error_message = "deregistration_delay must be between 0 and 3600 seconds."
  }
}

variable "lb_idle_timeout" {
  description = "Seconds the ALB keeps an idle connection open. It must stay at least 5 s below service_idle_timeout, so that the ALB, not the service, closes idle connections (the other way round races into 502s); a plan that would break this for the instances that run is refused. Changing it alone rolls nothing (the ALB is updated in place)."
  type        = number
  default     = 60

  validation {
    condition     = var.lb_idle_timeout >= 1 && var.lb_idle_timeout <= 4000
    error_message = "lb_idle_timeout must be between 1 and 4000 seconds (ALB limits)."
  }
}

variable "service_idle_timeout" {
  description = "IDLE_TIMEOUT of the service, in seconds: how long an instance keeps an idle connection from the ALB open. At least lb_idle_timeout + 5. Changing it rolls the fleet (it is in the user data). To raise lb_idle_timeout, raise this first (one apply, a rollout), then lb_idle_timeout."
  type        = number
  default     = 75

  validation {
    condition     = var.service_idle_timeout >= 6 && var.service_idle_timeout <= 4015 && floor(var.service_idle_timeout) == var.service_idle_timeout
    error_message = "service_idle_timeout must be a whole number of seconds from 6 to 4015 (the ALB's idle timeout, 1 to 4000, plus a margin)."
  }
}

variable "desync_mitigation_mode" {
  description = "How the ALB treats requests that could desynchronise it from the service (request smuggling): strictest (only RFC 7230-compliant requests pass; the service refuses the rest anyway) or defensive."
  type        = string
  default     = "strictest"

  validation {
    condition     = contains(["defensive", "strictest"], var.desync_mitigation_mode)
    error_message = "desync_mitigation_mode must be defensive or strictest (monitor would let ambiguous requests through)."
  }
}

variable "certificate_arn" {
  description = "ACM certificate ARN. When set, the ALB also listens on 443 (HTTPS) and port 80 redirects to it."
  type        = string
  default     = null

  validation {
    condition     = var.certificate_arn == null || can(regex("^arn:aws[a-z-]*:acm:", var.certificate_arn))
    error_message = "certificate_arn must be null or an ACM certificate ARN."
  }
}

variable "ssl_policy" {
  description = "TLS policy of the HTTPS listener (an ELBSecurityPolicy-* name)."
  type        = string
  default     = "ELBSecurityPolicy-TLS13-1-2-2021-06"

  validation {
    condition     = can(regex("^ELBSecurityPolicy-[A-Za-z0-9-]+$", var.ssl_policy))
    error_message = "ssl_policy must be an ELB security policy name, e.g. ELBSecurityPolicy-TLS13-1-2-2021-06."
  }
}

variable "enable_deletion_protection" {
  description = "Protect the ALB from deletion (also by terraform destroy). Test fixtures turn it off."
  type        = bool
  default     = true
}

variable "access_logs_bucket" {
  description = "S3 bucket name for ALB access logs (its policy must let the regional ELB account write); null disables access logs."
  type        = string
  default     = null

  validation {
    condition     = var.access_logs_bucket == null || can(regex("^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$", var.access_logs_bucket))
    error_message = "access_logs_bucket must be null or an S3 bucket name (3-63 lower-case letters, digits, dots, hyphens), not an ARN or an s3:// URL."
  }
}

variable "tags" {
  description = "Tags for every resource. Provider default_tags apply too, and are also copied onto the instances and volumes the Auto Scaling group launches, which default_tags do not reach."
  type        = map(string)
  default     = {}
}

# ---- Scaling -------------------------------------------------------------------------------

variable "scaling_requests_per_target" {
  description = "Target tracking on ALB requests per instance (per minute, the ALBRequestCountPerTarget metric): the group scales between min_size and max_size to keep this. Every rollout starts the new group at the running group's size."
  type        = number
  default     = 3000

  validation {
    condition     = var.scaling_requests_per_target >= 1
    error_message = "scaling_requests_per_target must be at least 1 request per minute per instance."
  }
}

variable "scaling_cpu_utilization" {
  description = "Also track average CPU utilization of the group at this percentage (1-100); null leaves CPU out."
  type        = number
  default     = null

  validation {
    condition     = var.scaling_cpu_utilization == null ? true : var.scaling_cpu_utilization >= 1 && var.scaling_cpu_utilization <= 100
    error_message = "scaling_cpu_utilization must be null or a percentage from 1 to 100."
  }
}

# ---- Operating the fleet: logs and alarms ----------------------------------------------

variable "access_log" {
  description = "The service's ACCESS_LOG: json (one JSON object per request, which CloudWatch Logs Insights reads without a pattern), on (plain text) or off."
  type        = string
  default     = "json"

  validation {
    condition     = contains(["json", "on", "off"], var.access_log)
    error_message = "access_log must be json, on or off."
  }
}

variable "cloudwatch_logs" {
  description = "Send the container's output to a CloudWatch Logs group of the module's (Docker's awslogs driver, one stream per instance), so that it outlives the instances. false keeps it on the instance only (journal and json-file), for those who ship logs otherwise."
  type        = bool
  default     = true
}

variable "log_retention_days" {
  description = "Days CloudWatch Logs keeps the container's output; 0 keeps it forever."
  type        = number
  default     = 30

  validation {
    condition     = contains([0, 1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, 400, 545, 731, 1096, 1827, 2192, 2557, 2922, 3288, 3653], var.log_retention_days)
    error_message = "log_retention_days must be one of the values CloudWatch Logs accepts: 0 (forever), 1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, 400, 545, 731, 1096, 1827, 2192, 2557, 2922, 3288 or 3653."
  }
}

variable "log_kms_key_id" {
  description = "ARN of a KMS key to encrypt the log group with (its key policy must let logs.<region>.amazonaws.com use it); null: CloudWatch Logs' own encryption."
  type        = string
  default     = null

  validation {
    condition     = var.log_kms_key_id == null || can(regex("^arn:aws[a-z-]*:kms:[a-z0-9-]+:[0-9]{12}:key/[A-Za-z0-9-]+$", var.log_kms_key_id))
    error_message = "log_kms_key_id must be null or a KMS key ARN (arn:aws:kms:<region>:<account>:key/<id>); CloudWatch Logs takes no alias or bare key ID."
  }
}

variable "alarm_actions" {
  description = "SNS topic ARNs the alarms notify (on ALARM and back to OK). Empty: no alarms are created."
  type        = list(string)
  default     = []

  validation {
    condition     = alltrue([for a in var.alarm_actions : can(regex("^arn:aws[a-z-]*:sns:[a-z0-9-]+:[0-9]{12}:[A-Za-z0-9_.-]{1,256}$", a))])
    error_message = "alarm_actions must be SNS topic ARNs (arn:aws:sns:<region>:<account>:<topic>)."
  }
}

variable "alarm_5xx_rate_percent" {
  description = "Alarm when more than this percentage of the requests the instances answer are 5xx (3 of 5 minutes). Clients calling /health count: it fails at health_failure_rate on purpose."
  type        = number
  default     = 5

  validation {
    condition     = var.alarm_5xx_rate_percent > 0 && var.alarm_5xx_rate_percent < 100
    error_message = "alarm_5xx_rate_percent must be a percentage above 0 and below 100."
  }
}

variable "alarm_unhealthy_minutes" {
  description = "Alarm when some instance has failed the health check for this many minutes in a row; longer than a new instance takes to pass it."
  type        = number
  default     = 5

  validation {
    condition     = var.alarm_unhealthy_minutes >= 2 && var.alarm_unhealthy_minutes <= 60 && floor(var.alarm_unhealthy_minutes) == var.alarm_unhealthy_minutes
    error_message = "alarm_unhealthy_minutes must be a whole number of minutes from 2 to 60."
  }
}

variable "alarm_p99_response_time_seconds" {
  description = "Alarm when the instances' 99th percentile response time exceeds this many seconds (3 of 5 minutes)."
  type        = number
  default     = 1

  validation {
    condition     = var.alarm_p99_response_time_seconds > 0 && var.alarm_p99_response_time_seconds <= 60
    error_message = "alarm_p99_response_time_seconds must be above 0 and at most 60 (the ALB's default idle timeout)."
  }
}
