//! Parsing SNS messages in both delivery shapes, their HTTP serialisation and the exact string to
//! sign of each type.

use postoffice::sns::{MessageType, SnsError, SnsMessage};
use proptest::prelude::*;
use serde_json::{Value, json};

fn subscription_confirmation() -> Value {
    json!({
        "Type": "SubscriptionConfirmation",
        "MessageId": "165545c9-2a5c-472c-8df2-7ff2be2b3b1b",
        "Token": "2336412f37fb687f5d51e6e2425e",
        "TopicArn": "arn:aws:sns:us-west-2:123456789012:postoffice-COOKING_REQUESTED",
        "Message": "You have chosen to subscribe to the topic.",
        "SubscribeURL": "https://sns.us-west-2.amazonaws.com/?Action=ConfirmSubscription&Token=2336412f37",
        "Timestamp": "2012-04-26T20:45:04.751Z",
        "SignatureVersion": "2",
        "Signature": "c2lnbmF0dXJl",
        "SigningCertURL": "https://sns.us-west-2.amazonaws.com/SimpleNotificationService-abc.pem"
    })
}

fn notification() -> Value {
    json!({
        "Type": "Notification",
        "MessageId": "22b80b92-fdea-4c2c-8f9d-bdfb0c7bf324",
        "TopicArn": "arn:aws:sns:us-west-2:123456789012:postoffice-COOKING_REQUESTED",
        "Subject": "My First Message",
        "Message": "Hello world!",
        "Timestamp": "2012-05-02T00:54:06.655Z",
        "SignatureVersion": "1",
        "Signature": "c2lnbmF0dXJl",
        "SigningCertURL": "https://sns.us-west-2.amazonaws.com/SimpleNotificationService-abc.pem",
        "UnsubscribeURL": "https://sns.us-west-2.amazonaws.com/?Action=Unsubscribe&SubscriptionArn=arn",
        "MessageAttributes": {
            "event": {"Type": "String", "Value": "COOKING_REQUESTED"},
            "household_id": {"Type": "String", "Value": "h-1"}
        }
    })
}

fn parse(value: &Value) -> Result<SnsMessage, SnsError> {
    SnsMessage::parse(value.to_string().as_bytes())
}

#[test]
fn a_notification_parses_with_its_attributes() {
    let message = parse(&notification()).unwrap();
    assert_eq!(message.message_type, MessageType::Notification);
    assert_eq!(message.message_type.as_str(), "Notification");
    assert_eq!(message.subject.as_deref(), Some("My First Message"));
    assert_eq!(message.signature_version, "1");
    assert_eq!(message.token, None);
    assert_eq!(
        message.message_attributes["event"].value,
        "COOKING_REQUESTED"
    );
    assert_eq!(message.message_attributes["event"].data_type, "String");
    assert!(
        message
            .unsubscribe_url
            .unwrap()
            .contains("Action=Unsubscribe")
    );
}

#[test]
fn the_lambda_shape_uses_url_in_lower_case_and_null_subject() {
    let mut lambda = notification();
    let fields = lambda.as_object_mut().unwrap();
    let cert = fields.remove("SigningCertURL").unwrap();
    let unsubscribe = fields.remove("UnsubscribeURL").unwrap();
    fields.insert("SigningCertUrl".into(), cert);
    fields.insert("UnsubscribeUrl".into(), unsubscribe);
    fields.insert("Subject".into(), Value::Null);

    let mut expected = parse(&notification()).unwrap();
    expected.subject = None;
    assert_eq!(parse(&lambda).unwrap(), expected);
}

#[test]
fn both_spellings_with_different_values_are_refused() {
    let mut body = notification();
    body["SigningCertUrl"] =
        json!("https://sns.us-east-1.amazonaws.com/SimpleNotificationService-x.pem");
    assert_eq!(
        parse(&body),
        Err(SnsError::ConflictingField {
            http_key: "SigningCertURL",
            lambda_key: "SigningCertUrl"
        })
    );
}

#[test]
fn confirmations_parse_with_token_and_subscribe_url() {
    for type_name in ["SubscriptionConfirmation", "UnsubscribeConfirmation"] {
        let mut body = subscription_confirmation();
        body["Type"] = json!(type_name);
        let message = parse(&body).unwrap();
        assert_eq!(message.message_type.as_str(), type_name);
        assert_eq!(
            message.token.as_deref(),
            Some("2336412f37fb687f5d51e6e2425e")
        );
        assert!(
            message
                .subscribe_url
                .unwrap()
                .contains("ConfirmSubscription")
        );
    }
    let mut lambda = subscription_confirmation();
    let url = lambda
        .as_object_mut()
        .unwrap()
        .remove("SubscribeURL")
        .unwrap();
    lambda["SubscribeUrl"] = url;
    assert_eq!(parse(&lambda), parse(&subscription_confirmation()));
}

#[test]
fn missing_required_fields_are_named() {
    let notification_fields = [
        "MessageId",
        "TopicArn",
        "Message",
        "Timestamp",
        "SignatureVersion",
        "Signature",
        "SigningCertURL",
    ];
    for field in notification_fields {
        let mut body = notification();
        body.as_object_mut().unwrap().remove(field);
        let error = parse(&body).unwrap_err();
        assert_eq!(
            error,
            SnsError::MissingField {
                message_type: MessageType::Notification,
                field
            }
        );
        assert!(error.to_string().contains(field), "{error}");
    }
    for field in ["Token", "SubscribeURL", "MessageId"] {
        let mut body = subscription_confirmation();
        body.as_object_mut().unwrap().remove(field);
        assert_eq!(
            parse(&body),
            Err(SnsError::MissingField {
                message_type: MessageType::SubscriptionConfirmation,
                field
            })
        );
    }
    let mut body = notification();
    body.as_object_mut().unwrap().remove("Type");
    assert_eq!(parse(&body), Err(SnsError::MissingType));
}

