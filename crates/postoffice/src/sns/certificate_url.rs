//! The `SigningCertURL` policy, applied before anything is fetched: whoever controls the
//! certificate controls what verifies, so only genuine SNS certificate locations are accepted,
//! and only the one of the topic's own region and partition. The issuer URL policy does the same
//! for the intermediate certificates a chain of trust may need (Amazon Trust Services only).

use std::fmt;

use url::{Host, Url};

use super::topic_arn::TopicArn;

/// A `SigningCertURL` that passed the policy: `https://sns.<region>.amazonaws.com[.cn]/SimpleNotificationService-<id>.pem`.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct CertificateUrl(String);

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CertificateUrlError {
    #[error("SigningCertURL contains {0}, which a genuine SNS URL never does")]
    SuspiciousCharacter(&'static str),
    #[error("SigningCertURL is not a URL: {0}")]
    NotAUrl(String),
    #[error("SigningCertURL scheme is {0:?}; only https is trusted")]
    NotHttps(String),
    #[error("SigningCertURL carries user information")]
    UserInfo,
    #[error("SigningCertURL names port {0}; only the default https port is trusted")]
    Port(u16),
    #[error("SigningCertURL carries a query")]
    Query,
    #[error("SigningCertURL carries a fragment")]
    Fragment,
    #[error(
        "SigningCertURL host {0:?} is not sns.<region>.amazonaws.com or sns.<region>.amazonaws.com.cn"
    )]
    NotSnsHost(String),
    #[error("SigningCertURL path {0:?} is not /SimpleNotificationService-<id>.pem")]
    NotSnsCertificatePath(String),
    /// SNS signs with the certificate of the topic's region, so any other SNS host is someone
    /// asking us to fetch on their behalf.
    #[error(
        "SigningCertURL is not under https://sns.<region>.<domain>/ of the TopicArn's region and partition"
    )]
    NotTopicRegion,
    #[error("TopicArn is not an SNS topic ARN, so no SigningCertURL can be checked against it")]
    NotATopicArn,
}

impl CertificateUrl {
    pub fn parse(raw: &str) -> Result<Self, CertificateUrlError> {
        // Percent-encoding, backslashes and '@' are how lookalike URLs fool parsers that disagree
        // with the HTTP client; SNS never uses them, so refuse before parsing.
        for (needle, name) in [
            ('%', "percent-encoding"),
            ('\\', "a backslash"),
            ('@', "an '@'"),
        ] {
            if raw.contains(needle) {
                return Err(CertificateUrlError::SuspiciousCharacter(name));
            }
        }
        if raw.chars().any(|c| c.is_whitespace() || c.is_control()) {
            return Err(CertificateUrlError::SuspiciousCharacter(
                "whitespace or a control character",
            ));
        }
        let url =
            Url::parse(raw).map_err(|error| CertificateUrlError::NotAUrl(error.to_string()))?;
        if url.scheme() != "https" {
            return Err(CertificateUrlError::NotHttps(url.scheme().to_owned()));
        }
        if !url.username().is_empty() || url.password().is_some() {
            return Err(CertificateUrlError::UserInfo);
        }
        if let Some(port) = url.port() {
            return Err(CertificateUrlError::Port(port));
        }
        if url.query().is_some() {
            return Err(CertificateUrlError::Query);
        }
        if url.fragment().is_some() {
            return Err(CertificateUrlError::Fragment);
        }
        match url.host() {
            Some(Host::Domain(host)) if is_sns_host(host) => {}
            Some(host) => return Err(CertificateUrlError::NotSnsHost(host.to_string())),
            None => return Err(CertificateUrlError::NotSnsHost(String::new())),
        }
        if !is_sns_certificate_path(url.path()) {
            return Err(CertificateUrlError::NotSnsCertificatePath(
                url.path().to_owned(),
            ));
        }
        Ok(Self(url.into()))
    }

