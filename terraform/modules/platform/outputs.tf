output "prefix" {
  description = "Resource name prefix, passed on to the event and consumer modules."
  value       = var.prefix
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

output "device_policy_name" {
  description = "IoT policy to attach to every device certificate."
  value       = try(aws_iot_policy.device.name, null)
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
