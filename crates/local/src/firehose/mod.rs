//! Amazon Data Firehose into S3, locally: the event store. Each delivery stream runs as applied
//! (its role, bucket, prefix with dynamic partitioning keys, error prefix, record delimiter),
//! and each write is authorised as AWS authorises it: Firehose assumes the stream's role, which
//! must be allowed to put the object (identity policy, bucket policy) and to use the bucket's
//! KMS key through S3. The bucket is a directory: `<root>/<bucket>/<key>`.

use std::collections::BTreeMap;
use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, RwLock};

use postoffice_policy::Principal;

use crate::activity::{Activity, ActivityLog};
use crate::cloudwatch::metrics::Metrics;
use crate::iam::{Authorizer, Check, DataKey, Target, base_context};
use crate::plan::{Plan, StreamPlan};

pub struct EventStore {
    root: PathBuf,
    streams: RwLock<BTreeMap<String, StreamPlan>>,
    authorizer: Arc<Authorizer>,
    activity: ActivityLog,
    metrics: Arc<Metrics>,
    meter: Arc<crate::metering::Meter>,
    /// Distinguishes this run's objects, as Firehose names each object uniquely.
    object_suffix: String,
    writes: Mutex<()>,
}

/// Why a record went to the error prefix instead of its partition.
const PARTITIONING_FAILED: &str = "DynamicPartitioning.MetadataExtractionFailed";

impl EventStore {
    pub fn new(
        root: PathBuf,
        authorizer: Arc<Authorizer>,
        activity: ActivityLog,
        metrics: Arc<Metrics>,
        meter: Arc<crate::metering::Meter>,
    ) -> Self {
        Self {
            root,
            streams: RwLock::default(),
            authorizer,
            activity,
            metrics,
            meter,
            object_suffix: uuid::Uuid::new_v4().simple().to_string(),
            writes: Mutex::new(()),
        }
    }

    pub fn root(&self) -> &Path {
        &self.root
    }

    pub fn apply_plan(&self, plan: &Plan) {
        *self.streams.write().unwrap_or_else(|p| p.into_inner()) = plan.streams.clone();
    }

    /// `PutRecord` into the stream (already authorised for the caller): the record is written
    /// where the stream's prefix puts it, by the stream's role.
    pub async fn put(&self, stream_arn: &str, record: &str) -> Result<(), String> {
        let stream = self
            .streams
            .read()
            .unwrap_or_else(|p| p.into_inner())
            .get(stream_arn)
            .cloned()
            .ok_or_else(|| {
                format!("ResourceNotFoundException: delivery stream {stream_arn} does not exist")
            })?;
        let now = chrono::Utc::now();
        let (prefix, error_type) = match object_prefix(&stream, record, now) {
            Ok(prefix) => (prefix, None),
            Err(error) => {
                tracing::warn!(
                    stream = stream.name,
                    error,
                    "a record could not be partitioned"
                );
                (error_prefix(&stream, PARTITIONING_FAILED, now), Some(error))
            }
        };
        let key = format!(
            "{prefix}{}-1-{}-{}",
            stream.name,
            now.format("%Y-%m-%d-%H"),
            self.object_suffix
        );
        let role = self.authorize_write(&stream, &key)?;
        let mut line = record.to_owned();
        if stream.append_delimiter {
            line.push('\n');
        }
        let path = self.root.join(&stream.bucket).join(&key);
        {
            let _one_at_a_time = self.writes.lock().unwrap_or_else(|p| p.into_inner());
            // Locally a partition's hour is one file; the meter counts the objects Firehose
            // would write from its buffering.
            append(&path, &line).map_err(|error| format!("writing {}: {error}", path.display()))?;
            self.meter.firehose_stored(
                &stream.name,
                &prefix,
                &stream.bucket,
                record.len() as u64,
                stream.buffering,
            );
        }
        let dimensions = [("DeliveryStreamName", stream.name.as_str())];
        self.metrics
            .record("AWS/Firehose", "IncomingRecords", &dimensions, 1.0);
        self.metrics
            .record("AWS/Firehose", "DeliveryToS3.Records", &dimensions, 1.0);
        self.metrics
            .record("AWS/Firehose", "DeliveryToS3.Success", &dimensions, 1.0);
        drop(role);
        self.activity.record(Activity::Stored {
            stream: stream.name.clone(),
            key: match error_type {
                Some(error) => format!("{key} ({error})"),
                None => key,
            },
            count: 1,
        });
        Ok(())
    }

