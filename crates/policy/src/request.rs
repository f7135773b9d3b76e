use std::fmt;

use crate::PolicyError;
use crate::context::{Context, ContextValue};
use crate::principal::Principal;

/// One call to authorise: who, what action, on which resource, with which condition keys.
#[derive(Debug, Clone, PartialEq)]
pub struct Request {
    principal: Principal,
    action: String,
    resource: Resource,
    context: Context,
    /// Keys derived from the principal (`aws:PrincipalArn`, ...), used when `context` lacks them.
    derived: Context,
}

/// The resource of a request: an ARN split into its six colon-separated segments (the last one
/// keeps its own colons, as in `log-group:NAME:log-stream:STREAM`), or `*` for actions without
/// resource-level permissions.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Resource {
    pub(crate) text: String,
    /// Byte ranges of the six segments; `None` when the text is not an ARN.
    pub(crate) segments: Option<[(usize, usize); 6]>,
    pub(crate) account: Option<String>,
}

impl Resource {
    fn parse(text: &str) -> Result<Self, PolicyError> {
        if text == "*" {
            return Ok(Self {
                text: text.to_owned(),
                segments: None,
                account: None,
            });
        }
        let segments = arn_segments(text).filter(|segments| {
            &text[segments[0].0..segments[0].1] == "arn"
                && segments[1].1 > segments[1].0
                && segments[2].1 > segments[2].0
        });
        let Some(segments) = segments else {
            return Err(PolicyError::InvalidRequest {
                field: "resource",
                value: text.to_owned(),
                message: "must be an ARN (arn:PARTITION:SERVICE:REGION:ACCOUNT:RESOURCE) or *"
                    .into(),
            });
        };
        let account = &text[segments[4].0..segments[4].1];
        Ok(Self {
            text: text.to_owned(),
            segments: Some(segments),
            account: (!account.is_empty()).then(|| account.to_owned()),
        })
    }

    #[cfg(test)]
    pub(crate) fn segment(&self, index: usize) -> Option<&str> {
        self.segments
            .map(|segments| &self.text[segments[index].0..segments[index].1])
    }
}

/// Byte ranges of the six segments of an ARN-shaped text: split at the first five colons.
pub(crate) fn arn_segments(text: &str) -> Option<[(usize, usize); 6]> {
    let mut segments = [(0, 0); 6];
    let mut start = 0;
    for segment in segments.iter_mut().take(5) {
        let colon = text[start..].find(':')? + start;
        *segment = (start, colon);
        start = colon + 1;
    }
    segments[5] = (start, text.len());
    Some(segments)
}

impl Request {
    /// `action` is `service:Action` (`sns:Publish`); `resource` an ARN or `*`.
    pub fn new(principal: Principal, action: &str, resource: &str) -> Result<Self, PolicyError> {
        let valid_action = action
            .split_once(':')
            .is_some_and(|(service, name)| !service.is_empty() && !name.is_empty())
            && !action.contains(['*', '?']);
        if !valid_action {
            return Err(PolicyError::InvalidRequest {
                field: "action",
                value: action.to_owned(),
                message: "must be service:Action, such as sns:Publish, without wildcards".into(),
            });
        }
        let derived = derived_context(&principal);
        Ok(Self {
            principal,
            action: action.to_owned(),
            resource: Resource::parse(resource)?,
            context: Context::new(),
            derived,
        })
    }

    /// The condition keys of the request (`aws:SourceArn`, `aws:SecureTransport`,
    /// `kms:ViaService`, ...). Keys derived from the principal are added unless given here.
    pub fn with_context(mut self, context: Context) -> Self {
        self.context = context;
        self
    }

    /// The account owning the resource, for resources whose ARN has none (S3 buckets). Without
    /// it such a resource counts as in another account than the principal's, so both the
    /// identity and the resource policy must allow.
    pub fn with_resource_account(mut self, account: &str) -> Result<Self, PolicyError> {
        if account.len() != 12 || !account.bytes().all(|byte| byte.is_ascii_digit()) {
            return Err(PolicyError::InvalidRequest {
                field: "resource account",
                value: account.to_owned(),
                message: "must be a 12-digit account id".into(),
            });
        }
        if let Some(existing) = &self.resource.account
            && existing != account
        {
            return Err(PolicyError::InvalidRequest {
                field: "resource account",
                value: account.to_owned(),
                message: format!("the resource ARN names account {existing}"),
            });
        }
        self.resource.account = Some(account.to_owned());
        Ok(self)
    }

    pub fn principal(&self) -> &Principal {
        &self.principal
    }

    pub fn action(&self) -> &str {
        &self.action
    }

    pub fn resource(&self) -> &str {
        &self.resource.text
    }

    pub fn resource_account(&self) -> Option<&str> {
        self.resource.account.as_deref()
    }

    pub fn context(&self) -> &Context {
        &self.context
    }

