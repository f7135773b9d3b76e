mock_provider "aws" {
  mock_data "aws_region" {
    defaults = { name = "eu-west-1" }
  }
  mock_data "aws_partition" {
    defaults = { partition = "aws" }
  }
  mock_data "aws_iam_policy_document" {
    defaults = { json = "{\"Version\":\"2012-10-17\",\"Statement\":[]}" }
  }
  mock_resource "aws_sns_topic" {
    defaults = { arn = "arn:aws:sns:eu-west-1:123456789012:postoffice-COOKING_REQUESTED" }
  }
  mock_resource "aws_iam_role" {
    defaults = { arn = "arn:aws:iam::123456789012:role/postoffice-COOKING_REQUESTED-rule" }
  }
  mock_resource "aws_iot_topic_rule" {
    defaults = { arn = "arn:aws:iot:eu-west-1:123456789012:rule/postoffice_COOKING_REQUESTED" }
  }
  mock_resource "aws_sns_topic_subscription" {
    defaults = { arn = "arn:aws:sns:eu-west-1:123456789012:postoffice-COOKING_REQUESTED:6b0e5e0c-1111-4a4a-9c9c-000000000001" }
  }
  mock_resource "aws_cloudwatch_metric_alarm" {
    defaults = { arn = "arn:aws:cloudwatch:eu-west-1:123456789012:alarm:postoffice" }
  }
  mock_resource "aws_cloudwatch_log_group" {
    defaults = { arn = "arn:aws:logs:eu-west-1:123456789012:log-group:sns/eu-west-1/123456789012/postoffice-COOKING_REQUESTED/Failure" }
  }
}

variables {
  event_name = "COOKING_REQUESTED"
  platform = {
    prefix                             = "postoffice"
    account_id                         = "123456789012"
    iot_arn_prefix                     = "arn:aws:iot:eu-west-1:123456789012"
    topic_arn_prefix                   = "arn:aws:sns:eu-west-1:123456789012:postoffice-"
    tags                               = { "postoffice:platform" = "postoffice" }
    kms_key_arn                        = "arn:aws:kms:eu-west-1:123456789012:key/0b7a2c1e-0000-4000-8000-000000000001"
    log_retention_days                 = 365
    rule_errors_queue_url              = "https://sqs.eu-west-1.amazonaws.com/123456789012/postoffice-rule-errors"
    rule_errors_role_arn               = "arn:aws:iam::123456789012:role/postoffice-rule-errors"
    rejected_device_messages_queue_url = "https://sqs.eu-west-1.amazonaws.com/123456789012/postoffice-rejected-device-messages"
    rejected_device_messages_role_arn  = "arn:aws:iam::123456789012:role/postoffice-rejected-device-messages"
    delivery_status_role_arn           = "arn:aws:iam::123456789012:role/postoffice-sns-delivery-status"
    event_store_stream_arn             = "arn:aws:firehose:eu-west-1:123456789012:deliverystream/postoffice-event-store"
    event_store_subscription_role_arn  = "arn:aws:iam::123456789012:role/postoffice-event-store-subscription"
    event_store_dlq_arn                = "arn:aws:sqs:eu-west-1:123456789012:postoffice-event-store-dlq"
    oncall_topic_arn                   = "arn:aws:sns:eu-west-1:123456789012:postoffice-oncall"
  }
}

