//! Function URL requests and responses, pure: the HTTP request as a payload format 2.0 event,
//! and the function's answer as an HTTP response
//! ([invoking function URLs](https://docs.aws.amazon.com/lambda/latest/dg/urls-invocation.html)).

use std::collections::BTreeMap;
use std::net::IpAddr;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as BASE64;
use bytes::Bytes;
use http::{HeaderName, HeaderValue, StatusCode};
use serde_json::{Map, Value, json};

/// The caller as the embedder authenticated it; put it in the request's extensions. Without
/// it the caller is anonymous (auth type `NONE`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FunctionUrlCaller {
    pub access_key: String,
    pub account_id: String,
    pub caller_id: String,
    pub user_arn: String,
    pub user_id: String,
    pub principal_org_id: Option<String>,
    /// For credentials of a Cognito identity pool: the identity (`cognitoIdentity`).
    pub cognito_identity: Option<CognitoIdentityContext>,
}

/// `requestContext.authorizer.iam.cognitoIdentity` of a caller signing with the credentials of
/// a Cognito identity pool.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CognitoIdentityContext {
    pub amr: Vec<String>,
    pub identity_id: String,
    pub identity_pool_id: String,
}

/// The address of the TCP peer; put it in the request's extensions (default 127.0.0.1).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SourceIp(pub IpAddr);

/// Where the function URL lives.
#[derive(Debug, Clone)]
pub struct UrlContext<'a> {
    pub url_id: &'a str,
    pub region: &'a str,
    /// The function owner's account.
    pub account_id: &'a str,
    pub request_id: &'a str,
    pub now: chrono::DateTime<chrono::Utc>,
}

/// The payload format 2.0 event for `request`.
pub fn request_event(context: &UrlContext<'_>, request: &http::Request<Bytes>) -> Value {
    let mut headers: BTreeMap<String, String> = BTreeMap::new();
    let mut cookies: Vec<String> = Vec::new();
    for (name, value) in request.headers() {
        let value = String::from_utf8_lossy(value.as_bytes()).into_owned();
        if name == http::header::COOKIE {
            cookies.extend(
                value
                    .split(';')
                    .map(str::trim)
                    .filter(|c| !c.is_empty())
                    .map(str::to_owned),
            );
            continue;
        }
        headers
            .entry(name.as_str().to_owned())
            .and_modify(|joined| {
                joined.push(',');
                joined.push_str(&value);
            })
            .or_insert(value);
    }
    let source_ip = request
        .extensions()
        .get::<SourceIp>()
        .map(|ip| ip.0.to_string())
        .unwrap_or_else(|| "127.0.0.1".to_owned());
    let domain_name = format!("{}.lambda-url.{}.on.aws", context.url_id, context.region);
    headers
        .entry("x-forwarded-for".into())
        .or_insert_with(|| source_ip.clone());
    headers
        .entry("x-forwarded-proto".into())
        .or_insert_with(|| request.uri().scheme_str().unwrap_or("http").to_owned());
    headers
        .entry("host".into())
        .or_insert_with(|| domain_name.clone());

    let raw_query = request.uri().query().unwrap_or("");
    let mut query: BTreeMap<String, String> = BTreeMap::new();
    for (key, value) in url::form_urlencoded::parse(raw_query.as_bytes()) {
        query
            .entry(key.into_owned())
            .and_modify(|joined| {
                joined.push(',');
                joined.push_str(&value);
            })
            .or_insert_with(|| value.into_owned());
    }

    let caller = request.extensions().get::<FunctionUrlCaller>();
    let authorizer = caller.map(|caller| {
        json!({ "iam": {
            "accessKey": caller.access_key,
            "accountId": caller.account_id,
            "callerId": caller.caller_id,
            "cognitoIdentity": caller.cognito_identity.as_ref().map(|identity| json!({
                "amr": identity.amr,
                "identityId": identity.identity_id,
                "identityPoolId": identity.identity_pool_id,
            })),
            "principalOrgId": caller.principal_org_id,
            "userArn": caller.user_arn,
            "userId": caller.user_id,
        }})
    });
    let user_agent = headers.get("user-agent").cloned().unwrap_or_default();
    let path = request.uri().path().to_owned();
    let mut event = json!({
        "version": "2.0",
        "routeKey": "$default",
        "rawPath": path,
        "rawQueryString": raw_query,
        "headers": headers,
        "requestContext": {
            "accountId": context.account_id,
            "apiId": context.url_id,
            "domainName": domain_name,
            "domainPrefix": context.url_id,
            "http": {
                "method": request.method().as_str(),
                "path": path,
                "protocol": protocol(request.version()),
                "sourceIp": source_ip,
                "userAgent": user_agent,
            },
            "requestId": context.request_id,
            "routeKey": "$default",
            "stage": "$default",
            "time": context.now.format("%d/%b/%Y:%H:%M:%S %z").to_string(),
            "timeEpoch": context.now.timestamp_millis(),
        },
        "isBase64Encoded": false,
    });
    let fields = event.as_object_mut().expect("an object literal");
    if let Some(authorizer) = authorizer {
        fields["requestContext"]["authorizer"] = authorizer;
    }
    if !cookies.is_empty() {
        fields.insert("cookies".into(), json!(cookies));
    }
    if !query.is_empty() {
        fields.insert("queryStringParameters".into(), json!(query));
    }
    let body = request.body();
    if !body.is_empty() {
        let content_type = request
            .headers()
            .get(http::header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok());
        match std::str::from_utf8(body) {
            Ok(text) if is_text(content_type) => {
                fields.insert("body".into(), json!(text));
            }
            _ => {
                fields.insert("body".into(), json!(BASE64.encode(body)));
                fields.insert("isBase64Encoded".into(), json!(true));
            }
        }
    }
    event
}

