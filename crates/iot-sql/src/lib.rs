//! AWS IoT SQL (version 2016-03-23), the subset topic rules use: parse a rule's statement and
//! evaluate it on an MQTT message, the way IoT Core's rules engine does
//! (<https://docs.aws.amazon.com/iot/latest/developerguide/iot-sql-reference.html>).
//!
//! ```
//! use postoffice_iot_sql::{Message, Statement};
//!
//! let statement = Statement::parse("SELECT color AS rgb FROM 'topic/subtopic' WHERE temperature > 50")?;
//! let message = Message::new("topic/subtopic", br#"{"color": "red", "temperature": 100}"#);
//! assert_eq!(statement.evaluate(&message)?, Some(serde_json::json!({"rgb": "red"})));
//! # Ok::<(), postoffice_iot_sql::SqlError>(())
//! ```
//!
//! IoT's odd parts are kept: a result that is `Undefined` (a missing field, a function given the
//! wrong types) is left out of the outgoing object; `=` never converts types but `>` converts
//! numeric strings; whole decimals such as `10.0` are Ints. Functions that need AWS
//! (`get_thing_shadow`, `aws_lambda`, ...) are refused when the statement is parsed, and so are
//! hashing, regular expression and Java time-parsing functions, which are not implemented.

mod ast;
mod error;
mod eval;
mod functions;
mod lexer;
mod parser;
mod time_format;
mod topic_filter;
mod value;

pub use error::{EvalError, Position, SqlError};
pub use topic_filter::TopicFilter;

use ast::{Expr, Query};
use eval::{Context, Selected};
use value::Value;

/// A rule's SQL statement, parsed and checked.
#[derive(Debug, Clone)]
pub struct Statement {
    sql: String,
    filter: TopicFilter,
    /// The SET clause's assignments, in order.
    variables: Vec<Expr>,
    query: Query,
}

/// An MQTT message as the rules engine sees it.
#[derive(Debug, Clone, Copy)]
pub struct Message<'a> {
    pub topic: &'a str,
    pub payload: &'a [u8],
    /// `clientid()`; `None` answers `n/a`, as for a message not sent over MQTT.
    pub client_id: Option<&'a str>,
    /// `timestamp()`: when the rules engine received the message, in epoch milliseconds.
    pub timestamp_ms: i64,
    /// `traceid()`: the MQTT message's UUID; `None` (Undefined) when not sent over MQTT.
    pub trace_id: Option<&'a str>,
    /// `principal()`: the certificate thumbprint or IAM id that published; `None` is Undefined.
    pub principal: Option<&'a str>,
}

impl<'a> Message<'a> {
    /// A message on `topic` with no client, trace or principal, received at epoch 0.
    pub fn new(topic: &'a str, payload: &'a [u8]) -> Self {
        Self {
            topic,
            payload,
            client_id: None,
            timestamp_ms: 0,
            trace_id: None,
            principal: None,
        }
    }
}

/// What a rule passes to its actions.
#[derive(Debug, Clone, PartialEq)]
pub enum Outgoing {
    Json(serde_json::Value),
    /// The message's own payload: `SELECT *` of a payload that is not JSON, or the empty payload
    /// `SELECT VALUE` gives for an `Undefined` value.
    Raw(Vec<u8>),
}

impl Outgoing {
    /// The payload bytes an action sends.
    pub fn into_bytes(self) -> Vec<u8> {
        match self {
            Outgoing::Json(json) => json.to_string().into_bytes(),
            Outgoing::Raw(bytes) => bytes,
        }
    }
}

impl Statement {
    /// Parses `sql`; an error names the line and column and what was expected there.
    pub fn parse(sql: &str) -> Result<Statement, SqlError> {
        let parsed = parser::parse(sql)?;
        Ok(Statement {
            sql: sql.to_owned(),
            filter: parsed.filter,
            variables: parsed.variables,
            query: parsed.query,
        })
    }

    /// The statement's text, as given.
    pub fn sql(&self) -> &str {
        &self.sql
    }

    /// The FROM clause's topic filter.
    pub fn topic_filter(&self) -> &str {
        self.filter.as_str()
    }

    /// Whether a message on `topic` triggers the rule (MQTT wildcards `+` and `#`).
    pub fn matches_topic(&self, topic: &str) -> bool {
        self.filter.matches(topic)
    }

    /// The outgoing payload as JSON, or `None` when the WHERE clause is not true (no action
    /// runs). A raw, non-JSON outgoing payload is [`SqlError::RawOutput`]; [`Statement::execute`]
    /// gives its bytes.
    pub fn evaluate(&self, message: &Message) -> Result<Option<serde_json::Value>, EvalError> {
        match self.execute(message) {
            None => Ok(None),
            Some(Outgoing::Json(json)) => Ok(Some(json)),
            Some(Outgoing::Raw(bytes)) => Err(SqlError::RawOutput { bytes: bytes.len() }),
        }
    }

    /// The outgoing payload, JSON or raw, or `None` when the WHERE clause is not true.
    pub fn execute(&self, message: &Message) -> Option<Outgoing> {
        // A payload that is not JSON leaves every field Undefined; only `*` and encode(*, ...)
        // still see its bytes.
        let payload = serde_json::from_slice::<Value>(message.payload).unwrap_or(Value::Undefined);
        // Each assignment sees the ones before it (iot-sql-set).
        let mut variables = Vec::with_capacity(self.variables.len());
        for assignment in &self.variables {
            let context = Context {
                message,
                payload: &payload,
                variables: &variables,
            };
            let value = eval::eval(assignment, &payload, &context);
            variables.push(value);
        }
        let context = Context {
            message,
            payload: &payload,
            variables: &variables,
        };
        Some(match eval::run_query(&self.query, &payload, &context)? {
            Selected::RawPayload => Outgoing::Raw(message.payload.to_vec()),
            // "Undefined is converted to an empty string when serialized by itself".
            Selected::Value(Value::Undefined) => Outgoing::Raw(Vec::new()),
            Selected::Value(value) => Outgoing::Json(value.into_json()),
        })
    }
}
