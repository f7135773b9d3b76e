//! Evaluation rules of the IAM documentation, one test per rule, each citing its page.

use postoffice_policy::{
    AllowedBy, Context, Decision, Mismatch, Missing, Policies, Policy, PolicyError, PolicySource,
    Principal, Request, ResourcePolicyKind, evaluate,
};

const ACCOUNT: &str = "123456789012";
const OTHER_ACCOUNT: &str = "210987654321";
const QUEUE: &str = "arn:aws:sqs:eu-west-1:123456789012:postoffice-kitchen-dlq";
const ROLE: &str = "arn:aws:iam::123456789012:role/postoffice-kitchen-handler";

fn policy(json: &str) -> Policy {
    Policy::parse(json).unwrap_or_else(|error| panic!("{error}\n{json}"))
}

fn role_session() -> Principal {
    Principal::role_session(ROLE, "postoffice-kitchen-handler").unwrap()
}

fn request(principal: Principal, action: &str, resource: &str) -> Request {
    Request::new(principal, action, resource).unwrap()
}

fn identity(policy: &Policy) -> Policies<'_> {
    Policies::new().identity_policy(policy).unwrap()
}

fn sid_of(decision: &Decision) -> Option<String> {
    let statement = match decision {
        Decision::Allow {
            by: AllowedBy::Statement(statement),
        }
        | Decision::ExplicitDeny { by: statement } => statement,
        Decision::Allow {
            by: AllowedBy::Both { resource, .. },
        } => resource,
        _ => return None,
    };
    statement.sid.as_deref().map(str::to_owned)
}

mod carlos {
    //! "Example identity-based and resource-based policy evaluation"
    //! https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_evaluation-logic_policy-eval-basics.html

    use super::*;

    const USER_POLICY: &str = r#"{
        "Version": "2012-10-17",
        "Statement": [
            {"Sid": "AllowS3ListRead", "Effect": "Allow",
             "Action": ["s3:GetBucketLocation", "s3:GetAccountPublicAccessBlock", "s3:ListAccessPoints", "s3:ListAllMyBuckets"],
             "Resource": "arn:aws:s3:::*"},
            {"Sid": "AllowS3Self", "Effect": "Allow", "Action": "s3:*",
             "Resource": ["arn:aws:s3:::carlossalazar/*", "arn:aws:s3:::carlossalazar"]},
            {"Sid": "DenyS3Logs", "Effect": "Deny", "Action": "s3:*", "Resource": "arn:aws:s3:::*log*"}
        ]
    }"#;
    const BUCKET_POLICY: &str = r#"{
        "Version": "2012-10-17",
        "Statement": [{"Effect": "Allow", "Principal": {"AWS": "arn:aws:iam::123456789012:user/carlossalazar"},
                       "Action": "s3:*", "Resource": ["arn:aws:s3:::carlossalazar/*", "arn:aws:s3:::carlossalazar"]}]
    }"#;

    fn carlos() -> Principal {
        Principal::user("arn:aws:iam::123456789012:user/carlossalazar").unwrap()
    }

    fn put(object: &str) -> Request {
        request(carlos(), "s3:PutObject", object)
            .with_resource_account(ACCOUNT)
            .unwrap()
    }

    #[test]
    fn saving_to_the_logs_bucket_is_explicitly_denied() {
        let user = policy(USER_POLICY);
        let bucket = policy(BUCKET_POLICY);
        let policies = identity(&user)
            .resource_policy(ResourcePolicyKind::Resource, &bucket)
            .unwrap();
        let decision = evaluate(&put("arn:aws:s3:::carlossalazar-logs/file.txt"), &policies);
        assert!(matches!(decision, Decision::ExplicitDeny { .. }));
        assert_eq!(sid_of(&decision).as_deref(), Some("DenyS3Logs"));
    }

    #[test]
    fn saving_to_his_own_bucket_is_allowed_by_both_policies() {
        let user = policy(USER_POLICY);
        let bucket = policy(BUCKET_POLICY);
        let policies = identity(&user)
            .resource_policy(ResourcePolicyKind::Resource, &bucket)
            .unwrap();
        let decision = evaluate(&put("arn:aws:s3:::carlossalazar/file.txt"), &policies);
        let Decision::Allow {
            by: AllowedBy::Both { identity, .. },
        } = &decision
        else {
            panic!("{decision:?}");
        };
        assert_eq!(identity.sid.as_deref(), Some("AllowS3Self"));
    }

    #[test]
    fn either_policy_alone_allows_within_the_account() {
        // "If one of the policy types allows the request and the other doesn't, the request is
        // still allowed."
        let user = policy(USER_POLICY);
        let bucket = policy(BUCKET_POLICY);
        let object = put("arn:aws:s3:::carlossalazar/file.txt");
        assert!(evaluate(&object, &identity(&user)).is_allowed());
        let bucket_only = Policies::new()
            .resource_policy(ResourcePolicyKind::Resource, &bucket)
            .unwrap();
        assert!(evaluate(&object, &bucket_only).is_allowed());
        assert!(!evaluate(&object, &Policies::new()).is_allowed());
    }
}

mod explicit_and_implicit_deny {
    //! "The difference between explicit and implicit denies"
    //! https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_evaluation-logic.html

    use super::*;

