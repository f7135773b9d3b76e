//! Every policy document terraform/ produces (tests/fixtures/terraform, README there) parses,
//! fits the kind of policy it is attached as, and makes the decisions the platform relies on.

use postoffice_policy::iot::{
    CognitoSide, ConnectedThing, IotConnection, client_arn, evaluate_cognito, topic_arn,
    topic_filter_arn,
};
use postoffice_policy::{
    AllowedBy, Context, Decision, IotPolicies, Mismatch, Policies, Policy, Principal, Request,
    ResourcePolicyKind, evaluate, evaluate_iot,
};

const ACCOUNT: &str = "123456789012";
const REGION: &str = "eu-west-1";
const KEY: &str = "arn:aws:kms:eu-west-1:123456789012:key/0c6a5d0e-6f1a-4b8e-9c4f-2d7e3b1a9f00";
const TOPIC: &str = "arn:aws:sns:eu-west-1:123456789012:postoffice-";
const POOL: &str = "eu-west-1:6a1b2c3d-4e5f-4a6b-8c7d-9e0f1a2b3c4d";

macro_rules! fixtures {
    ($($name:literal),* $(,)?) => {
        &[$(($name, include_str!(concat!("fixtures/terraform/", $name)))),*]
    };
}

const FIXTURES: &[(&str, &str)] = fixtures![
    "consumer-collection-unpacker-handler-role-policy.json",
    "consumer-collection-unpacker-handler-unpack-collections-role-policy.json",
    "consumer-iot-forwarder-bridge-function-policy.json",
    "consumer-iot-forwarder-bridge-role-policy.json",
    "consumer-iot-forwarder-dlq-policy.json",
    "consumer-iot-forwarder-handler-role-policy.json",
    "consumer-kitchen-bridge-function-policy.json",
    "consumer-kitchen-bridge-role-policy.json",
    "consumer-kitchen-dlq-policy.json",
    "consumer-kitchen-handler-role-policy.json",
    "consumer-lambda-assume-trust-policy.json",
    "consumer-telemetry-bridge-function-policy.json",
    "consumer-telemetry-bridge-role-policy.json",
    "consumer-telemetry-dlq-policy.json",
    "consumer-telemetry-handler-role-policy.json",
    "event-COOKING_REQUESTED-rule-assume-trust-policy.json",
    "event-COOKING_REQUESTED-rule-role-policy.json",
    "platform-event-store-bucket-policy.json",
    "platform-event-store-dlq-policy.json",
    "platform-event-store-subscription-role-policy.json",
    "platform-firehose-assume-trust-policy.json",
    "platform-firehose-role-policy.json",
    "platform-iot-assume-trust-policy.json",
    "platform-iot-device-policy.json",
    "platform-iot-device-publish-0-policy.json",
    "platform-iot-device-publish-1-policy.json",
    "platform-iot-device-publish-3-policy.json",
    "platform-iot-mobile-policy.json",
    "platform-kms-key-policy.json",
    "platform-mobile-assume-trust-policy.json",
    "platform-mobile-role-policy.json",
    "platform-rule-errors-queue-policy.json",
    "platform-rule-errors-role-policy.json",
    "platform-sns-assume-trust-policy.json",
    "platform-sns-delivery-status-role-policy.json",
];

enum Kind {
    Identity,
    Iot,
    Resource(ResourcePolicyKind),
}

fn kind_of(name: &str) -> Kind {
    if name.ends_with("-trust-policy.json") {
        Kind::Resource(ResourcePolicyKind::TrustPolicy)
    } else if name.ends_with("-key-policy.json") {
        Kind::Resource(ResourcePolicyKind::KeyPolicy)
    } else if name.ends_with("-role-policy.json") {
        Kind::Identity
    } else if name.starts_with("platform-iot-") {
        Kind::Iot
    } else {
        Kind::Resource(ResourcePolicyKind::Resource)
    }
}

fn fixture(name: &str) -> Policy {
    let (_, json) = FIXTURES
        .iter()
        .find(|(fixture, _)| *fixture == name)
        .unwrap_or_else(|| panic!("no fixture {name}"));
    let short = name
        .trim_end_matches("-policy.json")
        .trim_end_matches("-role");
    Policy::parse(json)
        .unwrap_or_else(|error| panic!("{name}: {error}"))
        .named(short)
}

#[test]
fn every_terraform_policy_parses_and_fits_its_kind() {
    let directory = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures/terraform");
    let mut on_disk: Vec<String> = std::fs::read_dir(directory)
        .unwrap()
        .map(|entry| entry.unwrap().file_name().into_string().unwrap())
        .filter(|name| name.ends_with(".json"))
        .collect();
    on_disk.sort();
    let listed: Vec<&str> = FIXTURES.iter().map(|(name, _)| *name).collect();
    assert_eq!(on_disk, listed, "every fixture is listed in FIXTURES");

    for (name, _) in FIXTURES {
        let policy = fixture(name);
        assert!(policy.statement_count() > 0, "{name}");
        let fits = match kind_of(name) {
            Kind::Identity => Policies::new().identity_policy(&policy).map(|_| ()),
            Kind::Iot => IotPolicies::new().policy(&policy).map(|_| ()),
            Kind::Resource(kind) => Policies::new().resource_policy(kind, &policy).map(|_| ()),
        };
        fits.unwrap_or_else(|error| panic!("{name}: {error}"));
    }
}

