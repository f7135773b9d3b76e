//! A household's month in metered quantities, worked out by hand (12 a day = 365 a month).

mod fixtures;

use fixtures::{GIB, MONTH, PROFILE, profile, routes, shipped_prices};
use postoffice_cost::{
    BridgeMode, MonthlyUsage, Profile, Scenario, customer_usage, event_store_objects,
};

fn close(actual: f64, expected: f64) {
    let tolerance = 1e-9 * expected.abs().max(1.0);
    assert!(
        (actual - expected).abs() <= tolerance,
        "expected {expected}, got {actual}"
    );
}

fn usage(profile: &Profile, scenario: Scenario) -> MonthlyUsage {
    customer_usage(
        profile,
        &routes(),
        &shipped_prices().prices,
        scenario,
        BridgeMode::Separate,
    )
}

#[test]
fn always_connected_single_events() {
    let usage = usage(&profile(), Scenario::BASELINE);
    close(usage.connection_minutes, 24.0 * 60.0 * MONTH);
    close(usage.connection_minutes, 43_800.0);
    // 1 session (CONNECT + SUBSCRIBE) a day, 2,920 telemetry, 365 finished, and 365 replies
    // each costing the forwarder's publish, the delivery and the PUBACK.
    close(
        usage.iot_messages,
        2.0 * MONTH + 2_920.0 + 365.0 + 3.0 * 365.0,
    );
    // Each device publish triggers the event's readable and rejected rules, each billed at
    // least one action.
    close(usage.iot_rules_triggered, 2.0 * (2_920.0 + 365.0));
    close(usage.iot_actions_executed, 2.0 * (2_920.0 + 365.0));
    close(usage.sns_publishes, 2_920.0 + 365.0 * 3.0);
    // Fan-out: telemetry 1, finished 2, replied 1 (iot-forwarder), audited 1.
    close(usage.sns_http_deliveries, 2_920.0 + 730.0 + 365.0 + 365.0);
    close(usage.sns_firehose_deliveries, 4_015.0);
    close(usage.handler.requests, 2_920.0 + 730.0 + 365.0);
    close(usage.handler.gb_seconds, 4_015.0 * 0.25 * 0.025);
    close(usage.forwarder.requests, 365.0);
    close(usage.forwarder.gb_seconds, 365.0 * 0.125 * 0.020);
    close(usage.bridge.requests, 4_380.0);
    // The bridge is billed for its 6 ms plus the handler it waits for.
    close(
        usage.bridge.gb_seconds,
        4_015.0 * 0.125 * 0.031 + 365.0 * 0.125 * 0.026,
    );
    // Every record is under 5 KB, so each bills as 5 KB.
    close(usage.firehose_ingested_gb, 4_015.0 * 5_120.0 / GIB);
    let delivered = 2_920.0 * 800.0 + 3.0 * 365.0 * 500.0;
    close(usage.event_store_gb(), delivered / GIB);
    // A year's retention of 1/MONTH of the month's bytes a day.
    close(usage.stored_gb, delivered / MONTH * 365.0 / GIB);
}

#[test]
fn disconnect_when_idle_trades_minutes_for_session_messages() {
    let usage = usage(&profile(), Scenario::DISCONNECT_WHEN_IDLE);
    close(usage.connection_minutes, 912.5);
    close(
        usage.iot_messages,
        12.0 * 2.0 * MONTH + 2_920.0 + 365.0 + 3.0 * 365.0,
    );
    close(usage.sns_publishes, 4_015.0);
}

