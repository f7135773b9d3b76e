variable "name" {
  description = "Consumer name as the catalog's `consumers` lists it (`kitchen`, `iot-forwarder`)."
  type        = string

  validation {
    condition     = can(regex("^[a-z][a-z0-9-]{0,39}$", var.name))
    error_message = "name must be 1-40 lower-case letters, digits or hyphens, starting with a letter."
  }
}

variable "platform" {
  description = "Outputs of the platform module (pass `module.platform`)."
  type = object({
    prefix           = string
    tags             = map(string)
    kms_key_arn      = string
    topic_arn_prefix = string
    iot_arn_prefix   = string
    oncall_topic_arn = string
  })
}

variable "events" {
  description = "Events this consumer subscribes to, keyed by event name: the event module's topic ARN and an optional SNS filter policy (JSON). The scope defaults to the message body, the envelope, because IoT rules cannot set message attributes."
  type = map(object({
    topic_arn           = string
    filter_policy       = optional(string)
    filter_policy_scope = optional(string, "MessageBody")
  }))

  validation {
    condition     = length(var.events) > 0 && alltrue([for event in keys(var.events) : can(regex("^[A-Z][A-Z0-9]*(_[A-Z0-9]+)*$", event))])
    error_message = "events must name at least one event, each upper snake case."
  }

  validation {
    condition     = alltrue([for event, subscription in var.events : endswith(subscription.topic_arn, ":${event}") || endswith(subscription.topic_arn, "-${event}")])
    error_message = "each events entry must carry the topic ARN of the event it is keyed by (<prefix>-<EVENT>)."
  }

  validation {
    condition     = alltrue([for subscription in values(var.events) : subscription.filter_policy == null || can(jsondecode(subscription.filter_policy))])
    error_message = "filter_policy must be a JSON document."
  }

  validation {
    condition     = alltrue([for subscription in values(var.events) : contains(["MessageAttributes", "MessageBody"], subscription.filter_policy_scope)])
    error_message = "filter_policy_scope must be MessageAttributes or MessageBody."
  }
}

variable "bridge" {
  description = "The bridge Lambda: path of the sns-bridge zip (`cargo lambda build --release --arm64 --output-format zip`), memory, optional reserved concurrency, and the age beyond which a notification is dead-lettered instead of invoking the handler."
  type = object({
    zip                     = string
    memory_size             = optional(number, 256)
    reserved_concurrency    = optional(number)
    max_message_age_seconds = optional(number, 10800)
  })

  validation {
    condition     = endswith(var.bridge.zip, ".zip")
    error_message = "bridge.zip must be the path of a .zip file."
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
  description = "The consumer's handler Lambda: zip path, timeout (below 14 s, so the bridge answers SNS within its 15 s), memory, reserved concurrency, extra environment, the events it publishes (SNS) or forwards to devices (IoT), and an optional DynamoDB idempotency table."
  type = object({
    zip                   = string
    timeout               = optional(number, 10)
    memory_size           = optional(number, 256)
    reserved_concurrency  = optional(number)
    environment           = optional(map(string), {})
    publishes             = optional(list(string), [])
    forwards_to_actors    = optional(list(string), [])
    idempotency_table_arn = optional(string)
  })

  validation {
    condition     = endswith(var.handler.zip, ".zip")
    error_message = "handler.zip must be the path of a .zip file."
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
    condition     = alltrue([for event in concat(var.handler.publishes, var.handler.forwards_to_actors) : can(regex("^[A-Z][A-Z0-9]*(_[A-Z0-9]+)*$", event))])
    error_message = "handler.publishes and handler.forwards_to_actors must be upper snake case event names."
  }

  validation {
    # Lambda reserves these; AWS_ENDPOINT_URL_* (SDK endpoint overrides) stay allowed.
    condition     = alltrue([for name in keys(var.handler.environment) : !startswith(name, "_") && !startswith(name, "AWS_LAMBDA_") && !startswith(name, "AWS_ACCESS_KEY")])
    error_message = "handler.environment must not set variables Lambda reserves."
  }

  validation {
    condition     = length(setintersection(keys(var.handler.environment), ["AWS_REGION", "AWS_DEFAULT_REGION", "AWS_EXECUTION_ENV", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN", "AWS_XRAY_CONTEXT_MISSING", "AWS_XRAY_DAEMON_ADDRESS", "LAMBDA_TASK_ROOT", "LAMBDA_RUNTIME_DIR", "POSTOFFICE_TOPIC_ARN_PREFIX", "POSTOFFICE_IDEMPOTENCY_TABLE"])) == 0
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

variable "log_retention_days" {
  description = "Retention of the bridge's and handler's log groups."
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
