//! CloudWatch metric alarms, as `DescribeAlarms` returns them.

use anyhow::Context as _;

#[derive(Debug, Clone, Default)]
pub struct AppliedAlarms {
    pub alarms: Vec<aws_sdk_cloudwatch::types::MetricAlarm>,
}

pub async fn read(cloudwatch: &aws_sdk_cloudwatch::Client) -> anyhow::Result<AppliedAlarms> {
    let mut alarms = Vec::new();
    let mut pages = cloudwatch.describe_alarms().into_paginator().send();
    while let Some(page) = pages.next().await {
        alarms.extend(
            page.context("DescribeAlarms")?
                .metric_alarms
                .unwrap_or_default(),
        );
    }
    Ok(AppliedAlarms { alarms })
}
