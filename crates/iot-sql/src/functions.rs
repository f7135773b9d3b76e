//! The built-in functions: <https://docs.aws.amazon.com/iot/latest/developerguide/iot-sql-functions.html>.
//!
//! Each follows its table in the reference; "functions called with invalid arguments (wrong
//! types, ...) return Undefined" (iot-sql-data-types), so nothing here fails.

use base64::Engine;
use base64::engine::general_purpose::STANDARD as BASE64;

use crate::time_format;
use crate::value::Value;

/// The pure functions the local post office evaluates, plus those that read the message.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Function {
    Abs,
    Acos,
    Asin,
    Atan,
    Atan2,
    BitAnd,
    BitOr,
    BitXor,
    BitNot,
    Ceil,
    Chr,
    ClientId,
    Concat,
    Cos,
    Cosh,
    Decode,
    Encode,
    EndsWith,
    Exp,
    Floor,
    Get,
    IndexOf,
    IsNull,
    IsUndefined,
    Length,
    Ln,
    Log,
    Lower,
    Lpad,
    Ltrim,
    Mod,
    Nanvl,
    NewUuid,
    NumBytes,
    ParseTime,
    Power,
    Principal,
    Rand,
    Remainder,
    Replace,
    Rpad,
    Round,
    Rtrim,
    Sign,
    Sin,
    Sinh,
    Sqrt,
    StartsWith,
    Substring,
    SqlVersion,
    Tan,
    Tanh,
    Timestamp,
    Topic,
    TraceId,
    Trim,
    Trunc,
    Upper,
}

