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
  mock_resource "aws_sqs_queue" {
    defaults = {
      arn = "arn:aws:sqs:eu-west-1:123456789012:postoffice-kitchen-dlq"
      id  = "https://sqs.eu-west-1.amazonaws.com/123456789012/postoffice-kitchen-dlq"
      url = "https://sqs.eu-west-1.amazonaws.com/123456789012/postoffice-kitchen-dlq"
    }
  }
  mock_resource "aws_iam_role" {
    defaults = { arn = "arn:aws:iam::123456789012:role/postoffice-kitchen" }
  }
  mock_resource "aws_cloudwatch_log_group" {
    defaults = { arn = "arn:aws:logs:eu-west-1:123456789012:log-group:/aws/lambda/postoffice-kitchen" }
  }
  mock_resource "aws_lambda_function" {
    defaults = {
      arn           = "arn:aws:lambda:eu-west-1:123456789012:function:postoffice-kitchen-handler"
      invoke_arn    = "arn:aws:apigateway:eu-west-1:lambda:path/2015-03-31/functions/arn:aws:lambda:eu-west-1:123456789012:function:postoffice-kitchen-handler/invocations"
      qualified_arn = "arn:aws:lambda:eu-west-1:123456789012:function:postoffice-kitchen-handler:$LATEST"
    }
  }
  mock_resource "aws_lambda_function_url" {
    defaults = { function_url = "https://abcdefghijklmnopqrstuvwxyz012345.lambda-url.eu-west-1.on.aws/" }
  }
  mock_resource "aws_sns_topic" {
    defaults = { arn = "arn:aws:sns:eu-west-1:123456789012:postoffice-kitchen-redrive" }
  }
  mock_resource "aws_sns_topic_subscription" {
    defaults = { arn = "arn:aws:sns:eu-west-1:123456789012:postoffice-COOKING_REQUESTED:6b0e5e0c-1111-4a4a-9c9c-000000000001" }
  }
  mock_resource "aws_lb" {
    defaults = {
      arn        = "arn:aws:elasticloadbalancing:eu-west-1:123456789012:loadbalancer/app/postoffice-kitchen/50dc6c495c0c9188"
      arn_suffix = "app/postoffice-kitchen/50dc6c495c0c9188"
      dns_name   = "postoffice-kitchen-1234567890.eu-west-1.elb.amazonaws.com"
    }
  }
  mock_resource "aws_lb_listener" {
    defaults = { arn = "arn:aws:elasticloadbalancing:eu-west-1:123456789012:listener/app/postoffice-kitchen/50dc6c495c0c9188/f2f7dc8efc522ab2" }
  }
  mock_resource "aws_lb_target_group" {
    defaults = {
      arn        = "arn:aws:elasticloadbalancing:eu-west-1:123456789012:targetgroup/postoffice-kitchen/73e2d6bc24d8a067"
      arn_suffix = "targetgroup/postoffice-kitchen/73e2d6bc24d8a067"
    }
  }
  mock_resource "aws_ecs_cluster" {
    defaults = { arn = "arn:aws:ecs:eu-west-1:123456789012:cluster/postoffice-kitchen-service" }
  }
  mock_resource "aws_ecs_task_definition" {
    defaults = { arn = "arn:aws:ecs:eu-west-1:123456789012:task-definition/postoffice-kitchen-service:1" }
  }
  mock_resource "aws_security_group" {
    defaults = { id = "sg-0a1b2c3d4e5f60001" }
  }
  mock_resource "aws_cloudwatch_metric_alarm" {
    defaults = { arn = "arn:aws:cloudwatch:eu-west-1:123456789012:alarm:postoffice" }
  }
}

variables {
  name = "kitchen"
  platform = {
    prefix           = "postoffice"
    account_id       = "123456789012"
    tags             = { "postoffice:platform" = "postoffice" }
    kms_key_arn      = "arn:aws:kms:eu-west-1:123456789012:key/0b7a2c1e-0000-4000-8000-000000000001"
    topic_arn_prefix = "arn:aws:sns:eu-west-1:123456789012:postoffice-"
    iot_arn_prefix   = "arn:aws:iot:eu-west-1:123456789012"
    oncall_topic_arn = "arn:aws:sns:eu-west-1:123456789012:postoffice-oncall"
  }
  # The shape of the catalog module's output.
  catalog = {
    consumers = {
      kitchen         = { subscribes = ["COOKING_FINISHED", "COOKING_REQUESTED"], publishes = ["COOKING_REPLIED", "COOKING_STARTED"], forwards_to_actors = [] }
      telemetry       = { subscribes = ["COOKING_FINISHED"], publishes = [], forwards_to_actors = [] }
      "iot-forwarder" = { subscribes = ["COOKING_REPLIED"], publishes = [], forwards_to_actors = ["COOKING_REPLIED"] }
    }
  }
  # The shape of the event module instances.
  events = {
    COOKING_FINISHED  = { topic_arn = "arn:aws:sns:eu-west-1:123456789012:postoffice-COOKING_FINISHED" }
    COOKING_REQUESTED = { topic_arn = "arn:aws:sns:eu-west-1:123456789012:postoffice-COOKING_REQUESTED" }
    COOKING_REPLIED   = { topic_arn = "arn:aws:sns:eu-west-1:123456789012:postoffice-COOKING_REPLIED" }
  }
  filter_policies = {
    COOKING_FINISHED = "{\"household_id\":[\"h-1\"]}"
  }
  # Created by scripts/terraform-check.sh; never deployed.
  bridge  = { zip = "../../../.terraform-cli/lambda/sns-bridge/bootstrap.zip" }
  handler = { zip = "../../../.terraform-cli/lambda/example-kitchen/bootstrap.zip" }
}

run "every_subscription_dead_letters_into_the_consumer_dlq" {
  command = apply

  assert {
    condition     = keys(aws_sns_topic_subscription.this) == ["COOKING_FINISHED", "COOKING_REQUESTED"]
    error_message = "one subscription per event"
  }
  assert {
    condition = alltrue([for event, subscription in aws_sns_topic_subscription.this :
      jsondecode(subscription.redrive_policy).deadLetterTargetArn == aws_sqs_queue.dlq.arn
      && subscription.protocol == "https"
      && subscription.endpoint == aws_lambda_function_url.bridge[0].function_url
      && subscription.topic_arn == var.events[event].topic_arn
    ])
    error_message = "every subscription must deliver over HTTPS to the bridge and redrive to the consumer DLQ"
  }
  assert {
    condition     = aws_sns_topic_subscription.this["COOKING_FINISHED"].filter_policy == "{\"household_id\":[\"h-1\"]}" && aws_sns_topic_subscription.this["COOKING_FINISHED"].filter_policy_scope == "MessageBody" && aws_sns_topic_subscription.this["COOKING_REQUESTED"].filter_policy == null
    error_message = "the filter policy applies to its own subscription only, on the envelope"
  }
  assert {
    condition = (
      aws_sqs_queue.dlq.name == "postoffice-kitchen-dlq"
      && aws_sqs_queue.dlq.kms_master_key_id == var.platform.kms_key_arn
      && aws_sqs_queue.dlq.message_retention_seconds == 1209600
      && aws_sqs_queue.dlq.tags["postoffice:role"] == "consumer-dlq"
      && aws_sqs_queue.dlq.tags["postoffice:consumer"] == "kitchen"
      && !contains(keys(aws_sqs_queue.dlq.tags), "postoffice:handler")
    )
    error_message = "the DLQ must be named, encrypted, kept 14 days and tagged as contracts.md says"
  }
  assert {
    condition     = jsonencode([for c in data.aws_iam_policy_document.dlq.statement[0].condition : sort(c.values) if c.variable == "aws:SourceArn"]) == jsonencode([["arn:aws:sns:eu-west-1:123456789012:postoffice-COOKING_FINISHED", "arn:aws:sns:eu-west-1:123456789012:postoffice-COOKING_REQUESTED", "arn:aws:sns:eu-west-1:123456789012:postoffice-kitchen-redrive"]])
    error_message = "only this consumer's topics and its redrive topic may dead-letter into its DLQ"
  }
  assert {
    condition     = aws_sqs_queue.dlq.policy == data.aws_iam_policy_document.dlq.json
    error_message = "the DLQ is created with its policy (one provider wait, not two)"
  }
}

