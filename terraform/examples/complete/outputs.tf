output "device_endpoint" {
  description = "IoT Core endpoint devices and the app connect to."
  value       = module.platform.device_endpoint
}

output "device_policy_names" {
  description = "IoT policies to attach to every device certificate at provisioning."
  value       = module.platform.device_policy_names
}

output "factory_device_policy_name" {
  description = "The device policy the factory attaches to every appliance (the rest is attached by onboarding)."
  value       = module.platform.factory_device_policy_name
}

output "household_thing_attribute" {
  description = "The thing attribute holding a device's household (set by onboarding)."
  value       = module.platform.household_thing_attribute
}

output "topic_arns" {
  description = "SNS topic ARN per event."
  value       = { for event, instance in module.event : event => instance.topic_arn }
}

output "dlq_urls" {
  description = "Dead-letter queue URL per consumer."
  value = {
    for consumer in [module.kitchen, module.telemetry, module.iot_forwarder, module.collection_unpacker] : consumer.name => consumer.dlq_url
  }
}

output "rule_errors_queue_url" {
  description = "Queue holding messages the IoT rules could not publish."
  value       = module.platform.rule_errors_queue_url
}

output "rejected_device_messages_queue_url" {
  description = "Queue holding device messages the handlers could not read (never redriven)."
  value       = module.platform.rejected_device_messages_queue_url
}

output "event_store_dlq_url" {
  description = "Queue holding events SNS could not put into the event store."
  value       = module.platform.event_store_dlq_url
}

output "dashboard_url" {
  description = "CloudWatch dashboard of the post office."
  value       = module.platform.dashboard_url
}

output "mobile" {
  description = "What the mobile app is configured with: user pool and app client, identity pool, the sign-in function URL and the IoT policy it attaches."
  value = {
    user_pool_id        = module.platform.mobile_user_pool_id
    user_pool_client_id = module.platform.mobile_user_pool_client_id
    identity_pool_id    = module.platform.mobile_identity_pool_id
    sign_in_url         = module.platform.mobile_sign_in_url
    iot_policy_name     = module.platform.mobile_iot_policy_name
  }
}
