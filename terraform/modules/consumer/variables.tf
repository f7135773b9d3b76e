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
  description = "The event module instances by event name (pass `module.event`): where the topics of the subscribed events are, and their HTTPS delivery policy (JSON), which the consumer's redrive topic takes over. Creating subscriptions after the topics follows from it."
  type = map(object({
    topic_arn       = string
    delivery_policy = optional(string)
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
    condition     = var.compute == "lambda" || var.bridge.mode == "embedded"
    error_message = "compute = \"container\" serves the SNS endpoint in the handler's process: set bridge = { mode = \"embedded\" }."
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
  description = "The consumer's handler: the Lambda's zip path (compute = \"lambda\"; none for a container, whose image is `container.image`), timeout (below 14 s, so the bridge, separate or embedded, answers SNS within its 15 s), Lambda memory and reserved concurrency, extra environment, an optional DynamoDB idempotency table, and `policy_json`: an IAM policy document for what its business dependencies need beyond the platform (the onboarding service's IoT registry calls, `module.platform.device_onboarding_policy_json`), attached to the Lambda's or the task's role. What it may publish comes from the catalog."
  type = object({
    zip                   = optional(string)
    timeout               = optional(number, 10)
    memory_size           = optional(number, 256)
    reserved_concurrency  = optional(number)
    environment           = optional(map(string), {})
    idempotency_table_arn = optional(string)
    policy_json           = optional(string)
  })

  validation {
    condition     = var.compute == "container" ? var.handler.zip == null : try(endswith(var.handler.zip, ".zip"), false)
    error_message = "handler.zip must be the path of a .zip file (compute = \"lambda\"), and is left out with compute = \"container\" (container.image)."
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
    condition     = length(setintersection(keys(var.handler.environment), ["AWS_REGION", "AWS_DEFAULT_REGION", "AWS_EXECUTION_ENV", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN", "AWS_XRAY_CONTEXT_MISSING", "AWS_XRAY_DAEMON_ADDRESS", "LAMBDA_TASK_ROOT", "LAMBDA_RUNTIME_DIR", "POSTOFFICE_TOPIC_ARN_PREFIX", "POSTOFFICE_IDEMPOTENCY_TABLE", "POSTOFFICE_REJECTED_DEVICE_MESSAGES_QUEUE_URL", "POSTOFFICE_SNS_ENDPOINT_ALIAS", "POSTOFFICE_ALLOWED_TOPIC_ARNS", "POSTOFFICE_INVOKE_TIMEOUT_MS", "POSTOFFICE_MAX_MESSAGE_AGE_SECONDS", "POSTOFFICE_LISTEN_ADDRESS", "POSTOFFICE_HANDLER_NAME", "POSTOFFICE_REDRIVE_TOPIC_ARN", "POSTOFFICE_REDRIVE_EVENTS"])) == 0
    error_message = "handler.environment must not set variables Lambda reserves or the module sets itself."
  }
}

variable "compute" {
  description = "Where the handler runs (README, \"Choosing the compute\"): `lambda` (default; `bridge.mode` says where the SNS endpoint is) or `container`, its `*-service` binary as an HTTP service on ECS Fargate (ARM64) behind an ALB HTTPS listener, configured by `container`, with the SNS endpoint in the process (`bridge.mode = \"embedded\"`)."
  type        = string
  default     = "lambda"

  validation {
    condition     = contains(["lambda", "container"], var.compute)
    error_message = "compute must be \"lambda\" or \"container\"."
  }
}

variable "container" {
  description = "compute = \"container\" only. `image`: a linux/arm64 image whose entrypoint is the consumer's `*-service` binary (postoffice::handler::serve). `endpoint_url`: the HTTPS URL SNS delivers to, whose host is a public DNS name the listener's certificate covers and that points at the load balancer (SNS accepts no private endpoints). Tasks run in `subnet_ids` of `vpc_id` without public IPs (they need a route to the AWS APIs and the image registry). `load_balancer`: either an existing HTTPS listener (`listener_arn`, its load balancer's `security_group_id`, a `rule_priority`; the module adds a rule for the URL's path), or a new internet-facing ALB in public `subnet_ids` with `certificate_arn` (ACM) and optional `access_logs_bucket`. Alarms on `desired_count` need Container Insights on the cluster (on in the cluster the module creates when `cluster_arn` is null)."
  type = object({
    image         = string
    endpoint_url  = string
    vpc_id        = string
    subnet_ids    = list(string)
    cpu           = optional(number, 256)
    memory        = optional(number, 512)
    desired_count = optional(number, 2)
    port          = optional(number, 8080)
    cluster_arn   = optional(string)
    load_balancer = object({
      listener_arn        = optional(string)
      security_group_id   = optional(string)
      rule_priority       = optional(number)
      subnet_ids          = optional(list(string))
      certificate_arn     = optional(string)
      access_logs_bucket  = optional(string)
      deletion_protection = optional(bool, true)
    })
  })
  default = null

  validation {
    condition     = (var.container != null) == (var.compute == "container")
    error_message = "container is set with compute = \"container\", and only then."
  }

  validation {
    condition     = var.container == null || can(regex("^https://[a-z0-9.-]+(/[A-Za-z0-9._~/-]*)?$", var.container.endpoint_url))
    error_message = "container.endpoint_url must be an https:// URL with a DNS name (SNS delivers only over HTTPS to public endpoints), e.g. https://kitchen.events.example.com/sns."
  }

  validation {
    condition     = var.container == null || try(length(var.container.subnet_ids) > 0 && var.container.desired_count >= 1 && var.container.port >= 1024 && var.container.port <= 65535, false)
    error_message = "container needs at least one subnet, desired_count of at least 1 and an unprivileged port (1024-65535)."
  }

  validation {
    # Fargate's CPU and memory pairs: https://docs.aws.amazon.com/AmazonECS/latest/developerguide/fargate-tasks-services.html#fargate-tasks-size
    condition     = var.container == null || try(contains([256, 512, 1024, 2048, 4096], var.container.cpu) && var.container.memory >= var.container.cpu * 2 && var.container.memory <= min(var.container.cpu * 8, 30720), false)
    error_message = "container.cpu must be 256, 512, 1024, 2048 or 4096 with a memory Fargate pairs with it (2 to 8 MiB per CPU unit, at most 30720)."
  }

  validation {
    condition = var.container == null || try(
      var.container.load_balancer.listener_arn != null
      ? (var.container.load_balancer.security_group_id != null && var.container.load_balancer.rule_priority != null && var.container.load_balancer.certificate_arn == null && var.container.load_balancer.subnet_ids == null)
      : (var.container.load_balancer.certificate_arn != null && length(var.container.load_balancer.subnet_ids) >= 2 && var.container.load_balancer.security_group_id == null),
    false)
    error_message = "container.load_balancer is either an existing listener (listener_arn, security_group_id, rule_priority) or a new ALB (certificate_arn and at least two public subnet_ids, one per Availability Zone), not a mix."
  }

  validation {
    # Target group and load balancer names: at most 32 characters (`<prefix>-<name>`).
    condition     = var.container == null || length("${var.platform.prefix}-${var.name}") <= 32
    error_message = "compute = \"container\" names its target group and load balancer <prefix>-<name>, at most 32 characters: shorten the prefix or the consumer name."
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
  description = "Retention of the log groups (the handler's, the bridge's with bridge.mode = \"separate\", or the service's with compute = \"container\")."
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
