//! Signature Version 4, checked the way AWS checks it: every request to the local AWS endpoint
//! is signed with the credentials of a principal the local post office knows, so a Lambda can
//! act only as its own execution role.
//! (<https://docs.aws.amazon.com/IAM/latest/UserGuide/create-signed-request.html>)

use std::collections::BTreeMap;

use aws_lc_rs::{digest, hmac};
use chrono::{DateTime, NaiveDateTime, Utc};

/// How far a request's `X-Amz-Date` may be from now (AWS: 15 minutes).
const MAX_CLOCK_SKEW_SECONDS: i64 = 15 * 60;

/// The parts of an `Authorization: AWS4-HMAC-SHA256 ...` header.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Authorization {
    pub access_key_id: String,
    pub date: String,
    pub region: String,
    pub service: String,
    pub signed_headers: Vec<String>,
    pub signature: String,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SignatureError {
    #[error("Missing Authentication Token")]
    Missing,
    #[error(
        "Authorization header requires 'Credential', 'SignedHeaders' and 'Signature' parameters with algorithm AWS4-HMAC-SHA256: {0}"
    )]
    Malformed(String),
    #[error("The security token included in the request is invalid")]
    UnknownAccessKey,
    #[error("Signature expired: {0} is not within 15 minutes of the server's time")]
    Skewed(String),
    #[error("Request has expired: signed at {0}, valid for {1} s")]
    Expired(String, i64),
    #[error(
        "The request signature we calculated does not match the signature you provided. Check your AWS Secret Access Key and signing method."
    )]
    Mismatch,
}

impl Authorization {
    pub fn parse(header: &str) -> Result<Self, SignatureError> {
        let malformed = || SignatureError::Malformed(truncate(header, 200));
        let rest = header
            .strip_prefix("AWS4-HMAC-SHA256")
            .ok_or_else(malformed)?
            .trim_start();
        let mut credential = None;
        let mut signed_headers = None;
        let mut signature = None;
        for part in rest.split(',') {
            let (name, value) = part.trim().split_once('=').ok_or_else(malformed)?;
            match name {
                "Credential" => credential = Some(value),
                "SignedHeaders" => signed_headers = Some(value),
                "Signature" => signature = Some(value),
                _ => return Err(malformed()),
            }
        }
        let (credential, signed_headers, signature) = match (credential, signed_headers, signature)
        {
            (Some(c), Some(h), Some(s)) => (c, h, s),
            _ => return Err(malformed()),
        };
        let scope: Vec<&str> = credential.split('/').collect();
        let [access_key_id, date, region, service, "aws4_request"] = scope[..] else {
            return Err(malformed());
        };
        Ok(Self {
            access_key_id: access_key_id.to_owned(),
            date: date.to_owned(),
            region: region.to_owned(),
            service: service.to_owned(),
            signed_headers: signed_headers.split(';').map(str::to_owned).collect(),
            signature: signature.to_owned(),
        })
    }

    pub fn scope(&self) -> String {
        format!(
            "{}/{}/{}/aws4_request",
            self.date, self.region, self.service
        )
    }
}

/// A request as it arrived: method, the request target exactly as sent, headers and body.
pub struct SignedRequest<'a> {
    pub method: &'a str,
    /// The path as sent (percent-encoded once by the client).
    pub raw_path: &'a str,
    pub raw_query: Option<&'a str>,
    /// Lower-case header names, values in arrival order.
    pub headers: &'a BTreeMap<String, Vec<String>>,
    pub body: &'a [u8],
}

