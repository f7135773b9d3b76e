output "events" {
  description = "Every catalog event by name: `direction`, sorted `producers` and `consumers`, and `actor_published` (actor-to-backend: an IoT rule carries it). `for_each` the event module over it."
  value       = local.events

  precondition {
    condition     = length(local.misnamed) == 0
    error_message = "Catalog files whose name field differs from the file name: ${join(", ", local.misnamed)}. Run postoffice catalog check."
  }
  precondition {
    condition     = length(local.undirected) == 0
    error_message = "Catalog events without a valid direction: ${join(", ", local.undirected)}. Run postoffice catalog check."
  }
}

output "actor_events" {
  description = "Actor-to-backend events each actor (`device`, `mobile`, `voice-assistant`) produces, sorted (`Catalog::events_produced_by_actor`): what the platform's device and mobile policies allow."
  value       = { for actor in local.actors : actor => sort([for name, event in local.events : name if event.actor_published && contains(event.producers, actor)]) }
}

output "consumers" {
  description = "Every consumer the catalog names, with the events it `subscribes` to, the events its handler `publishes`, (iot-forwarder) the events it `forwards_to_actors` and (collection-unpacker) the events it `unpacks` from devices' collections and publishes. The consumer module picks its entry by name (`catalog = module.catalog`)."
  value       = local.consumers
}
