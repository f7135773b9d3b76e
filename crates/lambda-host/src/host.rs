//! The in-process Lambda service: instances on demand per function, reused when idle, limited
//! by reserved concurrency and a host-wide instance limit, with Lambda's answers for timeouts,
//! crashes, init errors and throttles
//! ([lifecycle](https://docs.aws.amazon.com/lambda/latest/dg/lambda-runtime-environment.html),
//! [Invoke](https://docs.aws.amazon.com/lambda/latest/api/API_Invoke.html)).

use std::collections::{BTreeMap, HashMap};
use std::io::Write as _;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as BASE64;
use bytes::Bytes;
use tokio::sync::watch;

use crate::error::LambdaHostError;
use crate::function::{FunctionArn, FunctionConfig, FunctionRef, FunctionRegistry};
use crate::function_url::{self, UrlContext};
use crate::instance::{Instance, InstanceAnswer, StartFailure};
use crate::invoke::{
    ErrorDocument, InvocationType, InvokeOutcome, InvokeRequest, MAX_SYNC_PAYLOAD_BYTES,
    ThrottleReason,
};
use crate::metrics::{FunctionMetrics, InvocationRecord, billed_ms};
use crate::runtime_api::Invocation;
use crate::system_log::{self, InvocationStatus, Report};
use crate::xray;

/// The host's limits.
#[derive(Debug, Clone)]
pub struct HostConfig {
    /// Instances alive at once across all functions (Lambda's account concurrency). Idle
    /// instances of other functions are stopped to make room; when every instance is busy,
    /// invocations are throttled (`ConcurrentInvocationLimitExceeded`). Default: 4 per core
    /// (8 on a 2-core machine): Rust instances mostly wait on I/O and take a few MB each.
    pub max_instances: usize,
    /// Idle instances kept warm per function; [`LambdaHost::prewarm`] starts this many.
    /// Default 1.
    pub idle_instances_per_function: usize,
    /// Time an instance may take from process start to its first `next` call. Default 10 s,
    /// Lambda's init phase limit for on-demand functions.
    pub init_timeout: Duration,
    /// Delays before the retries of an `Event` invocation that failed. Default: one minute,
    /// then two, as Lambda's asynchronous invocation retries.
    pub async_retry_delays: Vec<Duration>,
    /// Wait before an `Event` invocation that was throttled is tried again. Default 1 s.
    pub async_throttle_backoff: Duration,
    /// How long a throttled `Event` invocation keeps being retried. Default 6 hours.
    pub async_max_event_age: Duration,
    /// Simulated seconds per real second: X-Ray's reservoir of one sampled request a second
    /// counts simulated seconds. Default 1.
    pub time_scale: f64,
}

impl Default for HostConfig {
    fn default() -> Self {
        let cores = std::thread::available_parallelism().map_or(2, |n| n.get());
        Self {
            max_instances: (4 * cores).max(4),
            idle_instances_per_function: 1,
            init_timeout: Duration::from_secs(10),
            async_retry_delays: vec![Duration::from_secs(60), Duration::from_secs(120)],
            async_throttle_backoff: Duration::from_secs(1),
            async_max_event_age: Duration::from_secs(6 * 3600),
            time_scale: 1.0,
        }
    }
}

/// The Lambda host. Clones share it; when the last clone is dropped (or on [`LambdaHost::shutdown`])
/// every instance process is killed.
#[derive(Clone)]
pub struct LambdaHost {
    inner: Arc<HostInner>,
    _owners: Arc<Owners>,
}

/// Counts the embedder's handles only: the host's own tasks (an `Event` invocation waiting for
/// its retry) hold `HostInner`, and must not keep instances alive once the embedder let go.
struct Owners(Arc<HostInner>);

impl Drop for Owners {
    fn drop(&mut self) {
        self.0.shutdown();
    }
}

struct HostInner {
    registry: Arc<dyn FunctionRegistry>,
    config: HostConfig,
    state: Mutex<HostState>,
    live_instances: Arc<AtomicUsize>,
    next_instance_id: AtomicU64,
    shut_down: AtomicBool,
    shutdown_signal: watch::Sender<bool>,
    started: Instant,
}

#[derive(Default)]
struct HostState {
    /// By unqualified function ARN.
    pools: HashMap<String, FunctionPool>,
}

struct FunctionPool {
    config: Arc<FunctionConfig>,
    /// Bumped whenever the configuration changes; instances of older generations retire.
    generation: u64,
    idle: Vec<Instance>,
    busy: u32,
    metrics: FunctionMetrics,
    sampler: xray::Sampler,
}