    const GET_LIST_DENY_REPORTS: &str = r#"{
        "Version": "2012-10-17",
        "Statement": [
            {"Sid": "AllowGetList", "Effect": "Allow", "Action": ["iam:Get*", "iam:List*"], "Resource": "*"},
            {"Sid": "DenyReports", "Effect": "Deny", "Action": "iam:*Report", "Resource": "*"}
        ]
    }"#;

    fn admin() -> Principal {
        Principal::user("arn:aws:iam::123456789012:user/auditor").unwrap()
    }

    #[test]
    fn allowed_implicitly_denied_and_explicitly_denied_actions() {
        let policy = policy(GET_LIST_DENY_REPORTS);
        let policies = identity(&policy);
        let user = "arn:aws:iam::123456789012:user/someone";
        assert!(evaluate(&request(admin(), "iam:GetUser", user), &policies).is_allowed());
        assert!(matches!(
            evaluate(&request(admin(), "iam:CreatePolicy", user), &policies),
            Decision::ImplicitDeny {
                missing: Missing::AnyAllow,
                ..
            }
        ));
        assert!(matches!(
            evaluate(
                &request(admin(), "iam:GetOrganizationsAccessReport", "*"),
                &policies
            ),
            Decision::ExplicitDeny { .. }
        ));
    }

    #[test]
    fn an_explicit_deny_beats_an_allow_in_another_policy() {
        // "If someone adds another policy to this principal to grant them access to IAM reports,
        // such as iam:GenerateCredentialReport, report-related requests are still denied".
        let get_list = policy(GET_LIST_DENY_REPORTS);
        let reports = policy(
            r#"{"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "iam:GenerateCredentialReport", "Resource": "*"}]}"#,
        );
        let policies = identity(&reports).identity_policy(&get_list).unwrap();
        let decision = evaluate(
            &request(admin(), "iam:GenerateCredentialReport", "*"),
            &policies,
        );
        assert_eq!(sid_of(&decision).as_deref(), Some("DenyReports"));
        assert!(matches!(decision, Decision::ExplicitDeny { .. }));
    }

    #[test]
    fn action_names_are_case_insensitive() {
        // "iam:ListAccessKeys is the same as IAM:listaccesskeys"
        // https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_elements_action.html
        let policy = policy(
            r#"{"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "IAM:listaccesskeys", "Resource": "*"}]}"#,
        );
        assert!(
            evaluate(
                &request(admin(), "iam:ListAccessKeys", "*"),
                &identity(&policy)
            )
            .is_allowed()
        );
        assert!(
            !evaluate(
                &request(admin(), "iam:ListAccessKey", "*"),
                &identity(&policy)
            )
            .is_allowed()
        );
    }
}

mod resource_policy_principals {
    //! "Resource-based policies and implicit denies in other policy types (same account)" and
    //! "AWS account principals" ("This delegates authority to the account").
    //! https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_evaluation-logic.html
    //! https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_elements_principal.html

    use super::*;

    fn queue_policy_naming(principal: &str) -> Policy {
        policy(&format!(
            r#"{{"Version": "2012-10-17", "Statement": [{{"Sid": "Named", "Effect": "Allow",
                "Principal": {{"AWS": "{principal}"}}, "Action": "sqs:SendMessage", "Resource": "{QUEUE}"}}]}}"#
        ))
    }

    fn send() -> Request {
        request(role_session(), "sqs:SendMessage", QUEUE)
    }

    #[test]
    fn naming_the_role_or_the_session_allows_the_session_alone() {
        for named in [
            ROLE,
            "arn:aws:sts::123456789012:assumed-role/postoffice-kitchen-handler/postoffice-kitchen-handler",
        ] {
            let queue = queue_policy_naming(named);
            let policies = Policies::new()
                .resource_policy(ResourcePolicyKind::Resource, &queue)
                .unwrap();
            assert!(evaluate(&send(), &policies).is_allowed(), "{named}");
        }
        let other_session = queue_policy_naming(
            "arn:aws:sts::123456789012:assumed-role/postoffice-kitchen-handler/someone-else",
        );
        let policies = Policies::new()
            .resource_policy(ResourcePolicyKind::Resource, &other_session)
            .unwrap();
        assert!(!evaluate(&send(), &policies).is_allowed());
    }

    #[test]
    fn naming_the_account_delegates_to_identity_policies() {
        for named in [ACCOUNT, "arn:aws:iam::123456789012:root"] {
            let queue = queue_policy_naming(named);
            let alone = Policies::new()
                .resource_policy(ResourcePolicyKind::Resource, &queue)
                .unwrap();
            let decision = evaluate(&send(), &alone);
            assert!(
                matches!(
                    decision,
                    Decision::ImplicitDeny {
                        missing: Missing::IdentityPolicyAllow { .. },
                        ..
                    }
                ),
                "{decision:?}"
            );

            let role = policy(&format!(
                r#"{{"Version": "2012-10-17", "Statement": [{{"Sid": "Send", "Effect": "Allow", "Action": "sqs:SendMessage", "Resource": "{QUEUE}"}}]}}"#
            ));
            let both = identity(&role)
                .resource_policy(ResourcePolicyKind::Resource, &queue)
                .unwrap();
            assert!(matches!(
                evaluate(&send(), &both),
                Decision::Allow {
                    by: AllowedBy::Both { .. }
                }
            ));
        }
    }

    #[test]
    fn a_wildcard_principal_allows_everyone_including_anonymous_callers() {
        // "For anonymous users, the following elements are equivalent: "Principal": "*" and
        // "Principal" : { "AWS" : "*" }"
        for principal in [r#""*""#, r#"{"AWS": "*"}"#] {
            let function = policy(&format!(
                r#"{{"Version": "2012-10-17", "Statement": [{{"Effect": "Allow", "Principal": {principal},
                    "Action": "lambda:InvokeFunctionUrl", "Resource": "arn:aws:lambda:eu-west-1:123456789012:function:f",
                    "Condition": {{"StringEquals": {{"lambda:FunctionUrlAuthType": "NONE"}}}}}}]}}"#
            ));
            let policies = Policies::new()
                .resource_policy(ResourcePolicyKind::Resource, &function)
                .unwrap();
            let call = request(
                Principal::anonymous(),
                "lambda:InvokeFunctionUrl",
                "arn:aws:lambda:eu-west-1:123456789012:function:f",
            );
            assert!(!evaluate(&call, &policies).is_allowed());
            let call = call.with_context(Context::new().with("lambda:FunctionUrlAuthType", "NONE"));
            assert!(evaluate(&call, &policies).is_allowed());
        }
    }

    #[test]
    fn a_service_principal_is_allowed_only_by_a_resource_policy() {
        // Services have no identity policies: a queue policy naming sns.amazonaws.com with the
        // SQS example of the ARN operators section, action written in upper case.
        // https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_elements_condition_operators.html#Conditions_ARN
        let queue = policy(&format!(
            r#"{{"Version": "2012-10-17", "Statement": {{"Effect": "Allow", "Principal": {{"Service": "sns.amazonaws.com"}},
                "Action": "SQS:SendMessage", "Resource": "{QUEUE}",
                "Condition": {{"ArnEquals": {{"aws:SourceArn": "arn:aws:sns:eu-west-1:123456789012:postoffice-COOKING_REQUESTED"}}}}}}}}"#
        ));
        let everything = policy(
            r#"{"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "*", "Resource": "*"}]}"#,
        );
        let sns = Principal::service("sns.amazonaws.com").unwrap();
        let from = |topic: &str| {
            request(sns.clone(), "sqs:SendMessage", QUEUE)
                .with_context(Context::new().with("aws:SourceArn", topic))
        };
        let identity_only = identity(&everything);
        assert!(matches!(
            evaluate(
                &from("arn:aws:sns:eu-west-1:123456789012:postoffice-COOKING_REQUESTED"),
                &identity_only
            ),
            Decision::ImplicitDeny {
                missing: Missing::ResourcePolicyAllow {
                    identity_allowed_by: None
                },
                ..
            }
        ));
        let queue_policy = Policies::new()
            .resource_policy(ResourcePolicyKind::Resource, &queue)
            .unwrap();
        assert!(
            evaluate(
                &from("arn:aws:sns:eu-west-1:123456789012:postoffice-COOKING_REQUESTED"),
                &queue_policy
            )
            .is_allowed()
        );
        let other_topic = evaluate(
            &from("arn:aws:sns:eu-west-1:123456789012:postoffice-FIRMWARE_UPDATE_OFFERED"),
            &queue_policy,
        );
        let Decision::ImplicitDeny {
            nearest: Some(near),
            ..
        } = &other_topic
        else {
            panic!("{other_topic:?}");
        };
        assert_eq!(
            near.mismatch,
            Mismatch::Condition {
                operator: "ArnEquals".into(),
                key: "aws:SourceArn".into()
            }
        );
        // The same statement does not admit a role of the account.
        assert!(
            !evaluate(
                &request(role_session(), "sqs:SendMessage", QUEUE),
                &queue_policy
            )
            .is_allowed()
        );
    }
}

