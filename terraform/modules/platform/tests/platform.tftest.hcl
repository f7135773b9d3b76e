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
  mock_resource "aws_cognito_user_pool" {
    defaults = { id = "eu-west-1_Example1", arn = "arn:aws:cognito-idp:eu-west-1:123456789012:userpool/eu-west-1_Example1", endpoint = "cognito-idp.eu-west-1.amazonaws.com/eu-west-1_Example1" }
  }
  mock_resource "aws_cognito_user_pool_client" {
    defaults = { id = "exampleclientid" }
  }
  mock_resource "aws_lambda_function" {
    defaults = { arn = "arn:aws:lambda:eu-west-1:123456789012:function:postoffice-mobile-sign-in" }
  }
  mock_resource "aws_lambda_function_url" {
    defaults = { function_url = "https://example.lambda-url.eu-west-1.on.aws/" }
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
  device_events          = ["DEVICE_TELEMETRY_REPORTED", "COOKING_FINISHED"]
  mobile_events          = ["COOKING_REQUESTED"]
  mobile_sign_in         = { zip = "../../../.terraform-cli/lambda/mobile-sign-in/bootstrap.zip" }
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
      {
        Sid      = "SubscribeToItsPairingAnswers"
        Effect   = "Allow"
        Action   = "iot:Subscribe"
        Resource = "arn:aws:iot:eu-west-1:123456789012:topicfilter/DEVICE_PAIRING_REPLIED/*/$${iot:Connection.Thing.ThingName}"
      },
      {
        Sid      = "ReceiveItsPairingAnswers"
        Effect   = "Allow"
        Action   = "iot:Receive"
        Resource = "arn:aws:iot:eu-west-1:123456789012:topic/DEVICE_PAIRING_REPLIED/*/$${iot:Connection.Thing.ThingName}"
      },
    ]
    error_message = "the base device policy must allow exactly: connect as its thing, subscribe and receive its own topics, and its pairing answers in any household"
  }
  assert {
    # The base policy binds the client id to the thing name, so publish resources use the client id.
    condition = sort(flatten([for policy in values(aws_iot_policy.device_publish) : [
      for statement in jsondecode(policy.policy).Statement : statement.Resource if statement.Action == "iot:Publish" && statement.Effect == "Allow"
      ]])) == tolist([
      "arn:aws:iot:eu-west-1:123456789012:topic/COOKING_FINISHED/$${iot:Connection.Thing.Attributes[household]}/$${iot:ClientId}",
      "arn:aws:iot:eu-west-1:123456789012:topic/DEVICE_TELEMETRY_REPORTED/$${iot:Connection.Thing.Attributes[household]}/$${iot:ClientId}",
    ])
    error_message = "devices may publish exactly their events, each to its own household and client id"
  }
  assert {
    condition     = alltrue([for policy in values(aws_iot_policy.device_publish) : length(jsondecode(policy.policy).Statement) == 1])
    error_message = "publish policies allow publishing and nothing else"
  }
  assert {
    # MQTT wildcards are literal characters in policy resources and would match nothing useful.
    condition     = !anytrue([for policy in concat([aws_iot_policy.device.policy], [for p in values(aws_iot_policy.device_publish) : p.policy]) : strcontains(policy, "+") || strcontains(policy, "#")])
    error_message = "policy resources must not contain MQTT wildcards"
  }
  assert {
    condition     = aws_iot_policy.device.name == "postoffice-device" && output.device_policy_names[0] == "postoffice-device" && length(output.device_policy_names) == 1 + length(aws_iot_policy.device_publish)
    error_message = "provisioning attaches the base policy and every publish policy"
  }
}

run "the_factory_attaches_the_base_policy_and_pairing_the_publish_policies" {
  command = apply

  assert {
    condition     = output.factory_device_policy_name == "postoffice-device" && tolist(output.paired_device_policy_names) == tolist(slice(output.device_policy_names, 1, length(output.device_policy_names))) && length(output.paired_device_policy_names) > 0
    error_message = "the factory attaches the base policy; onboarding attaches exactly the publish policies"
  }
  assert {
    condition     = output.household_thing_attribute == "household"
    error_message = "onboarding sets the attribute the device policies resolve"
  }
}