/// What `acquire` hands out: a warm instance, or the right to start one.
struct Lease {
    key: String,
    generation: u64,
    warm: Option<Instance>,
    _busy: BusySlot,
}

/// One concurrent execution of a function, counted until dropped.
struct BusySlot {
    inner: Arc<HostInner>,
    key: String,
}

impl Drop for BusySlot {
    fn drop(&mut self) {
        if let Some(pool) = self.inner.lock_state().pools.get_mut(&self.key) {
            pool.busy = pool.busy.saturating_sub(1);
            pool.metrics.finished();
        }
    }
}

impl LambdaHost {
    pub fn new(registry: Arc<dyn FunctionRegistry>, config: HostConfig) -> Self {
        let (shutdown_signal, _) = watch::channel(false);
        let inner = Arc::new(HostInner {
            registry,
            config,
            state: Mutex::new(HostState::default()),
            live_instances: Arc::new(AtomicUsize::new(0)),
            next_instance_id: AtomicU64::new(1),
            shut_down: AtomicBool::new(false),
            shutdown_signal,
            started: Instant::now(),
        });
        Self {
            _owners: Arc::new(Owners(inner.clone())),
            inner,
        }
    }

    pub fn config(&self) -> &HostConfig {
        &self.inner.config
    }

    /// Invokes `function` (name, ARN or partial ARN) with `payload`.
    pub async fn invoke(
        &self,
        function: &str,
        payload: impl Into<Bytes>,
        invocation_type: InvocationType,
    ) -> Result<InvokeOutcome, LambdaHostError> {
        self.invoke_request(InvokeRequest::new(function, payload, invocation_type))
            .await
    }

    /// Invokes with everything the Invoke API takes (qualifier, client context).
    pub async fn invoke_request(
        &self,
        request: InvokeRequest,
    ) -> Result<InvokeOutcome, LambdaHostError> {
        let reference = FunctionRef::parse(&request.function, request.qualifier.as_deref())?;
        let (config, arn) = self.inner.resolve(&reference, &request.function)?;
        let limit = request.invocation_type.max_payload_bytes();
        if request.payload.len() > limit {
            return Err(LambdaHostError::RequestTooLarge {
                size: request.payload.len(),
                limit,
                invocation_type: request.invocation_type,
            });
        }
        if !request.payload.is_empty()
            && let Err(error) = serde_json::from_slice::<serde::de::IgnoredAny>(&request.payload)
        {
            return Err(LambdaHostError::InvalidRequestContent(format!(
                "Could not parse request body into json: {error}"
            )));
        }
        let client_context = request
            .client_context
            .as_deref()
            .map(decode_client_context)
            .transpose()?;
        let request_id = uuid::Uuid::new_v4().to_string();
        let invoked_arn = match &reference.qualifier {
            Some(qualifier) => format!("{}:{qualifier}", config.arn),
            None => config.arn.clone(),
        };
        let run = InvocationRun {
            config,
            arn,
            invoked_arn,
            request_id: request_id.clone(),
            payload: request.payload,
            client_context,
            log_tail: request.log_tail,
            trace_header: request.trace_header,
        };
        match request.invocation_type {
            InvocationType::DryRun => Ok(InvokeOutcome {
                status: 204,
                function_error: None,
                executed_version: None,
                payload: Bytes::new(),
                request_id,
                log_result: None,
            }),
            InvocationType::Event => {
                // Lambda passes the client context to synchronous invocations only.
                let run = InvocationRun {
                    client_context: None,
                    log_tail: false,
                    ..run
                };
                let inner = self.inner.clone();
                tokio::spawn(async move { inner.run_event(run, reference).await });
                Ok(InvokeOutcome {
                    status: 202,
                    function_error: None,
                    executed_version: None,
                    payload: Bytes::new(),
                    request_id,
                    log_result: None,
                })
            }
            InvocationType::RequestResponse => self.inner.clone().run_detached(run).await,
        }
    }

