use example_kitchen::{DirectoryRecipeStore, Kitchen, RECIPES_DIR_ENV};

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error + Send + Sync>> {
    postoffice::handler::init_tracing();
    // Packaged in the function's zip (`recipes/`); KITCHEN_RECIPES_DIR points elsewhere.
    let recipes_dir = match std::env::var(RECIPES_DIR_ENV) {
        Ok(dir) => dir,
        Err(_) => std::env::var("LAMBDA_TASK_ROOT")
            .map(|root| format!("{root}/recipes"))
            .map_err(|_| format!("neither {RECIPES_DIR_ENV} nor LAMBDA_TASK_ROOT is set"))?,
    };
    let kitchen = Kitchen::new(DirectoryRecipeStore::new(recipes_dir));
    postoffice::handler::run(kitchen).await?;
    Ok(())
}
