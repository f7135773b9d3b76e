# compute = "container": the handler's `*-service` binary (postoffice::handler::serve) on ECS
# Fargate, ARM64, behind an HTTPS listener of an ALB the module creates or is given. The SNS
# endpoint runs in the process (bridge.mode = "embedded"); SNS delivers to container.endpoint_url.
locals {
  service_name = "${local.prefix}-${var.name}-service"
  lb_name      = "${local.prefix}-${var.name}"
  # The service's name is the handler's in the endpoint's logs and metrics.
  container_port       = try(var.container.port, 8080)
  endpoint_path        = try(regex("^https://[^/]+(/.*)$", var.container.endpoint_url)[0], "/")
  create_lb            = local.container && try(var.container.load_balancer.listener_arn == null, false)
  create_cluster       = local.container && try(var.container.cluster_arn == null, false)
  cluster_arn          = local.container ? coalesce(var.container.cluster_arn, try(aws_ecs_cluster.this[0].arn, null)) : null
  cluster_name         = local.container ? element(split("/", local.cluster_arn), 1) : null
  listener_arn         = local.container ? coalesce(var.container.load_balancer.listener_arn, try(aws_lb_listener.https[0].arn, null)) : null
  lb_security_group_id = local.container ? coalesce(var.container.load_balancer.security_group_id, try(aws_security_group.load_balancer[0].id, null)) : null
  # The LoadBalancer dimension of the ALB's metrics (app/NAME/ID), from the listener's ARN.
  lb_arn_suffix = local.container ? regex("listener/(app/[^/]+/[^/]+)/", local.listener_arn)[0] : null
  # An ECR image is pulled with the execution role, from its repository only.
  ecr_image          = local.container ? try(regex("^(\\d{12})\\.dkr\\.ecr\\.([a-z0-9-]+)\\.amazonaws\\.com/([^:@]+)", var.container.image), null) : null
  ecr_repository_arn = local.ecr_image == null ? null : "arn:${local.partition}:ecr:${local.ecr_image[1]}:${local.ecr_image[0]}:repository/${local.ecr_image[2]}"

  service_environment = local.container ? merge(var.handler.environment, local.redrive_environment, {
    POSTOFFICE_TOPIC_ARN_PREFIX = var.platform.topic_arn_prefix
    }, var.handler.idempotency_table_arn == null ? {} : {
    POSTOFFICE_IDEMPOTENCY_TABLE = trimprefix(provider::aws::arn_parse(var.handler.idempotency_table_arn).resource, "table/")
    }, var.rejected_device_messages_queue == null ? {} : {
    POSTOFFICE_REJECTED_DEVICE_MESSAGES_QUEUE_URL = var.rejected_device_messages_queue.url
    }, {
    # docs/contracts.md, "Environment": the endpoint's configuration, as the bridge's.
    POSTOFFICE_LISTEN_ADDRESS          = "0.0.0.0:${local.container_port}"
    POSTOFFICE_HANDLER_NAME            = local.service_name
    POSTOFFICE_ALLOWED_TOPIC_ARNS      = join(",", local.endpoint_topic_arns)
    POSTOFFICE_INVOKE_TIMEOUT_MS       = tostring(var.handler.timeout * 1000)
    POSTOFFICE_MAX_MESSAGE_AGE_SECONDS = tostring(var.bridge.max_message_age_seconds)
  }) : {}
}

resource "aws_cloudwatch_log_group" "service" {
  count             = local.container ? 1 : 0
  name              = "/ecs/${local.service_name}"
  retention_in_days = local.log_retention
  kms_key_id        = var.platform.kms_key_arn
  tags              = local.tags
}

# ECS assumes both roles for tasks of this account only (confused deputy):
# https://docs.aws.amazon.com/AmazonECS/latest/developerguide/task-iam-roles.html
data "aws_iam_policy_document" "ecs_tasks_assume" {
  count = local.container ? 1 : 0
  statement {
    actions = ["sts:AssumeRole"]
    principals {
      type        = "Service"
      identifiers = ["ecs-tasks.amazonaws.com"]
    }
    condition {
      test     = "StringEquals"
      variable = "aws:SourceAccount"
      values   = [var.platform.account_id]
    }
    condition {
      test     = "ArnLike"
      variable = "aws:SourceArn"
      values   = ["arn:${local.partition}:ecs:${local.region}:${var.platform.account_id}:*"]
    }
  }
}

# The task role: what the handler does (the `handler` and `bridge` policies, lambdas.tf).
resource "aws_iam_role" "task" {
  count              = local.container ? 1 : 0
  name               = local.service_name
  assume_role_policy = data.aws_iam_policy_document.ecs_tasks_assume[0].json
  tags               = local.tags
}