run "actor_published_event_gets_a_rule_that_builds_the_envelope" {
  command = apply

  variables {
    actor_published = true
  }

  assert {
    condition     = aws_iot_topic_rule.this[0].name == "postoffice_COOKING_REQUESTED"
    error_message = "the rule must be named {prefix}_{EVENT}"
  }
  assert {
    # The SQL the local post office's rule engine runs in crates/catalog-terraform/tests/rule_sql.rs.
    condition     = aws_iot_topic_rule.this[0].sql == chomp(file("${path.module}/tests/rule-sql/COOKING_REQUESTED.sql"))
    error_message = "the rule SQL must be tests/rule-sql/COOKING_REQUESTED.sql (regenerate it and run the Rust test when the SQL changes)"
  }
  assert {
    condition     = aws_iot_topic_rule.this[0].sql_version == "2016-03-23"
    error_message = "the rule must use SQL version 2016-03-23"
  }
  assert {
    condition     = endswith(aws_iot_topic_rule.this[0].sql, "FROM 'COOKING_REQUESTED/+/+' WHERE @readable") && startswith(aws_iot_topic_rule.this[0].sql, "SET ")
    error_message = "the rule must read exactly COOKING_REQUESTED/+/+ and take the messages the handlers can read"
  }
  assert {
    condition = alltrue([for field in [
      "topic(1) AS event,",
      "topic(2) AS household_id,",
      "topic(3) AS device_id,",
      "clientid() AS source,",
      "AS received_at,",
      "WHEN true THEN CASE isUndefined(traceid()) WHEN true THEN newuuid() ELSE traceid() END ELSE event_id END AS event_id,",
      "CASE isUndefined(occurred_at) OR isNull(occurred_at) WHEN true THEN parse_time(",
      "ELSE correlation_id END AS correlation_id,",
      "CASE isUndefined(schema_version) OR isNull(schema_version) WHEN true THEN 1 ELSE schema_version END AS schema_version,",
      "causation_id,",
      "payload FROM",
    ] : strcontains(aws_iot_topic_rule.this[0].sql, field)])
    error_message = "the rule SQL must build the envelope as Envelope::from_device_message does"
  }
  assert {
    # An explicit list: identity fields a device sends must never pass through.
    condition     = !strcontains(aws_iot_topic_rule.this[0].sql, "*") && length(regexall("AS (event|household_id|device_id|source),", aws_iot_topic_rule.this[0].sql)) == 4
    error_message = "the rule must select an explicit field list with identity from the topic"
  }
  assert {
    condition     = one(aws_iot_topic_rule.this[0].sns).target_arn == aws_sns_topic.this.arn && one(aws_iot_topic_rule.this[0].sns).role_arn == aws_iam_role.rule[0].arn
    error_message = "the rule must publish to this event's topic with its own role"
  }
  assert {
    condition     = one(one(aws_iot_topic_rule.this[0].error_action).sqs).queue_url == var.platform.rule_errors_queue_url && one(one(aws_iot_topic_rule.this[0].error_action).sqs).role_arn == var.platform.rule_errors_role_arn
    error_message = "the rule's error action must send to the rule-errors queue"
  }
  assert {
    condition     = data.aws_iam_policy_document.rule[0].statement[0].actions == toset(["sns:Publish"]) && data.aws_iam_policy_document.rule[0].statement[0].resources == toset([aws_sns_topic.this.arn])
    error_message = "the rule role may publish to this event's topic only"
  }
  assert {
    condition     = length(data.aws_iam_policy_document.rule[0].statement) == 2 && data.aws_iam_policy_document.rule[0].statement[1].resources == toset([var.platform.kms_key_arn])
    error_message = "the rule role may use only the platform key besides publishing"
  }
  assert {
    condition     = aws_iam_role_policy.rule[0].policy == data.aws_iam_policy_document.rule[0].json
    error_message = "the rule role must carry the publish policy"
  }
  assert {
    # docs/contracts.md: the rule-errors queue holds the error action message as JSON.
    condition     = one(one(aws_iot_topic_rule.this[0].error_action).sqs).use_base64 == false
    error_message = "the error action must not base64-encode the message"
  }
  assert {
    condition = (
      anytrue([for c in data.aws_iam_policy_document.rule_assume[0].statement[0].condition : c.variable == "aws:SourceArn" && c.values == tolist(["arn:aws:iot:eu-west-1:123456789012:rule/postoffice_COOKING_REQUESTED"])])
      && anytrue([for c in data.aws_iam_policy_document.rule_assume[0].statement[0].condition : c.variable == "aws:SourceAccount" && c.values == tolist(["123456789012"])])
    )
    error_message = "only this rule of this account may assume the rule's role"
  }
}

