//! The `example-kitchen-service` binary (`compute = "container"` in the consumer module): the
//! kitchen's unchanged handler as an HTTP service, run as a process with the environment the
//! module's task definition gives it. Signed SNS requests go to its port and come back as the
//! bridge's statuses; the target group's health check answers; SIGTERM (how ECS stops a task)
//! stops it cleanly.

mod support;

use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use support::{FINISHED, REQUESTED, TOPIC_ARN_PREFIX, authority, fake_sns, recipes};

/// Stops the service if the test fails before it does.
struct Service(Child);

impl Drop for Service {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

async fn wait_until_healthy(client: &reqwest::Client, url: &str, show_log: &dyn Fn() -> String) {
    let started = Instant::now();
    loop {
        if let Ok(response) = client.get(url).send().await
            && response.status() == 200
        {
            assert_eq!(response.text().await.unwrap(), "ok");
            return;
        }
        assert!(
            started.elapsed() < Duration::from_secs(20),
            "the service never answered its health check; log:\n{}",
            show_log()
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_kitchen_serves_sns_as_an_http_service() {
    let dir = tempfile::tempdir().unwrap();
    let certificate = dir.path().join("local-signing.pem");
    std::fs::write(&certificate, authority().certificate_pem()).unwrap();
    let log = dir.path().join("service.log");
    let (sns_port, sns) = fake_sns();
    let port = free_port();

    // What the consumer module's task definition sets with compute = "container", and the
    // kitchen's own.
    let service = Command::new(env!("CARGO_BIN_EXE_example-kitchen-service"))
        .env_clear()
        .env("POSTOFFICE_LISTEN_ADDRESS", format!("127.0.0.1:{port}"))
        .env("POSTOFFICE_HANDLER_NAME", "postoffice-kitchen-service")
        .env(
            "POSTOFFICE_ALLOWED_TOPIC_ARNS",
            format!("{FINISHED},{REQUESTED}"),
        )
        .env("POSTOFFICE_INVOKE_TIMEOUT_MS", "10000")
        .env("POSTOFFICE_MAX_MESSAGE_AGE_SECONDS", "10800")
        .env("POSTOFFICE_TOPIC_ARN_PREFIX", TOPIC_ARN_PREFIX)
        .env("POSTOFFICE_LOCAL_TRUSTED_CERT", &certificate)
        .env(
            "AWS_ENDPOINT_URL_SNS",
            format!("http://127.0.0.1:{sns_port}"),
        )
        .env("AWS_REGION", "eu-west-1")
        .env("AWS_ACCESS_KEY_ID", "local")
        .env("AWS_SECRET_ACCESS_KEY", "local")
        .env("KITCHEN_RECIPES_DIR", recipes(dir.path()))
        .stdout(std::fs::File::create(&log).unwrap())
        .stderr(Stdio::inherit())
        .spawn()
        .unwrap();
    let mut service = Service(service);
    let show_log = || std::fs::read_to_string(&log).unwrap_or_default();
    let client = postoffice::https::client_builder().build().unwrap();
    let base = format!("http://127.0.0.1:{port}");

    wait_until_healthy(&client, &format!("{base}/health"), &show_log).await;
    // Any path but the health check is the endpoint (a shared listener routes a prefix to it).
    support::answers_sns_as_the_bridge_does(
        &client,
        &format!("{base}/kitchen/sns"),
        &sns,
        &show_log,
    )
    .await;
    let get = client
        .get(format!("{base}/kitchen/sns"))
        .send()
        .await
        .unwrap();
    assert_eq!(
        get.status(),
        405,
        "SNS only POSTs; {}",
        get.text().await.unwrap()
    );

    let status = Command::new("kill")
        .args(["-TERM", &service.0.id().to_string()])
        .status()
        .unwrap();
    assert!(status.success());
    let started = Instant::now();
    let exit = loop {
        if let Some(exit) = service.0.try_wait().unwrap() {
            break exit;
        }
        assert!(
            started.elapsed() < Duration::from_secs(10),
            "SIGTERM did not stop the service; log:\n{}",
            show_log()
        );
        std::thread::sleep(Duration::from_millis(50));
    };
    assert!(exit.success(), "{exit}; log:\n{}", show_log());
    assert!(
        show_log().contains("handler service stopped"),
        "{}",
        show_log()
    );
}
