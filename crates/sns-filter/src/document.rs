//! The part of a message a policy can see: only the values on the way to the policy's keys,
//! kept with the arrays they sit in (array elements must agree, see `matching`).
//!
//! Keys join with `.` into paths, as SNS flattens a body before matching: `{"a": {"b": 1}}` and
//! `{"a.b": 1}` both have the value `1` at `a.b`, and arrays add no step (`{"a": [{"b": 1}]}`
//! too). The body is read once, without building what no key looks at.

use crate::message::{DataType, MessageAttributes};
use crate::pattern::Scalar;
use serde::de::{DeserializeSeed, Deserializer, IgnoredAny, MapAccess, SeqAccess, Visitor};
use std::borrow::Cow;
use std::fmt;

#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Node<'a> {
    /// A value at the policy path with this index.
    Scalar {
        path: usize,
        value: Scalar<'a>,
    },
    Array(Vec<Node<'a>>),
    Object(Vec<Node<'a>>),
}

#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Document<'a> {
    /// The root object's relevant children.
    pub(crate) root: Vec<Node<'a>>,
    /// Bit `i`: path `i` has a non-null, non-empty value somewhere ("exists": true).
    pub(crate) present: u32,
}

/// Where a key leads, relative to the policy's paths.
#[derive(Debug, Clone, Copy)]
struct Step {
    /// The index of the path the key completes.
    leaf: Option<usize>,
    /// Whether some path goes on below the key.
    deeper: bool,
}

impl Step {
    fn relevant(self) -> bool {
        self.leaf.is_some() || self.deeper
    }
}

/// `parent`: the path so far (`None` at the root).
fn step(paths: &[String], parent: Option<&str>, key: &str) -> Step {
    let mut step = Step {
        leaf: None,
        deeper: false,
    };
    for (index, path) in paths.iter().enumerate() {
        let rest = match parent {
            None => Some(path.as_str()),
            Some(parent) => path
                .strip_prefix(parent)
                .and_then(|rest| rest.strip_prefix('.')),
        };
        let Some(after_key) = rest.and_then(|rest| rest.strip_prefix(key)) else {
            continue;
        };
        if after_key.is_empty() {
            step.leaf = Some(index);
        } else if after_key.starts_with('.') {
            step.deeper = true;
        }
    }
    step
}

fn join(parent: Option<&str>, key: &str) -> String {
    match parent {
        Some(parent) => format!("{parent}.{key}"),
        None => key.to_owned(),
    }
}

/// Reads the body; `None` when it is not a JSON object ("Filter policies for the message body
/// assume that the message payload is a well-formed JSON object").
pub(crate) fn from_body<'a>(body: &'a str, paths: &[String]) -> Option<Document<'a>> {
    let mut present = 0;
    let mut deserializer = serde_json::Deserializer::from_str(body);
    let root = RootSeed {
        paths,
        present: &mut present,
    }
    .deserialize(&mut deserializer)
    .ok()??;
    deserializer.end().ok()?;
    Some(Document { root, present })
}

/// The attributes SNS compares (`String`, `String.Array`, `Number`); `None` when there are none
/// ("An empty set of attributes results in the filter not matching",
/// <https://docs.aws.amazon.com/sns/latest/dg/attribute-key-matching.html>).
pub(crate) fn from_attributes<'a>(
    attributes: &'a MessageAttributes,
    paths: &[String],
) -> Option<Document<'a>> {
    let mut compared = attributes
        .iter()
        .filter(|(_, attribute)| attribute.data_type != DataType::Binary)
        .peekable();
    compared.peek()?;
    let mut present = 0;
    let mut root = Vec::new();
    for (name, attribute) in compared {
        let Some(path) = step(paths, None, name).leaf else {
            continue;
        };
        let node = match attribute.data_type {
            DataType::String => Some(Node::Scalar {
                path,
                value: Scalar::String(double_escaped(&attribute.value)),
            }),
            DataType::Number => number(&attribute.value).map(|value| Node::Scalar {
                path,
                value: Scalar::Number(value),
            }),
            DataType::StringArray => string_array(&attribute.value, path),
            DataType::Binary => None,
        };
        if let Some(node) = node {
            mark_present(&node, &mut present);
            root.push(node);
        }
    }
    Some(Document { root, present })
}

