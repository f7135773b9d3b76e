//! The bridge and a tiny handler run for real under `cargo lambda watch` on 127.0.0.1: signed
//! SNS requests go to the bridge's function URL, the bridge invokes the handler through the
//! emulated Lambda Invoke API (the SDK client pointed there by `AWS_ENDPOINT_URL_LAMBDA`), and
//! confirms subscriptions against a one-request fake SNS (`AWS_ENDPOINT_URL_SNS`).
//!
//! Skips, loudly, when cargo-lambda is not installed (`make setup` installs it).

mod support;

use std::io::Write as _;
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use chrono::Utc;
use postoffice::sns::{MessageType, SnsMessage};
use postoffice_test_support::{free_port, http_response, read_http_request_blocking};
use support::*;

/// Starting the two functions on a busy 2-core machine, including a rebuild when the shared
/// workspace changed since `build_functions`.
const WARM_UP: Duration = Duration::from_secs(900);

/// The workspace's own target directory, so that CI builds the bridge's dependencies once.
/// `BRIDGE_WATCH_TARGET_DIR` gives the functions a directory of their own, for machines where
/// other builds hold the workspace's build lock for long.
fn watch_target_dir() -> PathBuf {
    std::env::var_os("BRIDGE_WATCH_TARGET_DIR")
        .or_else(|| std::env::var_os("CARGO_TARGET_DIR"))
        .map(PathBuf::from)
        .unwrap_or_else(|| workspace_root().join("target"))
}

fn workspace_root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../..")
}

fn cargo_lambda() -> Option<PathBuf> {
    let venv = workspace_root().join(".venv/bin/cargo-lambda");
    if venv.is_file() {
        return Some(venv);
    }
    std::env::var_os("PATH").and_then(|path| {
        std::env::split_paths(&path)
            .map(|dir| dir.join("cargo-lambda"))
            .find(|candidate| candidate.is_file())
    })
}

/// `cargo lambda watch` in its own process group, stopped with the group on drop.
struct Watch(Child);

impl Drop for Watch {
    fn drop(&mut self) {
        let group = format!("-{}", self.0.id());
        let _ = Command::new("kill").args(["-TERM", "--", &group]).status();
        let _ = self.0.wait();
    }
}

/// Builds both functions exactly as cargo-lambda will run them, so that no first invoke waits
/// for a compiler (it would outlast the bridge's invoke timeout).
fn build_functions() {
    let status = Command::new(env!("CARGO"))
        .current_dir(workspace_root())
        .args(["build", "--manifest-path", "lambdas/sns-bridge/Cargo.toml"])
        .args(["--features", "test-handler"])
        .args(["--bin", "sns-bridge", "--bin", "bridge-test-handler"])
        .env("CARGO_TARGET_DIR", watch_target_dir())
        .status()
        .expect("cargo runs");
    assert!(
        status.success(),
        "building the bridge and the test handler failed"
    );
}

fn start_watch(cargo_lambda: &Path, port: u16, env: &[(&str, String)]) -> Watch {
    let mut command = Command::new(cargo_lambda);
    command
        .current_dir(workspace_root())
        .args([
            "lambda",
            "watch",
            "-A",
            "127.0.0.1",
            "-P",
            &port.to_string(),
        ])
        .args(["--manifest-path", "lambdas/sns-bridge/Cargo.toml"])
        .args(["--features", "test-handler"])
        // Others editing the workspace must not restart the functions mid-test.
        .arg("--ignore-changes")
        .env("CARGO_TARGET_DIR", watch_target_dir())
        .stdin(Stdio::null());
    if let Some(log) = std::env::var_os("BRIDGE_WATCH_LOG") {
        let log = std::fs::File::create(log).unwrap();
        command.stdout(log.try_clone().unwrap()).stderr(log);
    }
    for (name, value) in env {
        command.arg("--env-var").arg(format!("{name}={value}"));
        command.env(name, value);
    }
    std::os::unix::process::CommandExt::process_group(&mut command, 0);
    Watch(command.spawn().expect("cargo lambda watch starts"))
}

fn wait_for_port(port: u16) {
    let deadline = Instant::now() + Duration::from_secs(60);
    while TcpStream::connect(("127.0.0.1", port)).is_err() {
        assert!(
            Instant::now() < deadline,
            "cargo lambda watch did not listen on {port}"
        );
        std::thread::sleep(Duration::from_millis(200));
    }
}

/// Answers one SNS `ConfirmSubscription` (query protocol) and hands its form body to the test.
fn fake_sns() -> (u16, mpsc::Receiver<String>) {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let (sender, receiver) = mpsc::channel();
    std::thread::spawn(move || {
        for stream in listener.incoming() {
            let Ok(mut stream) = stream else { return };
            let body = read_http_request_blocking(&mut stream)
                .unwrap_or_default()
                .body_text();
            let xml = "<ConfirmSubscriptionResponse xmlns=\"http://sns.amazonaws.com/doc/2010-03-31/\">\
                <ConfirmSubscriptionResult><SubscriptionArn>arn:aws:sns:eu-west-1:123456789012:postoffice-COOKING_REQUESTED:sub-1</SubscriptionArn></ConfirmSubscriptionResult>\
                <ResponseMetadata><RequestId>r-1</RequestId></ResponseMetadata></ConfirmSubscriptionResponse>";
            let headers = [("content-type", "text/xml"), ("connection", "close")];
            let _ = stream.write_all(&http_response(200, "OK", &headers, xml.as_bytes()));
            let _ = sender.send(body);
        }
    });
    (port, receiver)
}