    /// Firehose acts as the stream's role: it must be allowed to put the object (role policy,
    /// bucket policy) and to encrypt it with the stream's key through S3.
    fn authorize_write(&self, stream: &StreamPlan, key: &str) -> Result<Principal, String> {
        let authorizer = &self.authorizer;
        let snapshot = authorizer.snapshot();
        let role = authorizer
            .assume_role(
                &snapshot,
                "firehose.amazonaws.com",
                &stream.role_arn,
                &stream.arn,
            )
            .map_err(|denial| denial.message())?;
        let object = format!("arn:aws:s3:::{}/{key}", stream.bucket);
        let context = base_context(true, &authorizer.region);
        authorizer
            .check(
                &snapshot,
                Check {
                    principal: role.clone(),
                    action: "s3:PutObject",
                    resource: &object,
                    target: Target::Bucket(&stream.bucket),
                    context: context.clone(),
                },
            )
            .map_err(|denial| denial.message())?;
        if let Some(key_arn) = &stream.kms_key_arn {
            let context = context
                .with(
                    "kms:ViaService",
                    format!("s3.{}.amazonaws.com", authorizer.region),
                )
                .with("kms:CallerAccount", authorizer.account.as_str());
            authorizer
                .check(
                    &snapshot,
                    Check {
                        principal: role.clone(),
                        action: "kms:GenerateDataKey",
                        resource: key_arn,
                        // With a bucket key S3 reuses a bucket-level key for a while it does
                        // not document: counted as a request per object, an upper bound.
                        target: Target::Key(
                            key_arn,
                            DataKey {
                                scope: &stream.bucket,
                                reuse: None,
                            },
                        ),
                        context,
                    },
                )
                .map_err(|denial| denial.message())?;
        }
        Ok(role)
    }
}

/// The stream's prefix with its expressions filled in: `!{partitionKeyFromQuery:KEY}` from the
/// record, `!{timestamp:FORMAT}` from the arrival time
/// (<https://docs.aws.amazon.com/firehose/latest/dev/s3-prefixes.html>).
pub fn object_prefix(
    stream: &StreamPlan,
    record: &str,
    now: chrono::DateTime<chrono::Utc>,
) -> Result<String, String> {
    let parsed: Option<serde_json::Value> = serde_json::from_str(record).ok();
    expand(&stream.prefix, now, |kind, argument| match kind {
        "partitionKeyFromQuery" => {
            let path = stream
                .partition_keys
                .get(argument)
                .ok_or_else(|| format!("no partition key {argument} is extracted"))?;
            let value = parsed
                .as_ref()
                .and_then(|record| json_path(record, path))
                .ok_or_else(|| format!("the record has no {path}"))?;
            match value {
                serde_json::Value::String(text) => Ok(text.clone()),
                serde_json::Value::Number(number) => Ok(number.to_string()),
                serde_json::Value::Bool(flag) => Ok(flag.to_string()),
                _ => Err(format!("{path} is not a scalar")),
            }
        }
        other => Err(format!("the expression {other} is not supported locally")),
    })
}

fn error_prefix(
    stream: &StreamPlan,
    error_type: &str,
    now: chrono::DateTime<chrono::Utc>,
) -> String {
    let template = if stream.error_output_prefix.is_empty() {
        "errors/!{firehose:error-output-type}/".to_owned()
    } else {
        stream.error_output_prefix.clone()
    };
    expand(&template, now, |kind, argument| match (kind, argument) {
        ("firehose", "error-output-type") => Ok(error_type.to_owned()),
        _ => Err(String::new()),
    })
    .unwrap_or_else(|_| format!("errors/{error_type}/"))
}

