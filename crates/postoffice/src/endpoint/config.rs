//! The endpoint's configuration, read from the environment and validated once at cold start.
//!
//! The bridge and every handler that embeds the endpoint read the same variables. A bad value
//! stops the cold start with an error naming the variable, so a misconfigured endpoint never
//! answers SNS at all (SNS keeps retrying, then dead-letters).

use std::path::PathBuf;
use std::time::Duration;

use crate::sns::{SignatureVersion, TopicArn};

pub const ALLOWED_TOPIC_ARNS: &str = "POSTOFFICE_ALLOWED_TOPIC_ARNS";
pub const INVOKE_TIMEOUT_MS: &str = "POSTOFFICE_INVOKE_TIMEOUT_MS";
pub const MAX_MESSAGE_AGE_SECONDS: &str = "POSTOFFICE_MAX_MESSAGE_AGE_SECONDS";
pub const LOCAL_TRUSTED_CERT: &str = "POSTOFFICE_LOCAL_TRUSTED_CERT";
pub const MIN_SIGNATURE_VERSION: &str = "POSTOFFICE_MIN_SIGNATURE_VERSION";
/// The consumer's redrive topic (`<prefix>-<consumer>-redrive`), one of the allowed topics: it
/// carries the consumer's own events, republished by `postoffice dlq redrive`.
pub const REDRIVE_TOPIC_ARN: &str = crate::handler::REDRIVE_TOPIC_ARN_ENV;

