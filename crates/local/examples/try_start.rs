#[tokio::main]
async fn main() -> anyhow::Result<()> {
    tracing_subscriber_init();
    let mut options = postoffice_local::Options::new(std::env::args().nth(1).unwrap_or(".".into()));
    options.run_dir = Some(
        std::path::PathBuf::from("/tmp/lead-run")
            .join(chrono::Utc::now().format("%H%M%S").to_string()),
    );
    options.time_scale = 0.01;
    if let Ok(dir) = std::env::var("TRY_TERRAFORM") {
        options.terraform = Some(dir.into());
    }
    let post_office =
        postoffice_local::LocalPostOffice::start(options, |step| eprintln!("• {step}")).await?;
    eprintln!("{:?}", post_office.startup);
    eprintln!("problems: {:#?}", post_office.problems());
    let plan = post_office.plan();
    for (name, f) in &plan.functions {
        eprintln!("function {name} url {:?}", f.url);
    }
    for t in plan.topics.values() {
        for s in &t.subscriptions {
            eprintln!("{} -> {:?} confirmed", s.topic_arn, s.endpoint);
        }
    }
    Ok(())
}
fn tracing_subscriber_init() {}
