//! The iot-data `Publish` API (`POST /topics/{topic}?qos=&retain=`), served by the local
//! gateway: the return path the forwarder takes to devices. The caller was authorised
//! (`iot:Publish`, `iot:RetainPublish`) by the endpoint.

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
        if call.action().as_deref() != Some("Publish") {
            return None;
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
