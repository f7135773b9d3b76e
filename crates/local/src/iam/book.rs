//! Every policy of what was applied, parsed once per applied snapshot: the identity and trust
//! policies of each role, and the resource policies of topics, queues, functions, keys and
//! buckets; and the IoT policies. A document that does not parse is recorded as a problem and
//! treated as absent (AWS would have refused it when it was applied).

use std::collections::BTreeMap;

use postoffice_policy::Policy;

use crate::applied::Applied;

#[derive(Debug, Default)]
pub struct RolePolicies {
    pub identity: Vec<Policy>,
    pub trust: Option<Policy>,
}

/// Parsed policies of one applied snapshot.
#[derive(Debug, Default)]
pub struct PolicyBook {
    /// Role ARN → its policies.
    pub roles: BTreeMap<String, RolePolicies>,
    /// Topic ARN → topic policy.
    pub topics: BTreeMap<String, Policy>,
    /// Queue ARN → queue policy.
    pub queues: BTreeMap<String, Policy>,
    /// Function name, or `NAME:ALIAS` for an alias → resource-based policy.
    pub functions: BTreeMap<String, Policy>,
    /// Key ARN → key policy.
    pub keys: BTreeMap<String, Policy>,
    /// Bucket name → bucket policy.
    pub buckets: BTreeMap<String, Policy>,
    /// IoT policy name → policy.
    pub iot: BTreeMap<String, Policy>,
    /// Documents that did not parse: "what: why".
    pub problems: Vec<String>,
}

/// Parses documents, keeping what did not parse.
#[derive(Default)]
struct Parser {
    problems: Vec<String>,
}

impl Parser {
    fn parse(&mut self, what: String, document: &str, name: &str) -> Option<Policy> {
        match Policy::parse(document) {
            Ok(policy) => Some(policy.named(name)),
            Err(error) => {
                self.problems.push(format!("{what}: {error}"));
                None
            }
        }
    }
}

impl PolicyBook {
    pub fn from_applied(applied: &Applied) -> Self {
        let mut parser = Parser::default();
        let mut book = PolicyBook::default();
        for (arn, role) in &applied.iam.roles {
            let mut policies = RolePolicies::default();
            for (name, document) in &role.inline_policies {
                let what = format!("role {} policy {name}", role.name);
                policies.identity.extend(parser.parse(what, document, name));
            }
            for (policy_arn, document) in &role.attached_policies {
                let name = policy_arn.rsplit('/').next().unwrap_or(policy_arn);
                let what = format!("role {} attached policy {policy_arn}", role.name);
                policies.identity.extend(parser.parse(what, document, name));
            }
            let what = format!("role {} trust policy", role.name);
            policies.trust = parser.parse(what, &role.trust_policy, "trust policy");
            book.roles.insert(arn.clone(), policies);
        }
        for (arn, attributes) in &applied.sns.topics {
            if let Some(document) = attributes.get("Policy")
                && let Some(policy) =
                    parser.parse(format!("topic {arn} policy"), document, "topic policy")
            {
                book.topics.insert(arn.clone(), policy);
            }
        }
        for (arn, queue) in &applied.sqs.queues {
            if let Some(document) = queue.attributes.get("Policy").filter(|p| !p.is_empty())
                && let Some(policy) = parser.parse(
                    format!("queue {} policy", queue.name),
                    document,
                    "queue policy",
                )
            {
                book.queues.insert(arn.clone(), policy);
            }
        }
        for (name, function) in &applied.lambda.functions {
            if let Some(document) = &function.policy
                && let Some(policy) = parser.parse(
                    format!("function {name} policy"),
                    document,
                    "function policy",
                )
            {
                book.functions.insert(name.clone(), policy);
            }
            for alias in function.aliases.values() {
                let key = crate::lambda::qualified_name(name, Some(&alias.name));
                if let Some(document) = &alias.policy
                    && let Some(policy) =
                        parser.parse(format!("alias {key} policy"), document, "function policy")
                {
                    book.functions.insert(key, policy);
                }
            }
        }
        for (arn, key) in &applied.kms.keys {
            if let Some(policy) =
                parser.parse(format!("key {arn} policy"), &key.policy, "key policy")
            {
                book.keys.insert(arn.clone(), policy);
            }
        }
        for (bucket, document) in &applied.s3.bucket_policies {
            if let Some(policy) =
                parser.parse(format!("bucket {bucket} policy"), document, "bucket policy")
            {
                book.buckets.insert(bucket.clone(), policy);
            }
        }
        for (name, document) in &applied.iot.policies {
            if let Some(policy) = parser.parse(format!("IoT policy {name}"), document, name) {
                book.iot.insert(name.clone(), policy);
            }
        }
        book.problems = parser.problems;
        book
    }
}
