//! DynamoDB, metered: moto answers every call; this service sees the data-plane calls and their
//! answers and counts the request units AWS would bill on demand
//! (<https://docs.aws.amazon.com/amazondynamodb/latest/developerguide/read-write-operations.html>):
//! a write is one unit per 1 KB of the item (the larger of the item before and after, at least
//! one; a write whose condition fails still consumes them), a strongly consistent read one unit
//! per 4 KB read, an eventually consistent read half of that. Item sizes follow
//! <https://docs.aws.amazon.com/amazondynamodb/latest/developerguide/CapacityUnitCalculations.html>.
//!
//! The sizes of the items written are kept per table (by key, from the key schema seen in
//! `CreateTable` / `DescribeTable` answers), so that an overwrite or a delete is metered on the
//! item it replaces, and the table's stored bytes are known.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};

use async_trait::async_trait;
use axum::response::Response;
use base64::Engine as _;
use serde_json::{Map, Value};

use crate::aws::{Call, ControlPlaneAnswer, LocalService};
use crate::metering::Meter;

/// A write request unit covers 1 KB of item.
pub const WRITE_UNIT_BYTES: u64 = 1024;
/// A read request unit covers 4 KB read strongly consistently.
pub const READ_UNIT_BYTES: u64 = 4 * 1024;
/// Storage is billed on the items' sizes plus 100 bytes of indexing overhead each.
pub const ITEM_STORAGE_OVERHEAD_BYTES: u64 = 100;

/// The size of an attribute value (without its name).
pub fn value_size(value: &Value) -> u64 {
    let Some((kind, inner)) = value.as_object().and_then(|typed| typed.iter().next()) else {
        return 0;
    };
    match (kind.as_str(), inner) {
        ("S", Value::String(text)) => text.len() as u64,
        ("N", Value::String(number)) => number_size(number),
        ("B", Value::String(encoded)) => binary_size(encoded),
        ("BOOL" | "NULL", _) => 1,
        ("SS", Value::Array(items)) => items
            .iter()
            .filter_map(Value::as_str)
            .map(|text| text.len() as u64)
            .sum(),
        ("NS", Value::Array(items)) => items
            .iter()
            .filter_map(Value::as_str)
            .map(number_size)
            .sum(),
        ("BS", Value::Array(items)) => items
            .iter()
            .filter_map(Value::as_str)
            .map(binary_size)
            .sum(),
        // 3 bytes for the list or map, 1 byte per element.
        ("L", Value::Array(items)) => {
            3 + items.iter().map(|item| value_size(item) + 1).sum::<u64>()
        }
        ("M", Value::Object(attributes)) => {
            3 + attributes
                .iter()
                .map(|(name, value)| name.len() as u64 + value_size(value) + 1)
                .sum::<u64>()
        }
        _ => 0,
    }
}

/// An item's size: its attribute names and values.
pub fn item_size(item: &Map<String, Value>) -> u64 {
    item.iter()
        .map(|(name, value)| name.len() as u64 + value_size(value))
        .sum()
}

/// "1 byte per two significant digits, plus 1 byte"; leading and trailing zeroes do not count.
fn number_size(number: &str) -> u64 {
    let digits: String = number
        .split(['e', 'E'])
        .next()
        .unwrap_or_default()
        .chars()
        .filter(char::is_ascii_digit)
        .collect();
    let significant = digits.trim_start_matches('0').trim_end_matches('0').len() as u64;
    significant.div_ceil(2) + 1
}

/// Binary values are sent as base64; their raw length counts.
fn binary_size(encoded: &str) -> u64 {
    base64::engine::general_purpose::STANDARD
        .decode(encoded)
        .map_or(encoded.len() as u64 * 3 / 4, |raw| raw.len() as u64)
}

/// Write request units for writing (or deleting) an item of `bytes`.
pub fn write_units(bytes: u64) -> f64 {
    bytes.div_ceil(WRITE_UNIT_BYTES).max(1) as f64
}

/// Read request units for reading `bytes`; eventually consistent reads cost half.
pub fn read_units(bytes: u64, consistent: bool) -> f64 {
    let units = bytes.div_ceil(READ_UNIT_BYTES).max(1) as f64;
    if consistent { units } else { units / 2.0 }
}

