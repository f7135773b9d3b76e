locals {
  alarm_actions = [var.platform.oncall_topic_arn]
}

resource "aws_cloudwatch_metric_alarm" "dlq_depth" {
  alarm_name          = "${local.dlq_name}-depth"
  alarm_description   = "Deliveries to consumer ${var.name} are dead-lettered in ${local.dlq_name}. Runbook: docs/runbook.md#dlq-depth"
  namespace           = "AWS/SQS"
  metric_name         = "ApproximateNumberOfMessagesVisible"
  dimensions          = { QueueName = aws_sqs_queue.dlq.name }
  statistic           = "Maximum"
  period              = 300
  evaluation_periods  = 1
  comparison_operator = "GreaterThanThreshold"
  threshold           = 0
  treat_missing_data  = "notBreaching"
  alarm_actions       = local.alarm_actions
  ok_actions          = local.alarm_actions
  tags                = local.tags
}

resource "aws_cloudwatch_metric_alarm" "dlq_age" {
  alarm_name          = "${local.dlq_name}-age"
  alarm_description   = "The oldest message in ${local.dlq_name} is older than ${var.dlq_age_alarm_seconds} s; messages expire after 14 days. Runbook: docs/runbook.md#dlq-age"
  namespace           = "AWS/SQS"
  metric_name         = "ApproximateAgeOfOldestMessage"
  dimensions          = { QueueName = aws_sqs_queue.dlq.name }
  statistic           = "Maximum"
  period              = 300
  evaluation_periods  = 1
  comparison_operator = "GreaterThanThreshold"
  threshold           = var.dlq_age_alarm_seconds
  treat_missing_data  = "notBreaching"
  alarm_actions       = local.alarm_actions
  ok_actions          = local.alarm_actions
  tags                = local.tags
}

# The bridge answers SNS with a status and never fails on purpose: any error is a crash, a
# timeout or a misconfiguration. Embedded, the same holds for the invocations through the
# endpoint's alias (dimension Resource), while direct ones (redrive) fail on purpose.
resource "aws_cloudwatch_metric_alarm" "bridge_errors" {
  count = local.container ? 0 : 1

  alarm_name        = local.embedded ? "${local.handler_name}-sns-endpoint-errors" : "${local.bridge_name}-errors"
  alarm_description = local.embedded ? "The SNS endpoint of consumer ${var.name} (its handler's function URL) returns errors. Runbook: docs/runbook.md#lambda-errors" : "The bridge Lambda of consumer ${var.name} returns errors. Runbook: docs/runbook.md#lambda-errors"
  namespace         = "AWS/Lambda"
  metric_name       = "Errors"
  dimensions = local.embedded ? {
    FunctionName = aws_lambda_function.handler[0].function_name
    Resource     = "${aws_lambda_function.handler[0].function_name}:${local.sns_endpoint_alias}"
  } : { FunctionName = aws_lambda_function.bridge[0].function_name }
  statistic           = "Sum"
  period              = 300
  evaluation_periods  = 1
  comparison_operator = "GreaterThanThreshold"
  threshold           = 0
  treat_missing_data  = "notBreaching"
  alarm_actions       = local.alarm_actions
  ok_actions          = local.alarm_actions
  tags                = local.tags
}

# A handler answers Retryable and NonRetryable as function errors on purpose; one such message is
# on-call's business only once it is dead-lettered (dlq-depth). A burst means the handler or what
# it depends on is broken: page on the share of failing invocations. Embedded, the failures of
# the deliveries through the function URL are statuses, not function errors: the endpoint's
# metrics (PostOffice/Bridge, by reason) count them.
resource "aws_cloudwatch_metric_alarm" "handler_errors" {
  count = local.container ? 0 : 1

  alarm_name          = "${local.handler_name}-errors"
  alarm_description   = "More than ${var.handler_error_alarm_percent}% of the invocations of consumer ${var.name}'s handler fail. Runbook: docs/runbook.md#lambda-errors"
  evaluation_periods  = 1
  comparison_operator = "GreaterThanThreshold"
  threshold           = var.handler_error_alarm_percent
  treat_missing_data  = "notBreaching"
  alarm_actions       = local.alarm_actions
  ok_actions          = local.alarm_actions
  tags                = local.tags

  metric_query {
    id          = "failing"
    label       = "Failing invocations (%)"
    expression  = local.embedded ? "IF(invocations >= 10, 100 * (errors + FILL(refused, 0) + FILL(failed, 0) + FILL(timed_out, 0)) / invocations, 0)" : "IF(invocations >= 10, 100 * errors / invocations, 0)"
    return_data = true
  }

  dynamic "metric_query" {
    for_each = local.embedded ? { refused = "handler_non_retryable", failed = "handler_failed", timed_out = "invoke_timed_out" } : {}
    content {
      id          = metric_query.key
      return_data = false
      metric {
        namespace   = "PostOffice/Bridge"
        metric_name = "Messages"
        dimensions  = { HandlerFunction = aws_lambda_function.handler[0].function_name, Reason = metric_query.value }
        stat        = "Sum"
        period      = 300
      }
    }
  }

  # PutMetricAlarm takes exactly one query with ReturnData true; the others must say false:
  # https://docs.aws.amazon.com/AmazonCloudWatch/latest/APIReference/API_MetricDataQuery.html
  metric_query {
    id          = "errors"
    return_data = false
    metric {
      namespace   = "AWS/Lambda"
      metric_name = "Errors"
      dimensions  = { FunctionName = aws_lambda_function.handler[0].function_name }
      stat        = "Sum"
      period      = 300
    }
  }

  metric_query {
    id          = "invocations"
    return_data = false
    metric {
      namespace   = "AWS/Lambda"
      metric_name = "Invocations"
      dimensions  = { FunctionName = aws_lambda_function.handler[0].function_name }
      stat        = "Sum"
      period      = 300
    }
  }
}

