locals {
  prefix     = var.platform.prefix
  region     = data.aws_region.current.name
  topic_name = "${local.prefix}-${var.event_name}"
  # SNS writes a topic's failed-delivery logs here and creates the group itself, unencrypted and
  # kept forever, when it does not exist:
  # https://docs.aws.amazon.com/sns/latest/dg/topics-attrib-prereq.html
  delivery_failures_log_group = "sns/${local.region}/${var.platform.account_id}/${local.topic_name}/Failure"
  # IoT rule names allow only [A-Za-z0-9_]; event names are upper case, so the lower-case suffix
  # of the rejection rule never ends another event's rule name.
  rule_name          = "${replace(local.prefix, "-", "_")}_${var.event_name}"
  rejected_rule_name = "${local.rule_name}_rejected"
  tags               = merge(var.platform.tags, var.tags, { "postoffice:event" = var.event_name })

  delivery = var.http_delivery_policy
  delivery_policy = {
    http = {
      defaultHealthyRetryPolicy = {
        minDelayTarget     = local.delivery.min_delay_seconds
        maxDelayTarget     = local.delivery.max_delay_seconds
        numRetries         = local.delivery.retries
        numNoDelayRetries  = local.delivery.immediate_retries
        numMinDelayRetries = local.delivery.min_delay_retries
        numMaxDelayRetries = local.delivery.max_delay_retries
        backoffFunction    = "exponential"
      }
      disableSubscriptionOverrides = false
      defaultThrottlePolicy = {
        maxReceivesPerSecond = local.delivery.max_receives_per_second
      }
    }
  }

  # Known before the topic exists, so the topic is created with its policy.
  topic_arn = "${var.platform.topic_arn_prefix}${var.event_name}"
  # Without a policy SNS applies its default one, which allows principal "*" whenever
  # AWS:SourceOwner is the account (https://docs.aws.amazon.com/sns/latest/dg/sns-create-topic.html):
  # anyone in the account could publish any event, and a handler whose role lacks sns:Publish
  # would not be noticed. Here the account root delegates to IAM, so a principal of the account
  # needs an identity policy that allows the action (the IoT rule's role and the handlers that
  # produce the event have one); no service publishes to an event topic on its own behalf.
  topic_policy = {
    Version = "2012-10-17"
    Statement = [
      {
        Sid       = "AccountUsesTheTopicThroughIam"
        Effect    = "Allow"
        Principal = { AWS = "arn:${data.aws_partition.current.partition}:iam::${var.platform.account_id}:root" }
        # The actions of SNS's default statement, minus the legacy SNS:Receive.
        Action = [
          "sns:AddPermission",
          "sns:DeleteTopic",
          "sns:GetTopicAttributes",
          "sns:ListSubscriptionsByTopic",
          "sns:Publish",
          "sns:RemovePermission",
          "sns:SetTopicAttributes",
          "sns:Subscribe",
        ]
        Resource = local.topic_arn
      },
      {
        # https://docs.aws.amazon.com/sns/latest/dg/sns-security-best-practices.html#enforce-encryption-data-in-transit
        Sid       = "DenyInsecureTransport"
        Effect    = "Deny"
        Principal = "*"
        Action    = "sns:*"
        Resource  = local.topic_arn
        Condition = { Bool = { "aws:SecureTransport" = "false" } }
      },
    ]
  }
}

resource "aws_cloudwatch_log_group" "delivery_failures" {
  name              = local.delivery_failures_log_group
  retention_in_days = var.platform.log_retention_days
  kms_key_id        = var.platform.kms_key_arn
  tags              = local.tags
}

# Only failures are logged (HTTPS to the bridges, Firehose to the event store): successes are
# counted by NumberOfNotificationsDelivered.
resource "aws_sns_topic" "this" {
  name              = local.topic_name
  kms_master_key_id = var.platform.kms_key_arn
  signature_version = 2
  delivery_policy   = jsonencode(local.delivery_policy)
  policy            = jsonencode(local.topic_policy)

  http_failure_feedback_role_arn     = var.platform.delivery_status_role_arn
  firehose_failure_feedback_role_arn = var.platform.delivery_status_role_arn

  tags = local.tags

  # The encrypted group with its retention exists before SNS could log a failure.
  depends_on = [aws_cloudwatch_log_group.delivery_failures]
}

