//! One request to the local AWS endpoint, read the way AWS reads it: which service it is for
//! (the SigV4 credential scope), which wire protocol it speaks, and which action it asks for.

use std::collections::BTreeMap;

use axum::body::Bytes;
use axum::http::Method;
use serde_json::Value;

use super::sigv4::{Authorization, percent_decode};

/// The wire protocols of the AWS services the platform uses.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Protocol {
    /// `Action=...` form parameters (SNS, IAM, STS, CloudWatch).
    Query,
    /// `X-Amz-Target: Prefix.Action` with a JSON body (SQS, KMS, Firehose, Logs, Cognito...).
    Json,
    /// Smithy RPC v2 CBOR (`/service/S/operation/A`), which newer SDKs use for CloudWatch.
    Cbor,
    /// Resource paths and HTTP methods (Lambda, IoT, IoT data, S3).
    Rest,
}

#[derive(Debug, Clone)]
pub struct AwsRequest {
    pub method: Method,
    /// The path exactly as sent (percent-encoded).
    pub raw_path: String,
    pub raw_query: Option<String>,
    /// Lower-case names; values in arrival order.
    pub headers: BTreeMap<String, Vec<String>>,
    pub body: Bytes,
    pub authorization: Option<Authorization>,
    /// Whether it arrived over TLS (`aws:SecureTransport`).
    pub secure: bool,
}

