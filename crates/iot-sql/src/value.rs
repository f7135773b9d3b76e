//! IoT SQL values and the standard conversions between them.
//!
//! Data types and conversions: <https://docs.aws.amazon.com/iot/latest/developerguide/iot-sql-data-types.html>.
//! Decimals are IEEE doubles here, not IoT's 34-digit decimals, and Ints are 64-bit.

/// A value during evaluation: the JSON types plus `Undefined`, which is not a JSON value and is
/// left out wherever a result is serialised.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Value {
    Undefined,
    Null,
    Bool(bool),
    Int(i64),
    Decimal(f64),
    String(String),
    Array(Vec<Value>),
    /// Keys in insertion order; an object never holds `Undefined`.
    Object(Vec<(String, Value)>),
}

impl Value {
    /// A Decimal result. With SQL 2016-03-23 a whole number such as `10.0` is processed as an
    /// Int, so whole decimals become Ints (iot-sql-data-types, Decimal).
    pub(crate) fn decimal(number: f64) -> Value {
        // 2^63: the first whole f64 that no longer fits an i64.
        const I64_LIMIT: f64 = 9_223_372_036_854_775_808.0;
        if number.is_finite() && number.fract() == 0.0 && number.abs() < I64_LIMIT {
            Value::Int(number as i64)
        } else {
            Value::Decimal(number)
        }
    }

    pub(crate) fn is_undefined(&self) -> bool {
        matches!(self, Value::Undefined)
    }

    /// Standard conversion to Decimal: numbers, and strings that look like decimals.
    pub(crate) fn to_decimal(&self) -> Option<f64> {
        match self {
            Value::Int(int) => Some(*int as f64),
            Value::Decimal(decimal) => Some(*decimal),
            Value::String(text) => parse_decimal(text),
            _ => None,
        }
    }

    /// Standard conversion to Int: Decimals round to the nearest Int; strings are parsed as a
    /// Decimal and truncated.
    pub(crate) fn to_int(&self) -> Option<i64> {
        match self {
            Value::Int(int) => Some(*int),
            Value::Decimal(decimal) => float_to_int(decimal.round()),
            Value::String(text) => parse_decimal(text).and_then(|d| float_to_int(d.trunc())),
            _ => None,
        }
    }

    /// Conversion to Int rounding down, as `cast`, `substring`, `lpad`, `rpad` and `chr` do.
    pub(crate) fn to_int_floor(&self) -> Option<i64> {
        match self {
            Value::Int(int) => Some(*int),
            other => other.to_decimal().and_then(|d| float_to_int(d.floor())),
        }
    }

    /// Standard conversion to Boolean: Booleans, and the strings "true" and "false" in any case.
    pub(crate) fn to_bool(&self) -> Option<bool> {
        match self {
            Value::Bool(b) => Some(*b),
            Value::String(text) if text.eq_ignore_ascii_case("true") => Some(true),
            Value::String(text) if text.eq_ignore_ascii_case("false") => Some(false),
            _ => None,
        }
    }

    /// Standard conversion to String; `None` for Null and Undefined.
    pub(crate) fn to_text(&self) -> Option<String> {
        match self {
            Value::Undefined | Value::Null => None,
            Value::Bool(b) => Some(b.to_string()),
            Value::Int(int) => Some(int.to_string()),
            Value::Decimal(decimal) => Some(format_decimal(*decimal)),
            Value::String(text) => Some(text.clone()),
            Value::Array(_) | Value::Object(_) => Some(self.to_json().to_string()),
        }
    }

    /// The JSON this value serialises to; `Undefined` members and elements are left out, and a
    /// top-level `Undefined` (or a NaN or infinite Decimal, which JSON cannot carry) becomes null.
    pub(crate) fn to_json(&self) -> serde_json::Value {
        self.to_json_if_defined().unwrap_or(serde_json::Value::Null)
    }

    pub(crate) fn to_json_if_defined(&self) -> Option<serde_json::Value> {
        Some(match self {
            Value::Undefined => return None,
            Value::Null => serde_json::Value::Null,
            Value::Bool(b) => serde_json::Value::Bool(*b),
            Value::Int(int) => serde_json::Value::from(*int),
            Value::Decimal(decimal) => {
                serde_json::Value::Number(serde_json::Number::from_f64(*decimal)?)
            }
            Value::String(text) => serde_json::Value::String(text.clone()),
            Value::Array(items) => serde_json::Value::Array(
                items.iter().filter_map(Value::to_json_if_defined).collect(),
            ),
            Value::Object(members) => serde_json::Value::Object(
                members
                    .iter()
                    .filter_map(|(key, value)| Some((key.clone(), value.to_json_if_defined()?)))
                    .collect(),
            ),
        })
    }

    /// As [`Value::to_json`], taking the value apart instead of copying it.
    pub(crate) fn into_json(self) -> serde_json::Value {
        self.into_json_if_defined()
            .unwrap_or(serde_json::Value::Null)
    }

