//! Cost of one decision, the work the local post office does on every call it authorises:
//! a role with five statements, a queue policy, three conditions; and an IoT device publish.

use std::hint::black_box;

use criterion::{Criterion, criterion_group, criterion_main};
use postoffice_policy::iot::{ConnectedThing, IotConnection, topic_arn};
use postoffice_policy::{
    Context, IotPolicies, Policies, Policy, Principal, Request, ResourcePolicyKind, evaluate,
    evaluate_iot,
};

const ROLE_POLICY: &str = r#"{
  "Version": "2012-10-17",
  "Statement": [
    {"Sid": "WriteItsLogs", "Effect": "Allow", "Action": ["logs:CreateLogStream", "logs:PutLogEvents"],
     "Resource": "arn:aws:logs:eu-west-1:123456789012:log-group:/aws/lambda/postoffice-kitchen-handler:*"},
    {"Sid": "ReadItsEncryptedEnvironment", "Effect": "Allow", "Action": "kms:Decrypt",
     "Resource": "arn:aws:kms:eu-west-1:123456789012:key/1234abcd-12ab-34cd-56ef-1234567890ab",
     "Condition": {"StringEquals": {"kms:ViaService": "lambda.eu-west-1.amazonaws.com"}}},
    {"Sid": "PublishItsEvents", "Effect": "Allow", "Action": "sns:Publish",
     "Resource": ["arn:aws:sns:eu-west-1:123456789012:postoffice-COOKING_REPLIED",
                  "arn:aws:sns:eu-west-1:123456789012:postoffice-COOKING_STARTED"]},
    {"Sid": "IdempotencyGuard", "Effect": "Allow",
     "Action": ["dynamodb:GetItem", "dynamodb:PutItem", "dynamodb:UpdateItem", "dynamodb:DeleteItem"],
     "Resource": "arn:aws:dynamodb:eu-west-1:123456789012:table/postoffice-idempotency"},
    {"Sid": "SendToItsQueue", "Effect": "Allow", "Action": "sqs:SendMessage",
     "Resource": "arn:aws:sqs:eu-west-1:123456789012:postoffice-*"}
  ]
}"#;

const QUEUE_POLICY: &str = r#"{
  "Version": "2012-10-17",
  "Statement": [
    {"Sid": "EventTopicsDeadLetterHere", "Effect": "Allow", "Principal": {"Service": "sns.amazonaws.com"},
     "Action": "sqs:SendMessage", "Resource": "arn:aws:sqs:eu-west-1:123456789012:postoffice-kitchen-dlq",
     "Condition": {"ArnEquals": {"aws:SourceArn": ["arn:aws:sns:eu-west-1:123456789012:postoffice-COOKING_FINISHED",
                                                   "arn:aws:sns:eu-west-1:123456789012:postoffice-COOKING_REQUESTED"]},
                   "StringEquals": {"aws:SourceAccount": "123456789012"}}},
    {"Sid": "DenyInsecureTransport", "Effect": "Deny", "Principal": "*", "Action": "sqs:*",
     "Resource": "arn:aws:sqs:eu-west-1:123456789012:postoffice-kitchen-dlq",
     "Condition": {"Bool": {"aws:SecureTransport": "false"}}}
  ]
}"#;

const DEVICE_POLICY: &str = r#"{
  "Version": "2012-10-17",
  "Statement": [
    {"Sid": "ConnectAsItsOwnThing", "Effect": "Allow", "Action": "iot:Connect",
     "Resource": "arn:aws:iot:eu-west-1:123456789012:client/${iot:Connection.Thing.ThingName}",
     "Condition": {"Bool": {"iot:Connection.Thing.IsAttached": "true"}}},
    {"Sid": "PublishItsOwnEvents", "Effect": "Allow", "Action": "iot:Publish",
     "Resource": ["arn:aws:iot:eu-west-1:123456789012:topic/COOKING_FINISHED/${iot:Connection.Thing.Attributes[household]}/${iot:Connection.Thing.ThingName}",
                  "arn:aws:iot:eu-west-1:123456789012:topic/COOKING_REQUESTED/${iot:Connection.Thing.Attributes[household]}/${iot:Connection.Thing.ThingName}",
                  "arn:aws:iot:eu-west-1:123456789012:topic/DEVICE_TELEMETRY_REPORTED/${iot:Connection.Thing.Attributes[household]}/${iot:Connection.Thing.ThingName}"]},
    {"Sid": "SubscribeToItsOwnTopics", "Effect": "Allow", "Action": "iot:Subscribe",
     "Resource": "arn:aws:iot:eu-west-1:123456789012:topicfilter/*/${iot:Connection.Thing.Attributes[household]}/${iot:Connection.Thing.ThingName}"},
    {"Sid": "ReceiveOnItsOwnTopics", "Effect": "Allow", "Action": "iot:Receive",
     "Resource": "arn:aws:iot:eu-west-1:123456789012:topic/*/${iot:Connection.Thing.Attributes[household]}/${iot:Connection.Thing.ThingName}"}
  ]
}"#;

