# The mobile sign-in function: attaches the mobile IoT policy to the Cognito identity that calls
# it. The app calls its function URL (auth AWS_IAM) right after GetCredentialsForIdentity,
# signing with those credentials; Lambda puts the verified caller's identity id in the event
# (requestContext.authorizer.iam.cognitoIdentity), so the function attaches to the caller and
# nobody else. A user pool trigger cannot do it: it runs before the identity pool assigns the
# identity id, the target of iot:AttachPolicy (lambdas/mobile-sign-in/src/lib.rs).
locals {
  mobile_sign_in_name = "${var.prefix}-mobile-sign-in"
}

resource "aws_cloudwatch_log_group" "mobile_sign_in" {
  name              = "/aws/lambda/${local.mobile_sign_in_name}"
  retention_in_days = var.log_retention_days
  kms_key_id        = aws_kms_key.this.arn
  tags              = local.tags
}

data "aws_iam_policy_document" "mobile_sign_in_assume" {
  statement {
    actions = ["sts:AssumeRole"]
    principals {
      type        = "Service"
      identifiers = ["lambda.amazonaws.com"]
    }
  }
}

resource "aws_iam_role" "mobile_sign_in" {
  name               = local.mobile_sign_in_name
  assume_role_policy = data.aws_iam_policy_document.mobile_sign_in_assume.json
  tags               = local.tags
}

resource "aws_iam_role_policy_attachment" "mobile_sign_in_xray" {
  role       = aws_iam_role.mobile_sign_in.name
  policy_arn = "arn:${local.partition}:iam::aws:policy/AWSXRayDaemonWriteAccess"
}

data "aws_iam_policy_document" "mobile_sign_in" {
  #checkov:skip=CKV_AWS_356:iot:AttachPolicy to a Cognito identity has no resource type: IAM accepts only "*" (see the statement).
  #checkov:skip=CKV_AWS_111:iot:AttachPolicy to a Cognito identity has no resource type: IAM accepts only "*" (see the statement).
  #checkov:skip=CKV_AWS_109:iot:AttachPolicy (permissions management) to a Cognito identity has no resource type: IAM accepts only "*"; the function attaches only the mobile policy, to its authenticated caller.
  # IAM authorises iot:AttachPolicy on its target, and only certificates and thing groups are
  # resource types of it ("AttachPolicy ... Resource types: cert, thinggroup",
  # https://docs.aws.amazon.com/service-authorization/latest/reference/list_awsiot.html): a
  # Cognito identity target is authorised on "*", and neither the target nor the policy can be
  # narrowed by IAM. So the role has this one action and nothing else on IoT, the function
  # attaches only the configured policy (POSTOFFICE_MOBILE_IOT_POLICY), and takes the target only
  # from the authenticated request context.
  statement {
    sid       = "AttachTheMobilePolicyToCallers"
    actions   = ["iot:AttachPolicy"]
    resources = ["*"]
  }
  statement {
    sid       = "WriteItsLogs"
    actions   = ["logs:CreateLogStream", "logs:PutLogEvents"]
    resources = ["${aws_cloudwatch_log_group.mobile_sign_in.arn}:*"]
  }
  statement {
    sid       = "ReadItsEncryptedEnvironment"
    actions   = ["kms:Decrypt"]
    resources = [aws_kms_key.this.arn]
    condition {
      test     = "StringEquals"
      variable = "kms:ViaService"
      values   = ["lambda.${local.region}.amazonaws.com"]
    }
  }
}

resource "aws_iam_role_policy" "mobile_sign_in" {
  name   = "attach-mobile-iot-policy"
  role   = aws_iam_role.mobile_sign_in.id
  policy = data.aws_iam_policy_document.mobile_sign_in.json
}

resource "aws_lambda_function" "mobile_sign_in" {
  #checkov:skip=CKV_AWS_117:The function reaches only the public IoT API; a VPC would add NAT cost and cold-start time and protect nothing.
  #checkov:skip=CKV_AWS_116:Invoked synchronously through its function URL by the app, which retries a failed sign-in; there is nothing to dead-letter.
  #checkov:skip=CKV_AWS_272:Code signing needs a signer profile per account; the zip is built reproducibly by CI from this repository.
  function_name                  = local.mobile_sign_in_name
  description                    = "Post Office mobile sign-in: attaches ${aws_iot_policy.mobile.name} to the calling Cognito identity"
  role                           = aws_iam_role.mobile_sign_in.arn
  runtime                        = "provided.al2023"
  architectures                  = ["arm64"]
  handler                        = "bootstrap"
  filename                       = var.mobile_sign_in.zip
  source_code_hash               = filebase64sha256(var.mobile_sign_in.zip)
  timeout                        = 10
  memory_size                    = var.mobile_sign_in.memory_size
  reserved_concurrent_executions = coalesce(var.mobile_sign_in.reserved_concurrency, -1)
  kms_key_arn                    = aws_kms_key.this.arn

  environment {
    variables = {
      POSTOFFICE_MOBILE_IOT_POLICY       = aws_iot_policy.mobile.name
      POSTOFFICE_MOBILE_IDENTITY_POOL_ID = aws_cognito_identity_pool.mobile.id
    }
  }

  tracing_config {
    mode = "Active"
  }

  logging_config {
    log_format = "JSON"
    log_group  = aws_cloudwatch_log_group.mobile_sign_in.name
  }

  tags       = local.tags
  depends_on = [aws_iam_role_policy.mobile_sign_in]
}

# AWS_IAM: only signed requests of principals allowed lambda:InvokeFunctionUrl reach it. The
# caller is in the function's account, so the mobile role's identity policy grants it (below);
# no resource-based statement opens it to anyone else.
resource "aws_lambda_function_url" "mobile_sign_in" {
  function_name      = aws_lambda_function.mobile_sign_in.function_name
  authorization_type = "AWS_IAM"
}

# The app's half: its role may invoke this function URL and nothing else of Lambda. Since
# October 2025 a function URL call needs lambda:InvokeFunction too, with
# lambda:InvokedViaFunctionUrl (https://docs.aws.amazon.com/lambda/latest/dg/urls-auth.html).
data "aws_iam_policy_document" "mobile_invokes_sign_in" {
  statement {
    sid       = "CallTheSignInFunctionUrl"
    actions   = ["lambda:InvokeFunctionUrl"]
    resources = [aws_lambda_function.mobile_sign_in.arn]
    condition {
      test     = "StringEquals"
      variable = "lambda:FunctionUrlAuthType"
      values   = ["AWS_IAM"]
    }
  }
  statement {
    sid       = "InvokeItThroughItsUrlOnly"
    actions   = ["lambda:InvokeFunction"]
    resources = [aws_lambda_function.mobile_sign_in.arn]
    condition {
      test     = "Bool"
      variable = "lambda:InvokedViaFunctionUrl"
      values   = ["true"]
    }
  }
}

resource "aws_iam_role_policy" "mobile_invokes_sign_in" {
  name   = "mobile-sign-in"
  role   = aws_iam_role.mobile.id
  policy = data.aws_iam_policy_document.mobile_invokes_sign_in.json
}
