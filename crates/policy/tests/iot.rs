//! AWS IoT Core policies: the examples of the IoT developer guide's policy pages.
//! https://docs.aws.amazon.com/iot/latest/developerguide/pub-sub-policy.html
//! https://docs.aws.amazon.com/iot/latest/developerguide/thing-policy-examples.html
//! https://docs.aws.amazon.com/iot/latest/developerguide/basic-policy-variables.html

use postoffice_policy::iot::{
    CognitoSide, ConnectedThing, IotConnection, client_arn, evaluate_cognito, topic_arn,
    topic_filter_arn,
};
use postoffice_policy::{
    Decision, IotPolicies, Mismatch, Policies, Policy, Principal, Request, evaluate_iot,
};

const REGION: &str = "us-east-1";
const ACCOUNT: &str = "123456789012";

fn policy(json: &str) -> Policy {
    Policy::parse(json).unwrap_or_else(|error| panic!("{error}\n{json}"))
}

fn thing(name: &str, attributes: &[(&str, &str)]) -> ConnectedThing {
    ConnectedThing {
        name: name.into(),
        type_name: None,
        attributes: attributes
            .iter()
            .map(|(name, value)| ((*name).into(), (*value).into()))
            .collect(),
    }
}

fn registered(client_id: &str) -> IotConnection {
    IotConnection::new(client_id).with_thing(thing(client_id, &[]), true)
}

fn allowed(policy: &Policy, connection: &IotConnection, action: &str, resource: &str) -> bool {
    decide(policy, connection, action, resource).is_allowed()
}

fn decide(policy: &Policy, connection: &IotConnection, action: &str, resource: &str) -> Decision {
    let request = Request::new(
        Principal::iot_certificate("c0ffee").unwrap(),
        action,
        resource,
    )
    .unwrap()
    .with_context(connection.context());
    evaluate_iot(&request, &IotPolicies::new().policy(policy).unwrap())
}

fn topic(name: &str) -> String {
    topic_arn(REGION, ACCOUNT, name)
}

fn filter(name: &str) -> String {
    topic_filter_arn(REGION, ACCOUNT, name)
}

fn client(id: &str) -> String {
    client_arn(REGION, ACCOUNT, id)
}

#[test]
fn a_registered_device_connects_as_its_thing_and_publishes_under_its_name() {
    // Registered devices (5).
    let policy = policy(
        r#"{"Version": "2012-10-17", "Statement": [
            {"Effect": "Allow", "Action": ["iot:Connect"], "Resource": ["arn:aws:iot:us-east-1:123456789012:client/${iot:Connection.Thing.ThingName}"]},
            {"Effect": "Allow", "Action": ["iot:Publish"], "Resource": ["arn:aws:iot:us-east-1:123456789012:topic/${iot:Connection.Thing.ThingName}/*"]}]}"#,
    );
    let oven = registered("oven-1");
    assert!(allowed(&policy, &oven, "iot:Connect", &client("oven-1")));
    assert!(allowed(
        &policy,
        &oven,
        "iot:Publish",
        &topic("oven-1/temperature")
    ));
    assert!(!allowed(
        &policy,
        &oven,
        "iot:Publish",
        &topic("oven-2/temperature")
    ));
    // A client whose certificate is not attached to a thing of its client id resolves no thing
    // variable: nothing matches.
    let stranger = IotConnection::new("oven-2").with_thing(thing("oven-2", &[]), false);
    assert!(!allowed(
        &policy,
        &stranger,
        "iot:Connect",
        &client("oven-2")
    ));
    assert!(!allowed(
        &policy,
        &IotConnection::new("oven-3"),
        "iot:Connect",
        &client("oven-3")
    ));
}

