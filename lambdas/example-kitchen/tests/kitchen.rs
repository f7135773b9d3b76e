//! The kitchen against a temporary recipe directory and a recording publisher.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use example_kitchen::{DirectoryRecipeStore, Kitchen};
use postoffice::Envelope;
use postoffice::handler::testing::RecordingPublisher;
use postoffice::handler::{Consumer, ErrorKind};
use postoffice::invocation::HandlerInvocation;
use serde_json::{Value, json};

const COOKING_REQUESTED: &[u8] = include_bytes!("fixtures/cooking_requested.json");
const COOKING_FINISHED: &[u8] = include_bytes!("fixtures/cooking_finished.json");

struct Setup {
    consumer: Consumer<Kitchen<DirectoryRecipeStore>>,
    publisher: Arc<RecordingPublisher>,
    recipes: PathBuf,
    _dir: tempfile::TempDir,
}

/// A kitchen whose recipe directory holds the shipped sourdough recipe.
fn kitchen() -> Setup {
    let dir = tempfile::tempdir().unwrap();
    let recipes = dir.path().join("recipes");
    std::fs::create_dir(&recipes).unwrap();
    let shipped = Path::new(env!("CARGO_MANIFEST_DIR")).join("recipes/sourdough-loaf.json");
    std::fs::copy(shipped, recipes.join("sourdough-loaf.json")).unwrap();
    let publisher = Arc::new(RecordingPublisher::default());
    let consumer = Consumer::new(
        Kitchen::new(DirectoryRecipeStore::new(&recipes)),
        publisher.clone(),
        "arn:aws:sns:eu-west-1:123456789012:postoffice-",
    );
    Setup {
        consumer,
        publisher,
        recipes,
        _dir: dir,
    }
}

fn request() -> Value {
    serde_json::from_slice(COOKING_REQUESTED).unwrap()
}

fn request_envelope() -> Envelope {
    serde_json::from_slice::<HandlerInvocation>(COOKING_REQUESTED)
        .unwrap()
        .envelope
}

#[test]
fn fixtures_round_trip() {
    for bytes in [COOKING_REQUESTED, COOKING_FINISHED] {
        let parsed: HandlerInvocation = serde_json::from_slice(bytes).unwrap();
        let json = serde_json::to_value(&parsed).unwrap();
        assert_eq!(json, serde_json::from_slice::<Value>(bytes).unwrap());
        assert_eq!(
            serde_json::from_value::<HandlerInvocation>(json).unwrap(),
            parsed
        );
    }
}

#[tokio::test]
async fn an_accepted_request_is_answered_and_started() {
    let setup = kitchen();
    setup.consumer.handle_invocation(request()).await.unwrap();

    let sent = setup.publisher.envelopes();
    let events: Vec<&str> = sent.iter().map(|e| e.event.as_str()).collect();
    assert_eq!(events, ["COOKING_REPLIED", "COOKING_STARTED"]);
    let request = request_envelope();
    for envelope in &sent {
        assert_eq!(envelope.household_id, "h-42");
        assert_eq!(envelope.device_id, "oven-7");
        assert_eq!(envelope.correlation_id, request.correlation_id);
        assert_eq!(envelope.causation_id, Some(request.event_id));
        assert_eq!(envelope.source, "kitchen");
    }
    // 600 s preheat from the recipe, then 2700 s of baking.
    assert_eq!(
        sent[0].payload,
        json!({
            "status": "accepted",
            "estimated_start_at": "2026-11-23T18:00:00.000Z",
            "estimated_finish_at": "2026-11-23T18:55:00.000Z",
            "preheat_s": 600
        })
    );
    assert_eq!(
        sent[1].payload,
        json!({
            "recipe_id": "sourdough-loaf",
            "program": "bake",
            "temperature_c": 230,
            "duration_s": 2700,
            "started_at": "2026-11-23T18:00:00.000Z",
            "estimated_finish_at": "2026-11-23T18:55:00.000Z"
        })
    );
}

#[tokio::test]
async fn an_unknown_recipe_is_rejected_by_reply_not_by_error() {
    let setup = kitchen();
    let mut invocation = request();
    invocation["envelope"]["payload"]["recipe_id"] = json!("lemon-tart");

    setup.consumer.handle_invocation(invocation).await.unwrap();

    let sent = setup.publisher.envelopes();
    assert_eq!(sent.len(), 1, "no COOKING_STARTED for a rejected request");
    assert_eq!(sent[0].event, "COOKING_REPLIED");
    assert_eq!(sent[0].payload["status"], "rejected");
    assert_eq!(sent[0].payload["reason"], "unsupported-program");
    assert!(
        sent[0].payload["detail"]
            .as_str()
            .unwrap()
            .contains("lemon-tart")
    );
}

#[tokio::test]
async fn a_temperature_outside_the_recipe_is_rejected() {
    let setup = kitchen();
    let mut invocation = request();
    invocation["envelope"]["payload"]["temperature_c"] = json!(120);
    setup.consumer.handle_invocation(invocation).await.unwrap();
    let sent = setup.publisher.envelopes();
    assert_eq!(sent.len(), 1);
    assert_eq!(sent[0].payload["reason"], "temperature-out-of-range");
}

#[tokio::test]
async fn manual_cooking_needs_no_recipe() {
    let setup = kitchen();
    std::fs::remove_dir_all(&setup.recipes).unwrap();
    let mut invocation = request();
    let payload = invocation["envelope"]["payload"].as_object_mut().unwrap();
    payload.remove("recipe_id");
    payload.insert("preheat".into(), json!(false));
    setup.consumer.handle_invocation(invocation).await.unwrap();
    let sent = setup.publisher.envelopes();
    assert_eq!(sent[0].payload["status"], "accepted");
    assert_eq!(sent[0].payload["preheat_s"], 0);
    assert_eq!(sent[1].event, "COOKING_STARTED");
    assert!(sent[1].payload.get("recipe_id").is_none());
}

#[tokio::test]
async fn an_unreachable_recipe_store_is_retryable_and_the_retry_succeeds() {
    let setup = kitchen();
    let moved = setup.recipes.with_file_name("recipes-away");
    std::fs::rename(&setup.recipes, &moved).unwrap();

    let error = setup
        .consumer
        .handle_invocation(request())
        .await
        .unwrap_err();
    assert_eq!(error.kind(), ErrorKind::Retryable);
    assert!(error.message().contains("unreachable"), "{error}");
    assert!(setup.publisher.sent().is_empty());

    std::fs::rename(&moved, &setup.recipes).unwrap();
    setup.consumer.handle_invocation(request()).await.unwrap();
    assert_eq!(setup.publisher.sent().len(), 2);
}

#[tokio::test]
async fn a_finished_session_is_recorded_without_publishing() {
    let setup = kitchen();
    let invocation: Value = serde_json::from_slice(COOKING_FINISHED).unwrap();
    let handled = setup.consumer.handle_invocation(invocation).await.unwrap();
    assert!(handled.published.is_empty());
    assert!(setup.publisher.sent().is_empty());
}

#[tokio::test]
async fn a_request_with_an_invalid_payload_is_permanent() {
    let setup = kitchen();
    let mut invocation = request();
    invocation["envelope"]["payload"]["program"] = json!("microwave");
    let error = setup
        .consumer
        .handle_invocation(invocation)
        .await
        .unwrap_err();
    assert_eq!(error.kind(), ErrorKind::Permanent);
    assert!(setup.publisher.sent().is_empty());
}
