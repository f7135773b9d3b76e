/// Where in the SQL text a problem is: 1-based line and column (in characters).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Position {
    pub line: usize,
    pub column: usize,
}

impl Position {
    pub(crate) fn at(sql: &str, byte_offset: usize) -> Self {
        let before = &sql[..byte_offset.min(sql.len())];
        let line = before.matches('\n').count() + 1;
        let line_start = before.rfind('\n').map_or(0, |newline| newline + 1);
        let column = before[line_start..].chars().count() + 1;
        Self { line, column }
    }
}

impl std::fmt::Display for Position {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "line {}, column {}", self.line, self.column)
    }
}

/// Why a rule's SQL was refused (IoT's `CreateTopicRule` answers these with
/// `SqlParseException`), or why evaluating it failed.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum SqlError {
    #[error("{position}: expected {expected}, found {found}")]
    Syntax {
        position: Position,
        expected: String,
        found: String,
    },
    #[error("{position}: unknown function {name}()")]
    UnknownFunction { position: Position, name: String },
    #[error("{position}: function {name}() takes {expected} argument(s), found {found}")]
    ArgumentCount {
        position: Position,
        name: String,
        expected: String,
        found: usize,
    },
    #[error("{position}: function {name}() is not supported by the local post office: {reason}")]
    UnsupportedFunction {
        position: Position,
        name: String,
        reason: String,
    },
    #[error("{position}: {what} is not supported by the local post office")]
    Unsupported { position: Position, what: String },
    #[error("{position}: invalid topic filter '{filter}': {reason}")]
    TopicFilter {
        position: Position,
        filter: String,
        reason: String,
    },
    #[error("{position}: {message}")]
    InvalidArgument { position: Position, message: String },
    /// Evaluation: the outgoing payload is the message's raw bytes (`SELECT *` of a payload that
    /// is not JSON), which has no JSON value; [`crate::Statement::execute`] gives the bytes.
    #[error("the outgoing payload is {bytes} raw bytes, not JSON (SELECT * of a non-JSON payload)")]
    RawOutput { bytes: usize },
}

/// Evaluation failures share the crate's one error type.
pub type EvalError = SqlError;