#[test]
fn event_collections_carry_what_waits_an_hour_and_are_unpacked_into_events() {
    let usage = usage(&profile(), Scenario::EVENT_COLLECTIONS);
    // Telemetry every 900 s waits up to an hour: 4.5 a collection on average, so 2,920 events
    // travel in 2,920 / 4.5 collections of 4.5 × 500 = 2,250 bytes (one 5 KB message each).
    let collections = 2_920.0 / 4.5;
    close(
        usage.iot_messages,
        2.0 * MONTH + collections + 365.0 + 3.0 * 365.0,
    );
    close(usage.iot_rules_triggered, 2.0 * (collections + 365.0));
    // The collection-unpacker publishes each member to its own topic: the collections' publishes
    // come on top of the events'.
    close(usage.sns_publishes, collections + 2_920.0 + 365.0 * 3.0);
    close(
        usage.handler.requests,
        collections + 2_920.0 + 730.0 + 365.0,
    );
    // The unpacker runs 25 + 3.5 × 2 = 32 ms per collection; members are handled one by one.
    close(
        usage.handler.gb_seconds,
        collections * 0.25 * 0.032 + 4_015.0 * 0.25 * 0.025,
    );
    // Each collection's envelope (2,250 + 400 bytes) is a record too.
    close(
        usage.firehose_ingested_gb,
        (collections + 4_015.0) * 5_120.0 / GIB,
    );
    let stored = usage.event_store["EVENT_COLLECTION"];
    close(stored.records, collections);
    close(stored.bytes, collections * 2_650.0);
    close(usage.event_store["TELEMETRY_REPORTED"].records, 2_920.0);
}

#[test]
fn idle_sessions_are_derived_from_the_device_settings() {
    let text = PROFILE.replace(
        "disconnect_when_idle: { hours_per_day: 0.5, sessions_per_day: 12 }",
        "disconnect_when_idle: { idle_after_s: 30, poll_interval_s: 3600 }",
    );
    let derived = Profile::from_yaml(&text, "derived.yaml", &routes()).unwrap();
    // Only the 12 finished a day may not wait and need a session of their own; telemetry (it
    // may wait an hour) rides on them and on the polls, each reading a message of its own.
    let single = usage(&derived, Scenario::DISCONNECT_WHEN_IDLE);
    let sessions =
        postoffice_cost::sessions::sessions_per_day(12.0, 12.0, 3600.0, 30.0, Some(3600.0));
    close(single.connection_minutes, sessions * MONTH);
    // A CONNECT per session (the persistent session is still there: no SUBSCRIBE).
    close(
        single.iot_messages,
        sessions * MONTH + 2_920.0 + 365.0 + 3.0 * 365.0,
    );
    // Collections: the same sessions; telemetry travels as many a collection as waited since
    // the last session.
    let both = usage(&derived, Scenario::BOTH);
    close(both.connection_minutes, sessions * MONTH);
    let per_collection = postoffice_cost::sessions::events_per_collection_idle(96.0, sessions);
    close(
        both.event_store["EVENT_COLLECTION"].records,
        2_920.0 / per_collection,
    );
    let baseline = usage(&derived, Scenario::BASELINE).connection_minutes;
    assert!(single.connection_minutes < 0.05 * baseline);
}

#[test]
fn collections_travel_in_the_collections_scenarios_only() {
    let usage = usage(&profile(), Scenario::BASELINE);
    assert!(!usage.event_store.contains_key("EVENT_COLLECTION"));
    // The same bytes reach the event store either way.
    let single = customer_usage(
        &profile(),
        &routes(),
        &shipped_prices().prices,
        Scenario::BASELINE,
        BridgeMode::Separate,
    );
    close(usage.event_store_gb(), single.event_store_gb());
}

/// A profile with one actor-to-backend event of the given payload and no sessions.
fn one_event(payload_bytes: u32, envelope_overhead_bytes: u32) -> Profile {
    let text = PROFILE
        .replace("sessions_per_day: 1 }", "sessions_per_day: 0 }")
        .replace(
            "envelope_overhead_bytes: 400",
            &format!("envelope_overhead_bytes: {envelope_overhead_bytes}"),
        );
    let (head, _) = text.split_once("events:").expect("the fixture has events");
    let (_, tail) = text.split_once("lambda:").expect("the fixture has lambda");
    let text = format!(
        "{head}events:\n  - {{ event: COOKING_FINISHED, actor: device, per_day: 12, payload_bytes: {payload_bytes} }}\nlambda:{tail}"
    );
    Profile::from_yaml(&text, "one-event.yaml", &routes()).expect("valid profile")
}

