//! Parsing a policy document into compiled statements, refusing what the IAM policy grammar
//! refuses (<https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_grammar.html>).

use std::sync::Arc;

use crate::PolicyError;
use crate::condition::Condition;
use crate::json::Json;
use crate::pattern::{ArnPattern, Syntax, Template};
use crate::principal::PrincipalEntry;

/// A parsed policy document: identity policy, resource policy (queue, bucket, key, trust
/// policy) or AWS IoT Core policy. Wildcard patterns and policy variables are compiled once here.
#[derive(Debug, Clone, PartialEq)]
pub struct Policy {
    name: Option<Arc<str>>,
    version: Option<Version>,
    id: Option<String>,
    pub(crate) statements: Vec<Statement>,
}

/// The policy language version (`Version` element). Policy variables exist only in
/// `2012-10-17`; under `2008-10-17` or without `Version`, `${aws:username}` is literal text
/// (<https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_elements_version.html>).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Version {
    V2008_10_17,
    V2012_10_17,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Effect {
    Allow,
    Deny,
}

#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Statement {
    pub(crate) index: usize,
    pub(crate) sid: Option<Arc<str>>,
    pub(crate) effect: Effect,
    pub(crate) principal: Option<PrincipalElement>,
    pub(crate) action: ActionElement,
    pub(crate) resource: Option<ResourceElement>,
    pub(crate) conditions: Vec<Condition>,
}

#[derive(Debug, Clone, PartialEq)]
pub(crate) enum PrincipalElement {
    Principal(Vec<PrincipalEntry>),
    NotPrincipal(Vec<PrincipalEntry>),
}

#[derive(Debug, Clone, PartialEq)]
pub(crate) enum ActionElement {
    Action(Vec<Template>),
    NotAction(Vec<Template>),
}

#[derive(Debug, Clone, PartialEq)]
pub(crate) enum ResourceElement {
    Resource(Vec<ArnPattern>),
    NotResource(Vec<ArnPattern>),
}

const POLICY_ELEMENTS: [&str; 3] = ["Version", "Id", "Statement"];
const STATEMENT_ELEMENTS: [&str; 9] = [
    "Sid",
    "Effect",
    "Principal",
    "NotPrincipal",
    "Action",
    "NotAction",
    "Resource",
    "NotResource",
    "Condition",
];

impl Policy {
    /// Parses a policy document as AWS accepts it: `Statement` as one object or an array,
    /// element values as a string or an array of strings, `Principal` as `"*"` or a map of
    /// `AWS` / `Service` / `Federated` / `CanonicalUser` to a string or an array.
    pub fn parse(json: &str) -> Result<Policy, PolicyError> {
        let document = Json::parse(json)?;
        let members = document.members("policy")?;
        for (element, _) in members {
            if !POLICY_ELEMENTS.contains(&element.as_str()) {
                return Err(PolicyError::UnknownElement {
                    path: "policy".into(),
                    element: element.clone(),
                });
            }
        }
        let version = match find(members, "Version") {
            None => None,
            Some(Json::String(version)) if version == "2012-10-17" => Some(Version::V2012_10_17),
            Some(Json::String(version)) if version == "2008-10-17" => Some(Version::V2008_10_17),
            Some(other) => {
                return Err(PolicyError::invalid(
                    "Version",
                    format!(
                        "must be \"2012-10-17\" or \"2008-10-17\", not {}",
                        describe(other)
                    ),
                ));
            }
        };
        let id = match find(members, "Id") {
            None => None,
            Some(Json::String(id)) => Some(id.clone()),
            Some(other) => {
                return Err(PolicyError::invalid(
                    "Id",
                    format!("must be a string, not {}", other.kind()),
                ));
            }
        };
        let variables = version == Some(Version::V2012_10_17);
        let statements = match find(members, "Statement") {
            None => {
                return Err(PolicyError::MissingElement {
                    path: "policy".into(),
                    element: "Statement".into(),
                });
            }
            Some(Json::Array(items)) => items
                .iter()
                .enumerate()
                .map(|(index, item)| {
                    Statement::parse(item, index, &format!("Statement[{index}]"), variables)
                })
                .collect::<Result<Vec<_>, _>>()?,
            Some(object @ Json::Object(_)) => {
                vec![Statement::parse(object, 0, "Statement", variables)?]
            }
            Some(other) => {
                return Err(PolicyError::invalid(
                    "Statement",
                    format!(
                        "must be an object or an array of objects, not {}",
                        other.kind()
                    ),
                ));
            }
        };
        Ok(Policy {
            name: None,
            version,
            id,
            statements,
        })
    }