fn expand(
    template: &str,
    now: chrono::DateTime<chrono::Utc>,
    mut value: impl FnMut(&str, &str) -> Result<String, String>,
) -> Result<String, String> {
    let mut out = String::new();
    let mut rest = template;
    while let Some(start) = rest.find("!{") {
        out.push_str(&rest[..start]);
        let after = &rest[start + 2..];
        let end = after
            .find('}')
            .ok_or_else(|| format!("unclosed expression in {template}"))?;
        let expression = &after[..end];
        let (kind, argument) = expression.split_once(':').unwrap_or((expression, ""));
        if kind == "timestamp" {
            out.push_str(&java_date(argument, now));
        } else {
            out.push_str(&value(kind, argument)?);
        }
        rest = &after[end + 1..];
    }
    out.push_str(rest);
    Ok(out)
}

/// The Java `DateTimeFormatter` patterns Firehose prefixes use.
fn java_date(pattern: &str, now: chrono::DateTime<chrono::Utc>) -> String {
    let strftime = pattern
        .replace("yyyy", "%Y")
        .replace("MM", "%m")
        .replace("dd", "%d")
        .replace("HH", "%H")
        .replace("mm", "%M")
        .replace("ss", "%S");
    now.format(&strftime).to_string()
}

fn json_path<'a>(value: &'a serde_json::Value, path: &str) -> Option<&'a serde_json::Value> {
    path.trim_start_matches('.')
        .split('.')
        .filter(|part| !part.is_empty())
        .try_fold(value, |value, part| value.get(part))
}

fn append(path: &Path, text: &str) -> std::io::Result<()> {
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir)?;
    }
    let mut file = std::fs::File::options()
        .create(true)
        .append(true)
        .open(path)?;
    file.write_all(text.as_bytes())?;
    file.flush()
}

/// Every record in the store, as (path relative to the root, line), for listings and tests.
pub fn read_all(root: &Path) -> std::io::Result<Vec<(PathBuf, String)>> {
    let mut found = Vec::new();
    if !root.exists() {
        return Ok(found);
    }
    let mut stack = vec![root.to_owned()];
    while let Some(dir) = stack.pop() {
        for entry in std::fs::read_dir(&dir)? {
            let path = entry?.path();
            if path.is_dir() {
                stack.push(path);
            } else {
                let relative = path.strip_prefix(root).unwrap_or(&path).to_owned();
                for line in std::fs::read_to_string(&path)?.lines() {
                    found.push((relative.clone(), line.to_owned()));
                }
            }
        }
    }
    found.sort();
    Ok(found)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn stream() -> StreamPlan {
        StreamPlan {
            name: "postoffice-event-store".to_owned(),
            arn: "arn:aws:firehose:eu-west-1:123456789012:deliverystream/postoffice-event-store"
                .to_owned(),
            role_arn: String::new(),
            bucket: "bucket".to_owned(),
            prefix: "events/event=!{partitionKeyFromQuery:event}/date=!{timestamp:yyyy-MM-dd}/"
                .to_owned(),
            error_output_prefix:
                "errors/!{firehose:error-output-type}/date=!{timestamp:yyyy-MM-dd}/".to_owned(),
            kms_key_arn: None,
            partition_keys: BTreeMap::from([("event".to_owned(), ".event".to_owned())]),
            append_delimiter: true,
            buffering: crate::metering::Buffering::default(),
        }
    }

    #[test]
    fn the_applied_prefix_partitions_by_the_record_and_the_day() {
        let now = "2026-11-30T18:00:00Z".parse().unwrap();
        assert_eq!(
            object_prefix(&stream(), r#"{"event":"COOKING_REQUESTED"}"#, now).unwrap(),
            "events/event=COOKING_REQUESTED/date=2026-11-30/"
        );
        let error = object_prefix(&stream(), r#"{"no_event":1}"#, now).unwrap_err();
        assert!(error.contains(".event"), "{error}");
        assert_eq!(
            error_prefix(&stream(), PARTITIONING_FAILED, now),
            "errors/DynamicPartitioning.MetadataExtractionFailed/date=2026-11-30/"
        );
    }
}
