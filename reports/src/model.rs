//! The result model of a run: the CI contract.
//!
//! ```text
//!  RunReport ─┬─ ToolInfo, implementation, sut, strict, waiver_file, Summary
//!             └─ ScenarioResult* ─┬─ outcome (computed) / expected (from the scenario file)
//!                                 ├─ FindingRecord*  (req, level, expected, observed, → step, → transcript)
//!                                 ├─ StepResult*
//!                                 └─ TranscriptEntry* (what crossed the wire, in order)
//! ```
//!
//! Its serde form is what CI and other tools read; [`SCHEMA_VERSION`] changes whenever a field is
//! removed or changes meaning. Enums serialize in kebab-case (`pass-non-strict`,
//! `client-to-server`), struct fields in snake_case.

use std::collections::BTreeMap;

use acmeproof_protocol::{Finding, Findings, Level};
use serde::{Deserialize, Serialize};

use crate::verdict::Verdict;

/// The version of the serialized model. Readers reject any other version.
pub const SCHEMA_VERSION: u32 = 1;

/// One run of the harness against one system under test.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RunReport {
    /// Always [`SCHEMA_VERSION`] when written by this crate.
    pub schema_version: u32,
    /// The tool that produced the report.
    pub tool: ToolInfo,
    /// When the run started, RFC 3339 (e.g. `2025-01-31T12:00:00Z`).
    pub started_at: String,
    /// Wall-clock length of the whole run.
    pub duration_ms: u64,
    /// The name of the system under test, e.g. `reference`, `client: my-client`,
    /// `server: https://ca.example/dir`. The HTML matrix uses it as a column title.
    pub implementation: String,
    /// Which face of the system was tested.
    pub sut: SutKind,
    /// Whether SHOULD- and MAY-level findings fail (`--strict`).
    pub strict: bool,
    /// The waiver file in force, if any (as given on the command line).
    pub waiver_file: Option<String>,
    /// Every scenario run, in run order.
    pub scenarios: Vec<ScenarioResult>,
    /// Counts per outcome; [`RunReport::summarize`] recomputes it from `scenarios`.
    pub summary: Summary,
    /// The share of the selection this run covered, `K/N` (`--partition`), or `None` for all of
    /// it. Added after schema version 1 was first written: an older report reads as `None`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub partition: Option<String>,
}

impl RunReport {
    /// A report of the current schema with no scenarios yet.
    pub fn new(
        tool: ToolInfo,
        started_at: impl Into<String>,
        implementation: impl Into<String>,
        sut: SutKind,
        strict: bool,
    ) -> Self {
        RunReport {
            schema_version: SCHEMA_VERSION,
            tool,
            started_at: started_at.into(),
            duration_ms: 0,
            implementation: implementation.into(),
            sut,
            strict,
            waiver_file: None,
            scenarios: Vec::new(),
            summary: Summary::default(),
            partition: None,
        }
    }

    /// Recomputes [`RunReport::summary`] from the scenarios.
    pub fn summarize(&mut self) {
        self.summary = Summary::of(&self.scenarios);
    }

    /// Whether a CI gate accepts the run: every scenario's outcome is a success
    /// ([`Outcome::is_success`]).
    pub fn is_success(&self) -> bool {
        self.scenarios.iter().all(|s| s.outcome.is_success())
    }

    /// What a CI gate makes of the run; `acmeproof run` exits with [`Gate::exit_code`].
    pub fn gate(&self) -> Gate {
        if self.scenarios.iter().any(|s| s.outcome == Outcome::Error) {
            Gate::HarnessError
        } else if self.is_success() {
            Gate::Accepted
        } else {
            Gate::Rejected
        }
    }
}

