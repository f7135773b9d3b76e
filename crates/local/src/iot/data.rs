//! The iot-data API served by the local gateway: `Publish` (`POST /topics/{topic}?qos=&retain=`),
//! the return path the forwarder takes to devices, and `DeleteConnection`
//! (`DELETE /connections/{clientId}`), which closes a client's connection at once (onboarding
//! disconnects an unpaired device with it). The caller was authorised (`iot:Publish`,
//! `iot:RetainPublish`, `iot:DeleteConnection`) by the endpoint.
//!
//! DeleteConnection's `cleanSession=true` ends the client's persistent session with the
//! connection; `preventWillMessage` is not acted on: the will is published, as by default.

use std::sync::Arc;

use async_trait::async_trait;
use axum::response::{IntoResponse, Response};
use postoffice_iot_gateway::{Gateway, GatewayError, QoS};

use crate::activity::{Activity, ActivityLog};
use crate::aws::errors::AwsError;
use crate::aws::{Call, LocalService};

pub struct IotDataService {
    pub gateway: Arc<Gateway>,
    pub activity: ActivityLog,
}

#[async_trait]
impl LocalService for IotDataService {
    async fn serve(&self, call: &Call) -> Option<Response> {
        match call.action().as_deref() {
            Some("Publish") => {}
            Some("DeleteConnection") => return Some(self.delete_connection(call)),
            _ => return None,
        }
        let topic = call
            .request
            .path_segments()
            .get(1)
            .cloned()
            .unwrap_or_default();
        let parameters = call.request.parameters();
        let qos = match parameters.get("qos").map(String::as_str) {
            None | Some("0") => QoS::AtMostOnce,
            Some("1") => QoS::AtLeastOnce,
            Some(other) => {
                return Some(call.error(&AwsError::new(
                    400,
                    "InvalidRequestException",
                    format!("qos {other} is not 0 or 1"),
                )));
            }
        };
        let retain = parameters
            .get("retain")
            .is_some_and(|value| value == "true");
        Some(
            match self
                .gateway
                .publish(&topic, call.request.body.clone(), qos, retain)
            {
                Ok(_) => {
                    self.activity.record(Activity::IotDataPublished { topic });
                    ([("content-type", "application/json")], "{}").into_response()
                }
                Err(error @ GatewayError::PayloadTooLarge { .. }) => call.error(&AwsError::new(
                    413,
                    "RequestEntityTooLargeException",
                    error.to_string(),
                )),
                Err(error) => call.error(&AwsError::new(
                    400,
                    "InvalidRequestException",
                    error.to_string(),
                )),
            },
        )
    }
}

impl IotDataService {
    fn delete_connection(&self, call: &Call) -> Response {
        let client_id = call
            .request
            .path_segments()
            .get(1)
            .cloned()
            .unwrap_or_default();
        if client_id.is_empty() || client_id.starts_with('$') {
            return call.error(&AwsError::new(
                400,
                "InvalidRequestException",
                format!("client id {client_id:?} is empty or starts with $"),
            ));
        }
        let clean_session = call
            .request
            .parameters()
            .get("cleanSession")
            .is_some_and(|value| value == "true");
        if self.gateway.disconnect(&client_id, clean_session) {
            self.activity
                .record(Activity::IotConnectionDeleted { client_id });
            ([("content-type", "application/json")], "{}").into_response()
        } else {
            call.error(&AwsError::new(
                404,
                "ResourceNotFoundException",
                format!("client {client_id} is not connected"),
            ))
        }
    }
}
