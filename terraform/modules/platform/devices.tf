locals {
  # IoT policy variables, resolved by IoT Core per connection. `+` and `#` would be literal
  # characters in policy resources; `*` matches across levels.
  thing     = "$${iot:Connection.Thing.ThingName}"
  household = "$${iot:Connection.Thing.Attributes[${var.household_thing_attribute}]}"

  device_policy = {
    Version = "2012-10-17"
    Statement = concat(
      [{
        Sid      = "ConnectAsItsOwnThing"
        Effect   = "Allow"
        Action   = "iot:Connect"
        Resource = "${local.iot_arn_prefix}:client/${local.thing}"
        Condition = {
          Bool = { "iot:Connection.Thing.IsAttached" = "true" }
        }
      }],
      length(var.device_events) == 0 ? [] : [{
        Sid      = "PublishItsOwnEvents"
        Effect   = "Allow"
        Action   = "iot:Publish"
        Resource = [for event in sort(var.device_events) : "${local.iot_arn_prefix}:topic/${event}/${local.household}/${local.thing}"]
      }],
      [
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
      ],
    )
  }
}

# Attached to each device certificate at provisioning; the thing carries the household attribute.
resource "aws_iot_policy" "device" {
  name   = "${var.prefix}-device"
  policy = jsonencode(local.device_policy)
  tags   = local.tags
}

data "aws_iot_endpoint" "data" {
  endpoint_type = "iot:Data-ATS"
}
