resource "aws_cloudwatch_metric_alarm" "notifications_failed" {
  alarm_name          = "${local.topic_name}-notifications-failed"
  alarm_description   = "SNS failed to deliver ${var.event_name} to a consumer or the event store. Runbook: docs/runbook.md#sns-delivery-failures"
  namespace           = "AWS/SNS"
  metric_name         = "NumberOfNotificationsFailed"
  dimensions          = { TopicName = aws_sns_topic.this.name }
  statistic           = "Sum"
  period              = 300
  evaluation_periods  = 1
  comparison_operator = "GreaterThanOrEqualToThreshold"
  threshold           = var.alarm_thresholds.notifications_failed
  treat_missing_data  = "notBreaching"
  alarm_actions       = [var.platform.oncall_topic_arn]
  ok_actions          = [var.platform.oncall_topic_arn]
  tags                = local.tags
}

resource "aws_cloudwatch_metric_alarm" "notifications_failed_to_redrive" {
  alarm_name          = "${local.topic_name}-dlq-redrive-failed"
  alarm_description   = "SNS could not move a failed ${var.event_name} delivery into a dead-letter queue: the message is lost. Runbook: docs/runbook.md#sns-dlq-redrive-failures"
  namespace           = "AWS/SNS"
  metric_name         = "NumberOfNotificationsFailedToRedriveToDlq"
  dimensions          = { TopicName = aws_sns_topic.this.name }
  statistic           = "Sum"
  period              = 300
  evaluation_periods  = 1
  comparison_operator = "GreaterThanOrEqualToThreshold"
  threshold           = 1
  treat_missing_data  = "notBreaching"
  alarm_actions       = [var.platform.oncall_topic_arn]
  ok_actions          = [var.platform.oncall_topic_arn]
  tags                = local.tags
}

resource "aws_cloudwatch_metric_alarm" "rule_failures" {
  count               = var.actor_published ? 1 : 0
  alarm_name          = "${local.topic_name}-rule-failures"
  alarm_description   = "The IoT rule ${local.rule_name} failed to publish ${var.event_name} to SNS (the message went to the rule-errors queue). Runbook: docs/runbook.md#iot-rule-errors"
  namespace           = "AWS/IoT"
  metric_name         = "Failure"
  dimensions          = { RuleName = aws_iot_topic_rule.this[0].name, ActionType = "SNS" }
  statistic           = "Sum"
  period              = 300
  evaluation_periods  = 1
  comparison_operator = "GreaterThanOrEqualToThreshold"
  threshold           = var.alarm_thresholds.rule_failures
  treat_missing_data  = "notBreaching"
  alarm_actions       = [var.platform.oncall_topic_arn]
  ok_actions          = [var.platform.oncall_topic_arn]
  tags                = local.tags
}
