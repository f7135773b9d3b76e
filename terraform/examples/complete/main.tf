module "platform" {
  source = "../../modules/platform"

  prefix                   = var.prefix
  device_events            = ["COOKING_FINISHED", "COOKING_REQUESTED", "DEVICE_TELEMETRY_REPORTED"]
  mobile_events            = ["COOKING_REQUESTED"]
  mobile_identity_provider = var.mobile_identity_provider
  oncall_email_addresses   = var.oncall_email_addresses
  oncall_https_endpoints   = var.oncall_https_endpoints
}

# One block per event in event-catalog/. `postoffice catalog check` fails when they disagree.
module "cooking_requested" {
  source          = "../../modules/event"
  event_name      = "COOKING_REQUESTED"
  platform        = module.platform
  actor_published = true
}

module "cooking_replied" {
  source     = "../../modules/event"
  event_name = "COOKING_REPLIED"
  platform   = module.platform
}

module "cooking_started" {
  source     = "../../modules/event"
  event_name = "COOKING_STARTED"
  platform   = module.platform
}

module "cooking_finished" {
  source          = "../../modules/event"
  event_name      = "COOKING_FINISHED"
  platform        = module.platform
  actor_published = true
}

module "device_telemetry_reported" {
  source          = "../../modules/event"
  event_name      = "DEVICE_TELEMETRY_REPORTED"
  platform        = module.platform
  actor_published = true
}

module "firmware_update_offered" {
  source     = "../../modules/event"
  event_name = "FIRMWARE_UPDATE_OFFERED"
  platform   = module.platform
}
