//! `postoffice sns`: check SNS messages the way a bridge does.

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use chrono::{DateTime, Utc};
use postoffice::sns::{
    CertificateFetcher, FixedClock, HttpsCertificateFetcher, SnsMessage, StaticCertificateFetcher,
    Verifier,
};

#[derive(Debug, clap::Subcommand)]
pub enum SnsCommand {
    /// Verify the signature of an SNS message (HTTP body or the `Sns` object of a Lambda event).
    ///
    /// Prints `valid: TYPE MESSAGE_ID vVERSION` and exits 0, or prints `invalid: REASON` and
    /// exits 1. The SigningCertURL must be an SNS certificate URL even with --cert.
    Verify(VerifyArgs),
}

#[derive(Debug, clap::Args)]
pub struct VerifyArgs {
    /// The SNS message, a JSON file.
    #[arg(value_name = "MESSAGE_FILE")]
    message_file: PathBuf,
    /// Read the signing certificate from this PEM file instead of fetching SigningCertURL.
    #[arg(long, value_name = "CERT.pem")]
    cert: Option<PathBuf>,
    /// Check the certificate's validity at this time instead of now.
    #[arg(long, value_name = "RFC3339_TIME", value_parser = parse_time)]
    at: Option<DateTime<Utc>>,
}

pub async fn run(command: SnsCommand) -> anyhow::Result<ExitCode> {
    match command {
        SnsCommand::Verify(args) => Ok(match verify(&args).await {
            Ok(message) => {
                println!(
                    "valid: {} {} v{}",
                    message.message_type, message.message_id, message.signature_version
                );
                ExitCode::SUCCESS
            }
            Err(reason) => {
                println!("invalid: {reason}");
                ExitCode::FAILURE
            }
        }),
    }
}

/// The verified message, or why it is invalid as `reason: detail`.
async fn verify(args: &VerifyArgs) -> Result<SnsMessage, String> {
    let body = read(&args.message_file, "message")?;
    let message =
        SnsMessage::parse(&body).map_err(|error| format!("malformed-message: {error}"))?;
    let clock = FixedClock(args.at.unwrap_or_else(Utc::now));
    match &args.cert {
        Some(path) => {
            let fetcher = StaticCertificateFetcher::new()
                .with_certificate(&message.signing_cert_url, read(path, "certificate")?);
            verify_with(fetcher, clock, message).await
        }
        None => {
            let fetcher = HttpsCertificateFetcher::new()
                .map_err(|error| format!("certificate-unavailable: {error}"))?;
            verify_with(fetcher, clock, message).await
        }
    }
}

async fn verify_with(
    fetcher: impl CertificateFetcher,
    clock: FixedClock,
    message: SnsMessage,
) -> Result<SnsMessage, String> {
    match Verifier::new(fetcher, clock).verify(&message).await {
        Ok(()) => Ok(message),
        Err(error) => Err(format!("{}: {error}", error.reason())),
    }
}

fn read(path: &Path, what: &str) -> Result<Vec<u8>, String> {
    std::fs::read(path).map_err(|error| {
        format!(
            "unreadable-file: cannot read {what} {}: {error}",
            path.display()
        )
    })
}

fn parse_time(value: &str) -> Result<DateTime<Utc>, String> {
    DateTime::parse_from_rfc3339(value)
        .map(|time| time.with_timezone(&Utc))
        .map_err(|error| format!("not an RFC 3339 time (e.g. 2022-01-01T00:00:00Z): {error}"))
}