fn session(role: &str) -> Principal {
    Principal::role_session(&format!("arn:aws:iam::{ACCOUNT}:role/{role}"), role).unwrap()
}

fn secure() -> Context {
    Context::new().with("aws:SecureTransport", true)
}

fn lambda(function: &str) -> String {
    format!("arn:aws:lambda:{REGION}:{ACCOUNT}:function:{function}")
}

fn sid(decision: &Decision) -> Option<String> {
    match decision {
        Decision::Allow {
            by: AllowedBy::Statement(by),
        }
        | Decision::ExplicitDeny { by } => by.sid.as_deref().map(str::to_owned),
        Decision::Allow {
            by: AllowedBy::Both { identity, .. },
        } => identity.sid.as_deref().map(str::to_owned),
        _ => None,
    }
}

mod handlers {
    use super::*;

    fn call(role: &str, action: &str, resource: &str, context: Context) -> Decision {
        let policy = fixture(&format!("consumer-{role}-handler-role-policy.json"));
        let key = fixture("platform-kms-key-policy.json");
        let mut policies = Policies::new().identity_policy(&policy).unwrap();
        if resource == KEY {
            policies = policies
                .resource_policy(ResourcePolicyKind::KeyPolicy, &key)
                .unwrap();
        }
        let request = Request::new(
            session(&format!("postoffice-{role}-handler")),
            action,
            resource,
        )
        .unwrap()
        .with_context(context);
        evaluate(&request, &policies)
    }

    #[test]
    fn the_kitchen_publishes_its_replies_and_nothing_else() {
        for event in ["COOKING_REPLIED", "COOKING_STARTED"] {
            let decision = call(
                "kitchen",
                "sns:Publish",
                &format!("{TOPIC}{event}"),
                secure(),
            );
            assert_eq!(sid(&decision).as_deref(), Some("PublishItsEvents"));
        }
        let stray = call(
            "kitchen",
            "sns:Publish",
            &format!("{TOPIC}COOKING_REQUESTED"),
            secure(),
        );
        let Decision::ImplicitDeny {
            nearest: Some(near),
            ..
        } = &stray
        else {
            panic!("{stray:?}");
        };
        assert_eq!(near.statement.sid.as_deref(), Some("PublishItsEvents"));
        assert_eq!(near.mismatch, Mismatch::Resource);
        assert!(
            !call(
                "kitchen",
                "iot:Publish",
                &topic_arn(REGION, ACCOUNT, "COOKING_REPLIED/h-1/oven-1"),
                secure()
            )
            .is_allowed()
        );
        assert!(
            !call(
                "telemetry",
                "sns:Publish",
                &format!("{TOPIC}COOKING_REPLIED"),
                secure()
            )
            .is_allowed()
        );
    }

    /// The collection-unpacker's role: its handler policy and `unpack-collections`.
    fn unpacker_call(action: &str, resource: &str, context: Context) -> Decision {
        let handler = fixture("consumer-collection-unpacker-handler-role-policy.json");
        let unpack =
            fixture("consumer-collection-unpacker-handler-unpack-collections-role-policy.json");
        let key = fixture("platform-kms-key-policy.json");
        let mut policies = Policies::new()
            .identity_policy(&handler)
            .unwrap()
            .identity_policy(&unpack)
            .unwrap();
        if resource == KEY {
            policies = policies
                .resource_policy(ResourcePolicyKind::KeyPolicy, &key)
                .unwrap();
        }
        let request = Request::new(
            session("postoffice-collection-unpacker-handler"),
            action,
            resource,
        )
        .unwrap()
        .with_context(context);
        evaluate(&request, &policies)
    }

    #[test]
    fn the_unpacker_publishes_only_events_devices_may_collect() {
        let publish =
            |event: &str| unpacker_call("sns:Publish", &format!("{TOPIC}{event}"), secure());
        assert_eq!(
            sid(&publish("DEVICE_TELEMETRY_REPORTED")).as_deref(),
            Some("PublishCollectedEvents")
        );
        // Device events that are not collected, backend events and the collections themselves.
        for event in [
            "COOKING_FINISHED",
            "COOKING_REQUESTED",
            "COOKING_REPLIED",
            "FIRMWARE_UPDATE_OFFERED",
            "EVENT_COLLECTION",
        ] {
            assert!(!publish(event).is_allowed(), "{event}");
        }
        let queue = format!("arn:aws:sqs:{REGION}:{ACCOUNT}:postoffice-rejected-device-messages");
        assert_eq!(
            sid(&unpacker_call("sqs:SendMessage", &queue, secure())).as_deref(),
            Some("KeepRejectedMembers")
        );
        for other in ["postoffice-rule-errors", "postoffice-telemetry-dlq"] {
            let arn = format!("arn:aws:sqs:{REGION}:{ACCOUNT}:{other}");
            assert!(!unpacker_call("sqs:SendMessage", &arn, secure()).is_allowed());
        }
        assert!(!unpacker_call("sqs:ReceiveMessage", &queue, secure()).is_allowed());
        for service in ["sns", "sqs"] {
            let via = Context::new().with(
                "kms:ViaService",
                format!("{service}.{REGION}.amazonaws.com"),
            );
            assert!(
                unpacker_call("kms:GenerateDataKey", KEY, via).is_allowed(),
                "{service}"
            );
        }
        assert!(!unpacker_call("kms:GenerateDataKey", KEY, Context::new()).is_allowed());
    }

