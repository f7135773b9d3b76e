//! A simulated mobile app, doing on the wire what the app does against AWS: sign in to the user
//! pool (`InitiateAuth`, `USER_PASSWORD_AUTH`), federate the ID token into identity pool
//! credentials (`GetId`, `GetCredentialsForIdentity`, unsigned calls as the SDKs make them),
//! call the mobile sign-in function URL signed with those credentials (SigV4, `lambda`), then
//! connect MQTT over WebSocket to the IoT gateway with a SigV4 presigned URL
//! (`iotdevicegateway`, the session token appended after signing, as IoT wants it). Requests are
//! signed with AWS's signer (`aws-sigv4`); the post office verifies them with its own.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::{Duration, SystemTime};

use anyhow::Context as _;
use aws_credential_types::Credentials;
use aws_sigv4::http_request::{
    SessionTokenMode, SignableBody, SignableRequest, SignatureLocation, SigningSettings, sign,
};
use aws_sigv4::sign::v4;
use serde_json::{Value, json};
use tokio::sync::mpsc;

use crate::mqtt::{MqttSession, Received};

/// Where the app finds the post office, and the mobile configuration Terraform output
/// (`mobile` of the complete example).
#[derive(Debug, Clone)]
pub struct AppConfig {
    /// The local AWS endpoint (`https://127.0.0.1:PORT`): Cognito and function URLs.
    pub aws_endpoint: String,
    pub ca_bundle: PathBuf,
    pub region: String,
    /// `wss://ADDR/mqtt`.
    pub mqtt_websocket: SocketAddr,
    pub user_pool_id: String,
    pub user_pool_client_id: String,
    pub identity_pool_id: String,
    pub sign_in_url: String,
}

impl AppConfig {
    /// From the complete example's `mobile` output.
    pub fn from_output(
        aws_endpoint: &str,
        ca_bundle: PathBuf,
        region: &str,
        mqtt_websocket: SocketAddr,
        mobile: &Value,
    ) -> anyhow::Result<Self> {
        let text = |name: &str| {
            mobile[name]
                .as_str()
                .map(str::to_owned)
                .with_context(|| format!("the Terraform output mobile.{name} is missing"))
        };
        Ok(Self {
            aws_endpoint: aws_endpoint.to_owned(),
            ca_bundle,
            region: region.to_owned(),
            mqtt_websocket,
            user_pool_id: text("user_pool_id")?,
            user_pool_client_id: text("user_pool_client_id")?,
            identity_pool_id: text("identity_pool_id")?,
            sign_in_url: text("sign_in_url")?,
        })
    }

    /// The identity pool's provider name for the user pool.
    pub fn provider(&self) -> String {
        format!(
            "cognito-idp.{}.amazonaws.com/{}",
            self.region, self.user_pool_id
        )
    }
}

/// An AWS error answer, as the app sees it.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{status} {code}: {message}")]
pub struct AwsRefusal {
    pub status: u16,
    pub code: String,
    pub message: String,
}

/// The user pool's tokens.
#[derive(Clone)]
pub struct Tokens {
    pub id_token: String,
    pub access_token: String,
}

impl std::fmt::Debug for Tokens {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Tokens").finish_non_exhaustive()
    }
}

/// Identity pool credentials of one identity.
#[derive(Clone)]
pub struct IdentityCredentials {
    pub identity_id: String,
    pub access_key_id: String,
    pub secret_access_key: String,
    pub session_token: String,
}

impl std::fmt::Debug for IdentityCredentials {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("IdentityCredentials")
            .field("identity_id", &self.identity_id)
            .field("access_key_id", &self.access_key_id)
            .finish_non_exhaustive()
    }
}

pub struct MobileApp {
    pub config: AppConfig,
    http: reqwest::Client,
}

impl MobileApp {
    pub fn new(config: AppConfig) -> anyhow::Result<Self> {
        let http = reqwest::Client::builder()
            .use_preconfigured_tls(tls_config(&config.ca_bundle)?)
            .no_proxy()
            .timeout(Duration::from_secs(30))
            .build()?;
        Ok(Self { config, http })
    }

    /// An unsigned Cognito JSON call (`AWSCognitoIdentityProviderService.*`,
    /// `AWSCognitoIdentityService.*`).
    async fn cognito(
        &self,
        target: &str,
        body: Value,
    ) -> anyhow::Result<Result<Value, AwsRefusal>> {
        let response = self
            .http
            .post(format!("{}/", self.config.aws_endpoint))
            .header("x-amz-target", target)
            .header("content-type", "application/x-amz-json-1.1")
            .body(body.to_string())
            .send()
            .await
            .with_context(|| format!("calling {target}"))?;
        let status = response.status().as_u16();
        let answer: Value = response.json().await.unwrap_or(Value::Null);
        if (200..300).contains(&status) {
            return Ok(Ok(answer));
        }
        Ok(Err(AwsRefusal {
            status,
            code: answer["__type"]
                .as_str()
                .and_then(|kind| kind.rsplit('#').next())
                .unwrap_or_default()
                .to_owned(),
            message: answer["message"].as_str().unwrap_or_default().to_owned(),
        }))
    }