run "sns_can_reach_the_bridge_through_its_function_url" {
  command = apply

  # https://docs.aws.amazon.com/lambda/latest/dg/urls-auth.html: since October 2025 both
  # lambda:InvokeFunctionUrl and lambda:InvokeFunction are required.
  assert {
    condition = (
      aws_lambda_permission.bridge_url[0].action == "lambda:InvokeFunctionUrl"
      && aws_lambda_permission.bridge_url[0].principal == "*"
      && aws_lambda_permission.bridge_url[0].function_url_auth_type == "NONE"
      && aws_lambda_permission.bridge_url[0].function_name == aws_lambda_function.bridge[0].function_name
    )
    error_message = "the function URL must be public (AuthType NONE)"
  }
  assert {
    condition = (
      aws_lambda_permission.bridge_invoke[0].action == "lambda:InvokeFunction"
      && aws_lambda_permission.bridge_invoke[0].principal == "*"
      && aws_lambda_permission.bridge_invoke[0].function_name == aws_lambda_function.bridge[0].function_name
      && aws_lambda_permission.bridge_invoke[0].qualifier == null
    )
    error_message = "a function URL also needs lambda:InvokeFunction on the function"
  }
  assert {
    condition     = [for s in data.aws_iam_policy_document.bridge.statement : s.resources if contains(s.actions, "sns:ConfirmSubscription")] == [toset(["arn:aws:sns:eu-west-1:123456789012:postoffice-COOKING_FINISHED", "arn:aws:sns:eu-west-1:123456789012:postoffice-COOKING_REQUESTED", "arn:aws:sns:eu-west-1:123456789012:postoffice-kitchen-redrive"])]
    error_message = "the bridge confirms its own subscriptions with a signed ConfirmSubscription, on its topics and its redrive topic only"
  }
}

# `postoffice dlq redrive` republishes dead letters to the consumer's own redrive topic.
run "the_redrive_topic_delivers_to_this_consumer_only" {
  command = apply

  variables {
    events = {
      COOKING_FINISHED  = { topic_arn = "arn:aws:sns:eu-west-1:123456789012:postoffice-COOKING_FINISHED", delivery_policy = "{\"http\":{\"defaultHealthyRetryPolicy\":{\"numRetries\":60}}}" }
      COOKING_REQUESTED = { topic_arn = "arn:aws:sns:eu-west-1:123456789012:postoffice-COOKING_REQUESTED", delivery_policy = "{\"http\":{\"defaultHealthyRetryPolicy\":{\"numRetries\":60}}}" }
      COOKING_REPLIED   = { topic_arn = "arn:aws:sns:eu-west-1:123456789012:postoffice-COOKING_REPLIED" }
    }
  }

  assert {
    condition = (
      aws_sns_topic.redrive.name == "postoffice-kitchen-redrive"
      && aws_sns_topic.redrive.kms_master_key_id == var.platform.kms_key_arn
      && aws_sns_topic.redrive.signature_version == 2
      && aws_sns_topic.redrive.delivery_policy == "{\"http\":{\"defaultHealthyRetryPolicy\":{\"numRetries\":60}}}"
      && aws_sns_topic.redrive.tags["postoffice:consumer"] == "kitchen"
      && aws_sns_topic.redrive.tags["postoffice:role"] == "consumer-redrive"
      && output.redrive_topic_arn == "arn:aws:sns:eu-west-1:123456789012:postoffice-kitchen-redrive"
    )
    error_message = "the redrive topic is named after the consumer, encrypted with the platform key, signs with SHA256 and retries as the event topics"
  }
  assert {
    condition = (
      length(jsondecode(aws_sns_topic.redrive.policy).Statement) == 2
      && jsondecode(aws_sns_topic.redrive.policy).Statement[0].Effect == "Allow"
      && keys(jsondecode(aws_sns_topic.redrive.policy).Statement[0].Principal) == ["AWS"]
      && jsondecode(aws_sns_topic.redrive.policy).Statement[0].Principal.AWS == "arn:aws:iam::123456789012:root"
      && contains(jsondecode(aws_sns_topic.redrive.policy).Statement[0].Action, "sns:Publish")
      && jsondecode(aws_sns_topic.redrive.policy).Statement[0].Resource == "arn:aws:sns:eu-west-1:123456789012:postoffice-kitchen-redrive"
      && jsondecode(aws_sns_topic.redrive.policy).Statement[1].Effect == "Deny"
      && jsondecode(aws_sns_topic.redrive.policy).Statement[1].Condition.Bool["aws:SecureTransport"] == "false"
    )
    error_message = "only the account's own principals may publish, through IAM, and only over TLS; no service and no other account"
  }
  assert {
    condition = (
      aws_sns_topic_subscription.redrive.topic_arn == aws_sns_topic.redrive.arn
      && aws_sns_topic_subscription.redrive.protocol == "https"
      && aws_sns_topic_subscription.redrive.endpoint == aws_lambda_function_url.bridge[0].function_url
      && aws_sns_topic_subscription.redrive.raw_message_delivery == false
      && aws_sns_topic_subscription.redrive.filter_policy == null
      && jsondecode(aws_sns_topic_subscription.redrive.redrive_policy).deadLetterTargetArn == aws_sqs_queue.dlq.arn
    )
    error_message = "one HTTPS subscription, unfiltered, to the same endpoint and dead-letter queue as the event subscriptions"
  }
  assert {
    condition = (
      aws_lambda_function.bridge[0].environment[0].variables.POSTOFFICE_REDRIVE_TOPIC_ARN == "arn:aws:sns:eu-west-1:123456789012:postoffice-kitchen-redrive"
      && aws_lambda_function.handler[0].environment[0].variables.POSTOFFICE_REDRIVE_TOPIC_ARN == "arn:aws:sns:eu-west-1:123456789012:postoffice-kitchen-redrive"
      && aws_lambda_function.handler[0].environment[0].variables.POSTOFFICE_REDRIVE_EVENTS == "COOKING_FINISHED,COOKING_REQUESTED"
    )
    error_message = "the bridge knows the redrive topic; the handler knows it and the events it may carry (the subscribed ones)"
  }
}

