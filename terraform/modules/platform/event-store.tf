locals {
  event_store_bucket = "${var.prefix}-event-store-${local.account_id}-${local.region}"
  # Firehose partitions by the envelope's event name and by arrival date; Glue's partition
  # projection reads the same layout, so Athena needs no crawler and no MSCK REPAIR.
  event_store_prefix = "events/event=!{partitionKeyFromQuery:event}/date=!{timestamp:yyyy-MM-dd}/"
}

resource "aws_s3_bucket" "event_store" {
  #checkov:skip=CKV_AWS_144:Cross-region replication is a per-deployment disaster-recovery decision; versioning and KMS protect the store here.
  #checkov:skip=CKV_AWS_18:Access is audited with account-wide CloudTrail data events rather than a second, unaudited log bucket.
  #checkov:skip=CKV2_AWS_62:Nothing reacts to new event-store objects; Athena reads them on demand.
  bucket = local.event_store_bucket
  tags   = local.tags

  lifecycle {
    # https://docs.aws.amazon.com/AmazonS3/latest/userguide/bucketnamingrules.html
    precondition {
      condition     = length(local.event_store_bucket) <= 63
      error_message = "The event store bucket name ${local.event_store_bucket} is ${length(local.event_store_bucket)} characters; S3 allows 63: shorten the prefix."
    }
  }
}

resource "aws_s3_bucket_ownership_controls" "event_store" {
  bucket = aws_s3_bucket.event_store.id
  rule {
    object_ownership = "BucketOwnerEnforced"
  }
}

resource "aws_s3_bucket_public_access_block" "event_store" {
  bucket                  = aws_s3_bucket.event_store.id
  block_public_acls       = true
  block_public_policy     = true
  ignore_public_acls      = true
  restrict_public_buckets = true
}

resource "aws_s3_bucket_versioning" "event_store" {
  bucket = aws_s3_bucket.event_store.id
  versioning_configuration {
    status = "Enabled"
  }
}

resource "aws_s3_bucket_server_side_encryption_configuration" "event_store" {
  bucket = aws_s3_bucket.event_store.id
  rule {
    apply_server_side_encryption_by_default {
      sse_algorithm     = "aws:kms"
      kms_master_key_id = aws_kms_key.this.arn
    }
    bucket_key_enabled = true
  }
}

resource "aws_s3_bucket_lifecycle_configuration" "event_store" {
  bucket = aws_s3_bucket.event_store.id

  rule {
    id     = "age-events"
    status = "Enabled"
    filter {}

    transition {
      days          = var.event_store.infrequent_access_after_days
      storage_class = "STANDARD_IA"
    }
    transition {
      days          = var.event_store.glacier_after_days
      storage_class = "GLACIER_IR"
    }

    dynamic "expiration" {
      for_each = var.event_store.expire_after_days > 0 ? [var.event_store.expire_after_days] : []
      content {
        days = expiration.value
      }
    }

    noncurrent_version_expiration {
      noncurrent_days = var.event_store.noncurrent_expire_after_days
    }

    abort_incomplete_multipart_upload {
      days_after_initiation = 7
    }
  }

  depends_on = [aws_s3_bucket_versioning.event_store]
}

data "aws_iam_policy_document" "event_store_bucket" {
  statement {
    sid       = "DenyInsecureTransport"
    effect    = "Deny"
    actions   = ["s3:*"]
    resources = [aws_s3_bucket.event_store.arn, "${aws_s3_bucket.event_store.arn}/*"]
    principals {
      type        = "*"
      identifiers = ["*"]
    }
    condition {
      test     = "Bool"
      variable = "aws:SecureTransport"
      values   = ["false"]
    }
  }
}

resource "aws_s3_bucket_policy" "event_store" {
  bucket     = aws_s3_bucket.event_store.id
  policy     = data.aws_iam_policy_document.event_store_bucket.json
  depends_on = [aws_s3_bucket_public_access_block.event_store]
}

resource "aws_cloudwatch_log_group" "firehose" {
  name              = "/aws/kinesisfirehose/${var.prefix}-event-store"
  retention_in_days = var.log_retention_days
  kms_key_id        = aws_kms_key.this.arn
  tags              = local.tags
}

resource "aws_cloudwatch_log_stream" "firehose_s3_delivery" {
  name           = "S3Delivery"
  log_group_name = aws_cloudwatch_log_group.firehose.name
}

# Firehose assumes its role with the account id as external id, the condition its documentation
# gives for this trust policy: https://docs.aws.amazon.com/firehose/latest/dev/controlling-access.html
data "aws_iam_policy_document" "firehose_assume" {
  statement {
    actions = ["sts:AssumeRole"]
    principals {
      type        = "Service"
      identifiers = ["firehose.amazonaws.com"]
    }
    condition {
      test     = "StringEquals"
      variable = "sts:ExternalId"
      values   = [local.account_id]
    }
  }
}

