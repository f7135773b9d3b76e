//! Lambda resource-based policies, as `AddPermission`, `RemovePermission` and `GetPolicy` build
//! and return them (<https://docs.aws.amazon.com/lambda/latest/api/API_AddPermission.html>):
//! each permission becomes a statement whose principal, action and conditions AWS derives from
//! the request. moto writes the request's fields into the statement as they are (a
//! `FunctionUrlAuthType` element no policy grammar knows) and adds a public statement of its
//! own when a function URL is created, which AWS does not; so the policies are kept here.
//!
//! A function and each of its aliases have a policy of their own: a permission added with a
//! `Qualifier` is on the alias's policy only, and applies only to invocations through the
//! alias's ARN (<https://docs.aws.amazon.com/lambda/latest/dg/using-aliases.html>).

use std::collections::BTreeMap;
use std::sync::Mutex;

use serde_json::{Map, Value, json};

use crate::aws::errors::AwsError;
#[cfg(test)]
use crate::lambda::qualified_name;

/// Lambda's limit on a function's policy.
pub const MAX_POLICY_BYTES: usize = 20 * 1024;

#[derive(Default)]
pub struct FunctionPolicies {
    /// [`qualified_name`] → the statements, in the order they were added.
    statements: Mutex<BTreeMap<String, Vec<Value>>>,
}

fn invalid(message: impl Into<String>) -> AwsError {
    AwsError::new(400, "InvalidParameterValueException", message)
}

/// The statement AWS writes for an `AddPermission` request on `function_arn`.
pub fn statement(function_arn: &str, request: &Value, account: &str) -> Result<Value, AwsError> {
    let text = |name: &str| request.get(name).and_then(Value::as_str);
    let sid = text("StatementId").ok_or_else(|| invalid("StatementId is required"))?;
    if sid.is_empty()
        || sid.len() > 100
        || !sid
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
    {
        return Err(invalid(format!(
            "1 validation error detected: Value '{sid}' at 'statementId' failed to satisfy constraint: Member must satisfy regular expression pattern: ([a-zA-Z0-9-_]+)"
        )));
    }
    let action = text("Action").ok_or_else(|| invalid("Action is required"))?;
    let action_ok = action == "*"
        || action == "lambda:*"
        || action
            .strip_prefix("lambda:")
            .is_some_and(|name| !name.is_empty() && name.bytes().all(|b| b.is_ascii_alphabetic()));
    if !action_ok {
        return Err(invalid(format!(
            "1 validation error detected: Value '{action}' at 'action' failed to satisfy constraint: Member must satisfy regular expression pattern: (lambda:[*]|lambda:[a-zA-Z]+|[*])"
        )));
    }
    let principal_text = text("Principal").ok_or_else(|| invalid("Principal is required"))?;
    let principal = if principal_text == "*" {
        json!("*")
    } else if principal_text.bytes().all(|b| b.is_ascii_digit()) && principal_text.len() == 12 {
        json!({ "AWS": format!("arn:aws:iam::{principal_text}:root") })
    } else if principal_text.starts_with("arn:") {
        json!({ "AWS": principal_text })
    } else if principal_text.ends_with(".amazonaws.com") || principal_text.ends_with(".amazon.com")
    {
        json!({ "Service": principal_text })
    } else {
        return Err(invalid(format!(
            "The provided principal was invalid: {principal_text}"
        )));
    };
    let mut string_equals = Map::new();
    let mut conditions = Map::new();
    if let Some(account) = text("SourceAccount") {
        string_equals.insert("AWS:SourceAccount".to_owned(), json!(account));
    }
    if let Some(token) = text("EventSourceToken") {
        string_equals.insert("lambda:EventSourceToken".to_owned(), json!(token));
    }
    if let Some(organization) = text("PrincipalOrgID") {
        string_equals.insert("aws:PrincipalOrgID".to_owned(), json!(organization));
    }
    if let Some(auth_type) = text("FunctionUrlAuthType") {
        if action != "lambda:InvokeFunctionUrl" {
            return Err(invalid(
                "FunctionUrlAuthType is only supported for the lambda:InvokeFunctionUrl action",
            ));
        }
        if !matches!(auth_type, "NONE" | "AWS_IAM") {
            return Err(invalid(format!(
                "FunctionUrlAuthType {auth_type} is not NONE or AWS_IAM"
            )));
        }
        string_equals.insert("lambda:FunctionUrlAuthType".to_owned(), json!(auth_type));
    }
    if !string_equals.is_empty() {
        conditions.insert("StringEquals".to_owned(), Value::Object(string_equals));
    }
    if let Some(source) = text("SourceArn") {
        conditions.insert("ArnLike".to_owned(), json!({ "AWS:SourceArn": source }));
    }
    if let Some(via_url) = request
        .get("InvokedViaFunctionUrl")
        .and_then(Value::as_bool)
    {
        if action != "lambda:InvokeFunction" {
            return Err(invalid(
                "InvokedViaFunctionUrl is only supported for the lambda:InvokeFunction action",
            ));
        }
        conditions.insert(
            "Bool".to_owned(),
            json!({ "lambda:InvokedViaFunctionUrl": via_url.to_string() }),
        );
    }
    let _ = account;
    let mut statement = json!({
        "Sid": sid,
        "Effect": "Allow",
        "Principal": principal,
        "Action": action,
        "Resource": function_arn,
    });
    if !conditions.is_empty() {
        statement["Condition"] = Value::Object(conditions);
    }
    Ok(statement)
}

