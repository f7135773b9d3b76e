use example_kitchen::{DirectoryRecipeStore, Kitchen, RECIPES_DIR_ENV};

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error + Send + Sync>> {
    postoffice::handler::init_tracing();
    let recipes_dir = std::env::var(RECIPES_DIR_ENV)
        .map_err(|_| format!("{RECIPES_DIR_ENV} is not set; it names the recipe directory"))?;
    let kitchen = Kitchen::new(DirectoryRecipeStore::new(recipes_dir));
    postoffice::handler::run(kitchen).await?;
    Ok(())
}
