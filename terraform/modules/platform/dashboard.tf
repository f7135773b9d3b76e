locals {
  # SEARCH expressions find every topic, queue and bridge of this prefix, so events and
  # consumers added later appear without editing the dashboard.
  dashboard_widgets = [
    {
      title = "Deliveries per event topic"
      expr  = "SEARCH('{AWS/SNS,TopicName} MetricName=\"NumberOfNotificationsDelivered\" TopicName=\"${var.prefix}-\"', 'Sum', 300)"
    },
    {
      title = "Failed deliveries per event topic"
      expr  = "SEARCH('{AWS/SNS,TopicName} MetricName=\"NumberOfNotificationsFailed\" TopicName=\"${var.prefix}-\"', 'Sum', 300)"
    },
    {
      title = "Dead-letter queue depths"
      expr  = "SEARCH('{AWS/SQS,QueueName} MetricName=\"ApproximateNumberOfMessagesVisible\" QueueName=\"${var.prefix}-\"', 'Maximum', 300)"
    },
    {
      title = "Bridge latency (p99 duration)"
      expr  = "SEARCH('{AWS/Lambda,FunctionName} MetricName=\"Duration\" FunctionName=\"${var.prefix}-\"', 'p99', 300)"
    },
    {
      title = "IoT rule failures"
      expr  = "SEARCH('{AWS/IoT,RuleName,ActionType} MetricName=\"Failure\" RuleName=\"${replace(var.prefix, "-", "_")}_\"', 'Sum', 300)"
    },
    {
      title = "Event store deliveries to S3"
      expr  = "SEARCH('{AWS/Firehose,DeliveryStreamName} MetricName=\"DeliveryToS3.Records\" DeliveryStreamName=\"${var.prefix}-event-store\"', 'Sum', 300)"
    },
  ]
}

resource "aws_cloudwatch_dashboard" "this" {
  dashboard_name = var.prefix
  dashboard_body = jsonencode({
    widgets = [for index, widget in local.dashboard_widgets : {
      type   = "metric"
      x      = (index % 2) * 12
      y      = floor(index / 2) * 6
      width  = 12
      height = 6
      properties = {
        title   = widget.title
        region  = local.region
        view    = "timeSeries"
        stat    = "Sum"
        period  = 300
        metrics = [[{ expression = widget.expr, id = "m${index}", label = "" }]]
      }
    }]
  })
}