    #[test]
    fn publishing_to_an_encrypted_topic_uses_the_key_through_sns_only() {
        let via_sns = Context::new().with("kms:ViaService", "sns.eu-west-1.amazonaws.com");
        let decision = call("kitchen", "kms:GenerateDataKey", KEY, via_sns);
        let Decision::Allow {
            by: AllowedBy::Both { identity, resource },
        } = &decision
        else {
            panic!("{decision:?}");
        };
        assert_eq!(identity.sid.as_deref(), Some("EncryptForEncryptedTopics"));
        assert_eq!(
            resource.sid.as_deref(),
            Some("AccountAdministersKeyThroughIam")
        );
        assert!(!call("kitchen", "kms:GenerateDataKey", KEY, Context::new()).is_allowed());
        assert!(
            !call(
                "telemetry",
                "kms:GenerateDataKey",
                KEY,
                Context::new().with("kms:ViaService", "sns.eu-west-1.amazonaws.com")
            )
            .is_allowed()
        );
        let via_lambda = Context::new().with("kms:ViaService", "lambda.eu-west-1.amazonaws.com");
        assert!(call("telemetry", "kms:Decrypt", KEY, via_lambda).is_allowed());
    }

    #[test]
    fn the_forwarder_publishes_backend_to_actor_events_to_devices_only() {
        let forward = |topic: &str| {
            call(
                "iot-forwarder",
                "iot:Publish",
                &topic_arn(REGION, ACCOUNT, topic),
                secure(),
            )
        };
        for topic in [
            "COOKING_REPLIED/h-1/oven-1",
            "COOKING_STARTED/h-1/oven-1",
            "FIRMWARE_UPDATE_OFFERED/h-9/oven-7",
        ] {
            assert_eq!(
                sid(&forward(topic)).as_deref(),
                Some("ForwardToActors"),
                "{topic}"
            );
        }
        assert!(!forward("COOKING_REQUESTED/h-1/oven-1").is_allowed());
        assert!(
            !call(
                "iot-forwarder",
                "sns:Publish",
                &format!("{TOPIC}COOKING_REPLIED"),
                secure()
            )
            .is_allowed()
        );
    }

    #[test]
    fn handlers_write_their_own_logs_only() {
        let stream = |function: &str| {
            format!(
                "arn:aws:logs:eu-west-1:123456789012:log-group:/aws/lambda/{function}:log-stream:2026/11/23/[$LATEST]abc"
            )
        };
        assert!(
            call(
                "kitchen",
                "logs:PutLogEvents",
                &stream("postoffice-kitchen-handler"),
                Context::new()
            )
            .is_allowed()
        );
        assert!(
            !call(
                "kitchen",
                "logs:PutLogEvents",
                &stream("postoffice-kitchen-bridge"),
                Context::new()
            )
            .is_allowed()
        );
    }
}

mod bridges {
    use super::*;

    fn bridge_call(consumer: &str, action: &str, resource: &str) -> Decision {
        let policy = fixture(&format!("consumer-{consumer}-bridge-role-policy.json"));
        let request = Request::new(
            session(&format!("postoffice-{consumer}-bridge")),
            action,
            resource,
        )
        .unwrap();
        evaluate(&request, &Policies::new().identity_policy(&policy).unwrap())
    }

    #[test]
    fn a_bridge_invokes_only_its_handler_and_confirms_only_its_subscriptions() {
        assert_eq!(
            sid(&bridge_call(
                "kitchen",
                "lambda:InvokeFunction",
                &lambda("postoffice-kitchen-handler")
            ))
            .as_deref(),
            Some("InvokeOnlyItsHandler")
        );
        assert!(
            !bridge_call(
                "kitchen",
                "lambda:InvokeFunction",
                &lambda("postoffice-telemetry-handler")
            )
            .is_allowed()
        );
        assert!(
            bridge_call(
                "kitchen",
                "sns:ConfirmSubscription",
                &format!("{TOPIC}COOKING_REQUESTED")
            )
            .is_allowed()
        );
        assert!(
            !bridge_call(
                "kitchen",
                "sns:ConfirmSubscription",
                &format!("{TOPIC}COOKING_REPLIED")
            )
            .is_allowed()
        );
        assert!(
            bridge_call(
                "iot-forwarder",
                "sns:ConfirmSubscription",
                &format!("{TOPIC}COOKING_REPLIED")
            )
            .is_allowed()
        );
    }

