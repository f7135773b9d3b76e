# The collection-unpacker (catalog::COLLECTION_UNPACKER; docs/contracts.md, "Event collections")
# publishes each member of a device's EVENT_COLLECTION to its own event's topic, as the device's
# event, and keeps the members it cannot publish in the platform's rejected-device-messages
# queue. Its handler may publish exactly the events the catalog lets devices collect (`unpacks`),
# never another: a member naming any other event is rejected before it is published, and IAM
# refuses it if the code ever tried.
locals {
  unpacks = local.catalog.unpacks
}

data "aws_iam_policy_document" "unpacker" {
  count = length(local.unpacks) == 0 ? 0 : 1

  statement {
    sid       = "PublishCollectedEvents"
    actions   = ["sns:Publish"]
    resources = [for event in local.unpacks : "${var.platform.topic_arn_prefix}${event}"]
  }
  statement {
    sid       = "KeepRejectedMembers"
    actions   = ["sqs:SendMessage"]
    resources = [var.rejected_device_messages_queue.arn]
  }
  statement {
    sid       = "EncryptForEncryptedTopicsAndQueue"
    actions   = ["kms:GenerateDataKey", "kms:Decrypt"]
    resources = [var.platform.kms_key_arn]
    condition {
      test     = "StringEquals"
      variable = "kms:ViaService"
      values   = ["sns.${local.region}.amazonaws.com", "sqs.${local.region}.amazonaws.com"]
    }
  }
}

resource "aws_iam_role_policy" "unpacker" {
  count  = length(local.unpacks) == 0 ? 0 : 1
  name   = "unpack-collections"
  role   = local.handler_role_id
  policy = data.aws_iam_policy_document.unpacker[0].json
}
