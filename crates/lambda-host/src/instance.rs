//! One execution environment: a `bootstrap` process started from the task root with Lambda's
//! environment, its own Runtime API listener, and one invocation at a time
//! ([lifecycle](https://docs.aws.amazon.com/lambda/latest/dg/lambda-runtime-environment.html)).

use std::process::{Command, ExitStatus};
use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::Bytes;
use tokio::sync::watch;

use crate::environment::{instance_environment, log_stream_name};
use crate::function::{FunctionArn, FunctionConfig};
use crate::process::{InstanceProcess, describe_exit};
use crate::runtime_api::{self, Invocation, RuntimeApiChannels, RuntimeEvent};

/// Dropping it kills the process and stops its Runtime API; `on_drop` runs after (the host's
/// instance accounting).
pub(crate) struct Instance {
    pub generation: u64,
    pub started: Instant,
    /// Spawn to first `next`: the init duration, once known.
    pub init_duration: Option<Duration>,
    process: InstanceProcess,
    exit: watch::Receiver<Option<ExitStatus>>,
    channels: RuntimeApiChannels,
    server: tokio::task::JoinHandle<()>,
    on_drop: Option<Box<dyn FnOnce() + Send>>,
}

impl Instance {
    /// The process's peak resident memory (`VmHWM`), what `Max Memory Used` reports; `None`
    /// where /proc does not say.
    pub(crate) fn peak_memory_mb(&self) -> Option<u64> {
        let status =
            std::fs::read_to_string(format!("/proc/{}/status", self.process.pid())).ok()?;
        let kb: u64 = status
            .lines()
            .find_map(|line| line.strip_prefix("VmHWM:"))?
            .trim()
            .trim_end_matches("kB")
            .trim()
            .parse()
            .ok()?;
        Some(kb.div_ceil(1024))
    }
}

impl Drop for Instance {
    fn drop(&mut self) {
        self.process.kill();
        self.server.abort();
        if let Some(on_drop) = self.on_drop.take() {
            on_drop();
        }
    }
}

/// Why an instance could not be started at all.
#[derive(Debug)]
pub(crate) enum StartFailure {
    /// No executable `bootstrap`: Lambda's `Runtime.InvalidEntrypoint`.
    InvalidEntrypoint(String),
    Host(String),
}

/// How one invocation on an instance ended.
#[derive(Debug)]
pub(crate) enum InstanceAnswer {
    Response {
        body: Bytes,
        duration: Duration,
    },
    /// The runtime posted to `/invocation/{id}/error`; the instance stays usable.
    FunctionError {
        error_type: Option<String>,
        body: Bytes,
        duration: Duration,
    },
    /// Killed at the deadline.
    TimedOut {
        duration: Duration,
    },
    /// The process died mid-invocation.
    Exited {
        status: String,
        duration: Duration,
    },
    /// The runtime posted to `/init/error`.
    InitError {
        error_type: Option<String>,
        body: Bytes,
    },
    /// The process died before asking for its first event.
    ExitedDuringInit {
        status: String,
    },
    /// Init took longer than the init limit.
    InitTimedOut {
        limit: Duration,
    },
}

impl InstanceAnswer {
    /// Whether the instance may serve another invocation.
    pub(crate) fn instance_reusable(&self) -> bool {
        matches!(self, Self::Response { .. } | Self::FunctionError { .. })
    }
}

impl Instance {
    /// Starts `bootstrap` in the task root. Init runs in the background; the first invocation
    /// (or [`Instance::wait_initialized`]) waits for it.
    pub(crate) async fn start(
        id: u64,
        generation: u64,
        config: Arc<FunctionConfig>,
        arn: &FunctionArn,
        on_drop: Box<dyn FnOnce() + Send>,
    ) -> Result<Self, StartFailure> {
        let bootstrap = config.code_dir.join("bootstrap");
        if !bootstrap.is_file() {
            on_drop();
            return Err(StartFailure::InvalidEntrypoint(format!(
                "Couldn't find valid bootstrap(s): [{}]",
                bootstrap.display()
            )));
        }
        let (address, server, channels) = match runtime_api::start().await {
            Ok(started) => started,
            Err(error) => {
                on_drop();
                return Err(StartFailure::Host(format!(
                    "binding a Runtime API listener: {error}"
                )));
            }
        };
        let log_stream = log_stream_name(&config.version, chrono::Utc::now());
        let environment = instance_environment(&config, arn, &address.to_string(), &log_stream);
        let mut command = Command::new(&bootstrap);
        command
            .current_dir(&config.code_dir)
            .env_clear()
            .envs(&environment);
        let started = Instant::now();
        let process = match InstanceProcess::spawn(command, &config.log_file) {
            Ok(process) => process,
            Err(error) => {
                server.abort();
                on_drop();
                return Err(match error.kind() {
                    std::io::ErrorKind::PermissionDenied | std::io::ErrorKind::NotFound => {
                        StartFailure::InvalidEntrypoint(format!(
                            "fork/exec {}: {error}",
                            bootstrap.display()
                        ))
                    }
                    _ => StartFailure::Host(format!("starting {}: {error}", bootstrap.display())),
                });
            }
        };
        tracing::debug!(function = %config.name, instance = id, pid = process.pid(), runtime_api = %address, "instance started");
        let exit = process.exit_watch();
        Ok(Self {
            generation,
            started,
            init_duration: None,
            process,
            exit,
            channels,
            server,
            on_drop: Some(on_drop),
        })
    }

