resource "aws_cloudwatch_log_group" "this" {
  for_each          = local.functions
  name              = "/aws/lambda/${each.value}"
  retention_in_days = local.log_retention
  kms_key_id        = var.platform.kms_key_arn
  tags              = local.tags
}

data "aws_iam_policy_document" "lambda_assume" {
  statement {
    actions = ["sts:AssumeRole"]
    principals {
      type        = "Service"
      identifiers = ["lambda.amazonaws.com"]
    }
  }
}

resource "aws_iam_role" "this" {
  for_each           = local.functions
  name               = each.value
  assume_role_policy = data.aws_iam_policy_document.lambda_assume.json
  tags               = local.tags
}

resource "aws_iam_role_policy_attachment" "xray" {
  for_each   = local.functions
  role       = aws_iam_role.this[each.key].name
  policy_arn = "arn:${local.partition}:iam::aws:policy/AWSXRayDaemonWriteAccess"
}

# What the bridge does, on the role of the function that does it: the bridge's, or the handler's
# when the bridge is embedded (its logs and key are then the handler policy's).
data "aws_iam_policy_document" "bridge" {
  dynamic "statement" {
    for_each = local.embedded ? [] : [1]
    content {
      sid       = "InvokeOnlyItsHandler"
      actions   = ["lambda:InvokeFunction"]
      resources = [aws_lambda_function.handler[0].arn]
    }
  }
  # The bridge confirms its subscriptions with a signed ConfirmSubscription
  # (AuthenticateOnUnsubscribe), which IAM authorises against the topic:
  # https://docs.aws.amazon.com/sns/latest/api/API_ConfirmSubscription.html
  statement {
    sid       = "ConfirmItsSubscriptions"
    actions   = ["sns:ConfirmSubscription"]
    resources = local.endpoint_topic_arns
  }
  dynamic "statement" {
    for_each = local.embedded ? [] : [1]
    content {
      sid       = "WriteItsLogs"
      actions   = ["logs:CreateLogStream", "logs:PutLogEvents"]
      resources = ["${aws_cloudwatch_log_group.this["bridge"].arn}:*"]
    }
  }
  dynamic "statement" {
    for_each = local.embedded ? [] : [1]
    content {
      sid       = "ReadItsEncryptedEnvironment"
      actions   = ["kms:Decrypt"]
      resources = [var.platform.kms_key_arn]
      condition {
        test     = "StringEquals"
        variable = "kms:ViaService"
        values   = ["lambda.${local.region}.amazonaws.com"]
      }
    }
  }
}

resource "aws_iam_role_policy" "bridge" {
  name   = "bridge"
  role   = local.embedded ? local.handler_role_id : aws_iam_role.this["bridge"].id
  policy = data.aws_iam_policy_document.bridge.json
}

# What the handler does, on the Lambda's role or (container) the ECS task role; a container's logs
# are written by its execution role (container.tf) and its environment is not KMS-encrypted.
data "aws_iam_policy_document" "handler" {
  dynamic "statement" {
    for_each = local.container ? [] : [1]
    content {
      sid       = "WriteItsLogs"
      actions   = ["logs:CreateLogStream", "logs:PutLogEvents"]
      resources = ["${aws_cloudwatch_log_group.this["handler"].arn}:*"]
    }
  }
  dynamic "statement" {
    for_each = local.container ? [] : [1]
    content {
      sid       = "ReadItsEncryptedEnvironment"
      actions   = ["kms:Decrypt"]
      resources = [var.platform.kms_key_arn]
      condition {
        test     = "StringEquals"
        variable = "kms:ViaService"
        values   = ["lambda.${local.region}.amazonaws.com"]
      }
    }
  }

  dynamic "statement" {
    for_each = length(local.publishes) == 0 ? [] : [1]
    content {
      sid       = "PublishItsEvents"
      actions   = ["sns:Publish"]
      resources = [for event in local.publishes : "${var.platform.topic_arn_prefix}${event}"]
    }
  }

  dynamic "statement" {
    for_each = length(local.publishes) == 0 ? [] : [1]
    content {
      sid       = "EncryptForEncryptedTopics"
      actions   = ["kms:GenerateDataKey", "kms:Decrypt"]
      resources = [var.platform.kms_key_arn]
      condition {
        test     = "StringEquals"
        variable = "kms:ViaService"
        values   = ["sns.${local.region}.amazonaws.com"]
      }
    }
  }

  dynamic "statement" {
    for_each = length(local.forwards_to_actors) == 0 ? [] : [1]
    content {
      sid       = "ForwardToActors"
      actions   = ["iot:Publish"]
      resources = [for event in local.forwards_to_actors : "${var.platform.iot_arn_prefix}:topic/${event}/*"]
    }
  }

  dynamic "statement" {
    for_each = var.handler.idempotency_table_arn == null ? [] : [var.handler.idempotency_table_arn]
    content {
      sid       = "IdempotencyGuard"
      actions   = ["dynamodb:GetItem", "dynamodb:PutItem", "dynamodb:UpdateItem", "dynamodb:DeleteItem"]
      resources = [statement.value]
    }
  }
}

