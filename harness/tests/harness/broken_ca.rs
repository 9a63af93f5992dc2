//! The broken-CA matrix: the world's reference CA judged as a server under test (the
//! in-process `Sut::Server` of `server_target`), once unbroken and once per broken-on-purpose
//! knob, through EVERY server scenario of `scenarios/` that runs against a server.
//!
//! - The unbroken CA passes every scenario that runs (skipped: those that need their own
//!   world, the built-in CA's knobs or clock, or check one of its policy choices).
//! - Each knob breaks exactly one rule: the scenarios whose outcome changes are the row's, they
//!   fail, and every finding that was not there against the unbroken CA is under the row's id.
//!
//! One world per row; the rows run side by side (a `JoinSet`), the scenarios of a row one
//! after another, because a server run shares one world and one mailbox per user (the step
//! that reads a challenge mail takes the first new one).

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;
use std::sync::Arc;

use acmeproof::scenario::{self, LoadedScenario, Outcome, outcome_of};
use acmeproof::sut::Sut;
use acmeproof::sut::server::ServerTarget;
use acmeproof_mocks::world::World;
use acmeproof_protocol::Level;

/// One row: a knob (a JSON patch of the CA's knobs), the one requirement id it breaks, and the
/// scenarios that must catch it (`None`: every scenario that reads a challenge mail may).
struct Row {
    knob: &'static str,
    id: &'static str,
    catches: Option<&'static [&'static str]>,
}

/// The matrix. A new knob is one more row.
const ROWS: &[Row] = &[
    Row {
        knob: r#"{"challenge_without_auto_submitted": true}"#,
        id: "SMIME-25",
        catches: None,
    },
    Row {
        knob: r#"{"challenge_unsigned": true}"#,
        id: "SMIME-28",
        catches: None,
    },
    Row {
        knob: r#"{"challenge_without_date": true}"#,
        id: "MAIL-1",
        catches: None,
    },
    Row {
        knob: r#"{"challenge_token_reused": true}"#,
        id: "SMIME-5",
        catches: None,
    },
    Row {
        knob: r#"{"challenge_short_token_part1": true}"#,
        id: "SMIME-6",
        catches: None,
    },
    Row {
        knob: r#"{"challenge_subject_latin1": true}"#,
        id: "SMIME-20",
        catches: None,
    },
    Row {
        knob: r#"{"challenge_subject_utf8": true}"#,
        id: "SMIME-21",
        catches: None,
    },
    Row {
        knob: r#"{"challenge_subject_long_encoded_word": true}"#,
        id: "MAIL-6",
        catches: None,
    },
    Row {
        knob: r#"{"challenge_to_other": true}"#,
        id: "SMIME-23",
        catches: None,
    },
    Row {
        knob: r#"{"challenge_without_type_acme": true}"#,
        id: "SMIME-26",
        catches: None,
    },
    Row {
        knob: r#"{"challenge_dkim_h_short": true}"#,
        id: "SMIME-29",
        catches: None,
    },
    Row {
        knob: r#"{"challenge_dkim_h_without_list": true}"#,
        id: "SMIME-30",
        catches: None,
    },
    Row {
        knob: r#"{"challenge_dkim_other_domain": true}"#,
        id: "SMIME-31",
        catches: None,
    },
    Row {
        knob: r#"{"challenge_two_message_ids": true}"#,
        id: "MAIL-2",
        catches: None,
    },
    Row {
        knob: r#"{"challenge_two_auto_submitted": true}"#,
        id: "MAIL-3",
        catches: None,
    },
    Row {
        knob: r#"{"accept_unsigned_replies": true}"#,
        id: "SMIME-51",
        catches: Some(&[
            "rfc8823/3.2/reply-without-dkim-refused",
            "rfc8823/3.2/eai-reply-without-dkim-refused",
        ]),
    },
    Row {
        knob: r#"{"accept_rsa_sha1": true}"#,
        id: "MAIL-7",
        catches: Some(&["rfc8301/3.1/reply-signed-with-rsa-sha1-refused"]),
    },
    Row {
        knob: r#"{"loose_dkim_h": true}"#,
        id: "SMIME-52",
        catches: Some(&["rfc8823/3.2/reply-dkim-h-without-required-fields-refused"]),
    },
    Row {
        knob: r#"{"refuse_wrapped_digest": true}"#,
        id: "SMIME-48",
        catches: Some(&[
            "rfc8823/3.2/digest-one-character-per-line",
            "rfc8823/3.2/digest-quoted-and-wrapped",
            "rfc8823/3.2/digest-split-lines",
            "rfc8823/3.2/eai-digest-split-lines",
            "rfc8823/3.2/multipart-alternative-wrapped-digest",
        ]),
    },
    Row {
        knob: r#"{"refuse_encoded_subject": true}"#,
        id: "SMIME-39",
        catches: Some(&["rfc8823/3.2/reply-encoded-subject-accepted"]),
    },
    Row {
        knob: r#"{"ignore_csr_key_usage": true}"#,
        id: "SMIME-57",
        catches: None,
    },
    Row {
        knob: r#"{"omit_validated": true}"#,
        id: "ACME-25",
        catches: None,
    },
    Row {
        knob: r#"{"omit_error": true}"#,
        id: "ACME-25",
        catches: None,
    },
    Row {
        knob: r#"{"revoke_twice_ok": true}"#,
        id: "ACME-32",
        catches: Some(&["rfc8555/7.6/revoke-by-account-then-already-revoked"]),
    },
    Row {
        knob: r#"{"ignore_terms_of_service": true}"#,
        id: "ACME-16",
        catches: Some(&["rfc8555/7.3/terms-of-service-not-agreed-refused"]),
    },
    Row {
        knob: r#"{"key_authorization_without_dot": true}"#,
        id: "ACME-27",
        catches: None,
    },
];