run "rejects_handler_environment_that_would_widen_the_redrive_topic" {
  command = plan

  variables {
    handler = {
      zip         = "../../../.terraform-cli/lambda/example-kitchen/bootstrap.zip"
      environment = { POSTOFFICE_REDRIVE_EVENTS = "FIRMWARE_UPDATE_OFFERED" }
    }
  }

  expect_failures = [var.handler]
}

run "the_bridge_invokes_only_its_handler" {
  command = apply

  assert {
    condition     = length([for s in data.aws_iam_policy_document.bridge.statement : s if contains(s.actions, "lambda:InvokeFunction")]) == 1
    error_message = "exactly one statement may invoke a function"
  }
  assert {
    condition = alltrue([for s in data.aws_iam_policy_document.bridge.statement :
      s.resources == toset([aws_lambda_function.handler[0].arn]) if contains(s.actions, "lambda:InvokeFunction")
    ])
    error_message = "the bridge may invoke its own handler only"
  }
  assert {
    condition     = !anytrue([for s in data.aws_iam_policy_document.bridge.statement : contains(s.resources, "*")]) && length(data.aws_iam_policy_document.bridge.statement) == 4
    error_message = "the bridge policy must not grant on *"
  }
  assert {
    condition     = aws_iam_role_policy.bridge.policy == data.aws_iam_policy_document.bridge.json && aws_iam_role_policy.bridge.role == aws_iam_role.this["bridge"].id
    error_message = "the bridge role must carry the bridge policy"
  }
  assert {
    condition = (
      aws_lambda_function.bridge[0].function_name == "postoffice-kitchen-bridge"
      && aws_lambda_function.bridge[0].runtime == "provided.al2023"
      && tolist(aws_lambda_function.bridge[0].architectures) == tolist(["arm64"])
      && aws_lambda_function.bridge[0].environment[0].variables.POSTOFFICE_HANDLER_FUNCTION == aws_lambda_function.handler[0].arn
      && aws_lambda_function.bridge[0].environment[0].variables.POSTOFFICE_ALLOWED_TOPIC_ARNS == "arn:aws:sns:eu-west-1:123456789012:postoffice-COOKING_FINISHED,arn:aws:sns:eu-west-1:123456789012:postoffice-COOKING_REQUESTED,arn:aws:sns:eu-west-1:123456789012:postoffice-kitchen-redrive"
    )
    error_message = "the bridge must be an arm64 provided.al2023 Lambda configured with its handler and topics"
  }
  assert {
    condition     = aws_lambda_function_url.bridge[0].authorization_type == "NONE" && aws_lambda_function.handler[0].timeout < 14 && aws_lambda_function.bridge[0].timeout == 15
    error_message = "SNS reaches the bridge through an unauthenticated URL; the handler must finish before the bridge"
  }
  assert {
    condition     = [for s in data.aws_iam_policy_document.handler.statement : s.resources if contains(s.actions, "sns:Publish")] == [toset(["arn:aws:sns:eu-west-1:123456789012:postoffice-COOKING_REPLIED", "arn:aws:sns:eu-west-1:123456789012:postoffice-COOKING_STARTED"])]
    error_message = "the handler may publish exactly the events the catalog lets it produce"
  }
  assert {
    condition     = aws_lambda_function.handler[0].reserved_concurrent_executions == -1 && aws_lambda_function.handler[0].environment[0].variables.POSTOFFICE_TOPIC_ARN_PREFIX == var.platform.topic_arn_prefix
    error_message = "without reserved concurrency the handler is unreserved; it knows the topic ARN prefix"
  }
  assert {
    condition = (
      length(aws_lambda_alias.sns_endpoint) == 0
      && aws_lambda_function_url.bridge[0].qualifier == null
      && length(setintersection(keys(aws_lambda_function.handler[0].environment[0].variables), ["POSTOFFICE_SNS_ENDPOINT_ALIAS", "POSTOFFICE_ALLOWED_TOPIC_ARNS"])) == 0
    )
    error_message = "by default (bridge.mode = separate) the handler is no SNS endpoint: it has no alias and no endpoint configuration"
  }
}

run "alarms_cover_the_dlq_and_both_lambdas" {
  command = apply

  assert {
    condition     = strcontains(aws_cloudwatch_metric_alarm.dlq_depth.alarm_description, "docs/runbook.md#dlq-depth") && aws_cloudwatch_metric_alarm.dlq_depth.threshold == 0 && aws_cloudwatch_metric_alarm.dlq_depth.dimensions.QueueName == "postoffice-kitchen-dlq"
    error_message = "the DLQ must alarm on any message"
  }
  assert {
    condition     = strcontains(aws_cloudwatch_metric_alarm.dlq_age.alarm_description, "docs/runbook.md#dlq-age") && aws_cloudwatch_metric_alarm.dlq_age.metric_name == "ApproximateAgeOfOldestMessage"
    error_message = "the DLQ must alarm on the age of its oldest message"
  }
  assert {
    condition     = keys(aws_cloudwatch_metric_alarm.lambda_throttles) == ["bridge", "handler"]
    error_message = "both Lambdas must alarm on throttles"
  }
  assert {
    condition     = aws_cloudwatch_metric_alarm.bridge_errors[0].metric_name == "Errors" && aws_cloudwatch_metric_alarm.bridge_errors[0].threshold == 0 && aws_cloudwatch_metric_alarm.bridge_errors[0].dimensions.FunctionName == "postoffice-kitchen-bridge"
    error_message = "any bridge error pages: the bridge answers SNS with a status and never fails on purpose"
  }
  assert {
    # Handlers fail on purpose (Retryable, NonRetryable): a single error must not page.
    condition = (
      aws_cloudwatch_metric_alarm.handler_errors[0].metric_name == null
      && aws_cloudwatch_metric_alarm.handler_errors[0].threshold == 10
      && one([for q in aws_cloudwatch_metric_alarm.handler_errors[0].metric_query : q.expression if q.id == "failing" && q.return_data == true]) == "IF(invocations >= 10, 100 * errors / invocations, 0)"
      && toset([for q in aws_cloudwatch_metric_alarm.handler_errors[0].metric_query : one(q.metric).metric_name if q.id != "failing" && q.return_data == false]) == toset(["Errors", "Invocations"])
    )
    error_message = "the handler pages on the share of failing invocations, not on any error"
  }
  assert {
    condition     = alltrue([for a in values(aws_cloudwatch_metric_alarm.lambda_throttles) : strcontains(a.alarm_description, "docs/runbook.md#lambda-throttles")]) && alltrue([for a in [aws_cloudwatch_metric_alarm.bridge_errors[0], aws_cloudwatch_metric_alarm.handler_errors[0]] : strcontains(a.alarm_description, "docs/runbook.md#lambda-errors")])
    error_message = "Lambda alarms must link the runbook"
  }
}

