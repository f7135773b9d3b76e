mock_provider "aws" {
  mock_data "aws_caller_identity" {
    defaults = { account_id = "123456789012", arn = "arn:aws:iam::123456789012:root" }
  }
  mock_data "aws_region" {
    defaults = { name = "eu-west-1" }
  }
  mock_data "aws_partition" {
    defaults = { partition = "aws" }
  }
  mock_data "aws_iot_endpoint" {
    defaults = { endpoint_address = "a1b2c3d4e5f6g7-ats.iot.eu-west-1.amazonaws.com" }
  }
  mock_data "aws_iam_policy_document" {
    defaults = { json = "{\"Version\":\"2012-10-17\",\"Statement\":[]}" }
  }
  mock_resource "aws_kms_key" {
    defaults = { arn = "arn:aws:kms:eu-west-1:123456789012:key/0b7a2c1e-0000-4000-8000-000000000001", key_id = "0b7a2c1e-0000-4000-8000-000000000001" }
  }
  mock_resource "aws_sqs_queue" {
    defaults = {
      arn = "arn:aws:sqs:eu-west-1:123456789012:postoffice-rule-errors"
      id  = "https://sqs.eu-west-1.amazonaws.com/123456789012/postoffice-rule-errors"
      url = "https://sqs.eu-west-1.amazonaws.com/123456789012/postoffice-rule-errors"
    }
  }
  mock_resource "aws_iam_role" {
    defaults = { arn = "arn:aws:iam::123456789012:role/postoffice-platform" }
  }
  mock_resource "aws_s3_bucket" {
    defaults = { arn = "arn:aws:s3:::postoffice-event-store-123456789012-eu-west-1" }
  }
  mock_resource "aws_cloudwatch_log_group" {
    defaults = { arn = "arn:aws:logs:eu-west-1:123456789012:log-group:postoffice" }
  }
  mock_resource "aws_kinesis_firehose_delivery_stream" {
    defaults = { arn = "arn:aws:firehose:eu-west-1:123456789012:deliverystream/postoffice-event-store" }
  }
  mock_resource "aws_sns_topic" {
    defaults = { arn = "arn:aws:sns:eu-west-1:123456789012:postoffice-oncall" }
  }
  mock_resource "aws_sns_topic_subscription" {
    defaults = { arn = "arn:aws:sns:eu-west-1:123456789012:postoffice-oncall:6b0e5e0c-1111-4a4a-9c9c-000000000001" }
  }
  mock_resource "aws_cognito_identity_pool" {
    defaults = { id = "eu-west-1:0b7a2c1e-0000-4000-8000-000000000002", arn = "arn:aws:cognito-identity:eu-west-1:123456789012:identitypool/eu-west-1:0b7a2c1e-0000-4000-8000-000000000002" }
  }
  mock_resource "aws_iot_policy" {
    defaults = { arn = "arn:aws:iot:eu-west-1:123456789012:policy/postoffice-device" }
  }
  mock_resource "aws_cloudwatch_metric_alarm" {
    defaults = { arn = "arn:aws:cloudwatch:eu-west-1:123456789012:alarm:postoffice" }
  }
  mock_resource "aws_glue_catalog_database" {
    defaults = { arn = "arn:aws:glue:eu-west-1:123456789012:database/postoffice_event_store" }
  }
  mock_resource "aws_glue_catalog_table" {
    defaults = { arn = "arn:aws:glue:eu-west-1:123456789012:table/postoffice_event_store/events" }
  }
  mock_resource "aws_cloudwatch_dashboard" {
    defaults = { dashboard_arn = "arn:aws:cloudwatch::123456789012:dashboard/postoffice" }
  }
}

variables {
  device_events = ["DEVICE_TELEMETRY_REPORTED", "COOKING_FINISHED"]
  mobile_events = ["COOKING_REQUESTED"]
  mobile_identity_provider = {
    provider_name = "cognito-idp.eu-west-1.amazonaws.com/eu-west-1_Example1"
    client_id     = "exampleclientid"
  }
  oncall_email_addresses = ["oncall@example.com"]
  oncall_https_endpoints = ["https://paging.example.com/hooks/1"]
}

run "devices_act_only_as_themselves_in_their_household" {
  command = apply

  assert {
    condition = jsondecode(aws_iot_policy.device.policy).Statement == [
      {
        Sid       = "ConnectAsItsOwnThing"
        Effect    = "Allow"
        Action    = "iot:Connect"
        Resource  = "arn:aws:iot:eu-west-1:123456789012:client/$${iot:Connection.Thing.ThingName}"
        Condition = { Bool = { "iot:Connection.Thing.IsAttached" = "true" } }
      },
      {
        Sid    = "PublishItsOwnEvents"
        Effect = "Allow"
        Action = "iot:Publish"
        Resource = [
          "arn:aws:iot:eu-west-1:123456789012:topic/COOKING_FINISHED/$${iot:Connection.Thing.Attributes[household]}/$${iot:Connection.Thing.ThingName}",
          "arn:aws:iot:eu-west-1:123456789012:topic/DEVICE_TELEMETRY_REPORTED/$${iot:Connection.Thing.Attributes[household]}/$${iot:Connection.Thing.ThingName}",
        ]
      },
      {
        Sid      = "SubscribeToItsOwnTopics"
        Effect   = "Allow"
        Action   = "iot:Subscribe"
        Resource = "arn:aws:iot:eu-west-1:123456789012:topicfilter/*/$${iot:Connection.Thing.Attributes[household]}/$${iot:Connection.Thing.ThingName}"
      },
      {
        Sid      = "ReceiveOnItsOwnTopics"
        Effect   = "Allow"
        Action   = "iot:Receive"
        Resource = "arn:aws:iot:eu-west-1:123456789012:topic/*/$${iot:Connection.Thing.Attributes[household]}/$${iot:Connection.Thing.ThingName}"
      },
    ]
    error_message = "the device policy must allow exactly: connect as its thing, publish its events to its own topic, subscribe and receive its own topics"
  }
  assert {
    # MQTT wildcards are literal characters in policy resources and would match nothing useful.
    condition     = !strcontains(aws_iot_policy.device.policy, "+") && !strcontains(aws_iot_policy.device.policy, "#")
    error_message = "policy resources must not contain MQTT wildcards"
  }
  assert {
    condition     = aws_iot_policy.device.name == "postoffice-device"
    error_message = "the device policy is named {prefix}-device"
  }
}