    fn into_json_if_defined(self) -> Option<serde_json::Value> {
        Some(match self {
            Value::Undefined => return None,
            Value::String(text) => serde_json::Value::String(text),
            Value::Array(items) => serde_json::Value::Array(
                items
                    .into_iter()
                    .filter_map(Value::into_json_if_defined)
                    .collect(),
            ),
            Value::Object(members) => serde_json::Value::Object(
                members
                    .into_iter()
                    .filter_map(|(key, value)| Some((key, value.into_json_if_defined()?)))
                    .collect(),
            ),
            scalar => return scalar.to_json_if_defined(),
        })
    }

    /// The member `key` of an object; `Undefined` for a missing key or a value that is no object.
    pub(crate) fn member(&self, key: &str) -> Value {
        match self {
            Value::Object(members) => members
                .iter()
                .find(|(name, _)| name == key)
                .map(|(_, value)| value.clone())
                .unwrap_or(Value::Undefined),
            _ => Value::Undefined,
        }
    }

    /// Sets `key`, replacing an earlier member of that name; `Undefined` removes it.
    pub(crate) fn insert_member(members: &mut Vec<(String, Value)>, key: &str, value: Value) {
        members.retain(|(name, _)| name != key);
        if !value.is_undefined() {
            members.push((key.to_owned(), value));
        }
    }
}

/// Payloads are read straight into values, without a `serde_json::Value` in between.
impl<'de> serde::Deserialize<'de> for Value {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserializer.deserialize_any(ValueVisitor)
    }
}

struct ValueVisitor;

impl<'de> serde::de::Visitor<'de> for ValueVisitor {
    type Value = Value;

    fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
        f.write_str("a JSON value")
    }

    fn visit_unit<E>(self) -> Result<Value, E> {
        Ok(Value::Null)
    }

    fn visit_bool<E>(self, b: bool) -> Result<Value, E> {
        Ok(Value::Bool(b))
    }

    fn visit_i64<E>(self, int: i64) -> Result<Value, E> {
        Ok(Value::Int(int))
    }

    fn visit_u64<E>(self, int: u64) -> Result<Value, E> {
        Ok(i64::try_from(int).map_or(Value::Decimal(int as f64), Value::Int))
    }

    fn visit_f64<E>(self, number: f64) -> Result<Value, E> {
        Ok(Value::decimal(number))
    }

    fn visit_str<E>(self, text: &str) -> Result<Value, E> {
        Ok(Value::String(text.to_owned()))
    }

    fn visit_string<E>(self, text: String) -> Result<Value, E> {
        Ok(Value::String(text))
    }

    fn visit_seq<A: serde::de::SeqAccess<'de>>(self, mut seq: A) -> Result<Value, A::Error> {
        let mut items = Vec::with_capacity(seq.size_hint().unwrap_or(0));
        while let Some(item) = seq.next_element()? {
            items.push(item);
        }
        Ok(Value::Array(items))
    }

    fn visit_map<A: serde::de::MapAccess<'de>>(self, mut map: A) -> Result<Value, A::Error> {
        let mut members: Vec<(String, Value)> = Vec::with_capacity(map.size_hint().unwrap_or(0));
        while let Some((key, value)) = map.next_entry::<String, Value>()? {
            // A repeated key keeps its last value, as serde_json's own maps do.
            Value::insert_member(&mut members, &key, value);
        }
        Ok(Value::Object(members))
    }
}

fn float_to_int(whole: f64) -> Option<i64> {
    // `as` saturates; anything outside i64 is no Int.
    (whole.is_finite() && whole.abs() < 9_223_372_036_854_775_808.0).then_some(whole as i64)
}

/// Strings IoT converts to Decimal: `^-?\d+(\.\d+)?((?i)E-?\d+)?$` (iot-sql-data-types, To decimal).
pub(crate) fn parse_decimal(text: &str) -> Option<f64> {
    let bytes = text.as_bytes();
    let mut at = 0;
    let digits = |at: &mut usize| {
        let start = *at;
        while *at < bytes.len() && bytes[*at].is_ascii_digit() {
            *at += 1;
        }
        *at > start
    };
    if bytes.first() == Some(&b'-') {
        at += 1;
    }
    if !digits(&mut at) {
        return None;
    }
    if bytes.get(at) == Some(&b'.') {
        at += 1;
        if !digits(&mut at) {
            return None;
        }
    }
    if matches!(bytes.get(at), Some(b'e' | b'E')) {
        at += 1;
        if bytes.get(at) == Some(&b'-') {
            at += 1;
        }
        if !digits(&mut at) {
            return None;
        }
    }
    if at != bytes.len() {
        return None;
    }
    text.parse().ok()
}

