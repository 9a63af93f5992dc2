//! RFC 8823 `email-reply-00` in a CA built without the `mail` feature: there is no mail stack
//! to send the challenge mail or read the reply, so a client that POSTs such a challenge gets
//! it back `invalid`, its `error` a problem document saying why. The same names as the real
//! module (`email.rs`), so the CA's always-on code calls them without a cfg of its own.

use std::sync::Arc;

use super::problem::Problem;
use super::server::CaShared;

/// Why an email-reply-00 challenge cannot be validated by this build.
pub const WITHOUT_MAIL: &str = "this CA was built without the `mail` feature of acmeproof-mocks: \
     it cannot send an RFC 8823 challenge mail or read the reply";

/// The CA's mail plumbing: none can exist without the mail stack.
#[derive(Debug, Clone)]
pub enum CaMail {}

/// The exchange of one email-reply-00 challenge: never registered in this build.
#[derive(Debug, Clone, Default)]
pub struct EmailState {
    /// Replies that matched no check (always 0 here).
    pub ignored_replies: u32,
}

/// Registers nothing: the challenge is refused when it is POSTed ([`posted`]).
pub fn register(_ca: &CaShared, _store: &mut super::state::Store, _challenge_id: &str) {}

/// Sends nothing (there is no mail stack).
pub fn send_once(_ca: &Arc<CaShared>, _challenge_id: &str) {}

/// The client POSTed the challenge (RFC 8555 §7.5.1: the CA starts validating): it fails at
/// once with [`WITHOUT_MAIL`], the challenge's and the authorization's `error`.
pub fn posted(ca: &Arc<CaShared>, challenge_id: &str) {
    let knobs = ca.knobs();
    let now = ca.clock.now();
    ca.store().finish_validation(
        challenge_id,
        Err(Problem::internal(WITHOUT_MAIL)),
        now,
        &knobs,
    );
    let _ = ca.validations.send(challenge_id.to_owned());
}

/// A read-only proof changes nothing: [`posted`] refuses the challenge.
pub async fn read_only_proof(_ca: &Arc<CaShared>, _challenge_id: &str, _token_part1: &str) {}
