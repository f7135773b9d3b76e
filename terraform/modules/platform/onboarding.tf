# Onboarding: appliances leave the factory registered (certificate, thing, the SHA-256 of their
# pairing code as the `pairing_claim` attribute) with no household and no policy, so IoT Core
# refuses their connections. The onboarding service (lambdas/onboarding, a consumer) pairs an
# appliance with the household whose app proves the code, and unpairs it. This is its role's IoT
# policy, passed to the consumer module as `handler.policy_json`: only the registry and broker
# calls it makes, one statement per purpose.
data "aws_iam_policy_document" "device_onboarding" {
  statement {
    sid       = "ReadAndSetDeviceHouseholds"
    actions   = ["iot:DescribeThing", "iot:UpdateThing", "iot:ListThingPrincipals"]
    resources = ["${local.iot_arn_prefix}:thing/*"]
  }

  # IAM authorises AttachPolicy and DetachPolicy on their target (a certificate or a thing
  # group), not on the policy attached: "AttachPolicy ... Resource types: cert, thinggroup"
  # (https://docs.aws.amazon.com/service-authorization/latest/reference/list_awsiot.html). The
  # role is limited to certificates; which policies it attaches is the service's configuration
  # (POSTOFFICE_DEVICE_POLICIES = device_policy_names), not something IAM can narrow.
  statement {
    sid       = "GrantAndRevokeDevicePolicies"
    actions   = ["iot:AttachPolicy", "iot:DetachPolicy"]
    resources = ["${local.iot_arn_prefix}:cert/*"]
  }

  # iot-data DeleteConnection (DELETE /connections/{clientId}): an unpaired appliance loses its
  # open connection at once; a device's client id is its thing name.
  statement {
    sid       = "DisconnectUnpairedDevices"
    actions   = ["iot:DeleteConnection"]
    resources = ["${local.iot_arn_prefix}:client/*"]
  }
}
