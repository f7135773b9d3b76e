variable "prefix" {
  description = "Prefix of every resource name (`<prefix>-<EVENT>` topics, `<prefix>-<consumer>-dlq` queues)."
  type        = string
  default     = "postoffice"

  validation {
    condition     = can(regex("^[a-z][a-z0-9-]{0,23}$", var.prefix))
    error_message = "prefix must be 1-24 lower-case letters, digits or hyphens, starting with a letter."
  }
}

variable "device_events" {
  description = "Events the catalog lets devices produce (`module.catalog.actor_events[\"device\"]`): the device policies allow publishing exactly these, each to `<EVENT>/<household>/<thing name>`."
  type        = list(string)

  validation {
    condition     = alltrue([for event in var.device_events : can(regex("^[A-Z][A-Z0-9]*(_[A-Z0-9]+)*$", event)) && length(event) <= 64])
    error_message = "device_events must be upper snake case event names of at most 64 characters."
  }
}

variable "mobile_events" {
  description = "Events the catalog lets the mobile app produce (`module.catalog.actor_events[\"mobile\"]`): the app may publish these to `<EVENT>/<its household>/<any device>`."
  type        = list(string)
  default     = []

  validation {
    condition     = alltrue([for event in var.mobile_events : can(regex("^[A-Z][A-Z0-9]*(_[A-Z0-9]+)*$", event)) && length(event) <= 64])
    error_message = "mobile_events must be upper snake case event names of at most 64 characters."
  }
}

variable "household_thing_attribute" {
  description = "Name of the IoT thing attribute that holds a device's household id (set by onboarding when it pairs the device with a household)."
  type        = string
  default     = "household"

  validation {
    condition     = can(regex("^[a-zA-Z0-9_.,@/:#-]{1,128}$", var.household_thing_attribute))
    error_message = "household_thing_attribute must be a valid IoT thing attribute name."
  }
}

variable "pairing_answer_event" {
  description = "The event answering pairing requests (catalog DEVICE_PAIRING_REPLIED). An appliance in no household may subscribe to it for itself in any household (`<EVENT>/+/<thing name>`): that is how it learns which household paired it."
  type        = string
  default     = "DEVICE_PAIRING_REPLIED"

  validation {
    condition     = can(regex("^[A-Z][A-Z0-9]*(_[A-Z0-9]+)*$", var.pairing_answer_event)) && length(var.pairing_answer_event) <= 64
    error_message = "pairing_answer_event must be an upper snake case event name of at most 64 characters."
  }
}

variable "mobile_sign_in" {
  description = "The mobile sign-in function (attaches the mobile IoT policy to each app identity): its zip (`make package`: `mobile-sign-in/bootstrap.zip`), memory and reserved concurrency."
  type = object({
    zip                  = string
    memory_size          = optional(number, 128)
    reserved_concurrency = optional(number)
  })

  validation {
    condition     = endswith(var.mobile_sign_in.zip, ".zip")
    error_message = "mobile_sign_in.zip must be the path of a .zip file."
  }
}

variable "oncall_email_addresses" {
  description = "Email addresses subscribed to the on-call topic every alarm notifies."
  type        = list(string)
  default     = []

  validation {
    condition     = alltrue([for address in var.oncall_email_addresses : can(regex("^[^@\\s]+@[^@\\s]+\\.[^@\\s]+$", address))])
    error_message = "oncall_email_addresses must be email addresses."
  }
}

variable "oncall_https_endpoints" {
  description = "HTTPS endpoints (paging service webhooks) subscribed to the on-call topic."
  type        = list(string)
  default     = []
  sensitive   = true

  validation {
    condition     = alltrue([for endpoint in var.oncall_https_endpoints : startswith(endpoint, "https://")])
    error_message = "oncall_https_endpoints must be https:// URLs."
  }
}

variable "event_store" {
  description = "Event store settings: days before objects move to infrequent access and to Glacier Instant Retrieval, days before they expire (0 keeps them), and Firehose buffering."
  type = object({
    infrequent_access_after_days = optional(number, 30)
    glacier_after_days           = optional(number, 180)
    expire_after_days            = optional(number, 0)
    noncurrent_expire_after_days = optional(number, 30)
    buffering_size_mb            = optional(number, 64)
    buffering_interval_seconds   = optional(number, 300)
  })
  default = {}

  validation {
    condition     = var.event_store.infrequent_access_after_days >= 30 && var.event_store.glacier_after_days > var.event_store.infrequent_access_after_days
    error_message = "event_store: infrequent access needs at least 30 days, and Glacier must come after it."
  }

  validation {
    condition     = var.event_store.expire_after_days == 0 || var.event_store.expire_after_days > var.event_store.glacier_after_days
    error_message = "event_store.expire_after_days must be 0 (keep) or later than glacier_after_days."
  }

  validation {
    # Dynamic partitioning requires at least 64 MB buffers.
    condition     = var.event_store.buffering_size_mb >= 64 && var.event_store.buffering_size_mb <= 128 && var.event_store.buffering_interval_seconds >= 60 && var.event_store.buffering_interval_seconds <= 900
    error_message = "event_store buffering: 64-128 MB and 60-900 seconds."
  }
}

variable "event_store_start_date" {
  description = "First date (yyyy-MM-dd) of the event store's date partitions, the lower bound of Athena's partition projection."
  type        = string
  default     = "2026-01-01"

  validation {
    condition     = can(regex("^\\d{4}-\\d{2}-\\d{2}$", var.event_store_start_date))
    error_message = "event_store_start_date must be yyyy-MM-dd."
  }
}

variable "log_retention_days" {
  description = "Retention of the platform's CloudWatch log groups (Firehose errors) and of every event topic's SNS delivery-failure log group."
  type        = number
  default     = 365

  validation {
    condition     = contains([1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, 400, 545, 731, 1096, 1827, 2192, 2557, 2922, 3288, 3653], var.log_retention_days)
    error_message = "log_retention_days must be a value CloudWatch Logs accepts."
  }
}

variable "rule_errors_alarm_threshold" {
  description = "Messages in the rule-errors queue that page on-call."
  type        = number
  default     = 1

  validation {
    condition     = var.rule_errors_alarm_threshold >= 1
    error_message = "rule_errors_alarm_threshold must be at least 1."
  }
}

variable "rule_errors_age_alarm_seconds" {
  description = "Age of the oldest message in the rule-errors queue that pages on-call (messages expire after 14 days)."
  type        = number
  default     = 86400

  validation {
    condition     = var.rule_errors_age_alarm_seconds >= 60 && var.rule_errors_age_alarm_seconds < 1209600
    error_message = "rule_errors_age_alarm_seconds must be between 60 seconds and the 14-day retention."
  }
}

variable "rejected_device_messages_alarm_threshold" {
  description = "Messages in the rejected-device-messages queue (device messages the handlers cannot read, kept 14 days) that page on-call: a flood such as a broken firmware rollout, not a single device's mistake."
  type        = number
  default     = 1000

  validation {
    condition     = var.rejected_device_messages_alarm_threshold >= 1 && floor(var.rejected_device_messages_alarm_threshold) == var.rejected_device_messages_alarm_threshold
    error_message = "rejected_device_messages_alarm_threshold must be a whole number of messages, at least 1."
  }
}

variable "tags" {
  description = "Tags added to every resource."
  type        = map(string)
  default     = {}
}
