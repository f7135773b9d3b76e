data "aws_region" "current" {}

locals {
  prefix        = var.platform.prefix
  bridge_name   = "${local.prefix}-${var.name}-bridge"
  handler_name  = "${local.prefix}-${var.name}-handler"
  dlq_name      = "${local.prefix}-${var.name}-dlq"
  region        = data.aws_region.current.name
  topic_arns    = sort([for subscription in values(var.events) : subscription.topic_arn])
  tags          = merge(var.platform.tags, var.tags, { "postoffice:consumer" = var.name })
  log_retention = var.log_retention_days
  functions = {
    bridge  = local.bridge_name
    handler = local.handler_name
  }
}

# One dead-letter queue per consumer, shared by its subscriptions: SNS parks a delivery here when
# the bridge answers 4xx or the delivery policy's retries run out.
resource "aws_sqs_queue" "dlq" {
  name                      = local.dlq_name
  kms_master_key_id         = var.platform.kms_key_arn
  message_retention_seconds = 1209600
  tags = merge(local.tags, {
    "postoffice:role"    = "consumer-dlq"
    "postoffice:handler" = local.handler_name
  })
}

data "aws_iam_policy_document" "dlq" {
  statement {
    sid       = "EventTopicsDeadLetterHere"
    actions   = ["sqs:SendMessage"]
    resources = [aws_sqs_queue.dlq.arn]
    principals {
      type        = "Service"
      identifiers = ["sns.amazonaws.com"]
    }
    condition {
      test     = "ArnEquals"
      variable = "aws:SourceArn"
      values   = local.topic_arns
    }
  }
  statement {
    sid       = "DenyInsecureTransport"
    effect    = "Deny"
    actions   = ["sqs:*"]
    resources = [aws_sqs_queue.dlq.arn]
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

resource "aws_sqs_queue_policy" "dlq" {
  queue_url = aws_sqs_queue.dlq.id
  policy    = data.aws_iam_policy_document.dlq.json
}

resource "aws_sns_topic_subscription" "this" {
  for_each = var.events

  topic_arn                       = each.value.topic_arn
  protocol                        = "https"
  endpoint                        = aws_lambda_function_url.bridge.function_url
  endpoint_auto_confirms          = true
  confirmation_timeout_in_minutes = 5
  raw_message_delivery            = false
  filter_policy                   = each.value.filter_policy
  filter_policy_scope             = each.value.filter_policy == null ? null : each.value.filter_policy_scope
  redrive_policy                  = jsonencode({ deadLetterTargetArn = aws_sqs_queue.dlq.arn })

  # The queue must accept SNS before the first delivery can fail into it.
  depends_on = [aws_sqs_queue_policy.dlq]
}