impl FunctionPolicies {
    /// `AddPermission` to the policy `key` names ([`qualified_name`]): answers the statement written.
    pub fn add(&self, key: &str, statement: Value) -> Result<Value, AwsError> {
        let mut all = self.statements.lock().unwrap_or_else(|p| p.into_inner());
        let statements = all.entry(key.to_owned()).or_default();
        let sid = statement["Sid"].as_str().unwrap_or_default().to_owned();
        if statements
            .iter()
            .any(|existing| existing["Sid"] == sid.as_str())
        {
            return Err(AwsError::new(
                409,
                "ResourceConflictException",
                format!(
                    "The statement id ({sid}) provided already exists. Please provide a new statement id, or remove the existing statement."
                ),
            ));
        }
        statements.push(statement.clone());
        let size = policy_document(statements).len();
        if size > MAX_POLICY_BYTES {
            statements.pop();
            return Err(AwsError::new(
                400,
                "PolicyLengthExceededException",
                format!(
                    "The final policy size ({size}) is bigger than the limit ({MAX_POLICY_BYTES})."
                ),
            ));
        }
        Ok(statement)
    }

    /// `RemovePermission`.
    pub fn remove(&self, key: &str, sid: &str) -> Result<(), AwsError> {
        let mut all = self.statements.lock().unwrap_or_else(|p| p.into_inner());
        let statements = all.get_mut(key).ok_or_else(not_found)?;
        let before = statements.len();
        statements.retain(|statement| statement["Sid"] != sid);
        if statements.len() == before {
            return Err(AwsError::new(
                404,
                "ResourceNotFoundException",
                format!("Statement {sid} is not found in resource policy."),
            ));
        }
        if statements.is_empty() {
            all.remove(key);
        }
        Ok(())
    }

    /// The policy document `key` names, if it has statements (`GetPolicy`).
    pub fn policy(&self, key: &str) -> Option<String> {
        let all = self.statements.lock().unwrap_or_else(|p| p.into_inner());
        all.get(key).map(|statements| policy_document(statements))
    }

    /// Forgets the policy `key` names (a deleted alias's).
    pub fn forget(&self, key: &str) {
        self.statements
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .remove(key);
    }

    /// Forgets a deleted function's policy and its aliases'.
    pub fn forget_function(&self, function: &str) {
        let aliases = format!("{function}:");
        self.statements
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .retain(|key, _| key != function && !key.starts_with(&aliases));
    }
}

fn not_found() -> AwsError {
    AwsError::new(
        404,
        "ResourceNotFoundException",
        "The resource you requested does not exist.",
    )
}