/// A Decimal as a string: shortest round-trip form, exponent notation for very large or small.
pub(crate) fn format_decimal(decimal: f64) -> String {
    match serde_json::Number::from_f64(decimal) {
        Some(number) => number.to_string(),
        None if decimal.is_nan() => "NaN".to_owned(),
        None if decimal > 0.0 => "Infinity".to_owned(),
        None => "-Infinity".to_owned(),
    }
}

/// `=` (iot-sql-operators): `None` is Undefined.
pub(crate) fn equals(left: &Value, right: &Value) -> Option<bool> {
    if left.is_undefined() || right.is_undefined() {
        return None;
    }
    Some(same(left, right))
}

fn same(left: &Value, right: &Value) -> bool {
    match (left, right) {
        (Value::Int(a), Value::Int(b)) => a == b,
        (Value::Int(_) | Value::Decimal(_), Value::Int(_) | Value::Decimal(_)) => {
            left.to_decimal() == right.to_decimal()
        }
        (Value::String(a), Value::String(b)) => a == b,
        (Value::Bool(a), Value::Bool(b)) => a == b,
        (Value::Null, Value::Null) => true,
        (Value::Array(a), Value::Array(b)) => {
            a.len() == b.len() && a.iter().zip(b).all(|(x, y)| same(x, y))
        }
        (Value::Object(a), Value::Object(b)) => {
            a.len() == b.len()
                && a.iter().all(|(key, value)| {
                    b.iter()
                        .find(|(other, _)| other == key)
                        .is_some_and(|(_, other)| same(value, other))
                })
        }
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn strings_convert_to_decimal_only_in_the_documented_form() {
        assert_eq!(parse_decimal("0"), Some(0.0));
        assert_eq!(parse_decimal("-1.2"), Some(-1.2));
        assert_eq!(parse_decimal("5E-12"), Some(5e-12));
        assert_eq!(parse_decimal("5e3"), Some(5000.0));
        for rejected in [
            "", "-", "1.", ".5", "+1", "1e", "1e+3", " 1", "1 ", "0x10", "NaN", "inf",
        ] {
            assert_eq!(parse_decimal(rejected), None, "{rejected:?}");
        }
    }

    #[test]
    fn whole_decimals_are_ints_and_conversions_follow_the_tables() {
        assert_eq!(Value::decimal(10.0), Value::Int(10));
        assert_eq!(Value::decimal(2.5), Value::Decimal(2.5));
        assert_eq!(Value::Decimal(2.5).to_int(), Some(3));
        assert_eq!(Value::String("2.7".into()).to_int(), Some(2));
        assert_eq!(Value::Decimal(-2.5).to_int_floor(), Some(-3));
        assert_eq!(Value::Bool(true).to_decimal(), None);
        assert_eq!(Value::String("TRUE".into()).to_bool(), Some(true));
        assert_eq!(Value::Int(1).to_bool(), None);
        assert_eq!(Value::Null.to_text(), None);
        let array = Value::Array(vec![Value::String("a".into()), Value::Int(1), Value::Null]);
        assert_eq!(array.to_text().as_deref(), Some(r#"["a",1,null]"#));
    }

    #[test]
    fn payloads_are_read_with_whole_numbers_as_ints() {
        let value: Value =
            serde_json::from_str(r#"{"a": [1, 2.5, 10.0, true, null, "x"], "a2": {}, "a": 3}"#)
                .unwrap();
        assert_eq!(
            value,
            Value::Object(vec![
                ("a2".into(), Value::Object(vec![])),
                ("a".into(), Value::Int(3))
            ])
        );
        let value: Value =
            serde_json::from_str(r#"[1, 2.5, 10.0, true, null, "x", 18446744073709551615]"#)
                .unwrap();
        assert_eq!(
            value,
            Value::Array(vec![
                Value::Int(1),
                Value::Decimal(2.5),
                Value::Int(10),
                Value::Bool(true),
                Value::Null,
                Value::String("x".into()),
                Value::Decimal(18446744073709551615.0),
            ])
        );
    }

    #[test]
    fn equality_converts_ints_to_decimals_but_never_strings() {
        assert_eq!(equals(&Value::Int(1), &Value::Decimal(1.0)), Some(true));
        assert_eq!(
            equals(&Value::Int(1), &Value::String("1".into())),
            Some(false)
        );
        assert_eq!(equals(&Value::Null, &Value::Undefined), None);
        let a = Value::Object(vec![
            ("x".into(), Value::Int(1)),
            ("y".into(), Value::Int(2)),
        ]);
        let b = Value::Object(vec![
            ("y".into(), Value::Int(2)),
            ("x".into(), Value::Int(1)),
        ]);
        assert_eq!(equals(&a, &b), Some(true));
        let ordered = Value::Array(vec![Value::Int(1), Value::Int(2)]);
        let reversed = Value::Array(vec![Value::Int(2), Value::Int(1)]);
        assert_eq!(equals(&ordered, &reversed), Some(false));
    }
}