    #[test]
    fn sns_reaches_a_bridge_through_its_function_url() {
        // Since October 2025 a new function URL needs lambda:InvokeFunctionUrl and
        // lambda:InvokeFunction (https://docs.aws.amazon.com/lambda/latest/dg/urls-auth.html):
        // the module grants both to everyone; the second without the InvokedViaFunctionUrl
        // condition (provider 5.100), so a direct Invoke by anyone is allowed too.
        let function = fixture("consumer-kitchen-bridge-function-policy.json");
        let policies = Policies::new()
            .resource_policy(ResourcePolicyKind::Resource, &function)
            .unwrap();
        let bridge = lambda("postoffice-kitchen-bridge");
        let url = Request::new(Principal::anonymous(), "lambda:InvokeFunctionUrl", &bridge)
            .unwrap()
            .with_context(
                Context::new()
                    .with("lambda:FunctionUrlAuthType", "NONE")
                    .with("lambda:InvokedViaFunctionUrl", true),
            );
        assert_eq!(
            sid(&evaluate(&url, &policies)).as_deref(),
            Some("SnsDeliversThroughFunctionUrl")
        );
        let invoke = Request::new(Principal::anonymous(), "lambda:InvokeFunction", &bridge)
            .unwrap()
            .with_context(Context::new().with("lambda:InvokedViaFunctionUrl", true));
        assert_eq!(
            sid(&evaluate(&invoke, &policies)).as_deref(),
            Some("FunctionUrlInvokesTheBridge")
        );
        let direct =
            Request::new(Principal::anonymous(), "lambda:InvokeFunction", &bridge).unwrap();
        assert!(evaluate(&direct, &policies).is_allowed());
        // The URL statement holds only for the NONE auth type.
        let iam_url = Request::new(Principal::anonymous(), "lambda:InvokeFunctionUrl", &bridge)
            .unwrap()
            .with_context(Context::new().with("lambda:FunctionUrlAuthType", "AWS_IAM"));
        assert!(!evaluate(&iam_url, &policies).is_allowed());
        // Another consumer's bridge is not covered by this function's policy.
        let other = Request::new(
            Principal::anonymous(),
            "lambda:InvokeFunctionUrl",
            &lambda("postoffice-telemetry-bridge"),
        )
        .unwrap()
        .with_context(Context::new().with("lambda:FunctionUrlAuthType", "NONE"));
        assert!(!evaluate(&other, &policies).is_allowed());
    }

    #[test]
    fn only_lambda_assumes_the_function_roles() {
        let trust = fixture("consumer-lambda-assume-trust-policy.json");
        let policies = Policies::new()
            .resource_policy(ResourcePolicyKind::TrustPolicy, &trust)
            .unwrap();
        let role = "arn:aws:iam::123456789012:role/postoffice-kitchen-handler";
        let assume = |service: &str| {
            Request::new(Principal::service(service).unwrap(), "sts:AssumeRole", role).unwrap()
        };
        assert!(evaluate(&assume("lambda.amazonaws.com"), &policies).is_allowed());
        assert!(!evaluate(&assume("sns.amazonaws.com"), &policies).is_allowed());
    }
}

mod dead_letter_queues {
    use super::*;

    fn sns_sends(queue: &str, topic: &str, secure_transport: bool) -> Request {
        Request::new(
            Principal::service("sns.amazonaws.com").unwrap(),
            "sqs:SendMessage",
            &format!("arn:aws:sqs:{REGION}:{ACCOUNT}:{queue}"),
        )
        .unwrap()
        .with_context(
            Context::new()
                .with("aws:SourceArn", topic)
                .with("aws:SourceAccount", ACCOUNT)
                .with("aws:SecureTransport", secure_transport),
        )
    }

    #[test]
    fn sns_dead_letters_into_a_consumer_queue_only_from_its_topics() {
        let queue = fixture("consumer-kitchen-dlq-policy.json");
        let policies = Policies::new()
            .resource_policy(ResourcePolicyKind::Resource, &queue)
            .unwrap();
        for event in ["COOKING_REQUESTED", "COOKING_FINISHED"] {
            let decision = evaluate(
                &sns_sends("postoffice-kitchen-dlq", &format!("{TOPIC}{event}"), true),
                &policies,
            );
            assert_eq!(sid(&decision).as_deref(), Some("EventTopicsDeadLetterHere"));
        }
        let foreign = evaluate(
            &sns_sends(
                "postoffice-kitchen-dlq",
                &format!("{TOPIC}COOKING_REPLIED"),
                true,
            ),
            &policies,
        );
        let Decision::ImplicitDeny {
            nearest: Some(near),
            ..
        } = &foreign
        else {
            panic!("{foreign:?}");
        };
        assert_eq!(
            near.mismatch,
            Mismatch::Condition {
                operator: "ArnEquals".into(),
                key: "aws:SourceArn".into()
            }
        );
        let insecure = evaluate(
            &sns_sends(
                "postoffice-kitchen-dlq",
                &format!("{TOPIC}COOKING_REQUESTED"),
                false,
            ),
            &policies,
        );
        assert!(matches!(insecure, Decision::ExplicitDeny { .. }));
        assert_eq!(sid(&insecure).as_deref(), Some("DenyInsecureTransport"));
        // The queue policy admits no role: a handler has no permission of its own either.
        let handler = Request::new(
            session("postoffice-kitchen-handler"),
            "sqs:SendMessage",
            "arn:aws:sqs:eu-west-1:123456789012:postoffice-kitchen-dlq",
        )
        .unwrap()
        .with_context(secure());
        let role = fixture("consumer-kitchen-handler-role-policy.json");
        let both = Policies::new()
            .identity_policy(&role)
            .unwrap()
            .resource_policy(ResourcePolicyKind::Resource, &queue)
            .unwrap();
        assert!(!evaluate(&handler, &both).is_allowed());
    }