#[test]
fn an_unregistered_device_publishes_under_its_client_id() {
    // Unregistered devices (5) and (9): ${iot:ClientId}, with a Deny for one topic.
    let policy = policy(
        r#"{"Version": "2012-10-17", "Statement": [
            {"Effect": "Allow", "Action": ["iot:Connect"], "Resource": ["arn:aws:iot:us-east-1:123456789012:client/client1", "arn:aws:iot:us-east-1:123456789012:client/client2"]},
            {"Effect": "Allow", "Action": ["iot:Publish"], "Resource": ["arn:aws:iot:us-east-1:123456789012:topic/${iot:ClientId}/*"]},
            {"Effect": "Deny", "Action": ["iot:Publish"], "Resource": ["arn:aws:iot:us-east-1:123456789012:topic/${iot:ClientId}/bar"]}]}"#,
    );
    let client1 = IotConnection::new("client1");
    assert!(allowed(
        &policy,
        &client1,
        "iot:Connect",
        &client("client1")
    ));
    assert!(!allowed(
        &policy,
        &IotConnection::new("client3"),
        "iot:Connect",
        &client("client3")
    ));
    assert!(allowed(
        &policy,
        &client1,
        "iot:Publish",
        &topic("client1/foo")
    ));
    assert!(matches!(
        decide(&policy, &client1, "iot:Publish", &topic("client1/bar")),
        Decision::ExplicitDeny { .. }
    ));
    assert!(!allowed(
        &policy,
        &client1,
        "iot:Publish",
        &topic("client2/foo")
    ));
}

#[test]
fn subscribe_is_checked_on_topic_filters_receive_and_publish_on_topics() {
    // Registered devices (6): topicfilter/${thing}/room* for Subscribe, topic/${thing}/room* for
    // Receive. A topic resource grants no subscription, nor a topic filter any receive.
    let policy = policy(
        r#"{"Version": "2012-10-17", "Statement": [
            {"Effect": "Allow", "Action": ["iot:Subscribe"], "Resource": ["arn:aws:iot:us-east-1:123456789012:topicfilter/${iot:Connection.Thing.ThingName}/room*"]},
            {"Effect": "Allow", "Action": ["iot:Receive"], "Resource": ["arn:aws:iot:us-east-1:123456789012:topic/${iot:Connection.Thing.ThingName}/room*"]}]}"#,
    );
    let thing1 = registered("thing1");
    assert!(allowed(
        &policy,
        &thing1,
        "iot:Subscribe",
        &filter("thing1/room1")
    ));
    assert!(allowed(
        &policy,
        &thing1,
        "iot:Receive",
        &topic("thing1/room2")
    ));
    let decision = decide(&policy, &thing1, "iot:Subscribe", &topic("thing1/room1"));
    let Decision::ImplicitDeny {
        nearest: Some(near),
        ..
    } = &decision
    else {
        panic!("{decision:?}");
    };
    assert_eq!(near.mismatch, Mismatch::Resource);
    assert!(!allowed(
        &policy,
        &thing1,
        "iot:Receive",
        &filter("thing1/room1")
    ));
}

#[test]
fn mqtt_wildcards_are_literal_in_policies_and_star_matches_them() {
    // Registered devices (4): "+ is treated as a literal string ... meaning that only the string
    // some/+/topic matches"; with topicfilter/some/*/topic "any string in the level ... matches".
    let plus = policy(
        r#"{"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": ["iot:Subscribe"], "Resource": ["arn:aws:iot:us-east-1:123456789012:topicfilter/some/+/topic"]}]}"#,
    );
    let device = registered("thing1");
    assert!(allowed(
        &plus,
        &device,
        "iot:Subscribe",
        &filter("some/+/topic")
    ));
    assert!(!allowed(
        &plus,
        &device,
        "iot:Subscribe",
        &filter("some/string1/topic")
    ));
    let star = policy(
        r#"{"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": ["iot:Subscribe"], "Resource": ["arn:aws:iot:us-east-1:123456789012:topicfilter/some/*/topic"]}]}"#,
    );
    assert!(allowed(
        &star,
        &device,
        "iot:Subscribe",
        &filter("some/string1/topic")
    ));
    assert!(allowed(
        &star,
        &device,
        "iot:Subscribe",
        &filter("some/+/topic")
    ));
    assert!(!allowed(&star, &device, "iot:Subscribe", &filter("some/#")));
}

