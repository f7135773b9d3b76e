use example_kitchen::{DirectoryRecipeStore, Kitchen, recipes_dir_from_env};

/// The handler Lambda (`bootstrap`).
#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error + Send + Sync>> {
    postoffice::handler::init_tracing();
    let kitchen = Kitchen::new(DirectoryRecipeStore::new(recipes_dir_from_env()?));
    postoffice::handler::run(kitchen).await?;
    Ok(())
}