run "forwarder_publishes_to_devices_and_reserves_concurrency" {
  command = plan

  variables {
    name            = "iot-forwarder"
    filter_policies = {}
    handler = {
      zip                  = "../../../.terraform-cli/lambda/iot-forwarder/bootstrap.zip"
      reserved_concurrency = 5
    }
  }

  assert {
    condition     = [for s in data.aws_iam_policy_document.handler.statement : s.resources if contains(s.actions, "iot:Publish")] == [toset(["arn:aws:iot:eu-west-1:123456789012:topic/COOKING_REPLIED/*"])]
    error_message = "the forwarder may publish only the events it forwards"
  }
  assert {
    condition     = length([for s in data.aws_iam_policy_document.handler.statement : s if contains(s.actions, "sns:Publish")]) == 0
    error_message = "a handler that publishes no events gets no sns:Publish"
  }
  assert {
    condition     = aws_lambda_function.handler[0].reserved_concurrent_executions == 5
    error_message = "reserved concurrency must be passed through"
  }
}

run "the_collection_unpacker_publishes_only_collectable_events_and_keeps_rejected_members" {
  command = plan

  variables {
    name = "collection-unpacker"
    catalog = {
      consumers = merge(var.catalog.consumers, {
        "collection-unpacker" = { subscribes = ["EVENT_COLLECTION"], publishes = [], forwards_to_actors = [], unpacks = ["COOKING_FINISHED", "DEVICE_TELEMETRY_REPORTED"] }
      })
    }
    events = merge(var.events, {
      EVENT_COLLECTION = { topic_arn = "arn:aws:sns:eu-west-1:123456789012:postoffice-EVENT_COLLECTION" }
    })
    filter_policies = {}
    rejected_device_messages_queue = {
      arn = "arn:aws:sqs:eu-west-1:123456789012:postoffice-rejected-device-messages"
      url = "https://sqs.eu-west-1.amazonaws.com/123456789012/postoffice-rejected-device-messages"
    }
  }

  assert {
    condition     = keys(aws_sns_topic_subscription.this) == ["EVENT_COLLECTION"]
    error_message = "the unpacker subscribes to collections only"
  }
  assert {
    condition = [for s in data.aws_iam_policy_document.unpacker[0].statement : s.resources if s.sid == "PublishCollectedEvents"] == [toset([
      "arn:aws:sns:eu-west-1:123456789012:postoffice-COOKING_FINISHED",
      "arn:aws:sns:eu-west-1:123456789012:postoffice-DEVICE_TELEMETRY_REPORTED",
    ])]
    error_message = "the unpacker may publish exactly the events devices may collect"
  }
  assert {
    condition     = [for s in data.aws_iam_policy_document.unpacker[0].statement : s.resources if s.sid == "KeepRejectedMembers"] == [toset(["arn:aws:sqs:eu-west-1:123456789012:postoffice-rejected-device-messages"])] && [for s in data.aws_iam_policy_document.unpacker[0].statement : s.actions if s.sid == "KeepRejectedMembers"] == [toset(["sqs:SendMessage"])]
    error_message = "the unpacker may send to the rejected-device-messages queue only"
  }
  assert {
    condition     = length(data.aws_iam_policy_document.unpacker[0].statement) == 3 && [for s in data.aws_iam_policy_document.unpacker[0].statement : s.resources if s.sid == "EncryptForEncryptedTopicsAndQueue"] == [toset([var.platform.kms_key_arn])]
    error_message = "besides publishing and rejecting, the unpacker may use the platform key only"
  }
  assert {
    condition     = aws_iam_role_policy.unpacker[0].role == aws_iam_role.this["handler"].id && aws_iam_role_policy.unpacker[0].policy == data.aws_iam_policy_document.unpacker[0].json
    error_message = "the handler's role carries the unpacker policy"
  }
  assert {
    condition     = length([for s in data.aws_iam_policy_document.handler.statement : s if contains(s.actions, "sns:Publish")]) == 0
    error_message = "the unpacker produces no event of its own"
  }
  assert {
    condition     = aws_lambda_function.handler[0].environment[0].variables.POSTOFFICE_REJECTED_DEVICE_MESSAGES_QUEUE_URL == "https://sqs.eu-west-1.amazonaws.com/123456789012/postoffice-rejected-device-messages"
    error_message = "the handler finds the rejected-device-messages queue"
  }
}

run "other_consumers_get_no_unpacker_policy" {
  command = plan

  assert {
    condition     = length(aws_iam_role_policy.unpacker) == 0 && !contains(keys(aws_lambda_function.handler[0].environment[0].variables), "POSTOFFICE_REJECTED_DEVICE_MESSAGES_QUEUE_URL")
    error_message = "only the collection-unpacker may send to the rejected-device-messages queue"
  }
}

run "rejects_the_unpacker_without_the_rejected_queue" {
  command = plan

  variables {
    name = "collection-unpacker"
    catalog = {
      consumers = merge(var.catalog.consumers, {
        "collection-unpacker" = { subscribes = ["COOKING_FINISHED"], publishes = [], forwards_to_actors = [], unpacks = ["COOKING_FINISHED"] }
      })
    }
    filter_policies = {}
  }

  expect_failures = [var.rejected_device_messages_queue]
}

run "rejects_the_rejected_queue_for_a_consumer_that_unpacks_nothing" {
  command = plan

  variables {
    rejected_device_messages_queue = {
      arn = "arn:aws:sqs:eu-west-1:123456789012:postoffice-rejected-device-messages"
      url = "https://sqs.eu-west-1.amazonaws.com/123456789012/postoffice-rejected-device-messages"
    }
  }

  expect_failures = [var.rejected_device_messages_queue]
}

run "the_bridge_waits_for_the_handler_and_the_handler_finds_its_idempotency_table" {
  command = plan

  variables {
    handler = {
      zip                   = "../../../.terraform-cli/lambda/example-kitchen/bootstrap.zip"
      timeout               = 13
      idempotency_table_arn = "arn:aws:dynamodb:eu-west-1:123456789012:table/postoffice-idempotency"
    }
  }

  assert {
    condition     = tonumber(aws_lambda_function.bridge[0].environment[0].variables.POSTOFFICE_INVOKE_TIMEOUT_MS) > 13000 && tonumber(aws_lambda_function.bridge[0].environment[0].variables.POSTOFFICE_INVOKE_TIMEOUT_MS) < 15000
    error_message = "the bridge must wait longer than the handler may run and less than SNS waits"
  }
  assert {
    condition     = aws_lambda_function.handler[0].environment[0].variables.POSTOFFICE_IDEMPOTENCY_TABLE == "postoffice-idempotency"
    error_message = "the handler gets the idempotency table's name"
  }
  assert {
    condition     = [for s in data.aws_iam_policy_document.handler.statement : s.resources if s.sid == "IdempotencyGuard"] == [toset(["arn:aws:dynamodb:eu-west-1:123456789012:table/postoffice-idempotency"])]
    error_message = "the handler may use its idempotency table only"
  }
}

run "rejects_a_handler_timeout_the_bridge_cannot_wait_for" {
  command = plan

  variables {
    handler = { zip = "../../../.terraform-cli/lambda/example-kitchen/bootstrap.zip", timeout = 14 }
  }

  expect_failures = [var.handler]
}

run "rejects_a_consumer_the_catalog_does_not_name" {
  command = plan

  variables {
    name            = "billing"
    filter_policies = {}
  }

  expect_failures = [var.catalog]
}

run "rejects_a_filter_policy_for_an_event_it_does_not_consume" {
  command = plan

  variables {
    filter_policies = { COOKING_REPLIED = "{}" }
  }

  expect_failures = [var.filter_policies]
}