run "onboarding_may_only_read_and_set_devices_and_their_policies" {
  command = plan

  assert {
    condition = { for s in data.aws_iam_policy_document.device_onboarding.statement : s.sid => { actions = s.actions, resources = s.resources } } == {
      ReadAndSetDeviceHouseholds = {
        actions   = toset(["iot:DescribeThing", "iot:UpdateThing", "iot:ListThingPrincipals"])
        resources = toset(["arn:aws:iot:eu-west-1:123456789012:thing/*"])
      }
      GrantAndRevokeDevicePolicies = {
        actions   = toset(["iot:AttachPolicy", "iot:DetachPolicy"])
        resources = toset(["arn:aws:iot:eu-west-1:123456789012:cert/*"])
      }
      DisconnectUnpairedDevices = {
        actions   = toset(["iot:DeleteConnection"])
        resources = toset(["arn:aws:iot:eu-west-1:123456789012:client/*"])
      }
    }
    error_message = "the onboarding role may read and set things, attach and detach policies on certificates, and close device connections: nothing else"
  }
  assert {
    condition     = alltrue([for s in data.aws_iam_policy_document.device_onboarding.statement : s.effect == null || s.effect == "Allow"])
    error_message = "the onboarding policy only allows"
  }
}

run "rejects_a_pairing_answer_event_that_is_not_an_event_name" {
  command = plan

  variables {
    pairing_answer_event = "device-pairing-replied"
  }

  expect_failures = [var.pairing_answer_event]
}

run "device_events_scale_and_keep_their_policy" {
  command = plan

  variables {
    # 72 more device events with realistic names.
    device_events = concat(["DEVICE_TELEMETRY_REPORTED", "COOKING_FINISHED"], [for i in range(72) : format("APPLIANCE_%02d_STATUS_REPORTED", i)])
  }

  assert {
    condition     = length(aws_iot_policy.device_publish) <= 9
    error_message = "a certificate takes at most 10 policies: the base one and up to 9 publish policies"
  }
  assert {
    condition     = alltrue([for policy in values(aws_iot_policy.device_publish) : length(replace(policy.policy, "/\\s/", "")) <= 2048])
    error_message = "every publish policy fits IoT's 2,048 characters"
  }
  assert {
    condition     = length(flatten([for policy in values(aws_iot_policy.device_publish) : jsondecode(policy.policy).Statement[0].Resource])) == 74
    error_message = "every device event is allowed exactly once"
  }
  assert {
    # Adding events never moves an existing one: its policy is a function of its name alone.
    condition     = output.device_policy_by_event["COOKING_FINISHED"] == run.devices_act_only_as_themselves_in_their_household.device_policy_by_event["COOKING_FINISHED"] && output.device_policy_by_event["DEVICE_TELEMETRY_REPORTED"] == run.devices_act_only_as_themselves_in_their_household.device_policy_by_event["DEVICE_TELEMETRY_REPORTED"]
    error_message = "an event's publish policy depends on its name only"
  }
}

run "rejects_more_device_events_than_a_certificate_can_be_allowed" {
  command = plan

  variables {
    device_events = [for i in range(200) : format("A_DEVICE_EVENT_NAME_OF_SOME_REALISTIC_LENGTH_%03d", i)]
  }

  expect_failures = [aws_iot_policy.device_publish]
}