# The execution role: what ECS does to start a task, pull the image and ship its logs.
resource "aws_iam_role" "execution" {
  count              = local.container ? 1 : 0
  name               = "${local.service_name}-execution"
  assume_role_policy = data.aws_iam_policy_document.ecs_tasks_assume[0].json
  tags               = local.tags
}

data "aws_iam_policy_document" "execution" {
  count = local.container ? 1 : 0
  statement {
    sid       = "WriteItsLogs"
    actions   = ["logs:CreateLogStream", "logs:PutLogEvents"]
    resources = ["${aws_cloudwatch_log_group.service[0].arn}:*"]
  }
  dynamic "statement" {
    for_each = local.ecr_repository_arn == null ? [] : [local.ecr_repository_arn]
    content {
      sid       = "PullItsImage"
      actions   = ["ecr:BatchGetImage", "ecr:GetDownloadUrlForLayer"]
      resources = [statement.value]
    }
  }
  dynamic "statement" {
    # GetAuthorizationToken has no resource-level permissions:
    # https://docs.aws.amazon.com/service-authorization/latest/reference/list_amazonelasticcontainerregistry.html
    for_each = local.ecr_repository_arn == null ? [] : [1]
    content {
      sid       = "AuthenticateToTheRegistry"
      actions   = ["ecr:GetAuthorizationToken"]
      resources = ["*"]
    }
  }
}

resource "aws_iam_role_policy" "execution" {
  count  = local.container ? 1 : 0
  name   = "execution"
  role   = aws_iam_role.execution[0].id
  policy = data.aws_iam_policy_document.execution[0].json
}

resource "aws_ecs_cluster" "this" {
  count = local.create_cluster ? 1 : 0
  name  = local.service_name
  setting {
    name  = "containerInsights"
    value = "enabled"
  }
  tags = local.tags
}

resource "aws_ecs_task_definition" "handler" {
  count                    = local.container ? 1 : 0
  family                   = local.service_name
  requires_compatibilities = ["FARGATE"]
  network_mode             = "awsvpc"
  cpu                      = tostring(var.container.cpu)
  memory                   = tostring(var.container.memory)
  execution_role_arn       = aws_iam_role.execution[0].arn
  task_role_arn            = aws_iam_role.task[0].arn

  runtime_platform {
    operating_system_family = "LINUX"
    cpu_architecture        = "ARM64"
  }

  container_definitions = jsonencode([{
    name                   = "handler"
    image                  = var.container.image
    essential              = true
    readonlyRootFilesystem = true
    portMappings           = [{ containerPort = local.container_port, protocol = "tcp" }]
    environment            = [for name, value in local.service_environment : { name = name, value = value }]
    # SIGTERM, then up to 30 s to finish: the endpoint answers every request within 14 s.
    stopTimeout = 30
    logConfiguration = {
      logDriver = "awslogs"
      options = {
        awslogs-group         = aws_cloudwatch_log_group.service[0].name
        awslogs-region        = local.region
        awslogs-stream-prefix = "handler"
      }
    }
  }])

  tags       = local.tags
  depends_on = [aws_iam_role_policy.handler, aws_iam_role_policy.bridge, aws_iam_role_policy.unpacker]
}

resource "aws_security_group" "load_balancer" {
  count       = local.create_lb ? 1 : 0
  name        = "${local.lb_name}-load-balancer"
  description = "The HTTPS listener SNS delivers to for consumer ${var.name}"
  vpc_id      = var.container.vpc_id
  tags        = local.tags
}

# SNS delivers from AWS's public address space, with no ranges of its own to allow; every request
# is authenticated by its SNS signature in the service.
resource "aws_vpc_security_group_ingress_rule" "load_balancer_https" {
  for_each          = local.create_lb ? { ipv4 = "0.0.0.0/0" } : {}
  security_group_id = aws_security_group.load_balancer[0].id
  description       = "SNS HTTPS deliveries"
  cidr_ipv4         = each.value
  ip_protocol       = "tcp"
  from_port         = 443
  to_port           = 443
  tags              = local.tags
}

resource "aws_vpc_security_group_egress_rule" "load_balancer_to_tasks" {
  count                        = local.create_lb ? 1 : 0
  security_group_id            = aws_security_group.load_balancer[0].id
  description                  = "To the handler's tasks"
  referenced_security_group_id = aws_security_group.tasks[0].id
  ip_protocol                  = "tcp"
  from_port                    = local.container_port
  to_port                      = local.container_port
  tags                         = local.tags
}

resource "aws_security_group" "tasks" {
  count       = local.container ? 1 : 0
  name        = "${local.service_name}-tasks"
  description = "The handler tasks of consumer ${var.name}: reached by its load balancer only"
  vpc_id      = var.container.vpc_id
  tags        = local.tags
}

resource "aws_vpc_security_group_ingress_rule" "tasks_from_load_balancer" {
  count                        = local.container ? 1 : 0
  security_group_id            = aws_security_group.tasks[0].id
  description                  = "From the load balancer"
  referenced_security_group_id = local.lb_security_group_id
  ip_protocol                  = "tcp"
  from_port                    = local.container_port
  to_port                      = local.container_port
  tags                         = local.tags
}

