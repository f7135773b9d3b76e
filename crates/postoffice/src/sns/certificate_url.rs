//! The `SigningCertURL` policy, applied before anything is fetched: whoever controls the
//! certificate controls what verifies, so only genuine SNS certificate locations are accepted.

use std::fmt;

use url::{Host, Url};

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