impl AwsRequest {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .get(name)
            .and_then(|values| values.first())
            .map(String::as_str)
    }

    /// The SigV4 signing name (`sns`, `sqs`, `lambda`, `iot`, `iotdata`, ...); for the unsigned
    /// Cognito calls, the service their target names.
    pub fn service(&self) -> Option<&str> {
        match &self.authorization {
            Some(authorization) => Some(authorization.service.as_str()),
            None => self.unsigned_service(),
        }
    }

    /// The service of a call AWS accepts without a signature: the user pool API a signed-in
    /// user calls with its tokens, and the identity pool's federation
    /// (<https://docs.aws.amazon.com/cognito/latest/developerguide/user-pools-API-operations.html>,
    /// "unauthenticated"; <https://docs.aws.amazon.com/cognito/latest/developerguide/authentication-flow.html>).
    pub fn unsigned_service(&self) -> Option<&'static str> {
        let (prefix, action) = self.header("x-amz-target")?.split_once('.')?;
        match (prefix, action) {
            (
                "AWSCognitoIdentityProviderService",
                "InitiateAuth"
                | "RespondToAuthChallenge"
                | "UpdateUserAttributes"
                | "GetUser"
                | "ChangePassword"
                | "GlobalSignOut"
                | "RevokeToken"
                | "DeleteUser",
            ) => Some("cognito-idp"),
            ("AWSCognitoIdentityService", "GetId" | "GetCredentialsForIdentity") => {
                Some("cognito-identity")
            }
            _ => None,
        }
    }

    pub fn protocol(&self) -> Protocol {
        if self.header("x-amz-target").is_some() {
            Protocol::Json
        } else if self.header("smithy-protocol") == Some("rpc-v2-cbor") {
            Protocol::Cbor
        } else if self.is_form() || self.query_parameter("Action").is_some() {
            Protocol::Query
        } else {
            Protocol::Rest
        }
    }

    fn is_form(&self) -> bool {
        self.header("content-type")
            .is_some_and(|value| value.starts_with("application/x-www-form-urlencoded"))
    }

    /// Query-protocol parameters: the URL's and the form body's.
    pub fn parameters(&self) -> BTreeMap<String, String> {
        let mut parameters = BTreeMap::new();
        let mut add = |text: &str| {
            for pair in text.split('&').filter(|pair| !pair.is_empty()) {
                let (name, value) = pair.split_once('=').unwrap_or((pair, ""));
                parameters.insert(percent_decode(name), percent_decode(value));
            }
        };
        if let Some(query) = &self.raw_query {
            add(query);
        }
        if self.is_form() {
            add(&String::from_utf8_lossy(&self.body));
        }
        parameters
    }

    fn query_parameter(&self, name: &str) -> Option<String> {
        let query = self.raw_query.as_deref()?;
        query.split('&').find_map(|pair| {
            let (key, value) = pair.split_once('=')?;
            (key == name).then(|| percent_decode(value))
        })
    }

    pub fn json(&self) -> Option<Value> {
        serde_json::from_slice(&self.body).ok()
    }

    /// The decoded path segments.
    pub fn path_segments(&self) -> Vec<String> {
        self.raw_path
            .split('/')
            .filter(|segment| !segment.is_empty())
            .map(percent_decode_path)
            .collect()
    }

    /// The action's name as the service's API reference spells it, when it can be told.
    pub fn action(&self) -> Option<String> {
        match self.protocol() {
            Protocol::Query => self.parameters().get("Action").cloned(),
            Protocol::Json => self
                .header("x-amz-target")
                .and_then(|target| target.rsplit('.').next())
                .map(str::to_owned),
            Protocol::Cbor => self.raw_path.rsplit('/').next().map(str::to_owned),
            Protocol::Rest => self.rest_action(),
        }
    }

    /// The few REST actions the local post office serves or watches; `None` for the others.
    fn rest_action(&self) -> Option<String> {
        let segments = self.path_segments();
        let segments: Vec<&str> = segments.iter().map(String::as_str).collect();
        let method = self.method.as_str();
        let action = match (self.service()?, method, segments.as_slice()) {
            ("lambda", "POST", [_, "functions", _, "invocations"]) => "Invoke",
            ("lambda", "POST", [_, "functions"]) => "CreateFunction",
            ("lambda", "PUT", [_, "functions", _, "code"]) => "UpdateFunctionCode",
            ("lambda", "PUT", [_, "functions", _, "configuration"]) => {
                "UpdateFunctionConfiguration"
            }
            ("lambda", "DELETE", [_, "functions", _]) => "DeleteFunction",
            ("lambda", "GET", [_, "functions", _]) => "GetFunction",
            ("lambda", "GET", [_, "functions", _, "configuration"]) => "GetFunctionConfiguration",
            ("lambda", "POST", [_, "functions", _, "policy"]) => "AddPermission",
            ("lambda", "DELETE", [_, "functions", _, "policy", _]) => "RemovePermission",
            ("lambda", "GET", [_, "functions", _, "policy"]) => "GetPolicy",
            ("lambda", "POST", [_, "functions", _, "url"]) => "CreateFunctionUrlConfig",
            ("lambda", "PUT", [_, "functions", _, "url"]) => "UpdateFunctionUrlConfig",
            ("lambda", "DELETE", [_, "functions", _, "url"]) => "DeleteFunctionUrlConfig",
            ("lambda", "GET", [_, "functions", _, "url"]) => "GetFunctionUrlConfig",
            ("lambda", "POST", [_, "functions", _, "aliases"]) => "CreateAlias",
            ("lambda", "GET", [_, "functions", _, "aliases"]) => "ListAliases",
            ("lambda", "GET", [_, "functions", _, "aliases", _]) => "GetAlias",
            ("lambda", "PUT", [_, "functions", _, "aliases", _]) => "UpdateAlias",
            ("lambda", "DELETE", [_, "functions", _, "aliases", _]) => "DeleteAlias",
            ("lambda", "PUT", [_, "functions", _, "concurrency"]) => "PutFunctionConcurrency",
            ("iotdata" | "iotdevicegateway", "POST", ["topics", _]) => "Publish",
            ("iotdata" | "iotdevicegateway", "DELETE", ["connections", _]) => "DeleteConnection",
            ("iot", "GET", ["things", _]) => "DescribeThing",
            ("iot", "PATCH", ["things", _]) => "UpdateThing",
            ("iot", "DELETE", ["things", _]) => "DeleteThing",
            ("iot", "GET", ["things", _, "principals"]) => "ListThingPrincipals",
            ("iot", "PUT", ["target-policies", _]) => "AttachPolicy",
            ("iot", "POST", ["target-policies", _]) => "DetachPolicy",
            ("iot", "POST", ["policies", _, "version"]) => "CreatePolicyVersion",
            ("iot", "DELETE", ["policies", _]) => "DeletePolicy",
            ("iot", "PUT", ["certificates", _]) => "UpdateCertificate",
            ("iot", "GET", ["tags"]) => "ListTagsForResource",
            ("iot", "POST", ["tags"]) => "TagResource",
            ("iot", "POST", ["untag"]) => "UntagResource",
            ("iot", "GET", ["endpoint"]) => "DescribeEndpoint",
            _ => return None,
        };
        Some(action.to_owned())
    }

    /// Whether the call may change the service's state (anything but reads).
    pub fn is_mutation(&self) -> bool {
        match self.protocol() {
            Protocol::Rest => !matches!(self.method, Method::GET | Method::HEAD),
            _ => self.action().is_none_or(|action| {
                ![
                    "Get", "List", "Describe", "Head", "Lookup", "Receive", "Check",
                ]
                .iter()
                .any(|read| action.starts_with(read))
            }),
        }
    }
}

