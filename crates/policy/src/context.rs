use std::borrow::Cow;
use std::net::IpAddr;

use crate::value::Timestamp;

/// One value of a condition key in the request context.
///
/// Operators convert when the types differ: a `String` holding `"true"` satisfies `Bool`, a
/// `Number` compares with `StringEquals` through its decimal text, and so on. A value that cannot
/// be read as the operator's type does not match.
#[derive(Debug, Clone, PartialEq)]
pub enum ContextValue {
    /// Strings and ARNs.
    String(String),
    Bool(bool),
    Number(f64),
    Date(Timestamp),
    Ip(IpAddr),
    Binary(Vec<u8>),
}

impl ContextValue {
    pub(crate) fn as_text(&self) -> Cow<'_, str> {
        match self {
            ContextValue::String(text) => Cow::Borrowed(text),
            ContextValue::Bool(true) => Cow::Borrowed("true"),
            ContextValue::Bool(false) => Cow::Borrowed("false"),
            ContextValue::Number(number) => Cow::Owned(number.to_string()),
            ContextValue::Date(date) => Cow::Owned(date.to_string()),
            ContextValue::Ip(address) => Cow::Owned(address.to_string()),
            ContextValue::Binary(bytes) => String::from_utf8_lossy(bytes),
        }
    }

    pub(crate) fn as_bool(&self) -> Option<bool> {
        match self {
            ContextValue::Bool(value) => Some(*value),
            ContextValue::String(text) => parse_bool(text),
            _ => None,
        }
    }

    pub(crate) fn as_number(&self) -> Option<f64> {
        match self {
            ContextValue::Number(number) => Some(*number),
            ContextValue::String(text) => text.trim().parse().ok(),
            _ => None,
        }
    }

    pub(crate) fn as_date(&self) -> Option<Timestamp> {
        match self {
            ContextValue::Date(date) => Some(*date),
            ContextValue::Number(seconds) if seconds.is_finite() => {
                Some(Timestamp::from_epoch_millis((seconds * 1000.0) as i64))
            }
            ContextValue::String(text) => Timestamp::parse(text),
            _ => None,
        }
    }

    pub(crate) fn as_ip(&self) -> Option<IpAddr> {
        match self {
            ContextValue::Ip(address) => Some(*address),
            ContextValue::String(text) => text.trim().parse().ok(),
            _ => None,
        }
    }

    pub(crate) fn as_bytes(&self) -> Cow<'_, [u8]> {
        match self {
            ContextValue::Binary(bytes) => Cow::Borrowed(bytes),
            ContextValue::String(text) => Cow::Borrowed(text.as_bytes()),
            other => Cow::Owned(other.as_text().into_owned().into_bytes()),
        }
    }
}

pub(crate) fn parse_bool(text: &str) -> Option<bool> {
    if text.eq_ignore_ascii_case("true") {
        Some(true)
    } else if text.eq_ignore_ascii_case("false") {
        Some(false)
    } else {
        None
    }
}

impl From<&str> for ContextValue {
    fn from(value: &str) -> Self {
        ContextValue::String(value.to_owned())
    }
}

impl From<String> for ContextValue {
    fn from(value: String) -> Self {
        ContextValue::String(value)
    }
}

impl From<bool> for ContextValue {
    fn from(value: bool) -> Self {
        ContextValue::Bool(value)
    }
}

impl From<f64> for ContextValue {
    fn from(value: f64) -> Self {
        ContextValue::Number(value)
    }
}

impl From<i64> for ContextValue {
    fn from(value: i64) -> Self {
        ContextValue::Number(value as f64)
    }
}

impl From<IpAddr> for ContextValue {
    fn from(value: IpAddr) -> Self {
        ContextValue::Ip(value)
    }
}

impl From<Timestamp> for ContextValue {
    fn from(value: Timestamp) -> Self {
        ContextValue::Date(value)
    }
}

