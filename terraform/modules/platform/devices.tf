# Device permissions as IoT policies, attached to each device certificate at provisioning (every
# name in the device_policy_names output). IoT policy variables are resolved per connection;
# `+` and `#` would be literal characters in policy resources, and `*` matches across levels.
#
# Limits (AWS IoT Core quotas, https://docs.aws.amazon.com/general/latest/gr/iot-core.html):
# a policy document holds at most 2,048 characters, whitespace excluded
# (https://docs.aws.amazon.com/iot/latest/apireference/API_CreatePolicy.html), and a certificate
# takes at most 10 policies. One Publish resource per device event costs about 110 characters
# plus the event name, so the events are spread over up to 9 publish policies next to the base
# policy. An event's policy is chosen by a hash of its name, so adding an event never moves the
# others: existing certificates keep every permission they had, and only an event that lands in
# a bucket without a policy yet creates one, which provisioning must attach to existing
# certificates (README, Device policies). The preconditions fail the plan before IoT would refuse
# a policy.
locals {
  thing     = "$${iot:Connection.Thing.ThingName}"
  household = "$${iot:Connection.Thing.Attributes[${var.household_thing_attribute}]}"
  # The base policy lets a certificate connect only with its thing's name as client id, so the
  # (shorter) client id stands for the thing name in the publish resources.
  client = "$${iot:ClientId}"

  device_policy_limit    = 2048
  device_policies_limit  = 10
  device_publish_buckets = local.device_policies_limit - 1

  device_event_buckets = {
    for event in var.device_events : event => parseint(substr(sha1(event), 0, 8), 16) % local.device_publish_buckets
  }

  device_policy = {
    Version = "2012-10-17"
    Statement = [
      {
        Sid      = "ConnectAsItsOwnThing"
        Effect   = "Allow"
        Action   = "iot:Connect"
        Resource = "${local.iot_arn_prefix}:client/${local.thing}"
        Condition = {
          Bool = { "iot:Connection.Thing.IsAttached" = "true" }
        }
      },
      {
        Sid      = "SubscribeToItsOwnTopics"
        Effect   = "Allow"
        Action   = "iot:Subscribe"
        Resource = "${local.iot_arn_prefix}:topicfilter/*/${local.household}/${local.thing}"
      },
      {
        Sid      = "ReceiveOnItsOwnTopics"
        Effect   = "Allow"
        Action   = "iot:Receive"
        Resource = "${local.iot_arn_prefix}:topic/*/${local.household}/${local.thing}"
      },
      # Before it belongs to a household (the household variable resolves to nothing, so the
      # statements above match nothing), an appliance can only wait for the answer to its
      # pairing, in whatever household pairs it; the topic the answer arrives on names the
      # household, and its next connection resolves to it (onboarding.tf).
      {
        Sid    = "SubscribeToItsPairingAnswers"
        Effect = "Allow"
        Action = "iot:Subscribe"
        # `*` matches the `+` of the filter the device subscribes with (policies treat MQTT
        # wildcards as literal characters).
        Resource = "${local.iot_arn_prefix}:topicfilter/${var.pairing_answer_event}/*/${local.thing}"
      },
      {
        Sid      = "ReceiveItsPairingAnswers"
        Effect   = "Allow"
        Action   = "iot:Receive"
        Resource = "${local.iot_arn_prefix}:topic/${var.pairing_answer_event}/*/${local.thing}"
      },
    ]
  }

  device_publish_policies = {
    for bucket in distinct(values(local.device_event_buckets)) : tostring(bucket) => {
      Version = "2012-10-17"
      Statement = [{
        Sid    = "PublishItsOwnEvents"
        Effect = "Allow"
        Action = "iot:Publish"
        Resource = [
          for event in sort(keys(local.device_event_buckets)) : "${local.iot_arn_prefix}:topic/${event}/${local.household}/${local.client}"
          if local.device_event_buckets[event] == bucket
        ]
      }]
    }
  }
}

resource "aws_iot_policy" "device" {
  name   = "${var.prefix}-device"
  policy = jsonencode(local.device_policy)
  tags   = local.tags
}

resource "aws_iot_policy" "device_publish" {
  for_each = local.device_publish_policies
  name     = "${var.prefix}-device-publish-${each.key}"
  policy   = jsonencode(each.value)
  tags     = local.tags

  lifecycle {
    precondition {
      condition     = length(replace(jsonencode(each.value), "/\\s/", "")) <= local.device_policy_limit
      error_message = "The device publish policy ${var.prefix}-device-publish-${each.key} (${join(", ", [for event, bucket in local.device_event_buckets : event if tostring(bucket) == each.key])}) needs ${length(replace(jsonencode(each.value), "/\\s/", ""))} characters; IoT accepts at most ${local.device_policy_limit} without whitespace. Devices cannot be allowed more events per certificate (10 policies): see README, Device policies."
    }
  }
}

data "aws_iot_endpoint" "data" {
  endpoint_type = "iot:Data-ATS"
}
