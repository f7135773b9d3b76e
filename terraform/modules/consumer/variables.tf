variable "name" {
  description = "Consumer name as the catalog's `consumers` lists it (`kitchen`, `iot-forwarder`): the module subscribes it to exactly the events the catalog gives it."
  type        = string

  validation {
    # catalog::check_service_name: lower kebab case, at most 32 characters.
    condition     = can(regex("^[a-z][a-z0-9]*(-[a-z0-9]+)*$", var.name)) && length(var.name) <= 32
    error_message = "name must be lower kebab case, at most 32 characters (a catalog consumer name)."
  }

  validation {
    # IAM role and Lambda function names: at most 64 characters (`<prefix>-<name>-handler`).
    condition     = length("${var.platform.prefix}-${var.name}-handler") <= 64
    error_message = "<prefix>-<name>-handler must fit IAM's and Lambda's 64-character names: shorten the prefix or the consumer name."
  }
}

variable "platform" {
  description = "What the consumer needs from the platform module (pass `module.platform.for_consumers`)."
  type = object({
    prefix           = string
    account_id       = string
    tags             = map(string)
    kms_key_arn      = string
    topic_arn_prefix = string
    iot_arn_prefix   = string
    oncall_topic_arn = string
  })
}

variable "catalog" {
  description = "Outputs of the catalog module (pass `module.catalog`): the consumer subscribes to the events whose `consumers` list its name, its handler may publish the events whose `producers` list it, iot-forwarder forwards the backend-to-actor events it consumes, and collection-unpacker publishes the events devices may collect."
  type = object({
    consumers = map(object({
      subscribes         = list(string)
      publishes          = list(string)
      forwards_to_actors = list(string)
      unpacks            = optional(list(string), [])
    }))
  })

  validation {
    condition     = contains(keys(var.catalog.consumers), var.name)
    error_message = "The catalog names no consumer \"${var.name}\": list it in the consumers of the events it handles (event-catalog/), or fix the name."
  }
}

variable "events" {
  description = "The event module instances by event name (pass `module.event`): where the topics of the subscribed events are. Creating subscriptions after the topics follows from it."
  type = map(object({
    topic_arn = string
  }))

  validation {
    condition     = alltrue([for event in try(var.catalog.consumers[var.name].subscribes, []) : contains(keys(var.events), event)])
    error_message = "events has no topic for some event this consumer subscribes to: pass every event module instance (module.event)."
  }

  validation {
    condition     = alltrue([for event, instance in var.events : instance.topic_arn == "${var.platform.topic_arn_prefix}${event}"])
    error_message = "Each event's topic must be <topic_arn_prefix><EVENT>, the topic of the event it is keyed by."
  }
}

variable "rejected_device_messages_queue" {
  description = "collection-unpacker only (the consumer the catalog gives events to `unpack`): the platform's rejected-device-messages queue (`module.platform.rejected_device_messages_queue_arn` and `_url`), where it keeps the members of devices' collections it cannot publish."
  type = object({
    arn = string
    url = string
  })
  default = null

  validation {
    condition     = (var.rejected_device_messages_queue != null) == (length(try(var.catalog.consumers[var.name].unpacks, [])) > 0)
    error_message = "rejected_device_messages_queue is set for the consumer that unpacks devices' collections (collection-unpacker), and for no other."
  }
}

variable "filter_policies" {
  description = "Optional SNS filter policy (JSON) per subscribed event, applied to the message body (the envelope): IoT rules cannot set message attributes, so only the body carries the event's fields for every producer."
  type        = map(string)
  default     = {}

  validation {
    condition     = alltrue([for event in keys(var.filter_policies) : contains(try(var.catalog.consumers[var.name].subscribes, []), event)])
    error_message = "filter_policies may only name events this consumer subscribes to in the catalog."
  }

  validation {
    condition     = alltrue([for policy in values(var.filter_policies) : can(jsondecode(policy))])
    error_message = "Each filter policy must be a JSON document."
  }
}

variable "bridge" {
  description = "How SNS reaches the handler (README, \"Choosing the bridge\"). `mode = \"separate\"` (default): the sns-bridge Lambda (`zip` from `cargo lambda build --release --arm64 --output-format zip`, `memory_size`, optional `reserved_concurrency`) verifies each push and invokes the handler. `mode = \"embedded\"`: the handler Lambda verifies the pushes itself behind a function URL of its own; no bridge Lambda, no second invocation, no `zip`. Both: the age beyond which a notification is dead-lettered instead of handled."
  type = object({
    mode                    = optional(string, "separate")
    zip                     = optional(string)
    memory_size             = optional(number, 256)
    reserved_concurrency    = optional(number)
    max_message_age_seconds = optional(number, 10800)
  })

  validation {
    condition     = contains(["separate", "embedded"], var.bridge.mode)
    error_message = "bridge.mode must be \"separate\" (a bridge Lambda invokes the handler) or \"embedded\" (the handler is its own SNS endpoint)."
  }

  validation {
    condition     = var.bridge.mode == "embedded" || try(endswith(var.bridge.zip, ".zip"), false)
    error_message = "bridge.zip must be the path of a .zip file (the sns-bridge Lambda of bridge.mode = \"separate\")."
  }

  validation {
    condition     = var.bridge.mode == "separate" || (var.bridge.zip == null && var.bridge.reserved_concurrency == null)
    error_message = "bridge.mode = \"embedded\" has no bridge Lambda: leave out bridge.zip and bridge.reserved_concurrency (handler.reserved_concurrency applies)."
  }

  validation {
    condition     = var.bridge.reserved_concurrency == null || try(var.bridge.reserved_concurrency >= 1, false)
    error_message = "bridge.reserved_concurrency must be at least 1 when set."
  }

  validation {
    condition     = var.bridge.max_message_age_seconds >= 60 && var.bridge.max_message_age_seconds <= 1209600
    error_message = "bridge.max_message_age_seconds must be between 60 seconds and 14 days."
  }
}