/// What a CI gate makes of a run, and the exit code that says it.
///
/// | gate | exit | when |
/// |---|---|---|
/// | accepted | 0 | every outcome is `pass`, `pass-non-strict`, `informational`, `skipped` or `xfail` |
/// | rejected | 1 | some `fail`, `unimplemented` or `xpass`, and no `error` |
/// | harness error | 2 | some `error`: the harness broke, so nothing is known of those scenarios |
///
/// Accepted does not mean that anything passed: a run whose every scenario was skipped is
/// accepted too, and its headline ("0 passed, …, 12 skipped") says so.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Gate {
    /// Nothing failed.
    Accepted,
    /// The system under test failed a scenario, lacks a feature one needs, or passed one its
    /// waiver says fails.
    Rejected,
    /// The harness broke in at least one scenario.
    HarnessError,
}

impl Gate {
    /// The process exit code: 0, 1 or 2.
    pub fn exit_code(self) -> u8 {
        match self {
            Gate::Accepted => 0,
            Gate::Rejected => 1,
            Gate::HarnessError => 2,
        }
    }

    /// The name printed in reports.
    pub fn as_str(self) -> &'static str {
        match self {
            Gate::Accepted => "accepted",
            Gate::Rejected => "rejected",
            Gate::HarnessError => "harness error",
        }
    }
}

/// The tool that wrote a report.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ToolInfo {
    /// The tool's name, `acmeproof`.
    pub name: String,
    /// Its version, e.g. `0.1.0`.
    pub version: String,
}

impl ToolInfo {
    /// A tool name and version.
    pub fn new(name: impl Into<String>, version: impl Into<String>) -> Self {
        ToolInfo {
            name: name.into(),
            version: version.into(),
        }
    }
}

/// The kind of system under test.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum SutKind {
    /// The built-in reference client against the built-in mock CA.
    Reference,
    /// An external ACME client, run from a command template.
    Client,
    /// An external ACME server, reached by its directory URL.
    Server,
}

/// The face of a scenario.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Role {
    /// It tests an ACME client (or MUA).
    Client,
    /// It tests an ACME server.
    Server,
    /// It tests either face.
    Both,
}

/// The result of one scenario (with one set of knob values) against the system under test.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ScenarioResult {
    /// The scenario id, spec-clause style: `rfc8823/3.2/digest-split-lines`.
    pub id: String,
    /// What the scenario does, in one line.
    pub title: String,
    /// The first segment of the id, e.g. `rfc8823`; reports group by it.
    pub spec: String,
    /// The requirement ids the scenario exercises (e.g. `SMIME-28`).
    pub requirements: Vec<String>,
    /// The face it tests.
    pub role: Role,
    /// The outcome, after any waiver.
    pub outcome: Outcome,
    /// The outcome the scenario file expects of a conformant implementation.
    pub expected: Outcome,
    /// The waiver's reason, when a waiver matched this scenario.
    pub waiver: Option<String>,
    /// The seed of every random choice, for `--seed` replay.
    pub seed: u64,
    /// Wall-clock length of the scenario.
    pub duration_ms: u64,
    /// The knob values of this run, e.g. `token_join = "either"`.
    pub variants: BTreeMap<String, String>,
    /// Every finding, in the order made.
    pub findings: Vec<FindingRecord>,
    /// The steps of the scenario, in order.
    pub steps: Vec<StepResult>,
    /// What crossed the wire, in order.
    pub transcript: Vec<TranscriptEntry>,
    /// What broke, for [`Outcome::Error`], [`Outcome::Skipped`] and [`Outcome::Unimplemented`].
    pub error: Option<String>,
}

impl ScenarioResult {
    /// A result with the given id and title, no findings, steps or transcript, and outcome
    /// [`Outcome::Pass`]. `spec` is the id's first segment.
    pub fn new(id: impl Into<String>, title: impl Into<String>, role: Role) -> Self {
        let id = id.into();
        let spec = spec_of(&id).to_owned();
        ScenarioResult {
            id,
            title: title.into(),
            spec,
            requirements: Vec::new(),
            role,
            outcome: Outcome::Pass,
            expected: Outcome::Pass,
            waiver: None,
            seed: 0,
            duration_ms: 0,
            variants: BTreeMap::new(),
            findings: Vec::new(),
            steps: Vec::new(),
            transcript: Vec::new(),
            error: None,
        }
    }
}