    pub(crate) fn resource_parts(&self) -> &Resource {
        &self.resource
    }

    /// The values of a condition key (already lowercased): the request's, else derived ones.
    pub(crate) fn lookup(&self, lowercase_key: &str) -> Option<&[ContextValue]> {
        self.context
            .get_lowercase(lowercase_key)
            .or_else(|| self.derived.get_lowercase(lowercase_key))
    }
}

impl fmt::Display for Request {
    fn fmt(&self, formatter: &mut fmt::Formatter) -> fmt::Result {
        write!(
            formatter,
            "{} calling {} on {}",
            self.principal, self.action, self.resource.text
        )
    }
}

/// Global keys AWS puts in every request of such a principal
/// (<https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_condition-keys.html>):
/// `aws:PrincipalArn` and `aws:PrincipalAccount` for signed IAM requests, `aws:username` for
/// users, `aws:PrincipalServiceName` for services, `aws:PrincipalIsAWSService` for every signed
/// request.
fn derived_context(principal: &Principal) -> Context {
    let mut context = Context::new();
    if let Some(arn) = principal.principal_arn() {
        context.insert("aws:PrincipalArn", arn);
    }
    if let Some(account) = principal.account() {
        context.insert("aws:PrincipalAccount", account);
    }
    if let Some(name) = principal.user_name() {
        context.insert("aws:username", name);
    }
    if let Some(service) = principal.service_name() {
        context.insert("aws:PrincipalServiceName", service);
        context.insert("aws:PrincipalIsAWSService", true);
    } else if principal.is_signed_iam() {
        context.insert("aws:PrincipalIsAWSService", false);
    }
    context
}

#[cfg(test)]
mod tests {
    use super::*;

    fn handler() -> Principal {
        Principal::role_session(
            "arn:aws:iam::123456789012:role/postoffice-kitchen-handler",
            "postoffice-kitchen-handler",
        )
        .unwrap()
    }

    #[test]
    fn arns_split_into_six_segments_keeping_colons_of_the_resource() {
        let request = Request::new(
            handler(),
            "logs:PutLogEvents",
            "arn:aws:logs:eu-west-1:123456789012:log-group:/aws/lambda/x:log-stream:s",
        )
        .unwrap();
        let resource = request.resource_parts();
        assert_eq!(resource.segment(2), Some("logs"));
        assert_eq!(resource.segment(4), Some("123456789012"));
        assert_eq!(
            resource.segment(5),
            Some("log-group:/aws/lambda/x:log-stream:s")
        );
        assert_eq!(request.resource_account(), Some("123456789012"));
    }

    #[test]
    fn bad_actions_and_resources_are_refused_by_name() {
        assert!(matches!(
            Request::new(handler(), "Publish", "*"),
            Err(PolicyError::InvalidRequest {
                field: "action",
                ..
            })
        ));
        assert!(matches!(
            Request::new(handler(), "sns:*", "*"),
            Err(PolicyError::InvalidRequest {
                field: "action",
                ..
            })
        ));
        assert!(matches!(
            Request::new(handler(), "sns:Publish", "postoffice-X"),
            Err(PolicyError::InvalidRequest {
                field: "resource",
                ..
            })
        ));
    }

    #[test]
    fn s3_resources_get_their_account_explicitly() {
        let request = Request::new(handler(), "s3:PutObject", "arn:aws:s3:::bucket/key").unwrap();
        assert_eq!(request.resource_account(), None);
        let request = request.with_resource_account("123456789012").unwrap();
        assert_eq!(request.resource_account(), Some("123456789012"));
        let queue = Request::new(
            handler(),
            "sqs:SendMessage",
            "arn:aws:sqs:eu-west-1:123456789012:q",
        )
        .unwrap();
        assert!(queue.with_resource_account("210987654321").is_err());
    }

    #[test]
    fn principal_keys_are_derived_unless_given() {
        let request = Request::new(handler(), "sns:Publish", "*").unwrap();
        assert_eq!(
            request.lookup("aws:principalarn"),
            Some(
                &[ContextValue::from(
                    "arn:aws:iam::123456789012:role/postoffice-kitchen-handler"
                )][..]
            )
        );
        assert_eq!(
            request.lookup("aws:principalisawsservice"),
            Some(&[ContextValue::Bool(false)][..])
        );
        let request = request.with_context(Context::new().with("aws:PrincipalAccount", "x"));
        assert_eq!(
            request.lookup("aws:principalaccount"),
            Some(&[ContextValue::from("x")][..])
        );
        let sns = Request::new(
            Principal::service("sns.amazonaws.com").unwrap(),
            "sqs:SendMessage",
            "*",
        )
        .unwrap();
        assert_eq!(
            sns.lookup("aws:principalservicename"),
            Some(&[ContextValue::from("sns.amazonaws.com")][..])
        );
        assert_eq!(sns.lookup("aws:principalarn"), None);
    }
}