/// Checks the request's signature with `secret_access_key`, at `now`.
pub fn verify(
    request: &SignedRequest<'_>,
    authorization: &Authorization,
    secret_access_key: &str,
    now: DateTime<Utc>,
) -> Result<(), SignatureError> {
    let amz_date = header(request.headers, "x-amz-date")
        .ok_or_else(|| SignatureError::Malformed("X-Amz-Date is missing".to_owned()))?;
    let signed_at = NaiveDateTime::parse_from_str(amz_date, "%Y%m%dT%H%M%SZ")
        .map_err(|_| SignatureError::Malformed(format!("X-Amz-Date {amz_date}")))?
        .and_utc();
    if (now - signed_at).num_seconds().abs() > MAX_CLOCK_SKEW_SECONDS {
        return Err(SignatureError::Skewed(amz_date.to_owned()));
    }
    if !amz_date.starts_with(&authorization.date) {
        return Err(SignatureError::Mismatch);
    }
    let canonical = canonical_request(request, authorization);
    let string_to_sign = format!(
        "AWS4-HMAC-SHA256\n{amz_date}\n{}\n{}",
        authorization.scope(),
        hex(digest::digest(&digest::SHA256, canonical.as_bytes()).as_ref())
    );
    let key = signing_key(
        secret_access_key,
        &authorization.date,
        &authorization.region,
        &authorization.service,
    );
    let expected = hex(hmac::sign(&key, string_to_sign.as_bytes()).as_ref());
    if aws_lc_rs::constant_time::verify_slices_are_equal(
        expected.as_bytes(),
        authorization.signature.as_bytes(),
    )
    .is_ok()
    {
        Ok(())
    } else {
        Err(SignatureError::Mismatch)
    }
}

/// The longest a presigned URL may be valid (`X-Amz-Expires`, seven days).
const MAX_PRESIGNED_SECONDS: i64 = 7 * 24 * 3600;

/// The query authentication of a presigned URL: `X-Amz-Algorithm`, `X-Amz-Credential`,
/// `X-Amz-Date`, `X-Amz-SignedHeaders`, `X-Amz-Signature`, optionally `X-Amz-Expires` and
/// `X-Amz-Security-Token`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Presigned {
    pub authorization: Authorization,
    pub amz_date: String,
    pub expires_seconds: Option<i64>,
    pub security_token: Option<String>,
}

impl Presigned {
    pub fn parse(raw_query: &str) -> Result<Self, SignatureError> {
        let mut parameters = BTreeMap::new();
        for pair in raw_query.split('&').filter(|pair| !pair.is_empty()) {
            let (name, value) = pair.split_once('=').unwrap_or((pair, ""));
            parameters.insert(percent_decode(name), percent_decode(value));
        }
        let get = |name: &str| parameters.get(name).cloned();
        let Some(signature) = get("X-Amz-Signature") else {
            return Err(SignatureError::Missing);
        };
        let malformed = |what: &str| SignatureError::Malformed(format!("presigned URL: {what}"));
        if get("X-Amz-Algorithm").as_deref() != Some("AWS4-HMAC-SHA256") {
            return Err(malformed("X-Amz-Algorithm must be AWS4-HMAC-SHA256"));
        }
        let credential = get("X-Amz-Credential").ok_or_else(|| malformed("no X-Amz-Credential"))?;
        let signed_headers =
            get("X-Amz-SignedHeaders").ok_or_else(|| malformed("no X-Amz-SignedHeaders"))?;
        let authorization = Authorization::parse(&format!(
            "AWS4-HMAC-SHA256 Credential={credential}, SignedHeaders={signed_headers}, Signature={signature}"
        ))?;
        let amz_date = get("X-Amz-Date").ok_or_else(|| malformed("no X-Amz-Date"))?;
        let expires_seconds = match get("X-Amz-Expires") {
            None => None,
            Some(text) => match text.parse::<i64>() {
                Ok(seconds) if (1..=MAX_PRESIGNED_SECONDS).contains(&seconds) => Some(seconds),
                _ => return Err(malformed("X-Amz-Expires must be 1 to 604800 seconds")),
            },
        };
        Ok(Self {
            authorization,
            amz_date,
            expires_seconds,
            security_token: get("X-Amz-Security-Token"),
        })
    }
}

