//! Evaluation of a parsed statement on one message. Operators:
//! <https://docs.aws.amazon.com/iot/latest/developerguide/iot-sql-operators.html>.

use crate::Message;
use crate::ast::{BinaryOp, CastType, Expr, Query, SelectItem};
use crate::functions::{self, Function};
use crate::value::{Value, equals};

/// What one evaluation reads besides the document being queried.
pub(crate) struct Context<'a> {
    pub(crate) message: &'a Message<'a>,
    /// The payload parsed as JSON; `Undefined` when it is not JSON.
    pub(crate) payload: &'a Value,
    /// The SET clause's values so far.
    pub(crate) variables: &'a [Value],
}

/// The outgoing payload of a query whose WHERE held.
pub(crate) enum Selected {
    Value(Value),
    /// `SELECT *` alone on a payload that is not JSON: the payload's own bytes.
    RawPayload,
}

/// The WHERE clause, then the SELECT list; `None` when WHERE is not true.
pub(crate) fn run_query(query: &Query, document: &Value, context: &Context) -> Option<Selected> {
    if let Some(condition) = &query.condition
        && eval(condition, document, context).to_bool() != Some(true)
    {
        return None;
    }
    if query.value {
        let SelectItem::Expr { expr, .. } = &query.items[0] else {
            unreachable!("SELECT VALUE has one expression");
        };
        return Some(Selected::Value(eval(expr, document, context)));
    }
    let only_all = query
        .items
        .iter()
        .all(|item| matches!(item, SelectItem::All));
    if only_all && !matches!(document, Value::Object(_)) {
        // "If the message payload is not in JSON format, * returns the entire message payload as
        // raw bytes" (iot-sql-json).
        return Some(match document {
            Value::Undefined => Selected::RawPayload,
            other => Selected::Value(other.clone()),
        });
    }
    let mut members = Vec::new();
    for item in &query.items {
        match item {
            SelectItem::All => {
                if let Value::Object(all) = document {
                    for (key, value) in all {
                        Value::insert_member(&mut members, key, value.clone());
                    }
                }
            }
            SelectItem::Expr { expr, name } => {
                Value::insert_member(&mut members, name, eval(expr, document, context));
            }
        }
    }
    Some(Selected::Value(Value::Object(members)))
}

pub(crate) fn eval(expr: &Expr, document: &Value, context: &Context) -> Value {
    match expr {
        Expr::Literal(value) => value.clone(),
        Expr::Field(name) => document.member(name),
        Expr::Member(base, name) => eval(base, document, context).member(name),
        Expr::Variable(index) => context
            .variables
            .get(*index)
            .cloned()
            .unwrap_or(Value::Undefined),
        Expr::Payload => context.payload.clone(),
        Expr::Object(members) => {
            let mut object = Vec::with_capacity(members.len());
            for (key, value) in members {
                Value::insert_member(&mut object, key, eval(value, document, context));
            }
            Value::Object(object)
        }
        Expr::Array(items) => Value::Array(
            items
                .iter()
                .map(|item| eval(item, document, context))
                .filter(|item| !item.is_undefined())
                .collect(),
        ),
        Expr::Call(function, args) => call(*function, args, document, context),
        Expr::Cast(value, target) => cast(&eval(value, document, context), *target),
        Expr::Case {
            subject,
            arms,
            otherwise,
        } => {
            let subject = eval(subject, document, context);
            // "If v is Undefined, the result of the case statement is Undefined" (iot-sql-case).
            if subject.is_undefined() {
                return Value::Undefined;
            }
            for (test, result) in arms {
                if equals(&subject, &eval(test, document, context)) == Some(true) {
                    return eval(result, document, context);
                }
            }
            match otherwise {
                Some(otherwise) => eval(otherwise, document, context),
                None => Value::Undefined,
            }
        }
        Expr::Negate(operand) => match eval(operand, document, context) {
            Value::Int(int) => int
                .checked_neg()
                .map_or(Value::Decimal(-(int as f64)), Value::Int),
            other => other
                .to_decimal()
                .map_or(Value::Undefined, |d| Value::decimal(-d)),
        },
        Expr::Not(operand) => match eval(operand, document, context).to_bool() {
            Some(b) => Value::Bool(!b),
            None => Value::Undefined,
        },
        Expr::Binary(op, left, right) => binary(
            *op,
            &eval(left, document, context),
            &eval(right, document, context),
        ),
        Expr::Nested { source, query } => {
            let elements = match eval(source, document, context) {
                Value::Array(items) => items,
                object @ Value::Object(_) => vec![object],
                _ => return Value::Undefined,
            };
            let mut results = Vec::with_capacity(elements.len());
            for element in &elements {
                match run_query(query, element, context) {
                    Some(Selected::Value(value)) if !value.is_undefined() => results.push(value),
                    _ => {}
                }
            }
            Value::Array(results)
        }
    }
}

