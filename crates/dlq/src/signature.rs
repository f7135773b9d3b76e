//! The signature check of redrive: the bridge's [`Verifier`] (certificate URL policy, chain of
//! trust, minimum signature version), as the [`Authenticate`] port.

use async_trait::async_trait;
use postoffice::sns::{CertificateFetcher, Clock, SnsMessage, Verifier};

use crate::ports::{Authenticate, Authenticity};

#[async_trait]
impl<F, C> Authenticate for Verifier<F, C>
where
    F: CertificateFetcher + 'static,
    C: Clock + 'static,
{
    async fn authenticate(&self, message: &SnsMessage) -> Authenticity {
        match self.verify(message).await {
            Ok(()) => Authenticity::Genuine,
            Err(error) if error.is_transient() => {
                Authenticity::Unverifiable(format!("{}: {error}", error.reason()))
            }
            Err(error) => Authenticity::Refused(format!("{}: {error}", error.reason())),
        }
    }
}
