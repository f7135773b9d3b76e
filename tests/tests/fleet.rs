//! `postoffice local fleet` against a running post office: a compressed day of a small fleet,
//! with idle disconnects and an outage, loses nothing, and every event the broker acknowledged
//! was published by its IoT rule; each household's phone signs in as its app user, sends its
//! cooking requests while the app is open and gets their replies.

use std::time::Duration;

use postoffice_e2e::{Follower, post_office, postoffice_command, repository_root, run, wait_for};
use postoffice_local::activity::Activity;

/// The JSON report `local fleet --json` printed on stdout, which comes first in `output`
/// (progress lines follow, from stderr).
fn fleet_report(output: &str) -> serde_json::Value {
    serde_json::Deserializer::from_str(output)
        .into_iter::<serde_json::Value>()
        .next()
        .and_then(Result::ok)
        .unwrap_or_else(|| panic!("a JSON report first in the output:\n{output}"))
}

/// The shipped kitchen profile the fleet follows.
fn kitchen_profile() -> String {
    repository_root()
        .join("cost-profiles/kitchen-household.yaml")
        .to_string_lossy()
        .into_owned()
}

#[test]
fn a_day_of_a_fleet_with_an_outage_loses_nothing() {
    run(async {
        let run_dir = post_office().run_dir().to_string_lossy().into_owned();
        let profile = kitchen_profile();
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
            "--json",
        ])
        .await
        .unwrap();
        eprintln!("{output}");
        assert!(ok, "the fleet run failed:\n{output}");

        let report = fleet_report(&output);
        let count = |value: &serde_json::Value| {
            value
                .as_u64()
                .unwrap_or_else(|| panic!("a count, not {value}: {report:#}"))
        };
        assert_eq!(count(&report["devices"]), devices);
        assert!(report["connect"]["per_second"].as_f64().unwrap() > 0.0);
        let events = &report["events"];
        assert_eq!(events["lost"], 0, "{report:#}");
        assert_eq!(events["in_outboxes"], 0, "{report:#}");
        assert_eq!(events["refused"], 0, "{report:#}");
        let acknowledged = count(&events["acknowledged"]);
        assert_eq!(count(&events["accepted"]), acknowledged, "{report:#}");
        assert!(acknowledged > 0, "{report:#}");
        // The phones (the profile's `mobile` actor) in the idle-disconnect scenario.
        let phone_events = every_phone_request_answered(&report, devices);
        // Every device connected at the outage's start came back.
        assert!(
            report["outage"]["herd_reconnect_seconds"].is_f64(),
            "{report:#}"
        );
        assert!(count(&report["connections"]["idle_disconnects"]) > 0);

        // Every acknowledged event, the ovens' and the phones', went through its rule to SNS, once.
        let published = rules_published(&mut activity, acknowledged + phone_events).await;
        assert_eq!(published, acknowledged + phone_events);

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

/// `local fleet --hold`: devices connect, stay connected idle and leave cleanly; a second hold
/// reuses the devices the first registered (fleet/devices.tsv) and registers none; asking to
/// reuse more devices than are registered is refused with both numbers, before connecting any.
#[test]
fn an_idle_hold_reuses_the_registered_devices_and_names_a_shortfall() {
    run(async {
        let run_dir = post_office().run_dir().to_string_lossy().into_owned();
        let hold = |devices: usize, extra: &'static [&'static str]| {
            let run_dir = run_dir.clone();
            async move {
                let devices = devices.to_string();
                let mut args = vec![
                    "local",
                    "fleet",
                    "--run-dir",
                    &run_dir,
                    "--devices",
                    &devices,
                    "--hold",
                    "2s",
                    "--json",
                ];
                args.extend_from_slice(extra);
                postoffice_command(&args).await.unwrap()
            }
        };
        let devices = 4;
        let (ok, output) = hold(devices, &[]).await;
        eprintln!("{output}");
        assert!(ok, "the hold failed:\n{output}");
        let report = fleet_report(&output);
        assert_eq!(report["mode"], "hold", "{report:#}");
        assert_eq!(report["hold"]["connected_at_end"], devices, "{report:#}");
        assert_eq!(report["hold"]["connections_lost"], 0, "{report:#}");
        assert_eq!(report["hold"]["every_connection_held"], true, "{report:#}");
        let registration = &report["registration"];
        assert_eq!(
            registration["registered"].as_u64().unwrap() + registration["reused"].as_u64().unwrap(),
            devices as u64,
            "{report:#}"
        );
        assert!(report["connect"]["per_second"].as_f64().unwrap() > 0.0);
        assert!(
            report["memory"]["post_office"]["after_bytes"]
                .as_u64()
                .unwrap()
                > 0,
            "{report:#}"
        );

        let (ok, output) = hold(devices, &["--reuse-only"]).await;
        assert!(ok, "the second hold failed:\n{output}");
        let report = fleet_report(&output);
        assert_eq!(report["registration"]["registered"], 0, "{report:#}");
        assert_eq!(report["registration"]["reused"], devices, "{report:#}");
        assert_eq!(report["hold"]["every_connection_held"], true, "{report:#}");

        let registry = post_office().run_dir().join("fleet/devices.tsv");
        let registered = std::fs::read_to_string(&registry).unwrap().lines().count();
        let (ok, output) = hold(registered + 1, &["--reuse-only"]).await;
        assert!(
            !ok,
            "reusing more devices than registered succeeded:\n{output}"
        );
        assert!(
            output.contains(&format!(
                "--devices {} --reuse-only: only {registered} devices are registered in",
                registered + 1
            )),
            "{output}"
        );
        assert!(!output.contains("connecting:"), "{output}");
    });
}

