//! Topic attributes moto accepts but never returns (`SignatureVersion`, `TracingConfig`, the
//! delivery-status feedback roles, ...). Kept here as they were set and added to
//! `GetTopicAttributes` answers as SNS returns them: without them Terraform would see a change
//! on every apply, and the plan would not know a topic's signature version.

use std::collections::{BTreeMap, HashMap};
use std::sync::Mutex;

/// What moto's `GetTopicAttributes` does return.
const RETURNED_BY_MOTO: [&str; 12] = [
    "Owner",
    "Policy",
    "TopicArn",
    "DisplayName",
    "SubscriptionsPending",
    "SubscriptionsConfirmed",
    "SubscriptionsDeleted",
    "DeliveryPolicy",
    "EffectiveDeliveryPolicy",
    "KmsMasterKeyId",
    "FifoTopic",
    "ContentBasedDeduplication",
];

/// SNS's defaults for what was never set: "By default, SignatureVersion is set to 1"
/// (https://docs.aws.amazon.com/sns/latest/api/API_SetTopicAttributes.html).
const DEFAULTS: [(&str, &str); 1] = [("SignatureVersion", "1")];

#[derive(Default)]
pub struct TopicAttributes {
    topics: Mutex<HashMap<String, BTreeMap<String, String>>>,
}

impl TopicAttributes {
    /// Records `name = value` of `topic`, set by `CreateTopic` or `SetTopicAttributes`; an empty
    /// value removes it, as SNS does.
    pub fn set(&self, topic: &str, name: &str, value: &str) {
        if RETURNED_BY_MOTO.contains(&name) {
            return;
        }
        let mut topics = self.topics.lock().unwrap_or_else(|p| p.into_inner());
        let attributes = topics.entry(topic.to_owned()).or_default();
        if value.is_empty() {
            attributes.remove(name);
        } else {
            attributes.insert(name.to_owned(), value.to_owned());
        }
    }

    pub fn forget(&self, topic: &str) {
        self.topics
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .remove(topic);
    }

    /// The kept attributes of `topic`, SNS's defaults for the others.
    pub fn of(&self, topic: &str) -> BTreeMap<String, String> {
        let mut attributes: BTreeMap<String, String> = DEFAULTS
            .iter()
            .map(|(name, value)| ((*name).to_owned(), (*value).to_owned()))
            .collect();
        if let Some(kept) = self
            .topics
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .get(topic)
        {
            attributes.extend(kept.clone());
        }
        attributes
    }

    /// moto's `GetTopicAttributes` XML with the kept attributes it lacks added.
    pub fn complete_xml(&self, topic: &str, xml: &str) -> String {
        let Some(end) = xml.find("</Attributes>") else {
            return xml.to_owned();
        };
        let missing: String = self
            .of(topic)
            .into_iter()
            .filter(|(name, _)| !xml.contains(&format!("<key>{name}</key>")))
            .map(|(name, value)| {
                format!(
                    "<entry><key>{name}</key><value>{}</value></entry>",
                    escape_xml(&value)
                )
            })
            .collect();
        format!("{}{missing}{}", &xml[..end], &xml[end..])
    }
}

fn escape_xml(text: &str) -> String {
    text.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

/// The `Attributes.entry.N.key` / `.value` pairs of a `CreateTopic` request.
pub fn create_topic_attributes(parameters: &BTreeMap<String, String>) -> Vec<(String, String)> {
    parameters
        .iter()
        .filter_map(|(name, key)| {
            let index = name
                .strip_prefix("Attributes.entry.")?
                .strip_suffix(".key")?;
            let value = parameters.get(&format!("Attributes.entry.{index}.value"))?;
            Some((key.clone(), value.clone()))
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    const ARN: &str = "arn:aws:sns:eu-west-1:123456789012:postoffice-COOKING_REQUESTED";

    #[test]
    fn kept_attributes_complete_what_moto_answers() {
        let kept = TopicAttributes::default();
        kept.set(ARN, "SignatureVersion", "2");
        kept.set(ARN, "HTTPFailureFeedbackRoleArn", "arn:aws:iam::1:role/a&b");
        kept.set(ARN, "DisplayName", "moto returns this one");
        let xml = "<Attributes><entry><key>Owner</key><value>1</value></entry></Attributes>";
        let completed = kept.complete_xml(ARN, xml);
        assert_eq!(
            completed,
            "<Attributes><entry><key>Owner</key><value>1</value></entry>\
             <entry><key>HTTPFailureFeedbackRoleArn</key><value>arn:aws:iam::1:role/a&amp;b</value></entry>\
             <entry><key>SignatureVersion</key><value>2</value></entry></Attributes>"
        );
        kept.set(ARN, "HTTPFailureFeedbackRoleArn", "");
        assert!(!kept.of(ARN).contains_key("HTTPFailureFeedbackRoleArn"));
    }

    #[test]
    fn a_topic_never_given_a_signature_version_has_snss_default() {
        let kept = TopicAttributes::default();
        assert_eq!(kept.of(ARN)["SignatureVersion"], "1");
        kept.forget(ARN);
        assert_eq!(kept.of("arn:other")["SignatureVersion"], "1");
    }

    #[test]
    fn create_topic_attributes_pair_keys_with_values() {
        let parameters: BTreeMap<String, String> = [
            ("Name", "t"),
            ("Attributes.entry.1.key", "SignatureVersion"),
            ("Attributes.entry.1.value", "2"),
            ("Attributes.entry.2.key", "TracingConfig"),
            ("Attributes.entry.2.value", "Active"),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_owned(), v.to_owned()))
        .collect();
        let mut pairs = create_topic_attributes(&parameters);
        pairs.sort();
        assert_eq!(
            pairs,
            vec![
                ("SignatureVersion".to_owned(), "2".to_owned()),
                ("TracingConfig".to_owned(), "Active".to_owned())
            ]
        );
    }
}