#[test]
fn iot_messages_round_up_at_five_kilobytes() {
    // Device message = payload + 100 bytes of overhead.
    let at = usage(&one_event(5_020, 400), Scenario::BASELINE);
    close(at.iot_messages, 365.0);
    close(at.iot_rules_triggered, 2.0 * 365.0);
    let above = usage(&one_event(5_021, 400), Scenario::BASELINE);
    close(above.iot_messages, 730.0);
    close(above.iot_rules_triggered, 2.0 * 730.0);
    close(above.iot_actions_executed, 2.0 * 730.0);
}

#[test]
fn sns_requests_round_up_at_sixty_four_kilobytes() {
    // Envelope = payload + overhead; the payload stays small so IoT metering is unchanged.
    let at = usage(&one_event(100, 65_436), Scenario::BASELINE);
    close(at.sns_publishes, 365.0);
    close(at.sns_http_deliveries, 730.0);
    let above = usage(&one_event(100, 65_437), Scenario::BASELINE);
    close(above.sns_publishes, 730.0);
    close(above.sns_http_deliveries, 1_460.0);
    close(above.iot_messages, 365.0);
}

#[test]
fn firehose_records_round_up_at_five_kilobytes() {
    let at = usage(&one_event(100, 5_020), Scenario::BASELINE);
    close(at.firehose_ingested_gb, 365.0 * 5_120.0 / GIB);
    let above = usage(&one_event(100, 5_021), Scenario::BASELINE);
    close(above.firehose_ingested_gb, 365.0 * 10_240.0 / GIB);
    close(above.event_store_gb(), 365.0 * 5_121.0 / GIB);
}

#[test]
fn event_store_objects_follow_the_buffer() {
    let profile = profile();
    let seconds = MONTH * 86_400.0;
    let one = usage(&profile, Scenario::BASELINE);
    // One household: a partition's buffer opens at a record and takes those of the next five
    // minutes: 2,920 telemetry records a month, 0.33 a buffer interval, make 2,920 / 1.33
    // objects; the three partitions of 365 records a month 365 / 1.04 each.
    let objects = |records: f64| records / (1.0 + records / seconds * 300.0);
    close(
        event_store_objects(&one, &profile),
        objects(2_920.0) + 3.0 * objects(365.0),
    );
    // A thousand households: every partition receives a record every few seconds, so about one
    // object per five minutes (8,760 a month), none filling 128 MB.
    let thousand = one.times(1_000.0);
    let expected = objects(2_920_000.0) + 3.0 * objects(365_000.0);
    close(event_store_objects(&thousand, &profile), expected);
    assert!(
        (4.0 * 8_500.0..4.0 * 8_760.0).contains(&expected),
        "{expected}"
    );
    // A million households: telemetry fills 128 MB buffers 17,405 times
    // (2,336,000,000,000 bytes / 134,217,728, rounded up).
    let million = one.times(1_000_000.0);
    close(
        event_store_objects(&million, &profile),
        17_405.0 + 3.0 * objects(365_000_000.0),
    );
}

