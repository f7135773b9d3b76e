use thiserror::Error;

/// Everything this crate refuses: policy documents AWS would refuse, policies attached where they
/// cannot be (a `Principal` in an identity policy), and malformed requests. Each variant names the
/// element at fault with a path such as `Statement[1].Condition.StringEquals.aws:SourceAccount`.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum PolicyError {
    #[error("policy is not valid JSON: {message} (line {line}, column {column})")]
    Json {
        message: String,
        line: usize,
        column: usize,
    },
    #[error("{path}: element {key} appears more than once")]
    DuplicateKey { path: String, key: String },
    #[error("{path}: unknown element {element}")]
    UnknownElement { path: String, element: String },
    #[error("{path}: missing element {element}")]
    MissingElement { path: String, element: String },
    #[error("{path}: {first} and {second} cannot both appear in one statement")]
    ConflictingElements {
        path: String,
        first: &'static str,
        second: &'static str,
    },
    #[error("{path}: unknown condition operator {operator}")]
    UnknownConditionOperator { path: String, operator: String },
    #[error("{path}: {message}")]
    InvalidValue { path: String, message: String },
    #[error("{policy} cannot be used as {used_as}: {reason}")]
    WrongPolicyKind {
        policy: String,
        used_as: &'static str,
        reason: String,
    },
    #[error("invalid principal {value}: {message}")]
    InvalidPrincipal { value: String, message: String },
    #[error("invalid request {field} {value}: {message}")]
    InvalidRequest {
        field: &'static str,
        value: String,
        message: String,
    },
}

impl PolicyError {
    pub(crate) fn invalid(path: &str, message: impl Into<String>) -> Self {
        Self::InvalidValue {
            path: path.to_owned(),
            message: message.into(),
        }
    }
}