resource "aws_cloudwatch_metric_alarm" "lambda_throttles" {
  for_each            = local.functions
  alarm_name          = "${each.value}-throttles"
  alarm_description   = "The ${each.key} Lambda of consumer ${var.name} is throttled. Runbook: docs/runbook.md#lambda-throttles"
  namespace           = "AWS/Lambda"
  metric_name         = "Throttles"
  dimensions          = { FunctionName = each.key == "bridge" ? aws_lambda_function.bridge[0].function_name : aws_lambda_function.handler[0].function_name }
  statistic           = "Sum"
  period              = 300
  evaluation_periods  = 1
  comparison_operator = "GreaterThanThreshold"
  threshold           = 0
  treat_missing_data  = "notBreaching"
  alarm_actions       = local.alarm_actions
  ok_actions          = local.alarm_actions
  tags                = local.tags
}

# compute = "container": the load balancer's and ECS's metrics stand in for the Lambdas'. The
# endpoint answers 5xx on purpose for retryable failures; a burst of them means the handler is
# broken (as handler_errors above), while connection errors and missing healthy targets mean the
# service itself is down or crashing (as bridge_errors above).
locals {
  target_dimensions = local.container ? {
    TargetGroup  = aws_lb_target_group.handler[0].arn_suffix
    LoadBalancer = local.lb_arn_suffix
  } : {}
}

resource "aws_cloudwatch_metric_alarm" "service_no_healthy_targets" {
  count               = local.container ? 1 : 0
  alarm_name          = "${local.service_name}-no-healthy-targets"
  alarm_description   = "No task of consumer ${var.name}'s service passes the load balancer's health check: SNS deliveries get 503 and are retried. Runbook: docs/runbook.md#service-unhealthy"
  namespace           = "AWS/ApplicationELB"
  metric_name         = "HealthyHostCount"
  dimensions          = local.target_dimensions
  statistic           = "Minimum"
  period              = 60
  evaluation_periods  = 3
  comparison_operator = "LessThanThreshold"
  threshold           = 1
  # ALB metrics are reported only while requests flow: a quiet hour is no outage.
  # https://docs.aws.amazon.com/elasticloadbalancing/latest/application/load-balancer-cloudwatch-metrics.html
  treat_missing_data = "notBreaching"
  alarm_actions      = local.alarm_actions
  ok_actions         = local.alarm_actions
  tags               = local.tags
}

resource "aws_cloudwatch_metric_alarm" "service_connection_errors" {
  count               = local.container ? 1 : 0
  alarm_name          = "${local.service_name}-connection-errors"
  alarm_description   = "The load balancer cannot connect to consumer ${var.name}'s tasks (crashes, restarts): deliveries get 502 and are retried. Runbook: docs/runbook.md#service-unhealthy"
  namespace           = "AWS/ApplicationELB"
  metric_name         = "TargetConnectionErrorCount"
  dimensions          = local.target_dimensions
  statistic           = "Sum"
  period              = 300
  evaluation_periods  = 1
  comparison_operator = "GreaterThanThreshold"
  threshold           = 0
  treat_missing_data  = "notBreaching"
  alarm_actions       = local.alarm_actions
  ok_actions          = local.alarm_actions
  tags                = local.tags
}

# Needs Container Insights on the cluster (on in the cluster the module creates).
resource "aws_cloudwatch_metric_alarm" "service_running_tasks" {
  count               = local.container ? 1 : 0
  alarm_name          = "${local.service_name}-running-tasks"
  alarm_description   = "Consumer ${var.name}'s service runs fewer tasks than its ${try(var.container.desired_count, 0)} for 10 minutes (tasks failing to start or crashing). Runbook: docs/runbook.md#service-unhealthy"
  namespace           = "ECS/ContainerInsights"
  metric_name         = "RunningTaskCount"
  dimensions          = local.container ? { ClusterName = local.cluster_name, ServiceName = aws_ecs_service.handler[0].name } : {}
  statistic           = "Minimum"
  period              = 300
  evaluation_periods  = 2
  comparison_operator = "LessThanThreshold"
  threshold           = try(var.container.desired_count, 1)
  treat_missing_data  = "notBreaching"
  alarm_actions       = local.alarm_actions
  ok_actions          = local.alarm_actions
  tags                = local.tags
}

resource "aws_cloudwatch_metric_alarm" "service_errors" {
  count               = local.container ? 1 : 0
  alarm_name          = "${local.service_name}-errors"
  alarm_description   = "More than ${var.handler_error_alarm_percent}% of the deliveries to consumer ${var.name}'s service fail with 5xx. Runbook: docs/runbook.md#service-errors"
  evaluation_periods  = 1
  comparison_operator = "GreaterThanThreshold"
  threshold           = var.handler_error_alarm_percent
  treat_missing_data  = "notBreaching"
  alarm_actions       = local.alarm_actions
  ok_actions          = local.alarm_actions
  tags                = local.tags

  metric_query {
    id          = "failing"
    label       = "Failing deliveries (%)"
    expression  = "IF(requests >= 10, 100 * FILL(failed, 0) / requests, 0)"
    return_data = true
  }

  dynamic "metric_query" {
    for_each = { failed = "HTTPCode_Target_5XX_Count", requests = "RequestCount" }
    content {
      id          = metric_query.key
      return_data = false
      metric {
        namespace   = "AWS/ApplicationELB"
        metric_name = metric_query.value
        dimensions  = local.target_dimensions
        stat        = "Sum"
        period      = 300
      }
    }
  }
}
