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

# Roles SNS assumes (delivery status logs, the event store subscription). SNS documents these
# trust policies without condition keys and does not document sending aws:SourceAccount or
# aws:SourceArn when it assumes them
# (https://docs.aws.amazon.com/sns/latest/dg/topics-attrib-prereq.html,
# https://docs.aws.amazon.com/sns/latest/dg/prereqs-kinesis-data-firehose.html); a condition on a
# key SNS does not send would deny every assumption and lose the logs and the event store
# silently. Only principals allowed iam:PassRole on these roles can point a topic at them.
data "aws_iam_policy_document" "sns_assume" {
  statement {
    actions = ["sts:AssumeRole"]
    principals {
      type        = "Service"
      identifiers = ["sns.amazonaws.com"]
    }
  }
}

# SNS writes the failed-delivery logs of every Post Office topic to
# sns/<region>/<account>/<topic name>/Failure; the event module creates each group, encrypted and
# with a retention, before its topic.
resource "aws_iam_role" "sns_delivery_status" {
  name               = "${var.prefix}-sns-delivery-status"
  assume_role_policy = data.aws_iam_policy_document.sns_assume.json
  tags               = local.tags
}

data "aws_iam_policy_document" "sns_delivery_status" {
  statement {
    # The actions the SNS documentation requires, on this prefix's topic groups only: not
    # PutRetentionPolicy, which would let SNS change the retention Terraform sets.
    actions = [
      "logs:CreateLogGroup",
      "logs:CreateLogStream",
      "logs:PutLogEvents",
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
