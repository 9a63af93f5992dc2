//! The world's mail plane in a build without the `mailbox` feature (the plane is SMTP, the
//! relays and DKIM of `mail`, plus IMAP and POP3 for its users): the `[mail]` table still parses,
//! so one world TOML serves every build, but a world that asks for the plane (`enabled`, the
//! default) fails to start with [`WITHOUT_MAILBOX`]. The same names as the real module
//! (`mail.rs`), so the world's always-on code calls them without a cfg of its own.

use serde::{Deserialize, Serialize};

use crate::ca::Ca;
use crate::clock::Clock;
use crate::dns::DnsServer;
use crate::seed::Seed;

/// Why a world with `[mail] enabled` cannot start in this build.
pub const WITHOUT_MAILBOX: &str = "[mail] enabled = true, but acmeproof-mocks was built \
     without its `mailbox` feature (the mail plane: SMTP, relays, DKIM, IMAP, POP3); set \
     `[mail] enabled = false` (`WorldBuilder::mail(false)`) or turn the feature on";

pub use super::user_spec::UserSpec;

/// The `[mail]` table of a world config: `enabled` (on by default, as in a full build), and
/// the rest kept as written, unread.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct MailConfig {
    /// Start the mail plane: refused in this build.
    pub enabled: bool,
    /// Every other key of the table (users, relays, DKIM, ...), which only the mail plane reads.
    #[serde(flatten)]
    pub rest: toml::Table,
}

impl Default for MailConfig {
    fn default() -> Self {
        MailConfig {
            enabled: true,
            rest: toml::Table::new(),
        }
    }
}

/// Why the mail plane could not start.
#[derive(Debug, thiserror::Error)]
pub enum MailPlaneError {
    /// The build has no mail plane.
    #[error("{WITHOUT_MAILBOX}")]
    NotBuilt,
}

/// The running mail plane: none can exist in this build.
#[derive(Debug)]
pub enum MailPlane {}

impl MailPlane {
    /// Refuses to start: [`MailPlaneError::NotBuilt`].
    pub async fn start(
        _config: &MailConfig,
        _seed: Seed,
        _clock: &Clock,
        _dns: &DnsServer,
        _pki: &crate::ca::pki::Pki,
        _ca: &Ca,
    ) -> Result<MailPlane, MailPlaneError> {
        Err(MailPlaneError::NotBuilt)
    }

    /// Nothing to stop.
    pub async fn shutdown(&self) {
        match *self {}
    }
}
