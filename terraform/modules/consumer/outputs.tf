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
  description = "Function URL SNS delivers to: the bridge's, or the handler's SNS endpoint alias's with bridge.mode = \"embedded\"."
  value       = try(aws_lambda_function_url.bridge.function_url, null)
}

output "handler_function_name" {
  description = "Name of the handler Lambda (what `postoffice dlq redrive` invokes)."
  value       = try(aws_lambda_function.handler.function_name, null)
}

output "handler_function_arn" {
  description = "ARN of the handler Lambda."
  value       = try(aws_lambda_function.handler.arn, null)
}

output "subscription_arns" {
  description = "SNS subscription ARN per event."
  value       = { for event, subscription in aws_sns_topic_subscription.this : event => try(subscription.arn, null) }
}