run "rejects_names_iam_and_lambda_would_refuse" {
  command = plan

  variables {
    # 24 + 1 + 32 + 8 = 65 characters for <prefix>-<name>-handler.
    name            = "a-consumer-name-of-32-characters"
    platform        = merge(var.platform, { prefix = "a-twenty-four-char-prefx" })
    catalog         = { consumers = { "a-consumer-name-of-32-characters" = { subscribes = ["COOKING_FINISHED"], publishes = [], forwards_to_actors = [] } } }
    filter_policies = {}
  }

  expect_failures = [var.name]
}

run "rejects_events_without_the_topics_it_subscribes_to" {
  command = plan

  variables {
    events = { COOKING_FINISHED = { topic_arn = "arn:aws:sns:eu-west-1:123456789012:postoffice-COOKING_FINISHED" } }
  }

  expect_failures = [var.events]
}

run "the_xray_policy_is_in_the_partition_of_the_account" {
  command = plan

  override_data {
    target = data.aws_partition.current
    values = { partition = "aws-cn" }
  }

  assert {
    condition     = alltrue([for attachment in values(aws_iam_role_policy_attachment.xray) : attachment.policy_arn == "arn:aws-cn:iam::aws:policy/AWSXRayDaemonWriteAccess"])
    error_message = "AWS managed policy ARNs must use the account's partition"
  }
}

run "rejects_environment_lambda_reserves" {
  command = plan

  variables {
    handler = {
      zip         = "../../../.terraform-cli/lambda/example-kitchen/bootstrap.zip"
      environment = { AWS_REGION = "us-east-1" }
    }
  }

  expect_failures = [var.handler]
}

run "passes_endpoint_overrides_and_extra_environment_to_the_handler" {
  command = plan

  variables {
    handler = {
      zip         = "../../../.terraform-cli/lambda/example-kitchen/bootstrap.zip"
      environment = { AWS_ENDPOINT_URL_IOT_DATA_PLANE = "https://example-ats.iot.eu-west-1.amazonaws.com", EXAMPLE_SETTING = "on" }
    }
  }

  assert {
    condition     = aws_lambda_function.handler[0].environment[0].variables.AWS_ENDPOINT_URL_IOT_DATA_PLANE == "https://example-ats.iot.eu-west-1.amazonaws.com" && aws_lambda_function.handler[0].environment[0].variables.EXAMPLE_SETTING == "on"
    error_message = "extra environment must reach the handler"
  }
}

run "embedded_the_handler_is_its_own_sns_endpoint" {
  command = apply

  variables {
    bridge = { mode = "embedded", max_message_age_seconds = 3600 }
  }

  assert {
    condition     = length(aws_lambda_function.bridge) == 0 && keys(aws_iam_role.this) == ["handler"] && keys(aws_cloudwatch_log_group.this) == ["handler"] && keys(aws_iam_role_policy_attachment.xray) == ["handler"]
    error_message = "no bridge Lambda, role or log group"
  }
  assert {
    condition     = aws_lambda_alias.sns_endpoint[0].name == "sns-endpoint" && aws_lambda_alias.sns_endpoint[0].function_name == aws_lambda_function.handler[0].function_name && aws_lambda_alias.sns_endpoint[0].function_version == "$LATEST"
    error_message = "the handler's SNS endpoint alias follows $LATEST"
  }
  assert {
    condition     = aws_lambda_function_url.bridge[0].function_name == "postoffice-kitchen-handler" && aws_lambda_function_url.bridge[0].qualifier == "sns-endpoint" && aws_lambda_function_url.bridge[0].authorization_type == "NONE"
    error_message = "the function URL is the handler alias's"
  }
  assert {
    # Both permissions, as for the bridge, but on the alias only: the unqualified function,
    # which redrive invokes with handler invocations, stays private to the account.
    condition = (
      aws_lambda_permission.bridge_url[0].action == "lambda:InvokeFunctionUrl"
      && aws_lambda_permission.bridge_url[0].function_url_auth_type == "NONE"
      && aws_lambda_permission.bridge_invoke[0].action == "lambda:InvokeFunction"
      && alltrue([for p in [aws_lambda_permission.bridge_url[0], aws_lambda_permission.bridge_invoke[0]] :
        p.function_name == "postoffice-kitchen-handler" && p.qualifier == "sns-endpoint" && p.principal == "*"
      ])
    )
    error_message = "the public permissions cover the handler's alias only"
  }
  assert {
    condition = alltrue([for event, subscription in aws_sns_topic_subscription.this :
      subscription.endpoint == aws_lambda_function_url.bridge[0].function_url
      && jsondecode(subscription.redrive_policy).deadLetterTargetArn == aws_sqs_queue.dlq.arn
    ]) && keys(aws_sns_topic_subscription.this) == ["COOKING_FINISHED", "COOKING_REQUESTED"]
    error_message = "SNS delivers to the handler's function URL, and dead-letters into the consumer's DLQ"
  }
  assert {
    condition = (
      aws_iam_role_policy.bridge.role == aws_iam_role.this["handler"].id
      && [for s in data.aws_iam_policy_document.bridge.statement : s.sid] == ["ConfirmItsSubscriptions"]
      && [for s in data.aws_iam_policy_document.bridge.statement : s.resources] == [toset(["arn:aws:sns:eu-west-1:123456789012:postoffice-COOKING_FINISHED", "arn:aws:sns:eu-west-1:123456789012:postoffice-COOKING_REQUESTED", "arn:aws:sns:eu-west-1:123456789012:postoffice-kitchen-redrive"])]
    )
    error_message = "the handler's role confirms the subscriptions of its topics, and gets nothing else of the bridge's"
  }
  assert {
    condition = (
      aws_lambda_function.handler[0].timeout == 15
      && aws_lambda_function.handler[0].environment[0].variables.POSTOFFICE_SNS_ENDPOINT_ALIAS == "sns-endpoint"
      && aws_lambda_function.handler[0].environment[0].variables.POSTOFFICE_ALLOWED_TOPIC_ARNS == "arn:aws:sns:eu-west-1:123456789012:postoffice-COOKING_FINISHED,arn:aws:sns:eu-west-1:123456789012:postoffice-COOKING_REQUESTED,arn:aws:sns:eu-west-1:123456789012:postoffice-kitchen-redrive"
      && aws_lambda_function.handler[0].environment[0].variables.POSTOFFICE_INVOKE_TIMEOUT_MS == "10000"
      && aws_lambda_function.handler[0].environment[0].variables.POSTOFFICE_MAX_MESSAGE_AGE_SECONDS == "3600"
      && aws_lambda_function.handler[0].environment[0].variables.POSTOFFICE_TOPIC_ARN_PREFIX == var.platform.topic_arn_prefix
    )
    error_message = "the handler answers SNS within its 15 s, runs its own code within handler.timeout, and reads the bridge's configuration"
  }
  assert {
    condition = (
      aws_lambda_function.handler[0].environment[0].variables.POSTOFFICE_REDRIVE_TOPIC_ARN == "arn:aws:sns:eu-west-1:123456789012:postoffice-kitchen-redrive"
      && aws_lambda_function.handler[0].environment[0].variables.POSTOFFICE_REDRIVE_EVENTS == "COOKING_FINISHED,COOKING_REQUESTED"
      && aws_sns_topic_subscription.redrive.endpoint == aws_lambda_function_url.bridge[0].function_url
    )
    error_message = "the embedded endpoint and handler accept the consumer's own events on its redrive topic, which delivers to the alias's URL"
  }
}

