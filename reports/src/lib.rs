//! # acmeproof-reports
//!
//! The result model of an acmeproof run, and its renderers. This is the CI contract: its serde
//! form carries a `schema_version` once runs exist.
//!
//! ```text
//!  findings (acmeproof-protocol) ──► Verdict ──► RunReport ──► JSON │ JUnit XML │ Markdown │ HTML
//! ```
//!
//! Present now:
//! - [`verdict`]: the verdict of a set of findings (DESIGN.md § Core ideas 2).
//!
//! Planned (with the conformance harness, issue "The conformance harness"):
//! - `model`: `RunReport` → `ScenarioResult` → `StepResult` with findings, transcripts and knob
//!   values, `schema_version`;
//! - `json`, `junit` (quick-junit), `markdown`, `html` (one self-contained file): renderers of
//!   that model, each a pure function from the model to text.
#![forbid(unsafe_code)]
#![warn(missing_docs, clippy::print_stdout, clippy::print_stderr)]

pub mod verdict;

pub use verdict::Verdict;
