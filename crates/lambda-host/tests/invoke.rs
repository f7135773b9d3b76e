//! The host driven through `invoke`, with the test function as the deployed code.

mod support;

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use postoffice_lambda_host::{
    HostConfig, InvocationType, InvokeRequest, LambdaHostError, MAX_ASYNC_PAYLOAD_BYTES,
    MAX_SYNC_PAYLOAD_BYTES, ThrottleReason,
};
use serde_json::json;
use support::*;

const SYNC: InvocationType = InvocationType::RequestResponse;

fn echo(env: &[&str]) -> Vec<u8> {
    json!({"action": "echo", "env": env})
        .to_string()
        .into_bytes()
}

#[tokio::test]
async fn echo_round_trip_with_lambdas_headers_and_exact_environment() {
    let root = TaskRoot::new();
    let (host, _) = host(vec![root.config("kitchen")]);
    let asked = [
        "AWS_LAMBDA_FUNCTION_NAME",
        "AWS_LAMBDA_FUNCTION_VERSION",
        "AWS_LAMBDA_FUNCTION_MEMORY_SIZE",
        "AWS_REGION",
        "AWS_LAMBDA_LOG_GROUP_NAME",
        "AWS_LAMBDA_RUNTIME_API",
        "LAMBDA_TASK_ROOT",
        "_HANDLER",
        "AWS_ACCESS_KEY_ID",
        "AWS_SECRET_ACCESS_KEY",
        "AWS_SESSION_TOKEN",
        "POSTOFFICE_MARK",
        "TZ",
    ];
    let before_ms = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_millis() as u64;
    let mut request = InvokeRequest::new(
        "arn:aws:lambda:eu-west-1:123456789012:function:kitchen",
        echo(&asked),
        SYNC,
    );
    request.client_context = Some(base64_of(r#"{"custom":{"household":"h-1"}}"#));
    let outcome = host.invoke_request(request).await.unwrap();
    assert_eq!(outcome.status, 200);
    assert_eq!(outcome.function_error, None);
    assert_eq!(outcome.executed_version.as_deref(), Some("$LATEST"));
    let answer = json(&outcome.payload);

    assert_eq!(answer["event"], json!({"action": "echo", "env": asked}));
    let context = &answer["context"];
    assert_eq!(context["request_id"], outcome.request_id.as_str());
    assert_eq!(
        context["invoked_function_arn"],
        "arn:aws:lambda:eu-west-1:123456789012:function:kitchen"
    );
    assert!(
        context["xray_trace_id"]
            .as_str()
            .unwrap()
            .starts_with("Root=1-")
    );
    assert_eq!(context["client_context"], json!({"household": "h-1"}));
    let deadline = context["deadline_ms"].as_u64().unwrap();
    assert!(
        deadline >= before_ms + 10_000 && deadline <= before_ms + 20_000,
        "deadline {deadline} is not about now + 10 s"
    );

    let env = &answer["env"];
    assert_eq!(env["AWS_LAMBDA_FUNCTION_NAME"], "kitchen");
    assert_eq!(env["AWS_LAMBDA_FUNCTION_VERSION"], "$LATEST");
    assert_eq!(env["AWS_LAMBDA_FUNCTION_MEMORY_SIZE"], "128");
    assert_eq!(env["AWS_REGION"], "eu-west-1");
    assert_eq!(env["AWS_LAMBDA_LOG_GROUP_NAME"], "/aws/lambda/kitchen");
    assert_eq!(env["_HANDLER"], "bootstrap");
    assert_eq!(env["AWS_ACCESS_KEY_ID"], "AKIDTEST");
    assert_eq!(env["AWS_SECRET_ACCESS_KEY"], "secret-for-tests");
    assert_eq!(env["AWS_SESSION_TOKEN"], "token-for-tests");
    assert_eq!(env["POSTOFFICE_MARK"], "one");
    assert_eq!(env["TZ"], ":UTC");
    let runtime_api = env["AWS_LAMBDA_RUNTIME_API"].as_str().unwrap();
    assert!(runtime_api.starts_with("127.0.0.1:"), "{runtime_api}");
    let task_root = root.path().display().to_string();
    assert_eq!(env["LAMBDA_TASK_ROOT"], task_root.as_str());
    assert_eq!(answer["cwd"], task_root.as_str());

    // Nothing of the host's own environment leaks in: only Lambda's variables and the function's.
    let names: Vec<&str> = answer["env_names"]
        .as_array()
        .unwrap()
        .iter()
        .map(|n| n.as_str().unwrap())
        .collect();
    let expected = [
        "AWS_ACCESS_KEY_ID",
        "AWS_DEFAULT_REGION",
        "AWS_LAMBDA_FUNCTION_MEMORY_SIZE",
        "AWS_LAMBDA_FUNCTION_NAME",
        "AWS_LAMBDA_FUNCTION_VERSION",
        "AWS_LAMBDA_INITIALIZATION_TYPE",
        "AWS_LAMBDA_LOG_GROUP_NAME",
        "AWS_LAMBDA_LOG_STREAM_NAME",
        "AWS_LAMBDA_RUNTIME_API",
        "AWS_REGION",
        "AWS_SECRET_ACCESS_KEY",
        "AWS_SESSION_TOKEN",
        "LAMBDA_RUNTIME_DIR",
        "LAMBDA_TASK_ROOT",
        "LANG",
        "LD_LIBRARY_PATH",
        "PATH",
        "POSTOFFICE_MARK",
        "TZ",
        "_HANDLER",
        // lambda_runtime sets it from Lambda-Runtime-Trace-Id before calling the handler.
        "_X_AMZN_TRACE_ID",
    ];
    assert_eq!(names, expected);

    // The instance is reused: same process, no second cold start.
    let second = host.invoke("kitchen", echo(&[]), SYNC).await.unwrap();
    assert_eq!(json(&second.payload)["pid"], answer["pid"]);
    let metrics = host.metrics("kitchen").unwrap();
    assert_eq!(
        (metrics.invocations, metrics.cold_starts, metrics.errors),
        (2, 1, 0)
    );
    assert_eq!(metrics.duration.count, 2);
    assert!(metrics.billed_duration_ms >= 2);
    assert!(metrics.gb_seconds > 0.0);
    assert_eq!(metrics.concurrent_executions, 0);
    assert_eq!(metrics.max_concurrent_executions, 1);

    let log = std::fs::read_to_string(root.log()).unwrap();
    assert!(log.contains(&format!(
        "START RequestId: {} Version: $LATEST",
        outcome.request_id
    )));
    assert!(log.contains(&format!(
        "REPORT RequestId: {}\tDuration: ",
        outcome.request_id
    )));
    assert!(log.contains("Init Duration: "));
    assert!(
        !log.contains("secret-for-tests"),
        "credentials reached the log"
    );
}

#[tokio::test]
async fn reserved_variables_cannot_be_set_by_the_function() {
    let root = TaskRoot::new();
    let mut config = root.config("kitchen");
    config
        .environment
        .insert("AWS_LAMBDA_RUNTIME_API".into(), "10.0.0.1:9001".into());
    let (host, _) = host(vec![config]);
    let error = host.invoke("kitchen", echo(&[]), SYNC).await.unwrap_err();
    assert_eq!(error.error_code(), "InvalidParameterValueException");
    assert!(
        error
            .to_string()
            .contains("AWS_LAMBDA_RUNTIME_API is reserved"),
        "{error}"
    );
    assert_eq!(host.live_instances(), 0);
}

#[tokio::test]
async fn unknown_functions_and_qualifiers_are_not_found() {
    let root = TaskRoot::new();
    let (host, _) = host(vec![root.config("kitchen")]);
    for name in ["telemetry", "kitchen:7", "999999999999:function:kitchen"] {
        let error = host.invoke(name, echo(&[]), SYNC).await.unwrap_err();
        assert!(
            matches!(error, LambdaHostError::FunctionNotFound { .. }),
            "{name}: {error}"
        );
        assert_eq!(error.status(), 404);
    }
}

#[tokio::test]
async fn a_timeout_kills_the_instance_answers_lambdas_error_and_the_next_invoke_works() {
    let root = TaskRoot::new();
    let mut config = root.config("slow");
    config.timeout = Duration::from_secs(1);
    let (host, _) = host(vec![config]);
    let first = host.invoke("slow", echo(&[]), SYNC).await.unwrap();
    let pid = json(&first.payload)["pid"].as_u64().unwrap();

    let started = std::time::Instant::now();
    let outcome = host
        .invoke(
            "slow",
            json!({"action": "sleep", "ms": 5000}).to_string(),
            SYNC,
        )
        .await
        .unwrap();
    let waited = started.elapsed();
    assert!(
        waited >= Duration::from_secs(1) && waited < Duration::from_secs(4),
        "{waited:?}"
    );
    assert_eq!(outcome.status, 200);
    assert_eq!(outcome.function_error.as_deref(), Some("Unhandled"));
    let error = outcome.error_document().unwrap();
    assert_eq!(error.error_type, "Sandbox.Timedout");
    assert_eq!(
        error.error_message,
        format!(
            "RequestId: {} Error: Task timed out after 1.00 seconds",
            outcome.request_id
        )
    );
    wait_until(
        "the timed-out instance is gone",
        Duration::from_secs(5),
        || !process_alive(pid),
    )
    .await;

    let next = host.invoke("slow", echo(&[]), SYNC).await.unwrap();
    assert_eq!(next.function_error, None);
    assert_ne!(json(&next.payload)["pid"].as_u64().unwrap(), pid);
    let metrics = host.metrics("slow").unwrap();
    assert_eq!(
        (metrics.invocations, metrics.errors, metrics.timeouts),
        (3, 1, 1)
    );
    assert_eq!(metrics.cold_starts, 2);
    assert!(
        std::fs::read_to_string(root.log())
            .unwrap()
            .contains(&format!(
                "{} Task timed out after 1.00 seconds",
                outcome.request_id
            ))
    );
}

#[tokio::test]
async fn a_crash_answers_runtime_exit_error_and_the_next_invoke_recovers() {
    let root = TaskRoot::new();
    let (host, _) = host(vec![root.config("fragile")]);
    let outcome = host
        .invoke(
            "fragile",
            json!({"action": "exit", "code": 3}).to_string(),
            SYNC,
        )
        .await
        .unwrap();
    assert_eq!(outcome.function_error.as_deref(), Some("Unhandled"));
    let error = outcome.error_document().unwrap();
    assert_eq!(error.error_type, "Runtime.ExitError");
    assert_eq!(
        error.error_message,
        format!(
            "RequestId: {} Error: Runtime exited with error: exit status 3",
            outcome.request_id
        )
    );
    assert_eq!(host.live_instances(), 0);

    let next = host.invoke("fragile", echo(&[]), SYNC).await.unwrap();
    assert_eq!(next.function_error, None);
    assert_eq!(host.metrics("fragile").unwrap().errors, 1);
}

#[tokio::test]
async fn function_errors_keep_their_type_and_the_instance() {
    let root = TaskRoot::new();
    let (host, _) = host(vec![root.config("kitchen")]);
    let first = host.invoke("kitchen", echo(&[]), SYNC).await.unwrap();
    let outcome = host
        .invoke(
            "kitchen",
            json!({"action": "error", "error_type": "NonRetryable", "message": "bad recipe"})
                .to_string(),
            SYNC,
        )
        .await
        .unwrap();
    assert_eq!(outcome.status, 200);
    assert_eq!(outcome.function_error.as_deref(), Some("Unhandled"));
    let error = outcome.error_document().unwrap();
    assert_eq!(
        (error.error_type.as_str(), error.error_message.as_str()),
        ("NonRetryable", "bad recipe")
    );

    let panicked = host
        .invoke("kitchen", json!({"action": "panic"}).to_string(), SYNC)
        .await
        .unwrap();
    assert_eq!(panicked.function_error.as_deref(), Some("Unhandled"));
    assert!(
        panicked
            .error_document()
            .unwrap()
            .error_message
            .contains("panicked")
    );

    let after = host.invoke("kitchen", echo(&[]), SYNC).await.unwrap();
    assert_eq!(json(&after.payload)["pid"], json(&first.payload)["pid"]);
    assert_eq!(host.metrics("kitchen").unwrap().errors, 2);
}

#[tokio::test]
async fn init_errors_are_answered_as_lambda_does() {
    let root = TaskRoot::new();
    let mut reported = root.config("misconfigured");
    reported
        .environment
        .insert("TEST_FUNCTION_INIT_ERROR".into(), "Config.Missing".into());
    let mut exiting = root.config("exiting");
    exiting
        .environment
        .insert("TEST_FUNCTION_INIT_EXIT".into(), "2".into());
    let (host, _) = host(vec![reported, exiting]);

    let outcome = host.invoke("misconfigured", echo(&[]), SYNC).await.unwrap();
    assert_eq!(outcome.function_error.as_deref(), Some("Unhandled"));
    let error = outcome.error_document().unwrap();
    assert_eq!(error.error_type, "Config.Missing");
    assert_eq!(error.error_message, "init failed as the environment asked");

    let outcome = host.invoke("exiting", echo(&[]), SYNC).await.unwrap();
    let error = outcome.error_document().unwrap();
    assert_eq!(error.error_type, "Runtime.ExitError");
    assert!(
        error
            .error_message
            .ends_with("Runtime exited with error: exit status 2"),
        "{}",
        error.error_message
    );

    assert_eq!(host.live_instances(), 0);
    assert_eq!(host.metrics("misconfigured").unwrap().errors, 1);
    let prewarm = host.prewarm("misconfigured").await.unwrap_err();
    assert!(prewarm.to_string().contains("Config.Missing"), "{prewarm}");
}

#[tokio::test]
async fn a_missing_bootstrap_is_an_invalid_entrypoint() {
    let root = TaskRoot::new();
    let mut config = root.config("empty");
    let empty = tempfile::tempdir().unwrap();
    config.code_dir = empty.path().to_path_buf();
    let (host, _) = host(vec![config]);
    let outcome = host.invoke("empty", echo(&[]), SYNC).await.unwrap();
    let error = outcome.error_document().unwrap();
    assert_eq!(error.error_type, "Runtime.InvalidEntrypoint");
    assert!(
        error.error_message.contains("bootstrap"),
        "{}",
        error.error_message
    );
    assert_eq!(host.live_instances(), 0);
}

#[tokio::test]
async fn reserved_concurrency_one_throttles_a_second_concurrent_invoke() {
    let root = TaskRoot::new();
    let mut config = root.config("single");
    config.reserved_concurrency = Some(1);
    let (host, _) = host(vec![config]);
    host.prewarm("single").await.unwrap();
    let busy = {
        let host = host.clone();
        tokio::spawn(async move {
            host.invoke(
                "single",
                json!({"action": "sleep", "ms": 1500}).to_string(),
                SYNC,
            )
            .await
        })
    };
    wait_until("the first invocation runs", Duration::from_secs(5), || {
        host.metrics("single").unwrap().concurrent_executions == 1
    })
    .await;
    let error = host.invoke("single", echo(&[]), SYNC).await.unwrap_err();
    assert_eq!(error.status(), 429);
    assert_eq!(error.error_code(), "TooManyRequestsException");
    assert!(matches!(
        error,
        LambdaHostError::TooManyRequests {
            reason: ThrottleReason::ReservedFunctionConcurrentInvocationLimitExceeded
        }
    ));
    assert_eq!(busy.await.unwrap().unwrap().function_error, None);
    let metrics = host.metrics("single").unwrap();
    assert_eq!((metrics.invocations, metrics.throttles), (1, 1));

    let mut closed = root.config("closed");
    closed.reserved_concurrency = Some(0);
    let (host, _) = support::host(vec![closed]);
    assert!(matches!(
        host.invoke("closed", echo(&[]), SYNC).await.unwrap_err(),
        LambdaHostError::TooManyRequests { .. }
    ));
}

#[tokio::test]
async fn the_host_instance_limit_evicts_idle_instances_and_throttles_when_all_are_busy() {
    let root = TaskRoot::new();
    let (host, _) = host_with(
        vec![root.config("first"), root.config("second")],
        HostConfig {
            max_instances: 1,
            ..HostConfig::default()
        },
    );
    host.invoke("first", echo(&[]), SYNC).await.unwrap();
    assert_eq!(host.idle_instances("first"), 1);
    // The idle instance of `first` makes room for `second`.
    host.invoke("second", echo(&[]), SYNC).await.unwrap();
    assert_eq!(
        (host.idle_instances("first"), host.idle_instances("second")),
        (0, 1)
    );
    assert_eq!(host.live_instances(), 1);

    let busy = {
        let host = host.clone();
        tokio::spawn(async move {
            host.invoke(
                "second",
                json!({"action": "sleep", "ms": 1000}).to_string(),
                SYNC,
            )
            .await
        })
    };
    wait_until("`second` is busy", Duration::from_secs(5), || {
        host.metrics("second").unwrap().concurrent_executions == 1
    })
    .await;
    let error = host.invoke("first", echo(&[]), SYNC).await.unwrap_err();
    assert!(matches!(
        error,
        LambdaHostError::TooManyRequests {
            reason: ThrottleReason::ConcurrentInvocationLimitExceeded
        }
    ));
    busy.await.unwrap().unwrap();
}

#[tokio::test]
async fn payloads_over_the_quota_are_refused_with_413() {
    let root = TaskRoot::new();
    let (host, _) = host(vec![root.config("kitchen")]);
    let error = host
        .invoke("kitchen", vec![b' '; MAX_SYNC_PAYLOAD_BYTES + 1], SYNC)
        .await
        .unwrap_err();
    assert_eq!(
        (error.status(), error.error_code()),
        (413, "RequestTooLargeException")
    );
    assert!(error.to_string().contains("6291457 bytes"), "{error}");

    // A JSON string of exactly 6 MB is accepted.
    let mut exactly = vec![b'x'; MAX_SYNC_PAYLOAD_BYTES];
    (exactly[0], exactly[MAX_SYNC_PAYLOAD_BYTES - 1]) = (b'"', b'"');
    let exactly = host
        .invoke("kitchen", exactly, InvocationType::DryRun)
        .await
        .unwrap();
    assert_eq!(exactly.status, 204);

    let error = host.invoke("kitchen", "{not json", SYNC).await.unwrap_err();
    assert_eq!(
        (error.status(), error.error_code()),
        (400, "InvalidRequestContentException")
    );

    let error = host
        .invoke(
            "kitchen",
            vec![b' '; MAX_ASYNC_PAYLOAD_BYTES + 1],
            InvocationType::Event,
        )
        .await
        .unwrap_err();
    assert_eq!(error.status(), 413);

    let large = host
        .invoke(
            "kitchen",
            json!({"action": "large", "bytes": MAX_SYNC_PAYLOAD_BYTES}).to_string(),
            SYNC,
        )
        .await
        .unwrap();
    let error = large.error_document().unwrap();
    assert_eq!(error.error_type, "Function.ResponseSizeTooLarge");
    assert_eq!(
        host.live_instances(),
        1,
        "an oversized answer does not end the instance"
    );
}

#[tokio::test]
async fn a_configuration_change_applies_to_new_instances_only() {
    let root = TaskRoot::new();
    let config = root.config("kitchen");
    let (host, registry) = host(vec![config.clone()]);
    let mark = |outcome: &postoffice_lambda_host::InvokeOutcome| {
        let answer = json(&outcome.payload);
        (
            answer["env"]["POSTOFFICE_MARK"].clone(),
            answer["pid"].as_u64().unwrap(),
        )
    };
    let (old_mark, old_pid) = mark(
        &host
            .invoke("kitchen", echo(&["POSTOFFICE_MARK"]), SYNC)
            .await
            .unwrap(),
    );
    assert_eq!(old_mark, "one");

    // An invocation in flight on the old configuration...
    let slow = {
        let host = host.clone();
        tokio::spawn(async move {
            host.invoke(
                "kitchen",
                json!({"action": "sleep", "ms": 1000}).to_string(),
                SYNC,
            )
            .await
        })
    };
    wait_until("the slow invocation runs", Duration::from_secs(5), || {
        host.metrics("kitchen").unwrap().concurrent_executions == 1
    })
    .await;

    let mut changed = config.clone();
    changed
        .environment
        .insert("POSTOFFICE_MARK".into(), "two".into());
    registry.put(changed);

    // ...finishes where it started; new invocations start a new instance with the new one.
    let (new_mark, new_pid) = mark(
        &host
            .invoke("kitchen", echo(&["POSTOFFICE_MARK"]), SYNC)
            .await
            .unwrap(),
    );
    assert_eq!(new_mark, "two");
    assert_ne!(new_pid, old_pid);
    let slow = slow.await.unwrap().unwrap();
    assert_eq!(json(&slow.payload)["slept_ms"], 1000);
    wait_until("the old instance retires", Duration::from_secs(5), || {
        !process_alive(old_pid)
    })
    .await;
    let (again, pid) = mark(
        &host
            .invoke("kitchen", echo(&["POSTOFFICE_MARK"]), SYNC)
            .await
            .unwrap(),
    );
    assert_eq!((again, pid), (json!("two"), new_pid));
}

#[tokio::test]
async fn event_invocations_answer_202_and_run_later_and_dry_runs_start_nothing() {
    let root = TaskRoot::new();
    let (host, _) = host(vec![root.config("kitchen")]);
    let dry = host
        .invoke("kitchen", echo(&[]), InvocationType::DryRun)
        .await
        .unwrap();
    assert_eq!((dry.status, dry.payload.len()), (204, 0));
    assert_eq!(host.live_instances(), 0);

    let event = host
        .invoke("kitchen", echo(&[]), InvocationType::Event)
        .await
        .unwrap();
    assert_eq!(event.status, 202);
    assert!(event.payload.is_empty());
    assert_eq!(event.executed_version, None);
    wait_until("the event ran", Duration::from_secs(10), || {
        host.metrics("kitchen")
            .is_some_and(|m| m.invocations == 1 && m.concurrent_executions == 0)
    })
    .await;
}

#[tokio::test]
async fn failed_event_invocations_are_retried_then_dropped() {
    let root = TaskRoot::new();
    let (host, _) = host_with(
        vec![root.config("kitchen")],
        HostConfig {
            async_retry_delays: vec![Duration::from_millis(50), Duration::from_millis(50)],
            ..HostConfig::default()
        },
    );
    let failing = json!({"action": "error", "error_type": "Retryable", "message": "later"});
    let accepted = host
        .invoke("kitchen", failing.to_string(), InvocationType::Event)
        .await
        .unwrap();
    assert_eq!(accepted.status, 202);
    wait_until("the event is given up on", Duration::from_secs(10), || {
        host.metrics("kitchen")
            .is_some_and(|m| m.async_events_dropped == 1)
    })
    .await;
    let metrics = host.metrics("kitchen").unwrap();
    assert_eq!(
        (metrics.invocations, metrics.errors),
        (3, 3),
        "one try and two retries"
    );
}

#[tokio::test]
async fn prewarmed_instances_serve_the_first_invocation_warm() {
    let root = TaskRoot::new();
    let (host, _) = host(vec![root.config("kitchen")]);
    assert_eq!(host.prewarm("kitchen").await.unwrap(), 1);
    assert_eq!(host.prewarm("kitchen").await.unwrap(), 0, "already warm");
    assert_eq!(host.idle_instances("kitchen"), 1);
    let metrics = host.metrics("kitchen").unwrap();
    assert_eq!((metrics.cold_starts, metrics.init_duration.count), (1, 1));
    host.invoke("kitchen", echo(&[]), SYNC).await.unwrap();
    let metrics = host.metrics("kitchen").unwrap();
    assert_eq!((metrics.invocations, metrics.cold_starts), (1, 1));
}

#[tokio::test]
async fn dropping_the_host_kills_its_instances() {
    let root = TaskRoot::new();
    let (host, registry) = host(vec![root.config("kitchen")]);
    let outcome = host.invoke("kitchen", echo(&[]), SYNC).await.unwrap();
    let pid = json(&outcome.payload)["pid"].as_u64().unwrap();
    assert!(process_alive(pid));
    drop(host);
    drop(registry);
    wait_until("the instance is killed", Duration::from_secs(5), || {
        !process_alive(pid)
    })
    .await;
}

#[tokio::test]
async fn an_init_over_the_init_limit_is_retried_within_the_function_timeout() {
    let root = TaskRoot::new();
    let slow_init = |name: &str, init_ms: &str, timeout: Duration| {
        let mut config = root.config(name);
        config
            .environment
            .insert("TEST_FUNCTION_INIT_SLEEP_MS".into(), init_ms.into());
        config.timeout = timeout;
        config
    };
    let (host, _) = host_with(
        vec![
            slow_init("recovering", "600", Duration::from_secs(10)),
            slow_init("sluggish", "5000", Duration::from_secs(1)),
        ],
        HostConfig {
            init_timeout: Duration::from_millis(300),
            ..HostConfig::default()
        },
    );
    // Over the 300 ms init limit, then retried with the 10 s timeout: it answers.
    let recovered = host.invoke("recovering", echo(&[]), SYNC).await.unwrap();
    assert_eq!(recovered.function_error, None);

    // Its retried init outlasts the 1 s timeout: a timeout, after about 0.3 + 1 s.
    let started = std::time::Instant::now();
    let outcome = host.invoke("sluggish", echo(&[]), SYNC).await.unwrap();
    let waited = started.elapsed();
    assert!(
        waited >= Duration::from_millis(1300) && waited < Duration::from_secs(4),
        "{waited:?}"
    );
    let error = outcome.error_document().unwrap();
    assert_eq!(error.error_type, "Sandbox.Timedout");
    assert!(
        error
            .error_message
            .ends_with("Task timed out after 1.00 seconds"),
        "{}",
        error.error_message
    );
    wait_until(
        "the instances are gone but one",
        Duration::from_secs(5),
        || host.live_instances() == 1,
    )
    .await;
}

#[tokio::test]
async fn shutdown_kills_busy_instances_and_refuses_further_invocations() {
    let root = TaskRoot::new();
    let (host, _) = host(vec![root.config("kitchen")]);
    let first = host.invoke("kitchen", echo(&[]), SYNC).await.unwrap();
    let pid = json(&first.payload)["pid"].as_u64().unwrap();
    let busy = {
        let host = host.clone();
        tokio::spawn(async move {
            host.invoke(
                "kitchen",
                json!({"action": "sleep", "ms": 10_000}).to_string(),
                SYNC,
            )
            .await
        })
    };
    wait_until("the invocation runs", Duration::from_secs(5), || {
        host.metrics("kitchen").unwrap().concurrent_executions == 1
    })
    .await;
    host.shutdown();
    let error = busy.await.unwrap().unwrap_err();
    assert_eq!(error.error_code(), "ServiceException");
    wait_until(
        "the busy instance is killed",
        Duration::from_secs(5),
        || !process_alive(pid),
    )
    .await;
    let refused = host.invoke("kitchen", echo(&[]), SYNC).await.unwrap_err();
    assert!(refused.to_string().contains("shut down"), "{refused}");
}

fn base64_of(text: &str) -> String {
    use base64::Engine as _;
    base64::engine::general_purpose::STANDARD.encode(text)
}

#[tokio::test]
async fn a_json_log_format_function_gets_lambdas_platform_records() {
    let root = TaskRoot::new();
    let mut config = root.config("kitchen");
    config.log_format = postoffice_lambda_host::LogFormat::Json;
    let (host, _) = host(vec![config]);
    let cold = host.invoke("kitchen", echo(&[]), SYNC).await.unwrap();
    let warm = host.invoke("kitchen", echo(&[]), SYNC).await.unwrap();

    let log = std::fs::read_to_string(root.log()).unwrap();
    assert!(
        !log.contains("START RequestId"),
        "text records in a JSON log"
    );
    let records: Vec<serde_json::Value> = log
        .lines()
        .filter_map(|line| serde_json::from_str::<serde_json::Value>(line).ok())
        .filter(|record| {
            record["type"]
                .as_str()
                .is_some_and(|t| t.starts_with("platform."))
        })
        .collect();
    let types: Vec<&str> = records
        .iter()
        .map(|r| r["type"].as_str().unwrap())
        .collect();
    assert_eq!(
        types,
        [
            "platform.initStart",
            "platform.start",
            "platform.report",
            "platform.start",
            "platform.report"
        ]
    );
    assert_eq!(records[1]["record"]["requestId"], cold.request_id.as_str());
    assert_eq!(records[1]["record"]["version"], "$LATEST");
    let cold_report = &records[2]["record"];
    assert_eq!(cold_report["requestId"], cold.request_id.as_str());
    assert_eq!(cold_report["status"], "success");
    assert_eq!(cold_report["metrics"]["memorySizeMB"], 128);
    assert!(cold_report["metrics"]["initDurationMs"].as_f64().unwrap() > 0.0);
    assert!(cold_report["metrics"]["billedDurationMs"].as_u64().unwrap() >= 1);
    let warm_report = &records[4]["record"];
    assert_eq!(warm_report["requestId"], warm.request_id.as_str());
    assert!(warm_report["metrics"].get("initDurationMs").is_none());
}

#[tokio::test]
async fn active_tracing_samples_undecided_requests_and_keeps_a_callers_decision() {
    let root = TaskRoot::new();
    let traced = postoffice_lambda_host::FunctionConfig {
        tracing: postoffice_lambda_host::TracingMode::Active,
        ..root.config("kitchen")
    };
    // A day a second: every request falls in a second of its own, so the reservoir takes each.
    let (host, _) = host_with(
        vec![traced, root.config("plain")],
        HostConfig {
            time_scale: 86_400.0,
            ..HostConfig::default()
        },
    );
    let trace_of = |outcome: &postoffice_lambda_host::InvokeOutcome| {
        json(&outcome.payload)["context"]["xray_trace_id"]
            .as_str()
            .unwrap()
            .to_owned()
    };
    let invoke = |function: &str, header: Option<&str>| {
        let mut request = InvokeRequest::new(function, echo(&[]), SYNC);
        request.trace_header = header.map(str::to_owned);
        let host = host.clone();
        async move { host.invoke_request(request).await.unwrap() }
    };

    let own = trace_of(&invoke("kitchen", None).await);
    assert!(own.ends_with(";Sampled=1"), "{own}");
    let root_id = "1-5759e988-bd862e3fe1be46a994272793";
    let upstream = format!("Root={root_id};Parent=53995c3f42cd8ad8;Sampled=0");
    let continued = trace_of(&invoke("kitchen", Some(&upstream)).await);
    assert!(
        continued.starts_with(&format!("Root={root_id};Parent=")),
        "{continued}"
    );
    assert!(continued.ends_with(";Sampled=0"), "{continued}");
    let sampled_upstream = upstream.replace("Sampled=0", "Sampled=1");
    assert!(trace_of(&invoke("kitchen", Some(&sampled_upstream)).await).ends_with(";Sampled=1"));

    let metrics = host.metrics("kitchen").unwrap();
    assert_eq!(metrics.invocations, 3);
    // Its own sample and the caller's sampled trace are recorded; only the first is new.
    assert_eq!((metrics.traced_invocations, metrics.traces_started), (2, 1));

    // PassThrough never starts a trace.
    let plain = trace_of(&invoke("plain", None).await);
    assert!(plain.ends_with(";Sampled=0"), "{plain}");
    let metrics = host.metrics("plain").unwrap();
    assert_eq!((metrics.traced_invocations, metrics.traces_started), (0, 0));
}
