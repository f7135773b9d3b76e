# What the event and consumer modules need from the platform. Passing the whole module instead
# would make every topic and subscription wait for all platform resources (the event store's
# lifecycle rules, the identity pool, the device policies); two outputs let consumers start
# before the event store's and the rule errors' queues exist (the provider waits about 25 s after
# creating a queue).
output "for_consumers" {
  description = "What the consumer module needs from the platform: pass `platform = module.platform.for_consumers`."
  value = {
    prefix           = var.prefix
    account_id       = local.account_id
    tags             = local.tags
    kms_key_arn      = aws_kms_key.this.arn
    topic_arn_prefix = local.topic_arn_prefix
    iot_arn_prefix   = local.iot_arn_prefix
    oncall_topic_arn = aws_sns_topic.oncall.arn
  }
}

output "for_events" {
  description = "What the event module needs from the platform: pass `platform = module.platform.for_events`."
  value = {
    prefix                             = var.prefix
    account_id                         = local.account_id
    tags                               = local.tags
    kms_key_arn                        = aws_kms_key.this.arn
    log_retention_days                 = var.log_retention_days
    iot_arn_prefix                     = local.iot_arn_prefix
    topic_arn_prefix                   = local.topic_arn_prefix
    rule_errors_queue_url              = aws_sqs_queue.rule_errors.url
    rule_errors_role_arn               = aws_iam_role.rule_errors.arn
    rejected_device_messages_queue_url = aws_sqs_queue.rejected_device_messages.url
    rejected_device_messages_role_arn  = aws_iam_role.rejected_device_messages.arn
    delivery_status_role_arn           = aws_iam_role.sns_delivery_status.arn
    event_store_stream_arn             = aws_kinesis_firehose_delivery_stream.event_store.arn
    event_store_subscription_role_arn  = aws_iam_role.event_store_subscription.arn
    event_store_dlq_arn                = aws_sqs_queue.event_store_dlq.arn
    oncall_topic_arn                   = aws_sns_topic.oncall.arn
  }

  # SNS and IoT check the roles they are handed when a topic, subscription or rule is created:
  # the roles' permissions come first.
  depends_on = [
    aws_iam_role_policy.event_store_subscription,
    aws_iam_role_policy.rule_errors,
    aws_iam_role_policy.rejected_device_messages,
    aws_iam_role_policy.sns_delivery_status,
  ]
}

output "prefix" {
  description = "Resource name prefix, passed on to the event and consumer modules."
  value       = var.prefix
}

output "account_id" {
  description = "AWS account of the post office."
  value       = local.account_id
}

output "log_retention_days" {
  description = "Retention of the platform's log groups, which the event module gives each topic's delivery-failure log group."
  value       = var.log_retention_days
}

output "tags" {
  description = "Tags the event and consumer modules add to their resources."
  value       = local.tags
}

output "kms_key_arn" {
  description = "ARN of the platform's KMS key (topics, queues, logs, event store)."
  value       = try(aws_kms_key.this.arn, null)
}

output "topic_arn_prefix" {
  description = "SNS topic ARN prefix; EVENT appended gives the event's topic (`POSTOFFICE_TOPIC_ARN_PREFIX`)."
  value       = local.topic_arn_prefix
}

output "iot_arn_prefix" {
  description = "`arn:<partition>:iot:<region>:<account>`, for IoT topic ARNs."
  value       = local.iot_arn_prefix
}

output "rule_errors_queue_arn" {
  description = "ARN of the rule-errors queue every topic rule's error action sends to."
  value       = try(aws_sqs_queue.rule_errors.arn, null)
}

output "rule_errors_queue_url" {
  description = "URL of the rule-errors queue."
  value       = try(aws_sqs_queue.rule_errors.url, null)
}

output "rule_errors_role_arn" {
  description = "Role the topic rules' error actions assume to send to the rule-errors queue."
  value       = try(aws_iam_role.rule_errors.arn, null)
}

output "rejected_device_messages_queue_arn" {
  description = "ARN of the queue the events' rejection rules keep unreadable device messages in."
  value       = try(aws_sqs_queue.rejected_device_messages.arn, null)
}

output "rejected_device_messages_queue_url" {
  description = "URL of the rejected-device-messages queue."
  value       = try(aws_sqs_queue.rejected_device_messages.url, null)
}

output "rejected_device_messages_role_arn" {
  description = "Role the events' rejection rules assume to send to the rejected-device-messages queue."
  value       = try(aws_iam_role.rejected_device_messages.arn, null)
}