/// The first segment of a scenario id: `rfc8823` for `rfc8823/3.2/digest-split-lines`.
pub fn spec_of(id: &str) -> &str {
    id.split('/').next().unwrap_or(id)
}

/// One finding as reported: a [`Finding`] plus where it was made.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FindingRecord {
    /// The requirement id, e.g. `SMIME-28`.
    pub req: String,
    /// The level the finding carries.
    pub level: Level,
    /// What the requirement expects, in one line.
    pub expected: String,
    /// What was seen instead, in one line.
    pub observed: String,
    /// The index of the step during which it was made ([`StepResult::index`]).
    pub step: Option<usize>,
    /// The index into [`ScenarioResult::transcript`] of the wire data it concerns.
    pub transcript: Option<usize>,
}

impl FindingRecord {
    /// The same record, tied to a step.
    pub fn at_step(mut self, step: usize) -> Self {
        self.step = Some(step);
        self
    }

    /// The same record, tied to a transcript entry.
    pub fn at_transcript(mut self, index: usize) -> Self {
        self.transcript = Some(index);
        self
    }
}

impl From<&Finding> for FindingRecord {
    fn from(f: &Finding) -> Self {
        FindingRecord {
            req: f.req.to_owned(),
            level: f.level,
            expected: f.expected.clone(),
            observed: f.observed.clone(),
            step: None,
            transcript: None,
        }
    }
}

/// One step of a scenario.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct StepResult {
    /// Its position in the scenario, from 0.
    pub index: usize,
    /// The step's action as the scenario file names it, e.g. `order`, `reply`,
    /// `expect-challenge-state`.
    pub action: String,
    /// What it did, in one line.
    pub summary: String,
    /// How it ended.
    pub status: StepStatus,
    /// Why it failed or was skipped.
    pub detail: Option<String>,
}

/// How a step ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum StepStatus {
    /// It ran and its expectation held.
    Ok,
    /// It ran and its expectation did not hold (or it broke).
    Failed,
    /// It was skipped on purpose (a knob or capability turned it off).
    Skipped,
    /// An earlier step ended the scenario first.
    NotRun,
}

impl StepStatus {
    /// The name printed in reports.
    pub fn as_str(self) -> &'static str {
        match self {
            StepStatus::Ok => "ok",
            StepStatus::Failed => "failed",
            StepStatus::Skipped => "skipped",
            StepStatus::NotRun => "not-run",
        }
    }
}

/// One line or exchange that crossed the wire.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TranscriptEntry {
    /// Its order in the world's transcript.
    pub seq: u64,
    /// Milliseconds since the world started (virtual time when the clock is virtual).
    pub at_ms: u64,
    /// The protocol.
    pub channel: Channel,
    /// Who sent it.
    pub direction: Direction,
    /// The connection it belongs to, when the channel has connections.
    pub conn: Option<u64>,
    /// The server end, e.g. `127.0.0.1:2525` or `mx.example.test`.
    pub endpoint: String,
    /// The line or exchange, as text (as seen on the wire: untrusted).
    pub text: String,
}

/// The protocol of a transcript entry.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Channel {
    /// ACME over HTTPS.
    Http,
    /// SMTP (MX, Submission, relay).
    Smtp,
    /// LMTP.
    Lmtp,
    /// IMAP.
    Imap,
    /// POP3.
    Pop3,
    /// DNS.
    Dns,
    /// An external program the harness ran (a client under test): its command line and
    /// output.
    Process,
}

impl Channel {
    /// The name printed in reports.
    pub fn as_str(self) -> &'static str {
        match self {
            Channel::Http => "http",
            Channel::Smtp => "smtp",
            Channel::Lmtp => "lmtp",
            Channel::Imap => "imap",
            Channel::Pop3 => "pop3",
            Channel::Dns => "dns",
            Channel::Process => "process",
        }
    }
}