resource "aws_iam_role" "firehose" {
  name               = "${var.prefix}-event-store-firehose"
  assume_role_policy = data.aws_iam_policy_document.firehose_assume.json
  tags               = local.tags
}

data "aws_iam_policy_document" "firehose" {
  statement {
    actions = [
      "s3:AbortMultipartUpload",
      "s3:GetBucketLocation",
      "s3:GetObject",
      "s3:ListBucket",
      "s3:ListBucketMultipartUploads",
      "s3:PutObject",
    ]
    resources = [aws_s3_bucket.event_store.arn, "${aws_s3_bucket.event_store.arn}/*"]
  }
  statement {
    actions   = ["kms:GenerateDataKey", "kms:Decrypt"]
    resources = [aws_kms_key.this.arn]
    condition {
      test     = "StringEquals"
      variable = "kms:ViaService"
      values   = ["s3.${local.region}.amazonaws.com"]
    }
  }
  statement {
    actions   = ["logs:PutLogEvents"]
    resources = ["${aws_cloudwatch_log_group.firehose.arn}:log-stream:*"]
  }
}

resource "aws_iam_role_policy" "firehose" {
  name   = "write-event-store"
  role   = aws_iam_role.firehose.id
  policy = data.aws_iam_policy_document.firehose.json
}

resource "aws_kinesis_firehose_delivery_stream" "event_store" {
  name        = "${var.prefix}-event-store"
  destination = "extended_s3"

  server_side_encryption {
    enabled  = true
    key_type = "CUSTOMER_MANAGED_CMK"
    key_arn  = aws_kms_key.this.arn
  }

  extended_s3_configuration {
    role_arn            = aws_iam_role.firehose.arn
    bucket_arn          = aws_s3_bucket.event_store.arn
    prefix              = local.event_store_prefix
    error_output_prefix = "errors/!{firehose:error-output-type}/date=!{timestamp:yyyy-MM-dd}/"
    buffering_size      = var.event_store.buffering_size_mb
    buffering_interval  = var.event_store.buffering_interval_seconds
    kms_key_arn         = aws_kms_key.this.arn

    dynamic_partitioning_configuration {
      enabled = true
    }

    processing_configuration {
      enabled = true

      processors {
        type = "MetadataExtraction"
        parameters {
          parameter_name  = "MetadataExtractionQuery"
          parameter_value = "{event: .event}"
        }
        parameters {
          parameter_name  = "JsonParsingEngine"
          parameter_value = "JQ-1.6"
        }
      }

      # No AppendDelimiterToRecord: SNS already ends each record it puts into Firehose with a
      # newline (https://docs.aws.amazon.com/sns/latest/dg/firehose-archived-message-format-S3.html:
      # "line breaks separate each message", while Firehose itself concatenates records without
      # delimiters, https://docs.aws.amazon.com/firehose/latest/dev/basic-deliver.html). A second
      # delimiter would leave a blank line after every envelope.
    }

    cloudwatch_logging_options {
      enabled         = true
      log_group_name  = aws_cloudwatch_log_group.firehose.name
      log_stream_name = aws_cloudwatch_log_stream.firehose_s3_delivery.name
    }
  }

  tags = local.tags
}

# SNS topics subscribe the event store with this role (raw message delivery: the envelope only).
resource "aws_iam_role" "event_store_subscription" {
  name               = "${var.prefix}-event-store-subscription"
  assume_role_policy = data.aws_iam_policy_document.sns_assume.json
  tags               = local.tags
}

data "aws_iam_policy_document" "event_store_subscription" {
  statement {
    actions = [
      "firehose:DescribeDeliveryStream",
      "firehose:ListTagsForDeliveryStream",
      "firehose:PutRecord",
      "firehose:PutRecordBatch",
    ]
    resources = [aws_kinesis_firehose_delivery_stream.event_store.arn]
  }
}

resource "aws_iam_role_policy" "event_store_subscription" {
  name   = "put-into-event-store"
  role   = aws_iam_role.event_store_subscription.id
  policy = data.aws_iam_policy_document.event_store_subscription.json
}

resource "aws_cloudwatch_metric_alarm" "firehose_delivery_failures" {
  alarm_name          = "${var.prefix}-firehose-delivery-failures"
  alarm_description   = "The event store stream ${aws_kinesis_firehose_delivery_stream.event_store.name} fails to deliver to S3. Runbook: docs/runbook.md#firehose-delivery-failures"
  namespace           = "AWS/Firehose"
  metric_name         = "DeliveryToS3.Success"
  dimensions          = { DeliveryStreamName = aws_kinesis_firehose_delivery_stream.event_store.name }
  statistic           = "Minimum"
  period              = 300
  evaluation_periods  = 3
  comparison_operator = "LessThanThreshold"
  threshold           = 1
  treat_missing_data  = "notBreaching"
  alarm_actions       = [aws_sns_topic.oncall.arn]
  ok_actions          = [aws_sns_topic.oncall.arn]
  tags                = local.tags
}

