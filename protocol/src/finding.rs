//! Findings: what a checker saw, tagged with the requirement it concerns.
//!
//! A deviation is a finding, not an `Err`. A checker collects every
//! finding instead of stopping at the first; verdicts are computed from them later.

use serde::{Deserialize, Serialize};

use crate::requirements;

/// The normative strength of a requirement (BCP 14), as the catalogue records it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Level {
    /// MUST, MUST NOT, REQUIRED, SHALL: violating it fails conformance.
    Must,
    /// SHOULD, SHOULD NOT, RECOMMENDED, and the texts' lower-case "should".
    Should,
    /// MAY, OPTIONAL.
    May,
    /// Descriptive text with no keyword: what the protocol does, not how strongly.
    Info,
}

impl Level {
    /// The keyword as printed in reports.
    pub fn as_str(self) -> &'static str {
        match self {
            Level::Must => "MUST",
            Level::Should => "SHOULD",
            Level::May => "MAY",
            Level::Info => "INFO",
        }
    }
}

impl std::fmt::Display for Level {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// One observation about an input, tied to a requirement id of the catalogue.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Finding {
    /// The requirement id, e.g. `SMIME-28`; always present in [`requirements::CATALOGUE`].
    pub req: &'static str,
    /// The level this finding carries. Usually the catalogue's level for `req`; a checker may
    /// lower it (a MUST of another actor seen as a SHOULD-level hint), never raise it.
    pub level: Level,
    /// What the requirement expects, in one line.
    pub expected: String,
    /// What was seen instead, in one line.
    pub observed: String,
}

impl Finding {
    /// A finding at the catalogue's level for `req`.
    ///
    /// An id missing from the catalogue is a programming error caught by the catalogue tests;
    /// here it is reported at [`Level::Info`] rather than panicking on input.
    pub fn new(
        req: &'static str,
        expected: impl Into<String>,
        observed: impl Into<String>,
    ) -> Self {
        let level = requirements::lookup(req).map_or(Level::Info, |r| r.level);
        Finding {
            req,
            level,
            expected: expected.into(),
            observed: observed.into(),
        }
    }

    /// The same finding at another level.
    pub fn at(mut self, level: Level) -> Self {
        self.level = level;
        self
    }
}

/// The findings of one check, in the order they were made.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
#[serde(transparent)]
pub struct Findings(pub Vec<Finding>);

impl Findings {
    /// No findings yet.
    pub fn new() -> Self {
        Self::default()
    }

    /// Records a finding.
    pub fn push(&mut self, finding: Finding) {
        self.0.push(finding);
    }

    /// Records a finding at the catalogue's level for `req`.
    pub fn add(
        &mut self,
        req: &'static str,
        expected: impl Into<String>,
        observed: impl Into<String>,
    ) {
        self.push(Finding::new(req, expected, observed));
    }

    /// Whether any finding is at MUST level: the input is not conformant.
    pub fn has_must(&self) -> bool {
        self.0.iter().any(|f| f.level == Level::Must)
    }

    /// Whether a finding for `req` was made.
    pub fn contains(&self, req: &str) -> bool {
        self.0.iter().any(|f| f.req == req)
    }

    /// The ids of all findings, in order (handy in tests).
    pub fn ids(&self) -> Vec<&'static str> {
        self.0.iter().map(|f| f.req).collect()
    }

    /// The last finding, to adjust (a caller that lowers what it just added).
    pub fn last_mut(&mut self) -> Option<&mut Finding> {
        self.0.last_mut()
    }

    /// The findings as a slice.
    pub fn as_slice(&self) -> &[Finding] {
        &self.0
    }

    /// Whether there are no findings.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// Appends all findings of `other`.
    pub fn extend(&mut self, other: Findings) {
        self.0.extend(other.0);
    }
}

impl IntoIterator for Findings {
    type Item = Finding;
    type IntoIter = std::vec::IntoIter<Finding>;
    fn into_iter(self) -> Self::IntoIter {
        self.0.into_iter()
    }
}
