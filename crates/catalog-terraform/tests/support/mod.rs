//! An actor-published event's two IoT topic rules (terraform/modules/event/rule-sql.tf), read
//! from the module's golden SQL and run with the local post office's rule engine.

use std::path::Path;

use base64::Engine;
use base64::engine::general_purpose::STANDARD as BASE64;
use postoffice_iot_sql::{Message, Statement};
use serde_json::{Value, json};

pub const CLIENT_ID: &str = "oven-1";
pub const TRACE_ID: &str = "4f2b8c1e-2d3a-4b5c-8d6e-7f8091a2b3c4";
/// 2026-11-23T20:00:00.012Z
pub const RECEIVED_MS: i64 = 1_795_464_000_012;

fn sql(file: &str) -> String {
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../terraform/modules/event/tests/rule-sql")
        .join(file);
    std::fs::read_to_string(&path)
        .unwrap_or_else(|e| panic!("{}: {e}", path.display()))
        .trim_end()
        .to_owned()
}

pub struct Rules {
    pub accept: Statement,
    pub reject: Statement,
    rejection_rule: String,
}

pub enum Route {
    Accepted(Value),
    Rejected(Value),
}

impl Rules {
    /// `event`'s rule and rejection rule.
    pub fn load(event: &str) -> Rules {
        let parse = |file: &str| {
            Statement::parse(&sql(file)).unwrap_or_else(|e| panic!("{file} does not parse: {e}"))
        };
        Rules {
            accept: parse(&format!("{event}.sql")),
            reject: parse(&format!("{event}_rejected.sql")),
            rejection_rule: format!("postoffice_{event}_rejected"),
        }
    }

    /// What the two rules make of `payload` published on `topic` over MQTT.
    pub fn route(&self, topic: &str, payload: &[u8]) -> Route {
        let message = Message {
            topic,
            payload,
            client_id: Some(CLIENT_ID),
            timestamp_ms: RECEIVED_MS,
            trace_id: Some(TRACE_ID),
            principal: None,
        };
        let accepted = self
            .accept
            .evaluate(&message)
            .expect("the rule's output is JSON");
        let rejected = self
            .reject
            .evaluate(&message)
            .expect("the rejection's output is JSON");
        match (accepted, rejected) {
            (Some(envelope), None) => Route::Accepted(envelope),
            (None, Some(rejection)) => Route::Rejected(rejection),
            (accepted, rejected) => panic!(
                "exactly one rule must take {:?} on {topic}: rule {accepted:?}, rejection {rejected:?}",
                String::from_utf8_lossy(payload)
            ),
        }
    }

    /// Rejected in the rejected-device-messages format; the parts it names unreadable.
    pub fn rejected(&self, topic: &str, payload: &[u8]) -> Vec<String> {
        let mut rejection = match self.route(topic, payload) {
            Route::Rejected(rejection) => rejection,
            Route::Accepted(envelope) => panic!(
                "{:?} on {topic} was accepted as {envelope}",
                String::from_utf8_lossy(payload)
            ),
        };
        let unreadable = rejection
            .as_object_mut()
            .unwrap()
            .remove("unreadable")
            .expect("the rejection names the unreadable parts");
        assert_eq!(
            rejection,
            json!({
                "ruleName": self.rejection_rule,
                "topic": topic,
                "clientId": CLIENT_ID,
                "traceId": TRACE_ID,
                "receivedAt": "2026-11-23T20:00:00.012Z",
                "base64OriginalPayload": BASE64.encode(payload),
            })
        );
        serde_json::from_value(unreadable).unwrap()
    }
}
