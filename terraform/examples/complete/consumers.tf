# One block per consumer the catalog names (terraform/README.md, "Adding a consumer"): its
# subscriptions, what its handler may publish and forward come from the catalog.
locals {
  bridge = { mode = "separate", zip = "${var.lambda_zips}/sns-bridge/bootstrap.zip" }
  # The kitchen as a container (var.kitchen_container) serves SNS in its own process.
  kitchen_container = var.kitchen_container
  kitchen_bridge    = local.kitchen_container == null ? local.bridge : { mode = "embedded", zip = null }
}

module "kitchen" {
  source   = "../../modules/consumer"
  name     = "kitchen"
  platform = module.platform.for_consumers
  catalog  = module.catalog
  events   = module.event
  bridge   = local.kitchen_bridge
  # Recipes are packaged in the zip (lambdas/example-kitchen/recipes, read from LAMBDA_TASK_ROOT),
  # or in the image beside example-kitchen-service.
  handler = { zip = local.kitchen_container == null ? "${var.lambda_zips}/example-kitchen/bootstrap.zip" : null }
  # compute = "container": example-kitchen-service on ECS Fargate behind an ALB (README).
  compute   = local.kitchen_container == null ? "lambda" : "container"
  container = local.kitchen_container
}

module "telemetry" {
  source   = "../../modules/consumer"
  name     = "telemetry"
  platform = module.platform.for_consumers
  catalog  = module.catalog
  events   = module.event
  bridge   = local.bridge
  handler  = { zip = "${var.lambda_zips}/example-telemetry/bootstrap.zip" }

  # Telemetry keeps only the outcome of cooks that ended with an error.
  filter_policies = {
    COOKING_FINISHED = jsonencode({ payload = { outcome = [{ "anything-but" = "completed" }] } })
  }
}

module "iot_forwarder" {
  source   = "../../modules/consumer"
  name     = "iot-forwarder"
  platform = module.platform.for_consumers
  catalog  = module.catalog
  events   = module.event
  bridge   = local.bridge
  handler = {
    zip = "${var.lambda_zips}/iot-forwarder/bootstrap.zip"
    # The account's ATS data endpoint, not the SDK's default legacy one.
    environment = { AWS_ENDPOINT_URL_IOT_DATA_PLANE = "https://${module.platform.device_endpoint}" }
  }
}

# Devices' event collections (EVENT_COLLECTION): each member published to its own event's topic
# as the device's event, members it cannot publish kept in the rejected-device-messages queue.
module "collection_unpacker" {
  source   = "../../modules/consumer"
  name     = "collection-unpacker"
  platform = module.platform.for_consumers
  catalog  = module.catalog
  events   = module.event
  bridge   = local.bridge
  handler  = { zip = "${var.lambda_zips}/collection-unpacker/bootstrap.zip" }

  rejected_device_messages_queue = {
    arn = module.platform.rejected_device_messages_queue_arn
    url = module.platform.rejected_device_messages_queue_url
  }
}

# Pairs appliances with households and unpairs them (lambdas/onboarding): checks the pairing
# code against the factory's claim, sets the thing's household, attaches or detaches the device
# publish policies, closes an unpaired appliance's connection. Its role may do only that (platform,
# onboarding.tf).
module "onboarding" {
  source   = "../../modules/consumer"
  name     = "onboarding"
  platform = module.platform.for_consumers
  catalog  = module.catalog
  events   = module.event
  bridge   = local.bridge
  handler = {
    zip         = "${var.lambda_zips}/onboarding/bootstrap.zip"
    policy_json = module.platform.device_onboarding_policy_json
    environment = {
      POSTOFFICE_PAIRED_DEVICE_POLICIES = join(",", module.platform.paired_device_policy_names)
      POSTOFFICE_HOUSEHOLD_ATTRIBUTE    = module.platform.household_thing_attribute
      # DeleteConnection goes to the account's ATS data endpoint, not the SDK's default one.
      AWS_ENDPOINT_URL_IOT_DATA_PLANE = "https://${module.platform.device_endpoint}"
    }
  }
}