mod cross_account {
    //! "Cross-account policy evaluation logic": the identity policy in the requesting account and
    //! the resource policy in the trusting account must both allow.
    //! https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_evaluation-logic-cross-account.html

    use super::*;

    fn stranger() -> Principal {
        Principal::role_session("arn:aws:iam::210987654321:role/stranger", "s").unwrap()
    }

    fn sends_anywhere() -> Policy {
        policy(
            r#"{"Version": "2012-10-17", "Statement": [{"Sid": "SendAnywhere", "Effect": "Allow", "Action": "sqs:SendMessage", "Resource": "*"}]}"#,
        )
    }

    fn admits(principal: &str) -> Policy {
        policy(&format!(
            r#"{{"Version": "2012-10-17", "Statement": [{{"Sid": "Admit", "Effect": "Allow", "Principal": {{"AWS": "{principal}"}},
                "Action": "sqs:SendMessage", "Resource": "{QUEUE}"}}]}}"#
        ))
    }

    #[test]
    fn the_identity_policy_alone_is_not_enough() {
        let role = sends_anywhere();
        let decision = evaluate(
            &request(stranger(), "sqs:SendMessage", QUEUE),
            &identity(&role),
        );
        assert!(matches!(
            decision,
            Decision::ImplicitDeny {
                missing: Missing::ResourcePolicyAllow {
                    identity_allowed_by: Some(_)
                },
                ..
            }
        ));
    }

    #[test]
    fn the_resource_policy_alone_is_not_enough_even_naming_the_role() {
        for named in ["arn:aws:iam::210987654321:role/stranger", OTHER_ACCOUNT] {
            let queue = admits(named);
            let decision = evaluate(
                &request(stranger(), "sqs:SendMessage", QUEUE),
                &Policies::new()
                    .resource_policy(ResourcePolicyKind::Resource, &queue)
                    .unwrap(),
            );
            assert!(
                matches!(
                    decision,
                    Decision::ImplicitDeny {
                        missing: Missing::IdentityPolicyAllow { .. },
                        ..
                    }
                ),
                "{named}: {decision:?}"
            );
        }
    }

    #[test]
    fn both_sides_allow() {
        let role = sends_anywhere();
        let queue = admits(OTHER_ACCOUNT);
        let policies = identity(&role)
            .resource_policy(ResourcePolicyKind::Resource, &queue)
            .unwrap();
        assert!(evaluate(&request(stranger(), "sqs:SendMessage", QUEUE), &policies).is_allowed());
        // Naming another account admits nobody here.
        let elsewhere = admits("999999999999");
        let policies = identity(&role)
            .resource_policy(ResourcePolicyKind::Resource, &elsewhere)
            .unwrap();
        assert!(!evaluate(&request(stranger(), "sqs:SendMessage", QUEUE), &policies).is_allowed());
    }

    #[test]
    fn a_resource_without_a_known_account_is_treated_as_cross_account() {
        let writer = policy(
            r#"{"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "s3:PutObject", "Resource": "arn:aws:s3:::bucket/*"}]}"#,
        );
        let put = request(role_session(), "s3:PutObject", "arn:aws:s3:::bucket/key");
        assert!(!evaluate(&put, &identity(&writer)).is_allowed());
        let put = put.with_resource_account(ACCOUNT).unwrap();
        assert!(evaluate(&put, &identity(&writer)).is_allowed());
    }
}