    #[test]
    fn sns_encrypts_for_the_queues_with_the_key_of_its_account_only() {
        let key = fixture("platform-kms-key-policy.json");
        let policies = Policies::new()
            .resource_policy(ResourcePolicyKind::KeyPolicy, &key)
            .unwrap();
        let generate = |account: &str| {
            Request::new(
                Principal::service("sns.amazonaws.com").unwrap(),
                "kms:GenerateDataKey",
                KEY,
            )
            .unwrap()
            .with_context(Context::new().with("aws:SourceAccount", account))
        };
        assert_eq!(
            sid(&evaluate(&generate(ACCOUNT), &policies)).as_deref(),
            Some("SnsDeliversToEncryptedQueues")
        );
        assert!(!evaluate(&generate("210987654321"), &policies).is_allowed());
    }

    #[test]
    fn the_event_store_queue_takes_every_topic_of_the_prefix() {
        let queue = fixture("platform-event-store-dlq-policy.json");
        let policies = Policies::new()
            .resource_policy(ResourcePolicyKind::Resource, &queue)
            .unwrap();
        assert!(
            evaluate(
                &sns_sends(
                    "postoffice-event-store-dlq",
                    &format!("{TOPIC}A_NEW_EVENT"),
                    true
                ),
                &policies
            )
            .is_allowed()
        );
        assert!(
            !evaluate(
                &sns_sends(
                    "postoffice-event-store-dlq",
                    "arn:aws:sns:eu-west-1:123456789012:other-COOKING_REQUESTED",
                    true
                ),
                &policies
            )
            .is_allowed()
        );
    }
}

mod iot_rules {
    use super::*;

    fn iot_assumes(trust: &Policy, rule: Option<&str>, account: &str) -> bool {
        let mut context = Context::new().with("aws:SourceAccount", account);
        if let Some(rule) = rule {
            context.insert(
                "aws:SourceArn",
                format!("arn:aws:iot:{REGION}:{ACCOUNT}:rule/{rule}"),
            );
        }
        let request = Request::new(
            Principal::service("iot.amazonaws.com").unwrap(),
            "sts:AssumeRole",
            "arn:aws:iam::123456789012:role/postoffice-COOKING_REQUESTED-rule",
        )
        .unwrap()
        .with_context(context);
        evaluate(
            &request,
            &Policies::new()
                .resource_policy(ResourcePolicyKind::TrustPolicy, trust)
                .unwrap(),
        )
        .is_allowed()
    }

    #[test]
    fn only_its_own_rule_assumes_an_event_rule_role() {
        let trust = fixture("event-COOKING_REQUESTED-rule-assume-trust-policy.json");
        assert!(iot_assumes(
            &trust,
            Some("postoffice_COOKING_REQUESTED"),
            ACCOUNT
        ));
        assert!(!iot_assumes(
            &trust,
            Some("postoffice_COOKING_FINISHED"),
            ACCOUNT
        ));
        assert!(!iot_assumes(
            &trust,
            Some("postoffice_COOKING_REQUESTED"),
            "210987654321"
        ));
        assert!(!iot_assumes(&trust, None, ACCOUNT));
    }

    #[test]
    fn every_rule_of_the_prefix_assumes_the_rule_errors_role() {
        let trust = fixture("platform-iot-assume-trust-policy.json");
        assert!(iot_assumes(
            &trust,
            Some("postoffice_COOKING_REQUESTED"),
            ACCOUNT
        ));
        assert!(iot_assumes(&trust, Some("postoffice_A_NEW_EVENT"), ACCOUNT));
        assert!(!iot_assumes(
            &trust,
            Some("staging_COOKING_REQUESTED"),
            ACCOUNT
        ));
    }

    #[test]
    fn a_rule_role_publishes_its_event_and_encrypts_through_sns() {
        let role = fixture("event-COOKING_REQUESTED-rule-role-policy.json");
        let key = fixture("platform-kms-key-policy.json");
        let rule = session("postoffice-COOKING_REQUESTED-rule");
        let publish = |event: &str| {
            Request::new(rule.clone(), "sns:Publish", &format!("{TOPIC}{event}")).unwrap()
        };
        let identity = Policies::new().identity_policy(&role).unwrap();
        assert!(evaluate(&publish("COOKING_REQUESTED"), &identity).is_allowed());
        assert!(!evaluate(&publish("COOKING_FINISHED"), &identity).is_allowed());
        let with_key = identity
            .resource_policy(ResourcePolicyKind::KeyPolicy, &key)
            .unwrap();
        let generate = Request::new(rule, "kms:GenerateDataKey", KEY)
            .unwrap()
            .with_context(Context::new().with("kms:ViaService", "sns.eu-west-1.amazonaws.com"));
        assert!(evaluate(&generate, &with_key).is_allowed());
    }