/// What one scenario gave.
#[derive(Debug, Clone)]
struct Seen {
    outcome: Outcome,
    /// Every finding, `ID level: expected / observed`.
    findings: Vec<String>,
    /// The ids of the findings above INFO level (an INFO note grades nothing).
    ids: BTreeSet<String>,
    error: Option<String>,
    seconds: f64,
}

fn library() -> Vec<LoadedScenario> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../scenarios");
    scenario::load_dir(&dir).expect("scenarios load")
}

/// The world's own CA, with `knob` set, as a server under test.
async fn target(knob: &str) -> Sut {
    let patch: serde_json::Value = serde_json::from_str(knob).expect("knob JSON");
    let world: World = crate::support::world_with(|c| {
        c.ca.knobs = c.ca.knobs.merged(&patch).expect("a knob the CA takes");
    })
    .await;
    Sut::Server(Arc::new(ServerTarget {
        issuing_roots: vec![world.pki.root_der().to_vec()],
        contact: vec!["mailto:alice@example.test".into()],
        ..crate::support::world_ca_under_test(world)
    }))
}

/// Every scenario against the CA with `knob`, one after another in one shared world.
async fn judge(knob: &'static str, scenarios: Arc<Vec<LoadedScenario>>) -> BTreeMap<String, Seen> {
    let sut = target(knob).await;
    let mut seen = BTreeMap::new();
    for s in scenarios.iter() {
        let run = scenario::run::run_with(s, s.seed(), &sut).await;
        let findings = run.findings.as_slice();
        seen.insert(
            s.file.id.clone(),
            Seen {
                outcome: outcome_of(&run, false),
                findings: findings
                    .iter()
                    .map(|f| format!("{} {:?}: {} / {}", f.req, f.level, f.expected, f.observed))
                    .collect(),
                ids: findings
                    .iter()
                    .filter(|f| f.level != Level::Info)
                    .map(|f| f.req.to_string())
                    .collect(),
                error: run.error.clone(),
                seconds: run.duration.as_secs_f64(),
            },
        );
    }
    if let Sut::Server(t) = sut {
        t.shutdown().await;
    }
    seen
}

