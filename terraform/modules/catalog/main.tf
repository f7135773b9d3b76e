# The event catalog read by Terraform: the same files `postoffice catalog check` validates in
# full (schemas, examples, every rule of docs/contracts.md). Terraform needs only who produces
# and who consumes each event, so a new catalog file is all it takes to get a topic, an IoT rule
# when actors publish the event, the actors' permissions and the consumers' subscriptions.
locals {
  files = {
    for file in fileset(var.directory, "*.yaml") :
    trimsuffix(file, ".yaml") => yamldecode(file("${var.directory}/${file}"))
  }

  events = {
    for name, event in local.files : name => {
      direction = try(tostring(event.direction), "")
      producers = sort(try([for producer in event.producers : tostring(producer)], []))
      consumers = sort(try([for consumer in event.consumers : tostring(consumer)], []))
      # Actors publish these over MQTT: an IoT topic rule carries them to their topic.
      actor_published = try(event.direction, "") == "actor-to-backend"
    }
  }

  # catalog::ACTORS in crates/postoffice.
  actors = ["device", "mobile", "voice-assistant"]

  consumer_names = sort(distinct(flatten([for event in values(local.events) : event.consumers])))

  # Events devices may send in an EVENT_COLLECTION (a `collection` in their file). Only events
  # devices produce count, whatever a file says, so the unpacker can never be given another.
  collectable = sort([
    for name, event in local.files : name
    if try(event.collection.max_wait_s, null) != null && local.events[name].actor_published && contains(local.events[name].producers, "device")
  ])

  consumers = {
    for consumer in local.consumer_names : consumer => {
      subscribes = sort([for name, event in local.events : name if contains(event.consumers, consumer)])
      publishes  = sort([for name, event in local.events : name if contains(event.producers, consumer)])
      # The return path: the forwarder publishes backend-to-actor events to the actors' topics.
      forwards_to_actors = consumer != "iot-forwarder" ? [] : sort([
        for name, event in local.events : name
        if contains(event.consumers, consumer) && event.direction == "backend-to-actor"
      ])
      # catalog::COLLECTION_UNPACKER publishes the members of devices' collections to their
      # events' topics, as the devices' events.
      unpacks = consumer != "collection-unpacker" ? [] : local.collectable
    }
  }

  misnamed   = sort([for file, event in local.files : file if try(event.name, null) != file])
  undirected = sort([for name, event in local.events : name if !contains(["actor-to-backend", "backend-to-actor", "backend-to-backend"], event.direction)])
}
