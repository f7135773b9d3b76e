# The mobile app signs in with the app's Cognito user pool and gets credentials from this
# identity pool. The household comes from the user pool token: the claim named in
# `mobile_identity_provider.household_claim` becomes the session (principal) tag `household`,
# and the authenticated role scopes every IoT action to `*/${aws:PrincipalTag/household}/*`.
# IoT also requires an IoT policy attached to each Cognito identity: the app's sign-in backend
# calls iot:AttachPolicy(policyName = mobile_iot_policy_name, target = <identity id>) once per
# identity. IoT allows only what both the role and that policy allow.
resource "aws_cognito_identity_pool" "mobile" {
  identity_pool_name               = "${var.prefix}-mobile"
  allow_unauthenticated_identities = false
  allow_classic_flow               = false

  cognito_identity_providers {
    provider_name           = var.mobile_identity_provider.provider_name
    client_id               = var.mobile_identity_provider.client_id
    server_side_token_check = true
  }

  tags = local.tags
}

resource "aws_cognito_identity_pool_provider_principal_tag" "household" {
  identity_pool_id       = aws_cognito_identity_pool.mobile.id
  identity_provider_name = var.mobile_identity_provider.provider_name
  use_defaults           = false
  principal_tags = {
    household = var.mobile_identity_provider.household_claim
  }
}

data "aws_iam_policy_document" "mobile_assume" {
  statement {
    actions = ["sts:AssumeRoleWithWebIdentity", "sts:TagSession"]
    principals {
      type        = "Federated"
      identifiers = ["cognito-identity.amazonaws.com"]
    }
    condition {
      test     = "StringEquals"
      variable = "cognito-identity.amazonaws.com:aud"
      values   = [aws_cognito_identity_pool.mobile.id]
    }
    condition {
      test     = "ForAnyValue:StringLike"
      variable = "cognito-identity.amazonaws.com:amr"
      values   = ["authenticated"]
    }
  }
}

resource "aws_iam_role" "mobile" {
  name               = "${var.prefix}-mobile-authenticated"
  assume_role_policy = data.aws_iam_policy_document.mobile_assume.json
  tags               = local.tags
}

locals {
  mobile_household = "$${aws:PrincipalTag/household}"
  mobile_identity  = "$${cognito-identity.amazonaws.com:sub}"
}

# Written as JSON here rather than with aws_iam_policy_document so that its size is known, and
# checked, at plan time.
locals {
  mobile_policy = {
    Version = "2012-10-17"
    Statement = concat(
      [{
        Sid      = "ConnectAsItsIdentity"
        Effect   = "Allow"
        Action   = "iot:Connect"
        Resource = "${local.iot_arn_prefix}:client/${local.mobile_identity}"
      }],
      length(var.mobile_events) == 0 ? [] : [{
        Sid      = "PublishToItsHousehold"
        Effect   = "Allow"
        Action   = "iot:Publish"
        Resource = [for event in sort(var.mobile_events) : "${local.iot_arn_prefix}:topic/${event}/${local.mobile_household}/*"]
      }],
      [
        {
          Sid      = "SubscribeToItsHousehold"
          Effect   = "Allow"
          Action   = "iot:Subscribe"
          Resource = "${local.iot_arn_prefix}:topicfilter/*/${local.mobile_household}/*"
        },
        {
          Sid      = "ReceiveFromItsHousehold"
          Effect   = "Allow"
          Action   = "iot:Receive"
          Resource = "${local.iot_arn_prefix}:topic/*/${local.mobile_household}/*"
        },
      ],
    )
  }
  mobile_policy_characters = length(replace(jsonencode(local.mobile_policy), "/\\s/", ""))
}

# IAM counts the inline policies of a role together: at most 10,240 characters, whitespace
# excluded (https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_iam-quotas.html); about
# 110 characters per mobile event.
resource "aws_iam_role_policy" "mobile" {
  name   = "household-topics"
  role   = aws_iam_role.mobile.id
  policy = jsonencode(local.mobile_policy)

  lifecycle {
    precondition {
      condition     = local.mobile_policy_characters <= 10240
      error_message = "The mobile role's policy needs ${local.mobile_policy_characters} characters for ${length(var.mobile_events)} mobile events; IAM accepts at most 10240 per role."
    }
  }
}

resource "aws_cognito_identity_pool_roles_attachment" "mobile" {
  identity_pool_id = aws_cognito_identity_pool.mobile.id
  roles = {
    authenticated = aws_iam_role.mobile.arn
  }
}

# The IoT half of the mobile authorisation. For authenticated Cognito identities IoT allows an
# action only when both the identity pool role's IAM policy and the IoT policy attached to the
# identity allow it (https://docs.aws.amazon.com/iot/latest/developerguide/cog-iot-policies.html).
# The role above scopes every action to the principal's household and publishing to the mobile
# events, so this policy stays the same size however many events the catalog holds: it binds
# the client id to the identity and leaves topics to the role.
resource "aws_iot_policy" "mobile" {
  name = "${var.prefix}-mobile"
  policy = jsonencode({
    Version = "2012-10-17"
    Statement = [
      {
        Sid      = "ConnectAsItsIdentity"
        Effect   = "Allow"
        Action   = "iot:Connect"
        Resource = "${local.iot_arn_prefix}:client/${local.mobile_identity}"
      },
      {
        Sid      = "TopicsAsItsRoleAllows"
        Effect   = "Allow"
        Action   = ["iot:Publish", "iot:Receive"]
        Resource = "${local.iot_arn_prefix}:topic/*"
      },
      {
        Sid      = "TopicFiltersAsItsRoleAllows"
        Effect   = "Allow"
        Action   = "iot:Subscribe"
        Resource = "${local.iot_arn_prefix}:topicfilter/*"
      },
    ]
  })
  tags = local.tags
}
