//! The DynamoDB adapter of the idempotency guard.
//!
//! Table: partition key `idempotency_key` (String), TTL attribute `expires_at` (epoch seconds).
//! Items: `{idempotency_key, status: "claimed" | "handled", expires_at}`. A claim is a conditional
//! PutItem that succeeds only when no live item exists; DynamoDB deletes expired items lazily
//! (up to days later), so the condition treats an expired item as absent too.

use std::time::{SystemTime, UNIX_EPOCH};

use async_trait::async_trait;
use aws_sdk_dynamodb::error::DisplayErrorContext;
use aws_sdk_dynamodb::operation::delete_item::DeleteItemError;
use aws_sdk_dynamodb::operation::put_item::PutItemError;
use aws_sdk_dynamodb::types::AttributeValue;

use super::idempotency::{Claim, IdempotencyError, IdempotencyPolicy, IdempotencyStore};

const KEY: &str = "idempotency_key";
const STATUS: &str = "status";
const EXPIRES_AT: &str = "expires_at";
const CLAIMED: &str = "claimed";
const HANDLED: &str = "handled";

pub struct DynamoDbIdempotencyStore {
    client: aws_sdk_dynamodb::Client,
    table: String,
    policy: IdempotencyPolicy,
}

impl DynamoDbIdempotencyStore {
    pub fn new(
        client: aws_sdk_dynamodb::Client,
        table: impl Into<String>,
        policy: IdempotencyPolicy,
    ) -> Self {
        Self {
            client,
            table: table.into(),
            policy,
        }
    }

    /// What is stored under `key` right now, read consistently after a failed claim.
    async fn live_status(&self, key: &str, now: u64) -> Result<Option<String>, IdempotencyError> {
        let output = self
            .client
            .get_item()
            .table_name(&self.table)
            .key(KEY, AttributeValue::S(key.to_owned()))
            .consistent_read(true)
            .send()
            .await
            .map_err(|error| failure("GetItem", &error))?;
        let Some(item) = output.item else {
            return Ok(None);
        };
        let expires_at = item
            .get(EXPIRES_AT)
            .and_then(|value| value.as_n().ok())
            .and_then(|n| n.parse::<u64>().ok())
            .unwrap_or(0);
        if expires_at <= now {
            return Ok(None);
        }
        Ok(item
            .get(STATUS)
            .and_then(|value| value.as_s().ok())
            .cloned())
    }
}

#[async_trait]
impl IdempotencyStore for DynamoDbIdempotencyStore {
    async fn claim(&self, key: &str, now: SystemTime) -> Result<Claim, IdempotencyError> {
        let now_s = epoch_seconds(now);
        let until = now_s + self.policy.claim_timeout.as_secs();
        let put = self
            .client
            .put_item()
            .table_name(&self.table)
            .item(KEY, AttributeValue::S(key.to_owned()))
            .item(STATUS, AttributeValue::S(CLAIMED.to_owned()))
            .item(EXPIRES_AT, AttributeValue::N(until.to_string()))
            .condition_expression("attribute_not_exists(#key) OR #expires_at <= :now")
            .expression_attribute_names("#key", KEY)
            .expression_attribute_names("#expires_at", EXPIRES_AT)
            .expression_attribute_values(":now", AttributeValue::N(now_s.to_string()))
            .send()
            .await;
        match put {
            Ok(_) => Ok(Claim::Acquired),
            Err(error) => match error.into_service_error() {
                PutItemError::ConditionalCheckFailedException(_) => {
                    match self.live_status(key, now_s).await?.as_deref() {
                        Some(HANDLED) => Ok(Claim::AlreadyHandled),
                        Some(_) => Ok(Claim::InProgress),
                        // Released or expired between the two calls: let the retry claim it.
                        None => Ok(Claim::InProgress),
                    }
                }
                other => Err(failure("PutItem", &other)),
            },
        }
    }

    async fn complete(&self, key: &str, now: SystemTime) -> Result<(), IdempotencyError> {
        let until = epoch_seconds(now) + self.policy.remember_for.as_secs();
        self.client
            .put_item()
            .table_name(&self.table)
            .item(KEY, AttributeValue::S(key.to_owned()))
            .item(STATUS, AttributeValue::S(HANDLED.to_owned()))
            .item(EXPIRES_AT, AttributeValue::N(until.to_string()))
            .send()
            .await
            .map_err(|error| failure("PutItem", &error))?;
        Ok(())
    }