output "delivery_status_role_arn" {
  description = "Role SNS assumes to log delivery status of the event topics."
  value       = try(aws_iam_role.sns_delivery_status.arn, null)
}

output "event_store_stream_arn" {
  description = "ARN of the Firehose delivery stream into the event store."
  value       = try(aws_kinesis_firehose_delivery_stream.event_store.arn, null)
}

output "event_store_subscription_role_arn" {
  description = "Role SNS assumes to put events into the event store stream."
  value       = try(aws_iam_role.event_store_subscription.arn, null)
}

output "event_store_dlq_arn" {
  description = "ARN of the queue every event topic's event-store subscription dead-letters into."
  value       = try(aws_sqs_queue.event_store_dlq.arn, null)
}

output "event_store_dlq_url" {
  description = "URL of the event-store dead-letter queue."
  value       = try(aws_sqs_queue.event_store_dlq.url, null)
}

output "event_store_bucket" {
  description = "Name of the event store bucket."
  value       = try(aws_s3_bucket.event_store.bucket, null)
}

output "glue_database_name" {
  description = "Glue database of the event store (Athena: `SELECT ... FROM <database>.events`)."
  value       = try(aws_glue_catalog_database.event_store.name, null)
}

output "oncall_topic_arn" {
  description = "SNS topic every alarm notifies."
  value       = try(aws_sns_topic.oncall.arn, null)
}

output "device_policy_names" {
  description = "IoT policies to attach to every device certificate: the base policy (connect, subscribe, receive) and the publish policies the device events are spread over. A name added here by a new event must be attached to existing certificates too (README, Device policies)."
  value       = try(concat([aws_iot_policy.device.name], [for bucket in sort(keys(aws_iot_policy.device_publish)) : aws_iot_policy.device_publish[bucket].name]), [])
}

output "factory_device_policy_name" {
  description = "The base device policy the factory attaches to every appliance's certificate: connect as its thing, and, before it has a household, wait for its pairing answer; its household's topics once paired."
  value       = try(aws_iot_policy.device.name, null)
}

output "paired_device_policy_names" {
  description = "The device publish policies onboarding attaches when it pairs an appliance with a household and detaches when it unpairs it."
  value       = try([for bucket in sort(keys(aws_iot_policy.device_publish)) : aws_iot_policy.device_publish[bucket].name], [])
}

output "device_policy_by_event" {
  description = "The device publish policy that allows each device event: an event keeps its policy when others are added."
  value       = { for event, bucket in local.device_event_buckets : event => "${var.prefix}-device-publish-${bucket}" }
}

output "mobile_iot_policy_name" {
  description = "IoT policy the app's sign-in backend attaches to each Cognito identity."
  value       = try(aws_iot_policy.mobile.name, null)
}

output "mobile_identity_pool_id" {
  description = "Cognito identity pool of the mobile app."
  value       = try(aws_cognito_identity_pool.mobile.id, null)
}

output "device_endpoint" {
  description = "IoT Core data endpoint (ATS) devices and the app connect to."
  value       = try(data.aws_iot_endpoint.data.endpoint_address, null)
}

output "dashboard_url" {
  description = "CloudWatch dashboard of the platform."
  value       = "https://${local.region}.console.aws.amazon.com/cloudwatch/home?region=${local.region}#dashboards:name=${aws_cloudwatch_dashboard.this.dashboard_name}"
}

output "mobile_user_pool_id" {
  description = "Cognito user pool of the mobile app (users and their `custom:household`)."
  value       = try(aws_cognito_user_pool.mobile.id, null)
}

output "mobile_user_pool_client_id" {
  description = "App client the mobile app signs in with (cannot write `custom:household`)."
  value       = try(aws_cognito_user_pool_client.mobile.id, null)
}

output "mobile_sign_in_url" {
  description = "Function URL (AWS_IAM) the app calls, signed with its identity pool credentials, to get the mobile IoT policy attached to its identity."
  value       = try(aws_lambda_function_url.mobile_sign_in.function_url, null)
}

output "household_thing_attribute" {
  description = "The thing attribute holding a device's household, which the device policies resolve (`iot:Connection.Thing.Attributes[...]`) and onboarding sets."
  value       = var.household_thing_attribute
}

output "device_onboarding_policy_json" {
  description = "IAM policy of the onboarding service's role (`handler.policy_json` of its consumer module): read and set things' attributes, attach and detach policies on certificates, close device connections."
  value       = data.aws_iam_policy_document.device_onboarding.json
}