run "mobile_identities_are_scoped_to_their_household" {
  command = apply

  assert {
    condition     = aws_cognito_identity_pool.mobile.allow_unauthenticated_identities == false
    error_message = "only signed-in app users get credentials"
  }
  assert {
    condition     = aws_cognito_identity_pool_provider_principal_tag.household.principal_tags["household"] == "custom:household_id" && length(aws_cognito_identity_pool_provider_principal_tag.household.principal_tags) == 1
    error_message = "the household claim must become the principal tag household"
  }
  assert {
    condition = alltrue([for s in data.aws_iam_policy_document.mobile.statement :
      alltrue([for r in s.resources : strcontains(r, "/$${aws:PrincipalTag/household}/")]) if s.sid != "ConnectAsItsIdentity"
    ])
    error_message = "every mobile publish, subscribe and receive must be scoped to the principal's household"
  }
  assert {
    condition     = one([for s in data.aws_iam_policy_document.mobile.statement : s.resources if s.sid == "PublishToItsHousehold"]) == toset(["arn:aws:iot:eu-west-1:123456789012:topic/COOKING_REQUESTED/$${aws:PrincipalTag/household}/*"])
    error_message = "the app may publish only the mobile events"
  }
  assert {
    condition     = contains(data.aws_iam_policy_document.mobile_assume.statement[0].actions, "sts:TagSession")
    error_message = "the role must accept session tags, or the household tag never arrives"
  }
}

run "event_store_is_private_encrypted_and_queryable" {
  command = apply

  assert {
    condition = (
      aws_s3_bucket_public_access_block.event_store.block_public_acls && aws_s3_bucket_public_access_block.event_store.restrict_public_buckets
      && one(aws_s3_bucket_versioning.event_store.versioning_configuration).status == "Enabled"
      && one(one(aws_s3_bucket_server_side_encryption_configuration.event_store.rule).apply_server_side_encryption_by_default).kms_master_key_id == aws_kms_key.this.arn
    )
    error_message = "the event store must be private, versioned and KMS-encrypted"
  }
  assert {
    condition     = one([for s in data.aws_iam_policy_document.event_store_bucket.statement : s.effect if s.sid == "DenyInsecureTransport"]) == "Deny"
    error_message = "the event store must refuse plain HTTP"
  }
  assert {
    condition = (
      one(aws_kinesis_firehose_delivery_stream.event_store.extended_s3_configuration).prefix == "events/event=!{partitionKeyFromQuery:event}/date=!{timestamp:yyyy-MM-dd}/"
      && one(one(aws_kinesis_firehose_delivery_stream.event_store.extended_s3_configuration).dynamic_partitioning_configuration).enabled
    )
    error_message = "Firehose must partition by event and date"
  }
  assert {
    condition     = aws_glue_catalog_table.events.parameters["storage.location.template"] == "s3://postoffice-event-store-123456789012-eu-west-1/events/event=$${event}/date=$${date}/" && aws_glue_catalog_table.events.parameters["projection.enabled"] == "true"
    error_message = "the Glue table must project the same partitions Firehose writes"
  }
  assert {
    condition     = aws_kms_key.this.enable_key_rotation
    error_message = "the platform key must rotate"
  }
}

run "rule_errors_and_oncall" {
  command = apply

  assert {
    condition     = aws_sqs_queue.rule_errors.name == "postoffice-rule-errors" && aws_sqs_queue.rule_errors.tags["postoffice:role"] == "rule-errors" && aws_sqs_queue.rule_errors.kms_master_key_id == aws_kms_key.this.arn
    error_message = "the rule-errors queue is named, tagged and encrypted as contracts.md says"
  }
  assert {
    condition     = strcontains(aws_cloudwatch_metric_alarm.rule_errors_queue_depth.alarm_description, "docs/runbook.md#rule-errors-queue-depth") && strcontains(aws_cloudwatch_metric_alarm.firehose_delivery_failures.alarm_description, "docs/runbook.md#firehose-delivery-failures")
    error_message = "platform alarms must link the runbook"
  }
  assert {
    condition     = aws_sns_topic.oncall.kms_master_key_id == aws_kms_key.this.arn && length(aws_sns_topic_subscription.oncall_email) == 1 && length(aws_sns_topic_subscription.oncall_https) == 1
    error_message = "the on-call topic is encrypted and subscribed by every given address"
  }
  assert {
    condition     = length(jsondecode(aws_cloudwatch_dashboard.this.dashboard_body).widgets) == 6
    error_message = "the dashboard shows deliveries, failures, DLQ depths, latency, rule failures and the event store"
  }
}

run "rejects_event_names_that_are_not_upper_snake_case" {
  command = plan

  variables {
    device_events = ["COOKING_FINISHED", "cooking/+"]
  }

  expect_failures = [var.device_events]
}