run "embedded_alarms_watch_the_endpoint_and_the_handlers_failed_deliveries" {
  command = apply

  variables {
    bridge = { mode = "embedded" }
  }

  assert {
    condition = (
      aws_cloudwatch_metric_alarm.bridge_errors[0].alarm_name == "postoffice-kitchen-handler-sns-endpoint-errors"
      && aws_cloudwatch_metric_alarm.bridge_errors[0].threshold == 0
      && aws_cloudwatch_metric_alarm.bridge_errors[0].dimensions == tomap({ FunctionName = "postoffice-kitchen-handler", Resource = "postoffice-kitchen-handler:sns-endpoint" })
      && strcontains(aws_cloudwatch_metric_alarm.bridge_errors[0].alarm_description, "docs/runbook.md#lambda-errors")
    )
    error_message = "any error through the endpoint's alias pages, as any bridge error does"
  }
  assert {
    condition     = keys(aws_cloudwatch_metric_alarm.lambda_throttles) == ["handler"]
    error_message = "throttles of the one Lambda page"
  }
  assert {
    condition = (
      one([for q in aws_cloudwatch_metric_alarm.handler_errors[0].metric_query : q.expression if q.id == "failing" && q.return_data == true]) == "IF(invocations >= 10, 100 * (errors + FILL(refused, 0) + FILL(failed, 0) + FILL(timed_out, 0)) / invocations, 0)"
      && toset([for q in aws_cloudwatch_metric_alarm.handler_errors[0].metric_query : "${q.id}=${one(q.metric).dimensions.Reason}" if try(one(q.metric).namespace, null) == "PostOffice/Bridge"]) == toset(["refused=handler_non_retryable", "failed=handler_failed", "timed_out=invoke_timed_out"])
      && alltrue([for q in aws_cloudwatch_metric_alarm.handler_errors[0].metric_query : one(q.metric).dimensions.HandlerFunction == "postoffice-kitchen-handler" if try(one(q.metric).namespace, null) == "PostOffice/Bridge"])
    )
    error_message = "the handler's failure share counts the deliveries its endpoint answered 4xx/5xx for it"
  }
}

run "rejects_an_embedded_bridge_given_a_bridge_zip" {
  command = plan

  variables {
    bridge = { mode = "embedded", zip = "../../../.terraform-cli/lambda/sns-bridge/bootstrap.zip" }
  }

  expect_failures = [var.bridge]
}

run "rejects_an_unknown_bridge_mode" {
  command = plan

  variables {
    bridge = { mode = "sidecar", zip = "../../../.terraform-cli/lambda/sns-bridge/bootstrap.zip" }
  }

  expect_failures = [var.bridge]
}

run "rejects_a_separate_bridge_without_its_zip" {
  command = plan

  variables {
    bridge = {}
  }

  expect_failures = [var.bridge]
}

run "rejects_handler_environment_that_would_reconfigure_the_endpoint" {
  command = plan

  variables {
    bridge = { mode = "embedded" }
    handler = {
      zip         = "../../../.terraform-cli/lambda/example-kitchen/bootstrap.zip"
      environment = { POSTOFFICE_ALLOWED_TOPIC_ARNS = "arn:aws:sns:eu-west-1:999999999999:*" }
    }
  }

  expect_failures = [var.handler]
}

