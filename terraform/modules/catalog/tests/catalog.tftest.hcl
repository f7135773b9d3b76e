# The catalog module reads the repository's own event-catalog/, so these runs also pin what the
# examples' wiring is derived from.

variables {
  directory = "../../../event-catalog"
}

run "every_catalog_event_with_its_direction" {
  command = plan

  assert {
    condition     = keys(output.events) == ["COOKING_FINISHED", "COOKING_REPLIED", "COOKING_REQUESTED", "COOKING_STARTED", "DEVICE_PAIRING_REPLIED", "DEVICE_PAIRING_REQUESTED", "DEVICE_TELEMETRY_REPORTED", "DEVICE_UNPAIRING_REQUESTED", "EVENT_COLLECTION", "FIRMWARE_UPDATE_OFFERED"]
    error_message = "every file of event-catalog/ is an event"
  }
  assert {
    condition     = [for name, event in output.events : name if event.actor_published] == ["COOKING_FINISHED", "COOKING_REQUESTED", "DEVICE_PAIRING_REQUESTED", "DEVICE_TELEMETRY_REPORTED", "DEVICE_UNPAIRING_REQUESTED", "EVENT_COLLECTION"]
    error_message = "exactly the actor-to-backend events are actor-published (they get an IoT rule)"
  }
}

run "actors_may_publish_what_the_catalog_lets_them_produce" {
  command = plan

  assert {
    condition     = output.actor_events["device"] == tolist(["COOKING_FINISHED", "COOKING_REQUESTED", "DEVICE_TELEMETRY_REPORTED", "EVENT_COLLECTION"])
    error_message = "devices produce COOKING_FINISHED, COOKING_REQUESTED and DEVICE_TELEMETRY_REPORTED, and send collections"
  }
  assert {
    condition     = output.actor_events["mobile"] == tolist(["COOKING_REQUESTED", "DEVICE_PAIRING_REQUESTED", "DEVICE_UNPAIRING_REQUESTED"]) && length(output.actor_events["voice-assistant"]) == 0
    error_message = "the app produces COOKING_REQUESTED and the pairing requests only; no voice events"
  }
}

run "consumers_subscribe_publish_and_forward_as_the_catalog_says" {
  command = plan

  assert {
    condition     = keys(output.consumers) == ["collection-unpacker", "iot-forwarder", "kitchen", "onboarding", "telemetry"]
    error_message = "the consumers are the services the catalog lists as consumers"
  }
  assert {
    condition = (
      output.consumers["kitchen"].subscribes == tolist(["COOKING_FINISHED", "COOKING_REQUESTED"])
      && output.consumers["kitchen"].publishes == tolist(["COOKING_REPLIED", "COOKING_STARTED"])
      && length(output.consumers["kitchen"].forwards_to_actors) == 0
    )
    error_message = "kitchen consumes COOKING_FINISHED and COOKING_REQUESTED and produces the replies"
  }
  assert {
    condition     = output.consumers["iot-forwarder"].forwards_to_actors == tolist(["COOKING_REPLIED", "COOKING_STARTED", "DEVICE_PAIRING_REPLIED", "FIRMWARE_UPDATE_OFFERED"]) && length(output.consumers["iot-forwarder"].publishes) == 0
    error_message = "the forwarder forwards every backend-to-actor event and publishes none"
  }
  assert {
    condition     = length(output.consumers["telemetry"].forwards_to_actors) == 0 && output.consumers["telemetry"].subscribes == tolist(["COOKING_FINISHED", "DEVICE_TELEMETRY_REPORTED"])
    error_message = "only iot-forwarder forwards to actors"
  }
  assert {
    condition     = output.consumers["onboarding"].subscribes == tolist(["DEVICE_PAIRING_REQUESTED", "DEVICE_UNPAIRING_REQUESTED"]) && output.consumers["onboarding"].publishes == tolist(["DEVICE_PAIRING_REPLIED"]) && length(output.consumers["onboarding"].forwards_to_actors) == 0
    error_message = "onboarding takes the app's pairing requests and answers them"
  }
  assert {
    condition     = output.consumers["collection-unpacker"].subscribes == tolist(["EVENT_COLLECTION"]) && output.consumers["collection-unpacker"].unpacks == tolist(["DEVICE_TELEMETRY_REPORTED"]) && length(output.consumers["kitchen"].unpacks) == 0
    error_message = "the collection-unpacker takes collections and publishes the one event devices may collect"
  }
}

run "a_file_whose_name_differs_from_its_event_fails" {
  command = plan

  variables {
    directory = "tests/misnamed"
  }

  expect_failures = [output.events]
}

run "a_directory_without_events_fails" {
  command = plan

  variables {
    directory = "tests"
  }

  expect_failures = [var.directory]
}

run "the_collection_unpacker_publishes_the_events_devices_may_collect" {
  command = plan

  variables {
    directory = "tests/collections"
  }

  assert {
    condition     = output.consumers["collection-unpacker"].subscribes == tolist(["EVENT_COLLECTION"]) && output.consumers["collection-unpacker"].unpacks == tolist(["DOOR_OPENED"])
    error_message = "the unpacker subscribes to EVENT_COLLECTION and publishes the collectable events devices produce, not APP_OPENED"
  }
  assert {
    condition     = length(output.consumers["collection-unpacker"].publishes) == 0 && length(output.consumers["collection-unpacker"].forwards_to_actors) == 0
    error_message = "the unpacker produces no event of its own and forwards nothing"
  }
  assert {
    condition     = alltrue([for name, consumer in output.consumers : length(consumer.unpacks) == 0 if name != "collection-unpacker"])
    error_message = "only the collection-unpacker unpacks"
  }
  assert {
    condition     = output.actor_events["device"] == tolist(["DOOR_CLOSED", "DOOR_OPENED", "EVENT_COLLECTION"])
    error_message = "devices may publish collections like any event they produce"
  }
}