    #[test]
    fn rule_errors_reach_their_queue_over_tls_only() {
        let role = fixture("platform-rule-errors-role-policy.json");
        let queue = fixture("platform-rule-errors-queue-policy.json");
        let policies = Policies::new()
            .identity_policy(&role)
            .unwrap()
            .resource_policy(ResourcePolicyKind::Resource, &queue)
            .unwrap();
        let send = |secure_transport: bool| {
            Request::new(
                session("postoffice-rule-errors"),
                "sqs:SendMessage",
                "arn:aws:sqs:eu-west-1:123456789012:postoffice-rule-errors",
            )
            .unwrap()
            .with_context(Context::new().with("aws:SecureTransport", secure_transport))
        };
        assert!(evaluate(&send(true), &policies).is_allowed());
        assert!(matches!(
            evaluate(&send(false), &policies),
            Decision::ExplicitDeny { .. }
        ));
    }
}

mod event_store {
    use super::*;

    const BUCKET: &str = "arn:aws:s3:::postoffice-event-store-123456789012-eu-west-1";

    #[test]
    fn firehose_writes_the_store_over_tls_with_its_role() {
        let role = fixture("platform-firehose-role-policy.json");
        let bucket = fixture("platform-event-store-bucket-policy.json");
        let policies = Policies::new()
            .identity_policy(&role)
            .unwrap()
            .resource_policy(ResourcePolicyKind::Resource, &bucket)
            .unwrap();
        let put = |secure_transport: bool| {
            Request::new(
                session("postoffice-event-store-firehose"),
                "s3:PutObject",
                &format!("{BUCKET}/events/event=COOKING_REQUESTED/date=2026-11-23/part-1"),
            )
            .unwrap()
            .with_resource_account(ACCOUNT)
            .unwrap()
            .with_context(Context::new().with("aws:SecureTransport", secure_transport))
        };
        assert!(evaluate(&put(true), &policies).is_allowed());
        assert_eq!(
            sid(&evaluate(&put(false), &policies)).as_deref(),
            Some("DenyInsecureTransport")
        );
        let trust = fixture("platform-firehose-assume-trust-policy.json");
        let trust = Policies::new()
            .resource_policy(ResourcePolicyKind::TrustPolicy, &trust)
            .unwrap();
        let assume = |context: Context| {
            Request::new(
                Principal::service("firehose.amazonaws.com").unwrap(),
                "sts:AssumeRole",
                "arn:aws:iam::123456789012:role/postoffice-event-store-firehose",
            )
            .unwrap()
            .with_context(context)
        };
        assert!(
            evaluate(
                &assume(Context::new().with("sts:ExternalId", ACCOUNT)),
                &trust
            )
            .is_allowed()
        );
        assert!(!evaluate(&assume(Context::new()), &trust).is_allowed());
    }

    #[test]
    fn sns_puts_events_into_the_stream_and_logs_delivery_failures_through_its_roles() {
        let trust = fixture("platform-sns-assume-trust-policy.json");
        let assume = Request::new(
            Principal::service("sns.amazonaws.com").unwrap(),
            "sts:AssumeRole",
            "arn:aws:iam::123456789012:role/postoffice-event-store-subscription",
        )
        .unwrap();
        assert!(
            evaluate(
                &assume,
                &Policies::new()
                    .resource_policy(ResourcePolicyKind::TrustPolicy, &trust)
                    .unwrap()
            )
            .is_allowed()
        );

        let subscription = fixture("platform-event-store-subscription-role-policy.json");
        let put = Request::new(
            session("postoffice-event-store-subscription"),
            "firehose:PutRecordBatch",
            "arn:aws:firehose:eu-west-1:123456789012:deliverystream/postoffice-event-store",
        )
        .unwrap();
        assert!(
            evaluate(
                &put,
                &Policies::new().identity_policy(&subscription).unwrap()
            )
            .is_allowed()
        );

        let delivery_status = fixture("platform-sns-delivery-status-role-policy.json");
        let policies = Policies::new().identity_policy(&delivery_status).unwrap();
        let log = |action: &str, resource: &str| {
            evaluate(
                &Request::new(session("postoffice-sns-delivery-status"), action, resource).unwrap(),
                &policies,
            )
            .is_allowed()
        };
        let group = "arn:aws:logs:eu-west-1:123456789012:log-group:sns/eu-west-1/123456789012/postoffice-COOKING_REQUESTED/Failure";
        assert!(log("logs:CreateLogGroup", group));
        assert!(log("logs:PutLogEvents", &format!("{group}:log-stream:abc")));
        assert!(!log("logs:PutRetentionPolicy", group));
        assert!(!log(
            "logs:PutLogEvents",
            "arn:aws:logs:eu-west-1:123456789012:log-group:/aws/lambda/postoffice-kitchen-handler:log-stream:abc"
        ));
    }