# The event store is the platform's record of every event: what SNS cannot put into Firehose
# (after its retries, or at once on a client error such as a denied PutRecordBatch) goes to the
# event-store dead-letter queue instead of being discarded:
# https://docs.aws.amazon.com/sns/latest/dg/sns-message-delivery-retries.html
resource "aws_sns_topic_subscription" "event_store" {
  topic_arn             = aws_sns_topic.this.arn
  protocol              = "firehose"
  endpoint              = var.platform.event_store_stream_arn
  subscription_role_arn = var.platform.event_store_subscription_role_arn
  raw_message_delivery  = true
  redrive_policy        = jsonencode({ deadLetterTargetArn = var.platform.event_store_dlq_arn })
}

data "aws_iam_policy_document" "rule_assume" {
  count = var.actor_published ? 1 : 0

  statement {
    actions = ["sts:AssumeRole"]
    principals {
      type        = "Service"
      identifiers = ["iot.amazonaws.com"]
    }
    # IoT sends both keys when it assumes a rule's role:
    # https://docs.aws.amazon.com/iot/latest/developerguide/cross-service-confused-deputy-prevention.html
    condition {
      test     = "StringEquals"
      variable = "aws:SourceAccount"
      values   = [var.platform.account_id]
    }
    condition {
      test     = "ArnEquals"
      variable = "aws:SourceArn"
      values   = ["${var.platform.iot_arn_prefix}:rule/${local.rule_name}"]
    }
  }
}

resource "aws_iam_role" "rule" {
  count              = var.actor_published ? 1 : 0
  name               = "${local.topic_name}-rule"
  assume_role_policy = data.aws_iam_policy_document.rule_assume[0].json
  tags               = local.tags
}

data "aws_iam_policy_document" "rule" {
  count = var.actor_published ? 1 : 0

  statement {
    actions   = ["sns:Publish"]
    resources = [aws_sns_topic.this.arn]
  }
  statement {
    actions   = ["kms:GenerateDataKey", "kms:Decrypt"]
    resources = [var.platform.kms_key_arn]
    condition {
      test     = "StringEquals"
      variable = "kms:ViaService"
      values   = ["sns.${local.region}.amazonaws.com"]
    }
  }
}

data "aws_region" "current" {}
data "aws_partition" "current" {}

resource "aws_iam_role_policy" "rule" {
  count  = var.actor_published ? 1 : 0
  name   = "publish-${var.event_name}"
  role   = aws_iam_role.rule[0].id
  policy = data.aws_iam_policy_document.rule[0].json
}

resource "aws_iot_topic_rule" "this" {
  count       = var.actor_published ? 1 : 0
  name        = local.rule_name
  description = "Actors publish ${var.event_name} on ${var.event_name}/HOUSEHOLD/DEVICE; the envelope of each message the handlers can read goes to ${local.topic_name}"
  enabled     = true
  sql         = local.rule_sql
  sql_version = "2016-03-23"

  sns {
    target_arn     = aws_sns_topic.this.arn
    role_arn       = aws_iam_role.rule[0].arn
    message_format = "RAW"
  }

  # docs/contracts.md, rule-errors queue: the error action message is JSON and already carries
  # the device's message as base64OriginalPayload; the action does not encode it again.
  error_action {
    sqs {
      queue_url  = var.platform.rule_errors_queue_url
      role_arn   = var.platform.rule_errors_role_arn
      use_base64 = false
    }
  }

  tags = local.tags
}

# Device messages the handlers could not read as an envelope (rule-sql.tf) are kept in one
# platform queue, counted and never delivered to a consumer: garbage from one device is not a
# 400 in every consumer's dead-letter queue.
resource "aws_iot_topic_rule" "rejected" {
  count       = var.actor_published ? 1 : 0
  name        = local.rejected_rule_name
  description = "${var.event_name} device messages the rule ${local.rule_name} does not accept go to the rejected-device-messages queue"
  enabled     = true
  sql         = local.rejected_rule_sql
  sql_version = "2016-03-23"

  sqs {
    queue_url  = var.platform.rejected_device_messages_queue_url
    role_arn   = var.platform.rejected_device_messages_role_arn
    use_base64 = false
  }

  # What the queue does not take waits in the rule-errors queue; dlq redrive refuses it there
  # (its ruleName is not the event's rule).
  error_action {
    sqs {
      queue_url  = var.platform.rule_errors_queue_url
      role_arn   = var.platform.rule_errors_role_arn
      use_base64 = false
    }
  }

  tags = local.tags
}
