# The event catalog decides the events, who may publish them and who consumes them: a new file in
# event-catalog/ is a new topic, IoT rule (actor-to-backend), device or mobile permission and
# subscriptions, with no edit here. `postoffice catalog check` verifies the catalog and this
# wiring (terraform/README.md, "Adding an event").
module "catalog" {
  source    = "../../modules/catalog"
  directory = coalesce(var.event_catalog, "${path.module}/../../../event-catalog")
}

module "platform" {
  source = "../../modules/platform"

  prefix                 = var.prefix
  device_events          = module.catalog.actor_events["device"]
  mobile_events          = module.catalog.actor_events["mobile"]
  mobile_sign_in         = { zip = "${var.lambda_zips}/mobile-sign-in/bootstrap.zip" }
  oncall_email_addresses = var.oncall_email_addresses
  oncall_https_endpoints = var.oncall_https_endpoints
}

module "event" {
  source   = "../../modules/event"
  for_each = module.catalog.events

  event_name      = each.key
  actor_published = each.value.actor_published
  platform        = module.platform.for_events
}
