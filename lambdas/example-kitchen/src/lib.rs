//! An example Post Office consumer, `kitchen`: the pattern a product team copies.
//!
//! - the payload types it reads ([`KitchenEvent`]) and writes, as plain serde structs matching
//!   the catalog schemas;
//! - the handler ([`Kitchen`]), generic over its business dependency ([`RecipeStore`]) so tests
//!   pass a temporary directory and production passes the real store;
//! - business answers (an unknown recipe) are replies, not errors; an unreachable dependency is a
//!   retryable error, so SNS retries and, if it lasts, the event waits in the dead-letter queue.

mod recipes;

use chrono::{DateTime, Duration, Utc};
use postoffice::envelope::format_time;
use postoffice::handler::{Context, Handler, HandlerError};
use serde::{Deserialize, Serialize};

pub use recipes::{
    DirectoryRecipeStore, RECIPES_DIR_ENV, Recipe, RecipeStore, RecipeStoreError, TemperatureRange,
};

/// The events the kitchen consumes, one variant per event name.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(tag = "event", content = "payload")]
pub enum KitchenEvent {
    #[serde(rename = "COOKING_REQUESTED")]
    CookingRequested(CookingRequest),
    #[serde(rename = "COOKING_FINISHED")]
    CookingFinished(CookingFinished),
}

#[derive(Debug, Clone, PartialEq, Deserialize)]
pub struct CookingRequest {
    pub recipe_id: Option<String>,
    pub program: String,
    pub temperature_c: u32,
    pub duration_s: u32,
    #[serde(default = "preheat_by_default")]
    pub preheat: bool,
    pub start_at: Option<DateTime<Utc>>,
}

fn preheat_by_default() -> bool {
    true
}

#[derive(Debug, Clone, PartialEq, Deserialize)]
pub struct CookingFinished {
    pub outcome: String,
    pub finished_at: DateTime<Utc>,
    pub cooked_s: u32,
    pub energy_wh: Option<f64>,
    pub error_code: Option<String>,
}

/// COOKING_REPLIED.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(tag = "status", rename_all = "kebab-case")]
pub enum CookingReply {
    Accepted {
        estimated_start_at: String,
        estimated_finish_at: String,
        preheat_s: u32,
    },
    Rejected {
        reason: Rejection,
        detail: String,
    },
}

/// Why the kitchen says no (the catalog's `reason` values this kitchen uses).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Rejection {
    UnsupportedProgram,
    TemperatureOutOfRange,
}

/// COOKING_STARTED.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct CookingStarted {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub recipe_id: Option<String>,
    pub program: String,
    pub temperature_c: u32,
    pub duration_s: u32,
    pub started_at: String,
    pub estimated_finish_at: String,
}

/// Preheating without a recipe that says otherwise.
const DEFAULT_PREHEAT_S: u32 = 420;

pub struct Kitchen<S> {
    recipes: S,
}

impl<S: RecipeStore> Kitchen<S> {
    pub fn new(recipes: S) -> Self {
        Self { recipes }
    }

    /// Accepts or rejects a request. Estimates count from the request's own time (or its delayed
    /// start), not the clock, so a retried request gets the same answer.
    async fn decide(
        &self,
        request: &CookingRequest,
        requested_at: DateTime<Utc>,
    ) -> Result<CookingReply, RecipeStoreError> {
        let mut preheat_s = if request.preheat {
            DEFAULT_PREHEAT_S
        } else {
            0
        };
        if let Some(id) = &request.recipe_id {
            let Some(recipe) = self.recipes.recipe(id).await? else {
                return Ok(rejected(
                    Rejection::UnsupportedProgram,
                    format!("Recipe {id} is not in the recipe library."),
                ));
            };
            if !recipe.programs.contains(&request.program) {
                return Ok(rejected(
                    Rejection::UnsupportedProgram,
                    format!(
                        "{} is cooked with {}, not {}.",
                        recipe.name,
                        recipe.programs.join(" or "),
                        request.program
                    ),
                ));
            }
            let range = recipe.temperature_c;
            if !(range.min..=range.max).contains(&request.temperature_c) {
                return Ok(rejected(
                    Rejection::TemperatureOutOfRange,
                    format!(
                        "{} cooks between {} and {} °C.",
                        recipe.name, range.min, range.max
                    ),
                ));
            }
            if request.preheat {
                preheat_s = recipe.preheat_s;
            }
        }
        let start = request.start_at.unwrap_or(requested_at).max(requested_at);
        let finish = start
            + Duration::seconds(i64::from(preheat_s))
            + Duration::seconds(i64::from(request.duration_s));
        Ok(CookingReply::Accepted {
            estimated_start_at: format_time(&start),
            estimated_finish_at: format_time(&finish),
            preheat_s,
        })
    }
}

fn rejected(reason: Rejection, detail: String) -> CookingReply {
    CookingReply::Rejected { reason, detail }
}

impl<S: RecipeStore> Handler for Kitchen<S> {
    const CONSUMER: &'static str = "kitchen";
    type Event = KitchenEvent;

    async fn handle(&self, event: KitchenEvent, ctx: &mut Context<'_>) -> Result<(), HandlerError> {
        match event {
            KitchenEvent::CookingRequested(request) => {
                // `?` on the store error: retryable, so an outage delays the answer, never loses it.
                let reply = self.decide(&request, ctx.envelope().occurred_at).await?;
                ctx.reply(&reply)?;
                if let CookingReply::Accepted {
                    estimated_start_at,
                    estimated_finish_at,
                    ..
                } = reply
                {
                    ctx.publish(
                        "COOKING_STARTED",
                        &CookingStarted {
                            recipe_id: request.recipe_id,
                            program: request.program,
                            temperature_c: request.temperature_c,
                            duration_s: request.duration_s,
                            started_at: estimated_start_at,
                            estimated_finish_at,
                        },
                    )?;
                }
            }
            KitchenEvent::CookingFinished(finished) => {
                let envelope = ctx.envelope();
                tracing::info!(
                    household_id = %envelope.household_id,
                    device_id = %envelope.device_id,
                    correlation_id = %envelope.correlation_id,
                    outcome = %finished.outcome,
                    cooked_s = finished.cooked_s,
                    error_code = finished.error_code.as_deref(),
                    "cooking session finished"
                );
            }
        }
        Ok(())
    }
}

/// Where the recipes are: [`RECIPES_DIR_ENV`], else `recipes/` beside the code (the Lambda zip's
/// `LAMBDA_TASK_ROOT`, or the directory of the service's executable in its image). Both the
/// Lambda and the service binary read it.
pub fn recipes_dir_from_env() -> Result<std::path::PathBuf, String> {
    if let Some(dir) = std::env::var_os(RECIPES_DIR_ENV).filter(|dir| !dir.is_empty()) {
        return Ok(dir.into());
    }
    if let Some(root) = std::env::var_os("LAMBDA_TASK_ROOT").filter(|root| !root.is_empty()) {
        return Ok(std::path::Path::new(&root).join("recipes"));
    }
    let executable = std::env::current_exe().map_err(|error| {
        format!("{RECIPES_DIR_ENV} is not set and the executable's directory is unknown: {error}")
    })?;
    let beside = executable.with_file_name("recipes");
    if beside.is_dir() {
        Ok(beside)
    } else {
        Err(format!(
            "{RECIPES_DIR_ENV} is not set and there is no {} (nor LAMBDA_TASK_ROOT)",
            beside.display()
        ))
    }
}