run "unreadable_device_messages_go_to_the_rejected_queue_not_to_consumers" {
  command = apply

  variables {
    actor_published = true
  }

  assert {
    condition     = aws_iot_topic_rule.rejected[0].name == "postoffice_COOKING_REQUESTED_rejected" && aws_iot_topic_rule.rejected[0].sql_version == "2016-03-23"
    error_message = "the rejection rule must be named {prefix}_{EVENT}_rejected and use SQL version 2016-03-23"
  }
  assert {
    condition     = aws_iot_topic_rule.rejected[0].sql == chomp(file("${path.module}/tests/rule-sql/COOKING_REQUESTED_rejected.sql"))
    error_message = "the rejection rule SQL must be tests/rule-sql/COOKING_REQUESTED_rejected.sql"
  }
  assert {
    # One condition decides for both rules: each message goes to exactly one of them.
    condition = (
      split(" SELECT ", aws_iot_topic_rule.rejected[0].sql)[0] == split(" SELECT ", aws_iot_topic_rule.this[0].sql)[0]
      && endswith(aws_iot_topic_rule.this[0].sql, "FROM 'COOKING_REQUESTED/+/+' WHERE @readable")
      && endswith(aws_iot_topic_rule.rejected[0].sql, "FROM 'COOKING_REQUESTED/+/+' WHERE NOT @readable")
    )
    error_message = "the rejection rule must share the rule's SET clause and take what the rule does not"
  }
  assert {
    condition = alltrue([for column in [
      "'postoffice_COOKING_REQUESTED_rejected' AS ruleName,",
      "topic() AS topic,",
      "clientid() AS clientId,",
      "traceid() AS traceId,",
      "AS receivedAt,",
      "AS unreadable,",
      "encode(*, 'base64') AS base64OriginalPayload FROM",
    ] : strcontains(aws_iot_topic_rule.rejected[0].sql, column)])
    error_message = "the rejected message must carry docs/contracts.md's fields, the payload as published in base64"
  }
  assert {
    condition = (
      length(aws_iot_topic_rule.rejected[0].sns) == 0
      && one(aws_iot_topic_rule.rejected[0].sqs).queue_url == var.platform.rejected_device_messages_queue_url
      && one(aws_iot_topic_rule.rejected[0].sqs).role_arn == var.platform.rejected_device_messages_role_arn
      && one(aws_iot_topic_rule.rejected[0].sqs).use_base64 == false
    )
    error_message = "rejected messages must go to the rejected-device-messages queue only, as JSON, with its role"
  }
  assert {
    condition = (
      one(one(aws_iot_topic_rule.rejected[0].error_action).sqs).queue_url == var.platform.rule_errors_queue_url
      && one(one(aws_iot_topic_rule.rejected[0].error_action).sqs).role_arn == var.platform.rule_errors_role_arn
    )
    error_message = "what the rejected queue does not take must wait in the rule-errors queue"
  }
  assert {
    condition = (
      one(aws_cloudwatch_metric_alarm.rule_action["rejected-error-action-failures"].metric_query).expression == "SELECT SUM(ErrorActionFailure) FROM SCHEMA(\"AWS/IoT\", ActionType, RuleName) WHERE RuleName = 'postoffice_COOKING_REQUESTED_rejected'"
      && aws_cloudwatch_metric_alarm.rule_action["rejected-error-action-failures"].threshold == 1
    )
    error_message = "a rejected message lost by both actions must page"
  }
}

run "rule_sql_names_its_event_and_prefix" {
  command = plan

  variables {
    actor_published = true
    event_name      = "DEVICE_TELEMETRY_REPORTED"
    platform        = merge(var.platform, { prefix = "acme-po" })
  }

  assert {
    condition     = aws_iot_topic_rule.this[0].sql == replace(chomp(file("${path.module}/tests/rule-sql/COOKING_REQUESTED.sql")), "COOKING_REQUESTED", "DEVICE_TELEMETRY_REPORTED")
    error_message = "the rule SQL differs between events only in the event name"
  }
  assert {
    condition     = aws_iot_topic_rule.rejected[0].sql == replace(replace(chomp(file("${path.module}/tests/rule-sql/COOKING_REQUESTED_rejected.sql")), "COOKING_REQUESTED", "DEVICE_TELEMETRY_REPORTED"), "'postoffice_", "'acme_po_")
    error_message = "the rejection rule SQL differs between events only in the event and rule names"
  }
}