resource "aws_iam_role_policy" "handler" {
  name   = "handler"
  role   = local.handler_role_id
  policy = data.aws_iam_policy_document.handler.json
}

# What the handler's own dependencies need (handler.policy_json), apart from what the platform
# gives every handler, so that each consumer's role holds exactly its own.
resource "aws_iam_role_policy" "handler_dependencies" {
  count  = var.handler.policy_json == null ? 0 : 1
  name   = "handler-dependencies"
  role   = local.handler_role_id
  policy = var.handler.policy_json
}

resource "aws_lambda_function" "handler" {
  count = local.container ? 0 : 1

  #checkov:skip=CKV_AWS_117:Handlers reach only public AWS APIs (SNS, IoT data, DynamoDB); a VPC would add NAT cost and cold-start time and protect nothing.
  #checkov:skip=CKV_AWS_116:The handler is invoked synchronously, by its bridge or (embedded) through its function URL by SNS; failed deliveries are kept by the subscription's dead-letter queue, not a Lambda DLQ.
  #checkov:skip=CKV_AWS_272:Code signing needs a signer profile per account; the zip is built reproducibly by CI from this repository.
  #checkov:skip=CKV_AWS_115:Reserved concurrency is a per-consumer choice (handler.reserved_concurrency); reserving by default would take capacity from every other function in the account.
  function_name    = local.handler_name
  description      = "Post Office handler of consumer ${var.name}"
  role             = aws_iam_role.this["handler"].arn
  runtime          = "provided.al2023"
  architectures    = ["arm64"]
  handler          = "bootstrap"
  filename         = var.handler.zip
  source_code_hash = filebase64sha256(var.handler.zip)
  # Embedded, the function answers SNS itself: SNS's 15 s, the handler's own limit in the process.
  timeout                        = local.embedded ? 15 : var.handler.timeout
  memory_size                    = var.handler.memory_size
  reserved_concurrent_executions = coalesce(var.handler.reserved_concurrency, -1)
  kms_key_arn                    = var.platform.kms_key_arn

  environment {
    variables = merge(var.handler.environment, local.redrive_environment, {
      POSTOFFICE_TOPIC_ARN_PREFIX = var.platform.topic_arn_prefix
      }, var.handler.idempotency_table_arn == null ? {} : {
      POSTOFFICE_IDEMPOTENCY_TABLE = trimprefix(provider::aws::arn_parse(var.handler.idempotency_table_arn).resource, "table/")
      }, var.rejected_device_messages_queue == null ? {} : {
      POSTOFFICE_REJECTED_DEVICE_MESSAGES_QUEUE_URL = var.rejected_device_messages_queue.url
      }, !local.embedded ? {} : {
      # The bridge's configuration (docs/contracts.md, "Environment"), read by the endpoint
      # postoffice::handler::run serves when the alias is set.
      POSTOFFICE_SNS_ENDPOINT_ALIAS      = local.sns_endpoint_alias
      POSTOFFICE_ALLOWED_TOPIC_ARNS      = join(",", local.endpoint_topic_arns)
      POSTOFFICE_INVOKE_TIMEOUT_MS       = tostring(var.handler.timeout * 1000)
      POSTOFFICE_MAX_MESSAGE_AGE_SECONDS = tostring(var.bridge.max_message_age_seconds)
    })
  }

  tracing_config {
    mode = "Active"
  }

  logging_config {
    log_format = "JSON"
    log_group  = aws_cloudwatch_log_group.this["handler"].name
  }

  tags       = local.tags
  depends_on = [aws_iam_role_policy.handler, aws_iam_role_policy.unpacker, aws_iam_role_policy.handler_dependencies]
}

