resource "aws_sqs_queue" "rule_errors" {
  name                      = "${var.prefix}-rule-errors"
  kms_master_key_id         = aws_kms_key.this.arn
  message_retention_seconds = 1209600
  tags = merge(local.tags, {
    "postoffice:role" = "rule-errors"
  })
}

data "aws_iam_policy_document" "rule_errors_queue" {
  statement {
    sid       = "DenyInsecureTransport"
    effect    = "Deny"
    actions   = ["sqs:*"]
    resources = [aws_sqs_queue.rule_errors.arn]
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

resource "aws_sqs_queue_policy" "rule_errors" {
  queue_url = aws_sqs_queue.rule_errors.id
  policy    = data.aws_iam_policy_document.rule_errors_queue.json
}

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
