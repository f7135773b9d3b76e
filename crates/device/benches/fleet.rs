//! A fleet in one process against a local mosquitto over mutual TLS: how fast devices connect,
//! and how much memory an idle connected device costs a fleet simulator.
//!
//! `cargo bench -p postoffice-device --bench fleet` (release); `FLEET_DEVICES` (default 1000)
//! and `FLEET_CONCURRENCY` (connects in progress at once, default 64).

#[path = "../tests/support/mod.rs"]
mod support;

use std::sync::Arc;
use std::time::{Duration, Instant};

use postoffice_device::{ConnectionState, Device};
use support::{Broker, Pki, device_config};
use tokio::sync::Semaphore;

fn env_number(name: &str, default: usize) -> usize {
    std::env::var(name)
        .ok()
        .and_then(|value| value.parse().ok())
        .unwrap_or(default)
}

/// Resident memory of this process, from /proc (Linux).
fn resident_bytes() -> u64 {
    let status = std::fs::read_to_string("/proc/self/status").expect("/proc/self/status");
    let kilobytes: u64 = status
        .lines()
        .find_map(|line| line.strip_prefix("VmRSS:"))
        .and_then(|rest| rest.trim().trim_end_matches("kB").trim().parse().ok())
        .expect("VmRSS in /proc/self/status");
    kilobytes * 1024
}

fn megabytes(bytes: u64) -> f64 {
    bytes as f64 / (1024.0 * 1024.0)
}

fn main() {
    let devices = env_number("FLEET_DEVICES", 1000);
    let concurrency = env_number("FLEET_CONCURRENCY", 64);
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    runtime.block_on(fleet(devices, concurrency));
}

async fn fleet(count: usize, concurrency: usize) {
    let pki = Pki::new();
    let broker = Broker::start(&pki, None).await;
    let outboxes = tempfile::tempdir().unwrap();
    let configs: Vec<_> = (0..count)
        .map(|index| {
            let device_id = format!("oven-{index}");
            let outbox = outboxes.path().join(&device_id);
            let mut config = device_config(&pki, broker.port, &device_id, &outbox);
            // Idle, but connected for the whole measurement.
            config.idle_after = Some(Duration::from_secs(3600));
            config
        })
        .collect();

    let before_start = resident_bytes();
    let fleet: Vec<Arc<Device>> = configs
        .into_iter()
        .map(|config| Arc::new(Device::start(config).unwrap()))
        .collect();
    tokio::time::sleep(Duration::from_millis(200)).await;
    let started = resident_bytes();

    let permits = Arc::new(Semaphore::new(concurrency));
    let clock = Instant::now();
    let connects: Vec<_> = fleet
        .iter()
        .map(|device| {
            let device = device.clone();
            let permits = permits.clone();
            tokio::spawn(async move {
                let _permit = permits.acquire_owned().await.unwrap();
                device.connect().await
            })
        })
        .collect();
    let mut failed = 0;
    for connect in connects {
        if connect.await.unwrap().is_err() {
            failed += 1;
        }
    }
    let elapsed = clock.elapsed();
    tokio::time::sleep(Duration::from_secs(1)).await;
    let connected = resident_bytes();
    let up = fleet
        .iter()
        .filter(|device| device.connection_state() == ConnectionState::Connected)
        .count();

    let mut counters = postoffice_device::Counters::default();
    for device in &fleet {
        counters += device.counters();
    }
    println!(
        "fleet: {up} of {count} devices connected ({failed} connect calls failed, {} connect failures retried) in {:.2} s: {:.0} connects/s with {concurrency} in progress at once",
        counters.connect_failures,
        elapsed.as_secs_f64(),
        count as f64 / elapsed.as_secs_f64(),
    );
    println!(
        "fleet: memory of {count} started, not connected devices: {:.1} MB ({:.1} KB each)",
        megabytes(started.saturating_sub(before_start)),
        started.saturating_sub(before_start) as f64 / count as f64 / 1024.0,
    );
    println!(
        "fleet: memory of {count} idle connected devices: {:.1} MB ({:.1} KB each; RSS {:.1} MB before the fleet, {:.1} MB with it)",
        megabytes(connected.saturating_sub(before_start)),
        connected.saturating_sub(before_start) as f64 / count as f64 / 1024.0,
        megabytes(before_start),
        megabytes(connected),
    );
    drop(fleet);
}