run "mobile_identities_are_scoped_to_their_household" {
  command = apply

  assert {
    condition     = aws_cognito_identity_pool.mobile.allow_unauthenticated_identities == false
    error_message = "only signed-in app users get credentials"
  }
  assert {
    condition     = aws_cognito_identity_pool_provider_principal_tag.household.principal_tags["household"] == "custom:household" && length(aws_cognito_identity_pool_provider_principal_tag.household.principal_tags) == 1
    error_message = "the household claim must become the principal tag household"
  }
  assert {
    condition = alltrue([for s in jsondecode(aws_iam_role_policy.mobile.policy).Statement :
      alltrue([for r in flatten([s.Resource]) : strcontains(r, "/$${aws:PrincipalTag/household}/")]) if s.Sid != "ConnectAsItsIdentity"
    ])
    error_message = "every mobile publish, subscribe and receive must be scoped to the principal's household"
  }
  assert {
    condition     = one([for s in jsondecode(aws_iam_role_policy.mobile.policy).Statement : s.Resource if s.Sid == "PublishToItsHousehold"]) == ["arn:aws:iot:eu-west-1:123456789012:topic/COOKING_REQUESTED/$${aws:PrincipalTag/household}/*"]
    error_message = "the app may publish only the mobile events"
  }
  assert {
    # IoT allows a Cognito identity only what both its role and its IoT policy allow; the role
    # carries the events, so the IoT policy does not grow with the catalog.
    condition     = !strcontains(aws_iot_policy.mobile.policy, "COOKING_REQUESTED") && strcontains(aws_iot_policy.mobile.policy, "client/$${cognito-identity.amazonaws.com:sub}")
    error_message = "the mobile IoT policy binds the client id to the identity and names no event"
  }
  assert {
    condition     = contains(data.aws_iam_policy_document.mobile_assume.statement[0].actions, "sts:TagSession")
    error_message = "the role must accept session tags, or the household tag never arrives"
  }
}

run "the_household_is_the_administrators_to_set_not_the_apps" {
  command = apply

  assert {
    condition     = one([for a in aws_cognito_user_pool.mobile.schema : a.name if a.name == "household"]) == "household"
    error_message = "the user pool must have the custom attribute household"
  }
  assert {
    condition     = contains(aws_cognito_user_pool_client.mobile.read_attributes, "custom:household") && !contains(aws_cognito_user_pool_client.mobile.write_attributes, "custom:household")
    error_message = "the app client reads the household claim and may not write it"
  }
  assert {
    condition     = aws_cognito_user_pool.mobile.admin_create_user_config[0].allow_admin_create_user_only
    error_message = "users cannot sign themselves up (and so choose a household)"
  }
  assert {
    condition     = aws_cognito_user_pool_client.mobile.generate_secret == false
    error_message = "a mobile app cannot keep a client secret"
  }
  assert {
    condition     = one(aws_cognito_identity_pool.mobile.cognito_identity_providers).provider_name == aws_cognito_user_pool.mobile.endpoint && one(aws_cognito_identity_pool.mobile.cognito_identity_providers).client_id == aws_cognito_user_pool_client.mobile.id
    error_message = "the identity pool trusts exactly the mobile user pool's app client"
  }
}

run "mobile_sign_in_attaches_only_the_mobile_policy_and_only_the_app_calls_it" {
  command = apply

  assert {
    condition     = length(data.aws_iam_policy_document.mobile_sign_in.statement) == 3 && data.aws_iam_policy_document.mobile_sign_in.statement[0].actions == toset(["iot:AttachPolicy"]) && data.aws_iam_policy_document.mobile_sign_in.statement[0].resources == toset(["*"])
    error_message = "the sign-in role may only attach IoT policies (to Cognito identities IAM accepts only \"*\"), and nothing else"
  }
  assert {
    condition     = aws_lambda_function_url.mobile_sign_in.authorization_type == "AWS_IAM"
    error_message = "the sign-in URL must authenticate callers (the identity id comes from the signature)"
  }
  assert {
    condition     = aws_lambda_function.mobile_sign_in.environment[0].variables["POSTOFFICE_MOBILE_IOT_POLICY"] == aws_iot_policy.mobile.name && aws_lambda_function.mobile_sign_in.environment[0].variables["POSTOFFICE_MOBILE_IDENTITY_POOL_ID"] == aws_cognito_identity_pool.mobile.id
    error_message = "the function attaches the mobile policy for identities of the mobile pool"
  }
  assert {
    condition = alltrue([for s in data.aws_iam_policy_document.mobile_invokes_sign_in.statement :
    s.resources == toset([aws_lambda_function.mobile_sign_in.arn]) && length(s.condition) == 1])
    error_message = "the app role may call the sign-in function, through its URL, and no other"
  }
  assert {
    condition     = aws_iam_role_policy.mobile_invokes_sign_in.role == aws_iam_role.mobile.id
    error_message = "the permission is the app's role's"
  }
}