/// Checks an AWS IoT MQTT-over-WebSocket presigned URL: a GET signing the `host` header only,
/// with the SHA-256 of an empty payload, and, IoT's way, the session token appended to the
/// query after signing, so not part of the canonical query
/// (<https://docs.aws.amazon.com/iot/latest/developerguide/protocols.html>, "Signing MQTT over
/// WebSocket"; <https://docs.aws.amazon.com/IAM/latest/UserGuide/create-signed-request.html>,
/// temporary credentials). Valid from its date for `X-Amz-Expires` seconds, or, without it,
/// within the 15 minutes a signed request has.
pub fn verify_presigned_websocket(
    raw_path: &str,
    raw_query: &str,
    host: &str,
    presigned: &Presigned,
    secret_access_key: &str,
    now: DateTime<Utc>,
) -> Result<(), SignatureError> {
    let authorization = &presigned.authorization;
    let signed_at = NaiveDateTime::parse_from_str(&presigned.amz_date, "%Y%m%dT%H%M%SZ")
        .map_err(|_| SignatureError::Malformed(format!("X-Amz-Date {}", presigned.amz_date)))?
        .and_utc();
    let age = (now - signed_at).num_seconds();
    match presigned.expires_seconds {
        Some(expires) if age > expires => {
            return Err(SignatureError::Expired(presigned.amz_date.clone(), expires));
        }
        Some(_) if age < -MAX_CLOCK_SKEW_SECONDS => {
            return Err(SignatureError::Skewed(presigned.amz_date.clone()));
        }
        None if age.abs() > MAX_CLOCK_SKEW_SECONDS => {
            return Err(SignatureError::Skewed(presigned.amz_date.clone()));
        }
        _ => {}
    }
    if !presigned.amz_date.starts_with(&authorization.date)
        || authorization.signed_headers != ["host"]
    {
        return Err(SignatureError::Mismatch);
    }
    let unsigned_query: Vec<&str> = raw_query
        .split('&')
        .filter(|pair| {
            let name = percent_decode(pair.split('=').next().unwrap_or_default());
            name != "X-Amz-Signature" && name != "X-Amz-Security-Token"
        })
        .collect();
    let canonical = format!(
        "GET\n{}\n{}\nhost:{}\n\nhost\n{}",
        canonical_uri(raw_path, &authorization.service),
        canonical_query(&unsigned_query.join("&")),
        host.trim(),
        hex(digest::digest(&digest::SHA256, b"").as_ref())
    );
    let string_to_sign = format!(
        "AWS4-HMAC-SHA256\n{}\n{}\n{}",
        presigned.amz_date,
        authorization.scope(),
        hex(digest::digest(&digest::SHA256, canonical.as_bytes()).as_ref())
    );
    let key = signing_key(
        secret_access_key,
        &authorization.date,
        &authorization.region,
        &authorization.service,
    );
    let expected = hex(hmac::sign(&key, string_to_sign.as_bytes()).as_ref());
    aws_lc_rs::constant_time::verify_slices_are_equal(
        expected.as_bytes(),
        authorization.signature.as_bytes(),
    )
    .map_err(|_| SignatureError::Mismatch)
}

fn canonical_request(request: &SignedRequest<'_>, authorization: &Authorization) -> String {
    let payload_hash = match header(request.headers, "x-amz-content-sha256") {
        Some(declared) => declared.to_owned(),
        None => hex(digest::digest(&digest::SHA256, request.body).as_ref()),
    };
    let mut canonical_headers = String::new();
    for name in &authorization.signed_headers {
        let values: Vec<String> = request
            .headers
            .get(name)
            .map(|values| values.iter().map(|value| collapse_spaces(value)).collect())
            .unwrap_or_default();
        canonical_headers.push_str(&format!("{name}:{}\n", values.join(",")));
    }
    format!(
        "{}\n{}\n{}\n{}\n{}\n{}",
        request.method,
        canonical_uri(request.raw_path, &authorization.service),
        canonical_query(request.raw_query.unwrap_or_default()),
        canonical_headers,
        authorization.signed_headers.join(";"),
        payload_hash
    )
}

/// S3 signs the path as sent; every other service signs it encoded once more.
fn canonical_uri(raw_path: &str, service: &str) -> String {
    let path = if raw_path.is_empty() { "/" } else { raw_path };
    if service == "s3" {
        return path.to_owned();
    }
    path.split('/')
        .map(uri_encode)
        .collect::<Vec<_>>()
        .join("/")
}

fn canonical_query(raw_query: &str) -> String {
    let mut pairs: Vec<(String, String)> = raw_query
        .split('&')
        .filter(|pair| !pair.is_empty())
        .map(|pair| {
            let (name, value) = pair.split_once('=').unwrap_or((pair, ""));
            (
                uri_encode(&percent_decode(name)),
                uri_encode(&percent_decode(value)),
            )
        })
        .collect();
    pairs.sort();
    pairs
        .into_iter()
        .map(|(name, value)| format!("{name}={value}"))
        .collect::<Vec<_>>()
        .join("&")
}

