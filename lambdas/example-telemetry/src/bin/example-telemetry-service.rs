use example_telemetry::{HANDLED_LOG_ENV, HandledLog, Telemetry};

/// The same handler as an HTTP service (`compute = "container"`).
#[tokio::main]
async fn main() -> Result<(), postoffice::handler::StartupError> {
    postoffice::handler::init_tracing();
    let handled_log = std::env::var_os(HANDLED_LOG_ENV)
        .filter(|path| !path.is_empty())
        .map(HandledLog::new);
    postoffice::handler::serve(Telemetry::new(handled_log)).await
}