#[derive(Debug, Default)]
struct Table {
    /// The key attributes' names, once a key schema was seen.
    key: Vec<String>,
    /// Item key → item size.
    items: BTreeMap<String, u64>,
}

impl Table {
    /// The identity of the item `attributes` (an item, or a key) names.
    fn item_key(&self, attributes: &Map<String, Value>) -> String {
        let key: BTreeMap<&str, &Value> = if self.key.is_empty() {
            attributes.iter().map(|(n, v)| (n.as_str(), v)).collect()
        } else {
            self.key
                .iter()
                .filter_map(|name| Some((name.as_str(), attributes.get(name)?)))
                .collect()
        };
        serde_json::to_string(&key).unwrap_or_default()
    }

    fn stored_bytes(&self) -> u64 {
        self.items
            .values()
            .map(|size| size + ITEM_STORAGE_OVERHEAD_BYTES)
            .sum()
    }
}

/// The DynamoDB local service: passes every call on to moto and meters what it answered.
pub struct DynamoDbMeter {
    meter: Arc<Meter>,
    tables: Mutex<BTreeMap<String, Table>>,
}

impl DynamoDbMeter {
    pub fn new(meter: Arc<Meter>) -> Self {
        Self {
            meter,
            tables: Mutex::default(),
        }
    }

    /// Meters one call `action` with `request` body, answered `status` with `answer` body.
    pub fn observed(&self, action: &str, request: &Value, status: u16, answer: &Value) {
        let succeeded = (200..300).contains(&status);
        let condition_failed = answer["__type"]
            .as_str()
            .is_some_and(|kind| kind.ends_with("ConditionalCheckFailedException"));
        if let Some(description) = answer
            .get("TableDescription")
            .or_else(|| answer.get("Table"))
            .filter(|_| succeeded)
        {
            self.learn_key_schema(description);
        }
        if !succeeded && !condition_failed {
            return; // Refused or failed: not billed.
        }
        let Some(table_name) = request["TableName"].as_str() else {
            if action == "BatchWriteItem" || action == "BatchGetItem" {
                self.observed_batch(action, request, answer);
            }
            return;
        };
        let mut tables = self.tables.lock().unwrap_or_else(|p| p.into_inner());
        let table = tables.entry(table_name.to_owned()).or_default();
        let consistent = request["ConsistentRead"].as_bool().unwrap_or(false);
        let (read, write) = match action {
            "PutItem" => {
                let Some(item) = request["Item"].as_object() else {
                    return;
                };
                let key = table.item_key(item);
                let new = item_size(item);
                let old = table.items.get(&key).copied().unwrap_or(0);
                if succeeded {
                    table.items.insert(key, new);
                }
                (0.0, write_units(new.max(old)))
            }
            "UpdateItem" => {
                let Some(key_attributes) = request["Key"].as_object() else {
                    return;
                };
                let key = table.item_key(key_attributes);
                let values = request["ExpressionAttributeValues"]
                    .as_object()
                    .map_or(0, |values| values.values().map(value_size).sum());
                let old = table.items.get(&key).copied().unwrap_or(0);
                let size = old.max(item_size(key_attributes) + values);
                if succeeded {
                    table.items.insert(key, size);
                }
                (0.0, write_units(size))
            }
            "DeleteItem" => {
                let Some(key_attributes) = request["Key"].as_object() else {
                    return;
                };
                let key = table.item_key(key_attributes);
                let old = if succeeded {
                    table.items.remove(&key)
                } else {
                    table.items.get(&key).copied()
                };
                (0.0, write_units(old.unwrap_or(0)))
            }
            "GetItem" => {
                let size = answer["Item"].as_object().map_or(0, item_size);
                (read_units(size, consistent), 0.0)
            }
            "Query" | "Scan" => {
                let size: u64 = answer["Items"].as_array().map_or(0, |items| {
                    items
                        .iter()
                        .filter_map(Value::as_object)
                        .map(item_size)
                        .sum()
                });
                (read_units(size, consistent), 0.0)
            }
            _ => return, // Control plane: not billed per request.
        };
        let stored = table.stored_bytes();
        drop(tables);
        self.meter.dynamodb_used(table_name, read, write);
        self.meter.dynamodb_stored(table_name, stored);
    }

