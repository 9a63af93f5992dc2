//! The RFC 8555 object checks of a server run (issue 13 item 5), proved on the reference CA
//! broken on purpose: the world's own CA as the server under test (as in `server_target`),
//! with one knob each, gives exactly the finding of the rule the knob breaks; unbroken, the
//! same scenarios pass.

use std::path::Path;
use std::sync::Arc;

use acmeproof::scenario::{self, LoadedScenario, Outcome, outcome_of};
use acmeproof::sut::Sut;
use acmeproof::sut::server::ServerTarget;
use acmeproof_mocks::world::{World, WorldConfig};

fn scenario_named(id: &str) -> LoadedScenario {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../scenarios");
    scenario::load_dir(&dir)
        .expect("scenarios load")
        .into_iter()
        .find(|s| s.file.id == id)
        .unwrap_or_else(|| panic!("no scenario {id}"))
}

/// The world's own CA, with `tweak`'s knobs, as a server under test.
async fn broken(tweak: impl FnOnce(&mut WorldConfig)) -> Arc<ServerTarget> {
    let world: World = crate::support::world_with(tweak).await;
    Arc::new(ServerTarget {
        email_tls: Err("not under test here".into()),
        ..crate::support::world_ca_under_test(world)
    })
}

/// Runs each of `ids` against `target`: its outcome and the ids of its findings, deduplicated.
async fn judge(target: &Arc<ServerTarget>, ids: &[&str]) -> Vec<(String, Outcome, Vec<String>)> {
    let sut = Sut::Server(target.clone());
    let mut out = Vec::new();
    for id in ids {
        let s = scenario_named(id);
        let run = scenario::run::run_with(&s, s.seed(), &sut).await;
        let mut found: Vec<String> = run
            .findings
            .as_slice()
            .iter()
            .map(|f| f.req.to_owned())
            .collect();
        found.dedup();
        assert!(run.error.is_none(), "{id}: harness error {:?}", run.error);
        out.push(((*id).to_owned(), outcome_of(&run, false), found));
    }
    out
}

/// Each of `ids` fails with exactly `finding` against the knob's CA and passes against the
/// unbroken one.
async fn knob_gives(tweak: impl FnOnce(&mut WorldConfig), ids: &[&str], finding: &str) {
    let knob = broken(tweak).await;
    for (id, outcome, found) in judge(&knob, ids).await {
        assert_eq!(
            (outcome, found),
            (Outcome::Fail, vec![finding.to_owned()]),
            "{id} with the knob"
        );
    }
    knob.shutdown().await;
    let plain = broken(|_| {}).await;
    for (id, outcome, found) in judge(&plain, ids).await {
        assert_eq!(
            (outcome, found),
            (Outcome::Pass, Vec::<String>::new()),
            "{id} unbroken"
        );
    }
    plain.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_valid_challenge_without_validated_is_acme_25() {
    knob_gives(
        |c| c.ca.knobs.omit_validated = true,
        &[
            // The whole flow: the valid challenge is seen in the authorization it polls.
            "rfc8823/3/issuance-ascii-address",
            // Step by step: expect-authorization valid, then finalize.
            "rfc8823/3.3/step-by-step-signing-finalize",
        ],
        "ACME-25",
    )
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_invalid_challenge_without_error_is_acme_25() {
    knob_gives(
        |c| c.ca.knobs.omit_error = true,
        &[
            // Expects an error type and detail: none to compare, ACME-25 alone says why.
            "rfc8823/3.2/reply-without-dkim-refused",
            // Expects only the status.
            "rfc8823/3.2/reply-truncated-digest-refused",
        ],
        "ACME-25",
    )
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_key_usage_other_than_the_csr_asked_is_smime_57() {
    knob_gives(
        |c| c.ca.knobs.ignore_csr_key_usage = true,
        &[
            // The reference MUA's whole flow with a signing-only CSR.
            "rfc8823/3.3/signing-only-certificate",
            // The finalize step with a signing-only CSR.
            "rfc8823/3.3/step-by-step-signing-finalize",
        ],
        "SMIME-57",
    )
    .await;
    // A CSR without key usage asks for both: the knob changes nothing there.
    let knob = broken(|c| c.ca.knobs.ignore_csr_key_usage = true).await;
    let got = judge(&knob, &["rfc8823/3/issuance-ascii-address"]).await;
    assert_eq!(got[0].1, Outcome::Pass, "{got:?}");
    knob.shutdown().await;
}

/// The ids the object judge files under.
const OBJECT_IDS: [&str; 9] = [
    "ACME-18", "ACME-23", "ACME-25", "ACME-26", "ACME-42", "ACME-43", "ACME-44", "ACME-45",
    "MAIL-9",
];

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_unbroken_ca_shows_no_object_defect_in_any_server_scenario() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../scenarios");
    let target = broken(|_| {}).await;
    let sut = Sut::Server(target.clone());
    let mut judged = 0;
    let mut wrong = Vec::new();
    for s in scenario::load_dir(&dir).expect("scenarios load") {
        let run = scenario::run::run_with(&s, s.seed(), &sut).await;
        if run.verdict.is_some() {
            continue;
        }
        judged += 1;
        for f in run.findings.as_slice() {
            // SMIME-57 is also a scenario's own id (the certificate a CSR's key usage asks
            // for); any object finding of the judge is one of these.
            if OBJECT_IDS.contains(&f.req) || f.expected.contains("(RFC 8823 §3.3)") {
                wrong.push(format!(
                    "{}: {} expected {}; observed {}",
                    s.file.id, f.req, f.expected, f.observed
                ));
            }
        }
    }
    assert!(
        judged > 50,
        "only {judged} scenarios ran against the server"
    );
    assert!(wrong.is_empty(), "{wrong:#?}");
    target.shutdown().await;
}
