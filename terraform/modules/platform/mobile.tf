# The mobile app signs in with this user pool and gets credentials from the identity pool
# below. A user's household is the user pool attribute `custom:household`, set by an
# administrator (`postoffice local user add`, or the product's back office with
# AdminCreateUser/AdminUpdateUserAttributes) and never by the app: the app client reads it but
# may not write it (write_attributes), and users cannot sign themselves up. The identity pool
# maps the claim to the session (principal) tag `household`, and the authenticated role scopes
# every IoT action to `*/${aws:PrincipalTag/household}/*`.
# IoT also requires an IoT policy attached to each Cognito identity: the mobile sign-in function
# (mobile-sign-in.tf) attaches `aws_iot_policy.mobile` to the identity that calls it, right after
# the app gets its credentials. IoT allows only what both the role and that policy allow.
locals {
  mobile_household_attribute = "household"
  mobile_household_claim     = "custom:${local.mobile_household_attribute}"
}

resource "aws_cognito_user_pool" "mobile" {
  #checkov:skip=CKV_AWS_362:Advanced security (threat protection) is a paid plan per active user; a product decision, not a default of the platform.
  name                     = "${var.prefix}-mobile"
  username_attributes      = ["email"]
  auto_verified_attributes = ["email"]
  deletion_protection      = "ACTIVE"

  admin_create_user_config {
    # Self sign-up would let anyone create a user; the household is assigned with the user.
    allow_admin_create_user_only = true
  }

  password_policy {
    minimum_length                   = 12
    require_lowercase                = true
    require_uppercase                = true
    require_numbers                  = true
    require_symbols                  = true
    temporary_password_validity_days = 7
  }

  schema {
    name                     = local.mobile_household_attribute
    attribute_data_type      = "String"
    developer_only_attribute = false
    # Mutable for administrators (a user who moves house); the app client cannot write it.
    mutable  = true
    required = false
    string_attribute_constraints {
      min_length = 1
      max_length = 64
    }
  }

  tags = local.tags
}

resource "aws_cognito_user_pool_client" "mobile" {
  name         = "${var.prefix}-mobile-app"
  user_pool_id = aws_cognito_user_pool.mobile.id
  # A mobile app cannot keep a secret.
  generate_secret = false
  # SRP for the app; USER_PASSWORD_AUTH (the password sent over TLS to Cognito) for tools and
  # the local post office's simulated app.
  explicit_auth_flows           = ["ALLOW_USER_SRP_AUTH", "ALLOW_USER_PASSWORD_AUTH", "ALLOW_REFRESH_TOKEN_AUTH"]
  prevent_user_existence_errors = "ENABLED"
  enable_token_revocation       = true
  read_attributes               = ["email", "email_verified", local.mobile_household_claim]
  # Not the household: UpdateUserAttributes with custom:household is refused for this client.
  write_attributes       = ["name"]
  id_token_validity      = 60
  access_token_validity  = 60
  refresh_token_validity = 30
  token_validity_units {
    id_token      = "minutes"
    access_token  = "minutes"
    refresh_token = "days"
  }
}

locals {
  mobile_identity_provider = aws_cognito_user_pool.mobile.endpoint
}

resource "aws_cognito_identity_pool" "mobile" {
  identity_pool_name               = "${var.prefix}-mobile"
  allow_unauthenticated_identities = false
  allow_classic_flow               = false

  cognito_identity_providers {
    provider_name           = local.mobile_identity_provider
    client_id               = aws_cognito_user_pool_client.mobile.id
    server_side_token_check = true
  }

  tags = local.tags
}

resource "aws_cognito_identity_pool_provider_principal_tag" "household" {
  identity_pool_id       = aws_cognito_identity_pool.mobile.id
  identity_provider_name = local.mobile_identity_provider
  use_defaults           = false
  principal_tags = {
    household = local.mobile_household_claim
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
      # 700 characters are kept for the role's other inline policy (mobile-sign-in.tf).
      condition     = local.mobile_policy_characters <= 10240 - 700
      error_message = "The mobile role's policy needs ${local.mobile_policy_characters} characters for ${length(var.mobile_events)} mobile events; IAM accepts at most 10240 per role, 700 of which its sign-in policy takes."
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