    /// Invokes the function behind function URL `url_id` with an HTTP request, and answers as
    /// the function URL would. Authorisation is the caller's, before this.
    pub async fn invoke_url(
        &self,
        url_id: &str,
        request: http::Request<Bytes>,
    ) -> http::Response<Bytes> {
        use http::StatusCode;
        let Some(config) = self.inner.registry.function_by_url_id(url_id) else {
            return function_url::plain_response(StatusCode::NOT_FOUND, "Not Found");
        };
        let arn = match self.inner.check(&config) {
            Ok(arn) => arn,
            Err(error) => {
                tracing::warn!(url_id, %error, "function URL of a function that cannot run");
                return function_url::plain_response(
                    StatusCode::BAD_GATEWAY,
                    "Internal Server Error",
                );
            }
        };
        if request.body().len() > MAX_SYNC_PAYLOAD_BYTES {
            return function_url::plain_response(
                StatusCode::PAYLOAD_TOO_LARGE,
                "Request Entity Too Large",
            );
        }
        let request_id = uuid::Uuid::new_v4().to_string();
        let event = function_url::request_event(
            &UrlContext {
                url_id,
                region: &arn.region,
                account_id: &arn.account,
                request_id: &request_id,
                now: chrono::Utc::now(),
            },
            &request,
        );
        let payload = Bytes::from(serde_json::to_vec(&event).unwrap_or_default());
        if payload.len() > MAX_SYNC_PAYLOAD_BYTES {
            return function_url::plain_response(
                StatusCode::PAYLOAD_TOO_LARGE,
                "Request Entity Too Large",
            );
        }
        let run = InvocationRun {
            invoked_arn: config.arn.clone(),
            config: Arc::new(config),
            arn,
            request_id,
            payload,
            client_context: None,
            log_tail: false,
            trace_header: request
                .headers()
                .get("x-amzn-trace-id")
                .and_then(|value| value.to_str().ok())
                .map(str::to_owned),
        };
        match self.inner.clone().run_detached(run).await {
            Ok(outcome) if outcome.function_error.is_some() => {
                function_url::function_error_response()
            }
            Ok(outcome) => {
                function_url::response_from_answer(&outcome.payload).unwrap_or_else(|error| {
                    tracing::warn!(url_id, reason = %error.0, "function URL answer is malformed");
                    function_url::function_error_response()
                })
            }
            Err(LambdaHostError::TooManyRequests { .. }) => {
                function_url::plain_response(StatusCode::TOO_MANY_REQUESTS, "Rate Exceeded.")
            }
            Err(error) => function_url::plain_response(
                StatusCode::from_u16(error.status()).unwrap_or(StatusCode::BAD_GATEWAY),
                &error.to_string(),
            ),
        }
    }

    /// Starts instances of `function` until it has its warm idle instances (or the host its
    /// instance limit); answers how many were started. Fails when an instance fails its init.
    pub async fn prewarm(&self, function: &str) -> Result<usize, LambdaHostError> {
        let reference = FunctionRef::parse(function, None)?;
        let (config, arn) = self.inner.resolve(&reference, function)?;
        let mut started = 0;
        loop {
            let (key, generation) = {
                let mut state = self.inner.lock_state();
                let pool = self.inner.pool(&mut state, &config);
                if pool.idle.len() >= self.inner.config.idle_instances_per_function
                    || !self.inner.reserve_instance_slot()
                {
                    return Ok(started);
                }
                (config.arn.clone(), pool.generation)
            };
            let mut instance = match self.inner.start_instance(&config, &arn, generation).await {
                Ok(instance) => instance,
                Err(StartFailure::InvalidEntrypoint(detail) | StartFailure::Host(detail)) => {
                    return Err(LambdaHostError::Service(format!("{function}: {detail}")));
                }
            };
            if let Err(answer) = instance
                .wait_initialized(self.inner.config.init_timeout)
                .await
            {
                return Err(LambdaHostError::Service(format!(
                    "{function} failed its init: {}",
                    describe_init_failure(&answer)
                )));
            }
            let init = instance.init_duration.unwrap_or_default();
            {
                let mut state = self.inner.lock_state();
                if let Some(pool) = state.pools.get_mut(&key) {
                    pool.metrics.cold_starts += 1;
                    pool.metrics.init_duration.record(init);
                    pool.metrics.billed_duration_ms += billed_ms(init);
                    pool.metrics.gb_seconds +=
                        f64::from(config.memory_mb) / 1024.0 * billed_ms(init) as f64 / 1000.0;
                }
            }
            self.inner.release(&key, instance);
            started += 1;
        }
    }

    /// The metrics of the function named `name`.
    pub fn metrics(&self, name: &str) -> Option<FunctionMetrics> {
        self.inner
            .lock_state()
            .pools
            .values()
            .find(|pool| pool.config.name == name)
            .map(|pool| pool.metrics.clone())
    }

