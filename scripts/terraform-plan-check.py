#!/usr/bin/env python3
"""Checks on the offline plan of terraform/examples/complete (run by terraform-check.sh).

  terraform-plan-check.py PLAN.json [PLAN_WITH_ONE_MORE_EVENT.json MODULE_NAME]

1. Every `event` module instance plans exactly the resources one event needs (plus the IoT rule,
   its role and its alarm when actors publish the event), and every subscription of a consumer
   has a redrive policy to that consumer's dead-letter queue.
2. Given a second plan of the same configuration with one more event module block, the second
   plan adds exactly one event's resources under that module and changes nothing else.
"""
import json
import sys

EVENT_RESOURCES = {
    "aws_sns_topic.this",
    "aws_sns_topic_subscription.event_store",
    "aws_cloudwatch_metric_alarm.notifications_failed",
    "aws_cloudwatch_metric_alarm.notifications_failed_to_redrive",
}
ACTOR_PUBLISHED_RESOURCES = {
    "aws_iam_role.rule[0]",
    "aws_iam_role_policy.rule[0]",
    "aws_iot_topic_rule.this[0]",
    "aws_cloudwatch_metric_alarm.rule_failures[0]",
}


def planned(plan):
    """address -> planned values of every managed resource to create."""
    resources = {}
    for change in plan["resource_changes"]:
        if change["mode"] != "managed" or change["change"]["actions"] == ["no-op"]:
            continue
        if change["change"]["actions"] != ["create"]:
            raise SystemExit(f"plan: {change['address']} is not a plain create: {change['change']['actions']}")
        after = dict(change["change"]["after"])
        # Values known only after apply (ARNs) are marked unknown; keep them visible as such.
        for name, unknown in (change["change"].get("after_unknown") or {}).items():
            if unknown is True:
                after[name] = "(known after apply)"
        resources[change["address"]] = after
    return resources


def data_values(plan):
    """(address, attribute) -> string value of every data source read during the plan."""
    found = {}

    def walk(module):
        for resource in module.get("resources", []):
            if resource["mode"] == "data":
                for name, value in (resource.get("values") or {}).items():
                    if isinstance(value, str) and value:
                        found[(resource["address"], name)] = value
        for child in module.get("child_modules", []):
            walk(child)

    walk(plan.get("prior_state", {}).get("values", {}).get("root_module", {}))
    return found


def load_like(base_plan, path):
    """Loads a second plan, with data source values that differ between the two reads (moto
    answers some lookups with fresh random values) replaced by the first plan's."""
    text = open(path).read()
    base = data_values(base_plan)
    for key, value in data_values(json.loads(text)).items():
        if key in base and base[key] != value:
            text = text.replace(value, base[key])
    return json.loads(text)


def event_modules(resources):
    """module name -> relative addresses of the resources an event module plans."""
    modules = {}
    for address, after in resources.items():
        if address.startswith("module.") and address.count("module.") == 1:
            module, relative = address[len("module."):].split(".", 1)
            modules.setdefault(module, {})[relative] = after
    return {
        name: found
        for name, found in modules.items()
        if "aws_sns_topic.this" in found and "aws_sns_topic_subscription.event_store" in found
    }


def check_event_module(name, found):
    expected = set(EVENT_RESOURCES)
    if "aws_iot_topic_rule.this[0]" in found:
        expected |= ACTOR_PUBLISHED_RESOURCES
    if set(found) != expected:
        raise SystemExit(
            f"plan: module.{name} plans {sorted(found)}, expected exactly {sorted(expected)}"
        )
    topic = found["aws_sns_topic.this"]
    if topic.get("signature_version") != 2 or not topic.get("kms_master_key_id"):
        raise SystemExit(f"plan: module.{name}: topic must be KMS-encrypted with signature_version 2")
    return expected


def check_consumers(resources):
    subscriptions = [a for a in resources if ".aws_sns_topic_subscription.this[" in a]
    if not subscriptions:
        raise SystemExit("plan: no consumer subscriptions planned")
    for address in subscriptions:
        after = resources[address]
        if after.get("protocol") != "https" or not after.get("redrive_policy"):
            raise SystemExit(f"plan: {address} must be HTTPS with a redrive policy")
        module = address.split(".aws_sns_topic_subscription")[0]
        queue = resources.get(f"{module}.aws_sqs_queue.dlq")
        if queue is None:
            raise SystemExit(f"plan: {address} has no dead-letter queue in {module}")
    return len(subscriptions)


def main(argv):
    base_plan = json.load(open(argv[1]))
    base = planned(base_plan)
    events = event_modules(base)
    if not events:
        raise SystemExit("plan: no event modules found")
    for name, found in sorted(events.items()):
        check_event_module(name, found)
    subscriptions = check_consumers(base)
    print(f"plan: {len(events)} event modules plan exactly their resources; {subscriptions} subscriptions have a redrive policy")

    if len(argv) > 2:
        extended = planned(load_like(base_plan, argv[2]))
        added_module = argv[3]
        added = set(extended) - set(base)
        removed = set(base) - set(extended)
        if removed:
            raise SystemExit(f"plan: adding module.{added_module} removed {sorted(removed)}")
        expected = {f"module.{added_module}.{r}" for r in EVENT_RESOURCES | ACTOR_PUBLISHED_RESOURCES}
        if added != expected:
            raise SystemExit(
                f"plan: adding module.{added_module} added {sorted(added)}, expected exactly {sorted(expected)}"
            )
        changed = sorted(a for a in base if base[a] != extended[a])
        if changed:
            raise SystemExit(f"plan: adding module.{added_module} changed {changed}")
        print(f"plan: adding an event block adds exactly its {len(added)} resources and changes nothing else")


if __name__ == "__main__":
    main(sys.argv)
