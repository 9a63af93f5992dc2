//! Findings for people (one line each) and for machines (JSON).

use std::io::Write;

use acmeproof_protocol::requirements;
use acmeproof_protocol::{Finding, Findings, Level};
use serde_json::{Value, json};

use super::{EXIT_NONCONFORMANT, EXIT_OK};

pub use acmeproof_reports::Verdict;

/// The exit code for a verdict.
pub fn exit_code(verdict: Verdict) -> u8 {
    if verdict.conforms() {
        EXIT_OK
    } else {
        EXIT_NONCONFORMANT
    }
}

/// The keyword to print: the finding's level, spelt as a prohibition when the requirement is one.
fn keyword(f: &Finding) -> &'static str {
    let negative = requirements::lookup(f.req).is_some_and(|r| r.negative);
    match (f.level, negative) {
        (Level::Must, true) => "MUST NOT",
        (Level::Should, true) => "SHOULD NOT",
        (level, _) => level.as_str(),
    }
}

fn summary(f: &Finding) -> &'static str {
    requirements::lookup(f.req).map_or("(not in the catalogue)", |r| r.summary)
}

/// Writes the findings, one line each, then the verdict line.
pub fn human(out: &mut dyn Write, findings: &Findings) -> std::io::Result<Verdict> {
    if findings.is_empty() {
        writeln!(out, "  no findings")?;
    }
    for f in findings.as_slice() {
        writeln!(
            out,
            "  {:<9} {:<10} {} (expected {}; saw {})",
            f.req,
            keyword(f),
            summary(f),
            f.expected,
            f.observed
        )?;
    }
    let verdict = Verdict::of(findings);
    let count = |l: Level| findings.as_slice().iter().filter(|f| f.level == l).count();
    writeln!(
        out,
        "verdict: {} ({} MUST, {} SHOULD, {} MAY, {} INFO)",
        verdict.as_str(),
        count(Level::Must),
        count(Level::Should),
        count(Level::May),
        count(Level::Info)
    )?;
    Ok(verdict)
}

/// The findings as JSON objects, each with the catalogue's keyword, source and summary.
pub fn json_findings(findings: &Findings) -> Value {
    Value::Array(
        findings
            .as_slice()
            .iter()
            .map(|f| {
                let r = requirements::lookup(f.req);
                json!({
                    "req": f.req,
                    "level": f.level,
                    "keyword": keyword(f),
                    "source": r.map(|r| r.source),
                    "summary": r.map(|r| r.summary),
                    "expected": f.expected,
                    "observed": f.observed,
                })
            })
            .collect(),
    )
}