pub(crate) enum Lookup {
    Known(Function),
    Unsupported(&'static str),
    Unknown,
}

/// IoT SQL function names are case-insensitive (the reference writes `Round(1.2)`, `Trim(...)`).
pub(crate) fn lookup(name: &str) -> Lookup {
    use Function::*;
    let lower = name.to_ascii_lowercase();
    let function = match lower.as_str() {
        "abs" => Abs,
        "acos" => Acos,
        "asin" => Asin,
        "atan" => Atan,
        "atan2" => Atan2,
        "bitand" => BitAnd,
        "bitor" => BitOr,
        "bitxor" => BitXor,
        "bitnot" => BitNot,
        "ceil" => Ceil,
        "chr" => Chr,
        "clientid" => ClientId,
        "concat" => Concat,
        "cos" => Cos,
        "cosh" => Cosh,
        "decode" => Decode,
        "encode" => Encode,
        "endswith" => EndsWith,
        "exp" => Exp,
        "floor" => Floor,
        "get" => Get,
        "indexof" => IndexOf,
        "isnull" => IsNull,
        "isundefined" => IsUndefined,
        "length" => Length,
        "ln" => Ln,
        "log" => Log,
        "lower" => Lower,
        "lpad" => Lpad,
        "ltrim" => Ltrim,
        "mod" => Mod,
        "nanvl" => Nanvl,
        "newuuid" => NewUuid,
        "numbytes" => NumBytes,
        "parse_time" => ParseTime,
        "power" => Power,
        "principal" => Principal,
        "rand" => Rand,
        "remainder" => Remainder,
        "replace" => Replace,
        "rpad" => Rpad,
        "round" => Round,
        "rtrim" => Rtrim,
        "sign" => Sign,
        "sin" => Sin,
        "sinh" => Sinh,
        "sqrt" => Sqrt,
        "startswith" => StartsWith,
        "substring" => Substring,
        "sql_version" => SqlVersion,
        "tan" => Tan,
        "tanh" => Tanh,
        "timestamp" => Timestamp,
        "topic" => Topic,
        "traceid" => TraceId,
        "trim" => Trim,
        "trunc" => Trunc,
        "upper" => Upper,
        "aws_lambda"
        | "get_dynamodb"
        | "get_secret"
        | "get_thing_shadow"
        | "get_registry_data"
        | "machinelearning_predict" => {
            return Lookup::Unsupported("it calls an AWS service, which a local rule cannot reach");
        }
        "accountid" => {
            return Lookup::Unsupported("the local post office has no AWS account to return");
        }
        "get_mqtt_property" => {
            return Lookup::Unsupported(
                "the local post office does not pass MQTT 5 properties to rules",
            );
        }
        "md2" | "md5" | "sha1" | "sha224" | "sha256" | "sha384" | "sha512" => {
            return Lookup::Unsupported("hashing functions are not implemented locally");
        }
        "regexp_matches" | "regexp_replace" | "regexp_substr" => {
            return Lookup::Unsupported(
                "regular expressions (Java syntax in IoT) are not implemented locally",
            );
        }
        "time_to_epoch" => {
            return Lookup::Unsupported(
                "parsing times with Java patterns is not implemented locally",
            );
        }
        "transform" => return Lookup::Unsupported("transform() is not implemented locally"),
        _ => return Lookup::Unknown,
    };
    Lookup::Known(function)
}

impl Function {
    /// The name as the reference writes it.
    pub(crate) fn name(self) -> &'static str {
        use Function::*;
        match self {
            Abs => "abs",
            Acos => "acos",
            Asin => "asin",
            Atan => "atan",
            Atan2 => "atan2",
            BitAnd => "bitand",
            BitOr => "bitor",
            BitXor => "bitxor",
            BitNot => "bitnot",
            Ceil => "ceil",
            Chr => "chr",
            ClientId => "clientid",
            Concat => "concat",
            Cos => "cos",
            Cosh => "cosh",
            Decode => "decode",
            Encode => "encode",
            EndsWith => "endswith",
            Exp => "exp",
            Floor => "floor",
            Get => "get",
            IndexOf => "indexof",
            IsNull => "isNull",
            IsUndefined => "isUndefined",
            Length => "length",
            Ln => "ln",
            Log => "log",
            Lower => "lower",
            Lpad => "lpad",
            Ltrim => "ltrim",
            Mod => "mod",
            Nanvl => "nanvl",
            NewUuid => "newuuid",
            NumBytes => "numbytes",
            ParseTime => "parse_time",
            Power => "power",
            Principal => "principal",
            Rand => "rand",
            Remainder => "remainder",
            Replace => "replace",
            Rpad => "rpad",
            Round => "round",
            Rtrim => "rtrim",
            Sign => "sign",
            Sin => "sin",
            Sinh => "sinh",
            Sqrt => "sqrt",
            StartsWith => "startswith",
            Substring => "substring",
            SqlVersion => "sql_version",
            Tan => "tan",
            Tanh => "tanh",
            Timestamp => "timestamp",
            Topic => "topic",
            TraceId => "traceid",
            Trim => "trim",
            Trunc => "trunc",
            Upper => "upper",
        }
    }

    /// How many arguments the function takes: (at least, at most).
    pub(crate) fn arity(self) -> (usize, usize) {
        use Function::*;
        match self {
            ClientId | NewUuid | Principal | Rand | SqlVersion | Timestamp | TraceId => (0, 0),
            Topic => (0, 1),
            Concat => (0, usize::MAX),
            Atan2 | BitAnd | BitOr | BitXor | Decode | Encode | EndsWith | Get | IndexOf | Lpad
            | Mod | Nanvl | Power | Remainder | Rpad | StartsWith | Trunc => (2, 2),
            ParseTime => (2, 3),
            Substring => (2, 3),
            Replace => (3, 3),
            _ => (1, 1),
        }
    }