run "collections_get_rules_that_check_the_collection_not_its_members" {
  command = plan

  variables {
    actor_published = true
    event_name      = "EVENT_COLLECTION"
  }

  assert {
    # The SQL the local post office's rule engine runs in crates/catalog-terraform/tests/collection_rule_sql.rs.
    condition     = aws_iot_topic_rule.this[0].sql == chomp(file("${path.module}/tests/rule-sql/EVENT_COLLECTION.sql"))
    error_message = "the collection rule SQL must be tests/rule-sql/EVENT_COLLECTION.sql (regenerate it and run the Rust test when the SQL changes)"
  }
  assert {
    condition     = aws_iot_topic_rule.rejected[0].sql == chomp(file("${path.module}/tests/rule-sql/EVENT_COLLECTION_rejected.sql"))
    error_message = "the collection rejection rule SQL must be tests/rule-sql/EVENT_COLLECTION_rejected.sql"
  }
  assert {
    condition = (
      split(" SELECT ", aws_iot_topic_rule.rejected[0].sql)[0] == split(" SELECT ", aws_iot_topic_rule.this[0].sql)[0]
      && endswith(aws_iot_topic_rule.this[0].sql, "FROM 'EVENT_COLLECTION/+/+' WHERE @readable")
      && endswith(aws_iot_topic_rule.rejected[0].sql, "FROM 'EVENT_COLLECTION/+/+' WHERE NOT @readable")
    )
    error_message = "the collection's two rules must share their SET clause and split the messages between them"
  }
  assert {
    condition = alltrue([for part in ["@topic_readable", "@collection_id_readable", "@events_readable"] :
    strcontains(aws_iot_topic_rule.this[0].sql, "${part} = ")])
    error_message = "a collection is readable by its topic, collection_id and events"
  }
  assert {
    condition     = strcontains(aws_iot_topic_rule.this[0].sql, "isUndefined(get(events, 100))") && strcontains(aws_iot_topic_rule.this[0].sql, "{'events': events} AS payload FROM")
    error_message = "the collection rule must take at most 100 members (catalog::MAX_COLLECTION_MEMBERS) and carry them as the payload's events"
  }
  assert {
    condition     = !strcontains(aws_iot_topic_rule.this[0].sql, "@payload_readable") && !strcontains(aws_iot_topic_rule.this[0].sql, "*")
    error_message = "the collection rule must not check members as device messages, nor pass anything the device sent but its members"
  }
  assert {
    condition     = one(aws_iot_topic_rule.this[0].sns).target_arn == aws_sns_topic.this.arn && one(aws_iot_topic_rule.rejected[0].sqs).queue_url == var.platform.rejected_device_messages_queue_url
    error_message = "collections go to their topic, unreadable ones to the rejected-device-messages queue"
  }
}

run "only_event_collection_gets_the_collection_rules" {
  command = plan

  variables {
    actor_published = true
    event_name      = "EVENT_COLLECTIONS"
  }

  assert {
    condition     = aws_iot_topic_rule.this[0].sql == replace(chomp(file("${path.module}/tests/rule-sql/COOKING_REQUESTED.sql")), "COOKING_REQUESTED", "EVENT_COLLECTIONS")
    error_message = "any other event's rule reads device messages"
  }
}

