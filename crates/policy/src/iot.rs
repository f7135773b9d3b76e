//! AWS IoT Core authorisation at the MQTT gateway: the request context of a connection (policy
//! variables `iot:ClientId`, `iot:Connection.Thing.*`, the Cognito identity id), IoT resource
//! ARNs, and the two-sided check of Cognito identities.
//!
//! Sources: "AWS IoT Core policy variables", "Thing policy variables", "AWS IoT Core action
//! resources" and "Authorization with Amazon Cognito identities" in the AWS IoT developer guide
//! (<https://docs.aws.amazon.com/iot/latest/developerguide/iot-policy-variables.html>,
//! <https://docs.aws.amazon.com/iot/latest/developerguide/thing-policy-variables.html>,
//! <https://docs.aws.amazon.com/iot/latest/developerguide/iot-action-resources.html>,
//! <https://docs.aws.amazon.com/iot/latest/developerguide/cog-iot-policies.html>).

use std::net::IpAddr;

use crate::context::Context;
use crate::decision::Decision;
use crate::evaluate::{IotPolicies, Policies, evaluate, evaluate_iot};
use crate::request::Request;

/// The registry thing a connection is for: under non-exclusive association, the thing whose name
/// is the MQTT client id ("the value of clientId in the MQTT connect message ... must exactly
/// match the thing name").
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConnectedThing {
    pub name: String,
    pub type_name: Option<String>,
    pub attributes: Vec<(String, String)>,
}

/// What AWS IoT Core knows of an MQTT connection, turned into the request context its policy
/// variables resolve from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IotConnection {
    client_id: String,
    thing: Option<ConnectedThing>,
    thing_attached: bool,
    cognito_identity_id: Option<String>,
    source_ip: Option<IpAddr>,
}

impl IotConnection {
    pub fn new(client_id: &str) -> Self {
        Self {
            client_id: client_id.to_owned(),
            thing: None,
            thing_attached: false,
            cognito_identity_id: None,
            source_ip: None,
        }
    }

    /// The thing named like the client id, and whether it is attached to the connecting
    /// certificate or Cognito identity (`AttachThingPrincipal`). Thing variables resolve only
    /// for an attached thing: "If the device certificate is not associated with the thing, this
    /// variable won't be resolved and will result in an access denied error"
    /// (<https://docs.aws.amazon.com/iot/latest/developerguide/thing-policy-examples.html>).
    pub fn with_thing(mut self, thing: ConnectedThing, attached_to_principal: bool) -> Self {
        self.thing = Some(thing);
        self.thing_attached = attached_to_principal;
        self
    }

    /// The Cognito identity id of a connection authenticated through an identity pool: the value
    /// of `${cognito-identity.amazonaws.com:sub}`.
    pub fn with_cognito_identity(mut self, identity_id: &str) -> Self {
        self.cognito_identity_id = Some(identity_id.to_owned());
        self
    }

    pub fn with_source_ip(mut self, address: IpAddr) -> Self {
        self.source_ip = Some(address);
        self
    }

    /// The condition keys of every request on this connection: `iot:ClientId`,
    /// `iot:Connection.Thing.IsAttached` (`true` or `false`), and for an attached thing
    /// `iot:Connection.Thing.ThingName`, `iot:Connection.Thing.ThingTypeName` and
    /// `iot:Connection.Thing.Attributes[NAME]`; `cognito-identity.amazonaws.com:sub` and
    /// `aws:SourceIp` when known.
    pub fn context(&self) -> Context {
        let mut context = Context::new()
            .with("iot:ClientId", self.client_id.as_str())
            .with("iot:Connection.Thing.IsAttached", self.thing_attached);
        if let (Some(thing), true) = (&self.thing, self.thing_attached) {
            context.insert("iot:Connection.Thing.ThingName", thing.name.as_str());
            if let Some(type_name) = &thing.type_name {
                context.insert("iot:Connection.Thing.ThingTypeName", type_name.as_str());
            }
            for (name, value) in &thing.attributes {
                context.insert(
                    &format!("iot:Connection.Thing.Attributes[{name}]"),
                    value.as_str(),
                );
            }
        }
        if let Some(identity_id) = &self.cognito_identity_id {
            context.insert("cognito-identity.amazonaws.com:sub", identity_id.as_str());
        }
        if let Some(address) = self.source_ip {
            context.insert("aws:SourceIp", address);
        }
        context
    }
}

/// `arn:aws:iot:REGION:ACCOUNT:topic/TOPIC`, the resource of `iot:Publish`, `iot:Receive` and
/// `iot:RetainPublish`.
pub fn topic_arn(region: &str, account: &str, topic: &str) -> String {
    format!("arn:aws:iot:{region}:{account}:topic/{topic}")
}

