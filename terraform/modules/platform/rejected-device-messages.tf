# Device messages the handlers could not read as an envelope. Each actor-published event's
# rejection rule (the event module) sends them here instead of to the event's topic, so one
# broken device or firmware fills one queue that is counted, instead of being a 400 in every
# consumer's dead-letter queue. Nothing redrives this queue: its messages are inspected and
# expire (docs/runbook.md#rejected-device-messages; format in docs/contracts.md).
locals {
  rejected_device_messages_queue = "${var.prefix}-rejected-device-messages"
}

resource "aws_sqs_queue" "rejected_device_messages" {
  name                      = local.rejected_device_messages_queue
  kms_master_key_id         = aws_kms_key.this.arn
  message_retention_seconds = 1209600
  policy                    = data.aws_iam_policy_document.rejected_device_messages_queue.json
  tags = merge(local.tags, {
    "postoffice:role" = "rejected-device-messages"
  })
}

# Created with its policy, named by its ARN known in advance (as the rule-errors queue).
data "aws_iam_policy_document" "rejected_device_messages_queue" {
  statement {
    sid       = "DenyInsecureTransport"
    effect    = "Deny"
    actions   = ["sqs:*"]
    resources = ["arn:${local.partition}:sqs:${local.region}:${local.account_id}:${local.rejected_device_messages_queue}"]
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

# Only the rejection rules (`<prefix>_<EVENT>_rejected`; event names are upper case, so no
# event's own rule ends in `_rejected`) may assume the role. IoT sends aws:SourceAccount and
# aws:SourceArn when it assumes a rule's role:
# https://docs.aws.amazon.com/iot/latest/developerguide/cross-service-confused-deputy-prevention.html
data "aws_iam_policy_document" "rejected_device_messages_assume" {
  statement {
    actions = ["sts:AssumeRole"]
    principals {
      type        = "Service"
      identifiers = ["iot.amazonaws.com"]
    }
    condition {
      test     = "StringEquals"
      variable = "aws:SourceAccount"
      values   = [local.account_id]
    }
    condition {
      test     = "ArnLike"
      variable = "aws:SourceArn"
      values   = ["${local.iot_arn_prefix}:rule/${replace(var.prefix, "-", "_")}_*_rejected"]
    }
  }
}

resource "aws_iam_role" "rejected_device_messages" {
  name               = "${var.prefix}-rejected-device-messages"
  assume_role_policy = data.aws_iam_policy_document.rejected_device_messages_assume.json
  tags               = local.tags
}

data "aws_iam_policy_document" "rejected_device_messages" {
  statement {
    actions   = ["sqs:SendMessage"]
    resources = [aws_sqs_queue.rejected_device_messages.arn]
  }
  statement {
    actions   = ["kms:GenerateDataKey", "kms:Decrypt"]
    resources = [aws_kms_key.this.arn]
    condition {
      test     = "StringEquals"
      variable = "kms:ViaService"
      values   = ["sqs.${local.region}.amazonaws.com"]
    }
  }
}

resource "aws_iam_role_policy" "rejected_device_messages" {
  name   = "send-to-rejected-device-messages"
  role   = aws_iam_role.rejected_device_messages.id
  policy = data.aws_iam_policy_document.rejected_device_messages.json
}

# A device with a bug sends the odd unreadable message; that is for the queue and the dashboard,
# not for a page. A broken firmware rollout sends them from a whole fleet: the queue keeps 14
# days, so its depth is what was rejected in that window, and the threshold is a flood.
resource "aws_cloudwatch_metric_alarm" "rejected_device_messages_depth" {
  alarm_name          = "${var.prefix}-rejected-device-messages-depth"
  alarm_description   = "At least ${var.rejected_device_messages_alarm_threshold} device messages the handlers cannot read are waiting in ${aws_sqs_queue.rejected_device_messages.name}: devices publish messages that break the contract. Runbook: docs/runbook.md#rejected-device-messages"
  namespace           = "AWS/SQS"
  metric_name         = "ApproximateNumberOfMessagesVisible"
  dimensions          = { QueueName = aws_sqs_queue.rejected_device_messages.name }
  statistic           = "Maximum"
  period              = 300
  evaluation_periods  = 1
  comparison_operator = "GreaterThanOrEqualToThreshold"
  threshold           = var.rejected_device_messages_alarm_threshold
  treat_missing_data  = "notBreaching"
  alarm_actions       = [aws_sns_topic.oncall.arn]
  ok_actions          = [aws_sns_topic.oncall.arn]
  tags                = local.tags
}