run "rejects_more_mobile_events_than_the_role_policy_can_hold" {
  command = plan

  variables {
    mobile_events = [for i in range(120) : format("A_MOBILE_EVENT_NAME_OF_SOME_REALISTIC_LENGTH_%03d", i)]
  }

  expect_failures = [aws_iam_role_policy.mobile]
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
  assert {
    # SNS ends every record it puts into Firehose with a newline; a second delimiter would leave
    # a blank line after each envelope.
    condition     = [for p in one(one(aws_kinesis_firehose_delivery_stream.event_store.extended_s3_configuration).processing_configuration).processors : p.type] == ["MetadataExtraction"]
    error_message = "Firehose must not append a second delimiter"
  }
  assert {
    condition     = anytrue([for c in data.aws_iam_policy_document.firehose_assume.statement[0].condition : c.variable == "sts:ExternalId" && c.values == tolist(["123456789012"])])
    error_message = "Firehose assumes its role with the account id as external id"
  }
  assert {
    condition = (
      aws_sqs_queue.event_store_dlq.name == "postoffice-event-store-dlq"
      && aws_sqs_queue.event_store_dlq.kms_master_key_id == aws_kms_key.this.arn
      && aws_sqs_queue.event_store_dlq.tags["postoffice:role"] == "event-store-dlq"
      && aws_sqs_queue.event_store_dlq.policy == data.aws_iam_policy_document.event_store_dlq.json
      && anytrue([for c in data.aws_iam_policy_document.event_store_dlq.statement[0].condition : c.variable == "aws:SourceArn" && c.values == tolist(["arn:aws:sns:eu-west-1:123456789012:postoffice-*"])])
    )
    error_message = "the event store's dead-letter queue accepts every event topic of the prefix, encrypted"
  }
  assert {
    condition     = strcontains(aws_cloudwatch_metric_alarm.event_store_dlq_depth.alarm_description, "docs/runbook.md#event-store-dlq") && aws_cloudwatch_metric_alarm.event_store_dlq_depth.threshold == 0
    error_message = "any message in the event store's dead-letter queue pages"
  }
}

run "roles_sns_assumes_have_no_condition_sns_does_not_send" {
  command = plan

  assert {
    condition     = length(data.aws_iam_policy_document.sns_assume.statement[0].condition) == 0
    error_message = "SNS does not document aws:SourceAccount on these assumptions; a condition on it would deny them"
  }
  assert {
    condition     = data.aws_iam_policy_document.sns_delivery_status.statement[0].actions == toset(["logs:CreateLogGroup", "logs:CreateLogStream", "logs:PutLogEvents"])
    error_message = "SNS gets the documented log actions and cannot change retention"
  }
  assert {
    condition     = anytrue([for c in data.aws_iam_policy_document.iot_assume.statement[0].condition : c.variable == "aws:SourceArn" && c.values == tolist(["arn:aws:iot:eu-west-1:123456789012:rule/postoffice_*"])])
    error_message = "only this prefix's rules may assume the rule-errors role"
  }
}

run "rejects_a_bucket_name_s3_would_refuse" {
  command = plan

  variables {
    prefix = "a-twenty-four-char-prefx"
  }

  override_data {
    target = data.aws_region.current
    values = { name = "ap-southeast-2" }
  }

  expect_failures = [aws_s3_bucket.event_store]
}