/// `arn:aws:iot:REGION:ACCOUNT:topicfilter/FILTER`, the resource of `iot:Subscribe`. MQTT's `+`
/// and `#` stay as they are: in IoT policies they are literal characters.
pub fn topic_filter_arn(region: &str, account: &str, filter: &str) -> String {
    format!("arn:aws:iot:{region}:{account}:topicfilter/{filter}")
}

/// `arn:aws:iot:REGION:ACCOUNT:client/CLIENT_ID`, the resource of `iot:Connect`.
pub fn client_arn(region: &str, account: &str, client_id: &str) -> String {
    format!("arn:aws:iot:{region}:{account}:client/{client_id}")
}

/// Both halves of the authorisation of an authenticated Cognito identity: "you need to specify a
/// policy in two places. Attach an IAM policy to the authenticated Amazon Cognito Identity pool
/// and attach an AWS IoT Core policy to the Amazon Cognito Identity".
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CognitoDecision {
    /// The IoT policies attached to the identity.
    pub iot: Decision,
    /// The identity policies of the pool's authenticated role.
    pub iam: Decision,
}

/// Which side of a Cognito authorisation refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CognitoSide {
    IotPolicy,
    RolePolicy,
}

impl CognitoDecision {
    pub fn is_allowed(&self) -> bool {
        self.iot.is_allowed() && self.iam.is_allowed()
    }

    /// The side that refused; the IoT policy first when both did.
    pub fn denied_by(&self) -> Option<CognitoSide> {
        if !self.iot.is_allowed() {
            Some(CognitoSide::IotPolicy)
        } else if !self.iam.is_allowed() {
            Some(CognitoSide::RolePolicy)
        } else {
            None
        }
    }

    pub fn explain(&self, request: &Request) -> String {
        match self.denied_by() {
            None => format!(
                "{} (IoT side: {})",
                self.iam.explain(request),
                self.iot.explain(request)
            ),
            Some(CognitoSide::IotPolicy) => {
                format!("IoT policy side: {}", self.iot.explain(request))
            }
            Some(CognitoSide::RolePolicy) => {
                format!("role policy side: {}", self.iam.explain(request))
            }
        }
    }
}

/// Authorises a request of a Cognito identity: the IoT policies attached to the identity and the
/// identity policies of the role it was federated through must both allow. `request`'s
/// principal is the role session; its context carries the connection's keys and the session's
/// tags (`aws:PrincipalTag/...`).
pub fn evaluate_cognito(
    request: &Request,
    iot_policies: &IotPolicies,
    role_policies: &Policies,
) -> CognitoDecision {
    CognitoDecision {
        iot: evaluate_iot(request, iot_policies),
        iam: evaluate(request, role_policies),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::context::ContextValue;

    #[test]
    fn an_attached_thing_exposes_its_name_type_and_attributes() {
        let connection = IotConnection::new("oven-1").with_thing(
            ConnectedThing {
                name: "oven-1".into(),
                type_name: Some("oven".into()),
                attributes: vec![("household".into(), "h-1".into())],
            },
            true,
        );
        let context = connection.context();
        assert_eq!(
            context.get("iot:Connection.Thing.Attributes[household]"),
            Some(&[ContextValue::from("h-1")][..])
        );
        assert_eq!(
            context.get("iot:connection.thing.thingname"),
            Some(&[ContextValue::from("oven-1")][..])
        );
        assert_eq!(
            context.get("iot:Connection.Thing.IsAttached"),
            Some(&[ContextValue::Bool(true)][..])
        );
    }

    #[test]
    fn an_unattached_thing_exposes_nothing_but_is_attached_false() {
        let context = IotConnection::new("oven-1")
            .with_thing(
                ConnectedThing {
                    name: "oven-1".into(),
                    type_name: None,
                    attributes: vec![("household".into(), "h-1".into())],
                },
                false,
            )
            .context();
        assert_eq!(context.get("iot:Connection.Thing.ThingName"), None);
        assert_eq!(
            context.get("iot:Connection.Thing.Attributes[household]"),
            None
        );
        assert_eq!(
            context.get("iot:Connection.Thing.IsAttached"),
            Some(&[ContextValue::Bool(false)][..])
        );
        assert_eq!(
            context.get("iot:ClientId"),
            Some(&[ContextValue::from("oven-1")][..])
        );
    }

    #[test]
    fn iot_arns_keep_mqtt_wildcards_as_they_are() {
        assert_eq!(
            topic_filter_arn("eu-west-1", "123456789012", "COOKING_REPLIED/h-1/+"),
            "arn:aws:iot:eu-west-1:123456789012:topicfilter/COOKING_REPLIED/h-1/+"
        );
        assert_eq!(
            topic_arn("eu-west-1", "123456789012", "a/b"),
            "arn:aws:iot:eu-west-1:123456789012:topic/a/b"
        );
        assert_eq!(
            client_arn("eu-west-1", "123456789012", "oven-1"),
            "arn:aws:iot:eu-west-1:123456789012:client/oven-1"
        );
    }
}
