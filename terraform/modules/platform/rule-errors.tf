resource "aws_sqs_queue" "rule_errors" {
  name                      = local.rule_errors_queue
  kms_master_key_id         = aws_kms_key.this.arn
  message_retention_seconds = 1209600
  policy                    = data.aws_iam_policy_document.rule_errors_queue.json
  tags = merge(local.tags, {
    "postoffice:role" = "rule-errors"
  })
}

locals {
  rule_errors_queue = "${var.prefix}-rule-errors"
}

# The queue is created with its policy (one wait of the provider instead of two; see the consumer
# module's DLQ), so the policy names the queue by its ARN, known in advance.
data "aws_iam_policy_document" "rule_errors_queue" {
  statement {
    sid       = "DenyInsecureTransport"
    effect    = "Deny"
    actions   = ["sqs:*"]
    resources = ["arn:${local.partition}:sqs:${local.region}:${local.account_id}:${local.rule_errors_queue}"]
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

# IoT sends aws:SourceAccount and aws:SourceArn (the rule) when it assumes a rule's role:
# https://docs.aws.amazon.com/iot/latest/developerguide/cross-service-confused-deputy-prevention.html
data "aws_iam_policy_document" "iot_assume" {
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
      values   = ["${local.iot_arn_prefix}:rule/${replace(var.prefix, "-", "_")}_*"]
    }
  }
}

# The error action of every topic rule: a message the rule could not publish is kept here.
resource "aws_iam_role" "rule_errors" {
  name               = "${var.prefix}-rule-errors"
  assume_role_policy = data.aws_iam_policy_document.iot_assume.json
  tags               = local.tags
}

data "aws_iam_policy_document" "rule_errors" {
  statement {
    actions   = ["sqs:SendMessage"]
    resources = [aws_sqs_queue.rule_errors.arn]
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

resource "aws_iam_role_policy" "rule_errors" {
  name   = "send-to-rule-errors"
  role   = aws_iam_role.rule_errors.id
  policy = data.aws_iam_policy_document.rule_errors.json
}

resource "aws_cloudwatch_metric_alarm" "rule_errors_queue_depth" {
  alarm_name          = "${var.prefix}-rule-errors-queue-depth"
  alarm_description   = "IoT rule errors are waiting in ${aws_sqs_queue.rule_errors.name}. Runbook: docs/runbook.md#rule-errors-queue-depth"
  namespace           = "AWS/SQS"
  metric_name         = "ApproximateNumberOfMessagesVisible"
  dimensions          = { QueueName = aws_sqs_queue.rule_errors.name }
  statistic           = "Maximum"
  period              = 300
  evaluation_periods  = 1
  comparison_operator = "GreaterThanOrEqualToThreshold"
  threshold           = var.rule_errors_alarm_threshold
  treat_missing_data  = "notBreaching"
  alarm_actions       = [aws_sns_topic.oncall.arn]
  ok_actions          = [aws_sns_topic.oncall.arn]
  tags                = local.tags
}

# The queue keeps messages 14 days; after that SQS deletes them and the devices' events are lost.
resource "aws_cloudwatch_metric_alarm" "rule_errors_queue_age" {
  alarm_name          = "${var.prefix}-rule-errors-queue-age"
  alarm_description   = "The oldest message in ${aws_sqs_queue.rule_errors.name} is older than ${var.rule_errors_age_alarm_seconds} s; messages expire after 14 days. Runbook: docs/runbook.md#rule-errors-queue-age"
  namespace           = "AWS/SQS"
  metric_name         = "ApproximateAgeOfOldestMessage"
  dimensions          = { QueueName = aws_sqs_queue.rule_errors.name }
  statistic           = "Maximum"
  period              = 300
  evaluation_periods  = 1
  comparison_operator = "GreaterThanThreshold"
  threshold           = var.rule_errors_age_alarm_seconds
  treat_missing_data  = "notBreaching"
  alarm_actions       = [aws_sns_topic.oncall.arn]
  ok_actions          = [aws_sns_topic.oncall.arn]
  tags                = local.tags
}
