//! `postoffice local fleet` against a running post office: a compressed day of a small fleet,
//! with idle disconnects and an outage, loses nothing, and every event the broker acknowledged
//! was published by its IoT rule.

use std::time::Duration;

use postoffice_e2e::{Follower, post_office, postoffice_command, repository_root, run, wait_for};
use postoffice_local::activity::Activity;

/// The number after `label` in `text` (the first one).
fn number_after(text: &str, label: &str) -> u64 {
    let start = text
        .find(label)
        .unwrap_or_else(|| panic!("the report says `{label}`:\n{text}"))
        + label.len();
    text[start..]
        .trim_start()
        .split(|c: char| !c.is_ascii_digit())
        .next()
        .and_then(|digits| digits.parse().ok())
        .unwrap_or_else(|| panic!("a number after `{label}`:\n{text}"))
}

#[test]
fn a_day_of_a_fleet_with_an_outage_loses_nothing() {
    run(async {
        let run_dir = post_office().run_dir().to_string_lossy().into_owned();
        let profile = repository_root()
            .join("cost-profiles/kitchen-household.yaml")
            .to_string_lossy()
            .into_owned();
        let mut activity = Follower::start();
        let devices = 12;
        let (ok, output) = postoffice_command(&[
            "local",
            "fleet",
            "--run-dir",
            &run_dir,
            "--profile",
            &profile,
            "--devices",
            &devices.to_string(),
            // A day in 40 s.
            "--time-scale",
            "2160",
            "--idle-disconnect",
            "--outage-at",
            "0.5",
            "--outage-for",
            "3s",
        ])
        .await
        .unwrap();
        eprintln!("{output}");
        assert!(ok, "the fleet run failed:\n{output}");

        assert_eq!(number_after(&output, "registered "), devices);
        assert_eq!(number_after(&output, "connected "), devices);
        // "lost  0 events (accepted A = acknowledged K + in outboxes O + refused R + lost)"
        let lost = output
            .lines()
            .find(|line| line.trim_start().starts_with("lost "))
            .unwrap_or_else(|| panic!("the report has a `lost` line:\n{output}"));
        assert_eq!(number_after(lost, "lost"), 0, "{lost}");
        assert_eq!(number_after(lost, "in outboxes"), 0, "{lost}");
        assert_eq!(number_after(lost, "refused"), 0, "{lost}");
        let acknowledged = number_after(lost, "= acknowledged");
        assert_eq!(number_after(lost, "accepted"), acknowledged, "{lost}");
        assert!(acknowledged > 0, "{lost}");

        // Every acknowledged event went through its rule to SNS, once.
        let published = activity
            .until_within(
                Duration::from_secs(60),
                &format!("the rules to publish {acknowledged} events"),
                |seen| {
                    let published = seen
                        .iter()
                        .filter(|a| {
                            matches!(
                                a,
                                Activity::RulePublished {
                                    event_id: Some(_),
                                    ..
                                }
                            )
                        })
                        .count() as u64;
                    (published >= acknowledged).then_some(published)
                },
            )
            .await
            .unwrap();
        assert_eq!(published, acknowledged);

        // The run's metering, priced beside the model of the same profile and day.
        let metering = post_office().run_dir().join("metering.json");
        let fleet_done = std::time::SystemTime::now();
        wait_for(
            "metering.json written after the fleet",
            Duration::from_secs(30),
            || async {
                let modified = std::fs::metadata(&metering).ok()?.modified().ok()?;
                (modified > fleet_done).then_some(())
            },
        )
        .await;
        let bill_args = [
            "cost",
            "--measured",
            &run_dir,
            "--profile",
            &profile,
            "--days",
            "1",
            "--households",
            &devices.to_string(),
            "--idle-disconnect",
        ];
        let (ok, bill) = postoffice_command(&bill_args).await.unwrap();
        eprintln!("{bill}");
        assert!(ok, "pricing the run failed:\n{bill}");
        let (ok, json) = postoffice_command(&[&bill_args[..], &["--json"]].concat())
            .await
            .unwrap();
        assert!(ok, "{json}");
        let bill: serde_json::Value = serde_json::from_str(&json).unwrap();
        let line = |service: &str, item: &str| {
            bill["lines"]
                .as_array()
                .unwrap()
                .iter()
                .find(|line| line["service"] == service && line["item"] == item)
                .cloned()
                .unwrap_or_else(|| panic!("the bill has {service} {item}: {bill:#}"))
        };
        // At least one 5 KB message per acknowledged event (plus the forwarder's replies).
        let messaging = line("IoT Core", "messaging");
        assert!(
            messaging["measured"].as_f64().unwrap() >= acknowledged as f64,
            "{messaging}"
        );
        assert!(messaging["measured_usd"].as_f64().unwrap() > 0.0);
        assert!(bill["measured_usd"].as_f64().unwrap() > 0.0);
        assert!(bill["model_usd"].as_f64().unwrap() > 0.0);
    });
}