/// The direction of a transcript entry.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Direction {
    /// From the connecting side.
    ClientToServer,
    /// From the listening side.
    ServerToClient,
}

impl Direction {
    /// An arrow for reports: `→` client to server, `←` server to client.
    pub fn arrow(self) -> &'static str {
        match self {
            Direction::ClientToServer => "→",
            Direction::ServerToClient => "←",
        }
    }
}

/// The outcome of a scenario.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Outcome {
    /// No findings.
    Pass,
    /// Only SHOULD- or MAY-level findings (besides INFO ones), and the run is not strict.
    PassNonStrict,
    /// Only INFO-level findings: something worth telling, nothing a requirement grades.
    Informational,
    /// The system under test says it does not support a feature the scenario needs.
    Unimplemented,
    /// A MUST-level finding, or (strict) a SHOULD- or MAY-level one.
    Fail,
    /// The harness itself broke; nothing is known about the system under test.
    Error,
    /// Not run: a capability it needs is missing.
    Skipped,
    /// A waived scenario that did not succeed: the known failure the waiver describes.
    Xfail,
    /// A waived scenario that succeeded: the waiver is stale.
    Xpass,
}

/// Every outcome, in report order.
pub const OUTCOMES: [Outcome; 9] = [
    Outcome::Pass,
    Outcome::PassNonStrict,
    Outcome::Informational,
    Outcome::Unimplemented,
    Outcome::Fail,
    Outcome::Error,
    Outcome::Skipped,
    Outcome::Xfail,
    Outcome::Xpass,
];

impl Outcome {
    /// The outcome a set of finding levels earns.
    ///
    /// Any MUST → [`Outcome::Fail`]. Otherwise any SHOULD or MAY → [`Outcome::PassNonStrict`],
    /// or [`Outcome::Fail`] when `strict`. Otherwise any INFO → [`Outcome::Informational`].
    /// No findings → [`Outcome::Pass`].
    pub fn from_levels(levels: impl IntoIterator<Item = Level>, strict: bool) -> Self {
        let (mut must, mut should_or_may, mut info) = (false, false, false);
        for level in levels {
            match level {
                Level::Must => must = true,
                Level::Should | Level::May => should_or_may = true,
                Level::Info => info = true,
            }
        }
        if must || (strict && should_or_may) {
            Outcome::Fail
        } else if should_or_may {
            Outcome::PassNonStrict
        } else if info {
            Outcome::Informational
        } else {
            Outcome::Pass
        }
    }

    /// The outcome of reported findings; see [`Outcome::from_levels`].
    pub fn from_findings(findings: &[FindingRecord], strict: bool) -> Self {
        Self::from_levels(findings.iter().map(|f| f.level), strict)
    }

    /// The outcome of a checker's findings; see [`Outcome::from_levels`].
    pub fn from_checked(findings: &Findings, strict: bool) -> Self {
        Self::from_levels(findings.as_slice().iter().map(|f| f.level), strict)
    }

    /// Whether a CI gate accepts this outcome.
    ///
    /// Accepted: `pass`, `pass-non-strict`, `informational`, `skipped` (nothing ran, nothing
    /// went wrong) and `xfail` (a known failure under a waiver). Rejected: `fail`, `error`,
    /// `unimplemented` (waive it if the gap is known) and `xpass` (a stale waiver: remove it).
    pub fn is_success(self) -> bool {
        matches!(
            self,
            Outcome::Pass
                | Outcome::PassNonStrict
                | Outcome::Informational
                | Outcome::Skipped
                | Outcome::Xfail
        )
    }

    /// The name printed in reports (the serde name).
    pub fn as_str(self) -> &'static str {
        match self {
            Outcome::Pass => "pass",
            Outcome::PassNonStrict => "pass-non-strict",
            Outcome::Informational => "informational",
            Outcome::Unimplemented => "unimplemented",
            Outcome::Fail => "fail",
            Outcome::Error => "error",
            Outcome::Skipped => "skipped",
            Outcome::Xfail => "xfail",
            Outcome::Xpass => "xpass",
        }
    }
}