run "topics_admit_the_account_through_iam_only" {
  command = plan

  assert {
    condition = jsondecode(aws_sns_topic.this.policy) == {
      Version = "2012-10-17"
      Statement = [
        {
          Sid       = "AccountUsesTheTopicThroughIam"
          Effect    = "Allow"
          Principal = { AWS = "arn:aws:iam::123456789012:root" }
          Action = [
            "sns:AddPermission",
            "sns:DeleteTopic",
            "sns:GetTopicAttributes",
            "sns:ListSubscriptionsByTopic",
            "sns:Publish",
            "sns:RemovePermission",
            "sns:SetTopicAttributes",
            "sns:Subscribe",
          ]
          Resource = "arn:aws:sns:eu-west-1:123456789012:postoffice-COOKING_REQUESTED"
        },
        {
          Sid       = "DenyInsecureTransport"
          Effect    = "Deny"
          Principal = "*"
          Action    = "sns:*"
          Resource  = "arn:aws:sns:eu-west-1:123456789012:postoffice-COOKING_REQUESTED"
          Condition = { Bool = { "aws:SecureTransport" = "false" } }
        },
      ]
    }
    error_message = "the event topic's policy must delegate the account to IAM and refuse plain HTTP, and allow nothing else"
  }
  assert {
    # What SNS's default policy allowed: principal "*" limited by the account alone.
    condition = alltrue([for statement in jsondecode(aws_sns_topic.this.policy).Statement :
      statement.Effect != "Allow" || try(statement.Principal.AWS, null) == "arn:aws:iam::123456789012:root" || (
        contains(flatten([for test, keys in try(statement.Condition, {}) : [for key, value in keys : key]]), "aws:SourceAccount")
        && contains(flatten([for test, keys in try(statement.Condition, {}) : [for key, value in keys : key]]), "aws:SourceArn")
      )
    ])
    error_message = "no statement may allow anyone but the account root without aws:SourceAccount and aws:SourceArn"
  }
  assert {
    condition     = alltrue([for statement in jsondecode(aws_sns_topic.this.policy).Statement : statement.Effect == "Deny" if statement.Principal == "*"])
    error_message = "principal * may appear only in a deny statement"
  }
}

run "rule_alarms_page_on_every_way_a_message_is_lost" {
  command = apply

  variables {
    actor_published = true
  }

  assert {
    condition     = keys(aws_cloudwatch_metric_alarm.rule) == ["parse-errors", "throttled"] && keys(aws_cloudwatch_metric_alarm.rule_action) == ["error-action-failures", "failures", "rejected-error-action-failures"]
    error_message = "the rule alarms on failures, failed error actions, throttling and parse errors"
  }
  assert {
    condition = alltrue([for key, metric in { parse-errors = "ParseError", throttled = "RuleMessageThrottled" } :
      aws_cloudwatch_metric_alarm.rule[key].metric_name == metric && aws_cloudwatch_metric_alarm.rule[key].namespace == "AWS/IoT"
      && aws_cloudwatch_metric_alarm.rule[key].dimensions == tomap({ RuleName = "postoffice_COOKING_REQUESTED" })
    ])
    error_message = "ParseError and RuleMessageThrottled carry the RuleName dimension only"
  }
  assert {
    # Failure and ErrorActionFailure also carry ActionType, whose values are not documented: the
    # alarms sum over every action type instead of naming one.
    condition = alltrue([for key, metric in { error-action-failures = "ErrorActionFailure", failures = "Failure" } :
      one(aws_cloudwatch_metric_alarm.rule_action[key].metric_query).expression == "SELECT SUM(${metric}) FROM SCHEMA(\"AWS/IoT\", ActionType, RuleName) WHERE RuleName = 'postoffice_COOKING_REQUESTED'"
      && aws_cloudwatch_metric_alarm.rule_action[key].metric_name == null
    ])
    error_message = "Failure and ErrorActionFailure alarms must not depend on an ActionType value"
  }
  assert {
    condition = alltrue([for alarm in concat(values(aws_cloudwatch_metric_alarm.rule), values(aws_cloudwatch_metric_alarm.rule_action)) :
      alarm.alarm_actions == toset([var.platform.oncall_topic_arn]) && strcontains(alarm.alarm_description, "docs/runbook.md#")
    ])
    error_message = "every rule alarm pages on-call and links the runbook"
  }
  assert {
    # The on-call topic admits alarms named <prefix>-* only.
    condition = alltrue([for alarm in concat(values(aws_cloudwatch_metric_alarm.rule), values(aws_cloudwatch_metric_alarm.rule_action), [aws_cloudwatch_metric_alarm.notifications_failed, aws_cloudwatch_metric_alarm.notifications_failed_to_redrive]) :
      startswith(alarm.alarm_name, "postoffice-")
    ])
    error_message = "every alarm must be named <prefix>-..., or the on-call topic refuses its notifications"
  }
  assert {
    condition = (
      strcontains(aws_cloudwatch_metric_alarm.rule["parse-errors"].alarm_description, "#iot-rule-parse-errors")
      && strcontains(aws_cloudwatch_metric_alarm.rule["throttled"].alarm_description, "#iot-rule-throttled")
      && strcontains(aws_cloudwatch_metric_alarm.rule_action["error-action-failures"].alarm_description, "#iot-rule-error-action-failures")
      && strcontains(aws_cloudwatch_metric_alarm.rule_action["failures"].alarm_description, "#iot-rule-errors")
      && aws_cloudwatch_metric_alarm.rule_action["failures"].alarm_name == "postoffice-COOKING_REQUESTED-rule-failures"
    )
    error_message = "each rule alarm links its own runbook section"
  }
}