    async fn release(&self, key: &str) -> Result<(), IdempotencyError> {
        let deleted = self
            .client
            .delete_item()
            .table_name(&self.table)
            .key(KEY, AttributeValue::S(key.to_owned()))
            .condition_expression("#status = :claimed")
            .expression_attribute_names("#status", STATUS)
            .expression_attribute_values(":claimed", AttributeValue::S(CLAIMED.to_owned()))
            .send()
            .await;
        match deleted {
            Ok(_) => Ok(()),
            Err(error) => match error.into_service_error() {
                // Already gone, or handled meanwhile: nothing of ours to release.
                DeleteItemError::ConditionalCheckFailedException(_) => Ok(()),
                other => Err(failure("DeleteItem", &other)),
            },
        }
    }
}

fn epoch_seconds(time: SystemTime) -> u64 {
    time.duration_since(UNIX_EPOCH)
        .map(|elapsed| elapsed.as_secs())
        .unwrap_or(0)
}

fn failure(operation: &str, error: &(dyn std::error::Error + 'static)) -> IdempotencyError {
    IdempotencyError(format!(
        "DynamoDB {operation} failed: {}",
        DisplayErrorContext(error)
    ))
}

/// Against moto's DynamoDB, which evaluates condition expressions the way DynamoDB does.
#[cfg(test)]
mod tests {
    use std::time::Duration;

    use aws_sdk_dynamodb::config::{BehaviorVersion, Credentials, Region};
    use aws_sdk_dynamodb::types::{
        AttributeDefinition, BillingMode, KeySchemaElement, KeyType, ScalarAttributeType,
    };

    use super::*;
    use postoffice_test_support::Moto;

    async fn store(moto: &Moto, policy: IdempotencyPolicy) -> DynamoDbIdempotencyStore {
        let config = aws_sdk_dynamodb::Config::builder()
            .behavior_version(BehaviorVersion::latest())
            .http_client(crate::aws_http::http_client())
            .region(Region::new("eu-west-1"))
            .credentials_provider(Credentials::new("test", "test", None, None, "test"))
            .endpoint_url(moto.endpoint())
            .build();
        let client = aws_sdk_dynamodb::Client::from_conf(config);
        client
            .create_table()
            .table_name("idempotency")
            .billing_mode(BillingMode::PayPerRequest)
            .attribute_definitions(
                AttributeDefinition::builder()
                    .attribute_name(KEY)
                    .attribute_type(ScalarAttributeType::S)
                    .build()
                    .unwrap(),
            )
            .key_schema(
                KeySchemaElement::builder()
                    .attribute_name(KEY)
                    .key_type(KeyType::Hash)
                    .build()
                    .unwrap(),
            )
            .send()
            .await
            .unwrap();
        DynamoDbIdempotencyStore::new(client, "idempotency", policy)
    }

    #[tokio::test]
    async fn claims_completes_releases_and_expires_in_dynamodb() {
        let moto = Moto::start().await;
        let policy = IdempotencyPolicy {
            claim_timeout: Duration::from_secs(60),
            remember_for: Duration::from_secs(3600),
        };
        let store = store(&moto, policy).await;
        let t0 = UNIX_EPOCH + Duration::from_secs(1_800_000_000);

        assert_eq!(store.claim("kitchen#a", t0).await.unwrap(), Claim::Acquired);
        assert_eq!(
            store.claim("kitchen#a", t0).await.unwrap(),
            Claim::InProgress
        );
        assert_eq!(
            store.claim("telemetry#a", t0).await.unwrap(),
            Claim::Acquired
        );

        // A failed attempt releases its claim: the retry runs.
        store.release("kitchen#a").await.unwrap();
        assert_eq!(store.claim("kitchen#a", t0).await.unwrap(), Claim::Acquired);

        store.complete("kitchen#a", t0).await.unwrap();
        assert_eq!(
            store.claim("kitchen#a", t0).await.unwrap(),
            Claim::AlreadyHandled
        );
        // Releasing must not forget a handled event.
        store.release("kitchen#a").await.unwrap();
        assert_eq!(
            store.claim("kitchen#a", t0).await.unwrap(),
            Claim::AlreadyHandled
        );
        // Expired items count as absent before DynamoDB's TTL sweep deletes them.
        let later = t0 + Duration::from_secs(3601);
        assert_eq!(
            store.claim("kitchen#a", later).await.unwrap(),
            Claim::Acquired
        );

        let abandoned_after = t0 + Duration::from_secs(61);
        assert_eq!(
            store.claim("telemetry#a", abandoned_after).await.unwrap(),
            Claim::Acquired
        );
    }

    #[tokio::test]
    async fn an_unreachable_table_is_an_error_not_a_claim() {
        let moto = Moto::start().await;
        let store = store(&moto, IdempotencyPolicy::default()).await;
        let missing = DynamoDbIdempotencyStore::new(
            store.client.clone(),
            "no-such-table",
            IdempotencyPolicy::default(),
        );
        let error = missing
            .claim("kitchen#b", SystemTime::now())
            .await
            .unwrap_err();
        assert!(error.to_string().contains("PutItem"), "{error}");
    }
}