fn decisions(criterion: &mut Criterion) {
    let role_policy = Policy::parse(ROLE_POLICY).unwrap().named("handler");
    let queue_policy = Policy::parse(QUEUE_POLICY).unwrap();
    let handler = Principal::role_session(
        "arn:aws:iam::123456789012:role/postoffice-kitchen-handler",
        "postoffice-kitchen-handler",
    )
    .unwrap();
    let role_and_queue = Policies::new()
        .identity_policy(&role_policy)
        .unwrap()
        .resource_policy(ResourcePolicyKind::Resource, &queue_policy)
        .unwrap();

    let handler_sends = Request::new(
        handler.clone(),
        "sqs:SendMessage",
        "arn:aws:sqs:eu-west-1:123456789012:postoffice-kitchen-dlq",
    )
    .unwrap()
    .with_context(Context::new().with("aws:SecureTransport", true));
    assert!(evaluate(&handler_sends, &role_and_queue).is_allowed());
    criterion.bench_function("role (5 statements) + queue policy, allowed", |bench| {
        bench.iter(|| evaluate(black_box(&handler_sends), black_box(&role_and_queue)))
    });

    let sns_dead_letters = Request::new(
        Principal::service("sns.amazonaws.com").unwrap(),
        "sqs:SendMessage",
        "arn:aws:sqs:eu-west-1:123456789012:postoffice-kitchen-dlq",
    )
    .unwrap()
    .with_context(
        Context::new()
            .with("aws:SecureTransport", true)
            .with("aws:SourceAccount", "123456789012")
            .with(
                "aws:SourceArn",
                "arn:aws:sns:eu-west-1:123456789012:postoffice-COOKING_REQUESTED",
            ),
    );
    let queue_only = Policies::new()
        .resource_policy(ResourcePolicyKind::Resource, &queue_policy)
        .unwrap();
    assert!(evaluate(&sns_dead_letters, &queue_only).is_allowed());
    criterion.bench_function(
        "service principal, queue policy with 3 conditions, allowed",
        |bench| bench.iter(|| evaluate(black_box(&sns_dead_letters), black_box(&queue_only))),
    );

    let handler_strays = Request::new(
        handler,
        "sns:Publish",
        "arn:aws:sns:eu-west-1:123456789012:postoffice-COOKING_REQUESTED",
    )
    .unwrap()
    .with_context(Context::new().with("aws:SecureTransport", true));
    assert!(!evaluate(&handler_strays, &role_and_queue).is_allowed());
    criterion.bench_function(
        "role (5 statements) + queue policy, denied with nearest",
        |bench| bench.iter(|| evaluate(black_box(&handler_strays), black_box(&role_and_queue))),
    );

    let device_policy = Policy::parse(DEVICE_POLICY)
        .unwrap()
        .named("postoffice-device");
    let device_policies = IotPolicies::new().policy(&device_policy).unwrap();
    let connection = IotConnection::new("oven-1").with_thing(
        ConnectedThing {
            name: "oven-1".into(),
            type_name: None,
            attributes: vec![("household".into(), "h-1".into())],
        },
        true,
    );
    let publish = Request::new(
        Principal::iot_certificate("c0ffee").unwrap(),
        "iot:Publish",
        &topic_arn(
            "eu-west-1",
            "123456789012",
            "DEVICE_TELEMETRY_REPORTED/h-1/oven-1",
        ),
    )
    .unwrap()
    .with_context(connection.context());
    assert!(evaluate_iot(&publish, &device_policies).is_allowed());
    criterion.bench_function("IoT device publish (policy variables)", |bench| {
        bench.iter(|| evaluate_iot(black_box(&publish), black_box(&device_policies)))
    });
}

criterion_group!(benches, decisions);
criterion_main!(benches);