    /// Applies a function of the payload's values (not one that reads the message).
    pub(crate) fn apply(self, args: &[Value]) -> Value {
        use Function::*;
        let arg = |i: usize| args.get(i).unwrap_or(&Value::Undefined);
        match self {
            Abs => match arg(0) {
                Value::Int(int) => int
                    .checked_abs()
                    .map_or(Value::Decimal((*int as f64).abs()), Value::Int),
                other => decimal_of(other, f64::abs),
            },
            Acos => decimal_of(arg(0), f64::acos),
            Asin => decimal_of(arg(0), f64::asin),
            Atan => decimal_of(arg(0), f64::atan),
            Cos => decimal_of(arg(0), f64::cos),
            Cosh => decimal_of(arg(0), f64::cosh),
            Exp => decimal_of(arg(0), f64::exp),
            Ln => decimal_of(arg(0), f64::ln),
            Log => decimal_of(arg(0), f64::log10),
            Sin => decimal_of(arg(0), f64::sin),
            Sinh => decimal_of(arg(0), f64::sinh),
            Sqrt => decimal_of(arg(0), f64::sqrt),
            Tan => decimal_of(arg(0), f64::tan),
            Tanh => decimal_of(arg(0), f64::tanh),
            Atan2 => decimals_of(arg(0), arg(1), f64::atan2),
            Power => decimals_of(arg(0), arg(1), f64::powf),
            Ceil => whole_of(arg(0), f64::ceil),
            Floor => whole_of(arg(0), f64::floor),
            // Half away from zero: Round(1.5) = 2, Round(-1.5) = -2.
            Round => whole_of(arg(0), f64::round),
            Sign => match arg(0) {
                Value::Int(int) => Value::Int(int.signum()),
                other => match other.to_decimal() {
                    Some(d) if d.is_nan() => Value::Undefined,
                    Some(d) => Value::Int(if d > 0.0 {
                        1
                    } else if d < 0.0 {
                        -1
                    } else {
                        0
                    }),
                    None => Value::Undefined,
                },
            },
            BitAnd => bits(arg(0), arg(1), |a, b| a & b),
            BitOr => bits(arg(0), arg(1), |a, b| a | b),
            BitXor => bits(arg(0), arg(1), |a, b| a ^ b),
            BitNot => arg(0)
                .to_int_floor()
                .map_or(Value::Undefined, |a| Value::Int(!a)),
            Mod | Remainder => crate::eval::remainder(arg(0), arg(1)),
            Trunc => trunc(arg(0), arg(1)),
            Chr => match arg(0).to_int_floor() {
                Some(code @ 0..=127) => Value::String(char::from(code as u8).to_string()),
                _ => Value::Undefined,
            },
            Concat => concat(args),
            Get => get(arg(0), arg(1)),
            IsNull => Value::Bool(matches!(arg(0), Value::Null)),
            IsUndefined => Value::Bool(arg(0).is_undefined()),
            Length => text_of(arg(0), |text| Value::Int(text.chars().count() as i64)),
            NumBytes => text_of(arg(0), |text| Value::Int(text.len() as i64)),
            Lower => text_of(arg(0), |text| Value::String(text.to_lowercase())),
            Upper => text_of(arg(0), |text| Value::String(text.to_uppercase())),
            Trim => text_of(arg(0), |text| {
                Value::String(text.trim_matches(is_blank).to_owned())
            }),
            Ltrim => text_of(arg(0), |text| {
                Value::String(text.trim_start_matches(is_blank).to_owned())
            }),
            Rtrim => text_of(arg(0), |text| {
                Value::String(text.trim_end_matches(is_blank).to_owned())
            }),
            Lpad => pad(arg(0), arg(1), true),
            Rpad => pad(arg(0), arg(1), false),
            StartsWith => two_texts(arg(0), arg(1), |a, b| Value::Bool(a.starts_with(b))),
            EndsWith => two_texts(arg(0), arg(1), |a, b| Value::Bool(a.ends_with(b))),
            IndexOf => two_texts(arg(0), arg(1), |a, b| match a.find(b) {
                Some(byte) => Value::Int(a[..byte].chars().count() as i64),
                None => Value::Int(-1),
            }),
            Replace => match (arg(0).to_text(), arg(1).to_text(), arg(2).to_text()) {
                (Some(text), Some(from), Some(to)) if !from.is_empty() => {
                    Value::String(text.replace(&from, &to))
                }
                (Some(text), Some(_), Some(_)) => Value::String(text),
                _ => Value::Undefined,
            },
            Substring => substring(arg(0), arg(1), args.get(2)),
            Nanvl => match arg(0) {
                Value::Undefined | Value::Null => arg(1).clone(),
                Value::Decimal(d) if d.is_nan() => arg(1).clone(),
                other => other.clone(),
            },
            Decode => decode(arg(0), arg(1)),
            Encode => match arg(0).to_text() {
                Some(text) => encode(text.as_bytes(), arg(1)),
                None => Value::Undefined,
            },
            ParseTime => parse_time(arg(0), arg(1), args.get(2)),
            SqlVersion => Value::String("2016-03-23".to_owned()),
            // Message functions are answered by the evaluator.
            ClientId | NewUuid | Principal | Rand | Timestamp | Topic | TraceId => Value::Undefined,
        }
    }
}

