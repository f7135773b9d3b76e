//! A line per handled event, for local runs: end-to-end tests count what the consumer handled.

use std::path::PathBuf;

use postoffice::Envelope;
use tokio::io::AsyncWriteExt;

/// Environment variable naming the file; unset in AWS.
pub const HANDLED_LOG_ENV: &str = "TELEMETRY_LOG_FILE";

pub struct HandledLog {
    path: PathBuf,
}

#[derive(Debug, thiserror::Error)]
#[error("handled-event log {path}: {source}")]
pub struct HandledLogError {
    path: String,
    #[source]
    source: std::io::Error,
}

impl HandledLog {
    pub fn new(path: impl Into<PathBuf>) -> Self {
        Self { path: path.into() }
    }

    /// Appends `{"event", "event_id", "household_id", "device_id", "redriven"}` as one line.
    pub async fn append(&self, envelope: &Envelope, redriven: bool) -> Result<(), HandledLogError> {
        let mut line = serde_json::json!({
            "event": envelope.event,
            "event_id": envelope.event_id,
            "household_id": envelope.household_id,
            "device_id": envelope.device_id,
            "redriven": redriven,
        })
        .to_string();
        line.push('\n');
        let failed = |source| HandledLogError {
            path: self.path.display().to_string(),
            source,
        };
        let mut file = tokio::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&self.path)
            .await
            .map_err(failed)?;
        // One write of the whole line, so concurrent appenders never interleave within a line.
        file.write_all(line.as_bytes()).await.map_err(failed)?;
        file.flush().await.map_err(failed)
    }
}
