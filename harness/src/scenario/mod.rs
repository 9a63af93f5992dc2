//! Scenarios: the conformance suite as data (`scenarios/**/*.toml`, documented in
//! `scenarios/README.md`).
//!
//! - [`model`]: what a file says;
//! - [`load`]: reading files, with errors that name the file, the line and the field;
//! - [`run`]: one scenario against the reference implementations, producing findings;
//! - [`transcript`]: the wire of a run, from every server of the world.

pub mod load;
pub mod model;
pub mod run;
pub mod transcript;

use std::path::PathBuf;
use std::time::Duration;

use acmeproof_mocks::world::WorldConfig;

pub use load::{LoadError, load_dir, load_file};
pub use model::{Role, ScenarioFile, Step};

/// A scenario read from its file, with its world built.
#[derive(Debug, Clone)]
pub struct LoadedScenario {
    /// Where it came from.
    pub path: PathBuf,
    /// What it says.
    pub file: ScenarioFile,
    /// The example world with the scenario's `[world]` merged in.
    pub world: WorldConfig,
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

    /// The spec: the id's first segment (`rfc8823`).
    pub fn spec(&self) -> &str {
        self.file.id.split('/').next().unwrap_or_default()
    }
}

/// The outcome name of a run (`pass`, `pass-non-strict`, `informational`, `fail`, `error`):
/// `error` when the harness broke, else from the findings' levels; `strict` makes SHOULD
/// findings fail.
pub fn outcome_of(run: &run::ScenarioRun, strict: bool) -> &'static str {
    use acmeproof_protocol::Level;
    if run.error.is_some() {
        return "error";
    }
    let levels: Vec<Level> = run.findings.as_slice().iter().map(|f| f.level).collect();
    if levels.contains(&Level::Must) || (strict && levels.contains(&Level::Should)) {
        "fail"
    } else if levels
        .iter()
        .any(|l| matches!(l, Level::Should | Level::May))
    {
        "pass-non-strict"
    } else if levels.is_empty() {
        "pass"
    } else {
        "informational"
    }
}

/// How a step ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum StepStatus {
    /// Done, and its expectation held.
    Ok,
    /// Its expectation did not hold, or it could not run.
    Failed,
    /// Not reached (an earlier step broke the run).
    NotRun,
}

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
