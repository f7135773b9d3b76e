//! SNS topic ARNs, and the event a Post Office topic carries.
//!
//! Every Post Office topic is named `<prefix>-<EVENT>` (contracts, "SNS message"), or plain
//! `<EVENT>`. Event names are upper snake case and never contain `-`, so the event is the part of
//! the name after its last `-`; a name whose last part is not an event name is not a Post Office
//! topic and carries no event.

use crate::topic::validate_event_name;

/// A borrowed, split `arn:PARTITION:sns:REGION:ACCOUNT:NAME`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TopicArn<'a> {
    partition: &'a str,
    region: &'a str,
    account: &'a str,
    name: &'a str,
}

impl<'a> TopicArn<'a> {
    /// `None` unless `arn` has six `:`-separated parts, service `sns`, and non-empty partition,
    /// region, account and name (a name never contains `:`).
    pub fn parse(arn: &'a str) -> Option<Self> {
        let mut parts = arn.splitn(6, ':');
        let (Some("arn"), Some(partition), Some("sns"), Some(region), Some(account), Some(name)) = (
            parts.next(),
            parts.next(),
            parts.next(),
            parts.next(),
            parts.next(),
            parts.next(),
        ) else {
            return None;
        };
        let filled = [partition, region, account, name]
            .iter()
            .all(|part| !part.is_empty());
        (filled && !name.contains(':')).then_some(Self {
            partition,
            region,
            account,
            name,
        })
    }

    pub fn partition(&self) -> &'a str {
        self.partition
    }

    pub fn region(&self) -> &'a str {
        self.region
    }

    pub fn account(&self) -> &'a str {
        self.account
    }

    pub fn name(&self) -> &'a str {
        self.name
    }

    /// The event of a Post Office topic: `COOKING_REQUESTED` for `postoffice-COOKING_REQUESTED`
    /// or `COOKING_REQUESTED`; `None` when the name does not end in an event name.
    pub fn event(&self) -> Option<&'a str> {
        let event = self.name.rsplit('-').next().unwrap_or(self.name);
        validate_event_name(event).ok().map(|()| event)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn post_office_topics_name_their_event() {
        let arn =
            TopicArn::parse("arn:aws:sns:eu-west-1:123456789012:postoffice-COOKING_REQUESTED")
                .unwrap();
        assert_eq!(arn.partition(), "aws");
        assert_eq!(arn.region(), "eu-west-1");
        assert_eq!(arn.account(), "123456789012");
        assert_eq!(arn.name(), "postoffice-COOKING_REQUESTED");
        assert_eq!(arn.event(), Some("COOKING_REQUESTED"));
        let cases = [
            (
                "arn:aws-cn:sns:cn-north-1:123456789012:COOKING_REPLIED",
                Some("COOKING_REPLIED"),
            ),
            (
                "arn:aws:sns:eu-west-1:123456789012:my-app-FIRMWARE_UPDATE_OFFERED",
                Some("FIRMWARE_UPDATE_OFFERED"),
            ),
            (
                "arn:aws:sns:eu-west-1:123456789012:postoffice-cooking_requested",
                None,
            ),
            (
                "arn:aws:sns:eu-west-1:123456789012:publish-and-verify-5fb75652a04e",
                None,
            ),
            ("arn:aws:sns:eu-west-1:123456789012:postoffice-", None),
            (
                "arn:aws:sns:eu-west-1:123456789012:postoffice-COOKING_REQUESTED.fifo",
                None,
            ),
        ];
        for (arn, event) in cases {
            assert_eq!(TopicArn::parse(arn).unwrap().event(), event, "{arn}");
        }
    }

    #[test]
    fn only_sns_topic_arns_parse() {
        for bad in [
            "",
            "postoffice-COOKING_REQUESTED",
            "arn:aws:sqs:eu-west-1:123456789012:queue",
            "arn:aws:sns:eu-west-1:123456789012:",
            "arn:aws:sns::123456789012:topic",
            "arn:aws:sns:eu-west-1::topic",
            "arn::sns:eu-west-1:123456789012:topic",
            "arn:aws:sns:eu-west-1:123456789012:topic:subscription-id",
            "urn:aws:sns:eu-west-1:123456789012:topic",
        ] {
            assert_eq!(TopicArn::parse(bad), None, "{bad}");
        }
    }
}
