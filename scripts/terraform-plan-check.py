#!/usr/bin/env python3
"""Checks on the offline plan of terraform/examples/complete (run by terraform-check.sh).

  terraform-plan-check.py PLAN.json [PLAN_WITH_ONE_MORE_EVENT.json EVENT CONSUMER]

1. Every `event` module instance plans exactly the resources one event needs (plus the IoT rule,
   its rejection rule, the rule's role and their alarms when actors publish the event), with a
   topic policy that admits the account only through IAM; the two rules of an event share their
   condition and the rejection rule sends to the platform's rejected-device-messages queue;
   every subscription of a consumer has a redrive policy to that consumer's dead-letter queue and
   is created after both function URL permissions of its bridge.
2. Given a second plan of the same configuration whose catalog has one more event EVENT
   (actor-to-backend, produced by devices, consumed by CONSUMER), the second plan adds exactly
   that event's resources and CONSUMER's subscription to it, and otherwise changes only what
   names the event: CONSUMER's bridge (allowed topics; its handler's with an embedded bridge),
   queue policy and bridge policy, and the
   one device publish policy the event lands in (and, when that policy is new, the onboarding
   handler, which attaches the publish policies when it pairs a device). No other device policy
   changes, so existing device certificates keep every permission they had.
"""
import json
import re
import sys

EVENT_RESOURCES = {
    "aws_sns_topic.this",
    "aws_sns_topic_subscription.event_store",
    "aws_cloudwatch_log_group.delivery_failures",
    "aws_cloudwatch_metric_alarm.notifications_failed",
    "aws_cloudwatch_metric_alarm.notifications_failed_to_redrive",
}
ACTOR_PUBLISHED_RESOURCES = {
    "aws_iam_role.rule[0]",
    "aws_iam_role_policy.rule[0]",
    "aws_iot_topic_rule.this[0]",
    "aws_iot_topic_rule.rejected[0]",
    'aws_cloudwatch_metric_alarm.rule["parse-errors"]',
    'aws_cloudwatch_metric_alarm.rule["throttled"]',
    'aws_cloudwatch_metric_alarm.rule_action["error-action-failures"]',
    'aws_cloudwatch_metric_alarm.rule_action["failures"]',
    'aws_cloudwatch_metric_alarm.rule_action["rejected-error-action-failures"]',
}
ONE_MODULE_LEVEL = re.compile(r'^module\.(?P<module>[a-z0-9_-]+(\["[^"]+"\])?)\.(?P<resource>aws_.+)$')
SUBSCRIPTION_DEPENDS_ON = {
    "aws_lambda_permission.bridge_url",
    "aws_lambda_permission.bridge_invoke",
    "aws_iam_role_policy.bridge",
    "aws_sqs_queue.dlq",
}


def fail(message):
    raise SystemExit(f"plan: {message}")


def planned(plan):
    """address -> planned values of every managed resource to create."""
    resources = {}
    for change in plan["resource_changes"]:
        if change["mode"] != "managed" or change["change"]["actions"] == ["no-op"]:
            continue
        if change["change"]["actions"] != ["create"]:
            fail(f"{change['address']} is not a plain create: {change['change']['actions']}")
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
    """module instance (`event["X"]`) -> relative addresses of the resources it plans."""
    modules = {}
    for address, after in resources.items():
        found = ONE_MODULE_LEVEL.match(address)
        if found:
            modules.setdefault(found["module"], {})[found["resource"]] = after
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
        fail(f"module.{name} plans {sorted(found)}, expected exactly {sorted(expected)}")
    topic = found["aws_sns_topic.this"]
    if topic.get("signature_version") != 2 or not topic.get("kms_master_key_id"):
        fail(f"module.{name}: topic must be KMS-encrypted with signature_version 2")
    if not found["aws_sns_topic_subscription.event_store"].get("redrive_policy"):
        fail(f"module.{name}: the event store subscription must dead-letter")
    check_topic_policy(name, topic)
    rule = found.get("aws_iot_topic_rule.this[0]")
    if rule is None:
        return
    rejected = found["aws_iot_topic_rule.rejected[0]"]
    for each in (rule, rejected):
        if any(sqs.get("use_base64") for action in each["error_action"] for sqs in action["sqs"]):
            fail(f"module.{name}: {each['name']}'s error action must not base64-encode (docs/contracts.md)")
    # One SET clause decides for both rules, so each message goes to exactly one of them.
    condition, _, _ = rule["sql"].partition(" SELECT ")
    if not condition.startswith("SET ") or rejected["sql"].partition(" SELECT ")[0] != condition:
        fail(f"module.{name}: the rule and its rejection rule must start with the same SET clause")
    if not rule["sql"].endswith(" WHERE @readable") or not rejected["sql"].endswith(" WHERE NOT @readable"):
        fail(f"module.{name}: the rule must take @readable messages and its rejection rule the others")
    if rejected["sns"] or len(rejected["sqs"]) != 1 or rejected["sqs"][0].get("use_base64"):
        fail(f"module.{name}: the rejection rule must send JSON to one queue, never to a topic")


def check_topic_policy(name, topic):
    """The account only through IAM (no SNS default policy), plain HTTP refused."""
    policy = topic.get("policy")
    if not policy or policy == "(known after apply)":
        fail(f"module.{name}: the topic must have an explicit policy")
    statements = json.loads(policy)["Statement"]
    for statement in statements:
        if statement["Effect"] != "Allow":
            continue
        principal = statement["Principal"]
        if isinstance(principal, dict) and list(principal) == ["AWS"] and str(principal["AWS"]).endswith(":root"):
            continue
        keys = {key for test in statement.get("Condition", {}).values() for key in test}
        if not {"aws:SourceAccount", "aws:SourceArn"} <= keys:
            fail(f"module.{name}: topic policy statement {statement.get('Sid')} allows {principal} without aws:SourceAccount and aws:SourceArn")
    if not any(s["Effect"] == "Deny" and s.get("Condition", {}).get("Bool", {}).get("aws:SecureTransport") == "false" for s in statements):
        fail(f"module.{name}: the topic policy must deny requests without TLS")