fn policy_document(statements: &[Value]) -> String {
    json!({ "Version": "2012-10-17", "Id": "default", "Statement": statements }).to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    const ARN: &str = "arn:aws:lambda:eu-west-1:123456789012:function:postoffice-kitchen-bridge";

    #[test]
    fn a_function_url_permission_becomes_a_condition_and_parses_as_a_policy() {
        let url = statement(
            ARN,
            &json!({"StatementId": "SnsDeliversThroughFunctionUrl", "Action": "lambda:InvokeFunctionUrl",
                    "Principal": "*", "FunctionUrlAuthType": "NONE"}),
            "123456789012",
        )
        .unwrap();
        assert_eq!(
            url["Condition"]["StringEquals"]["lambda:FunctionUrlAuthType"],
            "NONE"
        );
        assert!(url.get("FunctionUrlAuthType").is_none());
        let invoke = statement(
            ARN,
            &json!({"StatementId": "Invoke", "Action": "lambda:InvokeFunction", "Principal": "*",
                    "InvokedViaFunctionUrl": true}),
            "123456789012",
        )
        .unwrap();
        assert_eq!(
            invoke["Condition"]["Bool"]["lambda:InvokedViaFunctionUrl"],
            "true"
        );
        let policies = FunctionPolicies::default();
        policies.add("f", url).unwrap();
        policies.add("f", invoke).unwrap();
        postoffice_policy::Policy::parse(&policies.policy("f").unwrap()).unwrap();
    }

    #[test]
    fn principals_and_sources_are_written_as_aws_writes_them() {
        let statement = statement(
            ARN,
            &json!({"StatementId": "s", "Action": "lambda:InvokeFunction", "Principal": "sns.amazonaws.com",
                    "SourceArn": "arn:aws:sns:eu-west-1:123456789012:t", "SourceAccount": "123456789012"}),
            "123456789012",
        )
        .unwrap();
        assert_eq!(statement["Principal"]["Service"], "sns.amazonaws.com");
        assert_eq!(
            statement["Condition"]["ArnLike"]["AWS:SourceArn"],
            "arn:aws:sns:eu-west-1:123456789012:t"
        );
        assert_eq!(
            statement["Condition"]["StringEquals"]["AWS:SourceAccount"],
            "123456789012"
        );
        let account = super::statement(
            ARN,
            &json!({"StatementId": "a", "Action": "lambda:InvokeFunction", "Principal": "111122223333"}),
            "123456789012",
        )
        .unwrap();
        assert_eq!(
            account["Principal"]["AWS"],
            "arn:aws:iam::111122223333:root"
        );
    }

    #[test]
    fn duplicates_and_misplaced_fields_are_refused() {
        let policies = FunctionPolicies::default();
        let request = json!({"StatementId": "s", "Action": "lambda:InvokeFunctionUrl", "Principal": "*", "FunctionUrlAuthType": "NONE"});
        policies
            .add("f", statement(ARN, &request, "1").unwrap())
            .unwrap();
        assert_eq!(
            policies
                .add("f", statement(ARN, &request, "1").unwrap())
                .unwrap_err()
                .code,
            "ResourceConflictException"
        );
        let wrong = json!({"StatementId": "t", "Action": "lambda:InvokeFunction", "Principal": "*", "FunctionUrlAuthType": "NONE"});
        assert!(statement(ARN, &wrong, "1").is_err());
        assert_eq!(
            policies.remove("f", "nope").unwrap_err().code,
            "ResourceNotFoundException"
        );
        policies.remove("f", "s").unwrap();
        assert!(policies.policy("f").is_none());
    }

    #[test]
    fn an_alias_has_a_policy_of_its_own() {
        let policies = FunctionPolicies::default();
        let alias = qualified_name("f", Some("live"));
        assert_eq!(alias, "f:live");
        assert_eq!(qualified_name("f", Some("$LATEST")), "f");
        assert_eq!(qualified_name("f", None), "f");
        let request =
            json!({"StatementId": "s", "Action": "lambda:InvokeFunction", "Principal": "*"});
        let on_alias = statement(&format!("{ARN}:live"), &request, "1").unwrap();
        policies.add(&alias, on_alias).unwrap();
        assert!(
            policies.policy("f").is_none(),
            "the function's own policy is untouched"
        );
        assert!(policies.policy(&alias).unwrap().contains(":live\""));
        // The same statement id may be on the function's policy and on the alias's.
        policies
            .add("f", statement(ARN, &request, "1").unwrap())
            .unwrap();
        policies
            .add("g:live", statement(ARN, &request, "1").unwrap())
            .unwrap();
        policies.forget_function("f");
        assert!(policies.policy("f").is_none() && policies.policy(&alias).is_none());
        assert!(policies.policy("g:live").is_some());
    }
}