/// SNS compares a `String` attribute with the policy as if its quotes and backslashes were
/// escaped, which is why the guide says to double-escape them in attribute policies
/// (<https://docs.aws.amazon.com/sns/latest/dg/subscription-filter-policy-constraints.html>).
fn double_escaped(value: &str) -> Cow<'_, str> {
    if value.contains(['"', '\\']) {
        Cow::Owned(value.replace('\\', "\\\\").replace('"', "\\\""))
    } else {
        Cow::Borrowed(value)
    }
}

/// A `Number` attribute's value; SNS checks it is a number when the message is published.
fn number(text: &str) -> Option<f64> {
    let text = text.trim();
    let numeric = !text.is_empty()
        && text
            .bytes()
            .all(|byte| byte.is_ascii_digit() || matches!(byte, b'+' | b'-' | b'.' | b'e' | b'E'));
    numeric
        .then(|| text.parse::<f64>().ok())
        .flatten()
        .filter(|value| value.is_finite())
}

/// A `String.Array` attribute: "an array, formatted as a string", of strings, numbers, `true`,
/// `false` and `null`; each element is matched on its own.
fn string_array(text: &str, path: usize) -> Option<Node<'static>> {
    fn node(value: serde_json::Value, path: usize) -> Option<Node<'static>> {
        let value = match value {
            serde_json::Value::String(text) => Scalar::String(Cow::Owned(text)),
            serde_json::Value::Number(number) => Scalar::Number(number.as_f64()?),
            serde_json::Value::Bool(value) => Scalar::Bool(value),
            serde_json::Value::Null => Scalar::Null,
            serde_json::Value::Array(items) => {
                let items: Vec<_> = items
                    .into_iter()
                    .filter_map(|item| node(item, path))
                    .collect();
                return (!items.is_empty()).then_some(Node::Array(items));
            }
            serde_json::Value::Object(_) => return None,
        };
        Some(Node::Scalar { path, value })
    }
    match serde_json::from_str(text).ok()? {
        array @ serde_json::Value::Array(_) => node(array, path),
        _ => None,
    }
}

fn mark_present(node: &Node<'_>, present: &mut u32) {
    match node {
        Node::Scalar { path, value } => {
            if value.is_present() {
                *present |= 1 << path;
            }
        }
        Node::Array(children) | Node::Object(children) => {
            for child in children {
                mark_present(child, present);
            }
        }
    }
}

struct RootSeed<'p, 'm> {
    paths: &'p [String],
    present: &'m mut u32,
}

impl<'de> DeserializeSeed<'de> for RootSeed<'_, '_> {
    type Value = Option<Vec<Node<'de>>>;

    fn deserialize<D: Deserializer<'de>>(self, deserializer: D) -> Result<Self::Value, D::Error> {
        deserializer.deserialize_any(RootVisitor(self))
    }
}

struct RootVisitor<'p, 'm>(RootSeed<'p, 'm>);

impl<'de> Visitor<'de> for RootVisitor<'_, '_> {
    type Value = Option<Vec<Node<'de>>>;

    fn expecting(&self, formatter: &mut fmt::Formatter) -> fmt::Result {
        formatter.write_str("a JSON object")
    }

    fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<Self::Value, A::Error> {
        let RootSeed { paths, present } = self.0;
        let mut reader = Reader { paths, present };
        reader.children(map, None).map(Some)
    }

    // Any other JSON: not an object, so no match. Declining it stops the parse early.
    fn visit_bool<E: serde::de::Error>(self, _: bool) -> Result<Self::Value, E> {
        Ok(None)
    }

    fn visit_i64<E: serde::de::Error>(self, _: i64) -> Result<Self::Value, E> {
        Ok(None)
    }

    fn visit_u64<E: serde::de::Error>(self, _: u64) -> Result<Self::Value, E> {
        Ok(None)
    }

    fn visit_f64<E: serde::de::Error>(self, _: f64) -> Result<Self::Value, E> {
        Ok(None)
    }

    fn visit_str<E: serde::de::Error>(self, _: &str) -> Result<Self::Value, E> {
        Ok(None)
    }

    fn visit_unit<E: serde::de::Error>(self) -> Result<Self::Value, E> {
        Ok(None)
    }

