use crate::topic::TopicError;

/// What the gateway's API refuses or fails to do.
#[derive(Debug, thiserror::Error)]
pub enum GatewayError {
    #[error("cannot listen on 127.0.0.1:{port}: {source}")]
    Bind {
        port: u16,
        #[source]
        source: std::io::Error,
    },
    #[error("the TLS identity is not usable: {0}")]
    Tls(#[source] rustls::Error),
    #[error("invalid topic {topic:?}: {source}")]
    InvalidTopic {
        topic: String,
        #[source]
        source: TopicError,
    },
    #[error("the payload has {size} bytes, over the {maximum} byte limit")]
    PayloadTooLarge { size: usize, maximum: usize },
    #[error("messages to reserved topic {0:?} cannot be retained")]
    RetainOnReservedTopic(String),
}