#[test]
fn a_deny_on_a_topic_filter_does_not_stop_a_wider_filter_but_not_resource_on_receive_does() {
    // "the following policy example will not work" (Allow topicfilter/a/*, Deny
    // topicfilter/a/restricted/*): subscribing to a/# stays allowed; the fix is an Allow of
    // iot:Receive with NotResource topic/a/restricted/*.
    let policy = policy(
        r#"{"Version": "2012-10-17", "Statement": [
            {"Effect": "Allow", "Action": "iot:Subscribe", "Resource": "arn:aws:iot:us-east-1:123456789012:topicfilter/a/*"},
            {"Effect": "Deny", "Action": "iot:Subscribe", "Resource": "arn:aws:iot:us-east-1:123456789012:topicfilter/a/restricted/*"},
            {"Effect": "Allow", "Action": "iot:Receive", "NotResource": "arn:aws:iot:us-east-1:123456789012:topic/a/restricted/*"}]}"#,
    );
    let device = registered("thing1");
    assert!(allowed(&policy, &device, "iot:Subscribe", &filter("a/#")));
    assert!(!allowed(
        &policy,
        &device,
        "iot:Subscribe",
        &filter("a/restricted/x")
    ));
    assert!(allowed(&policy, &device, "iot:Receive", &topic("a/open/x")));
    assert!(!allowed(
        &policy,
        &device,
        "iot:Receive",
        &topic("a/restricted/x")
    ));
}

#[test]
fn thing_policies_check_attachment_type_and_attributes() {
    // Thing policy examples: connect when attached; publish when the thing has the attribute
    // and type; publish to a topic starting with an attribute.
    let connect = policy(
        r#"{"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": ["iot:Connect"], "Resource": ["*"],
            "Condition": {"Bool": {"iot:Connection.Thing.IsAttached": ["true"]}}}]}"#,
    );
    assert!(allowed(
        &connect,
        &registered("thing1"),
        "iot:Connect",
        &client("thing1")
    ));
    let unattached = IotConnection::new("thing1").with_thing(thing("thing1", &[]), false);
    assert!(!allowed(
        &connect,
        &unattached,
        "iot:Connect",
        &client("thing1")
    ));

    let typed = policy(
        r#"{"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": ["iot:Publish"],
            "Resource": "arn:aws:iot:us-east-1:123456789012:topic/device/stats",
            "Condition": {"StringEquals": {"iot:Connection.Thing.Attributes[attributeName]": "attributeValue",
                                           "iot:Connection.Thing.ThingTypeName": "Thing_Type_Name"},
                          "Bool": {"iot:Connection.Thing.IsAttached": "true"}}}]}"#,
    );
    let typed_thing = |value: &str, type_name: &str| {
        IotConnection::new("thing1").with_thing(
            ConnectedThing {
                name: "thing1".into(),
                type_name: Some(type_name.into()),
                attributes: vec![("attributeName".into(), value.into())],
            },
            true,
        )
    };
    let stats = topic("device/stats");
    assert!(allowed(
        &typed,
        &typed_thing("attributeValue", "Thing_Type_Name"),
        "iot:Publish",
        &stats
    ));
    assert!(!allowed(
        &typed,
        &typed_thing("other", "Thing_Type_Name"),
        "iot:Publish",
        &stats
    ));
    assert!(!allowed(
        &typed,
        &typed_thing("attributeValue", "Other_Type"),
        "iot:Publish",
        &stats
    ));

    let by_attribute = policy(
        r#"{"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": ["iot:Publish"],
            "Resource": "arn:aws:iot:us-east-1:123456789012:topic/${iot:Connection.Thing.Attributes[attributeName]}/*"}]}"#,
    );
    let with_attribute = IotConnection::new("thing1")
        .with_thing(thing("thing1", &[("attributeName", "kitchen")]), true);
    assert!(allowed(
        &by_attribute,
        &with_attribute,
        "iot:Publish",
        &topic("kitchen/oven")
    ));
    assert!(!allowed(
        &by_attribute,
        &with_attribute,
        "iot:Publish",
        &topic("garage/oven")
    ));
    // "If the device certificate is not associated with the thing, this variable won't be
    // resolved and will result in an access denied error."
    let not_associated = IotConnection::new("thing1")
        .with_thing(thing("thing1", &[("attributeName", "kitchen")]), false);
    assert!(!allowed(
        &by_attribute,
        &not_associated,
        "iot:Publish",
        &topic("kitchen/oven")
    ));
}