fn signing_key(secret: &str, date: &str, region: &str, service: &str) -> hmac::Key {
    let step = |key: &[u8], data: &str| {
        hmac::sign(&hmac::Key::new(hmac::HMAC_SHA256, key), data.as_bytes())
    };
    let date_key = step(format!("AWS4{secret}").as_bytes(), date);
    let region_key = step(date_key.as_ref(), region);
    let service_key = step(region_key.as_ref(), service);
    let signing = step(service_key.as_ref(), "aws4_request");
    hmac::Key::new(hmac::HMAC_SHA256, signing.as_ref())
}

/// SigV4's URI encoding: unreserved characters as they are, everything else `%XX` (upper case).
pub fn uri_encode(text: &str) -> String {
    let mut encoded = String::with_capacity(text.len());
    for byte in text.bytes() {
        if byte.is_ascii_alphanumeric() || matches!(byte, b'-' | b'_' | b'.' | b'~') {
            encoded.push(byte as char);
        } else {
            encoded.push_str(&format!("%{byte:02X}"));
        }
    }
    encoded
}

pub fn percent_decode(text: &str) -> String {
    let bytes = text.as_bytes();
    let mut decoded = Vec::with_capacity(bytes.len());
    let mut index = 0;
    while index < bytes.len() {
        match bytes[index] {
            b'%' if index + 2 < bytes.len() => {
                match u8::from_str_radix(&text[index + 1..index + 3], 16) {
                    Ok(byte) => {
                        decoded.push(byte);
                        index += 3;
                    }
                    Err(_) => {
                        decoded.push(b'%');
                        index += 1;
                    }
                }
            }
            b'+' => {
                // Form encoding: a space (SigV4 canonicalises it as %20).
                decoded.push(b' ');
                index += 1;
            }
            byte => {
                decoded.push(byte);
                index += 1;
            }
        }
    }
    String::from_utf8_lossy(&decoded).into_owned()
}

fn collapse_spaces(value: &str) -> String {
    value.split_whitespace().collect::<Vec<_>>().join(" ")
}

fn header<'a>(headers: &'a BTreeMap<String, Vec<String>>, name: &str) -> Option<&'a str> {
    headers
        .get(name)
        .and_then(|values| values.first())
        .map(String::as_str)
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|byte| format!("{byte:02x}")).collect()
}