resource "aws_glue_catalog_database" "event_store" {
  name        = replace("${var.prefix}_event_store", "-", "_")
  description = "Post Office event store: one envelope per line, partitioned by event and date"
  tags        = local.tags
}

resource "aws_glue_catalog_table" "events" {
  name          = "events"
  database_name = aws_glue_catalog_database.event_store.name
  description   = "Every event published on the platform (envelopes). Queries must name the event: WHERE event = 'X' AND date >= '...'"
  table_type    = "EXTERNAL_TABLE"

  parameters = {
    "classification"                = "json"
    "projection.enabled"            = "true"
    "projection.event.type"         = "injected"
    "projection.date.type"          = "date"
    "projection.date.format"        = "yyyy-MM-dd"
    "projection.date.range"         = "${var.event_store_start_date},NOW"
    "projection.date.interval"      = "1"
    "projection.date.interval.unit" = "DAYS"
    "storage.location.template"     = "s3://${aws_s3_bucket.event_store.bucket}/events/event=$${event}/date=$${date}/"
  }

  partition_keys {
    name = "event"
    type = "string"
  }
  partition_keys {
    name = "date"
    type = "string"
  }

  storage_descriptor {
    location      = "s3://${aws_s3_bucket.event_store.bucket}/events/"
    input_format  = "org.apache.hadoop.mapred.TextInputFormat"
    output_format = "org.apache.hadoop.hive.ql.io.HiveIgnoreKeyTextOutputFormat"

    ser_de_info {
      serialization_library = "org.openx.data.jsonserde.JsonSerDe"
      parameters            = { "ignore.malformed.json" = "true" }
    }

    # `event` is both envelope field and partition; the partition column serves it.
    dynamic "columns" {
      for_each = {
        event_id       = "string"
        household_id   = "string"
        device_id      = "string"
        occurred_at    = "string"
        received_at    = "string"
        source         = "string"
        correlation_id = "string"
        causation_id   = "string"
        schema_version = "int"
        payload        = "string"
      }
      content {
        name = columns.key
        type = columns.value
      }
    }
  }
}

# What SNS could not put into the event store stream, from every event topic's Firehose
# subscription: SNS keeps it here instead of discarding it
# (https://docs.aws.amazon.com/sns/latest/dg/sns-dead-letter-queues.html). The bodies are raw
# envelopes (the subscriptions deliver raw messages); docs/runbook.md#event-store-dlq puts them
# back.
resource "aws_sqs_queue" "event_store_dlq" {
  name                      = local.event_store_dlq
  kms_master_key_id         = aws_kms_key.this.arn
  message_retention_seconds = 1209600
  policy                    = data.aws_iam_policy_document.event_store_dlq.json
  tags = merge(local.tags, {
    "postoffice:role" = "event-store-dlq"
  })
}

locals {
  event_store_dlq     = "${var.prefix}-event-store-dlq"
  event_store_dlq_arn = "arn:${local.partition}:sqs:${local.region}:${local.account_id}:${local.event_store_dlq}"
}

data "aws_iam_policy_document" "event_store_dlq" {
  statement {
    sid       = "EventTopicsDeadLetterHere"
    actions   = ["sqs:SendMessage"]
    resources = [local.event_store_dlq_arn]
    principals {
      type        = "Service"
      identifiers = ["sns.amazonaws.com"]
    }
    # Every event topic of this prefix, including the ones added later.
    condition {
      test     = "ArnLike"
      variable = "aws:SourceArn"
      values   = ["${local.topic_arn_prefix}*"]
    }
  }
  statement {
    sid       = "DenyInsecureTransport"
    effect    = "Deny"
    actions   = ["sqs:*"]
    resources = [local.event_store_dlq_arn]
    principals {
      type        = "*"
      identifiers = ["*"]
    }
    condition {
      test     = "Bool"
      variable = "aws:SecureTransport"
      values   = ["false"]
    }
  }
}

resource "aws_cloudwatch_metric_alarm" "event_store_dlq_depth" {
  alarm_name          = "${var.prefix}-event-store-dlq-depth"
  alarm_description   = "Events SNS could not put into the event store wait in ${aws_sqs_queue.event_store_dlq.name}; the store is incomplete until they are put back. Runbook: docs/runbook.md#event-store-dlq"
  namespace           = "AWS/SQS"
  metric_name         = "ApproximateNumberOfMessagesVisible"
  dimensions          = { QueueName = aws_sqs_queue.event_store_dlq.name }
  statistic           = "Maximum"
  period              = 300
  evaluation_periods  = 1
  comparison_operator = "GreaterThanThreshold"
  threshold           = 0
  treat_missing_data  = "notBreaching"
  alarm_actions       = [aws_sns_topic.oncall.arn]
  ok_actions          = [aws_sns_topic.oncall.arn]
  tags                = local.tags
}
