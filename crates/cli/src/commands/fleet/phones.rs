//! The households' phones in a fleet run (the I/O of `postoffice_fleet::PhonePlan`): each
//! household's app user, created once and reused like the devices, signed in as the app does
//! (user pool, identity pool, the sign-in function), and its day of app sessions: MQTT over
//! WebSocket with a SigV4-presigned URL, the user's requests sent right after connecting, the app
//! kept open until their replies came.

use std::collections::{HashMap, HashSet};
use std::net::SocketAddr;
use std::path::Path;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime};

use anyhow::Context as _;
use postoffice::envelope::{DeviceMessage, Envelope, now_millis};
use postoffice_fleet::{
    PHONE_REGISTRY_FILE, PhonePlan, PhoneReport, PhoneSession, PhoneUser, REPLY_DEADLINE,
    parse_phone_registry, phone_password_file,
};
use postoffice_local::app::{AppConfig, AppSession, IdentityCredentials, MobileApp};
use tokio::sync::Semaphore;
use tokio::task::JoinSet;
use uuid::Uuid;

use super::super::local::Running;

/// How long a presigned URL stays valid: enough to connect with it.
const PRESIGNED_FOR: Duration = Duration::from_secs(300);

/// One household's phone, signed in.
pub(super) struct Phone {
    household: String,
    /// The household's oven: the phone's requests go to it.
    device: String,
    credentials: IdentityCredentials,
    subscriptions: Vec<String>,
}

/// The signed-in phones and the app they share (one HTTP client and TLS configuration).
pub(super) struct Phones {
    pub app: Arc<MobileApp>,
    pub phones: Vec<Arc<Phone>>,
    pub users_created: usize,
}

/// The request ids the phones sent: replies to them reach the household's oven too (it receives
/// everything on its topics), where they are not late replies of its own.
pub(super) type PhoneRequests = Arc<Mutex<HashSet<Uuid>>>;

/// Signs in one phone per `(household, device)`, creating the household's app user first when
/// no earlier run did (`fleet/phones.tsv`).
pub(super) async fn sign_in(
    running: &Running,
    households: &[(String, String)],
    plan: &PhonePlan,
    concurrency: usize,
) -> anyhow::Result<Phones> {
    let app = Arc::new(MobileApp::new(app_config(running)?)?);
    let registry = running.dir.join(PHONE_REGISTRY_FILE);
    let source = registry.display().to_string();
    let known: HashSet<String> = match std::fs::read_to_string(&registry) {
        Ok(text) => parse_phone_registry(&text, &source)?
            .into_iter()
            .map(|user| user.household)
            .collect(),
        Err(error) if error.kind() == std::io::ErrorKind::NotFound => HashSet::new(),
        Err(error) => return Err(error).with_context(|| format!("reading {source}")),
    };
    let missing: Vec<&str> = households
        .iter()
        .map(|(household, _)| household.as_str())
        .filter(|household| !known.contains(*household))
        .collect();
    if !missing.is_empty() {
        create_users(running, &missing, &registry).await?;
    }
    let permits = Arc::new(Semaphore::new(concurrency));
    let mut signing_in = JoinSet::new();
    for (household, device) in households {
        let (app, permits) = (app.clone(), permits.clone());
        let user = PhoneUser::for_household(household);
        let password_file = running.dir.join(phone_password_file(household));
        let device = device.clone();
        let subscriptions = plan
            .receives
            .iter()
            .map(|event| format!("{event}/{household}/+"))
            .collect();
        signing_in.spawn(async move {
            let _permit = permits.acquire_owned().await?;
            let password = std::fs::read_to_string(&password_file).with_context(|| {
                format!(
                    "{PHONE_REGISTRY_FILE} lists {} but {} is unreadable",
                    user.household,
                    password_file.display()
                )
            })?;
            let (_, credentials) = app
                .sign_in_fully(&user.email, password.trim_end())
                .await
                .with_context(|| {
                    format!(
                        "signing in {}'s app user {} (was the post office restarted? delete \
                         {PHONE_REGISTRY_FILE} to create the users again)",
                        user.household, user.email
                    )
                })?;
            anyhow::Ok(Arc::new(Phone {
                household: user.household,
                device,
                credentials,
                subscriptions,
            }))
        });
    }
    let mut phones = Vec::with_capacity(households.len());
    while let Some(signed_in) = signing_in.join_next().await {
        phones.push(signed_in??);
    }
    Ok(Phones {
        app,
        phones,
        users_created: missing.len(),
    })
}

/// The app's configuration: the running post office's endpoint, CA, region, WebSocket listener
/// and the `mobile` Terraform output.
fn app_config(running: &Running) -> anyhow::Result<AppConfig> {
    let described: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(running.dir.join(postoffice_local::RUNNING_FILE))
            .context("reading running.json")?,
    )?;
    let websocket: SocketAddr = described["mqtt_websocket"]
        .as_str()
        .and_then(|address| address.parse().ok())
        .with_context(|| {
            format!(
                "running.json of {} names no MQTT WebSocket listener: phones cannot connect \
                 (restart the post office with this version, or pass --no-phones)",
                running.dir.display()
            )
        })?;
    // `local::running` set the tools' environment: the endpoint and region.
    let variable = |name: &str| {
        std::env::var(name).with_context(|| format!("{name} is not set by postoffice.env"))
    };
    AppConfig::from_output(
        &variable("AWS_ENDPOINT_URL")?,
        running.ca_bundle.clone(),
        &variable("AWS_REGION")?,
        websocket,
        &running.mobile,
    )
}

