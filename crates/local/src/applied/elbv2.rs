//! Application Load Balancers in front of ECS services: their listeners, each listener's rules
//! (path and host conditions, forward actions) and the target groups' health checks.

use std::collections::BTreeMap;

use anyhow::Context as _;

#[derive(Debug, Clone, Default)]
pub struct AppliedElbv2 {
    pub listeners: Vec<Listener>,
    /// Target group ARN → its health check path.
    pub health_check_paths: BTreeMap<String, String>,
}

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Listener {
    pub arn: String,
    pub load_balancer_arn: String,
    /// The load balancer's DNS name.
    pub dns_name: String,
    pub port: u16,
    pub protocol: String,
    /// Rules by priority, the default action last.
    pub rules: Vec<Rule>,
}

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Rule {
    /// `path-pattern` values (`*` and `?` wildcards); empty: any path.
    pub path_patterns: Vec<String>,
    /// `host-header` values; empty: any host.
    pub host_headers: Vec<String>,
    /// The target group a `forward` action sends to; none for other actions.
    pub forward_to: Option<String>,
}

pub async fn read(client: &aws_sdk_elasticloadbalancingv2::Client) -> anyhow::Result<AppliedElbv2> {
    let mut applied = AppliedElbv2::default();
    let balancers = client
        .describe_load_balancers()
        .send()
        .await
        .context("DescribeLoadBalancers")?;
    for balancer in balancers.load_balancers() {
        let balancer_arn = balancer.load_balancer_arn().unwrap_or_default();
        let listeners = client
            .describe_listeners()
            .load_balancer_arn(balancer_arn)
            .send()
            .await
            .context("DescribeListeners")?;
        for listener in listeners.listeners() {
            let arn = listener.listener_arn().unwrap_or_default().to_owned();
            let described = client
                .describe_rules()
                .listener_arn(&arn)
                .send()
                .await
                .context("DescribeRules")?;
            let mut rules: Vec<(u32, Rule)> = described
                .rules()
                .iter()
                .filter(|rule| !rule.is_default().unwrap_or(false))
                .map(|rule| {
                    let priority = rule
                        .priority()
                        .and_then(|p| p.parse().ok())
                        .unwrap_or(u32::MAX);
                    let mut parsed = Rule {
                        forward_to: forward_target(rule.actions()),
                        ..Rule::default()
                    };
                    for condition in rule.conditions() {
                        let values = || -> Vec<String> {
                            let configured = match condition.field() {
                                Some("path-pattern") => {
                                    condition.path_pattern_config().map(|c| c.values().to_vec())
                                }
                                Some("host-header") => {
                                    condition.host_header_config().map(|c| c.values().to_vec())
                                }
                                _ => None,
                            };
                            configured
                                .filter(|values| !values.is_empty())
                                .unwrap_or_else(|| condition.values().to_vec())
                        };
                        match condition.field() {
                            Some("path-pattern") => parsed.path_patterns.extend(values()),
                            Some("host-header") => parsed.host_headers.extend(values()),
                            _ => {}
                        }
                    }
                    (priority, parsed)
                })
                .collect();
            rules.sort_by_key(|(priority, _)| *priority);
            let mut rules: Vec<Rule> = rules.into_iter().map(|(_, rule)| rule).collect();
            rules.push(Rule {
                forward_to: forward_target(listener.default_actions()),
                ..Rule::default()
            });
            applied.listeners.push(Listener {
                arn,
                load_balancer_arn: balancer_arn.to_owned(),
                dns_name: balancer.dns_name().unwrap_or_default().to_owned(),
                port: listener
                    .port()
                    .and_then(|port| u16::try_from(port).ok())
                    .unwrap_or_default(),
                protocol: listener
                    .protocol()
                    .map(|protocol| protocol.as_str().to_owned())
                    .unwrap_or_default(),
                rules,
            });
        }
    }
    let groups = client
        .describe_target_groups()
        .send()
        .await
        .context("DescribeTargetGroups")?;
    for group in groups.target_groups() {
        if let Some(arn) = group.target_group_arn() {
            applied.health_check_paths.insert(
                arn.to_owned(),
                group.health_check_path().unwrap_or("/").to_owned(),
            );
        }
    }
    Ok(applied)
}

fn forward_target(actions: &[aws_sdk_elasticloadbalancingv2::types::Action]) -> Option<String> {
    actions
        .iter()
        .find(|action| action.r#type().map(|t| t.as_str()) == Some("forward"))
        .and_then(|action| {
            action.target_group_arn().map(str::to_owned).or_else(|| {
                action
                    .forward_config()
                    .and_then(|config| config.target_groups().first())
                    .and_then(|group| group.target_group_arn())
                    .map(str::to_owned)
            })
        })
}
