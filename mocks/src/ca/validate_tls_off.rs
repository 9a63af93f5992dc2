//! The draft-ietf-acme-email-tls validation in a CA built without the `email-tls` feature: the
//! orders and challenges are still made (they are plain RFC 8555 resources), but validating one
//! fails with a problem document saying why. The same name as the real module
//! (`validate_tls.rs`), so the CA's dispatcher calls it without a cfg of its own.

use super::problem::Problem;
use super::server::CaShared;
use super::validate::Job;

/// Why an email-tls challenge cannot be validated by this build.
pub const WITHOUT_EMAIL_TLS: &str = "this CA was built without the `email-tls` feature of \
     acmeproof-mocks: it cannot validate dns-email-00 or capability-*-00 challenges";

/// Refuses every email-tls challenge with [`WITHOUT_EMAIL_TLS`].
pub(crate) async fn validate(_ca: &CaShared, job: &Job) -> Result<(), Problem> {
    // The world's log names what was refused, as a real validation's failure would.
    tracing::warn!(
        challenge = %job.challenge,
        kind = job.kind.name(),
        target = ?job.mail,
        "email-tls challenge refused: built without the email-tls feature"
    );
    Err(Problem::internal(format!(
        "{}: {WITHOUT_EMAIL_TLS}",
        job.kind.name()
    )))
}