/// Creates the app users of `households` (`local user add`'s code path), each appended to the
/// registry once created, its password written first (0600).
async fn create_users(
    running: &Running,
    households: &[&str],
    registry: &Path,
) -> anyhow::Result<()> {
    let pool = running.mobile["user_pool_id"]
        .as_str()
        .context("the running post office describes no mobile user pool (pass --no-phones)")?;
    let config = aws_config::defaults(aws_config::BehaviorVersion::latest())
        .http_client(postoffice::aws_http::http_client())
        .load()
        .await;
    let idp = aws_sdk_cognitoidentityprovider::Client::new(&config);
    std::fs::create_dir_all(running.dir.join("fleet/phones"))?;
    let mut recorded = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(registry)
        .with_context(|| format!("opening {}", registry.display()))?;
    for household in households {
        let user = PhoneUser::for_household(household);
        let created = postoffice_local::cognito::users::add(&idp, pool, household, &user.email)
            .await
            .with_context(|| format!("creating {household}'s app user"))?;
        postoffice_local::tls::write_secret(
            &running.dir.join(phone_password_file(household)),
            &created.password,
        )?;
        use std::io::Write as _;
        recorded
            .write_all(user.line().as_bytes())
            .with_context(|| format!("recording {household} in {}", registry.display()))?;
    }
    Ok(())
}

/// One phone's day: each session at its time, its requests sent once connected; the app stays
/// open for the session, and longer while a reply is due (the user waits for it).
pub(super) async fn phone_day(
    app: Arc<MobileApp>,
    phone: Arc<Phone>,
    plan: Arc<PhonePlan>,
    sessions: Vec<PhoneSession>,
    day_started: Instant,
    tally: Arc<Mutex<PhoneReport>>,
    asked: PhoneRequests,
) {
    for session in sessions {
        tokio::time::sleep_until((day_started + session.start).into()).await;
        let AppSession {
            session: mqtt,
            mut incoming,
        } = match open(&app, &phone).await {
            Ok(opened) => opened,
            Err(error) => {
                eprintln!(
                    "phone of {}: the app could not connect: {error:#}",
                    phone.household
                );
                let mut tally = tally.lock().expect("phone tally");
                tally.connect_failures += 1;
                tally.not_accepted += session.requests.len() as u64;
                continue;
            }
        };
        let connected = Instant::now();
        tally.lock().expect("phone tally").connects += 1;
        // Request id → (sent, the reply it expects).
        let mut waiting: HashMap<Uuid, (Instant, String)> = HashMap::new();
        for &index in &session.requests {
            let event = &plan.events.events[index];
            let id = Uuid::new_v4();
            let message = DeviceMessage {
                event_id: Some(id),
                occurred_at: Some(now_millis()),
                // It starts a conversation: the reply carries the request's id.
                correlation_id: Some(id),
                causation_id: None,
                schema_version: None,
                payload: event.payload.clone(),
            };
            asked.lock().expect("phone requests").insert(id);
            let topic = format!("{}/{}/{}", event.event, phone.household, phone.device);
            let sent = Instant::now();
            let published = match serde_json::to_vec(&message) {
                Ok(body) => mqtt.publish(&topic, body).await,
                Err(error) => Err(error.into()),
            };
            let mut tally = tally.lock().expect("phone tally");
            match (published, &event.reply) {
                (Ok(()), Some(reply)) => {
                    tally.requests += 1;
                    waiting.insert(id, (sent, reply.clone()));
                }
                (Ok(()), None) => tally.events_sent += 1,
                (Err(error), _) => {
                    eprintln!(
                        "phone of {}: {topic} not accepted: {error:#}",
                        phone.household
                    );
                    tally.not_accepted += 1;
                }
            }
        }
        let close_at = connected + session.length;
        loop {
            let reply_due = waiting
                .values()
                .map(|(sent, _)| *sent + REPLY_DEADLINE)
                .max();
            let until = reply_due.map_or(close_at, |due| due.max(close_at));
            let Ok(Some(received)) = tokio::time::timeout_at(until.into(), incoming.recv()).await
            else {
                break;
            };
            let event = received
                .topic
                .split('/')
                .next()
                .unwrap_or_default()
                .to_owned();
            let mut tally = tally.lock().expect("phone tally");
            *tally.received.entry(event.clone()).or_default() += 1;
            let Ok(envelope) = serde_json::from_slice::<Envelope>(&received.payload) else {
                continue;
            };
            if waiting
                .get(&envelope.correlation_id)
                .is_some_and(|(_, reply)| *reply == event)
                && let Some((sent, _)) = waiting.remove(&envelope.correlation_id)
            {
                tally.replies.record(received.at.duration_since(sent));
            }
            if waiting.is_empty() && Instant::now() >= close_at {
                break;
            }
        }
        // The app closes: dropping both ends of the session closes its connection.
        drop(incoming);
        drop(mqtt);
        tally.lock().expect("phone tally").connected += connected.elapsed();
    }
}

/// Opens the app: a fresh presigned URL, connected and subscribed. The app's session is
/// persistent (`MobileApp::connect`: clean start 0, expiry 1 h), so IoT keeps the QoS 1 messages
/// sent while the app is closed and delivers them when it opens again, within the hour
/// (<https://docs.aws.amazon.com/iot/latest/developerguide/mqtt.html#mqtt-persistent-sessions>):
/// nothing sent to a closed app is lost before then, and the phones count them when they come.
async fn open(app: &MobileApp, phone: &Phone) -> anyhow::Result<AppSession> {
    let path = app.presigned_mqtt_path(&phone.credentials, SystemTime::now(), PRESIGNED_FOR)?;
    app.connect(&phone.credentials.identity_id, &path, &phone.subscriptions)
        .await
}