run "topic_is_encrypted_signed_and_retries_within_an_hour" {
  command = apply

  assert {
    condition     = aws_sns_topic.this.name == "postoffice-COOKING_REQUESTED"
    error_message = "the topic must be named {prefix}-{EVENT}"
  }
  assert {
    condition     = aws_sns_topic.this.kms_master_key_id == var.platform.kms_key_arn && aws_sns_topic.this.signature_version == 2
    error_message = "the topic must be KMS-encrypted and sign with SignatureVersion 2"
  }
  assert {
    condition     = jsondecode(aws_sns_topic.this.delivery_policy).http.defaultHealthyRetryPolicy.backoffFunction == "exponential"
    error_message = "HTTPS deliveries must back off exponentially"
  }
  assert {
    condition = (
      jsondecode(aws_sns_topic.this.delivery_policy).http.defaultHealthyRetryPolicy.numRetries <= 100 &&
      jsondecode(aws_sns_topic.this.delivery_policy).http.defaultHealthyRetryPolicy.numNoDelayRetries == 3 &&
      jsondecode(aws_sns_topic.this.delivery_policy).http.defaultHealthyRetryPolicy.numMinDelayRetries * jsondecode(aws_sns_topic.this.delivery_policy).http.defaultHealthyRetryPolicy.minDelayTarget
      + (jsondecode(aws_sns_topic.this.delivery_policy).http.defaultHealthyRetryPolicy.numRetries - 3 - jsondecode(aws_sns_topic.this.delivery_policy).http.defaultHealthyRetryPolicy.numMinDelayRetries) * jsondecode(aws_sns_topic.this.delivery_policy).http.defaultHealthyRetryPolicy.maxDelayTarget <= 3600
    )
    error_message = "the delivery policy must retry at most 100 times and finish within 3600 s"
  }
  assert {
    condition     = aws_sns_topic.this.http_failure_feedback_role_arn == var.platform.delivery_status_role_arn && aws_sns_topic.this.firehose_failure_feedback_role_arn == var.platform.delivery_status_role_arn
    error_message = "HTTP and Firehose delivery failures must be logged"
  }
  assert {
    condition     = aws_sns_topic.this.http_success_feedback_role_arn == null
    error_message = "successes are counted by metrics, not logged"
  }
  assert {
    # SNS writes failures to sns/<region>/<account>/<topic>/Failure and creates the group itself,
    # unencrypted and without retention, when it is missing.
    condition = (
      aws_cloudwatch_log_group.delivery_failures.name == "sns/eu-west-1/123456789012/postoffice-COOKING_REQUESTED/Failure"
      && aws_cloudwatch_log_group.delivery_failures.kms_key_id == var.platform.kms_key_arn
      && aws_cloudwatch_log_group.delivery_failures.retention_in_days == 365
    )
    error_message = "the topic's delivery failure log group must exist under SNS's name, encrypted, with a retention"
  }
  assert {
    condition     = aws_sns_topic_subscription.event_store.protocol == "firehose" && aws_sns_topic_subscription.event_store.raw_message_delivery && aws_sns_topic_subscription.event_store.endpoint == var.platform.event_store_stream_arn
    error_message = "the event store must receive raw envelopes through Firehose"
  }
  assert {
    condition     = jsondecode(aws_sns_topic_subscription.event_store.redrive_policy).deadLetterTargetArn == var.platform.event_store_dlq_arn
    error_message = "what SNS cannot put into the event store must be dead-lettered, not discarded"
  }
  assert {
    condition     = strcontains(aws_cloudwatch_metric_alarm.notifications_failed.alarm_description, "docs/runbook.md#sns-delivery-failures") && aws_cloudwatch_metric_alarm.notifications_failed.dimensions.TopicName == aws_sns_topic.this.name
    error_message = "the topic must have a delivery failure alarm linking the runbook"
  }
  assert {
    condition     = strcontains(aws_cloudwatch_metric_alarm.notifications_failed_to_redrive.alarm_description, "docs/runbook.md#sns-dlq-redrive-failures") && aws_cloudwatch_metric_alarm.notifications_failed_to_redrive.metric_name == "NumberOfNotificationsFailedToRedriveToDlq"
    error_message = "the topic must have a redrive failure alarm linking the runbook"
  }
  assert {
    condition     = aws_cloudwatch_metric_alarm.notifications_failed.alarm_actions == toset([var.platform.oncall_topic_arn])
    error_message = "alarms must page on-call"
  }
}

