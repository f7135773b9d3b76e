//! The queue message of a rejected member: the rejected-device-messages queue's format
//! (docs/contracts.md, "Rejected device messages"), so `postoffice dlq` lists, shows and purges
//! rejected members with the device messages the event rules rejected, plus where in which
//! collection the member was.

use base64::Engine;
use base64::engine::general_purpose::STANDARD as BASE64;
use postoffice::catalog::COLLECTION_UNPACKER;
use postoffice::envelope::{Envelope, format_time};
use serde_json::{Value, json};

use crate::unpack::RejectedMember;

/// Longest `detail`, in characters: schema violations can be many.
const MAX_DETAIL_CHARS: usize = 2000;

/// `{"ruleName": "collection-unpacker", "topic": the collection's topic, "clientId",
/// "receivedAt": the collection's, "unreadable": [parts], "base64OriginalPayload": the member's
/// JSON, "collectionId": the collection's event id, "member": its index, "detail": why}`.
/// There is no `traceId`: the MQTT message's is not in the collection's envelope.
pub fn rejection_body(collection: &Envelope, rejected: &RejectedMember) -> Value {
    let received_at = collection.received_at.unwrap_or(collection.occurred_at);
    json!({
        "ruleName": COLLECTION_UNPACKER,
        "topic": format!("{}/{}/{}", collection.event, collection.household_id, collection.device_id),
        "clientId": collection.source,
        "receivedAt": format_time(&received_at),
        "unreadable": rejected.unreadable.iter().map(|part| part.as_str()).collect::<Vec<_>>(),
        "base64OriginalPayload": BASE64.encode(rejected.member.to_string()),
        "collectionId": collection.event_id,
        "member": rejected.index,
        "detail": bounded(&rejected.detail),
    })
}

fn bounded(text: &str) -> String {
    match text.char_indices().nth(MAX_DETAIL_CHARS) {
        Some((end, _)) => format!("{}…", &text[..end]),
        None => text.to_owned(),
    }
}