fn protocol(version: http::Version) -> &'static str {
    match version {
        http::Version::HTTP_10 => "HTTP/1.0",
        http::Version::HTTP_2 => "HTTP/2.0",
        http::Version::HTTP_3 => "HTTP/3.0",
        _ => "HTTP/1.1",
    }
}

/// Bodies of these types reach the function as text; everything else as base64.
fn is_text(content_type: Option<&str>) -> bool {
    let Some(content_type) = content_type else {
        return false;
    };
    let essence = content_type
        .split(';')
        .next()
        .unwrap_or("")
        .trim()
        .to_ascii_lowercase();
    essence.starts_with("text/")
        || essence.ends_with("+json")
        || essence.ends_with("+xml")
        || matches!(
            essence.as_str(),
            "application/json"
                | "application/xml"
                | "application/javascript"
                | "application/x-www-form-urlencoded"
                | "application/graphql"
        )
}

/// Why an answer cannot be turned into an HTTP response (the caller gets 502).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MalformedAnswer(pub String);

/// The HTTP response for a function's successful answer: a JSON object with `statusCode` is
/// the response itself; any other valid JSON is the body of a 200 `application/json` response.
pub fn response_from_answer(payload: &[u8]) -> Result<http::Response<Bytes>, MalformedAnswer> {
    let value: Value = serde_json::from_slice(payload)
        .map_err(|e| MalformedAnswer(format!("the answer is not JSON: {e}")))?;
    let custom = match &value {
        Value::Object(fields) if fields.contains_key("statusCode") => fields,
        _ => {
            return Ok(http::Response::builder()
                .status(StatusCode::OK)
                .header(http::header::CONTENT_TYPE, "application/json")
                .body(Bytes::copy_from_slice(payload))
                .expect("a static response"));
        }
    };
    custom_response(custom)
}

fn custom_response(fields: &Map<String, Value>) -> Result<http::Response<Bytes>, MalformedAnswer> {
    let status = fields["statusCode"]
        .as_u64()
        .and_then(|code| u16::try_from(code).ok())
        .and_then(|code| StatusCode::from_u16(code).ok())
        .ok_or_else(|| {
            MalformedAnswer(format!(
                "statusCode {} is not an HTTP status",
                fields["statusCode"]
            ))
        })?;
    let mut response = http::Response::builder().status(status);
    if let Some(headers) = fields.get("headers").filter(|h| !h.is_null()) {
        let headers = headers
            .as_object()
            .ok_or_else(|| MalformedAnswer("headers is not an object".into()))?;
        for (name, value) in headers {
            let value = match value {
                Value::String(text) => text.clone(),
                Value::Number(_) | Value::Bool(_) => value.to_string(),
                _ => return Err(MalformedAnswer(format!("header {name} is not a string"))),
            };
            let name = HeaderName::from_bytes(name.as_bytes())
                .map_err(|_| MalformedAnswer(format!("{name:?} is not a header name")))?;
            let value = HeaderValue::from_str(&value)
                .map_err(|_| MalformedAnswer(format!("header {name} has an invalid value")))?;
            response = response.header(name, value);
        }
    }
    if let Some(cookies) = fields.get("cookies").filter(|c| !c.is_null()) {
        let cookies = cookies
            .as_array()
            .ok_or_else(|| MalformedAnswer("cookies is not an array".into()))?;
        for cookie in cookies {
            let cookie = cookie
                .as_str()
                .and_then(|c| HeaderValue::from_str(c).ok())
                .ok_or_else(|| MalformedAnswer("a cookie is not a header value".into()))?;
            response = response.header(http::header::SET_COOKIE, cookie);
        }
    }
    let base64_encoded = fields
        .get("isBase64Encoded")
        .and_then(Value::as_bool)
        .unwrap_or(false);
    let body = match fields.get("body") {
        None | Some(Value::Null) => Bytes::new(),
        Some(Value::String(text)) if base64_encoded => Bytes::from(
            BASE64
                .decode(text)
                .map_err(|e| MalformedAnswer(format!("body is not base64: {e}")))?,
        ),
        Some(Value::String(text)) => Bytes::from(text.clone()),
        Some(other) => Bytes::from(other.to_string()),
    };
    response
        .body(body)
        .map_err(|e| MalformedAnswer(e.to_string()))
}