    /// Every function's metrics, by name.
    pub fn all_metrics(&self) -> BTreeMap<String, FunctionMetrics> {
        self.inner
            .lock_state()
            .pools
            .values()
            .map(|pool| (pool.config.name.clone(), pool.metrics.clone()))
            .collect()
    }

    /// Instance processes alive now (busy, idle or starting).
    pub fn live_instances(&self) -> usize {
        self.inner.live_instances.load(Ordering::SeqCst)
    }

    /// Idle instances of the function named `name`.
    pub fn idle_instances(&self, name: &str) -> usize {
        self.inner
            .lock_state()
            .pools
            .values()
            .find(|pool| pool.config.name == name)
            .map_or(0, |pool| pool.idle.len())
    }

    /// Kills every instance now, busy ones included (their callers get a `ServiceException`),
    /// and refuses further invocations.
    pub fn shutdown(&self) {
        self.inner.shutdown();
    }
}

impl Drop for HostInner {
    fn drop(&mut self) {
        self.shutdown();
    }
}

/// Everything one invocation needs once the request is accepted.
#[derive(Clone)]
struct InvocationRun {
    config: Arc<FunctionConfig>,
    arn: FunctionArn,
    invoked_arn: String,
    request_id: String,
    payload: Bytes,
    client_context: Option<String>,
    log_tail: bool,
    trace_header: Option<String>,
}

