//! JUnit XML for CI test viewers: one `<testsuite>` per spec, one `<testcase>` per scenario.
//!
//! | outcome | JUnit |
//! |---|---|
//! | `pass`, `pass-non-strict`, `informational` | success; findings, if any, in `system-out` |
//! | `fail` | `<failure>`: the findings with their requirement ids and levels |
//! | `error` | `<error>`: what broke |
//! | `skipped`, `unimplemented` | `<skipped>` with the reason |
//! | `xfail` | success; the waiver reason in a `waiver` property and in `system-out` |
//! | `xpass` | `<failure>`: waived but passed, remove the waiver |
//!
//! Every test case carries `outcome` and `seed` properties and one `variant.<knob>` property per
//! knob value, so a CI viewer can tell matrix runs apart.

use std::time::Duration;

use acmeproof_protocol::requirements;
use quick_junit::{NonSuccessKind, Property, Report, TestCase, TestCaseStatus, TestSuite};

use crate::RenderError;
use crate::model::{FindingRecord, Outcome, RunReport, ScenarioResult};

/// The report as JUnit XML.
pub fn render(report: &RunReport) -> Result<String, RenderError> {
    let mut junit = Report::new(format!("acmeproof: {}", report.implementation));
    junit.set_time(Duration::from_millis(report.duration_ms));
    let mut suites: Vec<TestSuite> = Vec::new();
    for s in &report.scenarios {
        let at = match suites.iter().position(|t| t.name.as_str() == s.spec) {
            Some(at) => at,
            None => {
                let mut suite = TestSuite::new(s.spec.as_str());
                suite.set_time(Duration::ZERO);
                suites.push(suite);
                suites.len() - 1
            }
        };
        let suite = &mut suites[at];
        let time = suite.time.unwrap_or_default() + Duration::from_millis(s.duration_ms);
        suite.set_time(time);
        suite.add_test_case(test_case(s));
    }
    junit.add_test_suites(suites);
    Ok(junit.to_string()?)
}

fn test_case(s: &ScenarioResult) -> TestCase {
    let findings = findings_text(&s.findings);
    let reason = s
        .error
        .clone()
        .unwrap_or_else(|| s.outcome.as_str().to_owned());
    let status = match s.outcome {
        Outcome::Pass | Outcome::PassNonStrict | Outcome::Informational | Outcome::Xfail => {
            TestCaseStatus::success()
        }
        Outcome::Fail => {
            let mut st = TestCaseStatus::non_success(NonSuccessKind::Failure);
            st.set_message(findings_message(&s.findings))
                .set_type("fail")
                .set_description(findings.clone());
            st
        }
        Outcome::Xpass => {
            let mut st = TestCaseStatus::non_success(NonSuccessKind::Failure);
            st.set_message("waived but passed: remove the waiver")
                .set_type("xpass")
                .set_description(format!(
                    "waiver: {}",
                    s.waiver.as_deref().unwrap_or("(no reason recorded)")
                ));
            st
        }
        Outcome::Error => {
            let mut st = TestCaseStatus::non_success(NonSuccessKind::Error);
            st.set_message(reason).set_type("error");
            if !findings.is_empty() {
                st.set_description(findings.clone());
            }
            st
        }
        Outcome::Skipped | Outcome::Unimplemented => {
            let mut st = TestCaseStatus::skipped();
            st.set_message(reason).set_type(s.outcome.as_str());
            st
        }
    };
    let mut case = TestCase::new(s.id.as_str(), status);
    case.set_classname(s.spec.as_str())
        .set_time(Duration::from_millis(s.duration_ms));
    case.add_property(Property::new("outcome", s.outcome.as_str()));
    case.add_property(Property::new("seed", s.seed.to_string()));
    for (knob, value) in &s.variants {
        case.add_property(Property::new(format!("variant.{knob}"), value.as_str()));
    }
    if let Some(w) = &s.waiver {
        case.add_property(Property::new("waiver", w.as_str()));
    }

    let mut out = String::new();
    if s.outcome == Outcome::Xfail {
        out.push_str(&format!(
            "xfail under waiver: {}\n",
            s.waiver.as_deref().unwrap_or("(no reason recorded)")
        ));
    }
    if !s.outcome.is_success() || s.outcome == Outcome::Xfail {
        if !findings.is_empty() && s.outcome != Outcome::Fail {
            out.push_str(&findings);
        }
        if !s.transcript.is_empty() {
            out.push_str("transcript:\n");
            for t in &s.transcript {
                out.push_str(&format!(
                    "  {:>4} {:>6}ms {:<4} {} {}\n",
                    t.seq,
                    t.at_ms,
                    t.channel.as_str(),
                    t.direction.arrow(),
                    t.text
                ));
            }
        }
    } else if !findings.is_empty() {
        out.push_str(&findings);
    }
    if !out.is_empty() {
        case.set_system_out(out);
    }
    case
}

/// One line: how many findings and their ids with levels, e.g.
/// `2 findings: SMIME-28 (MUST), SMIME-26 (SHOULD)`.
fn findings_message(findings: &[FindingRecord]) -> String {
    if findings.is_empty() {
        return "failed without findings".to_owned();
    }
    let ids: Vec<String> = findings
        .iter()
        .map(|f| format!("{} ({})", f.req, f.level))
        .collect();
    let noun = if findings.len() == 1 {
        "finding"
    } else {
        "findings"
    };
    format!("{} {noun}: {}", findings.len(), ids.join(", "))
}

/// One line per finding: id, level, the catalogue summary, expected and observed.
fn findings_text(findings: &[FindingRecord]) -> String {
    let mut out = String::new();
    for f in findings {
        let summary = requirements::lookup(&f.req).map_or("(not in the catalogue)", |r| r.summary);
        out.push_str(&format!(
            "{} {}: {}\n  expected: {}\n  observed: {}\n",
            f.req, f.level, summary, f.expected, f.observed
        ));
    }
    out
}