    /// Signs in with the user's email and password.
    pub async fn sign_in(&self, email: &str, password: &str) -> anyhow::Result<Tokens> {
        let answer = self
            .cognito(
                "AWSCognitoIdentityProviderService.InitiateAuth",
                json!({
                    "AuthFlow": "USER_PASSWORD_AUTH",
                    "ClientId": self.config.user_pool_client_id,
                    "AuthParameters": {"USERNAME": email, "PASSWORD": password},
                }),
            )
            .await??;
        let result = &answer["AuthenticationResult"];
        Ok(Tokens {
            id_token: result["IdToken"]
                .as_str()
                .context("InitiateAuth gave no ID token")?
                .to_owned(),
            access_token: result["AccessToken"]
                .as_str()
                .context("InitiateAuth gave no access token")?
                .to_owned(),
        })
    }

    /// Changes one of the signed-in user's own attributes.
    pub async fn update_attribute(
        &self,
        tokens: &Tokens,
        name: &str,
        value: &str,
    ) -> anyhow::Result<Result<(), AwsRefusal>> {
        Ok(self
            .cognito(
                "AWSCognitoIdentityProviderService.UpdateUserAttributes",
                json!({
                    "AccessToken": tokens.access_token,
                    "UserAttributes": [{"Name": name, "Value": value}],
                }),
            )
            .await?
            .map(|_| ()))
    }

    fn logins(&self, tokens: &Tokens) -> Value {
        json!({ self.config.provider(): tokens.id_token })
    }

    /// `GetId`: the user's identity in the identity pool.
    pub async fn get_id(&self, tokens: &Tokens) -> anyhow::Result<Result<String, AwsRefusal>> {
        Ok(self
            .cognito(
                "AWSCognitoIdentityService.GetId",
                json!({
                    "IdentityPoolId": self.config.identity_pool_id,
                    "Logins": self.logins(tokens),
                }),
            )
            .await?
            .map(|answer| answer["IdentityId"].as_str().unwrap_or_default().to_owned()))
    }

    /// `GetCredentialsForIdentity`: temporary credentials of the pool's authenticated role.
    pub async fn credentials(
        &self,
        tokens: &Tokens,
        identity_id: &str,
    ) -> anyhow::Result<Result<IdentityCredentials, AwsRefusal>> {
        let answer = self
            .cognito(
                "AWSCognitoIdentityService.GetCredentialsForIdentity",
                json!({"IdentityId": identity_id, "Logins": self.logins(tokens)}),
            )
            .await?;
        Ok(answer.map(|answer| {
            let text = |name: &str| {
                answer["Credentials"][name]
                    .as_str()
                    .unwrap_or_default()
                    .to_owned()
            };
            IdentityCredentials {
                identity_id: identity_id.to_owned(),
                access_key_id: text("AccessKeyId"),
                secret_access_key: text("SecretKey"),
                session_token: text("SessionToken"),
            }
        }))
    }

    /// Calls the mobile sign-in function URL (POST, SigV4 for `lambda`), which attaches the
    /// mobile IoT policy to the caller's identity: (status, body).
    pub async fn call_sign_in_function(
        &self,
        credentials: &IdentityCredentials,
    ) -> anyhow::Result<(u16, Value)> {
        let url = url::Url::parse(&self.config.sign_in_url)?;
        let host = url
            .host_str()
            .context("the sign-in URL has no host")?
            .to_owned();
        // The request goes to the local endpoint; its Host names the function URL.
        let local = url::Url::parse(&self.config.aws_endpoint)?;
        let body = b"{}".to_vec();
        let headers = [
            ("host".to_owned(), host.clone()),
            ("content-type".to_owned(), "application/json".to_owned()),
        ];
        let identity = Credentials::new(
            &credentials.access_key_id,
            &credentials.secret_access_key,
            Some(credentials.session_token.clone()),
            None,
            "identity-pool",
        )
        .into();
        let params = v4::SigningParams::builder()
            .identity(&identity)
            .region(&self.config.region)
            .name("lambda")
            .time(SystemTime::now())
            .settings(SigningSettings::default())
            .build()?
            .into();
        let signable = SignableRequest::new(
            "POST",
            url.as_str(),
            headers
                .iter()
                .map(|(name, value)| (name.as_str(), value.as_str())),
            SignableBody::Bytes(&body),
        )?;
        let (instructions, _) = sign(signable, &params)?.into_parts();
        let mut request = http::Request::builder()
            .method("POST")
            .uri(url.as_str())
            .body(())?;
        instructions.apply_to_request_http1x(&mut request);
        let mut outgoing = self
            .http
            .post(format!(
                "{}{}",
                local.as_str().trim_end_matches('/'),
                url.path()
            ))
            .body(body);
        for (name, value) in headers.iter() {
            outgoing = outgoing.header(name, value);
        }
        for (name, value) in request.headers() {
            outgoing = outgoing.header(name, value);
        }
        let response = outgoing
            .send()
            .await
            .context("calling the sign-in function URL")?;
        let status = response.status().as_u16();
        let body = response.json().await.unwrap_or(Value::Null);
        Ok((status, body))
    }