/// Tabs and spaces, what `trim`, `ltrim` and `rtrim` remove.
fn is_blank(c: char) -> bool {
    c == ' ' || c == '\t'
}

fn decimal_of(value: &Value, f: fn(f64) -> f64) -> Value {
    value
        .to_decimal()
        .map_or(Value::Undefined, |d| Value::decimal(f(d)))
}

fn decimals_of(a: &Value, b: &Value, f: fn(f64, f64) -> f64) -> Value {
    match (a.to_decimal(), b.to_decimal()) {
        (Some(a), Some(b)) => Value::decimal(f(a, b)),
        _ => Value::Undefined,
    }
}

/// `ceil`, `floor`, `round`: an Int stays as it is; a Decimal or numeric string becomes an Int.
fn whole_of(value: &Value, f: fn(f64) -> f64) -> Value {
    match value {
        Value::Int(int) => Value::Int(*int),
        other => other
            .to_decimal()
            .map_or(Value::Undefined, |d| Value::decimal(f(d))),
    }
}

fn bits(a: &Value, b: &Value, f: fn(i64, i64) -> i64) -> Value {
    match (a.to_int_floor(), b.to_int_floor()) {
        (Some(a), Some(b)) => Value::Int(f(a, b)),
        _ => Value::Undefined,
    }
}

fn text_of(value: &Value, f: impl FnOnce(&str) -> Value) -> Value {
    value.to_text().map_or(Value::Undefined, |text| f(&text))
}

fn two_texts(a: &Value, b: &Value, f: impl FnOnce(&str, &str) -> Value) -> Value {
    match (a.to_text(), b.to_text()) {
        (Some(a), Some(b)) => f(&a, &b),
        _ => Value::Undefined,
    }
}

/// `trunc(Decimal, Int)`: the places are clamped to 0..=34; trailing zeroes are dropped.
fn trunc(value: &Value, places: &Value) -> Value {
    let Some(places) = places.to_int_floor() else {
        return Value::Undefined;
    };
    match value {
        Value::Int(int) => Value::Int(*int),
        other => match other.to_decimal() {
            Some(d) => {
                // Beyond 15 places a double has nothing left to cut.
                let places = places.clamp(0, 15) as i32;
                let scale = 10f64.powi(places);
                Value::decimal((d * scale).trunc() / scale)
            }
            None => Value::Undefined,
        },
    }
}

fn concat(args: &[Value]) -> Value {
    match args {
        [] => Value::Undefined,
        [only] => only.clone(),
        _ if args.iter().any(|a| matches!(a, Value::Array(_))) => Value::Array(
            args.iter()
                .flat_map(|a| match a {
                    Value::Array(items) => items.clone(),
                    other => vec![other.clone()],
                })
                .collect(),
        ),
        _ if args.iter().any(|a| matches!(a, Value::String(_))) => {
            let mut joined = String::new();
            for arg in args {
                match arg.to_text() {
                    Some(text) => joined.push_str(&text),
                    None => return Value::Undefined,
                }
            }
            Value::String(joined)
        }
        _ => Value::Undefined,
    }
}

