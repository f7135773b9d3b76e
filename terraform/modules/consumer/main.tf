data "aws_region" "current" {}
data "aws_partition" "current" {}

locals {
  prefix       = var.platform.prefix
  bridge_name  = "${local.prefix}-${var.name}-bridge"
  handler_name = "${local.prefix}-${var.name}-handler"
  dlq_name     = "${local.prefix}-${var.name}-dlq"
  region       = data.aws_region.current.name
  partition    = data.aws_partition.current.partition
  # Known before the queue exists, so the queue is created with its policy: the provider waits
  # about 25 s after each change of queue attributes (ContinuousTargetOccurence 3, MinTimeout 7 s
  # in internal/service/sqs/wait.go), and a separate aws_sqs_queue_policy would add a second wait.
  dlq_arn       = "arn:${local.partition}:sqs:${local.region}:${var.platform.account_id}:${local.dlq_name}"
  tags          = merge(var.platform.tags, var.tags, { "postoffice:consumer" = var.name })
  log_retention = var.log_retention_days
  # bridge.mode = "embedded": the handler is its own SNS endpoint (postoffice::handler::run with
  # POSTOFFICE_SNS_ENDPOINT_ALIAS), behind the function URL of this alias; no bridge Lambda.
  embedded           = var.bridge.mode == "embedded"
  sns_endpoint_alias = "sns-endpoint"
  # compute = "container": the handler is an HTTP service on ECS behind an ALB (container.tf),
  # with the endpoint in the process (bridge.mode = "embedded", validated); no Lambda at all.
  container = var.compute == "container"
  functions = {
    for role, name in { bridge = local.bridge_name, handler = local.handler_name } : role => name
    if !local.container && (role == "handler" || !local.embedded)
  }
  # The Lambda SNS pushes to: the bridge, or the handler (through its alias).
  endpoint_function  = local.container ? null : local.embedded ? aws_lambda_function.handler[0].function_name : aws_lambda_function.bridge[0].function_name
  endpoint_qualifier = local.embedded && !local.container ? aws_lambda_alias.sns_endpoint[0].name : null
  # Where SNS delivers: the function URL, or the HTTPS address of the container's load balancer.
  endpoint_url = local.container ? var.container.endpoint_url : aws_lambda_function_url.bridge[0].function_url
  # The role whose policies say what the handler may do: the Lambda's, or the ECS task role.
  handler_role_id = local.container ? aws_iam_role.task[0].id : aws_iam_role.this["handler"].id

  # What the catalog gives this consumer (the catalog variable's validation names a missing one).
  catalog       = try(var.catalog.consumers[var.name], { subscribes = [], publishes = [], forwards_to_actors = [], unpacks = [] })
  subscriptions = { for event in local.catalog.subscribes : event => var.events[event].topic_arn }
  # The same ARNs composed from the prefix: the queue policy, the bridge's permissions and its
  # allowed topics need not wait for the topics (and everything else the event modules create)
  # to exist; only the subscriptions do. The events variable's validation keeps both equal.
  topic_arns         = sort([for event in local.catalog.subscribes : "${var.platform.topic_arn_prefix}${event}"])
  publishes          = local.catalog.publishes
  forwards_to_actors = local.catalog.forwards_to_actors
}

# One dead-letter queue per consumer, shared by its subscriptions: SNS parks a delivery here when
# the bridge (separate or embedded) answers 4xx or the delivery policy's retries run out.
resource "aws_sqs_queue" "dlq" {
  name                      = local.dlq_name
  kms_master_key_id         = var.platform.kms_key_arn
  message_retention_seconds = 1209600
  policy                    = data.aws_iam_policy_document.dlq.json
  # `postoffice dlq redrive` finds it by these tags and republishes to the consumer's redrive
  # topic (redrive.tf), `<prefix>-<name>-redrive`.
  tags = merge(local.tags, { "postoffice:role" = "consumer-dlq" })
}

data "aws_iam_policy_document" "dlq" {
  statement {
    sid       = "EventTopicsDeadLetterHere"
    actions   = ["sqs:SendMessage"]
    resources = [local.dlq_arn]
    principals {
      type        = "Service"
      identifiers = ["sns.amazonaws.com"]
    }
    condition {
      test     = "ArnEquals"
      variable = "aws:SourceArn"
      values   = local.endpoint_topic_arns
    }
  }
  statement {
    sid       = "DenyInsecureTransport"
    effect    = "Deny"
    actions   = ["sqs:*"]
    resources = [local.dlq_arn]
    principals {
      type        = "*"
      identifiers = ["*"]
    }
    condition {
      test     = "Bool"
      variable = "aws:SecureTransport"
      values   = ["false"]
    }
  }
}

resource "aws_sns_topic_subscription" "this" {
  for_each = local.subscriptions

  topic_arn              = each.value
  protocol               = "https"
  endpoint               = local.endpoint_url
  endpoint_auto_confirms = true
  # SNS sends the confirmation at once and the bridge confirms it within a second; the provider
  # waits at most this long for it.
  confirmation_timeout_in_minutes = 2
  raw_message_delivery            = false
  filter_policy                   = lookup(var.filter_policies, each.key, null)
  filter_policy_scope             = contains(keys(var.filter_policies), each.key) ? "MessageBody" : null
  redrive_policy                  = jsonencode({ deadLetterTargetArn = aws_sqs_queue.dlq.arn })

  # SNS confirms the subscription through the function URL, which needs both permissions, or
  # through the load balancer to a running service; the bridge (or the handler, embedded, or the
  # service) confirms with its role's bridge policy; the queue (with its policy) must accept SNS
  # before a delivery can fail into it.
  depends_on = [
    aws_sqs_queue.dlq,
    aws_lambda_permission.bridge_url,
    aws_lambda_permission.bridge_invoke,
    aws_iam_role_policy.bridge,
    aws_ecs_service.handler,
  ]
}