impl HostInner {
    fn lock_state(&self) -> MutexGuard<'_, HostState> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn shutdown(&self) {
        self.shut_down.store(true, Ordering::SeqCst);
        self.shutdown_signal.send_replace(true);
        let idle: Vec<Instance> = self
            .lock_state()
            .pools
            .values_mut()
            .flat_map(|pool| pool.idle.drain(..))
            .collect();
        drop(idle);
    }

    fn resolve(
        &self,
        reference: &FunctionRef,
        as_given: &str,
    ) -> Result<(Arc<FunctionConfig>, FunctionArn), LambdaHostError> {
        let not_found = || LambdaHostError::FunctionNotFound {
            function: match &reference.qualifier {
                Some(qualifier) if !as_given.ends_with(&format!(":{qualifier}")) => {
                    format!("{as_given}:{qualifier}")
                }
                _ => as_given.to_owned(),
            },
        };
        let config = self.registry.function(reference).ok_or_else(not_found)?;
        if !reference.matches(&config) {
            return Err(not_found());
        }
        let arn = self.check(&config)?;
        Ok((Arc::new(config), arn))
    }

    /// Whether the host can run `config`.
    fn check(&self, config: &FunctionConfig) -> Result<FunctionArn, LambdaHostError> {
        if self.shut_down.load(Ordering::SeqCst) {
            return Err(LambdaHostError::Service(
                "the Lambda host has shut down".into(),
            ));
        }
        let arn = config.validate()?;
        if !config.runtime.starts_with("provided") {
            return Err(LambdaHostError::UnsupportedRuntime {
                function: config.name.clone(),
                runtime: config.runtime.clone(),
            });
        }
        Ok(arn)
    }

    /// The function's pool, switched to `config` (a new generation) when it changed.
    fn pool<'s>(
        &self,
        state: &'s mut HostState,
        config: &Arc<FunctionConfig>,
    ) -> &'s mut FunctionPool {
        let pool = state
            .pools
            .entry(config.arn.clone())
            .or_insert_with(|| FunctionPool {
                config: config.clone(),
                generation: 0,
                idle: Vec::new(),
                busy: 0,
                metrics: FunctionMetrics::default(),
                sampler: xray::Sampler::default(),
            });
        if pool.config != *config {
            pool.generation += 1;
            pool.config = config.clone();
            // Idle instances run the old configuration or code: they retire now. Busy ones
            // retire when they finish.
            pool.idle.clear();
        }
        pool
    }

    fn reserve_instance_slot(&self) -> bool {
        self.live_instances
            .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |live| {
                (live < self.config.max_instances).then_some(live + 1)
            })
            .is_ok()
    }

    /// A warm instance or the right to start one, or the throttle Lambda would answer.
    fn acquire(self: &Arc<Self>, config: &Arc<FunctionConfig>) -> Result<Lease, LambdaHostError> {
        let mut state = self.lock_state();
        let pool = self.pool(&mut state, config);
        let generation = pool.generation;
        if config
            .reserved_concurrency
            .is_some_and(|reserved| pool.busy >= reserved)
        {
            pool.metrics.throttles += 1;
            return Err(LambdaHostError::TooManyRequests {
                reason: ThrottleReason::ReservedFunctionConcurrentInvocationLimitExceeded,
            });
        }
        let warm = pool.idle.pop();
        if warm.is_none() && !self.reserve_instance_slot() {
            // Make room by stopping an idle instance of another function.
            let victim = state
                .pools
                .values_mut()
                .filter(|other| !other.idle.is_empty())
                .max_by_key(|other| other.idle.len())
                .and_then(|other| other.idle.pop());
            let made_room = victim.is_some();
            drop(victim);
            if !made_room || !self.reserve_instance_slot() {
                if let Some(pool) = state.pools.get_mut(&config.arn) {
                    pool.metrics.throttles += 1;
                }
                return Err(LambdaHostError::TooManyRequests {
                    reason: ThrottleReason::ConcurrentInvocationLimitExceeded,
                });
            }
        }
        let pool = state
            .pools
            .get_mut(&config.arn)
            .expect("the pool was just created");
        pool.busy += 1;
        pool.metrics.started();
        Ok(Lease {
            key: config.arn.clone(),
            generation,
            warm,
            _busy: BusySlot {
                inner: self.clone(),
                key: config.arn.clone(),
            },
        })
    }

    /// Starts an instance in a slot already reserved.
    async fn start_instance(
        &self,
        config: &Arc<FunctionConfig>,
        arn: &FunctionArn,
        generation: u64,
    ) -> Result<Instance, StartFailure> {
        let live = self.live_instances.clone();
        let on_drop = Box::new(move || {
            live.fetch_sub(1, Ordering::SeqCst);
        });
        let id = self.next_instance_id.fetch_add(1, Ordering::SeqCst);
        Instance::start(id, generation, config.clone(), arn, on_drop).await
    }

    /// Returns an instance after an invocation: kept warm if its configuration is current
    /// and the function has room for another idle instance, stopped otherwise.
    fn release(&self, key: &str, instance: Instance) {
        let mut state = self.lock_state();
        let keep = !self.shut_down.load(Ordering::SeqCst)
            && state.pools.get(key).is_some_and(|pool| {
                pool.generation == instance.generation
                    && pool.idle.len() < self.config.idle_instances_per_function
            });
        if keep {
            if let Some(pool) = state.pools.get_mut(key) {
                pool.idle.push(instance);
            }
        } else {
            drop(state);
            drop(instance);
        }
    }

    /// Runs the invocation in its own task, so a caller that goes away does not cut it short
    /// (Lambda finishes an invocation whose client disconnected).
    async fn run_detached(
        self: Arc<Self>,
        run: InvocationRun,
    ) -> Result<InvokeOutcome, LambdaHostError> {
        tokio::spawn(async move { self.run(run).await })
            .await
            .map_err(|e| LambdaHostError::Service(format!("the invocation task failed: {e}")))?
    }

    async fn run_event(self: Arc<Self>, run: InvocationRun, reference: FunctionRef) {
        let started = Instant::now();
        let retry_delays = self.config.async_retry_delays.clone();
        let mut retries = retry_delays.iter();
        let mut run = run;
        loop {
            if self.shut_down.load(Ordering::SeqCst) {
                return;
            }
            let delay = match self.clone().run(run.clone()).await {
                Ok(outcome) if outcome.function_error.is_none() => return,
                Err(LambdaHostError::TooManyRequests { .. })
                    if started.elapsed() < self.config.async_max_event_age =>
                {
                    Some(self.config.async_throttle_backoff)
                }
                Ok(_) => retries.next().copied(),
                Err(_) => None,
            };
            let Some(delay) = delay else {
                tracing::warn!(function = %run.config.name, request_id = %run.request_id, "asynchronous event dropped after its retries");
                if let Some(pool) = self.lock_state().pools.get_mut(&run.config.arn) {
                    pool.metrics.async_events_dropped += 1;
                }
                return;
            };
            let mut shutdown = self.shutdown_signal.subscribe();
            tokio::select! {
                _ = tokio::time::sleep(delay) => {}
                _ = shutdown.wait_for(|down| *down) => return,
            }
            // A retry runs the function as it is configured then.
            if let Some(config) = self.registry.function(&reference)
                && let Ok(arn) = self.check(&config)
            {
                run.config = Arc::new(config);
                run.arn = arn;
            }
        }
    }

    async fn run(self: Arc<Self>, run: InvocationRun) -> Result<InvokeOutcome, LambdaHostError> {
        let mut lease = self.acquire(&run.config)?;
        let config = run.config.clone();
        let invoke_started = Instant::now();
        let (mut instance, cold) = match lease.warm.take() {
            Some(instance) => (instance, false),
            None => match self
                .start_instance(&config, &run.arn, lease.generation)
                .await
            {
                Ok(instance) => (instance, true),
                Err(StartFailure::InvalidEntrypoint(detail)) => {
                    let document = ErrorDocument::invalid_entrypoint(&run.request_id, &detail);
                    self.record(
                        &lease.key,
                        &config,
                        Duration::ZERO,
                        Some(invoke_started.elapsed()),
                        true,
                        false,
                    );
                    return Ok(self.failed(&config, &run.request_id, document));
                }
                Err(StartFailure::Host(detail)) => return Err(LambdaHostError::Service(detail)),
            },
        };
        let log_start = run.log_tail.then(|| log_length(&config));
        let mut opening = String::new();
        if cold {
            opening.push_str(&system_log::init_start(
                config.log_format,
                &config.name,
                &config.version,
            ));
        }
        opening.push_str(&system_log::start(
            config.log_format,
            &run.request_id,
            &config.version,
        ));
        append_log(&config, &opening);
        let trace_id = self.trace(&run);
        let invocation = Invocation {
            request_id: run.request_id.clone(),
            payload: run.payload,
            timeout: config.timeout,
            invoked_function_arn: run.invoked_arn,
            trace_id,
            client_context: run.client_context,
        };
        let mut shutdown = self.shutdown_signal.subscribe();
        let mut answer = tokio::select! {
            answer = instance.invoke(invocation.clone(), self.config.init_timeout, false) => answer,
            _ = shutdown.wait_for(|down| *down) => {
                return Err(LambdaHostError::Service("the Lambda host has shut down".into()));
            }
        };
        // An init over the init limit is retried as part of the invocation, within the
        // function's timeout ([lifecycle](https://docs.aws.amazon.com/lambda/latest/dg/lambda-runtime-environment.html)).
        if cold && matches!(answer, InstanceAnswer::InitTimedOut { .. }) {
            drop(instance);
            if !self.reserve_instance_slot() {
                return Err(LambdaHostError::TooManyRequests {
                    reason: ThrottleReason::ConcurrentInvocationLimitExceeded,
                });
            }
            instance = match self
                .start_instance(&config, &run.arn, lease.generation)
                .await
            {
                Ok(instance) => instance,
                Err(StartFailure::InvalidEntrypoint(detail) | StartFailure::Host(detail)) => {
                    return Err(LambdaHostError::Service(detail));
                }
            };
            answer = tokio::select! {
                answer = instance.invoke(invocation, config.timeout, true) => answer,
                _ = shutdown.wait_for(|down| *down) => {
                    return Err(LambdaHostError::Service("the Lambda host has shut down".into()));
                }
            };
        }
        let init_duration = if cold {
            Some(
                instance
                    .init_duration
                    .unwrap_or_else(|| invoke_started.elapsed()),
            )
        } else {
            None
        };
        let reusable = answer.instance_reusable();
        let request_id = run.request_id;
        let (outcome, duration, timed_out) = match answer {
            InstanceAnswer::Response { body, duration } if body.len() > MAX_SYNC_PAYLOAD_BYTES => (
                self.failed(
                    &config,
                    &request_id,
                    ErrorDocument::response_too_large(body.len()),
                ),
                duration,
                false,
            ),
            InstanceAnswer::Response { body, duration } => (
                InvokeOutcome {
                    status: 200,
                    function_error: None,
                    executed_version: Some(config.version.clone()),
                    payload: body,
                    request_id: request_id.clone(),
                    log_result: None,
                },
                duration,
                false,
            ),
            InstanceAnswer::FunctionError {
                error_type,
                body,
                duration,
            } => {
                let payload = if serde_json::from_slice::<serde_json::Value>(&body).is_ok() {
                    body
                } else {
                    ErrorDocument {
                        error_type: error_type.unwrap_or_else(|| "Runtime.Unknown".into()),
                        error_message: String::from_utf8_lossy(&body).into_owned(),
                    }
                    .to_bytes()
                };
                (
                    self.failed_with(&config, &request_id, payload),
                    duration,
                    false,
                )
            }
            InstanceAnswer::TimedOut { duration } => {
                append_log(
                    &config,
                    &format!(
                        "{} {request_id} Task timed out after {:.2} seconds\n",
                        chrono::Utc::now().format("%Y-%m-%dT%H:%M:%S%.3fZ"),
                        config.timeout.as_secs_f64()
                    ),
                );
                (
                    self.failed(
                        &config,
                        &request_id,
                        ErrorDocument::timed_out(&request_id, config.timeout),
                    ),
                    duration,
                    true,
                )
            }
            InstanceAnswer::Exited { status, duration } => (
                self.failed(
                    &config,
                    &request_id,
                    ErrorDocument::exited(&request_id, &status),
                ),
                duration,
                false,
            ),
            InstanceAnswer::ExitedDuringInit { status } => (
                self.failed(
                    &config,
                    &request_id,
                    ErrorDocument::exited(&request_id, &status),
                ),
                Duration::ZERO,
                false,
            ),
            InstanceAnswer::InitError { error_type, body } => {
                let payload = init_error_document(error_type, &body);
                (
                    self.failed_with(&config, &request_id, payload),
                    Duration::ZERO,
                    false,
                )
            }
            InstanceAnswer::InitTimedOut { limit } => (
                self.failed(
                    &config,
                    &request_id,
                    ErrorDocument::timed_out(&request_id, limit),
                ),
                Duration::ZERO,
                true,
            ),
        };
        let function_error = outcome.function_error.is_some();
        self.record(
            &lease.key,
            &config,
            duration,
            init_duration,
            function_error,
            timed_out,
        );
        let status = if timed_out {
            InvocationStatus::Timeout
        } else if function_error {
            InvocationStatus::Error
        } else {
            InvocationStatus::Success
        };
        append_log(
            &config,
            &system_log::report(
                config.log_format,
                &Report {
                    request_id: &request_id,
                    duration,
                    init_duration,
                    memory_mb: config.memory_mb,
                    max_memory_used_mb: instance.peak_memory_mb(),
                    status,
                },
            ),
        );
        let mut outcome = outcome;
        outcome.log_result = log_start.map(|start| log_tail_since(&config, start));
        if reusable {
            self.release(&lease.key, instance);
        } else {
            drop(instance);
        }
        Ok(outcome)
    }

    fn failed(
        &self,
        config: &FunctionConfig,
        request_id: &str,
        document: ErrorDocument,
    ) -> InvokeOutcome {
        self.failed_with(config, request_id, document.to_bytes())
    }

    fn failed_with(
        &self,
        config: &FunctionConfig,
        request_id: &str,
        payload: Bytes,
    ) -> InvokeOutcome {
        InvokeOutcome {
            status: 200,
            function_error: Some("Unhandled".into()),
            executed_version: Some(config.version.clone()),
            payload,
            request_id: request_id.to_owned(),
            log_result: None,
        }
    }

    /// The invocation's trace header (`Lambda-Runtime-Trace-Id`), counted in the function's
    /// metrics when X-Ray records it.
    fn trace(&self, run: &InvocationRun) -> String {
        let scaled = self.started.elapsed().as_secs_f64() * self.config.time_scale;
        let at = Duration::try_from_secs_f64(scaled).unwrap_or(Duration::MAX);
        let mut state = self.lock_state();
        let Some(pool) = state.pools.get_mut(&run.config.arn) else {
            return xray::decide(run.config.tracing, run.trace_header.as_deref(), || false).header;
        };
        let decision = xray::decide(run.config.tracing, run.trace_header.as_deref(), || {
            pool.sampler.sample(at, fastrand::f64())
        });
        pool.metrics.traced_invocations += u64::from(decision.sampled);
        pool.metrics.traces_started += u64::from(decision.starts_trace);
        decision.header
    }

    fn record(
        &self,
        key: &str,
        config: &FunctionConfig,
        duration: Duration,
        init_duration: Option<Duration>,
        function_error: bool,
        timed_out: bool,
    ) {
        if let Some(pool) = self.lock_state().pools.get_mut(key) {
            pool.metrics.record_invocation(InvocationRecord {
                duration,
                init_duration,
                function_error,
                timed_out,
                memory_mb: config.memory_mb,
            });
        }
    }
}

