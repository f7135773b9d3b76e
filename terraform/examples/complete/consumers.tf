locals {
  bridge = { zip = "${var.lambda_zips}/sns-bridge/bootstrap.zip" }
}

module "kitchen" {
  source   = "../../modules/consumer"
  name     = "kitchen"
  platform = module.platform
  bridge   = local.bridge

  events = {
    COOKING_REQUESTED = { topic_arn = module.cooking_requested.topic_arn }
    COOKING_FINISHED  = { topic_arn = module.cooking_finished.topic_arn }
  }

  handler = {
    zip       = "${var.lambda_zips}/example-kitchen/bootstrap.zip"
    publishes = ["COOKING_REPLIED", "COOKING_STARTED"]
    # Packaged next to the binary: cargo lambda build ... --include lambdas/example-kitchen/recipes
    environment = { KITCHEN_RECIPES_DIR = "/var/task/recipes" }
  }
}

module "telemetry" {
  source   = "../../modules/consumer"
  name     = "telemetry"
  platform = module.platform
  bridge   = local.bridge

  events = {
    DEVICE_TELEMETRY_REPORTED = { topic_arn = module.device_telemetry_reported.topic_arn }
    # Telemetry keeps only the outcome of cooks that ended with an error.
    COOKING_FINISHED = {
      topic_arn     = module.cooking_finished.topic_arn
      filter_policy = jsonencode({ payload = { outcome = [{ "anything-but" = "completed" }] } })
    }
  }

  handler = {
    zip = "${var.lambda_zips}/example-telemetry/bootstrap.zip"
  }
}

module "iot_forwarder" {
  source   = "../../modules/consumer"
  name     = "iot-forwarder"
  platform = module.platform
  bridge   = local.bridge

  events = {
    COOKING_REPLIED         = { topic_arn = module.cooking_replied.topic_arn }
    COOKING_STARTED         = { topic_arn = module.cooking_started.topic_arn }
    FIRMWARE_UPDATE_OFFERED = { topic_arn = module.firmware_update_offered.topic_arn }
  }

  handler = {
    zip                = "${var.lambda_zips}/iot-forwarder/bootstrap.zip"
    forwards_to_actors = ["COOKING_REPLIED", "COOKING_STARTED", "FIRMWARE_UPDATE_OFFERED"]
    # The account's ATS data endpoint, not the SDK's default legacy one.
    environment = { AWS_ENDPOINT_URL_IOT_DATA_PLANE = "https://${module.platform.device_endpoint}" }
  }
}