run "rule_errors_and_oncall" {
  command = apply

  assert {
    condition     = aws_sqs_queue.rule_errors.name == "postoffice-rule-errors" && aws_sqs_queue.rule_errors.tags["postoffice:role"] == "rule-errors" && aws_sqs_queue.rule_errors.kms_master_key_id == aws_kms_key.this.arn
    error_message = "the rule-errors queue is named, tagged and encrypted as contracts.md says"
  }
  assert {
    condition     = aws_cloudwatch_metric_alarm.rule_errors_queue_age.metric_name == "ApproximateAgeOfOldestMessage" && aws_cloudwatch_metric_alarm.rule_errors_queue_age.threshold < 1209600
    error_message = "the rule-errors queue pages before its messages expire"
  }
  assert {
    condition     = strcontains(aws_cloudwatch_metric_alarm.rule_errors_queue_depth.alarm_description, "docs/runbook.md#rule-errors-queue-depth") && strcontains(aws_cloudwatch_metric_alarm.firehose_delivery_failures.alarm_description, "docs/runbook.md#firehose-delivery-failures") && strcontains(aws_cloudwatch_metric_alarm.rule_errors_queue_age.alarm_description, "docs/runbook.md#rule-errors-queue-age")
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

run "oncall_topic_admits_only_this_post_offices_alarms" {
  command = plan

  assert {
    condition = jsondecode(aws_sns_topic.oncall.policy) == {
      Version = "2012-10-17"
      Statement = [
        {
          Sid       = "AlarmsOfThisPostOfficePublish"
          Effect    = "Allow"
          Principal = { Service = "cloudwatch.amazonaws.com" }
          Action    = "sns:Publish"
          Resource  = "arn:aws:sns:eu-west-1:123456789012:postoffice-oncall"
          Condition = {
            ArnLike      = { "aws:SourceArn" = "arn:aws:cloudwatch:eu-west-1:123456789012:alarm:postoffice-*" }
            StringEquals = { "aws:SourceAccount" = "123456789012" }
          }
        },
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
          Resource = "arn:aws:sns:eu-west-1:123456789012:postoffice-oncall"
        },
        {
          Sid       = "DenyInsecureTransport"
          Effect    = "Deny"
          Principal = "*"
          Action    = "sns:*"
          Resource  = "arn:aws:sns:eu-west-1:123456789012:postoffice-oncall"
          Condition = { Bool = { "aws:SecureTransport" = "false" } }
        },
      ]
    }
    error_message = "the on-call topic admits this post office's alarms, the account through IAM, and refuses plain HTTP"
  }
  assert {
    # What SNS's default policy allowed: principal "*" limited by the account alone.
    condition = alltrue([for statement in jsondecode(aws_sns_topic.oncall.policy).Statement :
      statement.Effect != "Allow" || try(statement.Principal.AWS, null) == "arn:aws:iam::123456789012:root" || (
        contains(flatten([for test, keys in try(statement.Condition, {}) : [for key, value in keys : key]]), "aws:SourceAccount")
        && contains(flatten([for test, keys in try(statement.Condition, {}) : [for key, value in keys : key]]), "aws:SourceArn")
      )
    ])
    error_message = "no statement may allow anyone but the account root without aws:SourceAccount and aws:SourceArn"
  }
  assert {
    condition     = alltrue([for statement in jsondecode(aws_sns_topic.oncall.policy).Statement : statement.Effect == "Deny" if statement.Principal == "*"])
    error_message = "principal * may appear only in a deny statement"
  }
  assert {
    condition = alltrue([for alarm in [
      aws_cloudwatch_metric_alarm.rule_errors_queue_depth,
      aws_cloudwatch_metric_alarm.rule_errors_queue_age,
      aws_cloudwatch_metric_alarm.firehose_delivery_failures,
      aws_cloudwatch_metric_alarm.event_store_dlq_depth,
      aws_cloudwatch_metric_alarm.rejected_device_messages_depth,
    ] : startswith(alarm.alarm_name, "postoffice-")])
    error_message = "every platform alarm must be named <prefix>-..., or the on-call topic refuses its notifications"
  }
  assert {
    # The key encrypts for the on-call topic and the encrypted dead-letter queues.
    condition = (
      one([for s in data.aws_iam_policy_document.kms.statement : s.actions if s.sid == "AlarmsPublishToOncall"]) == toset(["kms:GenerateDataKey*", "kms:Decrypt"])
      && one([for s in data.aws_iam_policy_document.kms.statement : one(s.principals).identifiers if s.sid == "AlarmsPublishToOncall"]) == toset(["cloudwatch.amazonaws.com"])
      && one([for s in data.aws_iam_policy_document.kms.statement : s.actions if s.sid == "SnsDeliversToEncryptedQueues"]) == toset(["kms:GenerateDataKey*", "kms:Decrypt"])
    )
    error_message = "the key policy must keep letting CloudWatch publish to the on-call topic and SNS dead-letter into encrypted queues"
  }
}

run "rejected_device_messages_are_kept_and_counted" {
  command = apply

  assert {
    condition = (
      aws_sqs_queue.rejected_device_messages.name == "postoffice-rejected-device-messages"
      && aws_sqs_queue.rejected_device_messages.kms_master_key_id == aws_kms_key.this.arn
      && aws_sqs_queue.rejected_device_messages.message_retention_seconds == 1209600
      && aws_sqs_queue.rejected_device_messages.tags["postoffice:role"] == "rejected-device-messages"
    )
    error_message = "the rejected-device-messages queue is named, tagged, encrypted and keeps 14 days, as contracts.md says"
  }
  assert {
    condition = (
      aws_sqs_queue.rejected_device_messages.policy == data.aws_iam_policy_document.rejected_device_messages_queue.json
      && one(data.aws_iam_policy_document.rejected_device_messages_queue.statement).effect == "Deny"
      && one(data.aws_iam_policy_document.rejected_device_messages_queue.statement).resources == toset(["arn:aws:sqs:eu-west-1:123456789012:postoffice-rejected-device-messages"])
    )
    error_message = "the queue's policy only refuses plain HTTP"
  }
  assert {
    condition = (
      anytrue([for c in data.aws_iam_policy_document.rejected_device_messages_assume.statement[0].condition : c.variable == "aws:SourceArn" && c.test == "ArnLike" && c.values == tolist(["arn:aws:iot:eu-west-1:123456789012:rule/postoffice_*_rejected"])])
      && anytrue([for c in data.aws_iam_policy_document.rejected_device_messages_assume.statement[0].condition : c.variable == "aws:SourceAccount" && c.values == tolist(["123456789012"])])
    )
    error_message = "only the rejection rules of this prefix and account may assume the role"
  }
  assert {
    condition = (
      data.aws_iam_policy_document.rejected_device_messages.statement[0].actions == toset(["sqs:SendMessage"])
      && data.aws_iam_policy_document.rejected_device_messages.statement[0].resources == toset([aws_sqs_queue.rejected_device_messages.arn])
      && length(data.aws_iam_policy_document.rejected_device_messages.statement) == 2
      && anytrue([for c in data.aws_iam_policy_document.rejected_device_messages.statement[1].condition : c.variable == "kms:ViaService" && c.values == tolist(["sqs.eu-west-1.amazonaws.com"])])
    )
    error_message = "the role may send to the rejected queue and use the key through SQS, nothing else"
  }
  assert {
    condition = (
      aws_cloudwatch_metric_alarm.rejected_device_messages_depth.metric_name == "ApproximateNumberOfMessagesVisible"
      && aws_cloudwatch_metric_alarm.rejected_device_messages_depth.dimensions.QueueName == "postoffice-rejected-device-messages"
      && aws_cloudwatch_metric_alarm.rejected_device_messages_depth.threshold == 1000
      && aws_cloudwatch_metric_alarm.rejected_device_messages_depth.alarm_actions == toset([aws_sns_topic.oncall.arn])
      && strcontains(aws_cloudwatch_metric_alarm.rejected_device_messages_depth.alarm_description, "docs/runbook.md#rejected-device-messages")
    )
    error_message = "a flood of rejected device messages pages on-call, with the runbook"
  }
  assert {
    condition     = output.for_events.rejected_device_messages_queue_url == aws_sqs_queue.rejected_device_messages.url && output.for_events.rejected_device_messages_role_arn == aws_iam_role.rejected_device_messages.arn
    error_message = "the event modules get the rejected queue and its role"
  }
}

run "rejects_a_rejected_messages_threshold_below_one" {
  command = plan

  variables {
    rejected_device_messages_alarm_threshold = 0
  }

  expect_failures = [var.rejected_device_messages_alarm_threshold]
}

run "rejects_event_names_that_are_not_upper_snake_case" {
  command = plan

  variables {
    device_events = ["COOKING_FINISHED", "cooking/+"]
  }

  expect_failures = [var.device_events]
}
