//! Scenarios: the conformance suite as data (`scenarios/**/*.toml`, documented in
//! `scenarios/README.md`).
//!
//! - [`lookalike`]: mail that looks like a challenge and must be ignored;
//! - [`mailboxes`]: one mailbox per scenario in a world the scenarios share;
//! - [`model`]: what a file says;
//! - [`load`]: reading files, with errors that name the file, the line and the field;
//! - [`rewrite`]: the changes a scenario makes to a reply;
//! - [`run`]: one scenario against the reference implementations, producing findings;
//! - [`transcript`]: the wire of a run, from every server of the world.

pub mod deliver;
pub mod load;
pub mod lookalike;
pub mod mailboxes;
pub mod model;
pub mod rewrite;
pub mod run;
pub mod transcript;
pub mod variants;

use std::path::PathBuf;
use std::time::Duration;

use acmeproof_mocks::world::WorldConfig;

pub use load::{LoadError, load_dir, load_file};
pub use model::{Outcome, Role, ScenarioFile, Step};

/// A scenario read from its file, with its world built.
#[derive(Debug, Clone)]
pub struct LoadedScenario {
    /// Where it came from.
    pub path: PathBuf,
    /// What it says.
    pub file: ScenarioFile,
    /// The example world with the scenario's `[world]` merged in.
    pub world: WorldConfig,
    /// The file's text, as read.
    pub source: String,
    /// The client-side variant values `acmeproof matrix` set in memory, by variant name: a
    /// scenario re-read from `source` (with mailboxes of its own, against a server under
    /// test) gets them again.
    pub client_values: Vec<(&'static str, String)>,
}

impl LoadedScenario {
    /// The seed: the file's, or one derived from the id (stable across runs and machines).
    pub fn seed(&self) -> u64 {
        self.file.seed.unwrap_or_else(|| {
            use sha2::Digest as _;
            let hash = sha2::Sha256::digest(self.file.id.as_bytes());
            u64::from_be_bytes(hash[..8].try_into().unwrap_or_default())
        })
    }

    /// A rough estimate of how long the scenario waits on purpose (relay delays and
    /// greylisting, Retry-After, delayed validation): the runner starts the longest
    /// first, so they do not make the tail of a run.
    pub fn expected_wait_ms(&self) -> u64 {
        let mail = &self.world.mail;
        let relays: u64 = mail
            .relays
            .iter()
            .map(|r| {
                let b = &r.behaviour;
                // A reordering relay holds a message only until a later one overtakes it: no
                // wait of its own.
                b.delay_ms
                    + if b.greylist {
                        mail.retry_delay_ms.max(500)
                    } else {
                        0
                    }
            })
            .sum();
        let knobs = &self.world.ca.knobs;
        relays + knobs.validation_delay_ms + knobs.retry_after_secs.unwrap_or(0) * 1000
    }

    /// The spec: the id's first segment (`rfc8823`).
    pub fn spec(&self) -> &str {
        self.file.id.split('/').next().unwrap_or_default()
    }
}

/// The outcome of a run: `error` when the harness broke, `fail` when the system under test
/// broke without a rule to name (its own error), else from the findings' levels (`strict` makes
/// SHOULD-level findings fail).
pub fn outcome_of(run: &run::ScenarioRun, strict: bool) -> Outcome {
    if let Some((outcome, _)) = &run.verdict {
        *outcome
    } else if run.error.is_some() {
        Outcome::Error
    } else if run.sut_error.is_some() {
        Outcome::Fail
    } else {
        Outcome::from_checked(&run.findings, strict)
    }
}

pub use acmeproof_reports::StepStatus;

/// What a step did.
#[derive(Debug, Clone)]
pub struct StepLog {
    /// Its position, from 0.
    pub index: usize,
    /// Its action.
    pub action: String,
    /// How it ended.
    pub status: StepStatus,
    /// Why it failed.
    pub detail: Option<String>,
    /// How long it took.
    pub duration: Duration,
}