fn get(collection: &Value, key: &Value) -> Value {
    match collection {
        Value::Array(items) => key
            .to_int()
            .and_then(|index| usize::try_from(index).ok())
            .and_then(|index| items.get(index).cloned())
            .unwrap_or(Value::Undefined),
        Value::String(text) => key
            .to_int()
            .and_then(|index| usize::try_from(index).ok())
            .and_then(|index| text.chars().nth(index))
            .map_or(Value::Undefined, |c| Value::String(c.to_string())),
        Value::Object(_) => match key {
            Value::String(name) => collection.member(name),
            _ => Value::Undefined,
        },
        _ => Value::Undefined,
    }
}

fn pad(text: &Value, count: &Value, left: bool) -> Value {
    let (Some(text), Some(count)) = (text.to_text(), count.to_int_floor()) else {
        return Value::Undefined;
    };
    let spaces = " ".repeat(count.clamp(0, 1000) as usize);
    Value::String(if left { spaces + &text } else { text + &spaces })
}

fn substring(text: &Value, start: &Value, end: Option<&Value>) -> Value {
    let Some(text) = text.to_text() else {
        return Value::Undefined;
    };
    let chars: Vec<char> = text.chars().collect();
    // Indices are clamped to the string, however far outside it (substring(false, -2.411E247)).
    let index = |value: &Value| {
        value
            .to_decimal()
            .filter(|d| !d.is_nan())
            .map(|d| d.floor().clamp(0.0, chars.len() as f64) as usize)
    };
    let Some(start) = index(start) else {
        return Value::Undefined;
    };
    let end = match end {
        None => chars.len(),
        Some(end) => match index(end) {
            Some(end) => end,
            None => return Value::Undefined,
        },
    };
    if start >= end {
        return Value::String(String::new());
    }
    Value::String(chars[start..end].iter().collect())
}

fn decode(value: &Value, scheme: &Value) -> Value {
    if !matches!(scheme, Value::String(s) if s == "base64") {
        return Value::Undefined;
    }
    let Some(text) = value.to_text() else {
        return Value::Undefined;
    };
    // "The function returns NULL if the string cannot be decoded"; a JSON document is returned
    // addressable, anything else as a string.
    let Ok(bytes) = BASE64.decode(text.trim_end()) else {
        return Value::Null;
    };
    match serde_json::from_slice::<Value>(&bytes) {
        Ok(json) => json,
        Err(_) => String::from_utf8(bytes).map_or(Value::Null, Value::String),
    }
}

pub(crate) fn encode(bytes: &[u8], scheme: &Value) -> Value {
    match scheme {
        Value::String(s) if s == "base64" => Value::String(BASE64.encode(bytes)),
        _ => Value::Undefined,
    }
}

