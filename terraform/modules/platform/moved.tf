# The rule-errors queue now carries its policy itself; forgetting the old resource leaves the
# policy in place (destroying it would clear the queue's policy).
removed {
  from = aws_sqs_queue_policy.rule_errors

  lifecycle {
    destroy = false
  }
}