mod root_user {
    //! "By default, all requests are implicitly denied with the exception of the AWS account root
    //! user, which has full access." KMS: "No AWS principal, including the account root user ...
    //! has any permissions to a KMS key unless they are explicitly allowed ... in a key policy".
    //! https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_evaluation-logic.html
    //! https://docs.aws.amazon.com/kms/latest/developerguide/key-policies.html

    use super::*;

    const KEY: &str = "arn:aws:kms:eu-west-1:123456789012:key/0c6a5d0e-6f1a-4b8e-9c4f-2d7e3b1a9f00";

    #[test]
    fn the_root_user_has_full_access_in_its_account_but_not_to_a_key_that_does_not_name_it() {
        let root = Principal::account_root(ACCOUNT).unwrap();
        let decision = evaluate(
            &request(root.clone(), "sqs:DeleteQueue", QUEUE),
            &Policies::new(),
        );
        assert_eq!(
            decision,
            Decision::Allow {
                by: AllowedBy::RootUser
            }
        );
        let service_only = policy(
            r#"{"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Principal": {"Service": "sns.amazonaws.com"}, "Action": "kms:Decrypt", "Resource": "*"}]}"#,
        );
        let key = Policies::new()
            .resource_policy(ResourcePolicyKind::KeyPolicy, &service_only)
            .unwrap();
        assert!(!evaluate(&request(root.clone(), "kms:Decrypt", KEY), &key).is_allowed());
        let default_key_policy = policy(
            r#"{"Version": "2012-10-17", "Statement": [{"Sid": "Enable IAM policies", "Effect": "Allow", "Principal": {"AWS": "arn:aws:iam::123456789012:root"}, "Action": "kms:*", "Resource": "*"}]}"#,
        );
        let key = Policies::new()
            .resource_policy(ResourcePolicyKind::KeyPolicy, &default_key_policy)
            .unwrap();
        assert!(evaluate(&request(root, "kms:ScheduleKeyDeletion", KEY), &key).is_allowed());
    }

    #[test]
    fn a_deny_in_a_resource_policy_applies_to_the_root_user() {
        let bucket = policy(
            r#"{"Version": "2012-10-17", "Statement": [{"Effect": "Deny", "Principal": "*", "Action": "s3:*", "Resource": "arn:aws:s3:::bucket/*", "Condition": {"Bool": {"aws:SecureTransport": "false"}}}]}"#,
        );
        let policies = Policies::new()
            .resource_policy(ResourcePolicyKind::Resource, &bucket)
            .unwrap();
        let get = request(
            Principal::account_root(ACCOUNT).unwrap(),
            "s3:GetObject",
            "arn:aws:s3:::bucket/key",
        )
        .with_resource_account(ACCOUNT)
        .unwrap();
        assert!(
            evaluate(
                &get.clone()
                    .with_context(Context::new().with("aws:SecureTransport", true)),
                &policies
            )
            .is_allowed()
        );
        assert!(matches!(
            evaluate(
                &get.with_context(Context::new().with("aws:SecureTransport", false)),
                &policies
            ),
            Decision::ExplicitDeny { .. }
        ));
    }
}

mod key_policies {
    //! "Allows access to the AWS account and enables IAM policies": "When the principal in a key
    //! policy statement is the account principal, the policy statement doesn't give any IAM users
    //! or roles permission to use the KMS key. Instead, it allows the account to use IAM policies
    //! to delegate the permissions". "Without this permission, IAM policies that allow access to
    //! the key are ineffective, although IAM policies that deny access to the key are still
    //! effective."
    //! https://docs.aws.amazon.com/kms/latest/developerguide/key-policy-default.html

    use super::*;

    const KEY: &str = "arn:aws:kms:eu-west-1:123456789012:key/0c6a5d0e-6f1a-4b8e-9c4f-2d7e3b1a9f00";
    const ROOT_STATEMENT: &str = r#"{"Sid": "Enable IAM policies", "Effect": "Allow", "Principal": {"AWS": "arn:aws:iam::123456789012:root"}, "Action": "kms:*", "Resource": "*"}"#;