    fn visit_seq<A: SeqAccess<'de>>(self, _: A) -> Result<Self::Value, A::Error> {
        Err(serde::de::Error::custom("not an object"))
    }
}

struct Reader<'p, 'm> {
    paths: &'p [String],
    present: &'m mut u32,
}

impl<'de> Reader<'_, '_> {
    /// An object's children that lead to a policy path.
    fn children<A: MapAccess<'de>>(
        &mut self,
        mut map: A,
        parent: Option<&str>,
    ) -> Result<Vec<Node<'de>>, A::Error> {
        let mut children = Vec::new();
        while let Some(key) = map.next_key_seed(KeySeed)? {
            let step = step(self.paths, parent, &key);
            if !step.relevant() {
                map.next_value::<IgnoredAny>()?;
                continue;
            }
            let path = join(parent, &key);
            let child = map.next_value_seed(ValueSeed {
                reader: self,
                path: &path,
                step,
            })?;
            children.extend(child);
        }
        Ok(children)
    }
}

/// A key, borrowed from the body when it has no escapes.
struct KeySeed;

impl<'de> DeserializeSeed<'de> for KeySeed {
    type Value = Cow<'de, str>;

    fn deserialize<D: Deserializer<'de>>(self, deserializer: D) -> Result<Self::Value, D::Error> {
        deserializer.deserialize_str(StrVisitor)
    }
}

struct StrVisitor;

impl<'de> Visitor<'de> for StrVisitor {
    type Value = Cow<'de, str>;

    fn expecting(&self, formatter: &mut fmt::Formatter) -> fmt::Result {
        formatter.write_str("a string")
    }

    fn visit_borrowed_str<E>(self, value: &'de str) -> Result<Self::Value, E> {
        Ok(Cow::Borrowed(value))
    }

    fn visit_str<E>(self, value: &str) -> Result<Self::Value, E> {
        Ok(Cow::Owned(value.to_owned()))
    }

    fn visit_string<E>(self, value: String) -> Result<Self::Value, E> {
        Ok(Cow::Owned(value))
    }
}

/// A value at `path`: kept when it is a value at a policy path or leads to one.
struct ValueSeed<'r, 'p, 'm, 'k> {
    reader: &'r mut Reader<'p, 'm>,
    path: &'k str,
    step: Step,
}

impl<'de> DeserializeSeed<'de> for ValueSeed<'_, '_, '_, '_> {
    type Value = Option<Node<'de>>;

    fn deserialize<D: Deserializer<'de>>(self, deserializer: D) -> Result<Self::Value, D::Error> {
        deserializer.deserialize_any(self)
    }
}

impl ValueSeed<'_, '_, '_, '_> {
    fn scalar<'de>(self, value: Scalar<'de>) -> Option<Node<'de>> {
        let path = self.step.leaf?;
        if value.is_present() {
            *self.reader.present |= 1 << path;
        }
        Some(Node::Scalar { path, value })
    }
}

impl<'de> Visitor<'de> for ValueSeed<'_, '_, '_, '_> {
    type Value = Option<Node<'de>>;

    fn expecting(&self, formatter: &mut fmt::Formatter) -> fmt::Result {
        formatter.write_str("a JSON value")
    }

    fn visit_bool<E>(self, value: bool) -> Result<Self::Value, E> {
        Ok(self.scalar(Scalar::Bool(value)))
    }

    fn visit_i64<E>(self, value: i64) -> Result<Self::Value, E> {
        Ok(self.scalar(Scalar::Number(value as f64)))
    }

    fn visit_u64<E>(self, value: u64) -> Result<Self::Value, E> {
        Ok(self.scalar(Scalar::Number(value as f64)))
    }

    fn visit_f64<E>(self, value: f64) -> Result<Self::Value, E> {
        Ok(self.scalar(Scalar::Number(value)))
    }

    fn visit_borrowed_str<E>(self, value: &'de str) -> Result<Self::Value, E> {
        Ok(self.scalar(Scalar::String(Cow::Borrowed(value))))
    }

    fn visit_str<E>(self, value: &str) -> Result<Self::Value, E> {
        Ok(self.scalar(Scalar::String(Cow::Owned(value.to_owned()))))
    }