    /// The path and query of a presigned `wss://…/mqtt` URL for these credentials, valid for
    /// `expires_in` from `signed_at`.
    pub fn presigned_mqtt_path(
        &self,
        credentials: &IdentityCredentials,
        signed_at: SystemTime,
        expires_in: Duration,
    ) -> anyhow::Result<String> {
        let host = self.config.mqtt_websocket.to_string();
        let url = format!("https://{host}/mqtt");
        let identity = Credentials::new(
            &credentials.access_key_id,
            &credentials.secret_access_key,
            Some(credentials.session_token.clone()),
            None,
            "identity-pool",
        )
        .into();
        let mut settings = SigningSettings::default();
        settings.signature_location = SignatureLocation::QueryParams;
        settings.expires_in = Some(expires_in);
        // IoT: sign without the session token, then append it.
        settings.session_token_mode = SessionTokenMode::Exclude;
        let params = v4::SigningParams::builder()
            .identity(&identity)
            .region(&self.config.region)
            .name("iotdevicegateway")
            .time(signed_at)
            .settings(settings)
            .build()?
            .into();
        let signable = SignableRequest::new(
            "GET",
            &url,
            [("host", host.as_str())].into_iter(),
            SignableBody::Bytes(&[]),
        )?;
        let (instructions, _) = sign(signable, &params)?.into_parts();
        let mut request = http::Request::builder().method("GET").uri(&url).body(())?;
        instructions.apply_to_request_http1x(&mut request);
        let uri = request.uri();
        Ok(format!(
            "{}?{}",
            uri.path(),
            uri.query().unwrap_or_default()
        ))
    }

    /// Connects MQTT 5 over WebSocket to `path_and_query` as `client_id`, subscribed to
    /// `subscriptions`.
    pub async fn connect(
        &self,
        client_id: &str,
        path_and_query: &str,
        subscriptions: &[String],
    ) -> anyhow::Result<AppSession> {
        let tls = tls_config(&self.config.ca_bundle)?;
        let address = self.config.mqtt_websocket;
        let mut options = rumqttc::v5::MqttOptions::new(
            client_id,
            format!("wss://{address}{path_and_query}"),
            address.port(),
        );
        options.set_transport(rumqttc::Transport::wss_with_config(
            rumqttc::TlsConfiguration::Rustls(std::sync::Arc::new(tls)),
        ));
        let (session, incoming) =
            MqttSession::connect_with(options, subscriptions, Duration::from_secs(10)).await?;
        Ok(AppSession { session, incoming })
    }

    /// The whole sign-in: user pool, identity pool, the sign-in function; the credentials.
    pub async fn sign_in_fully(
        &self,
        email: &str,
        password: &str,
    ) -> anyhow::Result<(Tokens, IdentityCredentials)> {
        let tokens = self.sign_in(email, password).await?;
        let identity_id = self.get_id(&tokens).await??;
        let credentials = self.credentials(&tokens, &identity_id).await??;
        let (status, body) = self.call_sign_in_function(&credentials).await?;
        if status != 200 {
            anyhow::bail!("the sign-in function answered {status}: {body}");
        }
        Ok((tokens, credentials))
    }
}

/// TLS trusting the post office's CA (its endpoints' certificates), as the app would trust
/// Amazon's.
fn tls_config(ca_bundle: &std::path::Path) -> anyhow::Result<rustls::ClientConfig> {
    use rustls::pki_types::pem::PemObject as _;
    let pem =
        std::fs::read(ca_bundle).with_context(|| format!("reading {}", ca_bundle.display()))?;
    let mut roots = rustls::RootCertStore::empty();
    for certificate in rustls::pki_types::CertificateDer::pem_slice_iter(&pem) {
        roots.add(certificate?)?;
    }
    Ok(
        rustls::ClientConfig::builder_with_provider(std::sync::Arc::new(
            rustls::crypto::aws_lc_rs::default_provider(),
        ))
        .with_safe_default_protocol_versions()?
        .with_root_certificates(roots)
        .with_no_client_auth(),
    )
}

/// A connected app.
pub struct AppSession {
    pub session: MqttSession,
    pub incoming: mpsc::UnboundedReceiver<Received>,
}
