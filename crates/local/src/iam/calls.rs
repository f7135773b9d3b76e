//! Calls to the local AWS endpoint, authorised: which IAM action and resource each is, which
//! resource policy applies, and, for encrypted topics and queues, the KMS permissions the caller
//! needs through the service (`kms:ViaService`). A refusal answers the service's own error.

use std::sync::Arc;

use postoffice_lambda_host::FunctionRef;
use postoffice_policy::{Context, Principal};

use super::{Authorizer, Check, DataKey, Denial, Snapshot, Target, base_context};
use crate::aws::credentials::Caller;
use crate::aws::errors::AwsError;
use crate::aws::request::Protocol;
use crate::aws::{Authorize, Call};
use crate::lambda::qualified_name;

/// The [`Authorize`] port of the local AWS endpoint.
pub struct CallAuthorizer {
    pub authorizer: Arc<Authorizer>,
}

/// A call to authorise: the IAM action, its resource and resource policy, and the KMS key the
/// service will use on the caller's behalf.
struct Described {
    action: String,
    resource: String,
    target: TargetOwned,
    context: Context,
    kms: Option<KmsUse>,
}

enum TargetOwned {
    Nothing,
    Topic(String),
    Queue(String),
    Function(String),
}

struct KmsUse {
    key_arn: String,
    actions: &'static [&'static str],
    via: String,
    /// The topic or queue the service keeps the data key for, and for how long.
    scope: String,
    reuse: std::time::Duration,
}

fn iam_service(signing_name: &str) -> &str {
    match signing_name {
        "iotdevicegateway" | "iotdata" => "iot",
        "monitoring" => "cloudwatch",
        other => other,
    }
}

impl Authorize for CallAuthorizer {
    fn authorize(&self, call: &Call) -> Result<(), AwsError> {
        let principal = match &call.caller {
            Caller::Administrator { .. } => return Ok(()),
            Caller::RoleSession {
                role_arn,
                session_name,
                ..
            } => Principal::role_session(role_arn, session_name)
                .map_err(|error| AwsError::new(403, "AccessDenied", error.to_string()))?,
            Caller::Anonymous { .. } => {
                return Err(AwsError::new(
                    403,
                    "MissingAuthenticationTokenException",
                    "Missing Authentication Token",
                ));
            }
        };
        let snapshot = self.authorizer.snapshot();
        let Some(mut described) = self.describe(call, &snapshot)? else {
            return Ok(());
        };
        described.context = super::with_session_keys(described.context, &call.caller);
        let target = match &described.target {
            TargetOwned::Nothing => Target::Nothing,
            TargetOwned::Topic(arn) => Target::Topic(arn),
            TargetOwned::Queue(arn) => Target::Queue(arn),
            TargetOwned::Function(name) => Target::Function(name),
        };
        self.authorizer
            .check(
                &snapshot,
                Check {
                    principal: principal.clone(),
                    action: &described.action,
                    resource: &described.resource,
                    target,
                    context: described.context.clone(),
                },
            )
            .map_err(|denial| access_denied(call, &denial))?;
        if let Some(kms) = &described.kms {
            for action in kms.actions {
                let context = described
                    .context
                    .clone()
                    .with("kms:ViaService", kms.via.as_str())
                    .with("kms:CallerAccount", self.authorizer.account.as_str());
                self.authorizer
                    .check(
                        &snapshot,
                        Check {
                            principal: principal.clone(),
                            action,
                            resource: &kms.key_arn,
                            target: Target::Key(
                                &kms.key_arn,
                                DataKey {
                                    scope: &kms.scope,
                                    reuse: Some(kms.reuse),
                                },
                            ),
                            context,
                        },
                    )
                    .map_err(|denial| kms_denied(call, &denial))?;
            }
        }
        Ok(())
    }
}

