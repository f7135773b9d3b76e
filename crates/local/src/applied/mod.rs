//! What was applied, read back through the AWS APIs as AWS holds it (from moto, the control
//! plane, and from the local stand-ins where moto lacks the action). Plain data: the plan is
//! built from it ([`crate::plan`]), nothing else reads the control plane.
//!
//! Each service is read on its own (`read_*`), so a change to one service's resources re-reads
//! only that service.

pub mod cloudwatch;
pub mod ecs;
pub mod elbv2;
pub mod firehose;
pub mod iam;
pub mod iot;
pub mod kms;
pub mod lambda;
pub mod s3;
pub mod sns;
pub mod sqs;

use std::collections::BTreeMap;

/// Every resource the local post office runs from.
#[derive(Debug, Clone, Default)]
pub struct Applied {
    pub sns: sns::AppliedSns,
    pub sqs: sqs::AppliedSqs,
    pub lambda: lambda::AppliedLambda,
    pub iam: iam::AppliedIam,
    pub kms: kms::AppliedKms,
    pub iot: iot::AppliedIot,
    pub firehose: firehose::AppliedFirehose,
    pub cloudwatch: cloudwatch::AppliedAlarms,
    pub s3: s3::AppliedS3,
    pub ecs: ecs::AppliedEcs,
    pub elbv2: elbv2::AppliedElbv2,
}

/// How long SNS reuses a data key per topic and publishing principal
/// (<https://docs.aws.amazon.com/sns/latest/dg/sns-key-management.html>).
pub const TOPIC_DATA_KEY_REUSE: std::time::Duration = std::time::Duration::from_secs(300);

impl Applied {
    /// The ARN of the KMS key that encrypts queue `queue_arn`, when it is encrypted (a key id
    /// that resolves to no key stays as written: using it fails, as in AWS).
    pub fn queue_key(&self, queue_arn: &str) -> Option<String> {
        self.key_arn(
            self.sqs
                .queues
                .get(queue_arn)?
                .attributes
                .get("KmsMasterKeyId")?,
        )
    }

    /// The ARN of the KMS key that encrypts topic `topic_arn`, when it is encrypted.
    pub fn topic_key(&self, topic_arn: &str) -> Option<String> {
        self.key_arn(self.sns.topics.get(topic_arn)?.get("KmsMasterKeyId")?)
    }

    /// How long SQS reuses a data key of queue `queue_arn`: its `KmsDataKeyReusePeriodSeconds`,
    /// 300 s by default
    /// (<https://docs.aws.amazon.com/AWSSimpleQueueService/latest/SQSDeveloperGuide/sqs-key-management.html>).
    pub fn queue_data_key_reuse(&self, queue_arn: &str) -> std::time::Duration {
        let seconds = self
            .sqs
            .queues
            .get(queue_arn)
            .and_then(|queue| queue.attributes.get("KmsDataKeyReusePeriodSeconds"))
            .and_then(|seconds| seconds.parse().ok())
            .unwrap_or(300);
        std::time::Duration::from_secs(seconds)
    }

    fn key_arn(&self, key: &str) -> Option<String> {
        if key.is_empty() {
            return None;
        }
        Some(
            self.kms
                .resolve(key)
                .map_or_else(|| key.to_owned(), |resolved| resolved.arn.clone()),
        )
    }
}

/// SDK clients of the control plane, as the administrator.
#[derive(Clone)]
pub struct ControlPlane {
    pub sns: aws_sdk_sns::Client,
    pub sqs: aws_sdk_sqs::Client,
    pub lambda: aws_sdk_lambda::Client,
    pub iam: aws_sdk_iam::Client,
    pub kms: aws_sdk_kms::Client,
    pub iot: aws_sdk_iot::Client,
    pub firehose: aws_sdk_firehose::Client,
    pub cloudwatch: aws_sdk_cloudwatch::Client,
    pub ecs: aws_sdk_ecs::Client,
    pub elbv2: aws_sdk_elasticloadbalancingv2::Client,
    /// moto's base URL, for the few reads done without an SDK client (S3 bucket policies).
    pub moto_url: String,
    pub http: reqwest::Client,
    pub region: String,
    /// Lambda resource policies, kept by the local post office (moto's are not AWS's).
    pub lambda_policies: std::sync::Arc<crate::lambda::permissions::FunctionPolicies>,
    /// Function URLs of Lambda aliases, kept by the local post office (moto ignores qualifiers).
    pub alias_urls: std::sync::Arc<crate::lambda::alias_urls::AliasUrls>,
    /// Topic attributes moto drops, kept by the local post office.
    pub topic_attributes: std::sync::Arc<crate::sns::topic_attributes::TopicAttributes>,
    /// Function settings moto drops, kept by the local post office.
    pub function_settings: std::sync::Arc<crate::lambda::settings::FunctionSettings>,
}

