//! The local SNS endpoint (`AWS_ENDPOINT_URL_SNS` of the Lambdas and tools): `Publish` and
//! `ConfirmSubscription` are served by the data plane; `PublishBatch` is refused rather than
//! sent where nothing is subscribed; every other action (CreateTopic, ListTopics, ...) goes on
//! to moto, the control plane.

use std::sync::Arc;

use axum::Router;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, Method, StatusCode, Uri, header};
use axum::response::{IntoResponse, Response};

use super::SnsDataPlane;
use super::query::{
    ApiError, ConfirmSubscriptionRequest, PublishRequest, QueryRequest,
    confirm_subscription_response, publish_response,
};

#[derive(Clone)]
struct Endpoint {
    plane: Arc<SnsDataPlane>,
    control_plane: String,
    http: reqwest::Client,
}

/// `control_plane`: moto's base URL.
pub fn router(plane: Arc<SnsDataPlane>, control_plane: String, http: reqwest::Client) -> Router {
    Router::new().fallback(serve).with_state(Endpoint {
        plane,
        control_plane,
        http,
    })
}

async fn serve(
    State(endpoint): State<Endpoint>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let request_id = uuid::Uuid::new_v4().to_string();
    let query = QueryRequest::parse(uri.query(), &body);
    let answer = match query.action() {
        Some("Publish") => PublishRequest::from_query(&query)
            .and_then(|publish| endpoint.plane.publish(publish))
            .map(|message_id| publish_response(&message_id, &request_id)),
        Some("ConfirmSubscription") => ConfirmSubscriptionRequest::from_query(&query)
            .and_then(|confirm| endpoint.plane.confirm_subscription(&confirm))
            .map(|arn| confirm_subscription_response(&arn, &request_id)),
        Some("PublishBatch") => Err(ApiError::invalid_parameter(
            "Action Reason: PublishBatch is not served by the local post office; use Publish",
        )),
        _ => return forward(&endpoint, method, &uri, &headers, body).await,
    };
    let (status, xml) = match answer {
        Ok(xml) => (StatusCode::OK, xml),
        Err(error) => (
            StatusCode::from_u16(error.status).unwrap_or(StatusCode::BAD_REQUEST),
            error.to_xml(&request_id),
        ),
    };
    (
        status,
        [
            (header::CONTENT_TYPE, "text/xml"),
            (
                header::HeaderName::from_static("x-amzn-requestid"),
                &request_id,
            ),
        ],
        xml,
    )
        .into_response()
}

async fn forward(
    endpoint: &Endpoint,
    method: Method,
    uri: &Uri,
    headers: &HeaderMap,
    body: Bytes,
) -> Response {
    let path = uri.path_and_query().map_or("/", |path| path.as_str());
    let mut request = endpoint
        .http
        .request(method, format!("{}{path}", endpoint.control_plane))
        .body(body);
    for (name, value) in headers {
        if name != header::HOST && name != header::CONTENT_LENGTH {
            request = request.header(name, value);
        }
    }
    match request.send().await {
        Ok(answer) => {
            let status = answer.status();
            let content_type = answer.headers().get(header::CONTENT_TYPE).cloned();
            let body = answer.bytes().await.unwrap_or_default();
            let mut response = (status, body).into_response();
            if let Some(content_type) = content_type {
                response
                    .headers_mut()
                    .insert(header::CONTENT_TYPE, content_type);
            }
            response
        }
        Err(error) => {
            let error = ApiError::internal(format!("the SNS control plane (moto): {error}"));
            (
                StatusCode::BAD_GATEWAY,
                [(header::CONTENT_TYPE, "text/xml")],
                error.to_xml(&uuid::Uuid::new_v4().to_string()),
            )
                .into_response()
        }
    }
}
