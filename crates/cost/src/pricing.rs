//! The price list (`pricing/aws-us-east-1.yaml`): every AWS price the model uses, with its
//! tiers, its metering increment and where and when it was read.

use serde::{Deserialize, Serialize};

use crate::CostError;

/// Every price the model uses, read from a versioned price file.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct PriceList {
    pub region: String,
    pub currency: String,
    /// The date the whole list was last reviewed (`YYYY-MM-DD`).
    pub version: String,
    pub prices: Prices,
}

/// One entry per billed quantity.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct Prices {
    /// Per million connection minutes.
    pub iot_connectivity: Price,
    /// Per million messages, each message metered in `increment_bytes`.
    pub iot_messaging: Price,
    /// Per million rules triggered, metered in `increment_bytes`.
    pub iot_rules_triggered: Price,
    /// Per million rule actions executed, metered in `increment_bytes`.
    pub iot_actions_executed: Price,
    /// Per million publish requests, each request metered in `increment_bytes` chunks.
    pub sns_publishes: Price,
    /// Per million HTTP/S notification deliveries, metered in `increment_bytes` chunks.
    pub sns_http_deliveries: Price,
    /// Per million notification deliveries to Firehose subscriptions.
    pub sns_firehose_deliveries: Price,
    /// Per million Lambda requests.
    pub lambda_requests: Price,
    /// Per GB-second of arm64 Lambda duration.
    pub lambda_arm64_duration: Price,
    /// Per GB ingested by a Direct PUT Firehose stream, each record rounded up to `increment_bytes`.
    pub firehose_ingestion: Price,
    /// Per GB delivered to S3 with dynamic partitioning.
    pub firehose_partitioned_delivery: Price,
    /// Per thousand S3 objects delivered with dynamic partitioning.
    pub firehose_partitioned_objects: Price,
    /// Per GB-month of S3 Standard storage.
    pub s3_standard_storage: Price,
    /// Per thousand S3 PUT requests.
    pub s3_put_requests: Price,
    /// Per vCPU-hour of a Linux/ARM Fargate task (the container deployment's estimate).
    pub fargate_arm64_vcpu_hours: Price,
    /// Per GB-hour of a Linux/ARM Fargate task's memory.
    pub fargate_arm64_gb_hours: Price,
    /// Per hour an Application Load Balancer runs.
    pub alb_hours: Price,
    /// Per Load Balancer Capacity Unit-hour of an Application Load Balancer.
    pub alb_lcu_hours: Price,
    /// Per million SQS standard-queue requests, each 64 KB chunk of a payload one request. Only
    /// a measured bill (`postoffice cost --measured`) prices it: optional, so that price files
    /// without it still serve the model.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sqs_requests: Option<Price>,
    /// Per 10,000 requests to a symmetric KMS key (measured bills only).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub kms_requests: Option<Price>,
    /// Per customer managed KMS key-month (measured bills only).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub kms_keys: Option<Price>,
    /// Per standard-resolution CloudWatch alarm-month (measured bills only).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cloudwatch_alarms: Option<Price>,
    /// Per GB of Lambda logs ingested into CloudWatch Logs (tiered for Lambda since 2025-05).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cloudwatch_logs_lambda_ingestion: Option<Price>,
    /// Per GB of other logs (SNS delivery status) ingested into CloudWatch Logs.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cloudwatch_logs_ingestion: Option<Price>,
    /// Per GB-month of logs archived in CloudWatch Logs.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cloudwatch_logs_storage: Option<Price>,
    /// Per million X-Ray traces recorded (the functions trace actively).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub xray_traces_recorded: Option<Price>,
    /// Per million DynamoDB on-demand write request units (the idempotency table).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub dynamodb_write_request_units: Option<Price>,
    /// Per million DynamoDB on-demand read request units.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub dynamodb_read_request_units: Option<Price>,
    /// Per GB-month of DynamoDB Standard table storage.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub dynamodb_storage: Option<Price>,
}

/// A price, graduated over tiers of the month's total quantity.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct Price {
    /// What one quoted price buys, in words (e.g. "per 1,000,000 messages").
    pub unit: String,
    /// How many units the quoted price is for (1,000,000 for "per million").
    pub per: f64,
    /// Graduated tiers, lowest first; every tier but the last has `up_to`.
    pub tiers: Vec<Tier>,
    /// Metering increment in bytes, for prices metered by size (e.g. 5120 for 5 KB).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub increment_bytes: Option<u64>,
    /// Where the number was read.
    pub source: String,
    /// When it was read (`YYYY-MM-DD`).
    pub read_on: String,
    pub status: PriceStatus,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub note: Option<String>,
}

/// A tier: the price for the month's units up to `up_to` (cumulative), or all further units.
#[derive(Debug, Clone, Copy, Deserialize, Serialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct Tier {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub up_to: Option<f64>,
    pub price: f64,
}

/// Whether a number was read in a source or could not be confirmed there.
#[derive(Debug, Clone, Copy, Deserialize, Serialize, PartialEq, Eq)]
#[serde(rename_all = "kebab-case")]
pub enum PriceStatus {
    Confirmed,
    Unconfirmed,
}

impl Price {
    /// Cost of `quantity` units in one month: each unit at the rate of the tier it falls in.
    pub fn monthly_cost(&self, quantity: f64) -> f64 {
        let mut cost = 0.0;
        let mut floor = 0.0;
        for tier in &self.tiers {
            if quantity <= floor {
                break;
            }
            let ceiling = tier.up_to.unwrap_or(f64::INFINITY);
            let in_tier = quantity.min(ceiling) - floor;
            cost += in_tier * tier.price / self.per;
            floor = ceiling;
        }
        cost
    }

