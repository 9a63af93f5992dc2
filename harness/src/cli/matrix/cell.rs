//! What one matrix run says about its client × CA pair: the verdict (an expected refusal stays
//! expected), and for a run that did not do what its scenario expects, the requirement of the
//! check that fired, the ACME problem type and one line of detail. The requirement is read,
//! never guessed: from a CA problem document's `violates` (the transcript's `[ID]` tag, set
//! where the CA decided), or from the finding a checker made. A refusal that names no rule is
//! a policy and says so.

use acmeproof_protocol::finding::{Finding, Level};
use acmeproof_reports::matrix::{MatrixRun, Verdict, Why};
use acmeproof_reports::{Channel, Direction, Outcome, TranscriptEntry};

use crate::scenario::LoadedScenario;
use crate::scenario::model::{Expect, IssueExpect, Step};
use crate::scenario::run::ScenarioRun;

/// RFC 8555 §6.7 and RFC 8823 problem types, as they appear after the URN prefix.
const PROBLEM_TYPES: &[&str] = &[
    "accountDoesNotExist",
    "alreadyRevoked",
    "badCSR",
    "badNonce",
    "badPublicKey",
    "badRevocationReason",
    "badSignatureAlgorithm",
    "caa",
    "compound",
    "connection",
    "dns",
    "externalAccountRequired",
    "incorrectResponse",
    "invalidContact",
    "malformed",
    "orderNotReady",
    "rateLimited",
    "rejectedIdentifier",
    "serverInternal",
    "tls",
    "unauthorized",
    "unsupportedContact",
    "unsupportedIdentifier",
    "userActionRequired",
];

/// How the email-tls runner files a failed issuance that carried no problem document.
const NO_PROBLEM: &str = "no problem document";

/// The rules the scenario's email-tls issuance steps name.
fn tls_step_reqs(scenario: &LoadedScenario) -> impl Iterator<Item = &str> {
    scenario.file.steps.iter().filter_map(|step| match step {
        Step::IssueTls(s) => Some(s.req.as_str()),
        _ => None,
    })
}

/// Whether the scenario expects a refusal: a step that must end refused, or a challenge mail
/// the MUA must ignore (no certificate either way).
pub fn expects_refusal(scenario: &LoadedScenario) -> bool {
    scenario.file.steps.iter().any(|step| match step {
        Step::Issue(s) => matches!(s.expect, IssueExpect::Refused | IssueExpect::Ignored),
        Step::IssueTls(s) => s.expect == Expect::Refused,
        _ => false,
    })
}

/// A CA problem answer of the transcript: `STATUS urn:ietf:params:acme:error:TYPE: DETAIL
/// [ID]` (the reference CA's form; see `scenario::transcript`).
struct Answer {
    problem: String,
    detail: String,
    violates: Option<String>,
}

fn parse_answer(text: &str) -> Option<Answer> {
    let line = text.lines().next()?;
    let (_, rest) = line.split_once(' ')?;
    let rest = rest.strip_prefix("urn:ietf:params:acme:error:")?;
    let (problem, detail) = match rest.split_once(": ") {
        Some((p, d)) => (p, d),
        None => (rest, ""),
    };
    let (detail, violates) = match detail.rsplit_once(" [") {
        Some((d, tag)) => match tag
            .strip_suffix(']')
            .and_then(acmeproof_protocol::requirements::lookup)
        {
            Some(r) => (d, Some(r.id.to_owned())),
            None => (detail, None),
        },
        None => (detail, None),
    };
    Some(Answer {
        problem: problem.to_owned(),
        detail: detail.to_owned(),
        violates,
    })
}

/// The last problem answer of the CA (a badNonce is retried, never a reason).
fn last_problem(transcript: &[TranscriptEntry]) -> Option<Answer> {
    transcript
        .iter()
        .rev()
        .filter(|e| e.channel == Channel::Http && e.direction == Direction::ServerToClient)
        .filter_map(|e| parse_answer(&e.text))
        .find(|a| a.problem != "badNonce")
}

/// The problem type a finding's text names, if any (the earliest `TYPE:` in it).
fn problem_in(text: &str) -> Option<String> {
    PROBLEM_TYPES
        .iter()
        .filter_map(|t| {
            let needle = format!("{t}:");
            text.match_indices(&needle)
                .find(|(i, _)| {
                    *i == 0
                        || text[..*i]
                            .chars()
                            .next_back()
                            .is_some_and(|c| !c.is_ascii_alphanumeric())
                })
                .map(|(i, _)| (i, *t))
        })
        .min()
        .map(|(_, t)| t.to_owned())
}

fn one_line(text: &str) -> String {
    text.lines().next().unwrap_or_default().trim().to_owned()
}