    #[test]
    fn logs_and_alarms_use_the_key_for_this_account_only() {
        let key = fixture("platform-kms-key-policy.json");
        let policies = Policies::new()
            .resource_policy(ResourcePolicyKind::KeyPolicy, &key)
            .unwrap();
        let logs = |group_arn: &str| {
            Request::new(
                Principal::service("logs.eu-west-1.amazonaws.com").unwrap(),
                "kms:Encrypt",
                KEY,
            )
            .unwrap()
            .with_context(Context::new().with("kms:EncryptionContext:aws:logs:arn", group_arn))
        };
        assert!(evaluate(
            &logs("arn:aws:logs:eu-west-1:123456789012:log-group:/aws/lambda/postoffice-kitchen-handler"),
            &policies
        )
        .is_allowed());
        assert!(
            !evaluate(
                &logs("arn:aws:logs:eu-west-1:210987654321:log-group:/aws/lambda/x"),
                &policies
            )
            .is_allowed()
        );
        let alarms = Request::new(
            Principal::service("cloudwatch.amazonaws.com").unwrap(),
            "kms:GenerateDataKey",
            KEY,
        )
        .unwrap()
        .with_context(Context::new().with("aws:SourceAccount", ACCOUNT));
        assert!(evaluate(&alarms, &policies).is_allowed());
    }
}

mod devices {
    use super::*;

    fn device_policies() -> [Policy; 4] {
        [
            fixture("platform-iot-device-policy.json"),
            fixture("platform-iot-device-publish-0-policy.json"),
            fixture("platform-iot-device-publish-1-policy.json"),
            fixture("platform-iot-device-publish-3-policy.json"),
        ]
    }

    fn oven(attached: bool) -> IotConnection {
        IotConnection::new("oven-1").with_thing(
            ConnectedThing {
                name: "oven-1".into(),
                type_name: None,
                attributes: vec![("household".into(), "h-1".into())],
            },
            attached,
        )
    }

    fn allowed(connection: &IotConnection, action: &str, resource: &str) -> bool {
        let policies = device_policies();
        let attached = policies
            .iter()
            .try_fold(IotPolicies::new(), |set, policy| set.policy(policy))
            .unwrap();
        let request = Request::new(
            Principal::iot_certificate("c0ffee").unwrap(),
            action,
            resource,
        )
        .unwrap()
        .with_context(connection.context());
        evaluate_iot(&request, &attached).is_allowed()
    }

    #[test]
    fn a_device_connects_only_as_its_attached_thing() {
        assert!(allowed(
            &oven(true),
            "iot:Connect",
            &client_arn(REGION, ACCOUNT, "oven-1")
        ));
        assert!(!allowed(
            &oven(false),
            "iot:Connect",
            &client_arn(REGION, ACCOUNT, "oven-1")
        ));
        assert!(!allowed(
            &IotConnection::new("oven-2"),
            "iot:Connect",
            &client_arn(REGION, ACCOUNT, "oven-2")
        ));
    }

    #[test]
    fn a_device_publishes_its_events_to_its_own_household_and_device_topics() {
        let publish = |topic: &str| {
            allowed(
                &oven(true),
                "iot:Publish",
                &topic_arn(REGION, ACCOUNT, topic),
            )
        };
        assert!(publish("COOKING_REQUESTED/h-1/oven-1"));
        assert!(publish("COOKING_FINISHED/h-1/oven-1"));
        assert!(publish("DEVICE_TELEMETRY_REPORTED/h-1/oven-1"));
        assert!(publish("EVENT_COLLECTION/h-1/oven-1"), "its collections");
        assert!(
            !publish("EVENT_COLLECTION/h-2/oven-1") && !publish("EVENT_COLLECTION/h-1/oven-2"),
            "another's collections"
        );
        assert!(
            !publish("COOKING_REPLIED/h-1/oven-1"),
            "a backend-to-actor event"
        );
        assert!(
            !publish("COOKING_REQUESTED/h-2/oven-1"),
            "another household"
        );
        assert!(!publish("COOKING_REQUESTED/h-1/oven-2"), "another device");
        assert!(!allowed(
            &oven(false),
            "iot:Publish",
            &topic_arn(REGION, ACCOUNT, "COOKING_REQUESTED/h-1/oven-1")
        ));
    }

    #[test]
    fn a_device_subscribes_and_receives_on_its_own_topics_where_mqtt_wildcards_are_literal() {
        let subscribe = |filter: &str| {
            allowed(
                &oven(true),
                "iot:Subscribe",
                &topic_filter_arn(REGION, ACCOUNT, filter),
            )
        };
        assert!(subscribe("COOKING_REPLIED/h-1/oven-1"));
        // `*` in the policy spans the literal `+` of the filter's first level.
        assert!(subscribe("+/h-1/oven-1"));
        assert!(!subscribe("#"));
        assert!(!subscribe("COOKING_REPLIED/h-1/+"));
        assert!(!subscribe("COOKING_REPLIED/h-2/oven-1"));
        let receive = |topic: &str| {
            allowed(
                &oven(true),
                "iot:Receive",
                &topic_arn(REGION, ACCOUNT, topic),
            )
        };
        assert!(receive("COOKING_REPLIED/h-1/oven-1"));
        assert!(!receive("COOKING_REPLIED/h-2/oven-1"));
        assert!(!allowed(
            &oven(true),
            "iot:Subscribe",
            &topic_arn(REGION, ACCOUNT, "COOKING_REPLIED/h-1/oven-1")
        ));
    }
}

