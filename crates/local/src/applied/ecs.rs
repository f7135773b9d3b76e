//! ECS services (`compute = "container"`): each service's task definition (its containers'
//! images, environment and ports, the task role) and the target groups it registers with.

use std::collections::BTreeMap;

use anyhow::Context as _;

#[derive(Debug, Clone, Default)]
pub struct AppliedEcs {
    /// Service ARN → service.
    pub services: BTreeMap<String, Service>,
}

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Service {
    pub name: String,
    pub arn: String,
    pub cluster_arn: String,
    pub desired_count: u32,
    pub task_definition_arn: String,
    /// The task role, when the task definition has one.
    pub task_role_arn: Option<String>,
    pub containers: Vec<Container>,
    pub load_balancers: Vec<ServiceLoadBalancer>,
}

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Container {
    pub name: String,
    pub image: String,
    pub environment: BTreeMap<String, String>,
    pub ports: Vec<u16>,
}

/// A target group the service registers one of its containers' ports with.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ServiceLoadBalancer {
    pub target_group_arn: String,
    pub container_name: String,
    pub container_port: u16,
}

pub async fn read(client: &aws_sdk_ecs::Client) -> anyhow::Result<AppliedEcs> {
    let mut applied = AppliedEcs::default();
    let clusters = client
        .list_clusters()
        .send()
        .await
        .context("ListClusters")?;
    for cluster in clusters.cluster_arns() {
        let listed = client
            .list_services()
            .cluster(cluster)
            .send()
            .await
            .context("ListServices")?;
        // DescribeServices takes at most ten services per call.
        for arns in listed.service_arns().chunks(10) {
            let described = client
                .describe_services()
                .cluster(cluster)
                .set_services(Some(arns.to_vec()))
                .send()
                .await
                .context("DescribeServices")?;
            for service in described.services() {
                if service.status() == Some("INACTIVE") {
                    continue;
                }
                let task_definition_arn = service.task_definition().unwrap_or_default().to_owned();
                let definition = client
                    .describe_task_definition()
                    .task_definition(&task_definition_arn)
                    .send()
                    .await
                    .with_context(|| format!("DescribeTaskDefinition {task_definition_arn}"))?;
                let definition = definition.task_definition();
                let arn = service.service_arn().unwrap_or_default().to_owned();
                applied.services.insert(
                    arn.clone(),
                    Service {
                        name: service.service_name().unwrap_or_default().to_owned(),
                        arn,
                        cluster_arn: cluster.clone(),
                        desired_count: u32::try_from(service.desired_count()).unwrap_or(0),
                        task_definition_arn,
                        task_role_arn: definition
                            .and_then(|d| d.task_role_arn())
                            .map(str::to_owned),
                        containers: definition
                            .map(|d| d.container_definitions())
                            .unwrap_or_default()
                            .iter()
                            .map(|container| Container {
                                name: container.name().unwrap_or_default().to_owned(),
                                image: container.image().unwrap_or_default().to_owned(),
                                environment: container
                                    .environment()
                                    .iter()
                                    .filter_map(|pair| {
                                        Some((pair.name()?.to_owned(), pair.value()?.to_owned()))
                                    })
                                    .collect(),
                                ports: container
                                    .port_mappings()
                                    .iter()
                                    .filter_map(|mapping| {
                                        u16::try_from(mapping.container_port()?).ok()
                                    })
                                    .collect(),
                            })
                            .collect(),
                        load_balancers: service
                            .load_balancers()
                            .iter()
                            .filter_map(|balancer| {
                                Some(ServiceLoadBalancer {
                                    target_group_arn: balancer.target_group_arn()?.to_owned(),
                                    container_name: balancer
                                        .container_name()
                                        .unwrap_or_default()
                                        .to_owned(),
                                    container_port: u16::try_from(balancer.container_port()?)
                                        .ok()?,
                                })
                            })
                            .collect(),
                    },
                );
            }
        }
    }
    Ok(applied)
}