    fn validate(&self, field: &str) -> Result<(), String> {
        if !self.per.is_finite() || self.per <= 0.0 {
            return Err(format!("{field}.per must be greater than 0"));
        }
        let Some((last, below)) = self.tiers.split_last() else {
            return Err(format!("{field}.tiers must have at least one tier"));
        };
        if last.up_to.is_some() {
            return Err(format!(
                "{field}.tiers: the last tier must have no up_to (it covers everything above)"
            ));
        }
        let mut floor = 0.0;
        for (index, tier) in below.iter().enumerate() {
            match tier.up_to {
                None => {
                    return Err(format!(
                        "{field}.tiers[{index}].up_to is missing (only the last tier may omit it)"
                    ));
                }
                Some(up_to) if up_to.is_nan() || up_to <= floor => {
                    return Err(format!(
                        "{field}.tiers[{index}].up_to must be greater than the tier below ({floor})"
                    ));
                }
                Some(up_to) => floor = up_to,
            }
        }
        for (index, tier) in self.tiers.iter().enumerate() {
            if tier.price.is_nan() || tier.price < 0.0 {
                return Err(format!("{field}.tiers[{index}].price must not be negative"));
            }
        }
        if self.increment_bytes == Some(0) {
            return Err(format!("{field}.increment_bytes must be greater than 0"));
        }
        if self.source.trim().is_empty() {
            return Err(format!("{field}.source must name where the price was read"));
        }
        if self.read_on.trim().is_empty() {
            return Err(format!(
                "{field}.read_on must give the date the price was read"
            ));
        }
        Ok(())
    }
}

impl PriceList {
    /// Parses and checks a price file; `origin` names the file in errors.
    pub fn from_yaml(text: &str, origin: &str) -> Result<Self, CostError> {
        let list: PriceList = serde_yaml::from_str(text).map_err(|error| CostError::Pricing {
            origin: origin.to_string(),
            message: error.to_string(),
        })?;
        list.check(origin)?;
        Ok(list)
    }

    /// Checks tiers, increments and provenance; `origin` names the file in errors.
    pub fn check(&self, origin: &str) -> Result<(), CostError> {
        self.problems().map_err(|message| CostError::Pricing {
            origin: origin.to_string(),
            message,
        })
    }

    fn problems(&self) -> Result<(), String> {
        for (field, price) in self.prices.named() {
            price.validate(&format!("prices.{field}"))?;
        }
        for field in [
            "iot_messaging",
            "iot_rules_triggered",
            "iot_actions_executed",
            "sns_publishes",
            "sns_http_deliveries",
            "firehose_ingestion",
        ] {
            let price = self
                .prices
                .named()
                .into_iter()
                .find(|(name, _)| *name == field)
                .map(|(_, price)| price)
                .expect("every size-metered price is a field of Prices");
            if price.increment_bytes.is_none() {
                return Err(format!(
                    "prices.{field}.increment_bytes is required (the price is metered by size)"
                ));
            }
        }
        Ok(())
    }
}

impl Prices {
    /// Every price with its field name, in file order (the optional ones when present).
    pub fn named(&self) -> Vec<(&'static str, &Price)> {
        let mut named = self.required();
        for (name, price) in [
            ("sqs_requests", &self.sqs_requests),
            ("kms_requests", &self.kms_requests),
            ("kms_keys", &self.kms_keys),
            ("cloudwatch_alarms", &self.cloudwatch_alarms),
            (
                "cloudwatch_logs_lambda_ingestion",
                &self.cloudwatch_logs_lambda_ingestion,
            ),
            ("cloudwatch_logs_ingestion", &self.cloudwatch_logs_ingestion),
            ("cloudwatch_logs_storage", &self.cloudwatch_logs_storage),
            ("xray_traces_recorded", &self.xray_traces_recorded),
            (
                "dynamodb_write_request_units",
                &self.dynamodb_write_request_units,
            ),
            (
                "dynamodb_read_request_units",
                &self.dynamodb_read_request_units,
            ),
            ("dynamodb_storage", &self.dynamodb_storage),
        ] {
            if let Some(price) = price {
                named.push((name, price));
            }
        }
        named
    }

    fn required(&self) -> Vec<(&'static str, &Price)> {
        vec![
            ("iot_connectivity", &self.iot_connectivity),
            ("iot_messaging", &self.iot_messaging),
            ("iot_rules_triggered", &self.iot_rules_triggered),
            ("iot_actions_executed", &self.iot_actions_executed),
            ("sns_publishes", &self.sns_publishes),
            ("sns_http_deliveries", &self.sns_http_deliveries),
            ("sns_firehose_deliveries", &self.sns_firehose_deliveries),
            ("lambda_requests", &self.lambda_requests),
            ("lambda_arm64_duration", &self.lambda_arm64_duration),
            ("firehose_ingestion", &self.firehose_ingestion),
            (
                "firehose_partitioned_delivery",
                &self.firehose_partitioned_delivery,
            ),
            (
                "firehose_partitioned_objects",
                &self.firehose_partitioned_objects,
            ),
            ("s3_standard_storage", &self.s3_standard_storage),
            ("s3_put_requests", &self.s3_put_requests),
            ("fargate_arm64_vcpu_hours", &self.fargate_arm64_vcpu_hours),
            ("fargate_arm64_gb_hours", &self.fargate_arm64_gb_hours),
            ("alb_hours", &self.alb_hours),
            ("alb_lcu_hours", &self.alb_lcu_hours),
        ]
    }
}

/// How many metering increments a message of `bytes` counts as (at least one).
pub fn increments(bytes: f64, increment_bytes: u64) -> f64 {
    let whole = (bytes / increment_bytes as f64).ceil();
    whole.max(1.0)
}