    /// Names the policy for decisions and their explanations: the inline policy name
    /// (`handler`), the managed policy or the IoT policy name.
    pub fn named(mut self, name: &str) -> Policy {
        self.name = Some(name.into());
        self
    }

    pub fn name(&self) -> Option<&str> {
        self.name.as_deref()
    }

    pub(crate) fn shared_name(&self) -> Option<Arc<str>> {
        self.name.clone()
    }

    pub fn version(&self) -> Option<Version> {
        self.version
    }

    pub fn id(&self) -> Option<&str> {
        self.id.as_deref()
    }

    pub fn statement_count(&self) -> usize {
        self.statements.len()
    }

    /// The `Sid` of each statement, in order.
    pub fn sids(&self) -> impl Iterator<Item = Option<&str>> {
        self.statements
            .iter()
            .map(|statement| statement.sid.as_deref())
    }

    pub fn effects(&self) -> impl Iterator<Item = Effect> + '_ {
        self.statements.iter().map(|statement| statement.effect)
    }
}

impl Statement {
    fn parse(
        json: &Json,
        index: usize,
        path: &str,
        variables: bool,
    ) -> Result<Statement, PolicyError> {
        let members = json.members(path)?;
        for (element, _) in members {
            if !STATEMENT_ELEMENTS.contains(&element.as_str()) {
                return Err(PolicyError::UnknownElement {
                    path: path.to_owned(),
                    element: element.clone(),
                });
            }
        }
        let sid = match find(members, "Sid") {
            None => None,
            Some(Json::String(sid)) => Some(Arc::from(sid.as_str())),
            Some(other) => {
                return Err(PolicyError::invalid(
                    &format!("{path}.Sid"),
                    format!("must be a string, not {}", other.kind()),
                ));
            }
        };
        let effect = match find(members, "Effect") {
            None => {
                return Err(PolicyError::MissingElement {
                    path: path.to_owned(),
                    element: "Effect".into(),
                });
            }
            Some(Json::String(effect)) if effect == "Allow" => Effect::Allow,
            Some(Json::String(effect)) if effect == "Deny" => Effect::Deny,
            Some(other) => {
                return Err(PolicyError::invalid(
                    &format!("{path}.Effect"),
                    format!("must be \"Allow\" or \"Deny\", not {}", describe(other)),
                ));
            }
        };
        let principal = match either(members, path, "Principal", "NotPrincipal")? {
            None => None,
            Some(("Principal", json)) => Some(PrincipalElement::Principal(parse_principal(
                json,
                &format!("{path}.Principal"),
            )?)),
            Some((_, json)) => Some(PrincipalElement::NotPrincipal(parse_principal(
                json,
                &format!("{path}.NotPrincipal"),
            )?)),
        };
        let action = match either(members, path, "Action", "NotAction")? {
            None => {
                return Err(PolicyError::MissingElement {
                    path: path.to_owned(),
                    element: "Action or NotAction".into(),
                });
            }
            Some((name, json)) => {
                let element_path = format!("{path}.{name}");
                let patterns = strings(json, &element_path)?
                    .into_iter()
                    .map(|action| parse_action(action, &element_path))
                    .collect::<Result<Vec<_>, _>>()?;
                if name == "Action" {
                    ActionElement::Action(patterns)
                } else {
                    ActionElement::NotAction(patterns)
                }
            }
        };
        let resource = match either(members, path, "Resource", "NotResource")? {
            None => None,
            Some((name, json)) => {
                let element_path = format!("{path}.{name}");
                let patterns = strings(json, &element_path)?
                    .into_iter()
                    .map(|resource| parse_resource(resource, &element_path, variables))
                    .collect::<Result<Vec<_>, _>>()?;
                Some(if name == "Resource" {
                    ResourceElement::Resource(patterns)
                } else {
                    ResourceElement::NotResource(patterns)
                })
            }
        };
        let conditions = match find(members, "Condition") {
            None => Vec::new(),
            Some(block) => Condition::parse_block(block, &format!("{path}.Condition"), variables)?,
        };
        Ok(Statement {
            index,
            sid,
            effect,
            principal,
            action,
            resource,
            conditions,
        })
    }
}