    /// `BatchWriteItem`: each put or delete is metered as its own write; `BatchGetItem`: each
    /// item read is metered on its own size.
    fn observed_batch(&self, action: &str, request: &Value, answer: &Value) {
        let Some(by_table) = request["RequestItems"].as_object() else {
            return;
        };
        let mut tables = self.tables.lock().unwrap_or_else(|p| p.into_inner());
        let mut usage = Vec::new();
        for (table_name, requested) in by_table {
            let table = tables.entry(table_name.clone()).or_default();
            let (mut read, mut write) = (0.0, 0.0);
            if action == "BatchWriteItem" {
                for write_request in requested.as_array().into_iter().flatten() {
                    if let Some(item) = write_request["PutRequest"]["Item"].as_object() {
                        let key = table.item_key(item);
                        let new = item_size(item);
                        let old = table.items.insert(key, new).unwrap_or(0);
                        write += write_units(new.max(old));
                    } else if let Some(key) = write_request["DeleteRequest"]["Key"].as_object() {
                        let key = table.item_key(key);
                        write += write_units(table.items.remove(&key).unwrap_or(0));
                    }
                }
            } else {
                let consistent = requested["ConsistentRead"].as_bool().unwrap_or(false);
                for item in answer["Responses"][table_name.as_str()]
                    .as_array()
                    .into_iter()
                    .flatten()
                    .filter_map(Value::as_object)
                {
                    read += read_units(item_size(item), consistent);
                }
            }
            usage.push((table_name.clone(), read, write, table.stored_bytes()));
        }
        drop(tables);
        for (table, read, write, stored) in usage {
            self.meter.dynamodb_used(&table, read, write);
            self.meter.dynamodb_stored(&table, stored);
        }
    }

    fn learn_key_schema(&self, description: &Value) {
        let (Some(name), Some(schema)) = (
            description["TableName"].as_str(),
            description["KeySchema"].as_array(),
        ) else {
            return;
        };
        let key = schema
            .iter()
            .filter_map(|element| element["AttributeName"].as_str().map(str::to_owned))
            .collect();
        self.tables
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .entry(name.to_owned())
            .or_default()
            .key = key;
    }
}

#[async_trait]
impl LocalService for DynamoDbMeter {
    async fn serve(&self, _call: &Call) -> Option<Response> {
        None
    }