#[test]
fn a_client_id_of_plus_stays_a_literal_plus() {
    // The basic policy variables page warns that a client may connect with "+" as its client id
    // and subscribe to my/+/topic with topicfilter/my/${iot:ClientId}/topic: the literal "+"
    // matches, nothing else does.
    let policy = policy(
        r#"{"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": ["iot:Subscribe"],
            "Resource": ["arn:aws:iot:us-east-1:123456789012:topicfilter/my/${iot:ClientId}/topic"]}]}"#,
    );
    let plus = IotConnection::new("+");
    assert!(allowed(
        &policy,
        &plus,
        "iot:Subscribe",
        &filter("my/+/topic")
    ));
    assert!(!allowed(
        &policy,
        &plus,
        "iot:Subscribe",
        &filter("my/other/topic")
    ));
}

#[test]
fn a_cognito_identity_needs_both_its_iot_policy_and_its_role_policy() {
    // https://docs.aws.amazon.com/iot/latest/developerguide/cog-iot-policies.html
    let iot_policy = policy(
        r#"{"Version": "2012-10-17", "Statement": [
            {"Effect": "Allow", "Action": "iot:Connect", "Resource": "arn:aws:iot:us-east-1:123456789012:client/${cognito-identity.amazonaws.com:sub}"},
            {"Effect": "Allow", "Action": "iot:Publish", "Resource": "arn:aws:iot:us-east-1:123456789012:topic/app/*"}]}"#,
    )
    .named("app");
    let role_policy = policy(
        r#"{"Version": "2012-10-17", "Statement": [
            {"Effect": "Allow", "Action": ["iot:Connect", "iot:Publish"], "Resource": "*",
             "Condition": {"StringEquals": {"aws:PrincipalTag/team": "blue"}}}]}"#,
    )
    .named("app-role");
    let iot_policies = IotPolicies::new().policy(&iot_policy).unwrap();
    let role_policies = Policies::new().identity_policy(&role_policy).unwrap();
    let identity = "us-east-1:0f0f0f0f-1111-2222-3333-444444444444";
    let session = Principal::role_session(
        "arn:aws:iam::123456789012:role/app-authenticated",
        "CognitoIdentityCredentials",
    )
    .unwrap();
    let request = |action: &str, resource: &str, team: &str| {
        let mut context = IotConnection::new(identity)
            .with_cognito_identity(identity)
            .context();
        context.insert("aws:PrincipalTag/team", team);
        Request::new(session.clone(), action, resource)
            .unwrap()
            .with_context(context)
    };
    let connect = request("iot:Connect", &client(identity), "blue");
    let both = evaluate_cognito(&connect, &iot_policies, &role_policies);
    assert!(both.is_allowed(), "{}", both.explain(&connect));

    let elsewhere = request("iot:Publish", &topic("other/x"), "blue");
    let decision = evaluate_cognito(&elsewhere, &iot_policies, &role_policies);
    assert_eq!(decision.denied_by(), Some(CognitoSide::IotPolicy));
    assert!(
        decision
            .explain(&elsewhere)
            .starts_with("IoT policy side: denied")
    );

    let red = request("iot:Publish", &topic("app/x"), "red");
    let decision = evaluate_cognito(&red, &iot_policies, &role_policies);
    assert!(decision.iot.is_allowed());
    assert_eq!(decision.denied_by(), Some(CognitoSide::RolePolicy));
    assert!(decision
        .explain(&red)
        .contains("nearest: role policy 'app-role' statement #1 (condition StringEquals on aws:PrincipalTag/team does not hold)"));
}