fn find<'a>(members: &'a [(String, Json)], element: &str) -> Option<&'a Json> {
    members
        .iter()
        .find(|(name, _)| name == element)
        .map(|(_, value)| value)
}

/// At most one of two exclusive elements (`Action` / `NotAction`, ...).
fn either<'a>(
    members: &'a [(String, Json)],
    path: &str,
    first: &'static str,
    second: &'static str,
) -> Result<Option<(&'static str, &'a Json)>, PolicyError> {
    match (find(members, first), find(members, second)) {
        (Some(_), Some(_)) => Err(PolicyError::ConflictingElements {
            path: path.to_owned(),
            first,
            second,
        }),
        (Some(json), None) => Ok(Some((first, json))),
        (None, Some(json)) => Ok(Some((second, json))),
        (None, None) => Ok(None),
    }
}

/// A string or a non-empty array of strings.
fn strings<'a>(json: &'a Json, path: &str) -> Result<Vec<&'a str>, PolicyError> {
    match json {
        Json::String(text) => Ok(vec![text]),
        Json::Array(items) if !items.is_empty() => items
            .iter()
            .map(|item| match item {
                Json::String(text) => Ok(text.as_str()),
                other => Err(PolicyError::invalid(
                    path,
                    format!("must hold strings only, not {}", other.kind()),
                )),
            })
            .collect(),
        Json::Array(_) => Err(PolicyError::invalid(path, "must not be an empty array")),
        other => Err(PolicyError::invalid(
            path,
            format!(
                "must be a string or an array of strings, not {}",
                other.kind()
            ),
        )),
    }
}

fn parse_principal(json: &Json, path: &str) -> Result<Vec<PrincipalEntry>, PolicyError> {
    if let Json::String(text) = json {
        return if text == "*" {
            Ok(vec![PrincipalEntry::Everyone])
        } else {
            Err(PolicyError::invalid(
                path,
                format!(
                    "must be \"*\" or an object such as {{\"AWS\": \"{text}\"}}, not the string {text:?}"
                ),
            ))
        };
    }
    let members = json.members(path)?;
    if members.is_empty() {
        return Err(PolicyError::invalid(
            path,
            "must name at least one principal",
        ));
    }
    let mut entries = Vec::new();
    for (kind, values) in members {
        let kind_path = format!("{path}.{kind}");
        for value in strings(values, &kind_path)? {
            let entry = match kind.as_str() {
                "AWS" => PrincipalEntry::aws(value)
                    .map_err(|message| PolicyError::invalid(&kind_path, message))?,
                "Service" | "Federated" | "CanonicalUser"
                    if value.is_empty() || value.contains(['*', '?']) =>
                {
                    return Err(PolicyError::invalid(
                        &kind_path,
                        format!("{value:?}: a principal is a non-empty name without wildcards"),
                    ));
                }
                "Service" => PrincipalEntry::Service(value.to_owned()),
                "Federated" => PrincipalEntry::Federated(value.to_owned()),
                "CanonicalUser" => PrincipalEntry::CanonicalUser(value.to_owned()),
                _ => {
                    return Err(PolicyError::UnknownElement {
                        path: path.to_owned(),
                        element: kind.clone(),
                    });
                }
            };
            entries.push(entry);
        }
    }
    Ok(entries)
}

/// `*` or `service:action`, where the service prefix and action name are case-insensitive and
/// may hold wildcards (<https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_elements_action.html>).
fn parse_action(action: &str, path: &str) -> Result<Template, PolicyError> {
    let valid = action == "*"
        || action
            .split_once(':')
            .is_some_and(|(service, name)| !service.is_empty() && !name.is_empty());
    if !valid {
        return Err(PolicyError::invalid(
            path,
            format!(
                "{action:?} is not an action: expected \"*\" or \"service:Action\" such as \"sns:Publish\""
            ),
        ));
    }
    Ok(Template::compile(
        &action.to_ascii_lowercase(),
        Syntax {
            wildcards: true,
            variables: false,
        },
    ))
}

