//! RFC 8823: the "challenge" e-mail (CA → user, §3.1) and the "response" e-mail (user → CA,
//! §3.2): builders and checkers.
//!
//! ```text
//!  ChallengeEmail::build ──► bytes ──► check_challenge ──► ChallengeReport { info, findings }
//!                                                              │
//!  ResponseEmail::reply_to(info, …).build ──► bytes ──► check_response ──► ResponseReport
//! ```
//!
//! The checkers work at the header and body level. Cryptographic DKIM and S/MIME verification
//! needs DNS and keys, so it belongs to the mail plane (`acmeproof-mocks`), which calls these
//! checkers for everything else.

mod body;
// The builders and checkers parse and build mail (mail-parser, mail-builder): feature `mail`.
#[cfg(feature = "mail")]
mod challenge;
pub mod dkim;
#[cfg(feature = "mail")]
mod headers;
#[cfg(feature = "mail")]
mod response;
pub mod subject;

pub use body::ChallengeBody;
#[cfg(feature = "mail")]
pub use challenge::{
    ChallengeContext, ChallengeEmail, ChallengeInfo, ChallengeReport, check_challenge,
};
#[cfg(feature = "mail")]
pub use response::{
    DigestBlock, ExpectedDigest, ResponseBody, ResponseContext, ResponseEmail, ResponseReport,
    check_response, extract_digest,
};

/// Why a message could not be checked at all. Anything short of this is a finding.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum MailError {
    /// The input holds no header section a mail parser can read.
    #[error("not an e-mail message: no header fields could be parsed")]
    NotAMessage,
    /// The input is larger than the checker's bound.
    #[error("message is {0} octets, over the {MAX_MESSAGE_OCTETS}-octet bound")]
    TooLarge(usize),
}

/// The largest message a checker reads. Challenge and response mails are a few kilobytes; the
/// bound keeps a hostile input from costing more than a parse of this size.
pub const MAX_MESSAGE_OCTETS: usize = 1 << 20;

/// Header fields a challenge's DKIM `h=` must cover (RFC 8823 §3.1 item 6, SMIME-29).
pub const CHALLENGE_DKIM_MUST_SIGN: &[&str] = &[
    "From",
    "Sender",
    "Reply-To",
    "To",
    "CC",
    "Subject",
    "Date",
    "In-Reply-To",
    "References",
    "Message-ID",
    "Auto-Submitted",
    "Content-Type",
    "Content-Transfer-Encoding",
];

/// Header fields a response's DKIM `h=` must cover (RFC 8823 §3.2 item 9, SMIME-52): the
/// challenge list without Auto-Submitted.
pub const RESPONSE_DKIM_MUST_SIGN: &[&str] = &[
    "From",
    "Sender",
    "Reply-To",
    "To",
    "CC",
    "Subject",
    "Date",
    "In-Reply-To",
    "References",
    "Message-ID",
    "Content-Type",
    "Content-Transfer-Encoding",
];

/// Header fields both DKIM `h=` lists SHOULD also cover (SMIME-30, SMIME-53).
pub const DKIM_SHOULD_SIGN: &[&str] = &[
    "Resent-Date",
    "Resent-From",
    "Resent-To",
    "Resent-Cc",
    "List-Id",
    "List-Help",
    "List-Unsubscribe",
    "List-Subscribe",
    "List-Post",
    "List-Owner",
    "List-Archive",
    "List-Unsubscribe-Post",
];

/// The first line of the response block (RFC 8823 §3.2 item 7).
pub const BEGIN_LINE: &str = "-----BEGIN ACME RESPONSE-----";
/// The last line of the response block (RFC 8823 §3.2 item 7).
pub const END_LINE: &str = "-----END ACME RESPONSE-----";
/// The Auto-Submitted value RFC 8823 §3.1 item 5 asks for.
pub const AUTO_SUBMITTED_ACME: &str = "auto-generated; type=acme";

/// A MIME boundary derived from the Message-ID: mail-builder would otherwise draw one from the
/// clock, and a seeded run must build the same bytes every time.
#[cfg(feature = "mail")]
fn boundary_for(message_id: &str) -> String {
    format!("acme-{}", message_id.replace(['@', '.', '<', '>'], "-"))
}
