//! The kitchen's business dependency: the recipe library.

use std::io::ErrorKind;
use std::path::PathBuf;

use async_trait::async_trait;
use serde::Deserialize;

/// Environment variable naming the recipe directory of [`DirectoryRecipeStore`].
pub const RECIPES_DIR_ENV: &str = "KITCHEN_RECIPES_DIR";

#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Recipe {
    pub name: String,
    /// Heating programs the recipe works with (catalog names: `bake`, `steam`, …).
    pub programs: Vec<String>,
    pub temperature_c: TemperatureRange,
    /// Preheating time the recipe needs, in seconds.
    pub preheat_s: u32,
}

#[derive(Debug, Clone, Copy, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TemperatureRange {
    pub min: u32,
    pub max: u32,
}

#[derive(Debug, thiserror::Error)]
pub enum RecipeStoreError {
    #[error("recipe store {location} is unreachable: {source}")]
    Unreachable {
        location: String,
        #[source]
        source: std::io::Error,
    },
    #[error("recipe {id} in {location} is unreadable: {reason}")]
    Corrupt {
        id: String,
        location: String,
        reason: String,
    },
}

/// Looks recipes up by id. `Ok(None)`: no such recipe (a business answer); `Err`: the store
/// itself failed (worth retrying).
#[async_trait]
pub trait RecipeStore: Send + Sync {
    async fn recipe(&self, id: &str) -> Result<Option<Recipe>, RecipeStoreError>;
}

/// A directory with one `RECIPE_ID.json` per recipe: the local stand-in for a recipe service.
pub struct DirectoryRecipeStore {
    dir: PathBuf,
}

impl DirectoryRecipeStore {
    pub fn new(dir: impl Into<PathBuf>) -> Self {
        Self { dir: dir.into() }
    }

    fn location(&self) -> String {
        self.dir.display().to_string()
    }
}

#[async_trait]
impl RecipeStore for DirectoryRecipeStore {
    async fn recipe(&self, id: &str) -> Result<Option<Recipe>, RecipeStoreError> {
        // The catalog schema already restricts ids; checked again because this builds a path.
        if !is_recipe_id(id) {
            return Ok(None);
        }
        // A missing file means "no such recipe" only when the directory itself is there.
        let listing = tokio::fs::metadata(&self.dir).await;
        match listing {
            Ok(meta) if meta.is_dir() => {}
            Ok(_) => {
                return Err(RecipeStoreError::Unreachable {
                    location: self.location(),
                    source: std::io::Error::other("not a directory"),
                });
            }
            Err(source) => {
                return Err(RecipeStoreError::Unreachable {
                    location: self.location(),
                    source,
                });
            }
        }
        let text = match tokio::fs::read(self.dir.join(format!("{id}.json"))).await {
            Ok(text) => text,
            Err(error) if error.kind() == ErrorKind::NotFound => return Ok(None),
            Err(source) => {
                return Err(RecipeStoreError::Unreachable {
                    location: self.location(),
                    source,
                });
            }
        };
        serde_json::from_slice(&text)
            .map(Some)
            .map_err(|error| RecipeStoreError::Corrupt {
                id: id.to_owned(),
                location: self.location(),
                reason: error.to_string(),
            })
    }
}

fn is_recipe_id(id: &str) -> bool {
    let mut chars = id.chars();
    matches!(chars.next(), Some(c) if c.is_ascii_lowercase() || c.is_ascii_digit())
        && id.len() <= 64
        && chars.all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-')
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn the_shipped_recipes_load() {
        let store = DirectoryRecipeStore::new(concat!(env!("CARGO_MANIFEST_DIR"), "/recipes"));
        for id in ["sourdough-loaf", "roast-vegetables", "steamed-salmon"] {
            let recipe = store.recipe(id).await.unwrap().expect(id);
            assert!(recipe.temperature_c.min <= recipe.temperature_c.max, "{id}");
            assert!(!recipe.programs.is_empty(), "{id}");
        }
        assert_eq!(store.recipe("../Cargo").await.unwrap(), None);
    }
}
