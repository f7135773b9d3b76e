# Earlier addresses of this module's resources, so that an existing deployment updates them in
# place instead of deleting and recreating alarms of the same name.
moved {
  from = aws_cloudwatch_metric_alarm.lambda_errors["bridge"]
  to   = aws_cloudwatch_metric_alarm.bridge_errors
}

moved {
  from = aws_cloudwatch_metric_alarm.lambda_errors["handler"]
  to   = aws_cloudwatch_metric_alarm.handler_errors
}

# The bridge Lambda exists with bridge.mode = "separate" only.
moved {
  from = aws_lambda_function.bridge
  to   = aws_lambda_function.bridge[0]
}

# The queue now carries its policy itself; forgetting the old resource leaves the policy in place
# (destroying it would clear the queue's policy).
removed {
  from = aws_sqs_queue_policy.dlq

  lifecycle {
    destroy = false
  }
}

# The handler's Lambda and the endpoint's function URL, permissions and alarms exist with
# compute = "lambda" only.
moved {
  from = aws_lambda_function.handler
  to   = aws_lambda_function.handler[0]
}

moved {
  from = aws_lambda_function_url.bridge
  to   = aws_lambda_function_url.bridge[0]
}

moved {
  from = aws_lambda_permission.bridge_url
  to   = aws_lambda_permission.bridge_url[0]
}

moved {
  from = aws_lambda_permission.bridge_invoke
  to   = aws_lambda_permission.bridge_invoke[0]
}

moved {
  from = aws_cloudwatch_metric_alarm.bridge_errors
  to   = aws_cloudwatch_metric_alarm.bridge_errors[0]
}

moved {
  from = aws_cloudwatch_metric_alarm.handler_errors
  to   = aws_cloudwatch_metric_alarm.handler_errors[0]
}
