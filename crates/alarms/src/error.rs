/// Why an alarm, a datapoint or a setting was refused.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum AlarmError {
    #[error("alarm {alarm:?}: {field}: {message}")]
    InvalidAlarm {
        alarm: String,
        field: &'static str,
        message: String,
    },
    #[error("alarm {alarm:?}: {what} is not supported by the local post office")]
    Unsupported { alarm: String, what: String },
    #[error("datapoint of {metric}: {message}")]
    InvalidDatapoint { metric: String, message: String },
    #[error("period scale {scale}: {message}")]
    InvalidScale { scale: f64, message: String },
}
