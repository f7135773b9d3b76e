use aws_config::BehaviorVersion;
use lambda_runtime::{LambdaEvent, service_fn};
use mobile_sign_in::{IotPolicyAttacher, SignIn, SignInConfig};

#[tokio::main]
async fn main() -> Result<(), lambda_runtime::Error> {
    postoffice::handler::init_tracing();
    let settings = SignInConfig::from_env()?;
    let config = aws_config::defaults(BehaviorVersion::latest())
        .http_client(postoffice::aws_http::http_client())
        .load()
        .await;
    let sign_in = SignIn::new(
        IotPolicyAttacher::new(aws_sdk_iot::Client::new(&config)),
        settings,
    );
    let sign_in = &sign_in;
    lambda_runtime::run(service_fn(
        move |event: LambdaEvent<serde_json::Value>| async move {
            Ok::<_, lambda_runtime::Error>(sign_in.handle(&event.payload).await)
        },
    ))
    .await
}
