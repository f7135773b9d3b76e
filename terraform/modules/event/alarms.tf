locals {
  alarm_actions = [var.platform.oncall_topic_arn]
}

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
  alarm_actions       = local.alarm_actions
  ok_actions          = local.alarm_actions
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
  alarm_actions       = local.alarm_actions
  ok_actions          = local.alarm_actions
  tags                = local.tags
}

# IoT rule metrics (https://docs.aws.amazon.com/iot/latest/developerguide/metrics_dimensions.html):
# ParseError and RuleMessageThrottled carry the RuleName dimension; Failure and
# ErrorActionFailure carry RuleName and ActionType, whose values the documentation does not list.
# An alarm on a guessed ActionType would never fire, so those two are Metrics Insights queries
# that sum over every ActionType of the rule.
locals {
  rule_action_alarms = {
    failures = {
      rule        = local.rule_name
      metric      = "Failure"
      threshold   = var.alarm_thresholds.rule_failures
      description = "The IoT rule ${local.rule_name} failed to publish ${var.event_name} to SNS; its error action kept each message in the rule-errors queue. Runbook: docs/runbook.md#iot-rule-errors"
    }
    error-action-failures = {
      rule        = local.rule_name
      metric      = "ErrorActionFailure"
      threshold   = 1
      description = "The IoT rule ${local.rule_name} failed to publish ${var.event_name} and then failed to keep it in the rule-errors queue: those messages are lost. Runbook: docs/runbook.md#iot-rule-error-action-failures"
    }
    rejected-error-action-failures = {
      rule        = local.rejected_rule_name
      metric      = "ErrorActionFailure"
      threshold   = 1
      description = "The IoT rule ${local.rejected_rule_name} could not keep rejected ${var.event_name} device messages in the rejected-device-messages queue nor in the rule-errors queue: those messages are lost. Runbook: docs/runbook.md#iot-rule-error-action-failures"
    }
  }
  rule_alarms = {
    throttled = {
      metric      = "RuleMessageThrottled"
      description = "IoT Core throttled messages for the rule ${local.rule_name}: those ${var.event_name} messages were dropped. Runbook: docs/runbook.md#iot-rule-throttled"
    }
    parse-errors = {
      metric      = "ParseError"
      description = "Devices published ${var.event_name} messages that are not JSON; the rule ${local.rule_name} dropped them. Runbook: docs/runbook.md#iot-rule-parse-errors"
    }
  }
}

resource "aws_cloudwatch_metric_alarm" "rule_action" {
  for_each            = var.actor_published ? local.rule_action_alarms : {}
  alarm_name          = "${local.topic_name}-rule-${each.key}"
  alarm_description   = each.value.description
  evaluation_periods  = 1
  comparison_operator = "GreaterThanOrEqualToThreshold"
  threshold           = each.value.threshold
  treat_missing_data  = "notBreaching"
  alarm_actions       = local.alarm_actions
  ok_actions          = local.alarm_actions
  tags                = local.tags

  metric_query {
    id          = "m"
    label       = "${each.value.metric} of ${each.value.rule}, every action type"
    expression  = "SELECT SUM(${each.value.metric}) FROM SCHEMA(\"AWS/IoT\", ActionType, RuleName) WHERE RuleName = '${each.value.rule}'"
    period      = 300
    return_data = true
  }
}

resource "aws_cloudwatch_metric_alarm" "rule" {
  for_each            = var.actor_published ? local.rule_alarms : {}
  alarm_name          = "${local.topic_name}-rule-${each.key}"
  alarm_description   = each.value.description
  namespace           = "AWS/IoT"
  metric_name         = each.value.metric
  dimensions          = { RuleName = aws_iot_topic_rule.this[0].name }
  statistic           = "Sum"
  period              = 300
  evaluation_periods  = 1
  comparison_operator = "GreaterThanOrEqualToThreshold"
  threshold           = 1
  treat_missing_data  = "notBreaching"
  alarm_actions       = local.alarm_actions
  ok_actions          = local.alarm_actions
  tags                = local.tags
}