/// `*` or an ARN whose segments may hold wildcards, and whose resource part (after the fifth
/// colon) may hold policy variables
/// (<https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_elements_resource.html>).
fn parse_resource(resource: &str, path: &str, variables: bool) -> Result<ArnPattern, PolicyError> {
    let pattern = ArnPattern::compile(
        resource,
        Syntax {
            wildcards: true,
            variables,
        },
    );
    match &pattern {
        ArnPattern::Whole(_) if !pattern.is_any() => Err(PolicyError::invalid(
            path,
            format!(
                "{resource:?} is not a resource: expected \"*\" or an ARN (arn:PARTITION:SERVICE:REGION:ACCOUNT:RESOURCE)"
            ),
        )),
        ArnPattern::Segments(_) if !resource.starts_with("arn:") => Err(PolicyError::invalid(
            path,
            format!("{resource:?} is not an ARN: it must start with \"arn:\""),
        )),
        _ if pattern.has_variable_before_resource() => Err(PolicyError::invalid(
            path,
            format!(
                "{resource:?}: policy variables may only stand in the resource part of an ARN, after the fifth colon"
            ),
        )),
        _ => Ok(pattern),
    }
}

fn describe(json: &Json) -> String {
    match json {
        Json::String(text) => format!("{text:?}"),
        other => other.kind().to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn error(json: &str) -> PolicyError {
        Policy::parse(json).unwrap_err()
    }

    #[test]
    fn one_statement_object_and_string_values_are_accepted() {
        let policy = Policy::parse(
            r#"{"Version": "2012-10-17", "Statement": {"Sid": "One", "Effect": "Allow", "Action": "sqs:SendMessage", "Resource": "*"}}"#,
        )
        .unwrap();
        assert_eq!(policy.statement_count(), 1);
        assert_eq!(policy.sids().collect::<Vec<_>>(), [Some("One")]);
        assert_eq!(policy.version(), Some(Version::V2012_10_17));
    }

    #[test]
    fn principals_take_every_documented_shape() {
        let policy = Policy::parse(
            r#"{"Statement": [
                {"Effect": "Allow", "Principal": "*", "Action": "s3:GetObject", "Resource": "*"},
                {"Effect": "Allow", "Principal": {"AWS": ["arn:aws:iam::123456789012:root", "999999999999"],
                    "CanonicalUser": "79a59df900b949e55d96a1e698fbacedfd6e09d98eacf8f8d5218e7cd47ef2be"},
                 "Action": "s3:*", "Resource": "*"},
                {"Effect": "Allow", "Principal": {"Service": ["ecs.amazonaws.com", "elasticloadbalancing.amazonaws.com"]},
                 "Action": "sts:AssumeRole"},
                {"Effect": "Allow", "Principal": {"Federated": "cognito-identity.amazonaws.com"},
                 "Action": "sts:AssumeRoleWithWebIdentity"}
            ]}"#,
        )
        .unwrap();
        assert_eq!(policy.statement_count(), 4);
        assert_eq!(policy.version(), None);
    }

    #[test]
    fn what_the_grammar_refuses_is_refused_naming_the_element() {
        assert_eq!(
            error(
                r#"{"Statement": [{"Effect": "Allow", "Action": "s3:*", "Resource": "*", "Actions": "x"}]}"#
            ),
            PolicyError::UnknownElement {
                path: "Statement[0]".into(),
                element: "Actions".into()
            }
        );
        assert_eq!(
            error(r#"{"Statement": [], "Statements": []}"#),
            PolicyError::UnknownElement {
                path: "policy".into(),
                element: "Statements".into()
            }
        );
        assert!(matches!(
            error(r#"{"Statement": [{"Effect": "allow", "Action": "s3:*", "Resource": "*"}]}"#),
            PolicyError::InvalidValue { path, message } if path == "Statement[0].Effect" && message.contains("\"allow\"")
        ));
        assert_eq!(
            error(r#"{"Statement": [{"Effect": "Allow", "Resource": "*"}]}"#),
            PolicyError::MissingElement {
                path: "Statement[0]".into(),
                element: "Action or NotAction".into()
            }
        );
        assert_eq!(
            error(
                r#"{"Statement": [{"Effect": "Allow", "Action": "s3:*", "NotAction": "s3:Get*", "Resource": "*"}]}"#
            ),
            PolicyError::ConflictingElements {
                path: "Statement[0]".into(),
                first: "Action",
                second: "NotAction"
            }
        );
        assert!(matches!(
            error(
                r#"{"Statement": [{"Effect": "Allow", "Action": "s3:*", "Resource": "*", "Principal": "*", "NotPrincipal": "*"}]}"#
            ),
            PolicyError::ConflictingElements {
                first: "Principal",
                ..
            }
        ));
        assert!(matches!(
            error(r#"{"Statement": [{"Effect": "Allow", "Action": "s3:*", "Resource": "*", "Resource": "*"}]}"#),
            PolicyError::DuplicateKey { key, .. } if key == "Resource"
        ));
        assert_eq!(
            error(r#"{"Version": "2012-10-17"}"#),
            PolicyError::MissingElement {
                path: "policy".into(),
                element: "Statement".into()
            }
        );
        assert!(
            matches!(error(r#"{"Version": "2012-10-18", "Statement": []}"#), PolicyError::InvalidValue { path, .. } if path == "Version")
        );
        assert!(matches!(
            error(r#"{"Statement": [{"Effect": "Deny"}]}"#),
            PolicyError::MissingElement { .. }
        ));
        assert!(
            matches!(error(r#"[]"#), PolicyError::InvalidValue { path, .. } if path == "policy")
        );
        assert!(matches!(error("not json"), PolicyError::Json { .. }));
    }

    #[test]
    fn malformed_actions_resources_and_principals_are_refused() {
        let statement = |body: &str| {
            error(&format!(
                r#"{{"Version": "2012-10-17", "Statement": [{{"Effect": "Allow", {body}}}]}}"#
            ))
        };
        assert!(
            matches!(statement(r#""Action": "Publish", "Resource": "*""#), PolicyError::InvalidValue { path, .. } if path == "Statement[0].Action")
        );
        assert!(matches!(
            statement(r#""Action": [], "Resource": "*""#),
            PolicyError::InvalidValue { .. }
        ));
        assert!(matches!(
            statement(r#""Action": [1], "Resource": "*""#),
            PolicyError::InvalidValue { .. }
        ));
        assert!(
            matches!(statement(r#""Action": "s3:*", "Resource": "my-bucket""#), PolicyError::InvalidValue { path, .. } if path == "Statement[0].Resource")
        );
        assert!(matches!(
            statement(r#""Action": "s3:*", "Resource": "urn:a:b:c:d:e""#),
            PolicyError::InvalidValue { .. }
        ));
        assert!(matches!(
            statement(r#""Action": "sqs:*", "Resource": "arn:aws:sqs:us-east-2:${aws:PrincipalAccount}:queue""#),
            PolicyError::InvalidValue { message, .. } if message.contains("fifth colon")
        ));
        assert!(
            matches!(statement(r#""Principal": "arn:aws:iam::123456789012:root", "Action": "s3:*""#), PolicyError::InvalidValue { path, .. } if path == "Statement[0].Principal")
        );
        assert!(
            matches!(statement(r#""Principal": {"Users": "x"}, "Action": "s3:*""#), PolicyError::UnknownElement { element, .. } if element == "Users")
        );
        assert!(
            matches!(statement(r#""Principal": {"AWS": "arn:aws:iam::123456789012:user/*"}, "Action": "s3:*""#), PolicyError::InvalidValue { path, .. } if path == "Statement[0].Principal.AWS")
        );
        assert!(matches!(
            statement(r#""Principal": {}, "Action": "s3:*""#),
            PolicyError::InvalidValue { .. }
        ));
        assert!(matches!(
            statement(r#""Principal": {"Service": "*.amazonaws.com"}, "Action": "s3:*""#),
            PolicyError::InvalidValue { .. }
        ));
    }

    #[test]
    fn variables_are_literal_before_version_2012_10_17() {
        let old = Policy::parse(r#"{"Version": "2008-10-17", "Statement": [{"Effect": "Allow", "Action": "s3:*", "Resource": "arn:aws:s3:::bucket/${aws:username}/*"}]}"#).unwrap();
        let ResourceElement::Resource(patterns) = old.statements[0].resource.as_ref().unwrap()
        else {
            panic!()
        };
        let ArnPattern::Segments(segments) = &patterns[0] else {
            panic!()
        };
        assert!(!segments[5].has_variables());
        let new = Policy::parse(r#"{"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "s3:*", "Resource": "arn:aws:s3:::bucket/${aws:username}/*"}]}"#).unwrap();
        let ResourceElement::Resource(patterns) = new.statements[0].resource.as_ref().unwrap()
        else {
            panic!()
        };
        let ArnPattern::Segments(segments) = &patterns[0] else {
            panic!()
        };
        assert!(segments[5].has_variables());
    }
}