def consumer_calls(plan):
    """consumer module name -> its configuration (module calls whose source ends in /consumer)."""
    calls = plan.get("configuration", {}).get("root_module", {}).get("module_calls", {})
    return {name: call for name, call in calls.items() if call.get("source", "").rstrip("/").endswith("/consumer")}


def check_consumers(plan, resources):
    calls = consumer_calls(plan)
    if not calls:
        fail("no consumer module blocks")
    for name, call in calls.items():
        for resource in call["module"].get("resources", []):
            if resource["address"] == "aws_sns_topic_subscription.this":
                missing = SUBSCRIPTION_DEPENDS_ON - set(resource.get("depends_on", []))
                if missing:
                    fail(f"module.{name}: subscriptions must be created after {sorted(missing)}")
    subscriptions = [a for a in resources if ".aws_sns_topic_subscription.this[" in a]
    if not subscriptions:
        fail("no consumer subscriptions planned")
    for address in subscriptions:
        after = resources[address]
        if after.get("protocol") != "https" or not after.get("redrive_policy"):
            fail(f"{address} must be HTTPS with a redrive policy")
        module = address.split(".aws_sns_topic_subscription")[0]
        if f"{module}.aws_sqs_queue.dlq" not in resources:
            fail(f"{address} has no dead-letter queue in {module}")
        # A function URL needs both permissions; a container consumer has none (its load
        # balancer's listener is public).
        if f"{module}.aws_lambda_function_url.bridge[0]" in resources:
            for permission in ("bridge_url", "bridge_invoke"):
                if f"{module}.aws_lambda_permission.{permission}[0]" not in resources:
                    fail(f"{module} has no aws_lambda_permission.{permission}: SNS would get 403")
        elif f"{module}.aws_lb_target_group.handler[0]" not in resources:
            fail(f"{address} delivers to neither a function URL nor a container service")
    return len(subscriptions)


def check_added_event(base, extended, event, consumer):
    added = set(extended) - set(base)
    removed = set(base) - set(extended)
    if removed:
        fail(f"adding {event} removed {sorted(removed)}")
    instance = f'module.event["{event}"]'
    device_policies = {a for a in extended if a.startswith("module.platform.aws_iot_policy.device_publish[")}
    expected_added = {f"{instance}.{r}" for r in EVENT_RESOURCES | ACTOR_PUBLISHED_RESOURCES}
    expected_added.add(f'module.{consumer}.aws_sns_topic_subscription.this["{event}"]')
    new_policies = added & device_policies
    if added - new_policies != expected_added:
        fail(f"adding {event} added {sorted(added - new_policies)}, expected exactly {sorted(expected_added)}")

    changed = {a for a in base if base[a] != extended[a]}
    # The allowed topics are the bridge's environment, or the handler's with an embedded bridge.
    allowed = {
        f"module.{consumer}.aws_lambda_function.bridge[0]",
        f"module.{consumer}.aws_lambda_function.handler[0]",
        f"module.{consumer}.aws_sqs_queue.dlq",
        f"module.{consumer}.aws_iam_role_policy.bridge",
    }
    # A new device publish policy is attached by onboarding to the devices it pairs from then
    # on: the handler whose environment lists the publish policies changes to name it.
    new_policy_names = {extended[a].get("name") for a in new_policies}
    onboarding = {
        a for a in changed
        if new_policy_names
        and a.endswith((".aws_lambda_function.handler", ".aws_lambda_function.handler[0]"))
        and "POSTOFFICE_PAIRED_DEVICE_POLICIES" in json.dumps(extended[a].get("environment"))
        and all(name in json.dumps(extended[a]) for name in new_policy_names)
    }
    changed_policies = changed & device_policies
    if changed - changed_policies - allowed - onboarding:
        fail(f"adding {event} changed {sorted(changed - changed_policies - allowed - onboarding)}, which do not name it")
    for address in changed - changed_policies - onboarding:
        if event not in json.dumps(extended[address]):
            fail(f"adding {event} changed {address}, but not to name it")
    touched = new_policies | changed_policies
    if len(touched) != 1 or event not in extended[next(iter(touched))]["policy"]:
        fail(f"adding {event} must add it to exactly one device publish policy, touched {sorted(touched)}")
    print(f"plan: adding {event} to the catalog adds its {len(expected_added)} resources and changes only what names it "
          f"({sorted(changed | new_policies)})")


def main(argv):
    base_plan = json.load(open(argv[1]))
    base = planned(base_plan)
    events = event_modules(base)
    if not events:
        fail("no event modules found")
    for name, found in sorted(events.items()):
        check_event_module(name, found)
    subscriptions = check_consumers(base_plan, base)
    check_topic_policy("platform (on-call topic)", base["module.platform.aws_sns_topic.oncall"])
    rejected = base.get("module.platform.aws_sqs_queue.rejected_device_messages")
    if rejected is None or rejected.get("tags", {}).get("postoffice:role") != "rejected-device-messages":
        fail("the platform must plan the rejected-device-messages queue, tagged with its role")
    print(f"plan: {len(events)} event modules plan exactly their resources and topic policies; {subscriptions} subscriptions "
          "have a redrive policy and wait for their bridge's permissions")

    if len(argv) > 2:
        check_added_event(base, planned(load_like(base_plan, argv[2])), argv[3], argv[4])


if __name__ == "__main__":
    main(sys.argv)