/// Why a run that did not do what its scenario expects failed.
fn why(scenario: &LoadedScenario, run: &ScenarioRun) -> Why {
    let failing: Option<&Finding> = run
        .findings
        .as_slice()
        .iter()
        .find(|f| f.level != Level::Info);
    if let Some(f) = failing {
        // The failure is a CA's refusal when the finding quotes that refusal: then the CA's
        // problem document says which rule, if any, the request broke.
        if let Some(answer) = last_problem(&run.transcript)
            && f.observed.contains(&answer.problem)
        {
            return Why {
                also: also(run, answer.violates.as_deref()),
                req: answer.violates,
                problem: Some(answer.problem),
                detail: one_line(&answer.detail),
            };
        }
        // An email-tls issuance that ended without any problem document because the CA offered
        // no challenge the operator could use ("no capability-imap-00 challenge for imaps/993
        // among …") is filed under the step's own rule: that is the
        // scenario's expectation, not a check that fired, so no rule is named.
        if let Some(rest) = f.observed.strip_prefix(NO_PROBLEM)
            && rest.contains(" challenge for ")
            && rest.contains(" among ")
            && tls_step_reqs(scenario).any(|r| r == f.req)
        {
            return Why {
                req: None,
                problem: None,
                detail: one_line(rest.trim_start_matches(": ")),
                also: also(run, Some(f.req)),
            };
        }
        let problem = problem_in(&f.observed);
        // The text after the problem type says what it was; a short observation needs what
        // was expected beside it.
        let observed = match &problem {
            Some(p) => match f.observed.split_once(&format!("{p}: ")) {
                Some((_, rest)) => rest,
                None => f.observed.as_str(),
            },
            None => f.observed.as_str(),
        };
        let detail = if observed.chars().count() < 40 {
            format!(
                "{} (expected: {})",
                one_line(observed),
                one_line(&f.expected)
            )
        } else {
            one_line(observed)
        };
        return Why {
            req: Some(f.req.to_owned()),
            problem,
            detail,
            also: also(run, Some(f.req)),
        };
    }
    if let Some((_, reason)) = &run.verdict {
        return Why {
            req: None,
            problem: None,
            detail: one_line(reason),
            also: Vec::new(),
        };
    }
    let text = run
        .error
        .as_deref()
        .map(|e| format!("harness error: {e}"))
        .or_else(|| {
            run.sut_error
                .as_deref()
                .map(|e| format!("client error: {e}"))
        })
        .unwrap_or_default();
    Why {
        req: None,
        problem: problem_in(&text),
        detail: one_line(&text),
        also: also(run, None),
    }
}

/// The requirements of the run's other graded findings, each once, in order.
fn also(run: &ScenarioRun, named: Option<&str>) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    for f in run.findings.as_slice() {
        if f.level != Level::Info && Some(f.req) != named && !out.iter().any(|r| r == f.req) {
            out.push(f.req.to_owned());
        }
    }
    out
}

/// Whether a certificate was issued although the scenario expected none (the runner's finding
/// for an expected refusal says so).
fn issued(run: &ScenarioRun) -> bool {
    run.findings
        .as_slice()
        .iter()
        .any(|f| f.observed.contains("was issued"))
}

/// A scenario's id without the row mark the matrix gives a copy run against an external
/// server.
pub fn scenario_id(id: &str) -> &str {
    id.split(super::ROW_MARK).next().unwrap_or(id)
}

/// The matrix run of one scenario run.
pub fn matrix_run(scenario: &LoadedScenario, run: &ScenarioRun, outcome: Outcome) -> MatrixRun {
    let expects_refusal = expects_refusal(scenario);
    let verdict = Verdict::of(outcome, expects_refusal, issued(run));
    MatrixRun {
        scenario: scenario_id(&scenario.file.id).to_owned(),
        outcome,
        verdict,
        expects_refusal,
        findings: run
            .findings
            .as_slice()
            .iter()
            .map(|f| format!("{}: {}", f.req, f.observed))
            .chain(run.error.iter().map(|e| format!("harness error: {e}")))
            .chain(run.sut_error.iter().map(|e| format!("client error: {e}")))
            .collect(),
        why: (!verdict.is_success() || verdict == Verdict::Skipped).then(|| why(scenario, run)),
        transcript: run
            .transcript
            .iter()
            .map(|e| {
                let arrow = match e.direction {
                    Direction::ClientToServer => "→",
                    Direction::ServerToClient => "←",
                };
                format!("{arrow} [{}] {}", e.endpoint, e.text)
            })
            .collect(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_ca_answer_gives_its_type_detail_and_tag() {
        let a =
            parse_answer("400 urn:ietf:params:acme:error:malformed: wants the reply [SMIME-12]")
                .expect("a problem");
        assert_eq!(a.problem, "malformed");
        assert_eq!(a.detail, "wants the reply");
        assert_eq!(a.violates.as_deref(), Some("SMIME-12"));
        let a = parse_answer("400 urn:ietf:params:acme:error:rejectedIdentifier: policy [knob]")
            .expect("a problem");
        assert_eq!(a.violates, None, "only a catalogue id is a requirement");
        assert_eq!(a.detail, "policy [knob]");
        assert!(parse_answer("200").is_none());
    }

    #[test]
    fn a_finding_names_its_problem_type() {
        assert_eq!(
            problem_in(
                "no certificate: the authorization ended invalid: incorrectResponse: the digest"
            )
            .as_deref(),
            Some("incorrectResponse")
        );
        assert_eq!(
            problem_in("400 rejectedIdentifier: one certificate").as_deref(),
            Some("rejectedIdentifier")
        );
        assert_eq!(problem_in("120 bits"), None);
        assert_eq!(problem_in("xdns: no"), None);
    }
}
