//! `local/postoffice.local.yaml`: which Lambda binary runs each consumer the catalog names, and
//! the delivery policy of the consumers' subscriptions.

use std::collections::BTreeMap;
use std::path::Path;

use anyhow::{Context as _, bail};
use postoffice::catalog::{Catalog, IOT_FORWARDER, is_actor};
use serde::Deserialize;

use crate::delivery::policy::HealthyRetryPolicy;

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LocalConfig {
    #[serde(default = "default_prefix")]
    pub prefix: String,
    pub region: String,
    pub account: String,
    pub consumers: BTreeMap<String, ConsumerConfig>,
    #[serde(default)]
    pub delivery_policy: HealthyRetryPolicy,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ConsumerConfig {
    /// The workspace binary of the consumer's handler Lambda.
    pub handler: String,
    /// Extra handler environment; `{run}` stands for the run directory.
    #[serde(default)]
    pub env: BTreeMap<String, String>,
    /// Directories copied into the run directory at start-up: destination (with `{run}`) →
    /// source relative to the repository root. Handlers get their own copy to break and fix.
    #[serde(default)]
    pub data: BTreeMap<String, String>,
}

fn default_prefix() -> String {
    "postoffice".to_owned()
}

impl LocalConfig {
    pub fn load(path: &Path) -> anyhow::Result<Self> {
        let text =
            std::fs::read_to_string(path).with_context(|| format!("reading {}", path.display()))?;
        let config: LocalConfig =
            serde_yaml::from_str(&text).with_context(|| format!("parsing {}", path.display()))?;
        config
            .delivery_policy
            .validate()
            .map_err(|error| anyhow::anyhow!("{}: delivery_policy: {error}", path.display()))?;
        Ok(config)
    }

    /// Every consumer the catalog names must have a handler here, or its events would pile up
    /// undelivered.
    pub fn check_against(&self, catalog: &Catalog) -> anyhow::Result<()> {
        let missing: Vec<String> = catalog
            .events()
            .flat_map(|event| event.consumers.iter())
            .filter(|consumer| !self.consumers.contains_key(*consumer))
            .map(|consumer| consumer.to_owned())
            .collect();
        if !missing.is_empty() {
            bail!(
                "the catalog names consumers with no handler in the local config: {}",
                missing.join(", ")
            );
        }
        Ok(())
    }

    pub fn topic_arn_prefix(&self) -> String {
        format!(
            "arn:aws:sns:{}:{}:{}-",
            self.region, self.account, self.prefix
        )
    }

    pub fn topic_arn(&self, event: &str) -> String {
        format!("{}{event}", self.topic_arn_prefix())
    }

    pub fn consumer_dlq_name(&self, consumer: &str) -> String {
        format!("{}-{consumer}-dlq", self.prefix)
    }

    pub fn rule_errors_queue_name(&self) -> String {
        format!("{}-rule-errors", self.prefix)
    }

    pub fn bridge_function_name(&self, consumer: &str) -> String {
        format!("{}-{consumer}-bridge", self.prefix)
    }

    pub fn rule_name(&self, event: &str) -> String {
        format!("{}_{event}", self.prefix.replace('-', "_"))
    }
}

/// The events actors publish over MQTT: each gets an IoT rule, and devices get ACL entries for
/// the ones they produce.
pub fn actor_published_events(catalog: &Catalog) -> Vec<String> {
    catalog
        .events()
        .filter(|event| event.producers.iter().any(|producer| is_actor(producer)))
        .map(|event| event.name.clone())
        .collect()
}

/// Consumers and the events each subscribes to, the forwarder included.
pub fn subscriptions(catalog: &Catalog) -> BTreeMap<String, Vec<String>> {
    let mut subscriptions: BTreeMap<String, Vec<String>> = BTreeMap::new();
    for event in catalog.events() {
        for consumer in &event.consumers {
            subscriptions
                .entry(consumer.clone())
                .or_default()
                .push(event.name.clone());
        }
    }
    subscriptions
}

/// Whether `consumer` is the return path to actors.
pub fn is_forwarder(consumer: &str) -> bool {
    consumer == IOT_FORWARDER
}

#[cfg(test)]
mod tests {
    use super::*;

    fn repository_catalog() -> Catalog {
        Catalog::load(&Path::new(env!("CARGO_MANIFEST_DIR")).join("../../event-catalog")).unwrap()
    }

    #[test]
    fn the_repository_config_covers_every_consumer_of_the_catalog() {
        let config = LocalConfig::load(
            &Path::new(env!("CARGO_MANIFEST_DIR")).join("../../local/postoffice.local.yaml"),
        )
        .unwrap();
        config.check_against(&repository_catalog()).unwrap();
        assert_eq!(
            config.topic_arn("COOKING_REQUESTED"),
            "arn:aws:sns:eu-west-1:123456789012:postoffice-COOKING_REQUESTED"
        );
        assert_eq!(
            config.consumer_dlq_name("kitchen"),
            "postoffice-kitchen-dlq"
        );
        assert_eq!(
            config.rule_name("COOKING_REQUESTED"),
            "postoffice_COOKING_REQUESTED"
        );
    }

    #[test]
    fn a_consumer_without_handler_is_reported_by_name() {
        let mut config: LocalConfig = serde_yaml::from_str(
            "region: eu-west-1\naccount: '123456789012'\nconsumers:\n  kitchen:\n    handler: k\n",
        )
        .unwrap();
        config.consumers.remove("kitchen");
        let error = config
            .check_against(&repository_catalog())
            .unwrap_err()
            .to_string();
        assert!(error.contains("kitchen"), "{error}");
        assert!(error.contains("telemetry"), "{error}");
    }

    #[test]
    fn only_events_with_actor_producers_get_rules() {
        let events = actor_published_events(&repository_catalog());
        assert!(events.contains(&"COOKING_REQUESTED".to_owned()));
        assert!(events.contains(&"COOKING_FINISHED".to_owned()));
        assert!(!events.contains(&"COOKING_REPLIED".to_owned()));
    }
}
