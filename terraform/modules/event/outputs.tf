output "event_name" {
  description = "The event this module carries."
  value       = var.event_name
}

output "topic_arn" {
  description = "ARN of the event's SNS topic (`<prefix>-<EVENT>`)."
  value       = try(aws_sns_topic.this.arn, null)
}

output "topic_name" {
  description = "Name of the event's SNS topic."
  value       = try(aws_sns_topic.this.name, null)
}

output "rule_name" {
  description = "Name of the IoT topic rule, null when actors do not publish the event."
  value       = try(aws_iot_topic_rule.this[0].name, null)
}

output "rule_sql" {
  description = "SQL of the IoT topic rule (the envelope the rule builds), null when actors do not publish the event."
  value       = try(aws_iot_topic_rule.this[0].sql, null)
}

output "rejected_rule_name" {
  description = "Name of the IoT topic rule that keeps the device messages the rule does not accept in the rejected-device-messages queue, null when actors do not publish the event."
  value       = try(aws_iot_topic_rule.rejected[0].name, null)
}

output "rejected_rule_sql" {
  description = "SQL of the rejection rule, null when actors do not publish the event."
  value       = try(aws_iot_topic_rule.rejected[0].sql, null)
}

output "delivery_policy" {
  description = "The topic's HTTPS delivery policy (JSON): consumers' redrive topics retry as the topics of their events do."
  value       = jsonencode(local.delivery_policy)
}
