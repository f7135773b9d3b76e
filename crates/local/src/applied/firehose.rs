//! Firehose delivery streams into S3: where and how each writes.

use std::collections::BTreeMap;

use anyhow::Context as _;

#[derive(Debug, Clone, Default)]
pub struct DeliveryStream {
    pub name: String,
    pub arn: String,
    pub role_arn: String,
    pub bucket_arn: String,
    pub prefix: String,
    pub error_output_prefix: String,
    pub kms_key_arn: Option<String>,
    pub dynamic_partitioning: bool,
    /// Buffering hints (interval, size in MB), when the stream sets them.
    pub buffering: Option<(i32, i32)>,
    /// Processor type → its parameters (`MetadataExtraction` → `MetadataExtractionQuery`, ...).
    pub processors: Vec<(String, BTreeMap<String, String>)>,
}

#[derive(Debug, Clone, Default)]
pub struct AppliedFirehose {
    /// Stream ARN → stream.
    pub streams: BTreeMap<String, DeliveryStream>,
}

pub async fn read(firehose: &aws_sdk_firehose::Client) -> anyhow::Result<AppliedFirehose> {
    let mut applied = AppliedFirehose::default();
    let names = firehose
        .list_delivery_streams()
        .limit(100)
        .send()
        .await
        .context("ListDeliveryStreams")?
        .delivery_stream_names;
    for name in names {
        let description = firehose
            .describe_delivery_stream()
            .delivery_stream_name(&name)
            .send()
            .await
            .with_context(|| format!("DescribeDeliveryStream {name}"))?
            .delivery_stream_description;
        let Some(description) = description else {
            continue;
        };
        let mut stream = DeliveryStream {
            name: name.clone(),
            arn: description.delivery_stream_arn.clone(),
            ..DeliveryStream::default()
        };
        for destination in description.destinations {
            if let Some(s3) = destination.extended_s3_destination_description {
                stream.role_arn = s3.role_arn.clone();
                stream.bucket_arn = s3.bucket_arn.clone();
                stream.prefix = s3.prefix.clone().unwrap_or_default();
                stream.error_output_prefix = s3.error_output_prefix.clone().unwrap_or_default();
                stream.kms_key_arn = s3
                    .encryption_configuration
                    .and_then(|encryption| encryption.kms_encryption_config)
                    .map(|config| config.awskms_key_arn);
                stream.buffering = s3
                    .buffering_hints
                    .as_ref()
                    .and_then(|hints| Some((hints.interval_in_seconds?, hints.size_in_mbs?)));
                stream.dynamic_partitioning = s3
                    .dynamic_partitioning_configuration
                    .and_then(|config| config.enabled)
                    .unwrap_or(false);
                for processor in s3
                    .processing_configuration
                    .and_then(|config| config.processors)
                    .unwrap_or_default()
                {
                    let parameters = processor
                        .parameters
                        .unwrap_or_default()
                        .into_iter()
                        .map(|parameter| {
                            (
                                parameter.parameter_name.as_str().to_owned(),
                                parameter.parameter_value,
                            )
                        })
                        .collect();
                    stream
                        .processors
                        .push((processor.r#type.as_str().to_owned(), parameters));
                }
            }
        }
        applied.streams.insert(stream.arn.clone(), stream);
    }
    Ok(applied)
}