impl CallAuthorizer {
    /// `None`: the call needs no permission (`sts:GetCallerIdentity`).
    fn describe(&self, call: &Call, snapshot: &Snapshot) -> Result<Option<Described>, AwsError> {
        let request = &call.request;
        let service = request.service().unwrap_or_default();
        let region = &self.authorizer.region;
        let account = &self.authorizer.account;
        let context = base_context(request.secure, region).with("aws:SourceIp", "127.0.0.1");
        let action = request.action().ok_or_else(|| {
            AwsError::new(
                403,
                "AccessDenied",
                format!(
                    "the local post office cannot tell which {service} action {} {} is, so it cannot authorise it",
                    request.method, request.raw_path
                ),
            )
        })?;
        if service == "sts" && action == "GetCallerIdentity" {
            return Ok(None);
        }
        let iam_action = format!("{}:{action}", iam_service(service));
        let applied = &snapshot.applied;
        let described = match (service, action.as_str()) {
            ("sns", _) => {
                // SNS's default topic policy names the owner account through AWS:SourceOwner,
                // which SNS sets to the account the request comes from.
                let context = context.with("AWS:SourceOwner", call.caller.account());
                let parameters = request.parameters();
                let topic = parameters
                    .get("TopicArn")
                    .or_else(|| parameters.get("TargetArn"))
                    .cloned()
                    .or_else(|| {
                        parameters
                            .get("SubscriptionArn")
                            .and_then(|arn| arn.rsplit_once(':'))
                            .map(|(topic, _)| topic.to_owned())
                    });
                match topic {
                    Some(topic) => {
                        let kms = matches!(action.as_str(), "Publish" | "PublishBatch")
                            .then(|| {
                                applied.topic_key(&topic).map(|key_arn| KmsUse {
                                    key_arn,
                                    actions: &["kms:GenerateDataKey", "kms:Decrypt"],
                                    via: format!("sns.{region}.amazonaws.com"),
                                    scope: topic.clone(),
                                    reuse: crate::applied::TOPIC_DATA_KEY_REUSE,
                                })
                            })
                            .flatten();
                        Described {
                            action: iam_action,
                            resource: topic.clone(),
                            target: TargetOwned::Topic(topic),
                            context,
                            kms,
                        }
                    }
                    None => described_without_resource(iam_action, context),
                }
            }
            ("sqs", _) => {
                let url = request
                    .json()
                    .and_then(|body| body["QueueUrl"].as_str().map(str::to_owned))
                    .or_else(|| request.parameters().get("QueueUrl").cloned());
                match url {
                    Some(url) => {
                        let queue = applied.sqs.by_url(&url);
                        let arn = queue
                            .map(|queue| queue.arn().to_owned())
                            .unwrap_or_else(|| {
                                let name = url.rsplit('/').next().unwrap_or_default();
                                format!("arn:aws:sqs:{region}:{account}:{name}")
                            });
                        let kms_actions: &'static [&'static str] = match action.as_str() {
                            "SendMessage" | "SendMessageBatch" => {
                                &["kms:GenerateDataKey", "kms:Decrypt"]
                            }
                            "ReceiveMessage" => &["kms:Decrypt"],
                            _ => &[],
                        };
                        let kms = applied
                            .queue_key(&arn)
                            .filter(|_| !kms_actions.is_empty())
                            .map(|key_arn| KmsUse {
                                key_arn,
                                actions: kms_actions,
                                via: format!("sqs.{region}.amazonaws.com"),
                                scope: arn.clone(),
                                reuse: applied.queue_data_key_reuse(&arn),
                            });
                        Described {
                            action: iam_action,
                            resource: arn.clone(),
                            target: TargetOwned::Queue(arn),
                            context,
                            kms,
                        }
                    }
                    None => described_without_resource(iam_action, context),
                }
            }
            ("lambda", "Invoke") => {
                let segments = request.path_segments();
                let reference = segments.get(2).cloned().unwrap_or_default();
                let parameters = request.parameters();
                // Through an alias, the alias's ARN is the resource and its policy applies.
                let qualifier =
                    FunctionRef::parse(&reference, parameters.get("Qualifier").map(String::as_str))
                        .ok()
                        .and_then(|reference| reference.qualifier)
                        .filter(|qualifier| qualifier != "$LATEST");
                let function = applied.lambda.find(&reference);
                let name = function
                    .map(|function| function.name.clone())
                    .unwrap_or_else(|| reference.clone());
                let arn = function
                    .map(|function| function.arn.clone())
                    .unwrap_or_else(|| {
                        format!("arn:aws:lambda:{region}:{account}:function:{name}")
                    });
                let resource = match &qualifier {
                    Some(qualifier) => format!("{arn}:{qualifier}"),
                    None => arn,
                };
                Described {
                    action: "lambda:InvokeFunction".to_owned(),
                    resource,
                    target: TargetOwned::Function(qualified_name(&name, qualifier.as_deref())),
                    context,
                    kms: None,
                }
            }
            ("iotdata" | "iotdevicegateway", "Publish") => {
                let topic = request.path_segments().get(1).cloned().unwrap_or_default();
                Described {
                    action: "iot:Publish".to_owned(),
                    resource: postoffice_policy::iot::topic_arn(region, account, &topic),
                    target: TargetOwned::Nothing,
                    context,
                    kms: None,
                }
            }
            ("iotdata" | "iotdevicegateway", "DeleteConnection") => {
                let client_id = request.path_segments().get(1).cloned().unwrap_or_default();
                Described {
                    action: "iot:DeleteConnection".to_owned(),
                    resource: postoffice_policy::iot::client_arn(region, account, &client_id),
                    target: TargetOwned::Nothing,
                    context,
                    kms: None,
                }
            }
            ("iot", _) => Described {
                resource: iot_resource(request, &action, region, account),
                action: iam_action,
                target: TargetOwned::Nothing,
                context,
                kms: None,
            },
            ("dynamodb", _) => {
                let table = request
                    .json()
                    .and_then(|body| body["TableName"].as_str().map(str::to_owned))
                    .unwrap_or_else(|| "*".to_owned());
                Described {
                    action: iam_action,
                    resource: format!("arn:aws:dynamodb:{region}:{account}:table/{table}"),
                    target: TargetOwned::Nothing,
                    context,
                    kms: None,
                }
            }
            _ => described_without_resource(iam_action, context),
        };
        Ok(Some(described))
    }
}

