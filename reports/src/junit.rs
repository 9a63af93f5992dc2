//! JUnit XML for CI test viewers: one `<testsuite>` per spec, one `<testcase>` per scenario.
//!
//! A test case is a `<failure>` or an `<error>` exactly when a CI gate rejects its outcome, so
//! a JUnit viewer and the exit code of `acmeproof run` always agree:
//!
//! | outcome | JUnit | exit code |
//! |---|---|---|
//! | `pass`, `pass-non-strict`, `informational` | success; findings, if any, in `system-out` | 0 |
//! | `xfail` | success; the waiver reason in `system-out` | 0 |
//! | `skipped` | `<skipped>` with the reason | 0 |
//! | `fail` | `<failure type="fail">`: the findings with their requirement ids and levels | 1 |
//! | `unimplemented` | `<failure type="unimplemented">`: the feature the system lacks | 1 |
//! | `xpass` | `<failure type="xpass">`: waived but passed, remove the waiver | 1 |
//! | `error` | `<error>`: what broke in the harness | 2 |
//!
//! The XML validates against the JUnit schema of Jenkins' xUnit plugin
//! (`fixtures/junit/junit-10.xsd`). That schema has no per-test-case properties, so each test
//! case's `system-out` opens with its outcome, seed, knob values (`variant.<knob>`) and waiver,
//! one `name: value` line each, and a CI viewer can still tell matrix runs apart.

use std::time::Duration;

use acmeproof_protocol::requirements;
use quick_junit::{NonSuccessKind, Report, TestCase, TestCaseStatus, TestSuite};

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
    without_root_skipped(&junit.to_string()?)
}

/// The same XML without the `skipped` attribute of `<testsuites>`: quick-junit always writes
/// it, and the xUnit schema does not allow it there (each `<testsuite>` keeps its own count).
fn without_root_skipped(xml: &str) -> Result<String, RenderError> {
    use quick_xml::events::{BytesStart, Event};
    let mut reader = quick_xml::Reader::from_str(xml);
    let mut writer = quick_xml::Writer::new(Vec::with_capacity(xml.len()));
    loop {
        match reader.read_event()? {
            Event::Eof => break,
            Event::Start(tag) if tag.name().as_ref() == b"testsuites" => {
                let mut root = BytesStart::new("testsuites");
                for attr in tag.attributes() {
                    let attr = attr.map_err(quick_xml::Error::from)?;
                    if attr.key.as_ref() != b"skipped" {
                        root.push_attribute(attr);
                    }
                }
                writer
                    .write_event(Event::Start(root))
                    .map_err(quick_xml::Error::from)?;
            }
            event => writer.write_event(event).map_err(quick_xml::Error::from)?,
        }
    }
    // The input was a String and every event is written back as read.
    Ok(String::from_utf8_lossy(&writer.into_inner()).into_owned())
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
        Outcome::Unimplemented => {
            let mut st = TestCaseStatus::non_success(NonSuccessKind::Failure);
            st.set_message(format!("unimplemented: {reason}"))
                .set_type("unimplemented")
                .set_description(
                    "the system under test does not implement what this scenario needs; \
                     waive the scenario if the gap is known",
                );
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
        Outcome::Skipped => {
            let mut st = TestCaseStatus::skipped();
            st.set_message(reason).set_type("skipped");
            st
        }
    };
    let mut case = TestCase::new(s.id.as_str(), status);
    case.set_classname(s.spec.as_str())
        .set_time(Duration::from_millis(s.duration_ms));

    let mut out = format!("outcome: {}\nseed: {}\n", s.outcome, s.seed);
    for (knob, value) in &s.variants {
        out.push_str(&format!("variant.{knob}: {value}\n"));
    }
    if let Some(w) = &s.waiver {
        out.push_str(&format!("waiver: {w}\n"));
    }
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
    case.set_system_out(out);
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
