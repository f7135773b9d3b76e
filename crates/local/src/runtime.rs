//! Keeps the running post office in step with what was applied: whenever a service's
//! control-plane state changes (announced by the local AWS endpoint), that service is read
//! again, the plan rebuilt from the whole applied state, and each local service given its part.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::{Arc, Mutex, RwLock};
use std::time::Duration;

use async_trait::async_trait;
use tokio::sync::watch;

use crate::applied::{Applied, ControlPlane};
use crate::cloudwatch::alarms::Alarms;
use crate::ecs::Services;
use crate::firehose::EventStore;
use crate::iam::Authorizer;
use crate::iot::rules::RuleEngine;
use crate::lambda::Lambda;
use crate::plan::{Plan, Platform};
use crate::sns::{Refresh, Sns};

/// Control-plane services, by SigV4 signing name, that the plan is built from.
const SERVICES: &[&str] = &[
    "sns",
    "sqs",
    "lambda",
    "iam",
    "kms",
    "iot",
    "firehose",
    "monitoring",
    "s3",
    "ecs",
    "elasticloadbalancing",
];
/// Changes that come in a burst (a Terraform apply) are read once they settle this long.
const SETTLE: Duration = Duration::from_millis(50);

pub struct Runtime {
    pub control: ControlPlane,
    pub platform: Platform,
    pub authorizer: Arc<Authorizer>,
    pub lambda: Arc<Lambda>,
    pub services: Arc<Services>,
    pub sns: Arc<Sns>,
    pub rules: Arc<RuleEngine>,
    pub event_store: Arc<EventStore>,
    pub alarms: Arc<Alarms>,
    applied: tokio::sync::Mutex<Applied>,
    plan: RwLock<Arc<Plan>>,
    /// Generations of the changes already read, per service.
    seen: Mutex<BTreeMap<String, u64>>,
    changes: watch::Receiver<BTreeMap<String, u64>>,
    problems: Mutex<Vec<String>>,
}

impl Runtime {
    #[allow(clippy::too_many_arguments)]
    pub fn new(
        control: ControlPlane,
        platform: Platform,
        authorizer: Arc<Authorizer>,
        lambda: Arc<Lambda>,
        services: Arc<Services>,
        sns: Arc<Sns>,
        rules: Arc<RuleEngine>,
        event_store: Arc<EventStore>,
        alarms: Arc<Alarms>,
        changes: watch::Receiver<BTreeMap<String, u64>>,
    ) -> Arc<Self> {
        let runtime = Arc::new(Self {
            control,
            platform,
            authorizer,
            lambda,
            services,
            sns,
            rules,
            event_store,
            alarms,
            applied: tokio::sync::Mutex::default(),
            plan: RwLock::default(),
            seen: Mutex::default(),
            changes,
            problems: Mutex::default(),
        });
        let weak: std::sync::Weak<dyn Refresh> =
            Arc::downgrade(&(runtime.clone() as Arc<dyn Refresh>));
        runtime.sns.set_refresh(weak);
        runtime
    }

    pub fn plan(&self) -> Arc<Plan> {
        self.plan.read().unwrap_or_else(|p| p.into_inner()).clone()
    }

    /// What cannot run locally, from the last plan.
    pub fn problems(&self) -> Vec<String> {
        self.problems
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .clone()
    }

    /// Reads `services` (and any other service changed since it was last read) and executes
    /// the new plan.
    pub async fn refresh_services(&self, services: &[&str]) -> anyhow::Result<()> {
        let mut applied = self.applied.lock().await;
        let generations = self.changes.borrow().clone();
        let mut wanted: BTreeSet<String> = services.iter().map(|s| (*s).to_owned()).collect();
        {
            let seen = self.seen.lock().unwrap_or_else(|p| p.into_inner());
            for (service, generation) in &generations {
                if seen.get(service) != Some(generation) && SERVICES.contains(&service.as_str()) {
                    wanted.insert(service.clone());
                }
            }
        }
        let wanted: Vec<String> = wanted.into_iter().collect();
        self.control.refresh(&mut applied, &wanted).await?;
        {
            let mut seen = self.seen.lock().unwrap_or_else(|p| p.into_inner());
            for service in &wanted {
                if let Some(generation) = generations.get(service) {
                    seen.insert(service.clone(), *generation);
                }
            }
        }
        let snapshot = Arc::new(applied.clone());
        drop(applied);
        self.execute(snapshot);
        Ok(())
    }

    /// Reads every service and executes the plan.
    pub async fn refresh_all(&self) -> anyhow::Result<()> {
        self.refresh_services(SERVICES).await
    }

    fn execute(&self, applied: Arc<Applied>) {
        let mut problems = self.authorizer.update(applied.clone());
        let plan = Arc::new(Plan::from_applied(&applied, &self.platform));
        problems.extend(plan.problems.iter().cloned());
        problems.extend(self.lambda.registry.update(&plan, &self.authorizer));
        problems.extend(self.services.update(&plan, &self.authorizer));
        self.sns.apply_plan(&plan);
        self.rules.apply_plan(&plan);
        self.event_store.apply_plan(&plan);
        self.alarms.apply(&applied);
        problems.extend(
            self.alarms
                .problems
                .lock()
                .unwrap_or_else(|p| p.into_inner())
                .iter()
                .cloned(),
        );
        let mut known = self.problems.lock().unwrap_or_else(|p| p.into_inner());
        for problem in &problems {
            if !known.contains(problem) {
                tracing::warn!(problem, "not run locally");
            }
        }
        *known = problems;
        *self.plan.write().unwrap_or_else(|p| p.into_inner()) = plan;
    }

    /// Follows control-plane changes until the task is aborted.
    pub async fn follow(self: Arc<Self>) {
        let mut changes = self.changes.clone();
        loop {
            if changes.changed().await.is_err() {
                return;
            }
            tokio::time::sleep(SETTLE).await;
            if let Err(error) = self.refresh_services(&[]).await {
                tracing::error!(error = %format!("{error:#}"), "reading the applied state failed");
            }
        }
    }
}

#[async_trait]
impl Refresh for Runtime {
    async fn refresh(&self, services: &[&str]) {
        if let Err(error) = self.refresh_services(services).await {
            tracing::error!(error = %format!("{error:#}"), "reading the applied state failed");
        }
    }
}
