//! A burst of 1,000 device events from 50 devices: all handled, all in the event store, none
//! lost. Prints throughput and latency; asserts no timing (that is what `make bench-e2e` is for).

use std::collections::BTreeSet;
use std::time::Duration;

use postoffice_e2e::{WAIT, load, post_office, run, stored_envelopes, wait_for};

#[test]
fn a_burst_of_a_thousand_events_from_fifty_devices_is_handled_and_stored() {
    run(async {
        let post_office = post_office();
        let report = load::cooking_burst(post_office, 50, 20, Duration::from_secs(300))
            .await
            .unwrap();
        eprintln!("burst: {}", report.summary());
        assert_eq!(report.events, 1000);
        assert_eq!(
            report.replied, report.published,
            "every request was answered"
        );
        assert_eq!(
            report.to_handler.len(),
            1000,
            "every request reached the handler"
        );

        let households: BTreeSet<&str> = report.households.iter().map(String::as_str).collect();
        let stored = wait_for(
            "every request and reply in the event store",
            WAIT,
            || async {
                let envelopes = stored_envelopes().unwrap();
                let ids = |event: &str, field: &str| -> BTreeSet<uuid::Uuid> {
                    envelopes
                        .iter()
                        .filter(|e| e["event"] == event)
                        .filter(|e| {
                            e["household_id"]
                                .as_str()
                                .is_some_and(|h| households.contains(h))
                        })
                        .filter_map(|e| e[field].as_str()?.parse().ok())
                        .collect()
                };
                let requests = ids("COOKING_REQUESTED", "event_id");
                let replies = ids("COOKING_REPLIED", "correlation_id");
                (requests.len() >= 1000 && replies.len() >= 1000).then_some((requests, replies))
            },
        )
        .await;
        assert_eq!(stored.0, report.published);
        assert_eq!(stored.1, report.published);
    });
}
