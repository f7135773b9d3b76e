//! Host overhead, with the test function as the deployed code:
//! - warm echo round trips through `LambdaHost::invoke` and through the Invoke HTTP route
//!   (p50/p99);
//! - cold starts: process start to first response (p50/p99), and the init part of it;
//! - when `.venv/bin/cargo-lambda` exists (`scripts/setup.sh`), the same warm echo through
//!   `cargo lambda watch --only-lambda-apis`, and the ratio of the two HTTP p50s.
//!
//! `cargo bench -p postoffice-lambda-host` (`BENCH_ITERATIONS` overrides the 2000 warm round
//! trips per measurement).

#[path = "../tests/support/mod.rs"]
mod support;

use std::os::unix::process::CommandExt as _;
use std::path::Path;
use std::time::{Duration, Instant};

use bytes::Bytes;
use postoffice_lambda_host::invoke_api::invoke_router;
use postoffice_lambda_host::{HostConfig, InvocationType};
use support::*;

const COLD_STARTS: usize = 20;
/// cargo lambda watch serves only functions named after a binary of the workspace.
const WATCH_FUNCTION: &str = "lambda-host-test-function";

fn main() {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("a tokio runtime");
    runtime.block_on(run());
}

async fn run() {
    let iterations: usize = std::env::var("BENCH_ITERATIONS")
        .ok()
        .and_then(|n| n.parse().ok())
        .unwrap_or(2000);
    let echo = Bytes::from_static(br#"{"action":"respond","value":{"ok":true}}"#);
    let root = TaskRoot::new();
    let (host, registry) = host_with(vec![root.config("bench")], HostConfig::default());

    host.prewarm("bench").await.expect("prewarm");
    let direct = measure(iterations, || {
        let host = host.clone();
        let echo = echo.clone();
        async move {
            let outcome = host
                .invoke("bench", echo, InvocationType::RequestResponse)
                .await
                .expect("invoke");
            assert!(outcome.function_error.is_none());
        }
    })
    .await;
    report("warm echo, LambdaHost::invoke", &direct);

    let endpoint = serve(invoke_router(host.clone())).await;
    let via_http = measure_from_own_thread(iterations, &endpoint, "bench", &echo);
    report("warm echo, Invoke HTTP route", &via_http);

    let mut cold = Vec::with_capacity(COLD_STARTS);
    for n in 0..COLD_STARTS {
        // A configuration change retires the warm instance: the next invocation starts one.
        let mut config = root.config("bench");
        config
            .environment
            .insert("BENCH_ROUND".into(), n.to_string());
        registry.put(config);
        let started = Instant::now();
        host.invoke("bench", echo.clone(), InvocationType::RequestResponse)
            .await
            .expect("cold invoke");
        cold.push(started.elapsed());
    }
    report("cold start, process start to first response", &cold);
    let metrics = host.metrics("bench").expect("metrics");
    println!(
        "  init (process start to first `next`): average {:.2} ms, max {:.2} ms over {} starts",
        metrics.init_duration.average_ms().unwrap_or_default(),
        metrics.init_duration.max_ms,
        metrics.init_duration.count
    );

    let cargo_lambda = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../.venv/bin/cargo-lambda");
    if !cargo_lambda.exists() {
        println!(
            "cargo lambda: not installed ({}), no comparison",
            cargo_lambda.display()
        );
        return;
    }
    match compare_with_cargo_lambda(&cargo_lambda, iterations, &echo).await {
        Ok(watch) => {
            report("warm echo, cargo lambda watch", &watch);
            println!(
                "  ratio cargo lambda / host (HTTP p50): {:.2}; (HTTP p99): {:.2}",
                percentile(&watch, 50.0).as_secs_f64() / percentile(&via_http, 50.0).as_secs_f64(),
                percentile(&watch, 99.0).as_secs_f64() / percentile(&via_http, 99.0).as_secs_f64(),
            );
        }
        Err(error) => println!("cargo lambda: comparison failed: {error}"),
    }
}

async fn measure<F, Fut>(iterations: usize, mut round_trip: F) -> Vec<Duration>
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = ()>,
{
    for _ in 0..iterations / 20 {
        round_trip().await;
    }
    let mut samples = Vec::with_capacity(iterations);
    for _ in 0..iterations {
        let started = Instant::now();
        round_trip().await;
        samples.push(started.elapsed());
    }
    samples
}

/// HTTP round trips from a client on a thread and runtime of its own, so that the host and
/// cargo lambda are measured from the same place and the client takes no worker of the host's.
fn measure_from_own_thread(
    iterations: usize,
    endpoint: &str,
    function: &str,
    payload: &Bytes,
) -> Vec<Duration> {
    let (endpoint, function, payload) = (endpoint.to_owned(), function.to_owned(), payload.clone());
    std::thread::spawn(move || {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .expect("a client runtime");
        runtime.block_on(async {
            let client = plain_client();
            measure(iterations, || {
                invoke_over_http(&client, &endpoint, &function, &payload)
            })
            .await
        })
    })
    .join()
    .expect("the client thread")
}

async fn invoke_over_http(client: &PlainClient, endpoint: &str, function: &str, payload: &Bytes) {
    let request = http::Request::builder()
        .method("POST")
        .uri(format!(
            "{endpoint}/2015-03-31/functions/{function}/invocations"
        ))
        .body(payload.clone())
        .expect("a request");
    let response = send(client, request).await.expect("an Invoke answer");
    assert_eq!(response.status(), 200, "{:?}", response.body());
}

async fn serve(router: axum::Router) -> String {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("a port");
    let address = listener.local_addr().expect("an address");
    let listener = axum::serve::ListenerExt::tap_io(listener, |tcp| {
        let _ = tcp.set_nodelay(true);
    });
    tokio::spawn(async move { axum::serve(listener, router).await.expect("serving") });
    format!("http://{address}")
}

/// `cargo lambda watch --only-lambda-apis` serving the same test function binary, which this
/// bench starts against its runtime API, as `postoffice local` does today.
async fn compare_with_cargo_lambda(
    cargo_lambda: &Path,
    iterations: usize,
    echo: &Bytes,
) -> Result<Vec<Duration>, String> {
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map_err(|e| e.to_string())?
        .port();
    let workspace = Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
    let logs = tempfile::tempdir().map_err(|e| e.to_string())?;
    let log = |name: &str| std::fs::File::create(logs.path().join(name)).map_err(|e| e.to_string());
    let watch = std::process::Command::new(cargo_lambda)
        .current_dir(&workspace)
        .args([
            "lambda",
            "watch",
            "--only-lambda-apis",
            "-A",
            "127.0.0.1",
            "-P",
        ])
        .arg(port.to_string())
        .stdout(log("watch.log")?)
        .stderr(log("watch.err")?)
        .process_group(0)
        .spawn()
        .map(GroupGuard)
        .map_err(|e| e.to_string())?;
    let deadline = Instant::now() + Duration::from_secs(60);
    while tokio::net::TcpStream::connect(("127.0.0.1", port))
        .await
        .is_err()
    {
        if Instant::now() > deadline {
            return Err("cargo lambda watch did not listen within 60 s".into());
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let function = std::process::Command::new(TEST_FUNCTION)
        .env_clear()
        .env(
            "AWS_LAMBDA_RUNTIME_API",
            format!("http://127.0.0.1:{port}/.rt/{WATCH_FUNCTION}"),
        )
        .env("AWS_LAMBDA_FUNCTION_NAME", WATCH_FUNCTION)
        .env("AWS_LAMBDA_FUNCTION_VERSION", "$LATEST")
        .env("AWS_LAMBDA_FUNCTION_MEMORY_SIZE", "128")
        .stdout(log("function.log")?)
        .stderr(log("function.err")?)
        .process_group(0)
        .spawn()
        .map(GroupGuard)
        .map_err(|e| e.to_string())?;
    let endpoint = format!("http://127.0.0.1:{port}");
    let client = plain_client();
    // The first invocation waits for the function to connect.
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let request = http::Request::builder()
            .method("POST")
            .uri(format!(
                "{endpoint}/2015-03-31/functions/{WATCH_FUNCTION}/invocations"
            ))
            .body(echo.clone())
            .map_err(|e| e.to_string())?;
        match send(&client, request).await {
            Ok(response) if response.status() == 200 => break,
            _ if Instant::now() > deadline => return Err("the function never answered".into()),
            _ => tokio::time::sleep(Duration::from_millis(100)).await,
        }
    }
    let samples = measure_from_own_thread(iterations, &endpoint, WATCH_FUNCTION, echo);
    drop(function);
    drop(watch);
    Ok(samples)
}

/// Kills a process group started here when dropped.
struct GroupGuard(std::process::Child);

impl Drop for GroupGuard {
    fn drop(&mut self) {
        if let Ok(group) = i32::try_from(self.0.id()) {
            // SAFETY: killpg has no memory-safety preconditions.
            unsafe {
                libc::killpg(group, libc::SIGKILL);
            }
        }
        let _ = self.0.wait();
    }
}

fn percentile(samples: &[Duration], p: f64) -> Duration {
    let mut sorted = samples.to_vec();
    sorted.sort();
    let rank = ((p / 100.0) * sorted.len() as f64).ceil() as usize;
    sorted[rank.clamp(1, sorted.len()) - 1]
}

fn report(what: &str, samples: &[Duration]) {
    let ms = |d: Duration| d.as_secs_f64() * 1000.0;
    println!(
        "{what}: n={} p50={:.3} ms p99={:.3} ms max={:.3} ms",
        samples.len(),
        ms(percentile(samples, 50.0)),
        ms(percentile(samples, 99.0)),
        ms(samples.iter().copied().max().unwrap_or_default()),
    );
}
