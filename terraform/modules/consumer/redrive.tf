# The consumer's redrive topic: `postoffice dlq redrive` publishes each genuine dead-lettered
# notification here again, and SNS delivers it to this consumer only, through the same endpoint,
# delivery policy and dead-letter queue as the event topics (so a handler that still fails sends
# it back to the queue after SNS's retries). Every deployment (separate bridge, embedded, container)
# is redriven the same way: nothing invokes a handler directly. Its name ends in the lower-case
# consumer name, so it never names an event (event topics are `<prefix>-<EVENT>`).
locals {
  redrive_topic_name = "${local.prefix}-${var.name}-redrive"
  redrive_topic_arn  = "${var.platform.topic_arn_prefix}${var.name}-redrive"
  # What the endpoint accepts: the subscribed events' topics and the redrive topic.
  endpoint_topic_arns = concat(local.topic_arns, [local.redrive_topic_arn])
  # docs/contracts.md, "Environment": on the redrive topic, the endpoint and the handler accept
  # only envelopes of the events this consumer subscribes to.
  redrive_environment = {
    POSTOFFICE_REDRIVE_TOPIC_ARN = local.redrive_topic_arn
    POSTOFFICE_REDRIVE_EVENTS    = join(",", sort(local.catalog.subscribes))
  }
  # SNS retries deliveries from the redrive topic as from the event topics: the delivery policy
  # of the first subscribed event that has one (the event module's default for every event of
  # the complete example).
  redrive_delivery_policy = try([
    for event in sort(keys(local.subscriptions)) : var.events[event].delivery_policy
    if var.events[event].delivery_policy != null
  ][0], null)

  # As an event topic's policy (modules/event): the account's principals publish through IAM
  # only; no other account and no AWS service may publish, and only over TLS. Whoever IAM lets
  # publish here can inject this consumer's own events into this consumer (docs/contracts.md).
  redrive_topic_policy = {
    Version = "2012-10-17"
    Statement = [
      {
        Sid       = "AccountUsesTheTopicThroughIam"
        Effect    = "Allow"
        Principal = { AWS = "arn:${local.partition}:iam::${var.platform.account_id}:root" }
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
        Resource = local.redrive_topic_arn
      },
      {
        # https://docs.aws.amazon.com/sns/latest/dg/sns-security-best-practices.html#enforce-encryption-data-in-transit
        Sid       = "DenyInsecureTransport"
        Effect    = "Deny"
        Principal = "*"
        Action    = "sns:*"
        Resource  = local.redrive_topic_arn
        Condition = { Bool = { "aws:SecureTransport" = "false" } }
      },
    ]
  }
}

resource "aws_sns_topic" "redrive" {
  name              = local.redrive_topic_name
  kms_master_key_id = var.platform.kms_key_arn
  signature_version = 2
  delivery_policy   = local.redrive_delivery_policy
  policy            = jsonencode(local.redrive_topic_policy)
  tags              = merge(local.tags, { "postoffice:role" = "consumer-redrive" })
}

# No filter policy: every message published here passed the consumer's filter on its event
# topic before it was dead-lettered.
resource "aws_sns_topic_subscription" "redrive" {
  topic_arn                       = aws_sns_topic.redrive.arn
  protocol                        = "https"
  endpoint                        = local.endpoint_url
  endpoint_auto_confirms          = true
  confirmation_timeout_in_minutes = 2
  raw_message_delivery            = false
  redrive_policy                  = jsonencode({ deadLetterTargetArn = aws_sqs_queue.dlq.arn })

  # As the event subscriptions (main.tf): the endpoint must be able to confirm, and the queue
  # to take dead letters, before SNS sends anything.
  depends_on = [
    aws_sqs_queue.dlq,
    aws_lambda_permission.bridge_url,
    aws_lambda_permission.bridge_invoke,
    aws_iam_role_policy.bridge,
    aws_ecs_service.handler,
  ]
}
