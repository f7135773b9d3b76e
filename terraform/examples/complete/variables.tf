variable "region" {
  description = "AWS region of the post office."
  type        = string
  default     = "eu-west-1"
}

variable "prefix" {
  description = "Prefix of every resource name."
  type        = string
  default     = "postoffice"
}

variable "event_catalog" {
  description = "Directory of the event catalog (`EVENT.yaml` files). Default: the repository's `event-catalog/`, three levels above this example; set it when the example is copied elsewhere."
  type        = string
  default     = null
}

variable "lambda_zips" {
  description = "Directory holding the Lambda zips built by `make package` (`<binary>/bootstrap.zip` for sns-bridge and each consumer's handler binary), relative to the working directory or absolute."
  type        = string
  default     = "../../../target/lambda"
}

variable "kitchen_container" {
  description = "Runs the example kitchen consumer as a container instead of a Lambda behind the bridge: the consumer module's `container` object (an arm64 image of `example-kitchen-service` with `recipes/` beside it, the HTTPS endpoint URL SNS delivers to, the network and the load balancer; terraform/modules/consumer/README.md, \"Choosing the compute\"). Null (default): a Lambda."
  type        = any
  default     = null
}

variable "oncall_email_addresses" {
  description = "Email addresses paged by alarms."
  type        = list(string)
  default     = []
}

variable "oncall_https_endpoints" {
  description = "HTTPS endpoints (paging service webhooks) paged by alarms."
  type        = list(string)
  default     = []
  sensitive   = true
}