run "backend_event_has_no_rule" {
  command = plan

  variables {
    event_name = "COOKING_REPLIED"
  }

  assert {
    condition     = length(aws_iot_topic_rule.this) == 0 && length(aws_iot_topic_rule.rejected) == 0 && length(aws_iam_role.rule) == 0 && length(aws_cloudwatch_metric_alarm.rule) == 0 && length(aws_cloudwatch_metric_alarm.rule_action) == 0
    error_message = "events actors do not publish must have no IoT rule"
  }
  assert {
    condition     = aws_sns_topic.this.name == "postoffice-COOKING_REPLIED"
    error_message = "the topic must be named {prefix}-{EVENT}"
  }
}

run "rejects_event_names_that_are_not_upper_snake_case" {
  command = plan

  variables {
    event_name = "cooking-requested"
  }

  expect_failures = [var.event_name]
}

run "rejects_retries_beyond_the_sns_hour" {
  command = plan

  variables {
    http_delivery_policy = { retries = 100, max_delay_retries = 90, max_delay_seconds = 60 }
  }

  expect_failures = [var.http_delivery_policy]
}

run "rejects_a_rule_role_name_iam_would_refuse" {
  command = plan

  variables {
    actor_published = true
    event_name      = "A_VERY_LONG_EVENT_NAME_THAT_IS_STILL_VALID_SNAKE_CASE_X"
    platform        = merge(var.platform, { prefix = "a-twenty-four-char-prefx" })
  }

  expect_failures = [var.event_name]
}

run "a_long_backend_event_needs_no_rule_role" {
  command = plan

  variables {
    event_name = "A_VERY_LONG_EVENT_NAME_THAT_IS_STILL_VALID_SNAKE_CASE_X"
    platform   = merge(var.platform, { prefix = "a-twenty-four-char-prefx" })
  }

  assert {
    condition     = aws_sns_topic.this.name == "a-twenty-four-char-prefx-A_VERY_LONG_EVENT_NAME_THAT_IS_STILL_VALID_SNAKE_CASE_X"
    error_message = "without a rule, only the topic name (256 characters) limits the event name"
  }
}