/// The resource IAM authorises an IoT control-plane action on
/// (<https://docs.aws.amazon.com/service-authorization/latest/reference/list_awsiot.html>): the
/// thing, the policy or the certificate it names. AttachPolicy and DetachPolicy authorise on their
/// target (a certificate or thing group ARN), not on the policy; other targets (Cognito
/// identities) and other actions need `*`.
fn iot_resource(
    request: &crate::aws::request::AwsRequest,
    action: &str,
    region: &str,
    account: &str,
) -> String {
    let segments = request.path_segments();
    let named = segments.get(1).cloned().unwrap_or_default();
    match action {
        "DescribeThing" | "UpdateThing" | "DeleteThing" | "ListThingPrincipals" => {
            format!("arn:aws:iot:{region}:{account}:thing/{named}")
        }
        "CreatePolicyVersion" | "DeletePolicy" => {
            format!("arn:aws:iot:{region}:{account}:policy/{named}")
        }
        "UpdateCertificate" => format!("arn:aws:iot:{region}:{account}:cert/{named}"),
        "AttachPolicy" | "DetachPolicy" => request
            .json()
            .and_then(|body| body["target"].as_str().map(str::to_owned))
            .filter(|target| {
                target.starts_with(&format!("arn:aws:iot:{region}:{account}:cert/"))
                    || target.starts_with(&format!("arn:aws:iot:{region}:{account}:thinggroup/"))
            })
            .unwrap_or_else(|| "*".to_owned()),
        _ => "*".to_owned(),
    }
}

fn described_without_resource(action: String, context: Context) -> Described {
    Described {
        action,
        resource: "*".to_owned(),
        target: TargetOwned::Nothing,
        context,
        kms: None,
    }
}

/// The access-denied error of the call's service.
fn access_denied(call: &Call, denial: &Denial) -> AwsError {
    let service = call.request.service().unwrap_or_default();
    let (status, code) = match (service, call.protocol()) {
        ("sns", _) => (403, "AuthorizationError"),
        ("iotdata" | "iotdevicegateway", _) => (403, "ForbiddenException"),
        ("iot", _) => (403, "AccessDeniedException"),
        ("lambda", _) | ("dynamodb", _) => (403, "AccessDeniedException"),
        (_, Protocol::Json) => (400, "AccessDeniedException"),
        _ => (403, "AccessDenied"),
    };
    AwsError::new(status, code, denial.message())
}

/// A KMS refusal inside the call, as the service reports it.
fn kms_denied(call: &Call, denial: &Denial) -> AwsError {
    match call.request.service().unwrap_or_default() {
        "sns" => AwsError::new(400, "KMSAccessDenied", denial.message()),
        "sqs" => AwsError::new(400, "KmsAccessDenied", denial.message()),
        _ => AwsError::new(400, "KMSAccessDeniedException", denial.message()),
    }
}