fn parse_time(pattern: &Value, millis: &Value, zone: Option<&Value>) -> Value {
    let (Value::String(pattern), Some(millis)) = (pattern, millis.to_int()) else {
        return Value::Undefined;
    };
    let zone = match zone {
        None => "UTC".to_owned(),
        Some(Value::String(zone)) => zone.clone(),
        Some(_) => return Value::Undefined,
    };
    time_format::format(pattern, millis, &zone).map_or(Value::Undefined, Value::String)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn s(text: &str) -> Value {
        Value::String(text.to_owned())
    }

    /// The examples of <https://docs.aws.amazon.com/iot/latest/developerguide/iot-sql-functions.html>.
    #[test]
    fn reference_examples() {
        use Function::*;
        let d = Value::Decimal;
        let i = Value::Int;
        let cases: Vec<(Function, Vec<Value>, Value)> = vec![
            (Abs, vec![i(-5)], i(5)),
            (Abs, vec![s("-5.123")], d(5.123)),
            (Atan2, vec![i(1), i(0)], d(std::f64::consts::FRAC_PI_2)),
            (BitAnd, vec![i(13), i(5)], i(5)),
            (BitOr, vec![i(8), i(5)], i(13)),
            (BitXor, vec![i(13), i(5)], i(8)),
            (Ceil, vec![d(1.2)], i(2)),
            (Ceil, vec![d(-1.2)], i(-1)),
            (Chr, vec![i(65)], s("A")),
            (Chr, vec![i(49)], s("1")),
            (Concat, vec![], Value::Undefined),
            (Concat, vec![i(1)], i(1)),
            (
                Concat,
                vec![Value::Array(vec![i(1), i(2), i(3)]), i(4)],
                Value::Array(vec![i(1), i(2), i(3), i(4)]),
            ),
            (
                Concat,
                vec![Value::Array(vec![i(1), i(2), i(3)]), s("hello")],
                Value::Array(vec![i(1), i(2), i(3), s("hello")]),
            ),
            (Concat, vec![s("con"), s("cat")], s("concat")),
            (Concat, vec![i(1), s("hello")], s("1hello")),
            (Concat, vec![s("he"), s("is"), s("man")], s("heisman")),
            (EndsWith, vec![s("cat"), s("at")], Value::Bool(true)),
            (Floor, vec![d(1.2)], i(1)),
            (Floor, vec![d(-1.2)], i(-2)),
            (
                Get,
                vec![Value::Array(vec![s("a"), s("b"), s("c")]), i(1)],
                s("b"),
            ),
            (
                Get,
                vec![Value::Object(vec![("a".into(), s("b"))]), s("a")],
                s("b"),
            ),
            (IndexOf, vec![s("abcd"), s("bc")], i(1)),
            (IsNull, vec![i(5)], Value::Bool(false)),
            (IsNull, vec![Value::Null], Value::Bool(true)),
            (IsUndefined, vec![i(5)], Value::Bool(false)),
            (
                IsUndefined,
                vec![Floor.apply(&[Value::Array(vec![i(1), i(2), i(3)])])],
                Value::Bool(true),
            ),
            (Length, vec![s("hi")], i(2)),
            (Length, vec![Value::Bool(false)], i(5)),
            (Log, vec![i(100)], i(2)),
            (Lower, vec![s("HELLO")], s("hello")),
            (
                Lower,
                vec![Value::Array(vec![s("HELLO")])],
                s(r#"["hello"]"#),
            ),
            (Lpad, vec![s("hello"), i(2)], s("  hello")),
            (Lpad, vec![i(1), i(3)], s("   1")),
            (Ltrim, vec![s(" h i ")], s("h i ")),
            (Mod, vec![i(8), i(3)], i(2)),
            (Nanvl, vec![i(8), i(3)], i(8)),
            (NumBytes, vec![s("hi")], i(2)),
            (NumBytes, vec![s("€")], i(3)),
            (Power, vec![i(2), i(5)], i(32)),
            (Remainder, vec![i(8), i(3)], i(2)),
            (Replace, vec![s("abcd"), s("bc"), s("x")], s("axd")),
            (Replace, vec![s("abcdabcd"), s("b"), s("x")], s("axcdaxcd")),
            (Rpad, vec![s("hello"), i(2)], s("hello  ")),
            (Rpad, vec![i(1), i(3)], s("1   ")),
            (Round, vec![d(1.2)], i(1)),
            (Round, vec![d(1.5)], i(2)),
            (Round, vec![d(1.7)], i(2)),
            (Round, vec![d(-1.1)], i(-1)),
            (Round, vec![d(-1.5)], i(-2)),
            (Rtrim, vec![s(" h i ")], s(" h i")),
            (Sign, vec![i(-7)], i(-1)),
            (Sign, vec![i(0)], i(0)),
            (Sign, vec![i(13)], i(1)),
            (Sin, vec![i(0)], i(0)),
            (Sinh, vec![d(2.3)], d(4.936961805545957)),
            (Sqrt, vec![i(9)], i(3)),
            (StartsWith, vec![s("ranger"), s("ran")], Value::Bool(true)),
            (Substring, vec![s("012345"), i(0)], s("012345")),
            (Substring, vec![s("012345"), i(2)], s("2345")),
            (Substring, vec![s("012345"), d(2.745)], s("2345")),
            (Substring, vec![i(123), i(2)], s("3")),
            (Substring, vec![s("012345"), i(-1)], s("012345")),
            (Substring, vec![Value::Bool(true), d(1.2)], s("rue")),
            (
                Substring,
                vec![Value::Bool(false), d(-2.411E247)],
                s("false"),
            ),
            (Substring, vec![s("012345"), i(1), i(3)], s("12")),
            (Substring, vec![s("012345"), i(-50), i(50)], s("012345")),
            (Substring, vec![s("012345"), i(3), i(1)], s("")),
            (SqlVersion, vec![], s("2016-03-23")),
            (Tan, vec![i(3)], d(-0.1425465430742778)),
            (Tanh, vec![d(2.3)], d(0.9800963962661914)),
            (Trim, vec![s(" hi ")], s("hi")),
            (Trunc, vec![d(2.3), i(0)], i(2)),
            (Trunc, vec![d(2.3123), i(2)], d(2.31)),
            (Trunc, vec![d(2.888), i(2)], d(2.88)),
            (Trunc, vec![d(2.00), i(5)], i(2)),
            (Upper, vec![s("hello")], s("HELLO")),
            (
                Upper,
                vec![Value::Array(vec![s("hello")])],
                s(r#"["HELLO"]"#),
            ),
        ];
        for (function, args, expected) in cases {
            assert_eq!(
                function.apply(&args),
                expected,
                "{}({args:?})",
                function.name()
            );
        }
    }

    #[test]
    fn wrong_types_give_undefined() {
        use Function::*;
        let object = Value::Object(vec![("a".into(), Value::Int(1))]);
        for function in [Abs, Ceil, Floor, Round, Sign, Sqrt, BitNot, Chr] {
            for bad in [
                Value::Bool(true),
                Value::Null,
                Value::Undefined,
                object.clone(),
                s("x"),
            ] {
                assert_eq!(
                    function.apply(std::slice::from_ref(&bad)),
                    Value::Undefined,
                    "{}({bad:?})",
                    function.name()
                );
            }
        }
        assert_eq!(Lower.apply(&[Value::Null]), Value::Undefined);
        assert_eq!(
            StartsWith.apply(&[s("a"), Value::Undefined]),
            Value::Undefined
        );
        assert_eq!(
            Get.apply(&[Value::Array(vec![Value::Int(1)]), Value::Int(5)]),
            Value::Undefined
        );
        assert_eq!(
            Get.apply(&[Value::Array(vec![Value::Int(1)]), Value::Int(-1)]),
            Value::Undefined
        );
        assert_eq!(
            Get.apply(&[object.clone(), Value::Int(0)]),
            Value::Undefined
        );
        assert_eq!(
            Concat.apply(&[Value::Int(1), Value::Int(2)]),
            Value::Undefined
        );
        assert_eq!(Chr.apply(&[Value::Int(200)]), Value::Undefined);
    }

    #[test]
    fn decode_returns_json_documents_addressable_and_other_text_as_strings() {
        // The reference's example: {"temperature": 33} followed by a newline, base64-encoded.
        let json = Function::Decode.apply(&[s("eyAidGVtcGVyYXR1cmUiOiAzMyB9Cg=="), s("base64")]);
        assert_eq!(json.member("temperature"), Value::Int(33));
        assert_eq!(
            Function::Decode.apply(&[s("aGVsbG8="), s("base64")]),
            s("hello")
        );
        assert_eq!(
            Function::Decode.apply(&[s("not base64!"), s("base64")]),
            Value::Null
        );
        assert_eq!(
            Function::Encode.apply(&[s("hello"), s("base64")]),
            s("aGVsbG8=")
        );
    }
}
