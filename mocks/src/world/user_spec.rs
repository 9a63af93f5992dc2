//! A mailbox owner of a world's `[mail]` table: one type for the full mail plane (`mail.rs`)
//! and for a build without it (`mail_off.rs`), which still parses the table.

use serde::{Deserialize, Serialize};

/// A mailbox owner.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct UserSpec {
    /// The address (an EAI address is fine: `δοκιμή@παράδειγμα.δοκιμή`).
    pub address: String,
    /// The password for Submission, IMAP and POP3.
    pub password: String,
}
