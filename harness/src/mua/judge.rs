//! Which mail in the INBOX the MUA answers. RFC 8823 §3.1 makes an MUA ignore a challenge that
//! breaks a MUST; on top of that it answers only what it is waiting for (the CA's `from`, its
//! own address), only once per token-part1, and only with a DKIM signature of the sender's
//! domain when DKIM is required (RFC 8823 §3.2 requires it of replies; §7 of challenges).
//! A lenient MUA (a CA's judge) answers its sender's mail despite such defects.

use std::collections::BTreeSet;

use acmeproof_mocks::dkim::DkimVerifier;
use acmeproof_protocol::smime::dkim::{CHALLENGE_RULES, judge_dkim};
use acmeproof_protocol::smime::{ChallengeContext, ChallengeInfo, check_challenge};

/// What the MUA is waiting for.
#[derive(Debug, Clone)]
pub struct Expected {
    /// The challenge object's `from` (RFC 8823 §3.1: the sender of the challenge mail).
    pub from: String,
    /// The address being validated.
    pub to: String,
    /// Whether a DKIM pass for the sender's domain is required.
    pub require_dkim: bool,
    /// Lenient: a mail from the expected sender that carries a token-part1 is answered even
    /// when it breaks a MUST of RFC 8823 §3.1 (which says a conformant MUA ignores it). A
    /// judge of a CA uses it so that one defect of the challenge mail does not hide the rest of
    /// the exchange; the defects are findings all the same.
    pub lenient: bool,
}

/// The verdict on one message.
#[derive(Debug, Clone)]
pub enum Judgement {
    /// The challenge to answer.
    Answer {
        /// What the mail says.
        info: ChallengeInfo,
        /// Whether DKIM of the From domain verified.
        dkim_pass: bool,
    },
    /// Not answered, and why.
    Ignore(String),
}

/// Judges `raw` against `expected`; `answered` holds the token-part1 values replied to
/// already.
pub async fn judge(
    raw: &[u8],
    expected: &Expected,
    answered: &BTreeSet<String>,
    verifier: &DkimVerifier,
) -> Judgement {
    let from_domain = acmeproof_protocol::address::domain_of(&expected.from).unwrap_or_default();
    // One DKIM rule (protocol::smime::dkim): the signature that verifies must also carry d= and
    // h= as RFC 8823 §3.1 item 6 says. Where DKIM is required, a mail that fails it breaks a
    // MUST of §3.1 and is ignored like any other.
    let signatures = verifier.check(raw).await;
    let dkim_pass = judge_dkim(&signatures, Some(from_domain), &CHALLENGE_RULES).passes();
    let context = ChallengeContext {
        expected_from: Some(expected.from.clone()),
        expected_to: Some(expected.to.clone()),
        case: Default::default(),
        dkim: expected.require_dkim.then_some(signatures),
    };
    let report = match check_challenge(raw, &context) {
        Ok(report) => report,
        Err(e) => return Judgement::Ignore(format!("not a message: {e}")),
    };
    let subject = report.info.subject.clone().unwrap_or_default();
    let from_expected = report
        .info
        .from
        .as_deref()
        .is_some_and(|f| f.eq_ignore_ascii_case(&expected.from));
    let answerable = expected.lenient && from_expected && report.info.token_part1.is_some();
    if report.ignored && !answerable {
        let broken: Vec<String> = report
            .findings
            .as_slice()
            .iter()
            .filter(|f| f.level == acmeproof_protocol::finding::Level::Must)
            .map(|f| format!("{} ({})", f.req, f.observed))
            .collect();
        return Judgement::Ignore(format!(
            "subject {subject:?}: RFC 8823 §3.1 says ignore it: {}",
            broken.join("; ")
        ));
    }
    let Some(part1) = report.info.token_part1.clone() else {
        return Judgement::Ignore(format!("subject {subject:?}: no token-part1"));
    };
    if answered.contains(&part1) {
        return Judgement::Ignore(format!(
            "subject {subject:?}: token-part1 already answered (one reply per challenge)"
        ));
    }
    Judgement::Answer {
        info: report.info,
        dkim_pass,
    }
}
