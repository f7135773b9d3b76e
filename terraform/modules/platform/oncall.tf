locals {
  oncall_topic     = "${var.prefix}-oncall"
  oncall_topic_arn = "${local.topic_arn_prefix}oncall"
  # Every Post Office alarm is named <prefix>-...; CloudWatch sends aws:SourceArn (the alarm) and
  # aws:SourceAccount when it publishes an alarm's notification:
  # https://docs.aws.amazon.com/AmazonCloudWatch/latest/monitoring/US_SetupSNS.html,
  # https://docs.aws.amazon.com/sns/latest/dg/sns-access-policy-use-cases.html#source-account-versus-source-owner
  # (the key policy lets CloudWatch encrypt for the topic: kms.tf).
  oncall_topic_policy = {
    Version = "2012-10-17"
    Statement = [
      {
        Sid       = "AlarmsOfThisPostOfficePublish"
        Effect    = "Allow"
        Principal = { Service = "cloudwatch.amazonaws.com" }
        Action    = "sns:Publish"
        Resource  = local.oncall_topic_arn
        Condition = {
          ArnLike      = { "aws:SourceArn" = "arn:${local.partition}:cloudwatch:${local.region}:${local.account_id}:alarm:${var.prefix}-*" }
          StringEquals = { "aws:SourceAccount" = local.account_id }
        }
      },
      {
        # Instead of SNS's default policy, which allows principal "*" of the account
        # (AWS:SourceOwner, https://docs.aws.amazon.com/sns/latest/dg/sns-create-topic.html): the
        # account root delegates to IAM, so a principal needs an identity policy that allows it.
        Sid       = "AccountUsesTheTopicThroughIam"
        Effect    = "Allow"
        Principal = { AWS = "arn:${local.partition}:iam::${local.account_id}:root" }
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
        Resource = local.oncall_topic_arn
      },
      {
        # https://docs.aws.amazon.com/sns/latest/dg/sns-security-best-practices.html#enforce-encryption-data-in-transit
        Sid       = "DenyInsecureTransport"
        Effect    = "Deny"
        Principal = "*"
        Action    = "sns:*"
        Resource  = local.oncall_topic_arn
        Condition = { Bool = { "aws:SecureTransport" = "false" } }
      },
    ]
  }
}

resource "aws_sns_topic" "oncall" {
  name              = local.oncall_topic
  kms_master_key_id = aws_kms_key.this.arn
  signature_version = 2
  policy            = jsonencode(local.oncall_topic_policy)
  tags              = local.tags
}

resource "aws_sns_topic_subscription" "oncall_email" {
  for_each  = toset(var.oncall_email_addresses)
  topic_arn = aws_sns_topic.oncall.arn
  protocol  = "email"
  endpoint  = each.value
}

resource "aws_sns_topic_subscription" "oncall_https" {
  # Endpoint URLs may carry a paging service's integration key: key them by position.
  for_each               = { for index, endpoint in nonsensitive(var.oncall_https_endpoints) : tostring(index) => endpoint }
  topic_arn              = aws_sns_topic.oncall.arn
  protocol               = "https"
  endpoint               = sensitive(each.value)
  endpoint_auto_confirms = true
}