impl std::fmt::Display for Outcome {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A single check's verdict as an outcome. A verdict does not tell INFO-only findings from none,
/// so [`Verdict::Pass`] maps to [`Outcome::Pass`]; verdicts are never strict.
impl From<Verdict> for Outcome {
    fn from(v: Verdict) -> Self {
        match v {
            Verdict::Pass => Outcome::Pass,
            Verdict::PassNonStrict => Outcome::PassNonStrict,
            Verdict::Fail => Outcome::Fail,
        }
    }
}

/// The outcome after a waiver: unchanged when `waived` is false.
///
/// A waived scenario that failed (`fail`, `unimplemented`) becomes `xfail`; one that succeeded
/// (`pass`, `pass-non-strict`, `informational`) becomes `xpass`, which a CI gate rejects so a
/// stale waiver gets noticed. `error` stays `error` (a waiver excuses the system under test, not
/// the harness), `skipped` stays `skipped` (nothing ran), and `xfail`/`xpass` are unchanged.
pub fn apply_waiver(outcome: Outcome, waived: bool) -> Outcome {
    if !waived {
        return outcome;
    }
    match outcome {
        Outcome::Fail | Outcome::Unimplemented => Outcome::Xfail,
        Outcome::Pass | Outcome::PassNonStrict | Outcome::Informational => Outcome::Xpass,
        Outcome::Error | Outcome::Skipped | Outcome::Xfail | Outcome::Xpass => outcome,
    }
}

/// Counts of scenarios per outcome.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Summary {
    /// All scenarios.
    pub total: usize,
    /// `pass`.
    pub pass: usize,
    /// `pass-non-strict`.
    pub pass_non_strict: usize,
    /// `informational`.
    pub informational: usize,
    /// `unimplemented`.
    pub unimplemented: usize,
    /// `fail`.
    pub fail: usize,
    /// `error`.
    pub error: usize,
    /// `skipped`.
    pub skipped: usize,
    /// `xfail`.
    pub xfail: usize,
    /// `xpass`.
    pub xpass: usize,
}

impl Summary {
    /// The counts for a list of scenario results.
    pub fn of(scenarios: &[ScenarioResult]) -> Self {
        let mut s = Summary::default();
        for r in scenarios {
            s.add(r.outcome);
        }
        s
    }

    /// Counts one more scenario.
    pub fn add(&mut self, outcome: Outcome) {
        self.total += 1;
        *self.slot(outcome) += 1;
    }

    /// The count for one outcome.
    pub fn count(&self, outcome: Outcome) -> usize {
        match outcome {
            Outcome::Pass => self.pass,
            Outcome::PassNonStrict => self.pass_non_strict,
            Outcome::Informational => self.informational,
            Outcome::Unimplemented => self.unimplemented,
            Outcome::Fail => self.fail,
            Outcome::Error => self.error,
            Outcome::Skipped => self.skipped,
            Outcome::Xfail => self.xfail,
            Outcome::Xpass => self.xpass,
        }
    }

    fn slot(&mut self, outcome: Outcome) -> &mut usize {
        match outcome {
            Outcome::Pass => &mut self.pass,
            Outcome::PassNonStrict => &mut self.pass_non_strict,
            Outcome::Informational => &mut self.informational,
            Outcome::Unimplemented => &mut self.unimplemented,
            Outcome::Fail => &mut self.fail,
            Outcome::Error => &mut self.error,
            Outcome::Skipped => &mut self.skipped,
            Outcome::Xfail => &mut self.xfail,
            Outcome::Xpass => &mut self.xpass,
        }
    }

