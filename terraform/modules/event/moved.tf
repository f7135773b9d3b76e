# Earlier address of the rule failure alarm, so that an existing deployment updates it in place
# instead of deleting and recreating an alarm of the same name.
moved {
  from = aws_cloudwatch_metric_alarm.rule_failures[0]
  to   = aws_cloudwatch_metric_alarm.rule_action["failures"]
}
