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

data "aws_iam_policy_document" "mobile" {
  statement {
    sid       = "ConnectAsItsIdentity"
    actions   = ["iot:Connect"]
    resources = ["${local.iot_arn_prefix}:client/${local.mobile_identity}"]
  }

  dynamic "statement" {
    for_each = length(var.mobile_events) == 0 ? [] : [1]
    content {
      sid       = "PublishToItsHousehold"
      actions   = ["iot:Publish"]
      resources = [for event in sort(var.mobile_events) : "${local.iot_arn_prefix}:topic/${event}/${local.mobile_household}/*"]
    }
  }

  statement {
    sid       = "SubscribeToItsHousehold"
    actions   = ["iot:Subscribe"]
    resources = ["${local.iot_arn_prefix}:topicfilter/*/${local.mobile_household}/*"]
  }

  statement {
    sid       = "ReceiveFromItsHousehold"
    actions   = ["iot:Receive"]
    resources = ["${local.iot_arn_prefix}:topic/*/${local.mobile_household}/*"]
  }
}

resource "aws_iam_role_policy" "mobile" {
  name   = "household-topics"
  role   = aws_iam_role.mobile.id
  policy = data.aws_iam_policy_document.mobile.json
}

resource "aws_cognito_identity_pool_roles_attachment" "mobile" {
  identity_pool_id = aws_cognito_identity_pool.mobile.id
  roles = {
    authenticated = aws_iam_role.mobile.arn
  }
}

# The IoT half of the mobile authorisation (see above): the identity's own client id and the
# mobile events; the household scoping comes from the role.
resource "aws_iot_policy" "mobile" {
  name = "${var.prefix}-mobile"
  policy = jsonencode({
    Version = "2012-10-17"
    Statement = concat(
      [{
        Effect   = "Allow"
        Action   = "iot:Connect"
        Resource = "${local.iot_arn_prefix}:client/${local.mobile_identity}"
      }],
      length(var.mobile_events) == 0 ? [] : [{
        Effect   = "Allow"
        Action   = "iot:Publish"
        Resource = [for event in sort(var.mobile_events) : "${local.iot_arn_prefix}:topic/${event}/*"]
      }],
      [
        {
          Effect   = "Allow"
          Action   = "iot:Subscribe"
          Resource = "${local.iot_arn_prefix}:topicfilter/*"
        },
        {
          Effect   = "Allow"
          Action   = "iot:Receive"
          Resource = "${local.iot_arn_prefix}:topic/*"
        },
      ],
    )
  })
  tags = local.tags
}