# The AWS APIs (SNS, IoT data, DynamoDB), SNS signing certificates, the registry and the logs
# endpoint, all over HTTPS.
resource "aws_vpc_security_group_egress_rule" "tasks_https" {
  count             = local.container ? 1 : 0
  security_group_id = aws_security_group.tasks[0].id
  description       = "AWS APIs over HTTPS"
  cidr_ipv4         = "0.0.0.0/0"
  ip_protocol       = "tcp"
  from_port         = 443
  to_port           = 443
  tags              = local.tags
}

# Public: SNS does not deliver to private HTTP(S) endpoints
# (https://docs.aws.amazon.com/sns/latest/dg/sns-http-https-endpoint-as-subscriber.html).
resource "aws_lb" "this" {
  #checkov:skip=CKV2_AWS_28:The listener takes SNS deliveries only, each authenticated by its SNS signature before anything else; a WAF web ACL can be associated by the account where it has one.
  #checkov:skip=CKV2_AWS_76:No Log4j in the path: the target is a Rust service that verifies SNS signatures; see CKV2_AWS_28.
  #checkov:skip=CKV_AWS_91:Access logs need a bucket with an ELB delivery policy; load_balancer.access_logs_bucket turns them on, and the service logs every request it answers.
  count                      = local.create_lb ? 1 : 0
  name                       = local.lb_name
  internal                   = false
  load_balancer_type         = "application"
  security_groups            = [aws_security_group.load_balancer[0].id]
  subnets                    = var.container.load_balancer.subnet_ids
  drop_invalid_header_fields = true
  enable_deletion_protection = var.container.load_balancer.deletion_protection

  dynamic "access_logs" {
    for_each = var.container.load_balancer.access_logs_bucket == null ? [] : [var.container.load_balancer.access_logs_bucket]
    content {
      bucket  = access_logs.value
      prefix  = local.lb_name
      enabled = true
    }
  }

  tags = local.tags
}

resource "aws_lb_target_group" "handler" {
  count       = local.container ? 1 : 0
  name        = local.lb_name
  port        = local.container_port
  protocol    = "HTTP"
  target_type = "ip"
  vpc_id      = var.container.vpc_id
  # The endpoint answers every request within 14 s; a draining task finishes them first.
  deregistration_delay = 20

  health_check {
    path                = "/health"
    matcher             = "200"
    interval            = 15
    timeout             = 5
    healthy_threshold   = 2
    unhealthy_threshold = 3
  }

  tags = local.tags
}

resource "aws_lb_listener" "https" {
  count             = local.create_lb ? 1 : 0
  load_balancer_arn = aws_lb.this[0].arn
  port              = 443
  protocol          = "HTTPS"
  ssl_policy        = "ELBSecurityPolicy-TLS13-1-2-2021-06"
  certificate_arn   = var.container.load_balancer.certificate_arn

  default_action {
    type             = "forward"
    target_group_arn = aws_lb_target_group.handler[0].arn
  }

  tags = local.tags
}

# On a listener the module is given: the endpoint URL's path goes to this consumer's tasks.
resource "aws_lb_listener_rule" "handler" {
  count        = local.container && !local.create_lb ? 1 : 0
  listener_arn = local.listener_arn
  priority     = var.container.load_balancer.rule_priority

  action {
    type             = "forward"
    target_group_arn = aws_lb_target_group.handler[0].arn
  }

  condition {
    path_pattern {
      values = [local.endpoint_path]
    }
  }

  tags = local.tags
}

resource "aws_ecs_service" "handler" {
  count                              = local.container ? 1 : 0
  name                               = local.service_name
  cluster                            = local.cluster_arn
  task_definition                    = aws_ecs_task_definition.handler[0].arn
  desired_count                      = var.container.desired_count
  launch_type                        = "FARGATE"
  platform_version                   = "LATEST"
  propagate_tags                     = "SERVICE"
  health_check_grace_period_seconds  = 30
  deployment_minimum_healthy_percent = 100
  deployment_maximum_percent         = 200
  # SNS confirms each subscription as soon as it is created: the tasks must answer by then.
  wait_for_steady_state = true

  network_configuration {
    subnets          = var.container.subnet_ids
    security_groups  = [aws_security_group.tasks[0].id]
    assign_public_ip = false
  }

  load_balancer {
    target_group_arn = aws_lb_target_group.handler[0].arn
    container_name   = "handler"
    container_port   = local.container_port
  }

  deployment_circuit_breaker {
    enable   = true
    rollback = true
  }

  tags = local.tags
  # The target group must be attached to a load balancer before a service can use it.
  depends_on = [aws_lb_listener.https, aws_lb_listener_rule.handler]
}