fn notification(answer: &str) -> SnsMessage {
    let mut envelope = envelope();
    envelope.payload = serde_json::json!({"answer": answer});
    let mut message = unsigned(
        MessageType::Notification,
        TOPIC_ARN,
        &envelope.to_json(),
        Utc::now(),
    );
    authority().sign(&mut message).unwrap();
    message
}

async fn push(
    client: &reqwest::Client,
    url: &str,
    message: &SnsMessage,
    timeout: Duration,
) -> (u16, serde_json::Value) {
    let response = client
        .post(url)
        .timeout(timeout)
        .header("content-type", "text/plain; charset=UTF-8")
        .header("x-amz-sns-message-type", message.message_type.as_str())
        .header("x-amz-sns-topic-arn", &message.topic_arn)
        .body(message.to_http_json())
        .send()
        .await
        .expect("the bridge answers");
    let status = response.status().as_u16();
    let text = response.text().await.unwrap();
    let body = serde_json::from_str(&text).unwrap_or_else(|_| panic!("JSON body: {text}"));
    (status, body)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bridge_and_handler_run_for_real_under_cargo_lambda_watch() {
    let Some(cargo_lambda) = cargo_lambda() else {
        eprintln!(
            "\n\n!!! SKIPPED: cargo-lambda is not installed; run `make setup` \
             (the bridge's cargo-lambda integration test did NOT run) !!!\n\n"
        );
        return;
    };
    let directory = tempfile::tempdir().unwrap();
    let certificate = directory.path().join("local-signing.pem");
    std::fs::write(&certificate, authority().certificate_pem()).unwrap();

    let port = free_port();
    let (sns_port, confirmations) = fake_sns();
    let env = [
        (
            "POSTOFFICE_HANDLER_FUNCTION",
            "bridge-test-handler".to_owned(),
        ),
        ("POSTOFFICE_ALLOWED_TOPIC_ARNS", TOPIC_ARN.to_owned()),
        ("POSTOFFICE_INVOKE_TIMEOUT_MS", "14000".to_owned()),
        (
            "POSTOFFICE_LOCAL_TRUSTED_CERT",
            certificate.display().to_string(),
        ),
        (
            "AWS_ENDPOINT_URL_LAMBDA",
            format!("http://127.0.0.1:{port}"),
        ),
        (
            "AWS_ENDPOINT_URL_SNS",
            format!("http://127.0.0.1:{sns_port}"),
        ),
        ("AWS_REGION", "eu-west-1".to_owned()),
        ("AWS_ACCESS_KEY_ID", "local".to_owned()),
        ("AWS_SECRET_ACCESS_KEY", "local".to_owned()),
        ("AWS_EC2_METADATA_DISABLED", "true".to_owned()),
    ];
    build_functions();
    let _watch = start_watch(&cargo_lambda, port, &env);
    wait_for_port(port);

    let client = postoffice::https::client_builder().build().unwrap();
    let url = format!("http://127.0.0.1:{port}/lambda-url/sns-bridge/");

    // Warm-up starts both functions; like SNS, retry while the bridge answers 5xx.
    let deadline = Instant::now() + WARM_UP;
    loop {
        let (status, body) = push(&client, &url, &notification("handled"), WARM_UP).await;
        if status == 200 {
            assert_eq!(body["reason"], "handled");
            break;
        }
        assert!(
            status >= 500 && Instant::now() < deadline,
            "warm-up: {status} {body}"
        );
        tokio::time::sleep(Duration::from_secs(1)).await;
    }

    let table = [
        ("non-retryable", 400, "handler_non_retryable"),
        ("retryable", 500, "handler_failed"),
        ("handled", 200, "handled"),
    ];
    for (answer, status, reason) in table {
        let (got, body) = push(
            &client,
            &url,
            &notification(answer),
            Duration::from_secs(60),
        )
        .await;
        assert_eq!(
            (got, body["reason"].as_str()),
            (status, Some(reason)),
            "{answer}: {body}"
        );
    }

    let mut foreign = notification("handled");
    foreign.topic_arn = OTHER_ACCOUNT_TOPIC_ARN.to_owned();
    authority().sign(&mut foreign).unwrap();
    let (status, body) = push(&client, &url, &foreign, Duration::from_secs(60)).await;
    assert_eq!(
        (status, body["reason"].as_str()),
        (403, Some("topic_not_allowed"))
    );

    let mut confirmation = unsigned(
        MessageType::SubscriptionConfirmation,
        TOPIC_ARN,
        "You have chosen to subscribe",
        Utc::now(),
    );
    authority().sign(&mut confirmation).unwrap();
    let (status, body) = push(&client, &url, &confirmation, Duration::from_secs(60)).await;
    assert_eq!(
        (status, body["reason"].as_str()),
        (200, Some("subscription_confirmed")),
        "{body}"
    );
    let form = confirmations
        .recv_timeout(Duration::from_secs(5))
        .expect("the bridge called SNS ConfirmSubscription");
    assert!(form.contains("Action=ConfirmSubscription"), "{form}");
    assert!(form.contains("Token=tok-123"), "{form}");
    assert!(
        form.contains(
            "TopicArn=arn%3Aaws%3Asns%3Aeu-west-1%3A123456789012%3Apostoffice-COOKING_REQUESTED"
        ),
        "{form}"
    );
    assert!(form.contains("AuthenticateOnUnsubscribe=true"), "{form}");
}