    /// The normalised URL: what is fetched and what the cache is keyed by.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for CertificateUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// Checks that `raw_url` starts with the SNS host of `topic_arn`'s region and partition,
/// exactly as SNS writes it: `https://sns.<region>.amazonaws.com/` (`.amazonaws.com.cn` in
/// `aws-cn`). A string comparison, no parsing: it runs on every message.
pub fn check_topic_region(raw_url: &str, topic_arn: &str) -> Result<(), CertificateUrlError> {
    let topic = TopicArn::parse(topic_arn).ok_or(CertificateUrlError::NotATopicArn)?;
    let domain = match topic.partition() {
        "aws" | "aws-us-gov" => "amazonaws.com",
        "aws-cn" => "amazonaws.com.cn",
        _ => return Err(CertificateUrlError::NotTopicRegion),
    };
    let after_host = raw_url
        .strip_prefix("https://sns.")
        .and_then(|rest| rest.strip_prefix(topic.region()))
        .and_then(|rest| rest.strip_prefix('.'))
        .and_then(|rest| rest.strip_prefix(domain));
    match after_host {
        Some(rest) if rest.starts_with('/') || rest.starts_with(":443/") => Ok(()),
        _ => Err(CertificateUrlError::NotTopicRegion),
    }
}

/// Where an intermediate certificate of a signing certificate's chain may be fetched from: the
/// certificate's "CA Issuers" address, when it is an Amazon Trust Services one,
/// `http(s)://crt.<name>.amazontrust.com/<file>.cer|.crt` (e.g.
/// `http://crt.sca1b.amazontrust.com/sca1b.crt`). What is fetched there is trusted only if it
/// chains to Amazon's roots, so plain HTTP is as good as HTTPS here.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct IssuerUrl(String);

impl IssuerUrl {
    pub fn parse(raw: &str) -> Result<Self, String> {
        if raw.len() > 256 || raw.contains(['%', '\\', '@']) || raw.chars().any(char::is_whitespace)
        {
            return Err("issuer URL is not a plain Amazon Trust Services URL".into());
        }
        let url = Url::parse(raw).map_err(|error| format!("issuer URL is not a URL: {error}"))?;
        let host_ok = matches!(url.host(), Some(Host::Domain(host)) if host
            .strip_prefix("crt.")
            .and_then(|rest| rest.strip_suffix(".amazontrust.com"))
            .is_some_and(|name| !name.is_empty() && name.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit())));
        let file_ok = url
            .path()
            .strip_prefix('/')
            .and_then(|file| {
                file.strip_suffix(".cer")
                    .or_else(|| file.strip_suffix(".crt"))
            })
            .is_some_and(|name| {
                (1..=64).contains(&name.len())
                    && name
                        .bytes()
                        .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
            });
        let plain = matches!(url.scheme(), "http" | "https")
            && url.username().is_empty()
            && url.password().is_none()
            && url.port().is_none()
            && url.query().is_none()
            && url.fragment().is_none();
        if plain && host_ok && file_ok {
            Ok(Self(url.into()))
        } else {
            Err("issuer URL is not http(s)://crt.<name>.amazontrust.com/<file>.cer|.crt".into())
        }
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for IssuerUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

fn is_sns_host(host: &str) -> bool {
    let Some(rest) = host.strip_prefix("sns.") else {
        return false;
    };
    let region = rest
        .strip_suffix(".amazonaws.com")
        .or_else(|| rest.strip_suffix(".amazonaws.com.cn"));
    region.is_some_and(is_region)
}

/// `us-east-2`, `cn-north-1`, `us-gov-west-1`, `ap-southeast-5`: lowercase words joined by
/// hyphens, ending in a number.
fn is_region(region: &str) -> bool {
    let parts: Vec<&str> = region.split('-').collect();
    let Some((number, words)) = parts.split_last() else {
        return false;
    };
    words.len() >= 2
        && words
            .iter()
            .all(|word| !word.is_empty() && word.bytes().all(|b| b.is_ascii_lowercase()))
        && (1..=2).contains(&number.len())
        && number.bytes().all(|b| b.is_ascii_digit())
}

fn is_sns_certificate_path(path: &str) -> bool {
    path.strip_prefix("/SimpleNotificationService-")
        .and_then(|rest| rest.strip_suffix(".pem"))
        .is_some_and(|id| {
            (1..=128).contains(&id.len())
                && id
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    const GENUINE: &str = "https://sns.us-east-2.amazonaws.com/SimpleNotificationService-7ff5318490ec183fbaddaa2a969abfda.pem";

    #[test]
    fn genuine_sns_urls_are_accepted() {
        for url in [
            GENUINE,
            "https://sns.cn-north-1.amazonaws.com.cn/SimpleNotificationService-abc.pem",
            "https://sns.us-gov-west-1.amazonaws.com/SimpleNotificationService-abc.pem",
            "https://sns.eu-west-1.amazonaws.com:443/SimpleNotificationService-abc.pem",
        ] {
            let parsed = CertificateUrl::parse(url).unwrap_or_else(|e| panic!("{url}: {e}"));
            assert!(parsed.as_str().starts_with("https://sns."));
        }
    }

    #[test]
    fn default_port_is_normalised_away() {
        let parsed = CertificateUrl::parse(
            "https://sns.eu-west-1.amazonaws.com:443/SimpleNotificationService-abc.pem",
        )
        .unwrap();
        assert_eq!(
            parsed.as_str(),
            "https://sns.eu-west-1.amazonaws.com/SimpleNotificationService-abc.pem"
        );
    }

    #[test]
    fn lookalikes_are_rejected_with_a_reason() {
        use CertificateUrlError as E;
        type Expectation = fn(&E) -> bool;
        let cases: &[(&str, Expectation)] = &[
            (
                "http://sns.us-east-1.amazonaws.com/SimpleNotificationService-a.pem",
                |e| matches!(e, E::NotHttps(s) if s == "http"),
            ),
            (
                "https://sns.us-east-1.amazonaws.com.evil.com/SimpleNotificationService-a.pem",
                |e| matches!(e, E::NotSnsHost(_)),
            ),
            (
                "https://evilamazonaws.com/SimpleNotificationService-a.pem",
                |e| matches!(e, E::NotSnsHost(_)),
            ),
            (
                "https://sns.amazonaws.com@evil.com/SimpleNotificationService-a.pem",
                |e| matches!(e, E::SuspiciousCharacter(_)),
            ),
            (
                "https://sns.us-east-1.amazonaws%2Ecom/SimpleNotificationService-a.pem",
                |e| matches!(e, E::SuspiciousCharacter(_)),
            ),
            (
                "https://sns.us-east-1.amazonaws.com/SimpleNotificationService-%2e%2e.pem",
                |e| matches!(e, E::SuspiciousCharacter(_)),
            ),
            (
                "https://sns.us-east-1.amazonaws.com\\@evil.com/SimpleNotificationService-a.pem",
                |e| matches!(e, E::SuspiciousCharacter(_)),
            ),
            (
                "https://sns.us-east-1.amazonaws.com:8443/SimpleNotificationService-a.pem",
                |e| matches!(e, E::Port(8443)),
            ),
            (
                "https://sns.us-east-1.amazonaws.com/SimpleNotificationService-a.pem?x=1",
                |e| matches!(e, E::Query),
            ),
            (
                "https://sns.us-east-1.amazonaws.com/SimpleNotificationService-a.pem#x",
                |e| matches!(e, E::Fragment),
            ),
            ("https://sns.us-east-1.amazonaws.com/evil.pem", |e| {
                matches!(e, E::NotSnsCertificatePath(_))
            }),
            (
                "https://sns.us-east-1.amazonaws.com/x/SimpleNotificationService-a.pem",
                |e| matches!(e, E::NotSnsCertificatePath(_)),
            ),
            (
                "https://sns.us-east-1.amazonaws.com./SimpleNotificationService-a.pem",
                |e| matches!(e, E::NotSnsHost(_)),
            ),
            (
                "https://sns.amazonaws.com/SimpleNotificationService-a.pem",
                |e| matches!(e, E::NotSnsHost(_)),
            ),
            (
                "https://sns.evil.amazonaws.com/SimpleNotificationService-a.pem",
                |e| matches!(e, E::NotSnsHost(_)),
            ),
            (
                "https://sqs.us-east-1.amazonaws.com/SimpleNotificationService-a.pem",
                |e| matches!(e, E::NotSnsHost(_)),
            ),
            ("https://1.2.3.4/SimpleNotificationService-a.pem", |e| {
                matches!(e, E::NotSnsHost(_))
            }),
            (
                "https://sns.us-east-1.amazonaws.com /SimpleNotificationService-a.pem",
                |e| matches!(e, E::SuspiciousCharacter(_)),
            ),
            ("not a url", |e| matches!(e, E::SuspiciousCharacter(_))),
            ("sns.us-east-1.amazonaws.com", |e| {
                matches!(e, E::NotAUrl(_))
            }),
            (crate::sns::LOCAL_SIGNING_CERT_URL, |e| {
                matches!(e, E::NotSnsHost(_))
            }),
        ];
        for (url, expected) in cases {
            let error = CertificateUrl::parse(url).expect_err(url);
            assert!(expected(&error), "{url}: unexpected {error:?}");
            assert!(!error.to_string().is_empty());
        }
    }

    #[test]
    fn the_certificate_url_must_be_the_sns_host_of_the_topic_region() {
        let topic = "arn:aws:sns:us-east-2:123456789012:postoffice-COOKING_REQUESTED";
        assert_eq!(check_topic_region(GENUINE, topic), Ok(()));
        assert_eq!(
            check_topic_region(
                "https://sns.us-east-2.amazonaws.com:443/SimpleNotificationService-a.pem",
                topic
            ),
            Ok(())
        );
        assert_eq!(
            check_topic_region(
                "https://sns.cn-north-1.amazonaws.com.cn/SimpleNotificationService-a.pem",
                "arn:aws-cn:sns:cn-north-1:123456789012:postoffice-X"
            ),
            Ok(())
        );
        let refused = [
            (
                "https://sns.eu-west-1.amazonaws.com/SimpleNotificationService-a.pem",
                topic,
            ),
            (
                "https://sns.us-east-20.amazonaws.com/SimpleNotificationService-a.pem",
                topic,
            ),
            (
                "https://sns.us-east-2.amazonaws.com.cn/SimpleNotificationService-a.pem",
                topic,
            ),
            (
                "https://sns.us-east-2.amazonaws.com.evil.com/SimpleNotificationService-a.pem",
                topic,
            ),
            (
                "http://sns.us-east-2.amazonaws.com/SimpleNotificationService-a.pem",
                topic,
            ),
            (
                "https://sns.us-east-2.amazonaws.com/SimpleNotificationService-a.pem",
                "arn:aws-cn:sns:us-east-2:123456789012:t",
            ),
            (
                "https://sns.us-east-2.amazonaws.com/SimpleNotificationService-a.pem",
                "arn:aws-iso:sns:us-east-2:123456789012:t",
            ),
        ];
        for (url, topic) in refused {
            assert_eq!(
                check_topic_region(url, topic),
                Err(CertificateUrlError::NotTopicRegion),
                "{url} for {topic}"
            );
        }
        assert_eq!(
            check_topic_region(GENUINE, "postoffice-COOKING_REQUESTED"),
            Err(CertificateUrlError::NotATopicArn)
        );
    }

    #[test]
    fn issuer_urls_are_amazon_trust_services_files_only() {
        for good in [
            "http://crt.sca1b.amazontrust.com/sca1b.crt",
            "http://crt.r2m02.amazontrust.com/r2m02.cer",
            "https://crt.rootca1.amazontrust.com/rootca1.cer",
        ] {
            assert_eq!(IssuerUrl::parse(good).unwrap().as_str(), good);
        }
        for bad in [
            "http://crt.sca1b.amazontrust.com.evil.com/sca1b.crt",
            "http://evil.com/sca1b.crt",
            "http://crt.amazontrust.com/sca1b.crt",
            "ftp://crt.sca1b.amazontrust.com/sca1b.crt",
            "http://crt.sca1b.amazontrust.com:8080/sca1b.crt",
            "http://crt.sca1b.amazontrust.com/x/sca1b.crt",
            "http://crt.sca1b.amazontrust.com/sca1b.pem",
            "http://crt.sca1b.amazontrust.com/sca1b.crt?x=1",
            "http://user@crt.sca1b.amazontrust.com/sca1b.crt",
            "http://crt.sca1b.amazontrust.com/%2e%2e.crt",
        ] {
            assert!(IssuerUrl::parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn regions_have_words_and_a_number() {
        assert!(is_region("us-east-2"));
        assert!(is_region("us-gov-west-1"));
        assert!(is_region("cn-north-1"));
        assert!(!is_region("east-"));
        assert!(!is_region("us-east"));
        assert!(!is_region("us-east-123"));
        assert!(!is_region("US-EAST-1"));
        assert!(!is_region("us--1"));
        assert!(!is_region("1"));
    }
}
