//! Mail that looks like a challenge and must not be answered (RFC 8823 §3.1: an MUA ignores
//! an unexpected challenge, one whose Subject marks a reply, and one that fails validation).

use acmeproof_mocks::dkim::{DkimAlgorithm, DkimKey};
use acmeproof_mocks::relay::signed_fields;
use acmeproof_mocks::seed::SeededRng;
use acmeproof_protocol::smime::ChallengeEmail;

use super::model::Lookalike;

/// The kinds [`build`] knows.
pub const KINDS: &[Lookalike] = Lookalike::ALL;

/// A lookalike of `kind` to `to`, next to a CA whose challenges come from `ca_from`:
/// - `other-sender`: a well-formed challenge from another address (SMIME-22);
/// - `re-subject`: one from the CA's address whose Subject starts `Re:` (SMIME-9, SMIME-17);
/// - `forged-dkim`: one from the CA's address signed by a key its DNS does not publish
///   (SMIME-28, SMIME-35); the key comes from `rng`.
pub fn build(kind: Lookalike, ca_from: &str, to: &str, rng: &SeededRng) -> Result<Vec<u8>, String> {
    let fake = |from: &str, part1: &str| {
        ChallengeEmail::new(from, to, part1, format!("{part1}@lookalike.test"), 0).build()
    };
    let ca_domain = acmeproof_protocol::address::domain_of(ca_from).unwrap_or_default();
    match kind {
        Lookalike::OtherSender => Ok(fake("acme-challenge@evil.test", "AAAAAAAAAAAAAAAAAAAAAA")),
        Lookalike::ReSubject => Ok(String::from_utf8_lossy(&fake(
            ca_from,
            "BBBBBBBBBBBBBBBBBBBBBA",
        ))
        .replacen("Subject: ACME:", "Subject: Re: ACME:", 1)
        .into_bytes()),
        Lookalike::ForgedDkim => {
            let forger =
                DkimKey::generate(ca_domain, "unpublished", DkimAlgorithm::Ed25519Sha256, rng)
                    .map_err(|e| e.to_string())?;
            forger
                .sign(&fake(ca_from, "CCCCCCCCCCCCCCCCCCCCCA"), &signed_fields())
                .map_err(|e| e.to_string())
        }
    }
}