/// Asserts the report's phones: one per household, every planned session connected, every
/// request acknowledged and answered while the app was open, nothing lost. Returns the events
/// the phones sent.
fn every_phone_request_answered(report: &serde_json::Value, households: u64) -> u64 {
    let phones = &report["phones"];
    let count = |name: &str| {
        phones[name]
            .as_u64()
            .unwrap_or_else(|| panic!("phones.{name} is a count: {report:#}"))
    };
    assert_eq!(count("phones"), households, "{report:#}");
    assert_eq!(count("connects"), count("sessions_planned"), "{report:#}");
    assert_eq!(count("connect_failures"), 0, "{report:#}");
    assert_eq!(count("not_accepted"), 0, "{report:#}");
    // Every phone requests at least once a day (1.5 a day, the first within 16 hours).
    let requests = count("requests");
    assert!(requests >= households, "{report:#}");
    assert_eq!(count("replies_in_session"), requests, "{report:#}");
    assert_eq!(phones["lost"], 0, "{report:#}");
    // Its own replies, at least, reached the open app.
    assert!(
        phones["received"]["COOKING_REPLIED"].as_u64().unwrap_or(0) >= requests,
        "{report:#}"
    );
    // The replies to the phones' requests reach the ovens too, and are not counted as theirs.
    assert_eq!(report["replies"]["late"], 0, "{report:#}");
    requests + count("events_sent")
}

/// Waits (at most 60 s) until the IoT rules published at least `expected` events since
/// `activity` started; the count.
async fn rules_published(activity: &mut Follower, expected: u64) -> u64 {
    activity
        .until_within(
            Duration::from_secs(60),
            &format!("the rules to publish {expected} events"),
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
                (published >= expected).then_some(published)
            },
        )
        .await
        .unwrap()
}

/// The actors the newest fleet run recorded for `cost --measured`.
fn recorded_actors() -> serde_json::Value {
    let dir = post_office().run_dir().join("fleet-runs");
    let mut records: Vec<_> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|entry| entry.unwrap().path())
        .collect();
    records.sort();
    let newest = records.last().expect("a recorded fleet run");
    let record: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(newest).unwrap()).unwrap();
    record["actors"].clone()
}

/// Always connected, each household's phone opens the app four times a day, sends its cooking
/// requests to the household's oven through the gateway's WebSocket listener (Cognito identity,
/// presigned URL) and gets every reply while open; every phone event reached the backend
/// through its IoT rule. A second day reuses the app users; `--no-phones` simulates ovens only.
#[test]
fn households_with_phones_get_a_reply_to_every_phone_request() {
    run(async {
        let run_dir = post_office().run_dir().to_string_lossy().into_owned();
        let profile = kitchen_profile();
        let households = 4;
        let day = |time_scale: &'static str, extra: &'static [&'static str]| {
            let (run_dir, profile) = (run_dir.clone(), profile.clone());
            async move {
                let households = households.to_string();
                let mut args = vec![
                    "local",
                    "fleet",
                    "--run-dir",
                    &run_dir,
                    "--profile",
                    &profile,
                    "--devices",
                    &households,
                    "--time-scale",
                    time_scale,
                    "--json",
                ];
                args.extend_from_slice(extra);
                let (ok, output) = postoffice_command(&args).await.unwrap();
                eprintln!("{output}");
                assert!(ok, "the fleet run failed:\n{output}");
                fleet_report(&output)
            }
        };
        let mut activity = Follower::start();
        // A day in 40 s: a session of the app lasts about 0.2 s, or until its replies came.
        let report = day("2160", &[]).await;
        assert_eq!(report["events"]["lost"], 0, "{report:#}");
        let phone_events = every_phone_request_answered(&report, households);
        let acknowledged = report["events"]["acknowledged"].as_u64().unwrap();
        assert_eq!(recorded_actors(), serde_json::json!(["device", "mobile"]));
        // The phones' requests went through their IoT rule like the ovens' events.
        let published = rules_published(&mut activity, acknowledged + phone_events).await;
        assert_eq!(published, acknowledged + phone_events);

        // The next day the households' app users sign in again: none is created.
        let report = day("8640", &[]).await;
        every_phone_request_answered(&report, households);
        assert_eq!(report["phones"]["users_created"], 0, "{report:#}");

        let report = day("8640", &["--no-phones"]).await;
        assert!(report["phones"].is_null(), "{report:#}");
        assert_eq!(recorded_actors(), serde_json::json!(["device"]));
    });
}