mod mobile {
    use super::*;

    const IDENTITY: &str = "eu-west-1:11111111-2222-3333-4444-555555555555";

    fn app_request(action: &str, resource: &str, household: Option<&str>) -> Request {
        let mut context = IotConnection::new(IDENTITY)
            .with_cognito_identity(IDENTITY)
            .context();
        if let Some(household) = household {
            context.insert("aws:PrincipalTag/household", household);
        }
        Request::new(
            Principal::role_session(
                "arn:aws:iam::123456789012:role/postoffice-mobile-authenticated",
                "CognitoIdentityCredentials",
            )
            .unwrap(),
            action,
            resource,
        )
        .unwrap()
        .with_context(context)
    }

    fn decide(request: &Request) -> postoffice_policy::iot::CognitoDecision {
        let iot_policy = fixture("platform-iot-mobile-policy.json");
        let role_policy = fixture("platform-mobile-role-policy.json");
        evaluate_cognito(
            request,
            &IotPolicies::new().policy(&iot_policy).unwrap(),
            &Policies::new().identity_policy(&role_policy).unwrap(),
        )
    }

    #[test]
    fn the_app_connects_as_its_identity() {
        assert!(
            decide(&app_request(
                "iot:Connect",
                &client_arn(REGION, ACCOUNT, IDENTITY),
                Some("h-1")
            ))
            .is_allowed()
        );
        let impostor = decide(&app_request(
            "iot:Connect",
            &client_arn(REGION, ACCOUNT, "oven-1"),
            Some("h-1"),
        ));
        assert_eq!(impostor.denied_by(), Some(CognitoSide::IotPolicy));
    }

    #[test]
    fn the_role_scopes_the_app_to_its_household_and_mobile_events() {
        let publish = |topic: &str, household| {
            decide(&app_request(
                "iot:Publish",
                &topic_arn(REGION, ACCOUNT, topic),
                household,
            ))
        };
        assert!(publish("COOKING_REQUESTED/h-1/oven-1", Some("h-1")).is_allowed());
        let elsewhere = publish("COOKING_REQUESTED/h-2/oven-1", Some("h-1"));
        assert!(elsewhere.iot.is_allowed());
        assert_eq!(elsewhere.denied_by(), Some(CognitoSide::RolePolicy));
        assert_eq!(
            publish("DEVICE_TELEMETRY_REPORTED/h-1/oven-1", Some("h-1")).denied_by(),
            Some(CognitoSide::RolePolicy)
        );
        // Without the household session tag the variable resolves to nothing: no topic matches.
        assert_eq!(
            publish("COOKING_REQUESTED/h-1/oven-1", None).denied_by(),
            Some(CognitoSide::RolePolicy)
        );
        let subscribe = |filter: &str| {
            decide(&app_request(
                "iot:Subscribe",
                &topic_filter_arn(REGION, ACCOUNT, filter),
                Some("h-1"),
            ))
        };
        assert!(subscribe("COOKING_REPLIED/h-1/+").is_allowed());
        assert!(subscribe("+/h-1/#").is_allowed());
        assert!(!subscribe("#").is_allowed());
        assert!(
            decide(&app_request(
                "iot:Receive",
                &topic_arn(REGION, ACCOUNT, "COOKING_STARTED/h-1/oven-1"),
                Some("h-1")
            ))
            .is_allowed()
        );
        assert!(
            !decide(&app_request(
                "iot:Receive",
                &topic_arn(REGION, ACCOUNT, "COOKING_STARTED/h-2/oven-1"),
                Some("h-1")
            ))
            .is_allowed()
        );
    }

    #[test]
    fn only_authenticated_identities_of_the_pool_assume_the_role() {
        let trust = fixture("platform-mobile-assume-trust-policy.json");
        let policies = Policies::new()
            .resource_policy(ResourcePolicyKind::TrustPolicy, &trust)
            .unwrap();
        let assume = |action: &str, audience: &str, methods: &[&str]| {
            let request = Request::new(
                Principal::web_identity("cognito-identity.amazonaws.com").unwrap(),
                action,
                "arn:aws:iam::123456789012:role/postoffice-mobile-authenticated",
            )
            .unwrap()
            .with_context(
                Context::new()
                    .with("cognito-identity.amazonaws.com:aud", audience)
                    .with_values(
                        "cognito-identity.amazonaws.com:amr",
                        methods.iter().copied(),
                    ),
            );
            evaluate(&request, &policies).is_allowed()
        };
        let signed_in = [
            "authenticated",
            "cognito-idp.eu-west-1.amazonaws.com/eu-west-1_Abc:CognitoSignIn:x",
        ];
        assert!(assume("sts:AssumeRoleWithWebIdentity", POOL, &signed_in));
        assert!(assume("sts:TagSession", POOL, &signed_in));
        assert!(!assume(
            "sts:AssumeRoleWithWebIdentity",
            POOL,
            &["unauthenticated"]
        ));
        assert!(!assume(
            "sts:AssumeRoleWithWebIdentity",
            "eu-west-1:another-pool",
            &signed_in
        ));
        assert!(!assume("sts:AssumeRole", POOL, &signed_in));
    }
}