    fn role_policy() -> Policy {
        policy(&format!(
            r#"{{"Version": "2012-10-17", "Statement": [{{"Sid": "EncryptForEncryptedTopics", "Effect": "Allow",
                "Action": ["kms:GenerateDataKey", "kms:Decrypt"], "Resource": "{KEY}",
                "Condition": {{"StringEquals": {{"kms:ViaService": "sns.eu-west-1.amazonaws.com"}}}}}}]}}"#
        ))
    }

    fn generate(via: &str) -> Request {
        request(role_session(), "kms:GenerateDataKey", KEY)
            .with_context(Context::new().with("kms:ViaService", via))
    }

    #[test]
    fn the_account_statement_makes_the_role_policy_count() {
        let key = policy(&format!(
            r#"{{"Version": "2012-10-17", "Statement": [{ROOT_STATEMENT}]}}"#
        ));
        let role = role_policy();
        let policies = identity(&role)
            .resource_policy(ResourcePolicyKind::KeyPolicy, &key)
            .unwrap();
        let decision = evaluate(&generate("sns.eu-west-1.amazonaws.com"), &policies);
        let Decision::Allow {
            by: AllowedBy::Both { identity, resource },
        } = &decision
        else {
            panic!("{decision:?}");
        };
        assert_eq!(identity.sid.as_deref(), Some("EncryptForEncryptedTopics"));
        assert_eq!(resource.sid.as_deref(), Some("Enable IAM policies"));
        assert!(!evaluate(&generate("s3.eu-west-1.amazonaws.com"), &policies).is_allowed());
        // The key policy alone gives the role nothing.
        let key_only = Policies::new()
            .resource_policy(ResourcePolicyKind::KeyPolicy, &key)
            .unwrap();
        assert!(!evaluate(&generate("sns.eu-west-1.amazonaws.com"), &key_only).is_allowed());
    }

    #[test]
    fn without_the_account_statement_an_allowing_role_policy_has_no_effect() {
        let key = policy(
            r#"{"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Principal": {"Service": "sns.amazonaws.com"}, "Action": "kms:*", "Resource": "*"}]}"#,
        );
        let role = role_policy();
        let policies = identity(&role)
            .resource_policy(ResourcePolicyKind::KeyPolicy, &key)
            .unwrap();
        let request = generate("sns.eu-west-1.amazonaws.com");
        let decision = evaluate(&request, &policies);
        let Decision::ImplicitDeny {
            missing:
                Missing::ResourcePolicyAllow {
                    identity_allowed_by: Some(by),
                },
            ..
        } = &decision
        else {
            panic!("{decision:?}");
        };
        assert_eq!(by.sid.as_deref(), Some("EncryptForEncryptedTopics"));
        assert!(decision.explain(&request).contains(
            "role policy #1 statement 'EncryptForEncryptedTopics' allows kms:GenerateDataKey"
        ));
    }

    #[test]
    fn a_key_policy_naming_the_role_allows_without_identity_policies() {
        let key = policy(&format!(
            r#"{{"Version": "2012-10-17", "Statement": [{{"Effect": "Allow", "Principal": {{"AWS": "{ROLE}"}}, "Action": ["kms:Decrypt", "kms:GenerateDataKey*"], "Resource": "*"}}]}}"#
        ));
        let policies = Policies::new()
            .resource_policy(ResourcePolicyKind::KeyPolicy, &key)
            .unwrap();
        assert!(evaluate(&generate("sns.eu-west-1.amazonaws.com"), &policies).is_allowed());
    }

    #[test]
    fn an_identity_policy_can_deny_without_the_key_policy_enabling_it() {
        let key = policy(&format!(
            r#"{{"Version": "2012-10-17", "Statement": [{{"Effect": "Allow", "Principal": {{"AWS": "{ROLE}"}}, "Action": "kms:*", "Resource": "*"}}]}}"#
        ));
        let deny = policy(
            r#"{"Version": "2012-10-17", "Statement": [{"Sid": "NoKeys", "Effect": "Deny", "Action": "kms:*", "Resource": "*"}]}"#,
        );
        let policies = identity(&deny)
            .resource_policy(ResourcePolicyKind::KeyPolicy, &key)
            .unwrap();
        let decision = evaluate(&generate("sns.eu-west-1.amazonaws.com"), &policies);
        assert_eq!(sid_of(&decision).as_deref(), Some("NoKeys"));
    }
}

mod trust_policies {
    //! Role trust policies "must explicitly allow access for principals"; a trust policy naming
    //! the account lets the account's administrators grant sts:AssumeRole.
    //! https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_evaluation-logic.html

    use super::*;

    const TARGET: &str = "arn:aws:iam::123456789012:role/postoffice-rule-errors";

    fn assume(principal: Principal, context: Context) -> Request {
        request(principal, "sts:AssumeRole", TARGET).with_context(context)
    }

    #[test]
    fn a_service_trust_policy_with_source_account_admits_only_that_account() {
        let trust = policy(
            r#"{"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Principal": {"Service": "iot.amazonaws.com"},
                "Action": "sts:AssumeRole", "Condition": {"StringEquals": {"aws:SourceAccount": "123456789012"}}}]}"#,
        );
        let policies = Policies::new()
            .resource_policy(ResourcePolicyKind::TrustPolicy, &trust)
            .unwrap();
        let iot = Principal::service("iot.amazonaws.com").unwrap();
        assert!(
            evaluate(
                &assume(
                    iot.clone(),
                    Context::new().with("aws:SourceAccount", ACCOUNT)
                ),
                &policies
            )
            .is_allowed()
        );
        assert!(
            !evaluate(
                &assume(
                    iot.clone(),
                    Context::new().with("aws:SourceAccount", OTHER_ACCOUNT)
                ),
                &policies
            )
            .is_allowed()
        );
        assert!(!evaluate(&assume(iot, Context::new()), &policies).is_allowed());
        assert!(
            !evaluate(
                &assume(
                    Principal::service("lambda.amazonaws.com").unwrap(),
                    Context::new().with("aws:SourceAccount", ACCOUNT)
                ),
                &policies
            )
            .is_allowed()
        );
    }

    #[test]
    fn an_identity_policy_cannot_replace_the_trust_policy() {
        let trust = policy(
            r#"{"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Principal": {"Service": "iot.amazonaws.com"}, "Action": "sts:AssumeRole"}]}"#,
        );
        let assume_anything = policy(
            r#"{"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "sts:AssumeRole", "Resource": "*"}]}"#,
        );
        let policies = identity(&assume_anything)
            .resource_policy(ResourcePolicyKind::TrustPolicy, &trust)
            .unwrap();
        assert!(!evaluate(&assume(role_session(), Context::new()), &policies).is_allowed());
    }

    #[test]
    fn a_trust_policy_naming_the_account_needs_the_identity_policy_naming_the_role_does_not() {
        let account = policy(
            r#"{"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Principal": {"AWS": "123456789012"}, "Action": "sts:AssumeRole"}]}"#,
        );
        let assume_target = policy(&format!(
            r#"{{"Version": "2012-10-17", "Statement": [{{"Effect": "Allow", "Action": "sts:AssumeRole", "Resource": "{TARGET}"}}]}}"#
        ));
        let trust_only = Policies::new()
            .resource_policy(ResourcePolicyKind::TrustPolicy, &account)
            .unwrap();
        assert!(!evaluate(&assume(role_session(), Context::new()), &trust_only).is_allowed());
        let both = identity(&assume_target)
            .resource_policy(ResourcePolicyKind::TrustPolicy, &account)
            .unwrap();
        assert!(evaluate(&assume(role_session(), Context::new()), &both).is_allowed());

        let named = policy(&format!(
            r#"{{"Version": "2012-10-17", "Statement": [{{"Effect": "Allow", "Principal": {{"AWS": "{ROLE}"}}, "Action": "sts:AssumeRole"}}]}}"#
        ));
        let named_only = Policies::new()
            .resource_policy(ResourcePolicyKind::TrustPolicy, &named)
            .unwrap();
        assert!(evaluate(&assume(role_session(), Context::new()), &named_only).is_allowed());
    }
}

