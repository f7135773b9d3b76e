resource "aws_sns_topic" "oncall" {
  name              = "${var.prefix}-oncall"
  kms_master_key_id = aws_kms_key.this.arn
  signature_version = 2
  tags              = local.tags
}

resource "aws_sns_topic_subscription" "oncall_email" {
  for_each  = toset(var.oncall_email_addresses)
  topic_arn = aws_sns_topic.oncall.arn
  protocol  = "email"
  endpoint  = each.value
}

resource "aws_sns_topic_subscription" "oncall_https" {
  # Endpoint URLs may carry a paging service's integration key: key them by position.
  for_each               = { for index, endpoint in nonsensitive(var.oncall_https_endpoints) : tostring(index) => endpoint }
  topic_arn              = aws_sns_topic.oncall.arn
  protocol               = "https"
  endpoint               = sensitive(each.value)
  endpoint_auto_confirms = true
}
