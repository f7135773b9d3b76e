output "device_endpoint" {
  description = "IoT Core endpoint devices and the app connect to."
  value       = module.platform.device_endpoint
}

output "topic_arns" {
  description = "SNS topic ARN per event."
  value = { for event in [
    module.cooking_requested, module.cooking_replied, module.cooking_started,
    module.cooking_finished, module.device_telemetry_reported, module.firmware_update_offered,
  ] : event.event_name => event.topic_arn }
}

output "dlq_urls" {
  description = "Dead-letter queue URL per consumer."
  value = {
    kitchen         = module.kitchen.dlq_url
    telemetry       = module.telemetry.dlq_url
    "iot-forwarder" = module.iot_forwarder.dlq_url
  }
}

output "rule_errors_queue_url" {
  description = "Queue holding messages the IoT rules could not publish."
  value       = module.platform.rule_errors_queue_url
}

output "dashboard_url" {
  description = "CloudWatch dashboard of the post office."
  value       = module.platform.dashboard_url
}