fn truncate(text: &str, max: usize) -> String {
    match text.char_indices().nth(max) {
        Some((index, _)) => format!("{}…", &text[..index]),
        None => text.to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The worked example of the SigV4 documentation ("Examples of how to derive a signing key"
    /// and the GET ListUsers example of the IAM signing pages) with the documented secret.
    #[test]
    fn the_documented_iam_example_verifies_and_a_changed_byte_does_not() {
        let mut headers = BTreeMap::new();
        headers.insert(
            "content-type".to_owned(),
            vec!["application/x-www-form-urlencoded; charset=utf-8".to_owned()],
        );
        headers.insert("host".to_owned(), vec!["iam.amazonaws.com".to_owned()]);
        headers.insert("x-amz-date".to_owned(), vec!["20150830T123600Z".to_owned()]);
        let authorization = Authorization::parse(
            "AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20150830/us-east-1/iam/aws4_request, \
             SignedHeaders=content-type;host;x-amz-date, \
             Signature=5d672d79c15b13162d9279b0855cfba6789a8edb4c82c400e06b5924a6f2b5d7",
        )
        .unwrap();
        let request = SignedRequest {
            method: "GET",
            raw_path: "/",
            raw_query: Some("Action=ListUsers&Version=2010-05-08"),
            headers: &headers,
            body: b"",
        };
        let now = "2015-08-30T12:40:00Z".parse().unwrap();
        let secret = "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY";
        verify(&request, &authorization, secret, now).unwrap();

        let tampered = SignedRequest {
            raw_query: Some("Action=ListUsers&Version=2010-05-09"),
            ..request
        };
        assert_eq!(
            verify(&tampered, &authorization, secret, now),
            Err(SignatureError::Mismatch)
        );
        let late = "2015-08-30T13:00:00Z".parse().unwrap();
        assert!(matches!(
            verify(&request, &authorization, secret, late),
            Err(SignatureError::Skewed(_))
        ));
        assert_eq!(
            verify(&request, &authorization, "another secret", now),
            Err(SignatureError::Mismatch)
        );
    }

    /// A presigned WebSocket URL made by AWS's own signer (`aws-sigv4`), with the session token
    /// excluded from the signature or not.
    fn presign(token_mode: aws_sigv4::http_request::SessionTokenMode, at: &str) -> String {
        use aws_sigv4::http_request::{
            SignableBody, SignableRequest, SignatureLocation, SigningSettings, sign,
        };
        let identity = aws_credential_types::Credentials::new(
            "ASIAEXAMPLE",
            "secret",
            Some("token/+=".to_owned()),
            None,
            "test",
        )
        .into();
        let mut settings = SigningSettings::default();
        settings.signature_location = SignatureLocation::QueryParams;
        settings.expires_in = Some(std::time::Duration::from_secs(300));
        settings.session_token_mode = token_mode;
        let at: DateTime<Utc> = at.parse().unwrap();
        let params = aws_sigv4::sign::v4::SigningParams::builder()
            .identity(&identity)
            .region("eu-west-1")
            .name("iotdevicegateway")
            .time(at.into())
            .settings(settings)
            .build()
            .unwrap()
            .into();
        let url = "https://127.0.0.1:8443/mqtt";
        let signable = SignableRequest::new(
            "GET",
            url,
            [("host", "127.0.0.1:8443")].into_iter(),
            SignableBody::Bytes(&[]),
        )
        .unwrap();
        let (instructions, _) = sign(signable, &params).unwrap().into_parts();
        let mut request = http::Request::builder().uri(url).body(()).unwrap();
        instructions.apply_to_request_http1x(&mut request);
        request.uri().query().unwrap().to_owned()
    }

    #[test]
    fn an_iot_presigned_url_verifies_with_the_token_outside_the_signature() {
        use aws_sigv4::http_request::SessionTokenMode;
        let check = |query: &str, now: &str| {
            let presigned = Presigned::parse(query)?;
            assert_eq!(presigned.security_token.as_deref(), Some("token/+="));
            verify_presigned_websocket(
                "/mqtt",
                query,
                "127.0.0.1:8443",
                &presigned,
                "secret",
                now.parse().unwrap(),
            )
        };
        let query = presign(SessionTokenMode::Exclude, "2026-12-01T10:00:00Z");
        check(&query, "2026-12-01T10:01:00Z").unwrap();
        assert!(matches!(
            check(&query, "2026-12-01T10:06:00Z"),
            Err(SignatureError::Expired(_, 300))
        ));
        assert_eq!(
            verify_presigned_websocket(
                "/mqtt",
                &query,
                "127.0.0.1:9999",
                &Presigned::parse(&query).unwrap(),
                "secret",
                "2026-12-01T10:01:00Z".parse().unwrap()
            ),
            Err(SignatureError::Mismatch)
        );
        // Signed with the token inside, as other services want it: not IoT's URL.
        let standard = presign(SessionTokenMode::Include, "2026-12-01T10:00:00Z");
        assert_eq!(
            check(&standard, "2026-12-01T10:01:00Z"),
            Err(SignatureError::Mismatch)
        );
        assert_eq!(
            Presigned::parse("X-Amz-Algorithm=AWS4-HMAC-SHA256"),
            Err(SignatureError::Missing)
        );
    }

    #[test]
    fn paths_are_encoded_once_more_except_for_s3() {
        assert_eq!(
            canonical_uri("/topics/A%2Fh-1%2Foven-1", "iotdevicegateway"),
            "/topics/A%252Fh-1%252Foven-1"
        );
        assert_eq!(canonical_uri("/bucket/a%20b", "s3"), "/bucket/a%20b");
        assert_eq!(canonical_uri("", "sns"), "/");
    }

    #[test]
    fn query_parameters_are_sorted_and_reencoded() {
        assert_eq!(canonical_query("b=2&a=x+y&a=%7e&c"), "a=x%20y&a=~&b=2&c=");
    }

    #[test]
    fn malformed_authorization_headers_are_named() {
        assert!(matches!(
            Authorization::parse("AWS4-HMAC-SHA256 Credential=AK/2015/us/iam"),
            Err(SignatureError::Malformed(_))
        ));
        assert!(Authorization::parse("Basic abc").is_err());
    }
}