#[test]
fn malformed_bodies_say_what_is_wrong() {
    assert!(matches!(SnsMessage::parse(b"{"), Err(SnsError::NotJson(_))));
    assert_eq!(SnsMessage::parse(b"[1]"), Err(SnsError::NotAnObject));
    let mut body = notification();
    body["Type"] = json!("Gossip");
    assert_eq!(parse(&body), Err(SnsError::UnknownType("Gossip".into())));
    let mut body = notification();
    body["Message"] = json!(42);
    assert_eq!(parse(&body), Err(SnsError::NotAString { field: "Message" }));
    let mut body = notification();
    body["MessageAttributes"]["event"] = json!({"Type": "String"});
    assert!(matches!(
        parse(&body),
        Err(SnsError::MalformedAttribute { name, .. }) if name == "event"
    ));
}

#[test]
fn the_http_shape_round_trips() {
    for body in [notification(), subscription_confirmation()] {
        let message = parse(&body).unwrap();
        let http: Value = serde_json::from_str(&message.to_http_json()).unwrap();
        assert_eq!(http, body);
        assert_eq!(
            SnsMessage::parse(message.to_http_json().as_bytes()).unwrap(),
            message
        );
    }
}

#[test]
fn the_http_shape_follows_sns_key_order_and_spelling() {
    let mut message = parse(&notification()).unwrap();
    message.subject = None;
    let http = message.to_http_json();
    assert!(
        http.starts_with(r#"{"Type":"Notification","MessageId":"#),
        "{http}"
    );
    assert!(http.contains(r#""SigningCertURL":"#));
    assert!(http.contains(r#""UnsubscribeURL":"#));
    assert!(!http.contains("Subject"));
    assert!(!http.contains("Url\""));
}

#[test]
fn the_notification_string_to_sign_is_exact() {
    let message = parse(&notification()).unwrap();
    assert_eq!(
        message.string_to_sign(),
        "Message\nHello world!\n\
         MessageId\n22b80b92-fdea-4c2c-8f9d-bdfb0c7bf324\n\
         Subject\nMy First Message\n\
         Timestamp\n2012-05-02T00:54:06.655Z\n\
         TopicArn\narn:aws:sns:us-west-2:123456789012:postoffice-COOKING_REQUESTED\n\
         Type\nNotification\n"
    );
    let mut without_subject = message.clone();
    without_subject.subject = None;
    assert!(!without_subject.string_to_sign().contains("Subject"));
}

#[test]
fn the_confirmation_string_to_sign_is_exact() {
    let mut body = subscription_confirmation();
    body["Type"] = json!("UnsubscribeConfirmation");
    let message = parse(&body).unwrap();
    assert_eq!(
        message.string_to_sign(),
        "Message\nYou have chosen to subscribe to the topic.\n\
         MessageId\n165545c9-2a5c-472c-8df2-7ff2be2b3b1b\n\
         SubscribeURL\nhttps://sns.us-west-2.amazonaws.com/?Action=ConfirmSubscription&Token=2336412f37\n\
         Timestamp\n2012-04-26T20:45:04.751Z\n\
         Token\n2336412f37fb687f5d51e6e2425e\n\
         TopicArn\narn:aws:sns:us-west-2:123456789012:postoffice-COOKING_REQUESTED\n\
         Type\nUnsubscribeConfirmation\n"
    );
}

fn json_value() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::from),
        any::<i64>().prop_map(Value::from),
        ".{0,12}".prop_map(Value::from),
        prop::sample::select(vec!["Notification", "SubscriptionConfirmation", "2", "1"])
            .prop_map(Value::from),
    ];
    leaf.prop_recursive(3, 24, 6, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..4).prop_map(Value::from),
            prop::collection::btree_map(
                prop::sample::select(vec![
                    "Type",
                    "MessageId",
                    "Message",
                    "Subject",
                    "Token",
                    "SubscribeURL",
                    "SigningCertUrl",
                    "MessageAttributes",
                    "Value",
                    "x",
                ])
                .prop_map(str::to_owned),
                inner,
                0..8
            )
            .prop_map(|map| Value::Object(map.into_iter().collect())),
        ]
    })
}

proptest! {
    #[test]
    fn arbitrary_bytes_never_panic(body in prop::collection::vec(any::<u8>(), 0..512)) {
        let _ = SnsMessage::parse(&body);
    }

    #[test]
    fn arbitrary_json_never_panics_and_parsed_messages_round_trip(value in json_value()) {
        if let Ok(message) = SnsMessage::parse(value.to_string().as_bytes()) {
            prop_assert_eq!(SnsMessage::parse(message.to_http_json().as_bytes()), Ok(message.clone()));
            let type_line = format!("Type\n{}\n", message.message_type);
            prop_assert!(message.string_to_sign().ends_with(&type_line));
        }
    }

    #[test]
    fn fields_of_notifications_can_be_anything(message in ".*", subject in proptest::option::of(".*")) {
        let mut body = notification();
        body["Message"] = json!(message);
        body["Subject"] = json!(subject);
        let parsed = parse(&body).unwrap();
        prop_assert_eq!(&parsed.message, &message);
        prop_assert_eq!(&parsed.subject, &subject);
    }
}