    fn visit_string<E>(self, value: String) -> Result<Self::Value, E> {
        Ok(self.scalar(Scalar::String(Cow::Owned(value))))
    }

    fn visit_unit<E>(self) -> Result<Self::Value, E> {
        Ok(self.scalar(Scalar::Null))
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Self::Value, A::Error> {
        // Arrays add no step to the path: each element is at the array's path.
        let mut items = Vec::new();
        while let Some(item) = seq.next_element_seed(ValueSeed {
            reader: &mut *self.reader,
            path: self.path,
            step: self.step,
        })? {
            items.extend(item);
        }
        Ok((!items.is_empty()).then_some(Node::Array(items)))
    }

    fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<Self::Value, A::Error> {
        if !self.step.deeper {
            // An object where a path ends: not a value ("exists works only on leaf nodes").
            IgnoredAny.visit_map(map)?;
            return Ok(None);
        }
        let children = self.reader.children(map, Some(self.path))?;
        Ok((!children.is_empty()).then_some(Node::Object(children)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn paths(paths: &[&str]) -> Vec<String> {
        paths.iter().map(|path| (*path).to_owned()).collect()
    }

    #[test]
    fn only_values_on_the_way_to_policy_paths_are_kept() {
        let paths = paths(&["payload.outcome"]);
        let document = from_body(
            r#"{"event": "COOKING_FINISHED", "payload": {"outcome": "failed", "cooked_s": 3}}"#,
            &paths,
        )
        .unwrap();
        assert_eq!(
            document.root,
            vec![Node::Object(vec![Node::Scalar {
                path: 0,
                value: Scalar::String(Cow::Borrowed("failed")),
            }])]
        );
        assert_eq!(document.present, 1);
    }

    #[test]
    fn dotted_keys_and_nested_keys_reach_the_same_path() {
        let paths = paths(&["a.b.c"]);
        for body in [
            r#"{"a": {"b": {"c": 1}}}"#,
            r#"{"a.b.c": 1}"#,
            r#"{"a.b": {"c": 1}}"#,
            r#"{"a": {"b.c": 1}}"#,
            r#"{"a": [{"b": [[{"c": 1}]]}]}"#,
        ] {
            let document = from_body(body, &paths).unwrap();
            assert_eq!(document.present, 1, "{body}");
        }
    }

    #[test]
    fn bodies_that_are_not_objects_are_refused() {
        let paths = paths(&["a"]);
        for body in [
            "",
            "[]",
            "\"text\"",
            "1",
            "null",
            "{\"a\": 1",
            "{\"a\": 1} x",
        ] {
            assert_eq!(from_body(body, &paths), None, "{body}");
        }
        assert!(from_body("{}", &paths).is_some());
    }

    #[test]
    fn null_and_empty_strings_are_not_present() {
        let paths = paths(&["a", "b", "c"]);
        let document = from_body(r#"{"a": null, "b": "", "c": {"d": 1}}"#, &paths).unwrap();
        assert_eq!(document.present, 0);
    }

    #[test]
    fn attributes_are_typed_values() {
        let paths = paths(&["s", "n", "list", "bin"]);
        let attributes = MessageAttributes::from([
            (
                "s".to_owned(),
                crate::MessageAttribute::string(r#"say "hi""#),
            ),
            ("n".to_owned(), crate::MessageAttribute::number("1e2")),
            (
                "list".to_owned(),
                crate::MessageAttribute::string_array(r#"["a", 5, null, ["b"]]"#),
            ),
            ("bin".to_owned(), crate::MessageAttribute::binary("AAEC")),
        ]);
        let document = from_attributes(&attributes, &paths).unwrap();
        assert_eq!(document.present, 0b111);
        assert!(document.root.contains(&Node::Scalar {
            path: 0,
            value: Scalar::String(Cow::Borrowed(r#"say \"hi\""#)),
        }));
        assert!(document.root.contains(&Node::Scalar {
            path: 1,
            value: Scalar::Number(100.0),
        }));
        let only_binary =
            MessageAttributes::from([("bin".to_owned(), crate::MessageAttribute::binary("AAEC"))]);
        assert_eq!(from_attributes(&only_binary, &paths), None);
    }
}