/// What an init error answers: the runtime's own `{"errorType", "errorMessage"}` when it sent
/// one, else one built from the `Lambda-Runtime-Function-Error-Type` header.
fn init_error_document(error_type: Option<String>, body: &Bytes) -> Bytes {
    match serde_json::from_slice::<ErrorDocument>(body) {
        Ok(document) if !document.error_type.is_empty() => document.to_bytes(),
        _ => ErrorDocument {
            error_type: error_type.unwrap_or_else(|| "Runtime.Unknown".into()),
            error_message: String::from_utf8_lossy(body).into_owned(),
        }
        .to_bytes(),
    }
}

fn describe_init_failure(answer: &InstanceAnswer) -> String {
    match answer {
        InstanceAnswer::InitError { error_type, body } => {
            String::from_utf8_lossy(&init_error_document(error_type.clone(), body)).into_owned()
        }
        InstanceAnswer::ExitedDuringInit { status } => {
            format!("Runtime exited with error: {status}")
        }
        InstanceAnswer::InitTimedOut { limit } => format!("init took longer than {limit:?}"),
        other => format!("{other:?}"),
    }
}

fn decode_client_context(encoded: &str) -> Result<String, LambdaHostError> {
    const MAX_CLIENT_CONTEXT_BYTES: usize = 3583;
    let invalid = |why: &str| LambdaHostError::invalid("X-Amz-Client-Context", why.to_owned());
    let decoded = BASE64
        .decode(encoded)
        .map_err(|_| invalid("Client context must be a valid Base64-encoded JSON object."))?;
    if decoded.len() > MAX_CLIENT_CONTEXT_BYTES {
        return Err(invalid(
            "Client context must be at most 3583 bytes once decoded.",
        ));
    }
    match serde_json::from_slice::<serde_json::Value>(&decoded) {
        Ok(serde_json::Value::Object(_)) => Ok(String::from_utf8(decoded).expect("JSON is UTF-8")),
        _ => Err(invalid(
            "Client context must be a valid Base64-encoded JSON object.",
        )),
    }
}

