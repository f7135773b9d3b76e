//! What ECS says about a service's tasks: moto runs none (its `runningCount` stays 0, so
//! Terraform's `wait_for_steady_state` would wait forever); locally a service's tasks are its
//! process, running once the load balancer finds it healthy.

use std::sync::Arc;

use async_trait::async_trait;
use axum::body::Bytes;
use axum::response::Response;
use serde_json::Value;

use super::Services;
use crate::aws::{Call, ControlPlaneAnswer, LocalService};

pub struct EcsControlPlane {
    pub services: Arc<Services>,
}

#[async_trait]
impl LocalService for EcsControlPlane {
    async fn serve(&self, _call: &Call) -> Option<Response> {
        None
    }

    async fn observe(&self, call: &Call, answer: ControlPlaneAnswer) -> ControlPlaneAnswer {
        if !answer.status.is_success() || call.action().as_deref() != Some("DescribeServices") {
            return answer;
        }
        let Ok(mut body) = serde_json::from_slice::<Value>(&answer.body) else {
            return answer;
        };
        let services = body["services"].as_array_mut().into_iter().flatten();
        for service in services {
            let name = service["serviceName"].as_str().unwrap_or_default();
            report_tasks(service, self.services.is_healthy(name));
        }
        ControlPlaneAnswer {
            body: Bytes::from(body.to_string()),
            ..answer
        }
    }
}

/// A service's counts and its deployments' as ECS reports them: all desired tasks running once
/// the local process is healthy, all pending before.
fn report_tasks(service: &mut Value, healthy: bool) {
    let desired = service["desiredCount"].as_u64().unwrap_or(0);
    let (running, pending) = if healthy { (desired, 0) } else { (0, desired) };
    service["runningCount"] = running.into();
    service["pendingCount"] = pending.into();
    for deployment in service["deployments"].as_array_mut().into_iter().flatten() {
        deployment["runningCount"] = running.into();
        deployment["pendingCount"] = pending.into();
        deployment["rolloutState"] = if healthy { "COMPLETED" } else { "IN_PROGRESS" }.into();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_healthy_service_runs_its_desired_tasks_and_a_starting_one_none() {
        let described = serde_json::json!({
            "serviceName": "postoffice-kitchen-service", "desiredCount": 2,
            "runningCount": 0, "pendingCount": 2,
            "deployments": [{"status": "PRIMARY", "runningCount": 0, "pendingCount": 2, "rolloutState": "IN_PROGRESS"}]
        });
        let mut healthy = described.clone();
        report_tasks(&mut healthy, true);
        assert_eq!(healthy["runningCount"], 2);
        assert_eq!(healthy["deployments"][0]["runningCount"], 2);
        assert_eq!(healthy["deployments"][0]["rolloutState"], "COMPLETED");
        let mut starting = described;
        report_tasks(&mut starting, false);
        assert_eq!(starting["runningCount"], 0);
        assert_eq!(starting["pendingCount"], 2);
    }
}
