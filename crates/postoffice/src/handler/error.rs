//! What a handler returns when it cannot finish, and whether trying again may help.

use std::fmt;

use crate::invocation::{ERROR_TYPE_NON_RETRYABLE, ERROR_TYPE_RETRYABLE};

/// Whether a failed event is worth delivering again.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ErrorKind {
    /// Something outside the event failed (a store, a service, the network): SNS retries it,
    /// then dead-letters it when retries run out.
    Retryable,
    /// The event itself can never succeed (bad payload, broken business rule): straight to the
    /// consumer's dead-letter queue, where `postoffice dlq redrive` can republish it.
    Permanent,
}

impl ErrorKind {
    /// The Lambda `errorType` the bridge classifies (see [`crate::invocation`]).
    pub fn error_type(self) -> &'static str {
        match self {
            ErrorKind::Retryable => ERROR_TYPE_RETRYABLE,
            ErrorKind::Permanent => ERROR_TYPE_NON_RETRYABLE,
        }
    }
}

/// A handler failure. Any `std::error::Error` converts into a **retryable** one with `?`; say
/// [`HandlerError::permanent`] (or [`Permanent::permanent`] on a `Result`) when retrying cannot
/// help.
///
/// It deliberately does not implement `std::error::Error` itself, so that the blanket
/// conversion from every error type can exist.
pub struct HandlerError {
    kind: ErrorKind,
    message: String,
}

impl HandlerError {
    pub fn retryable(message: impl Into<String>) -> Self {
        Self {
            kind: ErrorKind::Retryable,
            message: message.into(),
        }
    }

    pub fn permanent(message: impl Into<String>) -> Self {
        Self {
            kind: ErrorKind::Permanent,
            message: message.into(),
        }
    }

    pub fn kind(&self) -> ErrorKind {
        self.kind
    }

    pub fn is_permanent(&self) -> bool {
        self.kind == ErrorKind::Permanent
    }

    pub fn message(&self) -> &str {
        &self.message
    }
}

impl<E: std::error::Error + Send + Sync + 'static> From<E> for HandlerError {
    fn from(error: E) -> Self {
        HandlerError::retryable(chain(&error))
    }
}

impl fmt::Display for HandlerError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.kind.error_type(), self.message)
    }
}

impl fmt::Debug for HandlerError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(self, f)
    }
}

/// Marks the error of a `Result` as permanent: `recipe.parse().permanent()?`.
pub trait Permanent<T> {
    fn permanent(self) -> Result<T, HandlerError>;
}

impl<T, E: fmt::Display> Permanent<T> for Result<T, E> {
    fn permanent(self) -> Result<T, HandlerError> {
        self.map_err(|error| HandlerError::permanent(error.to_string()))
    }
}

/// The error and its sources, `outer: inner: innermost`, so the log says why.
fn chain(error: &dyn std::error::Error) -> String {
    let mut message = error.to_string();
    let mut source = error.source();
    while let Some(cause) = source {
        let text = cause.to_string();
        if !message.contains(&text) {
            message.push_str(": ");
            message.push_str(&text);
        }
        source = cause.source();
    }
    message
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Debug, thiserror::Error)]
    #[error("recipe store unreachable")]
    struct StoreDown(#[source] std::io::Error);

    fn failing() -> Result<(), HandlerError> {
        Err(StoreDown(std::io::Error::other("disk gone")))?;
        Ok(())
    }

    #[test]
    fn any_error_is_retryable_with_its_causes() {
        let error = failing().unwrap_err();
        assert_eq!(error.kind(), ErrorKind::Retryable);
        assert_eq!(error.message(), "recipe store unreachable: disk gone");
        assert_eq!(error.kind().error_type(), "Retryable");
    }

    #[test]
    fn permanent_is_said_explicitly() {
        let result: Result<u8, HandlerError> = "x".parse::<u8>().permanent();
        let error = result.unwrap_err();
        assert!(error.is_permanent());
        assert_eq!(error.kind().error_type(), "NonRetryable");
        assert!(error.message().contains("invalid digit"), "{error}");
    }
}