/// The condition keys of a request: key names are case-insensitive
/// (<https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_elements_condition.html>),
/// values are kept as given. A key holds one value (single-valued keys such as
/// `aws:SourceArn`) or a set (multivalued keys such as `aws:TagKeys`); an empty set is a null
/// data set: `ForAllValues` is true over it, `ForAnyValue` false, other operators treat the key
/// as absent.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Context {
    entries: Vec<Entry>,
}

#[derive(Debug, Clone, PartialEq)]
struct Entry {
    lowercase_key: Box<str>,
    values: Vec<ContextValue>,
}

impl Context {
    pub fn new() -> Self {
        Self::default()
    }

    /// Sets a single-valued key, replacing any earlier value.
    pub fn with(mut self, key: &str, value: impl Into<ContextValue>) -> Self {
        self.insert(key, value);
        self
    }

    /// Sets a multivalued key (possibly empty), replacing any earlier value.
    pub fn with_values<V: Into<ContextValue>>(
        mut self,
        key: &str,
        values: impl IntoIterator<Item = V>,
    ) -> Self {
        self.insert_values(key, values);
        self
    }

    pub fn insert(&mut self, key: &str, value: impl Into<ContextValue>) {
        self.insert_values(key, [value.into()]);
    }

    pub fn insert_values<V: Into<ContextValue>>(
        &mut self,
        key: &str,
        values: impl IntoIterator<Item = V>,
    ) {
        let lowercase_key = lowercase(key);
        let values: Vec<ContextValue> = values.into_iter().map(Into::into).collect();
        match self
            .entries
            .iter_mut()
            .find(|entry| *entry.lowercase_key == *lowercase_key)
        {
            Some(entry) => entry.values = values,
            None => self.entries.push(Entry {
                lowercase_key: lowercase_key.into(),
                values,
            }),
        }
    }

    /// The values of a key, found whatever the case of `key`.
    pub fn get(&self, key: &str) -> Option<&[ContextValue]> {
        self.get_lowercase(&lowercase(key))
    }

    pub(crate) fn get_lowercase(&self, lowercase_key: &str) -> Option<&[ContextValue]> {
        self.entries
            .iter()
            .find(|entry| *entry.lowercase_key == *lowercase_key)
            .map(|entry| entry.values.as_slice())
    }

    pub fn contains_key(&self, key: &str) -> bool {
        self.get(key).is_some()
    }

    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }
}

pub(crate) fn lowercase(key: &str) -> Cow<'_, str> {
    if key
        .bytes()
        .any(|byte| byte.is_ascii_uppercase() || !byte.is_ascii())
    {
        Cow::Owned(key.to_lowercase())
    } else {
        Cow::Borrowed(key)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn key_names_are_case_insensitive_and_values_kept() {
        // "including the aws:SourceIP condition key is equivalent to testing for AWS:SourceIp"
        // https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_elements_condition.html
        let context = Context::new().with("aws:SourceIP", "203.0.113.7");
        assert_eq!(
            context.get("AWS:sourceip"),
            Some(&[ContextValue::from("203.0.113.7")][..])
        );
        let context = context.with("AWS:SOURCEIP", "198.51.100.1");
        assert_eq!(
            context.get("aws:SourceIp"),
            Some(&[ContextValue::from("198.51.100.1")][..])
        );
    }

    #[test]
    fn values_convert_for_typed_operators() {
        assert_eq!(ContextValue::from("TRUE").as_bool(), Some(true));
        assert_eq!(ContextValue::from("yes").as_bool(), None);
        assert_eq!(ContextValue::from(" 10 ").as_number(), Some(10.0));
        assert_eq!(ContextValue::from(true).as_text(), "true");
        assert_eq!(
            ContextValue::from("2020-01-01T00:00:00Z").as_date(),
            Some(Timestamp::from_epoch_seconds(1_577_836_800))
        );
        assert_eq!(
            ContextValue::from("10.0.0.1").as_ip(),
            Some("10.0.0.1".parse().unwrap())
        );
    }
}
