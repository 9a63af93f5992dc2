//! # acmeproof-reports
//!
//! The result model of an acmeproof run, and its renderers. The model's serde form is the CI
//! contract and carries a `schema_version` ([`model::SCHEMA_VERSION`]).
//!
//! ```text
//!  findings (acmeproof-protocol) ──► Outcome ──► RunReport ──► JSON │ JUnit XML │ Markdown │ HTML
//!                                       ▲
//!                          waiver file ─┘ (xfail / xpass)
//! ```
//!
//! Depends on: acmeproof-protocol (requirement ids and levels), serde, quick-junit. Must not:
//! depend on the harness or the mocks, or do I/O beyond what a caller hands it: every renderer
//! is a pure function from the model to text.
//!
//! - [`model`]: [`RunReport`] → [`ScenarioResult`] → [`StepResult`], [`FindingRecord`] and
//!   [`TranscriptEntry`], with knob values; [`Outcome`] and how findings and waivers decide it;
//!   [`Gate`]: what a CI gate makes of a run, and its exit code.
//! - [`waivers`]: the waiver file (scenario-id glob → reason).
//! - [`merge`]: the reports of a run split across CI jobs (`--partition K/N`) as one report.
//! - [`verdict`]: the verdict of a single check's findings (used by `acmeproof lint`/`example`);
//!   it maps onto [`Outcome`] with `From`.
//! - Renderers, each a pure function from the model to text: [`json`] (with [`json::parse`]
//!   back), [`junit`] (via quick-junit), [`markdown`] (a PR-comment summary) and [`html`] (one
//!   self-contained file for several runs: matrix, requirement coverage, drill-down).
#![forbid(unsafe_code)]
#![warn(missing_docs, clippy::print_stdout, clippy::print_stderr)]

pub mod html;
pub mod json;
pub mod junit;
pub mod markdown;
pub mod matrix;
pub mod merge;
pub mod model;
pub mod verdict;
pub mod waivers;

pub use model::{
    Channel, Direction, FindingRecord, Gate, OUTCOMES, Outcome, Role, RunReport, SCHEMA_VERSION,
    ScenarioResult, StepResult, StepStatus, Summary, SutKind, ToolInfo, TranscriptEntry,
    apply_waiver,
};
pub use verdict::Verdict;
pub use waivers::{WaiverError, Waivers};

/// Why a report could not be rendered or read back.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum RenderError {
    /// The JSON is not a report.
    #[error("not a report: {0}")]
    Json(#[from] serde_json::Error),
    /// The report has a schema version this crate does not read.
    #[error("report schema version {found} is not supported (this build reads {supported})")]
    SchemaVersion {
        /// The version in the report.
        found: u32,
        /// The version this crate reads and writes.
        supported: u32,
    },
    /// JUnit serialization failed.
    #[error("cannot write JUnit XML: {0}")]
    Junit(#[from] quick_junit::SerializeError),
    /// The JUnit XML could not be brought into the xUnit schema's shape.
    #[error("cannot rewrite JUnit XML: {0}")]
    JunitRewrite(#[from] quick_xml::Error),
}
