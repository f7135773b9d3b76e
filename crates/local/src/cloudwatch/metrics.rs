//! The metrics the local services emit, named as AWS names them (namespace, metric, dimensions),
//! for the alarms to evaluate and the meter to count. Emitting never blocks.

use std::sync::Mutex;

/// One datapoint, as `PutMetricData` would carry it.
#[derive(Debug, Clone, PartialEq)]
pub struct Datapoint {
    pub namespace: &'static str,
    pub metric: &'static str,
    pub dimensions: Vec<(&'static str, String)>,
    pub value: f64,
    pub timestamp_ms: i64,
}

#[derive(Debug, Default)]
pub struct Metrics {
    pending: Mutex<Vec<Datapoint>>,
    /// Every metric (namespace, name, dimensions) recorded so far, for the meter.
    distinct: Mutex<std::collections::BTreeSet<String>>,
}

impl Metrics {
    pub fn record(
        &self,
        namespace: &'static str,
        metric: &'static str,
        dimensions: &[(&'static str, &str)],
        value: f64,
    ) {
        let datapoint = Datapoint {
            namespace,
            metric,
            dimensions: dimensions
                .iter()
                .map(|(name, value)| (*name, (*value).to_owned()))
                .collect(),
            value,
            timestamp_ms: chrono::Utc::now().timestamp_millis(),
        };
        let mut key = format!("{namespace}/{metric}");
        for (name, value) in &datapoint.dimensions {
            key.push_str(&format!(" {name}={value}"));
        }
        {
            let mut distinct = self.distinct.lock().unwrap_or_else(|p| p.into_inner());
            if !distinct.contains(&key) {
                distinct.insert(key);
            }
        }
        self.pending
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .push(datapoint);
    }

    /// How many distinct metrics have been recorded.
    pub fn distinct(&self) -> u64 {
        self.distinct
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .len() as u64
    }

    /// Everything recorded since the last call.
    pub fn take(&self) -> Vec<Datapoint> {
        std::mem::take(&mut *self.pending.lock().unwrap_or_else(|p| p.into_inner()))
    }
}
