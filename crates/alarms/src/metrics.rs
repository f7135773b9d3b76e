//! The datapoints the local post office measures, kept per metric for a bounded time.

use std::collections::{BTreeMap, HashMap, VecDeque};

use crate::alarm::MetricStat;
use crate::error::AlarmError;
use crate::evaluation::Datapoint;

/// A metric: namespace, name and the full set of dimensions. An alarm watches exactly one; a
/// datapoint with other dimensions belongs to another metric.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct MetricId {
    pub namespace: String,
    pub metric_name: String,
    pub dimensions: BTreeMap<String, String>,
}

impl MetricId {
    pub fn new(namespace: &str, metric_name: &str, dimensions: &[(&str, &str)]) -> Self {
        Self {
            namespace: namespace.to_owned(),
            metric_name: metric_name.to_owned(),
            dimensions: dimensions
                .iter()
                .map(|(name, value)| ((*name).to_owned(), (*value).to_owned()))
                .collect(),
        }
    }
}

impl std::fmt::Display for MetricId {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}/{}", self.namespace, self.metric_name)?;
        for (name, value) in &self.dimensions {
            write!(f, " {name}={value}")?;
        }
        Ok(())
    }
}

/// The periods one evaluation reads, most recent first: period `age` (from 0) covers
/// `[end - (age + 1) * period, end - age * period)`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Periods {
    pub(crate) end_ms: i64,
    pub(crate) period_ms: i64,
    pub(crate) count: usize,
}

impl Periods {
    /// `(from, to)` of the period `age` periods before the newest.
    pub(crate) fn bounds(&self, age: usize) -> (i64, i64) {
        let to = self.end_ms - age as i64 * self.period_ms;
        (to - self.period_ms, to)
    }
}

/// Datapoints per metric, each `(timestamp in epoch milliseconds, value)`. A metric keeps
/// `retention_ms` behind its newest datapoint and at most `max_datapoints` datapoints.
#[derive(Debug, Clone)]
pub struct MetricStore {
    series: HashMap<MetricId, VecDeque<(i64, f64)>>,
    retention_ms: i64,
    max_datapoints: usize,
}

impl MetricStore {
    pub fn new(retention_ms: i64, max_datapoints: usize) -> Self {
        Self {
            series: HashMap::new(),
            retention_ms: retention_ms.max(0),
            max_datapoints: max_datapoints.max(1),
        }
    }

    /// Records one sample. Non-finite values are refused, as `PutMetricData` refuses them.
    pub fn put(
        &mut self,
        metric: &MetricId,
        timestamp_ms: i64,
        value: f64,
    ) -> Result<(), AlarmError> {
        if !value.is_finite() {
            return Err(AlarmError::InvalidDatapoint {
                metric: metric.to_string(),
                message: format!("value {value} is not a finite number"),
            });
        }
        let series = match self.series.get_mut(metric) {
            Some(series) => series,
            None => self.series.entry(metric.clone()).or_default(),
        };
        // Samples mostly arrive in time order; a late one is placed where it belongs.
        let at = series.partition_point(|(time, _)| *time <= timestamp_ms);
        series.insert(at, (timestamp_ms, value));
        let newest = series.back().map_or(timestamp_ms, |(time, _)| *time);
        let oldest_kept = newest.saturating_sub(self.retention_ms);
        while series.front().is_some_and(|(time, _)| *time < oldest_kept)
            || series.len() > self.max_datapoints
        {
            series.pop_front();
        }
        Ok(())
    }

    /// The samples of `metric` with `from_ms <= timestamp < to_ms`, in time order.
    pub fn samples(
        &self,
        metric: &MetricId,
        from_ms: i64,
        to_ms: i64,
    ) -> impl Iterator<Item = (i64, f64)> + '_ {
        let series = self.series.get(metric);
        let start = series.map_or(0, |s| s.partition_point(|(time, _)| *time < from_ms));
        series
            .into_iter()
            .flat_map(move |s| s.range(start..))
            .take_while(move |(time, _)| *time < to_ms)
            .copied()
    }

    /// Every metric with datapoints.
    pub(crate) fn metric_ids(&self) -> impl Iterator<Item = &MetricId> + '_ {
        self.series.keys()
    }

    /// The statistic of `stat`'s metric in each period.
    pub(crate) fn datapoints(
        &self,
        stat: &MetricStat,
        periods: &Periods,
    ) -> Vec<Option<Datapoint>> {
        let mut samples = Vec::new();
        (0..periods.count)
            .map(|age| {
                let (from, to) = periods.bounds(age);
                samples.clear();
                samples.extend(self.samples(&stat.metric, from, to).map(|(_, value)| value));
                (!samples.is_empty()).then(|| Datapoint {
                    start_ms: from,
                    value: stat.statistic.of(&mut samples),
                    samples: samples.len(),
                })
            })
            .collect()
    }

    /// How many datapoints the store holds, all metrics together.
    pub fn len(&self) -> usize {
        self.series.values().map(VecDeque::len).sum()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keeps_samples_in_order_within_retention_and_count() {
        let queue = MetricId::new(
            "AWS/SQS",
            "ApproximateNumberOfMessagesVisible",
            &[("QueueName", "dlq")],
        );
        let mut store = MetricStore::new(10_000, 4);
        for (time, value) in [(1_000, 1.0), (3_000, 3.0), (2_000, 2.0)] {
            store.put(&queue, time, value).unwrap();
        }
        let all: Vec<_> = store.samples(&queue, 0, i64::MAX).collect();
        assert_eq!(all, [(1_000, 1.0), (2_000, 2.0), (3_000, 3.0)]);
        assert_eq!(
            store.samples(&queue, 2_000, 3_000).collect::<Vec<_>>(),
            [(2_000, 2.0)]
        );

        // 12 s is newest: 1 s falls out of the 10 s retention.
        store.put(&queue, 12_000, 12.0).unwrap();
        assert_eq!(
            store.samples(&queue, 0, i64::MAX).next(),
            Some((2_000, 2.0))
        );
        // At most 4 datapoints.
        store.put(&queue, 12_500, 5.0).unwrap();
        store.put(&queue, 12_600, 6.0).unwrap();
        assert_eq!(store.len(), 4);
        assert_eq!(
            store.samples(&queue, 0, i64::MAX).next(),
            Some((3_000, 3.0))
        );
    }

    #[test]
    fn dimensions_identify_the_metric() {
        let mut store = MetricStore::new(60_000, 100);
        let bridge = MetricId::new("AWS/Lambda", "Errors", &[("FunctionName", "bridge")]);
        let handler = MetricId::new("AWS/Lambda", "Errors", &[("FunctionName", "handler")]);
        store.put(&bridge, 1, 1.0).unwrap();
        assert_eq!(store.samples(&handler, 0, 10).count(), 0);
        assert_eq!(store.samples(&bridge, 0, 10).count(), 1);
        let error = store.put(&bridge, 2, f64::NAN).unwrap_err();
        assert_eq!(
            error.to_string(),
            "datapoint of AWS/Lambda/Errors FunctionName=bridge: value NaN is not a finite number"
        );
    }
}
