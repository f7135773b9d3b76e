data "aws_caller_identity" "current" {}
data "aws_region" "current" {}
data "aws_partition" "current" {}

locals {
  account_id = data.aws_caller_identity.current.account_id
  region     = data.aws_region.current.name
  partition  = data.aws_partition.current.partition

  topic_arn_prefix = "arn:${local.partition}:sns:${local.region}:${local.account_id}:${var.prefix}-"
  iot_arn_prefix   = "arn:${local.partition}:iot:${local.region}:${local.account_id}"

  tags = merge(var.tags, { "postoffice:platform" = var.prefix })
}

# Alarms and SNS delivery failures land in CloudWatch; the runbook tells on-call what to do.
resource "aws_cloudwatch_log_group" "sns_delivery_status" {
  name              = "sns/${local.region}/${local.account_id}/${var.prefix}"
  retention_in_days = var.log_retention_days
  kms_key_id        = aws_kms_key.this.arn
  tags              = local.tags
}

data "aws_iam_policy_document" "sns_assume" {
  statement {
    actions = ["sts:AssumeRole"]
    principals {
      type        = "Service"
      identifiers = ["sns.amazonaws.com"]
    }
    condition {
      test     = "StringEquals"
      variable = "aws:SourceAccount"
      values   = [local.account_id]
    }
  }
}

# SNS writes delivery status logs of every Post Office topic under sns/<region>/<account>/<topic name>.
resource "aws_iam_role" "sns_delivery_status" {
  name               = "${var.prefix}-sns-delivery-status"
  assume_role_policy = data.aws_iam_policy_document.sns_assume.json
  tags               = local.tags
}

data "aws_iam_policy_document" "sns_delivery_status" {
  statement {
    actions = [
      "logs:CreateLogGroup",
      "logs:CreateLogStream",
      "logs:PutLogEvents",
      "logs:PutMetricFilter",
      "logs:PutRetentionPolicy",
    ]
    resources = [
      "arn:${local.partition}:logs:${local.region}:${local.account_id}:log-group:sns/${local.region}/${local.account_id}/${var.prefix}-*",
      "arn:${local.partition}:logs:${local.region}:${local.account_id}:log-group:sns/${local.region}/${local.account_id}/${var.prefix}-*:log-stream:*",
    ]
  }
}

resource "aws_iam_role_policy" "sns_delivery_status" {
  name   = "delivery-status-logs"
  role   = aws_iam_role.sns_delivery_status.id
  policy = data.aws_iam_policy_document.sns_delivery_status.json
}