# compute = "container": the same handler as an HTTP service on ECS behind a new ALB.
run "a_container_serves_sns_behind_its_load_balancer" {
  command = apply

  variables {
    compute = "container"
    bridge  = { mode = "embedded" }
    handler = { timeout = 8, environment = { KITCHEN_RECIPES_DIR = "/opt/kitchen/recipes" } }
    container = {
      image        = "123456789012.dkr.ecr.eu-west-1.amazonaws.com/postoffice/kitchen:1.4.0"
      endpoint_url = "https://kitchen.events.example.com/sns"
      vpc_id       = "vpc-0123456789abcdef0"
      subnet_ids   = ["subnet-0000000000000000a", "subnet-0000000000000000b"]
      load_balancer = {
        subnet_ids      = ["subnet-0000000000000000c", "subnet-0000000000000000d"]
        certificate_arn = "arn:aws:acm:eu-west-1:123456789012:certificate/0b7a2c1e-0000-4000-8000-000000000009"
      }
    }
  }

  assert {
    condition     = length(aws_lambda_function.handler) == 0 && length(aws_lambda_function.bridge) == 0 && length(aws_lambda_function_url.bridge) == 0 && length(aws_iam_role.this) == 0 && length(aws_cloudwatch_log_group.this) == 0
    error_message = "a container consumer has no Lambda, function URL or Lambda role"
  }
  assert {
    condition = alltrue([for event, subscription in aws_sns_topic_subscription.this :
      subscription.endpoint == "https://kitchen.events.example.com/sns"
      && subscription.protocol == "https"
      && jsondecode(subscription.redrive_policy).deadLetterTargetArn == aws_sqs_queue.dlq.arn
    ]) && output.bridge_url == "https://kitchen.events.example.com/sns"
    error_message = "every subscription delivers to the service's HTTPS endpoint and redrives to the consumer DLQ"
  }
  assert {
    condition     = aws_sns_topic_subscription.redrive.endpoint == "https://kitchen.events.example.com/sns" && jsondecode(aws_sns_topic_subscription.redrive.redrive_policy).deadLetterTargetArn == aws_sqs_queue.dlq.arn
    error_message = "the redrive topic delivers to the service's HTTPS endpoint and dead-letters into the consumer DLQ, as the event topics"
  }
  assert {
    condition = (
      aws_ecs_task_definition.handler[0].runtime_platform[0].cpu_architecture == "ARM64"
      && aws_ecs_task_definition.handler[0].runtime_platform[0].operating_system_family == "LINUX"
      && aws_ecs_task_definition.handler[0].requires_compatibilities == toset(["FARGATE"])
      && aws_ecs_task_definition.handler[0].network_mode == "awsvpc"
      && aws_ecs_task_definition.handler[0].task_role_arn == aws_iam_role.task[0].arn
      && aws_ecs_task_definition.handler[0].execution_role_arn == aws_iam_role.execution[0].arn
      && aws_iam_role.task[0].arn != aws_iam_role.execution[0].arn || aws_iam_role.task[0].name != aws_iam_role.execution[0].name
    )
    error_message = "the task is Fargate ARM64, with a task role apart from its execution role"
  }
  assert {
    condition = (
      one(jsondecode(aws_ecs_task_definition.handler[0].container_definitions)).readonlyRootFilesystem == true
      && one(jsondecode(aws_ecs_task_definition.handler[0].container_definitions)).portMappings[0].containerPort == 8080
      && one(jsondecode(aws_ecs_task_definition.handler[0].container_definitions)).logConfiguration.options["awslogs-group"] == "/ecs/postoffice-kitchen-service"
      && { for v in one(jsondecode(aws_ecs_task_definition.handler[0].container_definitions)).environment : v.name => v.value } == {
        KITCHEN_RECIPES_DIR                = "/opt/kitchen/recipes"
        POSTOFFICE_TOPIC_ARN_PREFIX        = "arn:aws:sns:eu-west-1:123456789012:postoffice-"
        POSTOFFICE_LISTEN_ADDRESS          = "0.0.0.0:8080"
        POSTOFFICE_HANDLER_NAME            = "postoffice-kitchen-service"
        POSTOFFICE_ALLOWED_TOPIC_ARNS      = "arn:aws:sns:eu-west-1:123456789012:postoffice-COOKING_FINISHED,arn:aws:sns:eu-west-1:123456789012:postoffice-COOKING_REQUESTED,arn:aws:sns:eu-west-1:123456789012:postoffice-kitchen-redrive"
        POSTOFFICE_REDRIVE_TOPIC_ARN       = "arn:aws:sns:eu-west-1:123456789012:postoffice-kitchen-redrive"
        POSTOFFICE_REDRIVE_EVENTS          = "COOKING_FINISHED,COOKING_REQUESTED"
        POSTOFFICE_INVOKE_TIMEOUT_MS       = "8000"
        POSTOFFICE_MAX_MESSAGE_AGE_SECONDS = "10800"
      }
    )
    error_message = "the container gets the endpoint's configuration, the handler's and its own, on a read-only root filesystem, logging to its log group"
  }
  assert {
    condition     = aws_cloudwatch_log_group.service[0].retention_in_days == 365 && aws_cloudwatch_log_group.service[0].kms_key_id == var.platform.kms_key_arn
    error_message = "the service's logs are KMS-encrypted and kept as the Lambdas' are"
  }
  assert {
    condition = (
      aws_iam_role_policy.handler.role == aws_iam_role.task[0].id
      && aws_iam_role_policy.bridge.role == aws_iam_role.task[0].id
      && [for s in data.aws_iam_policy_document.handler.statement : s.resources if contains(s.actions, "sns:Publish")] == [toset(["arn:aws:sns:eu-west-1:123456789012:postoffice-COOKING_REPLIED", "arn:aws:sns:eu-west-1:123456789012:postoffice-COOKING_STARTED"])]
      && length([for s in data.aws_iam_policy_document.handler.statement : s if contains(s.actions, "logs:PutLogEvents") || s.sid == "ReadItsEncryptedEnvironment"]) == 0
      && [for s in data.aws_iam_policy_document.bridge.statement : s.sid] == ["ConfirmItsSubscriptions"]
    )
    error_message = "the task role may do what the handler and its endpoint do, and nothing of a Lambda's"
  }
  assert {
    condition = (
      [for s in data.aws_iam_policy_document.execution[0].statement : s.sid] == ["WriteItsLogs", "PullItsImage", "AuthenticateToTheRegistry"]
      && [for s in data.aws_iam_policy_document.execution[0].statement : s.resources if s.sid == "PullItsImage"] == [toset(["arn:aws:ecr:eu-west-1:123456789012:repository/postoffice/kitchen"])]
      && [for s in data.aws_iam_policy_document.execution[0].statement : s.resources if s.sid == "WriteItsLogs"] == [toset(["${aws_cloudwatch_log_group.service[0].arn}:*"])]
      && aws_iam_role_policy.execution[0].role == aws_iam_role.execution[0].id
    )
    error_message = "the execution role may write the service's logs and pull its own image only"
  }
  assert {
    condition     = one(data.aws_iam_policy_document.ecs_tasks_assume[0].statement[0].principals).identifiers == toset(["ecs-tasks.amazonaws.com"]) && contains([for c in data.aws_iam_policy_document.ecs_tasks_assume[0].statement[0].condition : c.variable], "aws:SourceAccount")
    error_message = "only ECS tasks of this account assume the roles"
  }
  assert {
    condition = (
      aws_lb.this[0].internal == false
      && aws_lb.this[0].drop_invalid_header_fields == true
      && aws_lb.this[0].enable_deletion_protection == true
      && aws_lb_listener.https[0].protocol == "HTTPS"
      && aws_lb_listener.https[0].port == 443
      && aws_lb_listener.https[0].ssl_policy == "ELBSecurityPolicy-TLS13-1-2-2021-06"
      && aws_lb_listener.https[0].certificate_arn == var.container.load_balancer.certificate_arn
      && aws_lb_listener.https[0].default_action[0].target_group_arn == aws_lb_target_group.handler[0].arn
      && length(aws_lb_listener_rule.handler) == 0
    )
    error_message = "a new public ALB forwards its TLS 1.2+ HTTPS listener to the handler's tasks"
  }
  assert {
    condition = (
      aws_lb_target_group.handler[0].target_type == "ip"
      && aws_lb_target_group.handler[0].health_check[0].path == "/health"
      && aws_lb_target_group.handler[0].health_check[0].matcher == "200"
      && aws_lb_target_group.handler[0].deregistration_delay == "20"
    )
    error_message = "the target group checks the service's health path and drains within the endpoint's deadline"
  }
  assert {
    condition = (
      aws_ecs_service.handler[0].launch_type == "FARGATE"
      && aws_ecs_service.handler[0].cluster == aws_ecs_cluster.this[0].arn
      && aws_ecs_service.handler[0].network_configuration[0].assign_public_ip == false
      && aws_ecs_service.handler[0].network_configuration[0].security_groups == toset([aws_security_group.tasks[0].id])
      && aws_ecs_service.handler[0].wait_for_steady_state == true
      && aws_ecs_service.handler[0].deployment_circuit_breaker[0].rollback == true
      && one(aws_ecs_cluster.this[0].setting).value == "enabled"
    )
    error_message = "the service runs private tasks in a cluster with Container Insights, and is steady before SNS confirms its subscriptions"
  }
  assert {
    condition = (
      aws_vpc_security_group_ingress_rule.tasks_from_load_balancer[0].referenced_security_group_id == aws_security_group.load_balancer[0].id
      && aws_vpc_security_group_ingress_rule.tasks_from_load_balancer[0].from_port == 8080
      && aws_vpc_security_group_ingress_rule.load_balancer_https["ipv4"].from_port == 443
      && aws_vpc_security_group_egress_rule.tasks_https[0].from_port == 443
    )
    error_message = "only the load balancer reaches the tasks; the tasks reach HTTPS only"
  }
  assert {
    condition     = length(aws_cloudwatch_metric_alarm.bridge_errors) == 0 && length(aws_cloudwatch_metric_alarm.handler_errors) == 0 && length(aws_cloudwatch_metric_alarm.lambda_throttles) == 0
    error_message = "a container has no Lambda alarms"
  }
  assert {
    condition     = aws_cloudwatch_metric_alarm.service_no_healthy_targets[0].dimensions == tomap({ TargetGroup = "targetgroup/postoffice-kitchen/73e2d6bc24d8a067", LoadBalancer = "app/postoffice-kitchen/50dc6c495c0c9188" })
    error_message = "the target health alarm watches this target group on its load balancer"
  }
  assert {
    condition     = aws_cloudwatch_metric_alarm.service_running_tasks[0].dimensions == tomap({ ClusterName = "postoffice-kitchen-service", ServiceName = "postoffice-kitchen-service" })
    error_message = "the running-tasks alarm watches the service in its cluster (Container Insights)"
  }
  assert {
    condition     = aws_cloudwatch_metric_alarm.service_running_tasks[0].threshold == 2
    error_message = "it pages below the desired count"
  }
  assert {
    condition     = one([for q in aws_cloudwatch_metric_alarm.service_errors[0].metric_query : q.expression if q.return_data]) == "IF(requests >= 10, 100 * FILL(failed, 0) / requests, 0)"
    error_message = "the error alarm pages on the share of deliveries the service answers 5xx"
  }
  assert {
    condition     = alltrue([for a in [aws_cloudwatch_metric_alarm.service_no_healthy_targets[0], aws_cloudwatch_metric_alarm.service_connection_errors[0], aws_cloudwatch_metric_alarm.service_running_tasks[0], aws_cloudwatch_metric_alarm.service_errors[0]] : a.alarm_actions == toset([var.platform.oncall_topic_arn]) && strcontains(a.alarm_description, "docs/runbook.md#service-")])
    error_message = "every service alarm pages on-call and links the runbook"
  }
  assert {
    condition     = aws_cloudwatch_metric_alarm.dlq_depth.alarm_name == "postoffice-kitchen-dlq-depth"
    error_message = "the DLQ alarms are the same"
  }
}

