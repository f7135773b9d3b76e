//! The IoT control-plane actions moto lacks or gets wrong, answered per the AWS IoT API
//! reference: resource tags (`TagResource`, `UntagResource`, `ListTagsForResource`; moto does
//! not implement the last, and the provider retries it for minutes), the device endpoint
//! (`DescribeEndpoint` answers the local gateway's address, the one devices and the iot-data API
//! reach here), the policy document limit ("AWS IoT Core policies": 2,048 characters
//! excluding whitespace), which moto does not check, and DetachPolicy of a policy that is not
//! attached, which succeeds in AWS and fails in moto.

use std::collections::{BTreeMap, HashMap};
use std::sync::Mutex;

use async_trait::async_trait;
use axum::response::{IntoResponse, Response};
use serde_json::{Value, json};

use crate::aws::errors::AwsError;
use crate::aws::sigv4::percent_decode;
use crate::aws::{Call, ControlPlaneAnswer, LocalService};

/// IoT's policy document limit, whitespace excluded
/// (<https://docs.aws.amazon.com/general/latest/gr/iot-core.html#limits_iot>).
pub const MAX_POLICY_CHARACTERS: usize = 2048;

pub struct IotControlPlane {
    /// `iot:Data-ATS` (and legacy `iot:Data`) endpoint address: host and port of the local
    /// endpoint that serves the iot-data API.
    pub data_endpoint: String,
    pub region: String,
    pub account: String,
    tags: Mutex<HashMap<String, BTreeMap<String, String>>>,
}

impl IotControlPlane {
    pub fn new(data_endpoint: String, region: &str, account: &str) -> Self {
        Self {
            data_endpoint,
            region: region.to_owned(),
            account: account.to_owned(),
            tags: Mutex::default(),
        }
    }

    fn tags_of(&self, arn: &str) -> Vec<Value> {
        self.tags
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .get(arn)
            .map(|tags| {
                tags.iter()
                    .map(|(key, value)| json!({"Key": key, "Value": value}))
                    .collect()
            })
            .unwrap_or_default()
    }

    fn tag(&self, arn: &str, tags: impl IntoIterator<Item = (String, String)>) {
        let mut all = self.tags.lock().unwrap_or_else(|p| p.into_inner());
        all.entry(arn.to_owned()).or_default().extend(tags);
    }
}

/// Characters of a policy document not counting whitespace, as IoT counts them.
pub fn policy_characters(document: &str) -> usize {
    document.chars().filter(|c| !c.is_whitespace()).count()
}

fn tag_list(value: &Value) -> Vec<(String, String)> {
    value
        .as_array()
        .map(|tags| {
            tags.iter()
                .filter_map(|tag| {
                    Some((
                        tag["Key"].as_str()?.to_owned(),
                        tag["Value"].as_str().unwrap_or_default().to_owned(),
                    ))
                })
                .collect()
        })
        .unwrap_or_default()
}

fn json_answer(value: Value) -> Response {
    ([("content-type", "application/json")], value.to_string()).into_response()
}

#[async_trait]
impl LocalService for IotControlPlane {
    async fn serve(&self, call: &Call) -> Option<Response> {
        let request = &call.request;
        let segments = request.path_segments();
        let segments: Vec<&str> = segments.iter().map(String::as_str).collect();
        let query = request.parameters();
        match (request.method.as_str(), segments.as_slice()) {
            ("GET", ["endpoint"]) => {
                Some(json_answer(json!({"endpointAddress": self.data_endpoint})))
            }
            ("GET", ["tags"]) => {
                let arn = query.get("resourceArn")?;
                Some(json_answer(json!({"tags": self.tags_of(arn)})))
            }
            ("POST", ["tags"]) => {
                let body = request.json()?;
                let arn = body["resourceArn"].as_str()?;
                self.tag(arn, tag_list(&body["tags"]));
                Some(json_answer(json!({})))
            }
            ("POST", ["untag"]) => {
                let body = request.json()?;
                let arn = body["resourceArn"].as_str()?;
                let mut all = self.tags.lock().unwrap_or_else(|p| p.into_inner());
                if let (Some(tags), Some(keys)) = (all.get_mut(arn), body["tagKeys"].as_array()) {
                    for key in keys.iter().filter_map(Value::as_str) {
                        tags.remove(key);
                    }
                }
                Some(json_answer(json!({})))
            }
            ("POST", ["policies", name]) | ("POST", ["policies", name, "version"]) => {
                let body = request.json()?;
                let document = body["policyDocument"].as_str().unwrap_or_default();
                let characters = policy_characters(document);
                (characters > MAX_POLICY_CHARACTERS).then(|| {
                    call.error(&AwsError::new(
                        400,
                        "MalformedPolicyException",
                        format!(
                            "Policy {name}: the document has {characters} characters (whitespace excluded); AWS IoT allows at most {MAX_POLICY_CHARACTERS}"
                        ),
                    ))
                })
            }
            _ => None,
        }
    }

    async fn observe(&self, call: &Call, mut answer: ControlPlaneAnswer) -> ControlPlaneAnswer {
        let request = &call.request;
        let segments = request.path_segments();
        let segments: Vec<&str> = segments.iter().map(String::as_str).collect();
        // DetachPolicy has no not-found error in AWS: detaching a policy that is not attached
        // succeeds (https://docs.aws.amazon.com/iot/latest/apireference/API_DetachPolicy.html,
        // Errors), where moto answers 404 ResourceNotFoundException.
        if matches!(
            (request.method.as_str(), segments.as_slice()),
            ("POST", ["target-policies", _])
        ) && answer.status == axum::http::StatusCode::NOT_FOUND
        {
            answer.status = axum::http::StatusCode::OK;
            answer.body = Default::default();
            answer.headers.remove("content-type");
            return answer;
        }
        if !answer.status.is_success() {
            return answer;
        }
        match (request.method.as_str(), segments.as_slice()) {
            ("POST", ["policies", name]) => {
                if let Some(body) = request.json() {
                    let arn = format!("arn:aws:iot:{}:{}:policy/{name}", self.region, self.account);
                    self.tag(&arn, tag_list(&body["tags"]));
                }
            }
            ("POST", ["rules", name]) => {
                if let Some(tagging) = request.header("x-amz-tagging") {
                    let arn = format!("arn:aws:iot:{}:{}:rule/{name}", self.region, self.account);
                    let tags = tagging
                        .split('&')
                        .filter(|pair| !pair.is_empty())
                        .map(|pair| {
                            let (key, value) = pair.split_once('=').unwrap_or((pair, ""));
                            (percent_decode(key), percent_decode(value))
                        });
                    self.tag(&arn, tags.collect::<Vec<_>>());
                }
            }
            _ => {}
        }
        answer
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn whitespace_does_not_count_towards_the_policy_limit() {
        assert_eq!(policy_characters("{ \"a\" :\n\t\"b\" }"), 9);
    }
}