fn call(function: Function, args: &[Expr], document: &Value, context: &Context) -> Value {
    let message = context.message;
    match function {
        Function::ClientId => Value::String(message.client_id.unwrap_or("n/a").to_owned()),
        Function::Principal => message.principal.map_or(Value::Undefined, |principal| {
            Value::String(principal.to_owned())
        }),
        Function::TraceId => message.trace_id.map_or(Value::Undefined, |trace_id| {
            Value::String(trace_id.to_owned())
        }),
        Function::Timestamp => Value::Int(message.timestamp_ms),
        Function::NewUuid => Value::String(uuid::Uuid::new_v4().to_string()),
        Function::Rand => {
            // 53 random bits, the precision of a double, scaled into [0, 1).
            let bits = (uuid::Uuid::new_v4().as_u128() >> 75) as u64;
            Value::Decimal(bits as f64 / (1u64 << 53) as f64)
        }
        Function::Topic => match args.first() {
            None => Value::String(message.topic.to_owned()),
            Some(level) => eval(level, document, context)
                .to_int()
                .and_then(|level| usize::try_from(level).ok()?.checked_sub(1))
                .and_then(|index| message.topic.split('/').nth(index))
                .map_or(Value::Undefined, |level| Value::String(level.to_owned())),
        },
        Function::Encode if matches!(args.first(), Some(Expr::Payload)) => {
            functions::encode(message.payload, &eval(&args[1], document, context))
        }
        pure => {
            let values: Vec<Value> = args
                .iter()
                .map(|arg| eval(arg, document, context))
                .collect();
            pure.apply(&values)
        }
    }
}

/// `cast(value AS type)` (iot-sql-functions, cast): like the standard conversions, plus numbers to
/// and from Booleans; Decimals round down to Ints.
fn cast(value: &Value, target: CastType) -> Value {
    match target {
        CastType::String => value.to_text().map_or(Value::Undefined, Value::String),
        CastType::Int => match value {
            Value::Bool(b) => Value::Int(i64::from(*b)),
            other => other.to_int_floor().map_or(Value::Undefined, Value::Int),
        },
        CastType::Decimal => match value {
            Value::Bool(b) => Value::Int(i64::from(*b)),
            Value::Int(int) => Value::Int(*int),
            other => other.to_decimal().map_or(Value::Undefined, Value::decimal),
        },
        CastType::Boolean => match value {
            Value::Int(int) => Value::Bool(*int != 0),
            Value::Decimal(decimal) => Value::Bool(*decimal != 0.0),
            other => other.to_bool().map_or(Value::Undefined, Value::Bool),
        },
    }
}

fn binary(op: BinaryOp, left: &Value, right: &Value) -> Value {
    let boolean = |result: Option<bool>| result.map_or(Value::Undefined, Value::Bool);
    let ordered = |test: fn(f64, f64) -> bool| match (left.to_decimal(), right.to_decimal()) {
        (Some(a), Some(b)) => Value::Bool(test(a, b)),
        _ => Value::Undefined,
    };
    match op {
        BinaryOp::And => match (left.to_bool(), right.to_bool()) {
            (Some(a), Some(b)) => Value::Bool(a && b),
            _ => Value::Undefined,
        },
        BinaryOp::Or => match (left.to_bool(), right.to_bool()) {
            (Some(a), Some(b)) => Value::Bool(a || b),
            _ => Value::Undefined,
        },
        BinaryOp::Equal => boolean(equals(left, right)),
        BinaryOp::NotEqual => boolean(equals(left, right).map(|equal| !equal)),
        BinaryOp::Less => ordered(|a, b| a < b),
        BinaryOp::LessOrEqual => ordered(|a, b| a <= b),
        BinaryOp::Greater => ordered(|a, b| a > b),
        BinaryOp::GreaterOrEqual => ordered(|a, b| a >= b),
        BinaryOp::Add => add(left, right),
        BinaryOp::Subtract => arithmetic(left, right, i64::checked_sub, |a, b| a - b),
        BinaryOp::Multiply => arithmetic(left, right, i64::checked_mul, |a, b| a * b),
        BinaryOp::Divide => {
            if right.to_decimal() == Some(0.0) {
                return Value::Undefined;
            }
            arithmetic(left, right, i64::checked_div, |a, b| a / b)
        }
        BinaryOp::Remainder => remainder(left, right),
    }
}

/// `+` concatenates when either side is a String, and adds numbers otherwise; numeric strings are
/// concatenated, not added.
fn add(left: &Value, right: &Value) -> Value {
    match (left, right) {
        (Value::String(_), _) | (_, Value::String(_)) => match (left.to_text(), right.to_text()) {
            (Some(a), Some(b)) => Value::String(a + &b),
            _ => Value::Undefined,
        },
        (Value::Int(a), Value::Int(b)) => a
            .checked_add(*b)
            .map_or(Value::Decimal(*a as f64 + *b as f64), Value::Int),
        (Value::Int(_) | Value::Decimal(_), Value::Int(_) | Value::Decimal(_)) => {
            match (left.to_decimal(), right.to_decimal()) {
                (Some(a), Some(b)) => Value::decimal(a + b),
                _ => Value::Undefined,
            }
        }
        _ => Value::Undefined,
    }
}

/// `-`, `*`, `/`: Int with Int stays Int (division truncates); otherwise numbers and numeric
/// strings are Decimals.
fn arithmetic(
    left: &Value,
    right: &Value,
    on_ints: fn(i64, i64) -> Option<i64>,
    on_decimals: fn(f64, f64) -> f64,
) -> Value {
    if let (Value::Int(a), Value::Int(b)) = (left, right)
        && let Some(result) = on_ints(*a, *b)
    {
        return Value::Int(result);
    }
    match (left.to_decimal(), right.to_decimal()) {
        (Some(a), Some(b)) => Value::decimal(on_decimals(a, b)),
        _ => Value::Undefined,
    }
}

/// `%`, `mod()` and `remainder()`; the sign follows the dividend, as Java's remainder.
pub(crate) fn remainder(left: &Value, right: &Value) -> Value {
    if right.to_decimal() == Some(0.0) {
        return Value::Undefined;
    }
    arithmetic(left, right, i64::checked_rem, |a, b| a % b)
}
