variable "event_name" {
  description = "Event name from the catalog, upper snake case (`COOKING_REQUESTED`)."
  type        = string

  validation {
    condition     = can(regex("^[A-Z][A-Z0-9]*(_[A-Z0-9]+)*$", var.event_name)) && length(var.event_name) <= 64
    error_message = "event_name must be upper snake case (e.g. COOKING_REQUESTED), at most 64 characters."
  }

  validation {
    # The IoT rule's role, <prefix>-<EVENT>-rule, is an IAM role name: at most 64 characters.
    condition     = !var.actor_published || length("${var.platform.prefix}-${var.event_name}-rule") <= 64
    error_message = "<prefix>-<EVENT>-rule, the IoT rule's role, must fit IAM's 64-character role names: shorten the prefix or the event name."
  }
}

variable "platform" {
  description = "What the event needs from the platform module (pass `module.platform.for_events`)."
  type = object({
    prefix                             = string
    account_id                         = string
    iot_arn_prefix                     = string
    tags                               = map(string)
    kms_key_arn                        = string
    log_retention_days                 = number
    topic_arn_prefix                   = string
    rule_errors_queue_url              = string
    rule_errors_role_arn               = string
    rejected_device_messages_queue_url = string
    rejected_device_messages_role_arn  = string
    delivery_status_role_arn           = string
    event_store_stream_arn             = string
    event_store_subscription_role_arn  = string
    event_store_dlq_arn                = string
    oncall_topic_arn                   = string
  })
}

variable "actor_published" {
  description = "Whether actors (devices, the mobile app) publish this event over MQTT; then an IoT topic rule forwards the device messages of `<EVENT>/+/+` that the handlers can read to the topic, and a second rule keeps the others in the platform's rejected-device-messages queue."
  type        = bool
  default     = false
}

variable "http_delivery_policy" {
  description = "Retry policy of HTTPS deliveries to consumers: immediate retries, retries at the minimum delay, exponential backoff up to the maximum delay, then retries at the maximum delay. The total must stay under SNS's 3600 s."
  type = object({
    min_delay_seconds       = optional(number, 1)
    max_delay_seconds       = optional(number, 60)
    retries                 = optional(number, 60)
    immediate_retries       = optional(number, 3)
    min_delay_retries       = optional(number, 2)
    max_delay_retries       = optional(number, 45)
    max_receives_per_second = optional(number, 100)
  })
  default = {}

  validation {
    condition     = var.http_delivery_policy.retries <= 100 && var.http_delivery_policy.immediate_retries + var.http_delivery_policy.min_delay_retries + var.http_delivery_policy.max_delay_retries <= var.http_delivery_policy.retries
    error_message = "http_delivery_policy: at most 100 retries, and the immediate, min-delay and max-delay retries must fit in them."
  }

  validation {
    # Upper bound of the retry time: every retry after the immediate ones waits at most max_delay.
    condition     = var.http_delivery_policy.min_delay_seconds >= 1 && var.http_delivery_policy.min_delay_seconds <= var.http_delivery_policy.max_delay_seconds && var.http_delivery_policy.min_delay_retries * var.http_delivery_policy.min_delay_seconds + (var.http_delivery_policy.retries - var.http_delivery_policy.immediate_retries - var.http_delivery_policy.min_delay_retries) * var.http_delivery_policy.max_delay_seconds <= 3600
    error_message = "http_delivery_policy: delays must satisfy 1 <= min <= max and the retries must finish within 3600 seconds."
  }
}

variable "alarm_thresholds" {
  description = "Failed notifications, and messages the IoT rule could not publish to the topic (kept in the rule-errors queue), per 5 minutes, that page on-call. Messages the rule lost (throttled, unparsable, error action failed) always page."
  type = object({
    notifications_failed = optional(number, 1)
    rule_failures        = optional(number, 1)
  })
  default = {}

  validation {
    condition     = var.alarm_thresholds.notifications_failed >= 1 && var.alarm_thresholds.rule_failures >= 1
    error_message = "alarm_thresholds must be at least 1."
  }
}

variable "tags" {
  description = "Tags added to this event's resources, on top of the platform's."
  type        = map(string)
  default     = {}
}