run "a_container_on_a_shared_listener_gets_a_rule_for_its_path" {
  command = apply

  variables {
    compute = "container"
    bridge  = { mode = "embedded" }
    handler = {}
    container = {
      image        = "ghcr.io/example/kitchen-service:1.4.0"
      endpoint_url = "https://events.example.com/kitchen/sns"
      vpc_id       = "vpc-0123456789abcdef0"
      subnet_ids   = ["subnet-0000000000000000a"]
      cluster_arn  = "arn:aws:ecs:eu-west-1:123456789012:cluster/backend"
      load_balancer = {
        listener_arn      = "arn:aws:elasticloadbalancing:eu-west-1:123456789012:listener/app/backend/6d0ecf831eec9f09/0467ef3c8400ae65"
        security_group_id = "sg-0fedcba9876543210"
        rule_priority     = 40
      }
    }
  }

  assert {
    condition = (
      length(aws_lb.this) == 0 && length(aws_lb_listener.https) == 0 && length(aws_security_group.load_balancer) == 0 && length(aws_ecs_cluster.this) == 0
      && aws_lb_listener_rule.handler[0].listener_arn == var.container.load_balancer.listener_arn
      && aws_lb_listener_rule.handler[0].priority == 40
      && one(one(aws_lb_listener_rule.handler[0].condition).path_pattern).values == toset(["/kitchen/sns"])
      && aws_ecs_service.handler[0].cluster == "arn:aws:ecs:eu-west-1:123456789012:cluster/backend"
    )
    error_message = "on a given listener the module adds a rule for the endpoint's path, in the given cluster"
  }
  assert {
    condition     = aws_vpc_security_group_ingress_rule.tasks_from_load_balancer[0].referenced_security_group_id == "sg-0fedcba9876543210"
    error_message = "the tasks accept the given load balancer's security group only"
  }
  assert {
    condition = (
      aws_cloudwatch_metric_alarm.service_errors[0].metric_query != null
      && aws_cloudwatch_metric_alarm.service_no_healthy_targets[0].dimensions.LoadBalancer == "app/backend/6d0ecf831eec9f09"
      && aws_cloudwatch_metric_alarm.service_running_tasks[0].dimensions.ClusterName == "backend"
    )
    error_message = "the alarms watch the given load balancer and cluster"
  }
  assert {
    condition     = [for s in data.aws_iam_policy_document.execution[0].statement : s.sid] == ["WriteItsLogs"]
    error_message = "an image outside ECR needs no registry permissions"
  }
}

run "rejects_a_container_without_an_embedded_endpoint" {
  command = plan

  variables {
    compute = "container"
    handler = {}
    container = {
      image         = "ghcr.io/example/kitchen-service:1.4.0"
      endpoint_url  = "https://kitchen.events.example.com/sns"
      vpc_id        = "vpc-0123456789abcdef0"
      subnet_ids    = ["subnet-0000000000000000a"]
      load_balancer = { certificate_arn = "arn:aws:acm:eu-west-1:123456789012:certificate/x", subnet_ids = ["subnet-c", "subnet-d"] }
    }
  }

  expect_failures = [var.bridge]
}

run "rejects_a_container_given_a_zip_or_a_mixed_load_balancer" {
  command = plan

  variables {
    compute = "container"
    bridge  = { mode = "embedded" }
    handler = { zip = "../../../.terraform-cli/lambda/example-kitchen/bootstrap.zip" }
    container = {
      image        = "ghcr.io/example/kitchen-service:1.4.0"
      endpoint_url = "http://kitchen.events.example.com/sns"
      vpc_id       = "vpc-0123456789abcdef0"
      subnet_ids   = ["subnet-0000000000000000a"]
      cpu          = 256
      memory       = 4096
      load_balancer = {
        listener_arn    = "arn:aws:elasticloadbalancing:eu-west-1:123456789012:listener/app/backend/6d0ecf831eec9f09/0467ef3c8400ae65"
        certificate_arn = "arn:aws:acm:eu-west-1:123456789012:certificate/x"
      }
    }
  }

  expect_failures = [var.handler, var.container]
}

run "rejects_container_settings_for_a_lambda" {
  command = plan

  variables {
    compute = "lambda"
    container = {
      image         = "ghcr.io/example/kitchen-service:1.4.0"
      endpoint_url  = "https://kitchen.events.example.com/sns"
      vpc_id        = "vpc-0123456789abcdef0"
      subnet_ids    = ["subnet-0000000000000000a"]
      load_balancer = { certificate_arn = "arn:aws:acm:eu-west-1:123456789012:certificate/x", subnet_ids = ["subnet-c", "subnet-d"] }
    }
  }

  expect_failures = [var.container]
}

run "a_handler_gets_the_policy_of_its_dependencies" {
  command = plan

  variables {
    handler = {
      zip         = "../../../.terraform-cli/lambda/example-kitchen/bootstrap.zip"
      policy_json = "{\"Version\":\"2012-10-17\",\"Statement\":[{\"Effect\":\"Allow\",\"Action\":\"iot:DescribeThing\",\"Resource\":\"arn:aws:iot:eu-west-1:123456789012:thing/*\"}]}"
    }
  }

  assert {
    condition     = length(aws_iam_role_policy.handler_dependencies) == 1 && aws_iam_role_policy.handler_dependencies[0].name == "handler-dependencies" && jsondecode(aws_iam_role_policy.handler_dependencies[0].policy).Statement[0].Action == "iot:DescribeThing"
    error_message = "handler.policy_json is the handler role's dependencies policy"
  }
}

run "a_handler_without_dependencies_gets_no_extra_policy" {
  command = plan

  assert {
    condition     = length(aws_iam_role_policy.handler_dependencies) == 0
    error_message = "no handler.policy_json, no extra policy"
  }
}

run "rejects_a_handler_policy_that_is_not_a_policy_document" {
  command = plan

  variables {
    handler = {
      zip         = "../../../.terraform-cli/lambda/example-kitchen/bootstrap.zip"
      policy_json = "{\"Effect\":\"Allow\"}"
    }
  }

  expect_failures = [var.handler]
}