    /// Waits for the runtime's first `next` call. `Err` ends the instance.
    pub(crate) async fn wait_initialized(&mut self, limit: Duration) -> Result<(), InstanceAnswer> {
        if self.init_duration.is_some() {
            return Ok(());
        }
        let deadline = tokio::time::Instant::from_std(self.started + limit);
        loop {
            tokio::select! {
                event = self.channels.events.recv() => match event {
                    Some(RuntimeEvent::Initialized { at }) => {
                        self.init_duration = Some(at - self.started);
                        return Ok(());
                    }
                    Some(RuntimeEvent::InitError { error_type, body }) => {
                        return Err(InstanceAnswer::InitError { error_type, body });
                    }
                    Some(_) => {}
                    None => return Err(InstanceAnswer::ExitedDuringInit { status: "the Runtime API stopped".into() }),
                },
                status = exited(&mut self.exit) => {
                    // A runtime may post /init/error and exit at once: prefer its report.
                    if let Ok(RuntimeEvent::InitError { error_type, body }) = self.channels.events.try_recv() {
                        return Err(InstanceAnswer::InitError { error_type, body });
                    }
                    return Err(InstanceAnswer::ExitedDuringInit { status });
                }
                _ = tokio::time::sleep_until(deadline) => {
                    return Err(InstanceAnswer::InitTimedOut { limit });
                }
            }
        }
    }

    /// Runs one invocation: init first when cold, then the event, until the runtime answers,
    /// the process dies or the function's timeout passes (then the process is killed).
    ///
    /// With `init_within_timeout`, init is part of the invocation (Lambda's init retry after
    /// an init over the init limit): `init_limit` is the function's timeout, and what init
    /// used of it is gone for the event.
    pub(crate) async fn invoke(
        &mut self,
        mut invocation: Invocation,
        init_limit: Duration,
        init_within_timeout: bool,
    ) -> InstanceAnswer {
        let request_id = invocation.request_id.clone();
        let configured_timeout = invocation.timeout;
        if let Err(answer) = self.wait_initialized(init_limit).await {
            self.process.kill();
            return answer;
        }
        if init_within_timeout {
            invocation.timeout = invocation.timeout.saturating_sub(self.started.elapsed());
        }
        let timeout = invocation.timeout;
        if self.channels.invocations.send(invocation).await.is_err() {
            return InstanceAnswer::ExitedDuringInit {
                status: "the Runtime API stopped".into(),
            };
        }
        let mut delivered_at: Option<Instant> = None;
        // Until the runtime takes the event, the clock has not started; it still has to come.
        let mut deadline = tokio::time::Instant::now() + timeout + init_limit;
        loop {
            tokio::select! {
                event = self.channels.events.recv() => match event {
                    Some(RuntimeEvent::Delivered { request_id: delivered, at }) if delivered == request_id => {
                        delivered_at = Some(at);
                        deadline = tokio::time::Instant::from_std(at + timeout);
                    }
                    Some(RuntimeEvent::Response { request_id: answered, body }) if answered == request_id => {
                        return InstanceAnswer::Response { body, duration: since(delivered_at) };
                    }
                    Some(RuntimeEvent::Error { request_id: answered, error_type, body }) if answered == request_id => {
                        return InstanceAnswer::FunctionError { error_type, body, duration: since(delivered_at) };
                    }
                    Some(_) => {}
                    None => return InstanceAnswer::Exited { status: "the Runtime API stopped".into(), duration: since(delivered_at) },
                },
                status = exited(&mut self.exit) => {
                    return InstanceAnswer::Exited { status, duration: since(delivered_at) };
                }
                _ = tokio::time::sleep_until(deadline) => {
                    self.process.kill();
                    return InstanceAnswer::TimedOut { duration: configured_timeout };
                }
            }
        }
    }
}

fn since(start: Option<Instant>) -> Duration {
    start.map(|at| at.elapsed()).unwrap_or_default()
}

async fn exited(exit: &mut watch::Receiver<Option<ExitStatus>>) -> String {
    match exit.wait_for(Option::is_some).await {
        Ok(status) => status.as_ref().map(describe_exit).unwrap_or_default(),
        Err(_) => "unknown exit".to_owned(),
    }
}
