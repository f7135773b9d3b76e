//! A JSON tree that keeps object members in order and keeps duplicates, so the parser can refuse
//! a statement with two `Effect` elements ("Individual elements must not contain multiple
//! instances of the same key", IAM policy grammar notes,
//! <https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_grammar.html>) instead of
//! silently keeping the last one as `serde_json::Value` does.

use std::fmt;

use serde::de::{Deserialize, Deserializer, MapAccess, SeqAccess, Visitor};

use crate::PolicyError;

#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Json {
    Null,
    Bool(bool),
    /// Kept as written by serde_json's formatting of the parsed number.
    Number(String),
    String(String),
    Array(Vec<Json>),
    Object(Vec<(String, Json)>),
}

impl Json {
    pub(crate) fn parse(text: &str) -> Result<Json, PolicyError> {
        serde_json::from_str(text).map_err(|error| PolicyError::Json {
            message: error.to_string(),
            line: error.line(),
            column: error.column(),
        })
    }

    pub(crate) fn kind(&self) -> &'static str {
        match self {
            Json::Null => "null",
            Json::Bool(_) => "a boolean",
            Json::Number(_) => "a number",
            Json::String(_) => "a string",
            Json::Array(_) => "an array",
            Json::Object(_) => "an object",
        }
    }

    /// The members of an object, refusing duplicate names.
    pub(crate) fn members<'a>(&'a self, path: &str) -> Result<&'a [(String, Json)], PolicyError> {
        let Json::Object(members) = self else {
            return Err(PolicyError::invalid(
                path,
                format!("must be a JSON object, not {}", self.kind()),
            ));
        };
        for (position, (key, _)) in members.iter().enumerate() {
            if members[..position]
                .iter()
                .any(|(earlier, _)| earlier == key)
            {
                return Err(PolicyError::DuplicateKey {
                    path: path.to_owned(),
                    key: key.clone(),
                });
            }
        }
        Ok(members)
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
        formatter.write_str("any JSON value")
    }

    fn visit_bool<E>(self, value: bool) -> Result<Json, E> {
        Ok(Json::Bool(value))
    }

    fn visit_i64<E>(self, value: i64) -> Result<Json, E> {
        Ok(Json::Number(value.to_string()))
    }

    fn visit_u64<E>(self, value: u64) -> Result<Json, E> {
        Ok(Json::Number(value.to_string()))
    }

    fn visit_f64<E>(self, value: f64) -> Result<Json, E> {
        Ok(Json::Number(value.to_string()))
    }

    fn visit_str<E>(self, value: &str) -> Result<Json, E> {
        Ok(Json::String(value.to_owned()))
    }

    fn visit_string<E>(self, value: String) -> Result<Json, E> {
        Ok(Json::String(value))
    }

    fn visit_unit<E>(self) -> Result<Json, E> {
        Ok(Json::Null)
    }

    fn visit_none<E>(self) -> Result<Json, E> {
        Ok(Json::Null)
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Json, A::Error> {
        let mut items = Vec::new();
        while let Some(item) = seq.next_element()? {
            items.push(item);
        }
        Ok(Json::Array(items))
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Json, A::Error> {
        let mut members = Vec::new();
        while let Some((key, value)) = map.next_entry::<String, Json>()? {
            members.push((key, value));
        }
        Ok(Json::Object(members))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn duplicate_members_are_kept_and_refused() {
        let json = Json::parse(r#"{"Effect": "Allow", "Effect": "Deny"}"#).unwrap();
        let error = json.members("Statement[0]").unwrap_err();
        assert_eq!(
            error,
            PolicyError::DuplicateKey {
                path: "Statement[0]".into(),
                key: "Effect".into()
            }
        );
    }

    #[test]
    fn invalid_json_reports_its_position() {
        let error = Json::parse("{\n  \"Version\": }").unwrap_err();
        assert!(
            matches!(error, PolicyError::Json { line: 2, .. }),
            "{error:?}"
        );
    }
}
