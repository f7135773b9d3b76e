//! The bridge's log format: structured JSON on stdout, which CloudWatch Logs Insights reads. The
//! endpoint writes one log event and one EMF metric line per request
//! ([`postoffice::endpoint`]).

use tracing_subscriber::filter::Targets;
use tracing_subscriber::fmt::MakeWriter;
use tracing_subscriber::layer::SubscriberExt as _;
use tracing_subscriber::util::SubscriberInitExt as _;

/// JSON logs for Lambda (CloudWatch Logs Insights reads the fields). `RUST_LOG` filters.
pub fn init_logging() {
    json_logs(std::io::stdout, std::env::var("RUST_LOG").ok().as_deref()).init();
}

/// The bridge's log format, written to `writer` (stdout in Lambda; a buffer in tests).
pub fn json_logs<W>(writer: W, rust_log: Option<&str>) -> impl tracing::Subscriber + Send + Sync
where
    W: for<'writer> MakeWriter<'writer> + Send + Sync + 'static,
{
    tracing_subscriber::fmt()
        .json()
        .flatten_event(true)
        .with_current_span(false)
        .with_target(false)
        .without_time()
        .with_max_level(tracing::Level::TRACE)
        .with_writer(writer)
        .finish()
        .with(log_filter(rust_log))
}

/// `RUST_LOG` as `level` or `target=level,...` (default and fallback `info`). A target filter
/// rather than `EnvFilter`, whose span and field matching would bring a regex engine (~0.5 MB)
/// into the binary.
fn log_filter(rust_log: Option<&str>) -> Targets {
    rust_log
        .and_then(|directives| directives.parse().ok())
        .unwrap_or_else(|| Targets::new().with_default(tracing::Level::INFO))
}

#[cfg(test)]
mod tests {
    use super::*;
    use tracing::Level;

    #[test]
    fn rust_log_sets_levels_and_falls_back_to_info() {
        let unset = log_filter(None);
        assert!(unset.would_enable("sns_bridge", &Level::INFO));
        assert!(!unset.would_enable("sns_bridge", &Level::DEBUG));
        let debug = log_filter(Some("debug"));
        assert!(debug.would_enable("sns_bridge", &Level::DEBUG));
        let targeted = log_filter(Some("warn,sns_bridge=trace"));
        assert!(targeted.would_enable("sns_bridge::bridge", &Level::TRACE));
        assert!(!targeted.would_enable("hyper", &Level::INFO));
        let garbage = log_filter(Some("sns_bridge=loud"));
        assert!(garbage.would_enable("sns_bridge", &Level::INFO));
        assert!(!garbage.would_enable("sns_bridge", &Level::DEBUG));
    }
}
