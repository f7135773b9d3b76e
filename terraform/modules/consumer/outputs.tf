output "name" {
  description = "The consumer's name, as the catalog lists it."
  value       = var.name
}

output "subscribed_events" {
  description = "Events the consumer subscribes to (from the catalog)."
  value       = sort(keys(local.subscriptions))
}

output "dlq_url" {
  description = "URL of the consumer's dead-letter queue."
  value       = try(aws_sqs_queue.dlq.url, null)
}

output "dlq_arn" {
  description = "ARN of the consumer's dead-letter queue."
  value       = try(aws_sqs_queue.dlq.arn, null)
}

output "bridge_function_name" {
  description = "Name of the bridge Lambda (null with bridge.mode = \"embedded\")."
  value       = try(aws_lambda_function.bridge[0].function_name, null)
}

output "bridge_url" {
  description = "The HTTPS endpoint SNS delivers to: the bridge's function URL, the handler's SNS endpoint alias's with bridge.mode = \"embedded\", or `container.endpoint_url` with compute = \"container\"."
  value       = try(local.endpoint_url, null)
}

output "handler_function_name" {
  description = "Name of the handler Lambda; null with compute = \"container\"."
  value       = try(aws_lambda_function.handler[0].function_name, null)
}

output "handler_function_arn" {
  description = "ARN of the handler Lambda; null with compute = \"container\"."
  value       = try(aws_lambda_function.handler[0].arn, null)
}

output "service_name" {
  description = "Name of the handler's ECS service with compute = \"container\" (null otherwise)."
  value       = try(aws_ecs_service.handler[0].name, null)
}

output "load_balancer_dns_name" {
  description = "DNS name of the load balancer the module created (compute = \"container\" without `load_balancer.listener_arn`): point `container.endpoint_url`'s host at it."
  value       = try(aws_lb.this[0].dns_name, null)
}

output "subscription_arns" {
  description = "SNS subscription ARN per event."
  value       = { for event, subscription in aws_sns_topic_subscription.this : event => try(subscription.arn, null) }
}

output "redrive_topic_arn" {
  description = "ARN of the consumer's redrive topic (`<prefix>-<name>-redrive`), where `postoffice dlq redrive` republishes its dead letters; SNS delivers them to this consumer only."
  value       = try(aws_sns_topic.redrive.arn, null)
}