/// Path segments decode `%XX` only; `+` is a literal plus in a path.
fn percent_decode_path(segment: &str) -> String {
    percent_decode(&segment.replace('+', "%2B"))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn request(method: Method, path: &str, headers: &[(&str, &str)], body: &str) -> AwsRequest {
        let mut map = BTreeMap::new();
        for (name, value) in headers {
            map.insert((*name).to_owned(), vec![(*value).to_owned()]);
        }
        let authorization = headers
            .iter()
            .find(|(name, _)| *name == "authorization")
            .map(|(_, value)| Authorization::parse(value).unwrap());
        let (path, query) = match path.split_once('?') {
            Some((path, query)) => (path, Some(query.to_owned())),
            None => (path, None),
        };
        AwsRequest {
            method,
            raw_path: path.to_owned(),
            raw_query: query,
            headers: map,
            body: Bytes::from(body.to_owned()),
            authorization,
            secure: true,
        }
    }

    fn signed_for(service: &str) -> String {
        format!(
            "AWS4-HMAC-SHA256 Credential=AK/20261130/eu-west-1/{service}/aws4_request, SignedHeaders=host, Signature=00"
        )
    }

    #[test]
    fn each_protocol_names_its_action() {
        let sns = signed_for("sns");
        let publish = request(
            Method::POST,
            "/",
            &[
                ("authorization", &sns),
                ("content-type", "application/x-www-form-urlencoded"),
            ],
            "Action=Publish&TopicArn=arn%3Aaws%3Asns%3Aeu-west-1%3A1%3At&Message=hi+there",
        );
        assert_eq!(publish.protocol(), Protocol::Query);
        assert_eq!(publish.action().as_deref(), Some("Publish"));
        assert_eq!(publish.parameters()["Message"], "hi there");
        assert_eq!(
            publish.parameters()["TopicArn"],
            "arn:aws:sns:eu-west-1:1:t"
        );
        assert!(publish.is_mutation());

        let sqs = signed_for("sqs");
        let receive = request(
            Method::POST,
            "/",
            &[
                ("authorization", &sqs),
                ("x-amz-target", "AmazonSQS.ReceiveMessage"),
            ],
            "{}",
        );
        assert_eq!(receive.protocol(), Protocol::Json);
        assert_eq!(receive.action().as_deref(), Some("ReceiveMessage"));
        assert!(!receive.is_mutation());

        let iot_data = signed_for("iotdevicegateway");
        let forward = request(
            Method::POST,
            "/topics/COOKING_REPLIED%2Fh-1%2Foven-1?qos=1",
            &[("authorization", &iot_data)],
            "{}",
        );
        assert_eq!(forward.action().as_deref(), Some("Publish"));
        assert_eq!(
            forward.path_segments(),
            vec!["topics", "COOKING_REPLIED/h-1/oven-1"]
        );

        let lambda = signed_for("lambda");
        let invoke = request(
            Method::POST,
            "/2015-03-31/functions/postoffice-kitchen-handler/invocations",
            &[("authorization", &lambda)],
            "{}",
        );
        assert_eq!(invoke.action().as_deref(), Some("Invoke"));
        let get = request(
            Method::GET,
            "/2015-03-31/functions/postoffice-kitchen-handler",
            &[("authorization", &lambda)],
            "",
        );
        assert_eq!(get.action().as_deref(), Some("GetFunction"));
        assert!(!get.is_mutation());
    }

    #[test]
    fn only_the_cognito_calls_aws_takes_unsigned_have_a_service_without_a_signature() {
        let sign_in = request(
            Method::POST,
            "/",
            &[(
                "x-amz-target",
                "AWSCognitoIdentityProviderService.InitiateAuth",
            )],
            "{}",
        );
        assert_eq!(sign_in.service(), Some("cognito-idp"));
        let get_id = request(
            Method::POST,
            "/",
            &[("x-amz-target", "AWSCognitoIdentityService.GetId")],
            "{}",
        );
        assert_eq!(get_id.service(), Some("cognito-identity"));
        let admin = request(
            Method::POST,
            "/",
            &[(
                "x-amz-target",
                "AWSCognitoIdentityProviderService.AdminCreateUser",
            )],
            "{}",
        );
        assert_eq!(admin.service(), None);
    }

    #[test]
    fn onboarding_s_iot_calls_are_told_apart() {
        let iot = signed_for("iot");
        let iot_data = signed_for("iotdata");
        for (method, path, signed, action, mutation) in [
            (Method::GET, "/things/oven-7", &iot, "DescribeThing", false),
            (Method::PATCH, "/things/oven-7", &iot, "UpdateThing", true),
            (Method::DELETE, "/things/oven-7", &iot, "DeleteThing", true),
            (
                Method::GET,
                "/things/oven-7/principals",
                &iot,
                "ListThingPrincipals",
                false,
            ),
            (
                Method::PUT,
                "/target-policies/postoffice-device",
                &iot,
                "AttachPolicy",
                true,
            ),
            (
                Method::POST,
                "/target-policies/postoffice-device",
                &iot,
                "DetachPolicy",
                true,
            ),
            (
                Method::POST,
                "/policies/postoffice-mobile/version",
                &iot,
                "CreatePolicyVersion",
                true,
            ),
            (
                Method::PUT,
                "/certificates/abc?newStatus=REVOKED",
                &iot,
                "UpdateCertificate",
                true,
            ),
            (
                Method::DELETE,
                "/connections/oven-7?cleanSession=true",
                &iot_data,
                "DeleteConnection",
                true,
            ),
        ] {
            let call = request(method.clone(), path, &[("authorization", signed)], "");
            assert_eq!(call.action().as_deref(), Some(action), "{method} {path}");
            assert_eq!(call.is_mutation(), mutation, "{method} {path}");
        }
    }
}