    async fn observe(&self, call: &Call, answer: ControlPlaneAnswer) -> ControlPlaneAnswer {
        if let (Some(action), Some(request)) = (call.request.action(), call.request.json()) {
            let body = serde_json::from_slice(&answer.body).unwrap_or(Value::Null);
            self.observed(&action, &request, answer.status.as_u16(), &body);
        }
        answer
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn item(value: Value) -> Map<String, Value> {
        value.as_object().unwrap().clone()
    }

    #[test]
    fn item_sizes_follow_dynamodbs_rules() {
        // "idempotency_key" (15) + 36, "status" (6) + "claimed" (7), "expires_at" (10) +
        // 10 significant digits (5 bytes) + 1.
        let claim = item(json!({
            "idempotency_key": {"S": "2f1c8a52-5a5e-4c1e-9d1e-0c1f2a3b4c5d"},
            "status": {"S": "claimed"},
            "expires_at": {"N": "1764576123"},
        }));
        assert_eq!(item_size(&claim), 15 + 36 + 6 + 7 + 10 + 6);
        // Leading and trailing zeroes are trimmed: 0012300 has 3 significant digits.
        assert_eq!(value_size(&json!({"N": "0012300"})), 2 + 1);
        assert_eq!(value_size(&json!({"N": "-1.5"})), 1 + 1);
        assert_eq!(value_size(&json!({"B": "AAEC"})), 3);
        assert_eq!(value_size(&json!({"BOOL": true})), 1);
        assert_eq!(value_size(&json!({"NULL": true})), 1);
        assert_eq!(value_size(&json!({"SS": ["ab", "cde"]})), 5);
        // A list: 3 bytes, each element its size plus 1; a map adds its names.
        assert_eq!(
            value_size(&json!({"L": [{"S": "ab"}, {"N": "7"}]})),
            3 + 3 + 3
        );
        assert_eq!(value_size(&json!({"M": {"k": {"S": "v"}}})), 3 + 1 + 1 + 1);
        assert_eq!(value_size(&json!({"L": []})), 3);
    }

    #[test]
    fn units_round_up_to_their_sizes() {
        assert_eq!(write_units(0), 1.0);
        assert_eq!(write_units(1024), 1.0);
        assert_eq!(write_units(1025), 2.0);
        assert_eq!(read_units(0, true), 1.0);
        assert_eq!(read_units(4096, true), 1.0);
        assert_eq!(read_units(4097, true), 2.0);
        assert_eq!(read_units(4097, false), 1.0);
        assert_eq!(read_units(100, false), 0.5);
    }

    #[test]
    fn a_claim_its_completion_a_failed_claim_and_a_release_are_metered_on_their_items() {
        let meter = Arc::new(Meter::default());
        let dynamodb = DynamoDbMeter::new(meter.clone());
        dynamodb.observed(
            "CreateTable",
            &json!({"TableName": "idempotency"}),
            200,
            &json!({"TableDescription": {"TableName": "idempotency",
                "KeySchema": [{"AttributeName": "idempotency_key", "KeyType": "HASH"}]}}),
        );
        let key = json!({"S": "k1"});
        let claimed = json!({"idempotency_key": key, "status": {"S": "claimed"},
                             "expires_at": {"N": "1764576000"}});
        let put = |item: &Value, status: u16, answer: Value| {
            dynamodb.observed(
                "PutItem",
                &json!({"TableName": "idempotency", "Item": item}),
                status,
                &answer,
            )
        };
        put(&claimed, 200, json!({}));
        let big = json!({"idempotency_key": key, "status": {"S": "handled"},
                         "note": {"S": "x".repeat(1500)}});
        put(&big, 200, json!({}));
        // A failed claim is still a write, on the larger item it met.
        put(
            &claimed,
            400,
            json!({"__type": "com.amazonaws.dynamodb.v20120810#ConditionalCheckFailedException"}),
        );
        // A refused call is not billed.
        put(
            &claimed,
            400,
            json!({"__type": "com.amazon.coral.validate#ValidationException"}),
        );
        dynamodb.observed(
            "GetItem",
            &json!({"TableName": "idempotency", "Key": {"idempotency_key": key},
                    "ConsistentRead": true}),
            200,
            &json!({"Item": big}),
        );
        let stored = meter.snapshot(&Default::default()).dynamodb["idempotency"].stored_bytes;
        assert_eq!(stored, item_size(&item(big.clone())) + 100);
        dynamodb.observed(
            "DeleteItem",
            &json!({"TableName": "idempotency", "Key": {"idempotency_key": key}}),
            200,
            &json!({}),
        );
        let usage = meter.snapshot(&Default::default()).dynamodb["idempotency"].clone();
        assert_eq!(usage.requests, 5);
        // 1 (claim) + 2 (1.5 KB) + 2 (failed claim on the 1.5 KB item) + 2 (delete of it).
        assert_eq!(usage.write_request_units, 7.0);
        assert_eq!(usage.read_request_units, 1.0);
        assert_eq!(usage.stored_bytes, 0);
    }

    #[test]
    fn queries_and_batches_are_metered_on_the_items_they_read_and_write() {
        let meter = Arc::new(Meter::default());
        let dynamodb = DynamoDbMeter::new(meter.clone());
        let small = json!({"pk": {"S": "a"}, "v": {"S": "x".repeat(3000)}});
        dynamodb.observed(
            "Query",
            &json!({"TableName": "t"}),
            200,
            &json!({"Items": [small, small]}),
        );
        dynamodb.observed(
            "BatchWriteItem",
            &json!({"RequestItems": {"t": [
                {"PutRequest": {"Item": small}},
                {"DeleteRequest": {"Key": {"pk": {"S": "b"}}}},
            ]}}),
            200,
            &json!({}),
        );
        let usage = meter.snapshot(&Default::default()).dynamodb["t"].clone();
        assert_eq!(usage.requests, 2);
        // 2 × 3006 bytes eventually consistent: 2 units of 4 KB, halved.
        assert_eq!(usage.read_request_units, 1.0);
        assert_eq!(usage.write_request_units, 3.0 + 1.0);
    }
}