# The bridge must answer SNS within its 15 s HTTPS timeout.
resource "aws_lambda_function" "bridge" {
  count = local.embedded ? 0 : 1

  #checkov:skip=CKV_AWS_117:The bridge reaches only the public Lambda API; a VPC would add NAT cost and cold-start time and protect nothing.
  #checkov:skip=CKV_AWS_116:The bridge is called synchronously through its function URL by SNS, which retries and dead-letters on its own.
  #checkov:skip=CKV_AWS_272:Code signing needs a signer profile per account; the zip is built reproducibly by CI from this repository.
  #checkov:skip=CKV_AWS_115:Reserved concurrency is a per-consumer choice (bridge.reserved_concurrency); reserving by default would take capacity from every other function in the account.
  function_name                  = local.bridge_name
  description                    = "Post Office SNS bridge of consumer ${var.name}: verifies SNS signatures and invokes ${local.handler_name}"
  role                           = aws_iam_role.this["bridge"].arn
  runtime                        = "provided.al2023"
  architectures                  = ["arm64"]
  handler                        = "bootstrap"
  filename                       = var.bridge.zip
  source_code_hash               = filebase64sha256(var.bridge.zip)
  timeout                        = 15
  memory_size                    = var.bridge.memory_size
  reserved_concurrent_executions = coalesce(var.bridge.reserved_concurrency, -1)
  kms_key_arn                    = var.platform.kms_key_arn

  environment {
    variables = {
      POSTOFFICE_HANDLER_FUNCTION   = aws_lambda_function.handler[0].arn
      POSTOFFICE_ALLOWED_TOPIC_ARNS = join(",", local.endpoint_topic_arns)
      POSTOFFICE_REDRIVE_TOPIC_ARN  = local.redrive_topic_arn
      # Wait for the handler's whole timeout, and still answer SNS within its 15 s.
      POSTOFFICE_INVOKE_TIMEOUT_MS       = tostring(var.handler.timeout * 1000 + 500)
      POSTOFFICE_MAX_MESSAGE_AGE_SECONDS = tostring(var.bridge.max_message_age_seconds)
    }
  }

  tracing_config {
    mode = "Active"
  }

  logging_config {
    log_format = "JSON"
    log_group  = aws_cloudwatch_log_group.this["bridge"].name
  }

  tags       = local.tags
  depends_on = [aws_iam_role_policy.bridge]
}

# Embedded, the function URL is the alias's, not the function's: the permissions below make
# whatever they cover public, and the handler refuses invocations through the alias that are not
# function URL events. Its unqualified ARN stays reserved to the account's IAM principals. The alias follows $LATEST: nothing to publish.
resource "aws_lambda_alias" "sns_endpoint" {
  count            = local.embedded && !local.container ? 1 : 0
  name             = local.sns_endpoint_alias
  description      = "The SNS endpoint of consumer ${var.name}: function URL events only"
  function_name    = aws_lambda_function.handler[0].function_name
  function_version = "$LATEST"
}

resource "aws_lambda_function_url" "bridge" {
  count = local.container ? 0 : 1

  #checkov:skip=CKV_AWS_258:SNS HTTPS delivery cannot sign with SigV4; the bridge (separate or embedded) authenticates every request by verifying the SNS message signature and accepts only this consumer's topic ARNs.
  function_name      = local.endpoint_function
  qualifier          = local.endpoint_qualifier
  authorization_type = "NONE"
}

# Function URL access with AuthType NONE: since October 2025 a new function URL needs both
# lambda:InvokeFunctionUrl and lambda:InvokeFunction in the function's resource policy
# (https://docs.aws.amazon.com/lambda/latest/dg/urls-auth.html); without the second, SNS gets
# 403, the subscription never confirms and every notification is dead-lettered. AWS documents
# the second statement with the condition lambda:InvokedViaFunctionUrl = true, which
# aws_lambda_permission gained in provider 6.28 (invoked_via_function_url); 5.100, the provider
# tested here, cannot express it, so the statement is unconditioned: see README "Function URL
# permissions" for the risk and the one-line change on 6.28+.
resource "aws_lambda_permission" "bridge_url" {
  count = local.container ? 0 : 1

  #checkov:skip=CKV_AWS_301:SNS calls the public function URL from no fixed source; the bridge verifies the SNS signature and the topic ARN of every request.
  #checkov:skip=CKV_AWS_364:SNS calls the public function URL from no fixed source; the bridge verifies the SNS signature and the topic ARN of every request.
  statement_id           = "SnsDeliversThroughFunctionUrl"
  action                 = "lambda:InvokeFunctionUrl"
  function_name          = local.endpoint_function
  qualifier              = local.endpoint_qualifier
  principal              = "*"
  function_url_auth_type = "NONE"
}

resource "aws_lambda_permission" "bridge_invoke" {
  count = local.container ? 0 : 1

  #checkov:skip=CKV_AWS_301:Required for function URLs with AuthType NONE; provider 5.100 cannot add the InvokedViaFunctionUrl condition (README, Function URL permissions). A direct Invoke reaches only the bridge, or the embedded handler's alias, which both reject anything but a validly signed SNS message of its topics.
  #checkov:skip=CKV_AWS_364:SNS calls the public function URL from no fixed source account; see CKV_AWS_301.
  statement_id  = "FunctionUrlInvokesTheBridge"
  action        = "lambda:InvokeFunction"
  function_name = local.endpoint_function
  qualifier     = local.endpoint_qualifier
  principal     = "*"
}