/// What the caller of a function URL gets when the invocation failed: 502, as function URLs
/// count function errors and timeouts among their 5XX
/// ([function URL metrics](https://docs.aws.amazon.com/lambda/latest/dg/urls-monitoring.html)).
pub fn function_error_response() -> http::Response<Bytes> {
    plain_response(StatusCode::BAD_GATEWAY, "Internal Server Error")
}

pub(crate) fn plain_response(status: StatusCode, message: &str) -> http::Response<Bytes> {
    http::Response::builder()
        .status(status)
        .header(http::header::CONTENT_TYPE, "application/json")
        .body(Bytes::from(json!({ "Message": message }).to_string()))
        .expect("a static response")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn context() -> UrlContext<'static> {
        UrlContext {
            url_id: "abcdefg",
            region: "eu-west-1",
            account_id: "123456789012",
            request_id: "req-1",
            now: chrono::DateTime::from_timestamp_millis(1_583_348_638_390).unwrap(),
        }
    }

    #[test]
    fn the_event_maps_headers_cookies_query_and_text_body() {
        let request = http::Request::builder()
            .method("POST")
            .uri("/my/path?parameter1=value1&parameter1=value2&parameter2=va%20lue")
            .header("Content-Type", "application/json")
            .header("User-Agent", "agent")
            .header("X-Many", "a")
            .header("X-Many", "b")
            .header("Cookie", "cookie1=1; cookie2=2")
            .body(Bytes::from_static(br#"{"k":"v"}"#))
            .unwrap();
        let event = request_event(&context(), &request);
        assert_eq!(event["version"], "2.0");
        assert_eq!(event["routeKey"], "$default");
        assert_eq!(event["rawPath"], "/my/path");
        assert_eq!(
            event["rawQueryString"],
            "parameter1=value1&parameter1=value2&parameter2=va%20lue"
        );
        assert_eq!(
            event["queryStringParameters"]["parameter1"],
            "value1,value2"
        );
        assert_eq!(event["queryStringParameters"]["parameter2"], "va lue");
        assert_eq!(event["cookies"], json!(["cookie1=1", "cookie2=2"]));
        assert_eq!(event["headers"]["x-many"], "a,b");
        assert!(event["headers"].get("cookie").is_none());
        assert_eq!(event["body"], r#"{"k":"v"}"#);
        assert_eq!(event["isBase64Encoded"], false);
        let context = &event["requestContext"];
        assert_eq!(context["apiId"], "abcdefg");
        assert_eq!(context["domainPrefix"], "abcdefg");
        assert_eq!(context["domainName"], "abcdefg.lambda-url.eu-west-1.on.aws");
        assert_eq!(context["http"]["method"], "POST");
        assert_eq!(context["http"]["protocol"], "HTTP/1.1");
        assert_eq!(context["http"]["userAgent"], "agent");
        assert_eq!(context["http"]["sourceIp"], "127.0.0.1");
        assert_eq!(context["stage"], "$default");
        assert_eq!(context["time"], "04/Mar/2020:19:03:58 +0000");
        assert_eq!(context["timeEpoch"], 1_583_348_638_390_i64);
        assert!(context.get("authorizer").is_none());
    }

    #[test]
    fn binary_bodies_are_base64_and_callers_become_the_iam_authorizer() {
        let mut request = http::Request::builder()
            .method("PUT")
            .uri("/")
            .header("Content-Type", "application/octet-stream")
            .body(Bytes::from_static(&[0, 159, 146, 150]))
            .unwrap();
        request.extensions_mut().insert(FunctionUrlCaller {
            access_key: "AKIA".into(),
            account_id: "111122223333".into(),
            caller_id: "AIDA".into(),
            user_arn: "arn:aws:iam::111122223333:user/example".into(),
            user_id: "AIDA".into(),
            principal_org_id: None,
            cognito_identity: None,
        });
        request
            .extensions_mut()
            .insert(SourceIp("10.1.2.3".parse().unwrap()));
        let event = request_event(&context(), &request);
        assert_eq!(
            event["requestContext"]["authorizer"]["iam"]["cognitoIdentity"],
            Value::Null
        );
        assert_eq!(event["isBase64Encoded"], true);
        assert_eq!(event["body"], BASE64.encode([0, 159, 146, 150]));
        assert_eq!(
            event["requestContext"]["authorizer"]["iam"]["accountId"],
            "111122223333"
        );
        assert_eq!(event["requestContext"]["http"]["sourceIp"], "10.1.2.3");
        assert!(event.get("queryStringParameters").is_none());
        assert!(event.get("cookies").is_none());
    }

    #[test]
    fn a_cognito_identity_caller_is_named_in_the_iam_authorizer() {
        let mut request = http::Request::builder()
            .method("POST")
            .uri("/")
            .body(Bytes::new())
            .unwrap();
        request.extensions_mut().insert(FunctionUrlCaller {
            access_key: "ASIA".into(),
            account_id: "111122223333".into(),
            caller_id: "AROA:CognitoIdentityCredentials".into(),
            user_arn: "arn:aws:sts::111122223333:assumed-role/app/CognitoIdentityCredentials"
                .into(),
            user_id: "AROA:CognitoIdentityCredentials".into(),
            principal_org_id: None,
            cognito_identity: Some(CognitoIdentityContext {
                amr: vec!["authenticated".into()],
                identity_id: "eu-west-1:abc".into(),
                identity_pool_id: "eu-west-1:pool".into(),
            }),
        });
        let event = request_event(&context(), &request);
        assert_eq!(
            event["requestContext"]["authorizer"]["iam"]["cognitoIdentity"],
            json!({"amr": ["authenticated"], "identityId": "eu-west-1:abc", "identityPoolId": "eu-west-1:pool"})
        );
    }

    #[test]
    fn answers_map_as_the_documentation_shows() {
        let plain = response_from_answer(br#""Hello, world!""#).unwrap();
        assert_eq!(plain.status(), 200);
        assert_eq!(plain.headers()["content-type"], "application/json");
        assert_eq!(plain.body().as_ref(), br#""Hello, world!""#);

        let object = response_from_answer(br#"{"message":"Hello, world!"}"#).unwrap();
        assert_eq!(object.status(), 200);
        assert_eq!(object.body().as_ref(), br#"{"message":"Hello, world!"}"#);

        let custom = response_from_answer(
            br#"{"statusCode":201,"headers":{"My-Custom-Header":"Custom Value"},"body":"{\"m\":1}",
                "cookies":["a=1; Max-Age=78000","b=2"],"isBase64Encoded":false}"#,
        )
        .unwrap();
        assert_eq!(custom.status(), 201);
        assert_eq!(custom.headers()["my-custom-header"], "Custom Value");
        let cookies: Vec<_> = custom.headers().get_all("set-cookie").iter().collect();
        assert_eq!(cookies, ["a=1; Max-Age=78000", "b=2"]);
        assert_eq!(custom.body().as_ref(), br#"{"m":1}"#);

        let binary =
            response_from_answer(br#"{"statusCode":200,"body":"AJ+Slg==","isBase64Encoded":true}"#)
                .unwrap();
        assert_eq!(binary.body().as_ref(), &[0, 159, 146, 150]);
    }

    #[test]
    fn malformed_answers_are_named() {
        let error = response_from_answer(b"not json").unwrap_err();
        assert!(error.0.contains("not JSON"), "{error:?}");
        let error = response_from_answer(br#"{"statusCode":"two hundred"}"#).unwrap_err();
        assert!(error.0.contains("statusCode"), "{error:?}");
        let error =
            response_from_answer(br#"{"statusCode":200,"body":"%%","isBase64Encoded":true}"#)
                .unwrap_err();
        assert!(error.0.contains("base64"), "{error:?}");
    }
}
