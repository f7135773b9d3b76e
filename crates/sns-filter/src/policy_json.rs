//! The policy's JSON text as a tree that keeps its keys in document order (and repeated keys):
//! SNS reads a policy front to back, so a later key overrides an earlier one in the same `$or`
//! branch and the first mistake is the one reported. `serde_json::Value` sorts keys.

use serde::de::{Deserialize, Deserializer, MapAccess, SeqAccess, Visitor};
use std::fmt;

#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Json {
    Null,
    Bool(bool),
    Number(f64),
    String(String),
    Array(Vec<Json>),
    Object(Vec<(String, Json)>),
}

impl Json {
    pub(crate) fn parse(text: &str) -> Result<Self, serde_json::Error> {
        serde_json::from_str(text)
    }

    /// How the token reads in SNS's messages ("Invalid member in numeric match: 1"): scalars as
    /// JSON, containers by their opening bracket, as a streaming parser sees them.
    pub(crate) fn token_text(&self) -> String {
        match self {
            Json::Null => "null".to_owned(),
            Json::Bool(value) => value.to_string(),
            Json::Number(value) => number_text(*value),
            Json::String(value) => value.clone(),
            Json::Array(_) => "[".to_owned(),
            Json::Object(_) => "{".to_owned(),
        }
    }
}

/// A number as a person would write it: `1`, `2.5`, `1e300`.
pub(crate) fn number_text(value: f64) -> String {
    if value != 0.0 && !(1e-5..1e16).contains(&value.abs()) {
        format!("{value:e}")
    } else {
        value.to_string()
    }
}

impl<'de> Deserialize<'de> for Json {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserializer.deserialize_any(JsonVisitor)
    }
}

struct JsonVisitor;

impl<'de> Visitor<'de> for JsonVisitor {
    type Value = Json;

    fn expecting(&self, formatter: &mut fmt::Formatter) -> fmt::Result {
        formatter.write_str("a JSON value")
    }

    fn visit_unit<E>(self) -> Result<Json, E> {
        Ok(Json::Null)
    }

    fn visit_bool<E>(self, value: bool) -> Result<Json, E> {
        Ok(Json::Bool(value))
    }

    fn visit_i64<E>(self, value: i64) -> Result<Json, E> {
        Ok(Json::Number(value as f64))
    }

    fn visit_u64<E>(self, value: u64) -> Result<Json, E> {
        Ok(Json::Number(value as f64))
    }

    fn visit_f64<E>(self, value: f64) -> Result<Json, E> {
        Ok(Json::Number(value))
    }

    fn visit_str<E>(self, value: &str) -> Result<Json, E> {
        Ok(Json::String(value.to_owned()))
    }

    fn visit_string<E>(self, value: String) -> Result<Json, E> {
        Ok(Json::String(value))
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Json, A::Error> {
        let mut items = Vec::new();
        while let Some(item) = seq.next_element()? {
            items.push(item);
        }
        Ok(Json::Array(items))
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Json, A::Error> {
        let mut entries = Vec::new();
        while let Some(entry) = map.next_entry::<String, Json>()? {
            entries.push(entry);
        }
        Ok(Json::Object(entries))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_keep_document_order_and_repeats() {
        let json = Json::parse(r#"{"b": 1, "a": [true, null], "b": "x"}"#).unwrap();
        assert_eq!(
            json,
            Json::Object(vec![
                ("b".to_owned(), Json::Number(1.0)),
                (
                    "a".to_owned(),
                    Json::Array(vec![Json::Bool(true), Json::Null])
                ),
                ("b".to_owned(), Json::String("x".to_owned())),
            ])
        );
    }

    #[test]
    fn tokens_read_as_a_streaming_parser_sees_them() {
        assert_eq!(Json::Number(1.0).token_text(), "1");
        assert_eq!(Json::Number(2.5).token_text(), "2.5");
        assert_eq!(Json::Number(1e300).token_text(), "1e300");
        assert_eq!(Json::Array(vec![]).token_text(), "[");
        assert_eq!(Json::Object(vec![]).token_text(), "{");
        assert_eq!(Json::String("<".to_owned()).token_text(), "<");
    }
}