impl ControlPlane {
    /// Clients talking straight to moto (`endpoint`) with fixed credentials: reading the control
    /// plane is the post office's own business, not a call anyone makes through the endpoint.
    pub fn new(endpoint: &str, region: &str) -> anyhow::Result<Self> {
        let config = aws_config::SdkConfig::builder()
            .behavior_version(aws_config::BehaviorVersion::latest())
            .endpoint_url(endpoint)
            .region(aws_config::Region::new(region.to_owned()))
            .credentials_provider(aws_sdk_sqs::config::SharedCredentialsProvider::new(
                aws_sdk_sqs::config::Credentials::new(
                    "postoffice-control-plane",
                    "postoffice-control-plane",
                    None,
                    None,
                    "postoffice-local",
                ),
            ))
            .http_client(postoffice::aws_http::http_client())
            .retry_config(aws_config::retry::RetryConfig::standard().with_max_attempts(3))
            .build();
        Ok(Self {
            sns: aws_sdk_sns::Client::new(&config),
            sqs: aws_sdk_sqs::Client::new(&config),
            lambda: aws_sdk_lambda::Client::new(&config),
            iam: aws_sdk_iam::Client::new(&config),
            kms: aws_sdk_kms::Client::new(&config),
            iot: aws_sdk_iot::Client::new(&config),
            firehose: aws_sdk_firehose::Client::new(&config),
            cloudwatch: aws_sdk_cloudwatch::Client::new(&config),
            ecs: aws_sdk_ecs::Client::new(&config),
            elbv2: aws_sdk_elasticloadbalancingv2::Client::new(&config),
            moto_url: endpoint.trim_end_matches('/').to_owned(),
            http: postoffice::https::client_builder().no_proxy().build()?,
            region: region.to_owned(),
            lambda_policies: std::sync::Arc::default(),
            alias_urls: std::sync::Arc::default(),
            topic_attributes: std::sync::Arc::default(),
            function_settings: std::sync::Arc::default(),
        })
    }

    /// Reads every service.
    pub async fn read_all(&self) -> anyhow::Result<Applied> {
        let (ecs, elbv2) = tokio::try_join!(ecs::read(&self.ecs), elbv2::read(&self.elbv2))?;
        let (sns, sqs, lambda, iam, kms, iot, firehose, cloudwatch) = tokio::try_join!(
            sns::read(&self.sns, &self.topic_attributes),
            sqs::read(&self.sqs),
            lambda::read(
                &self.lambda,
                &self.lambda_policies,
                &self.alias_urls,
                &self.function_settings
            ),
            iam::read(&self.iam),
            kms::read(&self.kms),
            iot::read(&self.iot),
            firehose::read(&self.firehose),
            cloudwatch::read(&self.cloudwatch),
        )?;
        let s3 = s3::read(self, &firehose).await?;
        Ok(Applied {
            sns,
            sqs,
            lambda,
            iam,
            kms,
            iot,
            firehose,
            cloudwatch,
            s3,
            ecs,
            elbv2,
        })
    }

    /// Re-reads the services whose names (SigV4 signing names) are in `changed`.
    pub async fn refresh(&self, applied: &mut Applied, changed: &[String]) -> anyhow::Result<()> {
        for service in changed {
            match service.as_str() {
                "sns" => applied.sns = sns::read(&self.sns, &self.topic_attributes).await?,
                "sqs" => applied.sqs = sqs::read(&self.sqs).await?,
                "lambda" => {
                    applied.lambda = lambda::read(
                        &self.lambda,
                        &self.lambda_policies,
                        &self.alias_urls,
                        &self.function_settings,
                    )
                    .await?
                }
                "iam" => applied.iam = iam::read(&self.iam).await?,
                "kms" => applied.kms = kms::read(&self.kms).await?,
                "iot" => applied.iot = iot::read(&self.iot).await?,
                "firehose" => applied.firehose = firehose::read(&self.firehose).await?,
                "monitoring" => applied.cloudwatch = cloudwatch::read(&self.cloudwatch).await?,
                "s3" => applied.s3 = s3::read(self, &applied.firehose).await?,
                "ecs" => applied.ecs = ecs::read(&self.ecs).await?,
                "elasticloadbalancing" => applied.elbv2 = elbv2::read(&self.elbv2).await?,
                _ => {}
            }
        }
        Ok(())
    }
}

/// Decodes the URL-encoded policy documents IAM returns.
pub fn decode_policy(document: &str) -> String {
    if document.trim_start().starts_with('{') {
        document.to_owned()
    } else {
        crate::aws::sigv4::percent_decode(&document.replace('+', "%2B"))
    }
}

/// Tags as a map.
pub type Tags = BTreeMap<String, String>;