variable "handler" {
  description = "The consumer's handler Lambda: zip path, timeout (below 14 s, so the bridge, separate or embedded, answers SNS within its 15 s), memory, reserved concurrency, extra environment, an optional DynamoDB idempotency table, and `policy_json`: an IAM policy document for what its business dependencies need beyond the platform (the onboarding service's IoT registry calls, `module.platform.device_onboarding_policy_json`). What it may publish comes from the catalog."
  type = object({
    zip                   = string
    timeout               = optional(number, 10)
    memory_size           = optional(number, 256)
    reserved_concurrency  = optional(number)
    environment           = optional(map(string), {})
    idempotency_table_arn = optional(string)
    policy_json           = optional(string)
  })

  validation {
    condition     = endswith(var.handler.zip, ".zip")
    error_message = "handler.zip must be the path of a .zip file."
  }

  validation {
    condition     = var.handler.policy_json == null || can(jsondecode(var.handler.policy_json).Statement)
    error_message = "handler.policy_json must be an IAM policy document (JSON with a Statement)."
  }

  validation {
    condition     = var.handler.timeout >= 1 && var.handler.timeout < 14
    error_message = "handler.timeout must be below 14 seconds: SNS gives up on an HTTPS delivery after 15 s and the bridge must answer first."
  }

  validation {
    condition     = var.handler.reserved_concurrency == null || try(var.handler.reserved_concurrency >= 1, false)
    error_message = "handler.reserved_concurrency must be at least 1 when set."
  }


  validation {
    # Lambda reserves these; AWS_ENDPOINT_URL_* (SDK endpoint overrides) stay allowed.
    condition     = alltrue([for name in keys(var.handler.environment) : !startswith(name, "_") && !startswith(name, "AWS_LAMBDA_") && !startswith(name, "AWS_ACCESS_KEY")])
    error_message = "handler.environment must not set variables Lambda reserves."
  }

  validation {
    condition     = length(setintersection(keys(var.handler.environment), ["AWS_REGION", "AWS_DEFAULT_REGION", "AWS_EXECUTION_ENV", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN", "AWS_XRAY_CONTEXT_MISSING", "AWS_XRAY_DAEMON_ADDRESS", "LAMBDA_TASK_ROOT", "LAMBDA_RUNTIME_DIR", "POSTOFFICE_TOPIC_ARN_PREFIX", "POSTOFFICE_IDEMPOTENCY_TABLE", "POSTOFFICE_REJECTED_DEVICE_MESSAGES_QUEUE_URL", "POSTOFFICE_SNS_ENDPOINT_ALIAS", "POSTOFFICE_ALLOWED_TOPIC_ARNS", "POSTOFFICE_INVOKE_TIMEOUT_MS", "POSTOFFICE_MAX_MESSAGE_AGE_SECONDS"])) == 0
    error_message = "handler.environment must not set variables Lambda reserves or the module sets itself."
  }
}

variable "dlq_age_alarm_seconds" {
  description = "Age of the oldest dead-lettered message that pages on-call (depth > 0 pages too)."
  type        = number
  default     = 3600

  validation {
    condition     = var.dlq_age_alarm_seconds >= 60 && var.dlq_age_alarm_seconds < 1209600
    error_message = "dlq_age_alarm_seconds must be between 60 seconds and the 14-day retention."
  }
}

variable "handler_error_alarm_percent" {
  description = "Share of the handler's invocations (per 5 minutes, from 10 invocations on) that end in a function error before on-call is paged. Handlers answer deliberate Retryable and NonRetryable errors; single ones reach the DLQ alarms, a burst means the handler is broken."
  type        = number
  default     = 10

  validation {
    condition     = var.handler_error_alarm_percent > 0 && var.handler_error_alarm_percent <= 100
    error_message = "handler_error_alarm_percent must be a percentage above 0."
  }
}

variable "log_retention_days" {
  description = "Retention of the Lambdas' log groups (the handler's, and the bridge's with bridge.mode = \"separate\")."
  type        = number
  default     = 365

  validation {
    condition     = contains([1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, 400, 545, 731, 1096, 1827, 2192, 2557, 2922, 3288, 3653], var.log_retention_days)
    error_message = "log_retention_days must be a value CloudWatch Logs accepts."
  }
}

variable "tags" {
  description = "Tags added to this consumer's resources, on top of the platform's."
  type        = map(string)
  default     = {}
}
