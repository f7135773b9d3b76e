//! The iot-data endpoint of the return path: `POST /topics/{topic}?qos=1` publishes the body to
//! the MQTT gateway, as the IoT data plane's Publish does
//! (<https://docs.aws.amazon.com/iot/latest/apireference/API_iotdata_Publish.html>). It answers
//! once the broker has acknowledged the QoS 1 publish, so the forwarder's success means the
//! broker has the message. Request signatures are not checked: the endpoint listens on
//! 127.0.0.1 only.

use axum::Router;
use axum::body::Bytes;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use postoffice::topic::Topic;
use serde::Deserialize;

use crate::activity::{Activity, ActivityLog};
use crate::mqtt::MqttSession;

#[derive(Clone)]
struct Endpoint {
    session: MqttSession,
    activity: ActivityLog,
}

#[derive(Debug, Deserialize)]
struct PublishQuery {
    qos: Option<u8>,
}

pub fn router(session: MqttSession, activity: ActivityLog) -> Router {
    Router::new()
        .route("/topics/{*topic}", post(publish))
        .with_state(Endpoint { session, activity })
}

fn error(status: StatusCode, kind: &str, message: String) -> Response {
    (
        status,
        [("x-amzn-errortype", kind.to_owned())],
        axum::Json(serde_json::json!({ "message": message })),
    )
        .into_response()
}

async fn publish(
    State(endpoint): State<Endpoint>,
    Path(topic): Path<String>,
    Query(query): Query<PublishQuery>,
    payload: Bytes,
) -> Response {
    if query.qos.unwrap_or(0) > 1 {
        return error(
            StatusCode::BAD_REQUEST,
            "InvalidRequestException",
            "qos must be 0 or 1".to_owned(),
        );
    }
    // Post Office only ever publishes to EVENT/HOUSEHOLD/DEVICE; anything else is a bug upstream.
    if let Err(problem) = Topic::parse(&topic) {
        return error(
            StatusCode::BAD_REQUEST,
            "InvalidRequestException",
            format!("topic {topic:?}: {problem}"),
        );
    }
    match endpoint.session.publish(&topic, payload.to_vec()).await {
        Ok(()) => {
            endpoint
                .activity
                .record(Activity::IotDataPublished { topic });
            (StatusCode::OK, axum::Json(serde_json::json!({}))).into_response()
        }
        Err(problem) => error(
            StatusCode::SERVICE_UNAVAILABLE,
            "ServiceUnavailableException",
            problem.to_string(),
        ),
    }
}