/// SNS waits 15 s for an HTTP(S) endpoint's answer; the handler must finish before that, or SNS
/// counts the delivery as failed while the endpoint still waits.
pub const SNS_RESPONSE_LIMIT: Duration = Duration::from_secs(15);
/// How long after a request arrives the endpoint answers at the latest, whatever it is waiting
/// for (a certificate fetch, the handler): SNS's limit less a second for the way to SNS and back.
pub const RESPONSE_DEADLINE: Duration = Duration::from_secs(14);
pub const DEFAULT_INVOKE_TIMEOUT: Duration = Duration::from_secs(10);
/// Every Post Office topic signs with version 2 (SHA256withRSA); version 1 (SHA-1) only when
/// configured.
pub const DEFAULT_MIN_SIGNATURE_VERSION: SignatureVersion = SignatureVersion::V2;
/// Longer than the hour over which the platform's delivery policy spreads SNS retries, so a
/// genuine retry is never mistaken for a replay.
pub const DEFAULT_MAX_MESSAGE_AGE: Duration = Duration::from_secs(3 * 3600);
const MIN_MAX_MESSAGE_AGE: Duration = Duration::from_secs(60);
const MAX_MAX_MESSAGE_AGE: Duration = Duration::from_secs(14 * 24 * 3600);

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EndpointConfig {
    pub allowed_topics: AllowedTopics,
    /// The longest the handler may take (`POSTOFFICE_INVOKE_TIMEOUT_MS`: a Lambda invoke for the
    /// bridge, a call in the process for an embedded endpoint); the request's
    /// [`RESPONSE_DEADLINE`] may cut it shorter when verifying took a while.
    pub handler_timeout: Duration,
    /// Notifications published longer ago than this are refused (400, so SNS dead-letters
    /// them): a signed message stays verifiable for the certificate's lifetime, and this bounds
    /// how long a captured one could be replayed.
    pub max_message_age: Duration,
    /// PEM file of the local post office's signing certificate. Unset in AWS.
    pub local_trusted_cert: Option<PathBuf>,
    pub min_signature_version: SignatureVersion,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ConfigError {
    #[error("{0} is not set")]
    Missing(&'static str),
    #[error("{var} is invalid: {reason}")]
    Invalid { var: &'static str, reason: String },
}

pub(crate) fn invalid(var: &'static str, reason: impl Into<String>) -> ConfigError {
    ConfigError::Invalid {
        var,
        reason: reason.into(),
    }
}

impl EndpointConfig {
    pub fn from_env() -> Result<Self, ConfigError> {
        Self::from_lookup(|name| std::env::var(name).ok())
    }

    /// Reads the configuration through `lookup` (variable name → value), so tests need no
    /// process environment.
    pub fn from_lookup(lookup: impl Fn(&str) -> Option<String>) -> Result<Self, ConfigError> {
        let present = |name: &'static str| lookup(name).filter(|value| !value.trim().is_empty());

        let allowed_topics = AllowedTopics::parse_with_redrive(
            &present(ALLOWED_TOPIC_ARNS).ok_or(ConfigError::Missing(ALLOWED_TOPIC_ARNS))?,
            present(REDRIVE_TOPIC_ARN).as_deref().map(str::trim),
        )?;

        let handler_timeout = match present(INVOKE_TIMEOUT_MS) {
            None => DEFAULT_INVOKE_TIMEOUT,
            Some(value) => Duration::from_millis(parse_number(INVOKE_TIMEOUT_MS, &value)?),
        };
        if handler_timeout.is_zero() || handler_timeout >= SNS_RESPONSE_LIMIT {
            return Err(invalid(
                INVOKE_TIMEOUT_MS,
                format!(
                    "{} ms must be above 0 and below SNS's {} ms response limit",
                    handler_timeout.as_millis(),
                    SNS_RESPONSE_LIMIT.as_millis()
                ),
            ));
        }

        let max_message_age = match present(MAX_MESSAGE_AGE_SECONDS) {
            None => DEFAULT_MAX_MESSAGE_AGE,
            Some(value) => Duration::from_secs(parse_number(MAX_MESSAGE_AGE_SECONDS, &value)?),
        };
        if !(MIN_MAX_MESSAGE_AGE..=MAX_MAX_MESSAGE_AGE).contains(&max_message_age) {
            return Err(invalid(
                MAX_MESSAGE_AGE_SECONDS,
                format!(
                    "{} s must be between {} s and {} s",
                    max_message_age.as_secs(),
                    MIN_MAX_MESSAGE_AGE.as_secs(),
                    MAX_MAX_MESSAGE_AGE.as_secs()
                ),
            ));
        }

        let local_trusted_cert = present(LOCAL_TRUSTED_CERT).map(|path| PathBuf::from(path.trim()));

        let min_signature_version = match present(MIN_SIGNATURE_VERSION) {
            None => DEFAULT_MIN_SIGNATURE_VERSION,
            Some(value) => SignatureVersion::parse(value.trim()).ok_or_else(|| {
                invalid(
                    MIN_SIGNATURE_VERSION,
                    format!(
                        "{value:?} is not a SignatureVersion: 1 (SHA1withRSA) or 2 (SHA256withRSA)"
                    ),
                )
            })?,
        };

        Ok(Self {
            allowed_topics,
            handler_timeout,
            max_message_age,
            local_trusted_cert,
            min_signature_version,
        })
    }
}

fn parse_number(var: &'static str, value: &str) -> Result<u64, ConfigError> {
    value
        .trim()
        .parse()
        .map_err(|_| invalid(var, format!("{value:?} is not a whole number")))
}

/// The SNS topics an endpoint accepts messages from: exact ARNs, or prefixes ending in `*`.
///
/// SNS signs messages of every AWS account's topics with the same certificates, so a valid
/// signature alone says nothing about who published; this list is what keeps strangers' topics
/// out. Prefixes must therefore name at least the account (`arn:aws:sns:REGION:ACCOUNT:...*`).
///
/// Each topic carries one event, named by the topic (`<prefix>-<EVENT>`, [`TopicArn::event`]);
/// an exact entry must name one, so that a misnamed topic stops the cold start instead of
/// refusing every delivery. (A topic matched by a prefix and naming no event is accepted for
/// subscription confirmations, and none of its notifications is delivered.)
///
/// The one exception is the consumer's redrive topic ([`REDRIVE_TOPIC_ARN`]), which names no
/// event: it carries any of the events of the exact entries, and no other.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AllowedTopics {
    exact: Vec<String>,
    prefixes: Vec<String>,
    redrive: Option<String>,
}

impl AllowedTopics {
    pub fn parse(list: &str) -> Result<Self, ConfigError> {
        Self::parse_with_redrive(list, None)
    }

    /// `redrive` must be one of the exact entries of `list`, and a topic that names no event.
    pub fn parse_with_redrive(list: &str, redrive: Option<&str>) -> Result<Self, ConfigError> {
        let mut exact = Vec::new();
        let mut prefixes = Vec::new();
        let mut redrive_listed = false;
        for entry in list.split(',').map(str::trim) {
            if entry.is_empty() {
                return Err(invalid(ALLOWED_TOPIC_ARNS, "contains an empty entry"));
            }
            let (arn, is_prefix) = match entry.strip_suffix('*') {
                Some(prefix) => (prefix, true),
                None => (entry, false),
            };
            if arn.contains('*') {
                return Err(invalid(
                    ALLOWED_TOPIC_ARNS,
                    format!("{entry:?}: `*` is allowed only at the end"),
                ));
            }
            let parts: Vec<&str> = arn.splitn(6, ':').collect();
            let scoped = parts.len() == 6
                && parts[0] == "arn"
                && parts[1].starts_with("aws")
                && parts[2] == "sns"
                && !parts[3].is_empty()
                && parts[4].len() == 12
                && parts[4].bytes().all(|b| b.is_ascii_digit());
            if !scoped || (!is_prefix && parts[5].is_empty()) {
                return Err(invalid(
                    ALLOWED_TOPIC_ARNS,
                    format!(
                        "{entry:?} is not an SNS topic ARN (arn:PARTITION:sns:REGION:ACCOUNT:NAME) \
                         or a prefix of one naming at least the account"
                    ),
                ));
            }
            if is_prefix {
                prefixes.push(arn.to_owned());
            } else if Some(arn) == redrive {
                redrive_listed = true;
            } else if TopicArn::parse(arn)
                .and_then(|topic| topic.event())
                .is_none()
            {
                return Err(invalid(
                    ALLOWED_TOPIC_ARNS,
                    format!(
                        "{entry:?} does not name an event: Post Office topics are <prefix>-<EVENT> \
                         (e.g. postoffice-COOKING_REQUESTED)"
                    ),
                ));
            } else {
                exact.push(arn.to_owned());
            }
        }
        let redrive = match redrive {
            None => None,
            Some(arn) if !redrive_listed => {
                return Err(invalid(
                    REDRIVE_TOPIC_ARN,
                    format!("{arn:?} is not one of {ALLOWED_TOPIC_ARNS}"),
                ));
            }
            Some(arn)
                if TopicArn::parse(arn)
                    .and_then(|topic| topic.event())
                    .is_some() =>
            {
                return Err(invalid(
                    REDRIVE_TOPIC_ARN,
                    format!(
                        "{arn:?} names an event: a redrive topic is <prefix>-<consumer>-redrive"
                    ),
                ));
            }
            Some(arn) => Some(arn.to_owned()),
        };
        Ok(Self {
            exact,
            prefixes,
            redrive,
        })
    }

    /// Whether `topic_arn` is the consumer's redrive topic.
    pub fn is_redrive(&self, topic_arn: &str) -> bool {
        self.redrive.as_deref() == Some(topic_arn)
    }

    /// Whether a notification of `topic_arn` may carry an envelope of `event`: its topic's own
    /// event, or, on the redrive topic, one of the events of the exact entries. `Err` says why
    /// not.
    pub fn carries(&self, topic_arn: &str, event: &str) -> Result<(), String> {
        if self.is_redrive(topic_arn) {
            let events: Vec<&str> = self
                .exact
                .iter()
                .filter_map(|arn| TopicArn::parse(arn).and_then(|topic| topic.event()))
                .collect();
            return if events.contains(&event) {
                Ok(())
            } else {
                Err(format!(
                    "the redrive topic carries this consumer's events only ({})",
                    events.join(", ")
                ))
            };
        }
        match TopicArn::parse(topic_arn).and_then(|topic| topic.event()) {
            Some(topic_event) if topic_event == event => Ok(()),
            Some(topic_event) => Err(format!("topic carries {topic_event}")),
            None => Err("the topic names no event".to_owned()),
        }
    }

    pub fn allows(&self, topic_arn: &str) -> bool {
        self.is_redrive(topic_arn)
            || self.exact.iter().any(|arn| arn == topic_arn)
            || self
                .prefixes
                .iter()
                .any(|prefix| topic_arn.starts_with(prefix.as_str()))
    }
}

#[cfg(test)]
mod tests {
    use std::collections::HashMap;

    use super::*;

    const TOPIC: &str = "arn:aws:sns:eu-west-1:123456789012:postoffice-COOKING_REQUESTED";

    fn config(vars: &[(&str, &str)]) -> Result<EndpointConfig, ConfigError> {
        let vars: HashMap<String, String> = vars
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        EndpointConfig::from_lookup(|name| vars.get(name).cloned())
    }

    fn minimal() -> Vec<(&'static str, &'static str)> {
        vec![(ALLOWED_TOPIC_ARNS, TOPIC)]
    }

    #[test]
    fn defaults_apply_when_only_the_required_variables_are_set() {
        let config = config(&minimal()).unwrap();
        assert_eq!(config.handler_timeout, DEFAULT_INVOKE_TIMEOUT);
        assert_eq!(config.max_message_age, DEFAULT_MAX_MESSAGE_AGE);
        assert_eq!(config.local_trusted_cert, None);
        assert_eq!(config.min_signature_version, SignatureVersion::V2);
        assert!(config.allowed_topics.allows(TOPIC));
        assert!(!config.allowed_topics.allows(&format!("{TOPIC}X")));
    }

    #[test]
    fn required_variables_are_named_when_missing() {
        assert_eq!(config(&[]), Err(ConfigError::Missing(ALLOWED_TOPIC_ARNS)));
        assert_eq!(
            config(&[(ALLOWED_TOPIC_ARNS, "  ")]),
            Err(ConfigError::Missing(ALLOWED_TOPIC_ARNS))
        );
    }

    #[test]
    fn invoke_timeout_must_stay_below_the_sns_limit() {
        let with = |value| {
            let mut vars = minimal();
            vars.push((INVOKE_TIMEOUT_MS, value));
            config(&vars)
        };
        assert_eq!(
            with("14999").unwrap().handler_timeout,
            Duration::from_millis(14_999)
        );
        for bad in ["15000", "0", "-1", "ten", "1.5"] {
            let error = with(bad).unwrap_err();
            assert!(
                matches!(
                    error,
                    ConfigError::Invalid {
                        var: INVOKE_TIMEOUT_MS,
                        ..
                    }
                ),
                "{bad}: {error}"
            );
        }
        assert!(with("20000").unwrap_err().to_string().contains("15000 ms"));
    }

    #[test]
    fn max_message_age_is_bounded() {
        let with = |value| {
            let mut vars = minimal();
            vars.push((MAX_MESSAGE_AGE_SECONDS, value));
            config(&vars)
        };
        assert_eq!(
            with("3600").unwrap().max_message_age,
            Duration::from_secs(3600)
        );
        assert!(with("59").is_err());
        assert!(with("1209601").is_err());
        assert!(with("soon").is_err());
    }

    #[test]
    fn local_certificate_is_off_unless_set() {
        let mut vars = minimal();
        vars.push((LOCAL_TRUSTED_CERT, "/run/postoffice/local-signing.pem"));
        assert_eq!(
            config(&vars).unwrap().local_trusted_cert,
            Some(PathBuf::from("/run/postoffice/local-signing.pem"))
        );
    }

    #[test]
    fn the_minimum_signature_version_is_2_unless_set_to_1() {
        let with = |value| {
            let mut vars = minimal();
            vars.push((MIN_SIGNATURE_VERSION, value));
            config(&vars)
        };
        assert_eq!(
            with("1").unwrap().min_signature_version,
            SignatureVersion::V1
        );
        assert_eq!(
            with(" 2 ").unwrap().min_signature_version,
            SignatureVersion::V2
        );
        for bad in ["0", "3", "v2", "SHA256"] {
            let error = with(bad).unwrap_err();
            assert!(
                error.to_string().starts_with(&format!(
                    "{MIN_SIGNATURE_VERSION} is invalid: {bad:?} is not a SignatureVersion"
                )),
                "{error}"
            );
        }
    }

    #[test]
    fn exact_topics_must_name_their_event() {
        for bad in [
            "arn:aws:sns:eu-west-1:123456789012:postoffice-cooking_requested",
            "arn:aws:sns:eu-west-1:123456789012:publish-and-verify-5fb75652a04e",
        ] {
            let error = AllowedTopics::parse(bad).unwrap_err();
            assert!(
                error.to_string().contains("does not name an event"),
                "{bad}: {error}"
            );
        }
        assert!(
            AllowedTopics::parse("arn:aws:sns:eu-west-1:123456789012:COOKING_REQUESTED").is_ok()
        );
    }

    #[test]
    fn topic_prefixes_match_by_prefix_and_must_name_the_account() {
        let topics = AllowedTopics::parse(&format!(
            " {TOPIC} , arn:aws:sns:eu-west-1:123456789012:kitchen-*"
        ))
        .unwrap();
        assert!(topics.allows(TOPIC));
        assert!(topics.allows("arn:aws:sns:eu-west-1:123456789012:kitchen-COOKING_FINISHED"));
        assert!(!topics.allows("arn:aws:sns:eu-west-1:123456789012:postoffice-OTHER"));
        assert!(!topics.allows("arn:aws:sns:eu-west-1:999999999999:kitchen-COOKING_FINISHED"));

        let account_wide = AllowedTopics::parse("arn:aws:sns:eu-west-1:123456789012:*").unwrap();
        assert!(account_wide.allows(TOPIC));

        for bad in [
            "*",
            "arn:aws:sns:*",
            "arn:aws:sns:eu-west-1:*",
            "arn:aws:sns:eu-west-1:123456789012:",
            "arn:aws:sqs:eu-west-1:123456789012:queue",
            "arn:aws:sns:eu-west-1:123456789012:a*b",
            "arn:aws:sns:eu-west-1:1234:topic",
            "postoffice-COOKING_REQUESTED",
            "arn:aws:sns:eu-west-1:123456789012:a,,arn:aws:sns:eu-west-1:123456789012:b",
        ] {
            assert!(AllowedTopics::parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn the_redrive_topic_carries_the_events_of_the_exact_topics_only() {
        const FINISHED: &str = "arn:aws:sns:eu-west-1:123456789012:postoffice-COOKING_FINISHED";
        const REDRIVE: &str = "arn:aws:sns:eu-west-1:123456789012:postoffice-kitchen-redrive";
        let list = format!("{TOPIC},{FINISHED},{REDRIVE}");
        let endpoint =
            config(&[(ALLOWED_TOPIC_ARNS, &list), (REDRIVE_TOPIC_ARN, REDRIVE)]).unwrap();
        let topics = &endpoint.allowed_topics;
        assert!(topics.allows(REDRIVE) && topics.is_redrive(REDRIVE) && !topics.is_redrive(TOPIC));
        assert_eq!(topics.carries(REDRIVE, "COOKING_REQUESTED"), Ok(()));
        assert_eq!(topics.carries(REDRIVE, "COOKING_FINISHED"), Ok(()));
        assert_eq!(
            topics.carries(REDRIVE, "FIRMWARE_UPDATE_OFFERED"),
            Err("the redrive topic carries this consumer's events only (COOKING_REQUESTED, COOKING_FINISHED)".into())
        );
        assert_eq!(topics.carries(TOPIC, "COOKING_REQUESTED"), Ok(()));
        assert_eq!(
            topics.carries(TOPIC, "COOKING_FINISHED"),
            Err("topic carries COOKING_REQUESTED".into())
        );

        // Without the variable, the redrive topic is a topic that names no event.
        let error = config(&[(ALLOWED_TOPIC_ARNS, &list)]).unwrap_err();
        assert!(
            error.to_string().contains("does not name an event"),
            "{error}"
        );
        // It must be allowed, and must not be an event's topic.
        let error =
            config(&[(ALLOWED_TOPIC_ARNS, TOPIC), (REDRIVE_TOPIC_ARN, REDRIVE)]).unwrap_err();
        assert!(
            error
                .to_string()
                .starts_with(&format!("{REDRIVE_TOPIC_ARN} is invalid")),
            "{error}"
        );
        let error = config(&[(ALLOWED_TOPIC_ARNS, TOPIC), (REDRIVE_TOPIC_ARN, TOPIC)]).unwrap_err();
        assert!(error.to_string().contains("names an event"), "{error}");
    }
}