#[test]
fn the_unpacker_has_its_own_durations_and_fractional_means_are_not_rounded_again() {
    let text = PROFILE.replace(
        "  forwarder: { memory_mb: 128, duration_ms: 20, extra_event_ms: 1 }",
        "  forwarder: { memory_mb: 128, duration_ms: 20, extra_event_ms: 1 }\n  \
         unpacker: { memory_mb: 256, duration_ms: 4.5, extra_event_ms: 5 }",
    );
    let unpacker = Profile::from_yaml(&text, "unpacker.yaml", &routes()).unwrap();
    let with = usage(&unpacker, Scenario::EVENT_COLLECTIONS);
    let without = usage(&profile(), Scenario::EVENT_COLLECTIONS);
    let collections = 2_920.0 / 4.5;
    // 4.5 + 3.5 × 5 = 22 ms per collection instead of the handler's 25 + 3.5 × 2 = 32 ms.
    close(
        with.handler.gb_seconds - without.handler.gb_seconds,
        collections * 0.25 * (0.022 - 0.032),
    );
    // A mean of 1.6 billed ms stays 1.6 ms.
    let fractional = PROFILE.replace(
        "handler: { memory_mb: 256, duration_ms: 25, extra_event_ms: 2 }",
        "handler: { memory_mb: 256, duration_ms: 1.6, extra_event_ms: 2 }",
    );
    let fractional = Profile::from_yaml(&fractional, "fractional.yaml", &routes()).unwrap();
    close(
        usage(&fractional, Scenario::BASELINE).handler.gb_seconds,
        4_015.0 * 0.25 * 0.0016,
    );
}

#[test]
fn a_collections_members_open_one_buffer_together() {
    let profile = profile();
    let seconds = MONTH * 86_400.0;
    let collected = usage(&profile, Scenario::EVENT_COLLECTIONS);
    let telemetry = collected.event_store["TELEMETRY_REPORTED"];
    let collections = 2_920.0 / 4.5;
    close(telemetry.records, 2_920.0);
    close(telemetry.arrivals, collections);
    // The members arrive in 649 bursts a month, each opening a buffer of its own.
    close(
        postoffice_cost::partition_objects(&telemetry, &profile, seconds),
        collections / (1.0 + collections / seconds * 300.0),
    );
}

#[test]
fn a_reply_other_actors_receive_is_one_publish_with_a_delivery_each() {
    // Each of the two phones' replies reaches the household's device too, half of them.
    let shared = PROFILE.replace(
        "{ event: COOKING_REPLIED, actor: mobile, per_day: 6 }",
        "{ event: COOKING_REPLIED, actor: mobile, per_day: 6, also_received_by: { device: 0.5 } }",
    );
    assert_ne!(shared, PROFILE, "the edit changed nothing");
    let shared = Profile::from_yaml(&shared, "shared.yaml", &routes()).expect("valid profile");
    let alone = usage(&profile(), Scenario::BASELINE);
    let shared = usage(&shared, Scenario::BASELINE);
    // 365 iot-data publishes, each a PUBLISH and a PUBACK to 1.5 actors on average.
    close(
        shared.iot_messages - alone.iot_messages,
        365.0 * (1.0 + 1.5 * 2.0) - 365.0 * 3.0,
    );
    close(shared.forwarder.requests, alone.forwarder.requests);
    close(shared.sns_publishes, alone.sns_publishes);
    close(shared.sns_http_deliveries, alone.sns_http_deliveries);
}

#[test]
fn only_deliveries_no_platform_function_published_start_traces() {
    let baseline = usage(&profile(), Scenario::BASELINE);
    let consumer = |usage: &MonthlyUsage, name: &str| usage.consumers[name];
    // The IoT rule passes SNS no trace header: every delivery of what devices send is undecided.
    let telemetry = consumer(&baseline, "telemetry");
    close(telemetry.untraced_deliveries, telemetry.deliveries);
    // The kitchen's replies continue the trace of the handler that published them.
    let forwarder = consumer(&baseline, "iot-forwarder");
    assert!(forwarder.deliveries > 0.0);
    close(forwarder.untraced_deliveries, 0.0);
    // Collected telemetry reaches its consumer from the collection-unpacker's publishes: only
    // the collections' own deliveries start traces.
    let collected = usage(&profile(), Scenario::EVENT_COLLECTIONS);
    let unpacker = consumer(&collected, "collection-unpacker");
    close(unpacker.untraced_deliveries, unpacker.deliveries);
    let telemetry = consumer(&collected, "telemetry");
    close(telemetry.untraced_deliveries, 365.0); // COOKING_FINISHED, sent alone
    // A service outside the platform is not known to pass a trace on.
    let audit = consumer(&baseline, "audit");
    close(audit.untraced_deliveries, audit.deliveries);
}