mod not_elements {
    //! NotAction, NotResource, NotPrincipal
    //! https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_elements_notaction.html
    //! https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_elements_notresource.html
    //! https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_elements_notprincipal.html

    use super::*;

    #[test]
    fn not_action_allows_every_other_action() {
        let everything_but_iam = policy(
            r#"{"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "NotAction": "iam:*", "Resource": "*"}]}"#,
        );
        let policies = identity(&everything_but_iam);
        assert!(
            evaluate(
                &request(role_session(), "sqs:SendMessage", QUEUE),
                &policies
            )
            .is_allowed()
        );
        assert!(
            !evaluate(
                &request(
                    role_session(),
                    "iam:CreateUser",
                    "arn:aws:iam::123456789012:user/x"
                ),
                &policies
            )
            .is_allowed()
        );
    }

    #[test]
    fn not_resource_with_deny_denies_everything_but_the_listed_resources() {
        // The HRPayroll example.
        let deny_elsewhere = policy(
            r#"{"Version": "2012-10-17", "Statement": {"Effect": "Deny", "Action": "s3:*",
                "NotResource": ["arn:aws:s3:::HRBucket/Payroll", "arn:aws:s3:::HRBucket/Payroll/*"]}}"#,
        );
        let allow_all = policy(
            r#"{"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "*", "Resource": "*"}]}"#,
        );
        let policies = identity(&allow_all)
            .identity_policy(&deny_elsewhere)
            .unwrap();
        let get = |object: &str| {
            request(role_session(), "s3:GetObject", object)
                .with_resource_account(ACCOUNT)
                .unwrap()
        };
        assert!(evaluate(&get("arn:aws:s3:::HRBucket/Payroll/2026.csv"), &policies).is_allowed());
        assert!(matches!(
            evaluate(&get("arn:aws:s3:::HRBucket/Other/x"), &policies),
            Decision::ExplicitDeny { .. }
        ));
        // Other services are not limited by it.
        assert!(
            evaluate(
                &request(role_session(), "sqs:SendMessage", QUEUE),
                &policies
            )
            .is_allowed()
        );
    }

    #[test]
    fn not_principal_with_deny_spares_only_principals_listed_with_their_account_and_role() {
        let bucket = |excepted: &str| {
            policy(&format!(
                r#"{{"Version": "2012-10-17", "Statement": [
                    {{"Effect": "Deny", "NotPrincipal": {{"AWS": [{excepted}]}}, "Action": "s3:*",
                      "Resource": ["arn:aws:s3:::BUCKETNAME", "arn:aws:s3:::BUCKETNAME/*"]}},
                    {{"Effect": "Allow", "Principal": "*", "Action": "s3:GetObject", "Resource": "arn:aws:s3:::BUCKETNAME/*"}}]}}"#
            ))
        };
        let get = |principal: Principal| {
            request(principal, "s3:GetObject", "arn:aws:s3:::BUCKETNAME/key")
                .with_resource_account("444455556666")
                .unwrap()
        };
        let bob = Principal::user("arn:aws:iam::444455556666:user/Bob").unwrap();
        let alice = Principal::user("arn:aws:iam::444455556666:user/Alice").unwrap();
        let documented =
            bucket(r#""arn:aws:iam::444455556666:user/Bob", "arn:aws:iam::444455556666:root""#);
        let policies = Policies::new()
            .resource_policy(ResourcePolicyKind::Resource, &documented)
            .unwrap();
        assert!(evaluate(&get(bob.clone()), &policies).is_allowed());
        assert!(matches!(
            evaluate(&get(alice), &policies),
            Decision::ExplicitDeny { .. }
        ));
        // "If the NotPrincipal element contained only Bob's ARN, the effect of the policy might
        // be to explicitly deny access to the AWS account that contains the user Bob."
        let without_account = bucket(r#""arn:aws:iam::444455556666:user/Bob""#);
        let policies = Policies::new()
            .resource_policy(ResourcePolicyKind::Resource, &without_account)
            .unwrap();
        assert!(matches!(
            evaluate(&get(bob), &policies),
            Decision::ExplicitDeny { .. }
        ));

        let audit = Principal::role_session(
            "arn:aws:iam::444455556666:role/cross-account-read-only-role",
            "cross-account-audit-app",
        )
        .unwrap();
        let session_role_account = bucket(
            r#""arn:aws:sts::444455556666:assumed-role/cross-account-read-only-role/cross-account-audit-app",
               "arn:aws:iam::444455556666:role/cross-account-read-only-role",
               "arn:aws:iam::444455556666:root""#,
        );
        let policies = Policies::new()
            .resource_policy(ResourcePolicyKind::Resource, &session_role_account)
            .unwrap();
        assert!(evaluate(&get(audit), &policies).is_allowed());
    }
}