/// What is wrong with `row`'s results next to the unbroken CA's, if anything.
fn row_problems(
    row: &Row,
    base: &BTreeMap<String, Seen>,
    got: &BTreeMap<String, Seen>,
) -> Vec<String> {
    let mut problems = Vec::new();
    let mut caught = BTreeSet::new();
    for (id, seen) in got {
        let before = &base[id];
        // Nothing else: no finding id that was not there before, other than the row's.
        let new_ids: BTreeSet<&String> = seen.ids.difference(&before.ids).collect();
        if new_ids.iter().any(|i| i.as_str() != row.id) {
            problems.push(format!(
                "{id}: findings under other ids: {:#?}",
                seen.findings
            ));
        }
        if seen.outcome == before.outcome {
            continue;
        }
        caught.insert(id.clone());
        // A MUST broken fails the scenario; a scenario that lowers its expectation to SHOULD
        // (what the texts leave open) passes with the finding.
        let caught_right = matches!(seen.outcome, Outcome::Fail | Outcome::PassNonStrict);
        if !caught_right || !seen.ids.contains(row.id) {
            problems.push(format!(
                "{id}: {} (was {}), findings {:#?}, error {:?}",
                seen.outcome.as_str(),
                before.outcome.as_str(),
                seen.findings,
                seen.error
            ));
        }
    }
    match row.catches {
        Some(expected) => {
            let expected: BTreeSet<String> = expected.iter().map(|s| s.to_string()).collect();
            if caught != expected {
                problems.push(format!(
                    "caught by {caught:#?}, expected exactly {expected:#?}"
                ));
            }
        }
        None if caught.is_empty() => problems.push("no scenario caught it".into()),
        None => {}
    }
    problems
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn each_broken_knob_gives_its_finding_and_nothing_else_and_the_unbroken_ca_passes() {
    let scenarios = Arc::new(library());
    let mut rows = tokio::task::JoinSet::new();
    for (index, knob) in std::iter::once("{}")
        .chain(ROWS.iter().map(|r| r.knob))
        .enumerate()
    {
        let scenarios = Arc::clone(&scenarios);
        rows.spawn(async move { (index, judge(knob, scenarios).await) });
    }
    let mut results = BTreeMap::new();
    while let Some(joined) = rows.join_next().await {
        let (index, seen) = joined.expect("a row ran");
        results.insert(index, seen);
    }
    let base = &results[&0];
    // What each row gave, for whoever reads a failure.
    let mut table = String::new();
    for (index, seen) in &results {
        let knob = if *index == 0 {
            "{}"
        } else {
            ROWS[index - 1].knob
        };
        for (id, s) in seen.iter().filter(|(_, s)| s.outcome != Outcome::Skipped) {
            table.push_str(&format!(
                "{knob} {id}: {} {:.1} s {:?} {:?}\n",
                s.outcome.as_str(),
                s.seconds,
                s.ids,
                s.error
            ));
        }
    }
    // The unbroken CA: every scenario that runs passes (no xfail or unimplemented is needed).
    let ran: Vec<&String> = base
        .iter()
        .filter(|(_, s)| s.outcome != Outcome::Skipped)
        .map(|(id, _)| id)
        .collect();
    let failing: Vec<String> = base
        .iter()
        .filter(|(_, s)| !matches!(s.outcome, Outcome::Skipped | Outcome::Pass))
        .map(|(id, s)| {
            format!(
                "{id}: {} {:#?} {:?}",
                s.outcome.as_str(),
                s.findings,
                s.error
            )
        })
        .collect();
    assert!(failing.is_empty(), "the unbroken CA: {failing:#?}\n{table}");
    assert!(ran.len() >= 60, "only {} server scenarios ran", ran.len());
    for (i, row) in ROWS.iter().enumerate() {
        let problems = row_problems(row, base, &results[&(i + 1)]);
        assert!(
            problems.is_empty(),
            "knob {}: {problems:#?}\n{table}",
            row.knob
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_issue_step_reports_the_defect_of_the_challenge_mail_it_ignores() {
    // The reference MUA ignores a challenge mail without Date (a MUST of RFC 5322 broken).
    // Against a server, that mail is the order's one challenge mail (RFC 8823 §3: one per
    // challenge), so the step ends with the mail's own defect, not with a timeout filed under
    // the step's requirement.
    let issuance = library()
        .into_iter()
        .find(|s| s.file.id == "rfc8823/3/issuance-ascii-address")
        .expect("the issuance scenario");
    let sut = target(r#"{"challenge_without_date": true}"#).await;
    let run = scenario::run::run_with(&issuance, issuance.seed(), &sut).await;
    assert_eq!(outcome_of(&run, false), Outcome::Fail, "{run:#?}");
    let graded: BTreeSet<&str> = run
        .findings
        .as_slice()
        .iter()
        .filter(|f| f.level != Level::Info)
        .map(|f| f.req)
        .collect();
    assert_eq!(graded, BTreeSet::from(["MAIL-1"]), "{:#?}", run.findings);
    if let Sut::Server(t) = sut {
        t.shutdown().await;
    }
}