/// What Invoke returns of the log: the last 4 KB.
const LOG_RESULT_BYTES: u64 = 4 * 1024;

fn log_length(config: &FunctionConfig) -> u64 {
    std::fs::metadata(&config.log_file).map_or(0, |m| m.len())
}

/// Base64 of the last 4 KB appended to the log since `start`.
fn log_tail_since(config: &FunctionConfig, start: u64) -> String {
    use std::io::{Read as _, Seek as _};
    let mut tail = Vec::new();
    if let Ok(mut file) = std::fs::File::open(&config.log_file) {
        let end = file.metadata().map_or(start, |m| m.len());
        let from = start.max(end.saturating_sub(LOG_RESULT_BYTES));
        if file.seek(std::io::SeekFrom::Start(from)).is_ok() {
            let _ = file.take(end - from).read_to_end(&mut tail);
        }
    }
    BASE64.encode(tail)
}

fn append_log(config: &FunctionConfig, text: &str) {
    let written = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(&config.log_file)
        .and_then(|mut file| file.write_all(text.as_bytes()));
    if let Err(error) = written {
        tracing::warn!(function = %config.name, log = %config.log_file.display(), %error, "cannot append to the function log");
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn client_context_must_be_base64_of_a_json_object() {
        let encoded = BASE64.encode(r#"{"custom":{"k":"v"}}"#);
        assert_eq!(
            decode_client_context(&encoded).unwrap(),
            r#"{"custom":{"k":"v"}}"#
        );
        for bad in [
            "%%%",
            &BASE64.encode("[1]"),
            &BASE64.encode("x".repeat(4000)),
        ] {
            let error = decode_client_context(bad).unwrap_err();
            assert!(
                error.to_string().starts_with("X-Amz-Client-Context"),
                "{error}"
            );
        }
    }

    #[test]
    fn init_errors_keep_the_runtimes_document_or_build_one() {
        let kept = init_error_document(
            Some("Runtime.Other".into()),
            &Bytes::from_static(br#"{"errorType":"Config.Missing","errorMessage":"no table"}"#),
        );
        assert_eq!(
            kept.as_ref(),
            br#"{"errorType":"Config.Missing","errorMessage":"no table"}"#
        );
        let built = init_error_document(
            Some("Runtime.NoSuchHandler".into()),
            &Bytes::from_static(b"boom"),
        );
        let document: ErrorDocument = serde_json::from_slice(&built).unwrap();
        assert_eq!(document.error_type, "Runtime.NoSuchHandler");
        assert_eq!(document.error_message, "boom");
    }
}