mod conditions_in_statements {
    //! Condition semantics seen through whole statements.
    //! https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_elements_condition_operators.html
    //! https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_multi-value-conditions.html

    use super::*;

    #[test]
    fn secure_transport_false_is_denied_true_is_not() {
        let queue = policy(&format!(
            r#"{{"Version": "2012-10-17", "Statement": [
                {{"Sid": "Admit", "Effect": "Allow", "Principal": {{"AWS": "{ROLE}"}}, "Action": "sqs:SendMessage", "Resource": "{QUEUE}"}},
                {{"Sid": "DenyInsecureTransport", "Effect": "Deny", "Principal": "*", "Action": "sqs:*", "Resource": "{QUEUE}",
                  "Condition": {{"Bool": {{"aws:SecureTransport": "false"}}}}}}]}}"#
        ));
        let policies = Policies::new()
            .resource_policy(ResourcePolicyKind::Resource, &queue)
            .unwrap();
        let send = |secure: bool| {
            request(role_session(), "sqs:SendMessage", QUEUE)
                .with_context(Context::new().with("aws:SecureTransport", secure))
        };
        assert!(evaluate(&send(true), &policies).is_allowed());
        let insecure = send(false);
        let decision = evaluate(&insecure, &policies);
        assert_eq!(sid_of(&decision).as_deref(), Some("DenyInsecureTransport"));
        assert_eq!(
            decision.explain(&insecure),
            "denied: role session arn:aws:sts::123456789012:assumed-role/postoffice-kitchen-handler/postoffice-kitchen-handler \
             calling sqs:SendMessage on arn:aws:sqs:eu-west-1:123456789012:postoffice-kitchen-dlq is explicitly denied by \
             the resource policy statement 'DenyInsecureTransport'"
        );
    }

    #[test]
    fn for_all_values_with_allow_admits_a_request_without_the_key() {
        // "Do not use ForAllValues with an Allow effect because it can be overly permissive":
        // it is true when the request has no such key.
        let tagging = policy(
            r#"{"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "sqs:TagQueue", "Resource": "*",
                "Condition": {"ForAllValues:StringEquals": {"aws:TagKeys": ["team", "cost-center"]}}}]}"#,
        );
        let policies = identity(&tagging);
        let tag = |keys: &[&str]| {
            request(role_session(), "sqs:TagQueue", QUEUE)
                .with_context(Context::new().with_values("aws:TagKeys", keys.iter().copied()))
        };
        assert!(evaluate(&tag(&["team"]), &policies).is_allowed());
        assert!(!evaluate(&tag(&["team", "owner"]), &policies).is_allowed());
        assert!(evaluate(&tag(&[]), &policies).is_allowed());
        assert!(evaluate(&request(role_session(), "sqs:TagQueue", QUEUE), &policies).is_allowed());
    }

    #[test]
    fn if_exists_lets_a_statement_cover_resources_without_the_key() {
        let instances = policy(
            r#"{"Version": "2012-10-17", "Statement": {"Sid": "RunInstance", "Effect": "Allow", "Action": "ec2:RunInstances", "Resource": "*",
                "Condition": {"StringLikeIfExists": {"ec2:InstanceType": ["t1.*", "t2.*", "m3.*"]}}}}"#,
        );
        let run = |resource: &str, context: Context| {
            request(role_session(), "ec2:RunInstances", resource)
                .with_resource_account(ACCOUNT)
                .unwrap()
                .with_context(context)
        };
        let policies = identity(&instances);
        let image = "arn:aws:ec2:eu-west-1::image/ami-1";
        let instance = "arn:aws:ec2:eu-west-1:123456789012:instance/*";
        assert!(evaluate(&run(image, Context::new()), &policies).is_allowed());
        assert!(
            evaluate(
                &run(
                    instance,
                    Context::new().with("ec2:InstanceType", "t2.micro")
                ),
                &policies
            )
            .is_allowed()
        );
        assert!(
            !evaluate(
                &run(
                    instance,
                    Context::new().with("ec2:InstanceType", "c5.large")
                ),
                &policies
            )
            .is_allowed()
        );
    }

    #[test]
    fn a_resource_with_a_missing_variable_matches_nothing_and_a_default_fills_in() {
        // "the resource that includes a policy variable with no value will not match any resource"
        // and "Specifying default values".
        // https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_variables.html
        let team = policy(
            r#"{"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "s3:GetObject",
                "Resource": "arn:aws:s3:::bucket/${aws:PrincipalTag/team}/*"}]}"#,
        );
        let get = |object: &str, context: Context| {
            request(role_session(), "s3:GetObject", object)
                .with_resource_account(ACCOUNT)
                .unwrap()
                .with_context(context)
        };
        let policies = identity(&team);
        assert!(
            evaluate(
                &get(
                    "arn:aws:s3:::bucket/yellow/x",
                    Context::new().with("aws:PrincipalTag/team", "yellow")
                ),
                &policies
            )
            .is_allowed()
        );
        assert!(!evaluate(&get("arn:aws:s3:::bucket//x", Context::new()), &policies).is_allowed());
        assert!(
            !evaluate(
                &get(
                    "arn:aws:s3:::bucket/${aws:PrincipalTag/team}/x",
                    Context::new()
                ),
                &policies
            )
            .is_allowed()
        );

        let with_default = policy(
            r#"{"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "s3:GetObject",
                "Resource": "arn:aws:s3:::DOC-EXAMPLE-BUCKET-${aws:PrincipalTag/team, 'company-wide'}/*"}]}"#,
        );
        let policies = identity(&with_default);
        assert!(
            evaluate(
                &get(
                    "arn:aws:s3:::DOC-EXAMPLE-BUCKET-company-wide/x",
                    Context::new()
                ),
                &policies
            )
            .is_allowed()
        );
        assert!(
            !evaluate(
                &get(
                    "arn:aws:s3:::DOC-EXAMPLE-BUCKET-company-wide/x",
                    Context::new().with("aws:PrincipalTag/team", "yellow")
                ),
                &policies
            )
            .is_allowed()
        );
    }

    #[test]
    fn the_user_name_variable_scopes_a_group_policy_to_each_user() {
        // "IAM replaces the variable ${aws:username} with the friendly name of the actual
        // current user".
        let home = policy(
            r#"{"Version": "2012-10-17", "Statement": [{"Action": ["s3:GetObject", "s3:PutObject"], "Effect": "Allow",
                "Resource": ["arn:aws:s3:::mybucket/${aws:username}/*"]}]}"#,
        );
        let david = Principal::user("arn:aws:iam::123456789012:user/division/David").unwrap();
        let get = |object: &str| {
            request(david.clone(), "s3:GetObject", object)
                .with_resource_account(ACCOUNT)
                .unwrap()
        };
        assert!(evaluate(&get("arn:aws:s3:::mybucket/David/notes"), &identity(&home)).is_allowed());
        assert!(
            !evaluate(&get("arn:aws:s3:::mybucket/Adele/notes"), &identity(&home)).is_allowed()
        );
    }
}

