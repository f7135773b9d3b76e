//! S3 bucket policies of the buckets Firehose writes to.

use std::collections::BTreeMap;

use super::ControlPlane;
use super::firehose::AppliedFirehose;

#[derive(Debug, Clone, Default)]
pub struct AppliedS3 {
    /// Bucket name → its bucket policy, when it has one.
    pub bucket_policies: BTreeMap<String, String>,
}

pub async fn read(control: &ControlPlane, firehose: &AppliedFirehose) -> anyhow::Result<AppliedS3> {
    let mut applied = AppliedS3::default();
    for stream in firehose.streams.values() {
        let bucket = stream.bucket_arn.trim_start_matches("arn:aws:s3:::");
        if bucket.is_empty() || applied.bucket_policies.contains_key(bucket) {
            continue;
        }
        // moto routes by the credential scope; it does not check the signature.
        let response = control
            .http
            .get(format!("{}/{bucket}?policy", control.moto_url))
            .header(
                "authorization",
                format!(
                    "AWS4-HMAC-SHA256 Credential=postoffice/20260101/{}/s3/aws4_request, SignedHeaders=host, Signature=0",
                    control.region
                ),
            )
            .send()
            .await?;
        if response.status().is_success() {
            applied
                .bucket_policies
                .insert(bucket.to_owned(), response.text().await?);
        }
    }
    Ok(applied)
}