    /// The headline of a run: `P passed, F failed, U unimplemented, S skipped`, always those
    /// four, then the other outcomes that occurred (`1 pass-non-strict, 2 error`). Skipped
    /// scenarios are counted as skipped and nothing else.
    pub fn headline(&self) -> String {
        let mut parts = vec![
            format!("{} passed", self.pass),
            format!("{} failed", self.fail),
            format!("{} unimplemented", self.unimplemented),
            format!("{} skipped", self.skipped),
        ];
        for outcome in [
            Outcome::PassNonStrict,
            Outcome::Informational,
            Outcome::Error,
            Outcome::Xfail,
            Outcome::Xpass,
        ] {
            let n = self.count(outcome);
            if n > 0 {
                parts.push(format!("{n} {outcome}"));
            }
        }
        parts.join(", ")
    }

    /// The non-zero counts in report order, e.g. `2 pass, 1 fail`; `no scenarios` when empty.
    pub fn line(&self) -> String {
        let parts: Vec<String> = OUTCOMES
            .iter()
            .filter(|o| self.count(**o) > 0)
            .map(|o| format!("{} {}", self.count(*o), o))
            .collect();
        if parts.is_empty() {
            "no scenarios".to_owned()
        } else {
            parts.join(", ")
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rec(level: Level) -> FindingRecord {
        FindingRecord {
            req: "SMIME-1".into(),
            level,
            expected: "x".into(),
            observed: "y".into(),
            step: None,
            transcript: None,
        }
    }

    #[test]
    fn no_findings_pass_strict_or_not() {
        for strict in [false, true] {
            assert_eq!(Outcome::from_findings(&[], strict), Outcome::Pass);
        }
    }

    #[test]
    fn info_only_is_informational_strict_or_not() {
        for strict in [false, true] {
            let f = [rec(Level::Info), rec(Level::Info)];
            assert_eq!(Outcome::from_findings(&f, strict), Outcome::Informational);
        }
    }

    #[test]
    fn should_and_may_pass_non_strict_or_fail_when_strict() {
        for level in [Level::Should, Level::May] {
            let f = [rec(Level::Info), rec(level)];
            assert_eq!(Outcome::from_findings(&f, false), Outcome::PassNonStrict);
            assert_eq!(Outcome::from_findings(&f, true), Outcome::Fail);
        }
    }

    #[test]
    fn must_fails_strict_or_not() {
        for strict in [false, true] {
            let f = [rec(Level::Should), rec(Level::Must), rec(Level::Info)];
            assert_eq!(Outcome::from_findings(&f, strict), Outcome::Fail);
        }
    }

    #[test]
    fn checker_findings_and_verdicts_agree() {
        let mut f = Findings::new();
        f.push(Finding::new("SMIME-26", "x", "y"));
        assert_eq!(Outcome::from_checked(&f, false), Outcome::PassNonStrict);
        assert_eq!(
            Outcome::from(Verdict::of(&f)),
            Outcome::from_checked(&f, false)
        );
        f.push(Finding::new("SMIME-25", "x", "y"));
        assert_eq!(Outcome::from_checked(&f, false), Outcome::Fail);
        assert_eq!(Outcome::from(Verdict::of(&f)), Outcome::Fail);
        let rec = FindingRecord::from(&f.as_slice()[1]);
        assert_eq!((rec.req.as_str(), rec.level), ("SMIME-25", Level::Must));
    }

    #[test]
    fn ci_gate_accepts_exactly_the_documented_outcomes() {
        let ok: Vec<Outcome> = OUTCOMES.into_iter().filter(|o| o.is_success()).collect();
        assert_eq!(
            ok,
            [
                Outcome::Pass,
                Outcome::PassNonStrict,
                Outcome::Informational,
                Outcome::Skipped,
                Outcome::Xfail
            ]
        );
    }

    #[test]
    fn waivers_turn_failures_into_xfail_and_passes_into_xpass() {
        for o in OUTCOMES {
            assert_eq!(apply_waiver(o, false), o);
        }
        assert_eq!(apply_waiver(Outcome::Fail, true), Outcome::Xfail);
        assert_eq!(apply_waiver(Outcome::Unimplemented, true), Outcome::Xfail);
        assert_eq!(apply_waiver(Outcome::Pass, true), Outcome::Xpass);
        assert_eq!(apply_waiver(Outcome::PassNonStrict, true), Outcome::Xpass);
        assert_eq!(apply_waiver(Outcome::Informational, true), Outcome::Xpass);
        assert_eq!(apply_waiver(Outcome::Error, true), Outcome::Error);
        assert_eq!(apply_waiver(Outcome::Skipped, true), Outcome::Skipped);
        assert!(!Outcome::Xpass.is_success());
        assert!(Outcome::Xfail.is_success());
    }

    #[test]
    fn outcome_names_are_the_serde_names() {
        for o in OUTCOMES {
            let json = serde_json::to_string(&o).unwrap_or_default();
            assert_eq!(json, format!("\"{}\"", o.as_str()));
        }
    }

    #[test]
    fn summary_counts_every_outcome() {
        let mut scenarios = Vec::new();
        for (i, o) in OUTCOMES.into_iter().enumerate() {
            let mut s = ScenarioResult::new(format!("rfc8823/x/{i}"), "t", Role::Client);
            s.outcome = o;
            scenarios.push(s);
        }
        scenarios[1].outcome = Outcome::Fail;
        let sum = Summary::of(&scenarios);
        assert_eq!(sum.total, 9);
        assert_eq!(sum.fail, 2);
        assert_eq!(sum.pass_non_strict, 0);
        assert_eq!(
            sum.line(),
            "1 pass, 1 informational, 1 unimplemented, 2 fail, 1 error, 1 skipped, 1 xfail, 1 xpass"
        );
        assert_eq!(scenarios[0].spec, "rfc8823");
        assert_eq!(
            sum.headline(),
            "1 passed, 2 failed, 1 unimplemented, 1 skipped, 1 informational, 1 error, 1 xfail, \
             1 xpass"
        );
    }

    #[test]
    fn headline_always_names_the_four_main_counts_and_never_calls_skipped_passed() {
        let mut sum = Summary::default();
        assert_eq!(
            sum.headline(),
            "0 passed, 0 failed, 0 unimplemented, 0 skipped"
        );
        for _ in 0..3 {
            sum.add(Outcome::Skipped);
        }
        sum.add(Outcome::PassNonStrict);
        assert_eq!(
            sum.headline(),
            "0 passed, 0 failed, 0 unimplemented, 3 skipped, 1 pass-non-strict"
        );
    }

    fn run_of(outcomes: &[Outcome]) -> RunReport {
        let mut r = RunReport::new(
            ToolInfo::new("acmeproof", "0"),
            "2025-01-01T00:00:00Z",
            "reference",
            SutKind::Reference,
            false,
        );
        for (i, o) in outcomes.iter().enumerate() {
            let mut s = ScenarioResult::new(format!("rfc8823/x/{i}"), "t", Role::Client);
            s.outcome = *o;
            r.scenarios.push(s);
        }
        r.summarize();
        r
    }

    #[test]
    fn gate_and_exit_code_follow_the_outcomes() {
        // Every outcome alone, with the gate it earns.
        for o in OUTCOMES {
            let want = match o {
                Outcome::Error => Gate::HarnessError,
                Outcome::Fail | Outcome::Unimplemented | Outcome::Xpass => Gate::Rejected,
                _ => Gate::Accepted,
            };
            assert_eq!(run_of(&[Outcome::Pass, o]).gate(), want, "{o}");
        }
        // An error outranks a failure; an all-skipped run is accepted, and says 0 passed.
        let both = run_of(&[Outcome::Fail, Outcome::Error]);
        assert_eq!(
            (both.gate(), both.gate().exit_code()),
            (Gate::HarnessError, 2)
        );
        let skipped = run_of(&[Outcome::Skipped, Outcome::Skipped]);
        assert_eq!(skipped.gate().exit_code(), 0);
        assert!(skipped.summary.headline().starts_with("0 passed,"));
        assert_eq!(run_of(&[Outcome::Unimplemented]).gate().exit_code(), 1);
    }
}