mod explanations {
    use super::*;

    #[test]
    fn an_implicit_deny_names_the_nearest_statement_and_why_it_missed() {
        let handler = policy(
            r#"{"Version": "2012-10-17", "Statement": [
                {"Sid": "WriteItsLogs", "Effect": "Allow", "Action": ["logs:CreateLogStream", "logs:PutLogEvents"],
                 "Resource": "arn:aws:logs:eu-west-1:123456789012:log-group:/aws/lambda/postoffice-kitchen-handler:*"},
                {"Sid": "PublishItsEvents", "Effect": "Allow", "Action": "sns:Publish",
                 "Resource": ["arn:aws:sns:eu-west-1:123456789012:postoffice-COOKING_REPLIED", "arn:aws:sns:eu-west-1:123456789012:postoffice-COOKING_STARTED"]}]}"#,
        )
        .named("handler");
        let publish = request(
            role_session(),
            "sns:Publish",
            "arn:aws:sns:eu-west-1:123456789012:postoffice-COOKING_REQUESTED",
        );
        let decision = evaluate(&publish, &identity(&handler));
        let Decision::ImplicitDeny {
            nearest: Some(near),
            ..
        } = &decision
        else {
            panic!("{decision:?}");
        };
        assert_eq!(near.mismatch, Mismatch::Resource);
        assert!(matches!(
            &near.statement.source,
            PolicySource::Identity { name: Some(name), .. } if &**name == "handler"
        ));
        assert_eq!(
            decision.explain(&publish),
            "denied: no statement allows sns:Publish on arn:aws:sns:eu-west-1:123456789012:postoffice-COOKING_REQUESTED \
             for role session arn:aws:sts::123456789012:assumed-role/postoffice-kitchen-handler/postoffice-kitchen-handler; \
             nearest: role policy 'handler' statement 'PublishItsEvents' (resource does not match)"
        );
        let allowed = request(
            role_session(),
            "sns:Publish",
            "arn:aws:sns:eu-west-1:123456789012:postoffice-COOKING_STARTED",
        );
        assert!(
            evaluate(&allowed, &identity(&handler))
                .explain(&allowed)
                .ends_with("by role policy 'handler' statement 'PublishItsEvents'")
        );
    }
}

mod policy_kinds {
    //! "The principal_block element is required in resource-based policies ... It must not be
    //! included in identity-based policies"; "You cannot use the NotPrincipal element in an IAM
    //! identity-based policy or in an IAM role trust policy".
    //! https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_grammar.html

    use super::*;

    #[test]
    fn a_policy_is_refused_where_its_shape_does_not_fit() {
        let with_principal = policy(
            r#"{"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Principal": "*", "Action": "s3:*", "Resource": "*"}]}"#,
        )
        .named("public");
        assert!(matches!(
            Policies::new().identity_policy(&with_principal),
            Err(PolicyError::WrongPolicyKind { policy, used_as: "an identity policy", .. }) if policy == "policy 'public'"
        ));
        let without_principal = policy(
            r#"{"Version": "2012-10-17", "Statement": [{"Sid": "X", "Effect": "Allow", "Action": "s3:*", "Resource": "*"}]}"#,
        );
        assert!(matches!(
            Policies::new().resource_policy(ResourcePolicyKind::Resource, &without_principal),
            Err(PolicyError::WrongPolicyKind { reason, .. }) if reason.contains("'X'")
        ));
        let without_resource = policy(
            r#"{"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "s3:*"}]}"#,
        );
        assert!(Policies::new().identity_policy(&without_resource).is_err());
        let not_principal = policy(
            r#"{"Version": "2012-10-17", "Statement": [{"Effect": "Deny", "NotPrincipal": {"AWS": "123456789012"}, "Action": "sts:AssumeRole"}]}"#,
        );
        assert!(
            Policies::new()
                .resource_policy(ResourcePolicyKind::TrustPolicy, &not_principal)
                .is_err()
        );
        assert!(
            Policies::new()
                .resource_policy(ResourcePolicyKind::Resource, &not_principal)
                .is_ok()
        );
        let trust_with_resource = policy(
            r#"{"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Principal": {"Service": "lambda.amazonaws.com"}, "Action": "sts:AssumeRole", "Resource": "*"}]}"#,
        );
        assert!(
            Policies::new()
                .resource_policy(ResourcePolicyKind::TrustPolicy, &trust_with_resource)
                .is_err()
        );
    }
}
