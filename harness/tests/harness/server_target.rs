//! The server judge's plumbing (`run --server-url`), with the reference CA of the tester's own
//! world standing in for the server under test: issued chains are validated up to
//! `--server-root` (or up to the chain's own top without it), never only against the world's
//! root, and the harness's accounts carry the configured `mailto:` contact.

use std::path::Path;
use std::sync::Arc;

use acmeproof::scenario::Outcome;
use acmeproof::scenario::{self, LoadedScenario, outcome_of};
use acmeproof::sut::Sut;
use acmeproof::sut::server::ServerTarget;
use acmeproof_mocks::world::World;

const ISSUANCE: &str = "rfc8823/3/issuance-ascii-address";

/// The library's scenario `id`.
fn scenario_named(id: &str) -> LoadedScenario {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../scenarios");
    scenario::load_dir(&dir)
        .expect("scenarios load")
        .into_iter()
        .find(|s| s.file.id == id)
        .unwrap_or_else(|| panic!("no scenario {id}"))
}

fn issuance() -> LoadedScenario {
    scenario_named(ISSUANCE)
}

/// The world's own CA as a server under test.
fn target(world: World, issuing_roots: Vec<Vec<u8>>, contact: Vec<String>) -> Sut {
    Sut::Server(Arc::new(ServerTarget {
        directory_url: world.ca.directory_url(),
        root_pem: world.pki.root_pem().to_owned(),
        issuing_roots,
        contact,
        world,
        email: Ok(()),
        email_tls: Err("not under test here".into()),
        request_timeout: acmeproof::acme::client::REQUEST_TIMEOUT,
    }))
}

fn world_of(sut: &Sut) -> &World {
    match sut {
        Sut::Server(t) => &t.world,
        _ => unreachable!("a server target"),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn issued_chains_are_validated_up_to_the_given_root_or_their_own_top() {
    let s = issuance();
    // No --server-root: the chain's own top stands in for the root, and the issuance passes
    // (before, only the world's root was tried, so another CA's certificate was "no
    // certificate"). The account names the configured contact.
    let own_top = target(
        crate::support::world().await,
        Vec::new(),
        vec!["mailto:alice@example.test".into()],
    );
    let run = scenario::run::run_with(&s, s.seed(), &own_top).await;
    assert_eq!(outcome_of(&run, false), Outcome::Pass, "{run:#?}");
    let history = world_of(&own_top).ca.shared().history();
    let new_account = history
        .iter()
        .find(|r| r.path.ends_with("/new-account"))
        .expect("newAccount");
    assert_eq!(
        new_account.payload.as_ref().expect("payload")["contact"][0],
        "mailto:alice@example.test"
    );
    // --server-root with the CA's own root: passes.
    let world = crate::support::world().await;
    let root = world.pki.root_der().to_vec();
    let right_root = target(world, vec![root], Vec::new());
    let run = scenario::run::run_with(&s, s.seed(), &right_root).await;
    assert_eq!(outcome_of(&run, false), Outcome::Pass, "{run:#?}");
    // --server-root with another CA's root: the path ends nowhere, and the judge says so.
    let other = crate::support::world_with(|c| c.seed = c.seed.wrapping_add(1)).await;
    let wrong = other.pki.root_der().to_vec();
    other.shutdown().await;
    let wrong_root = target(crate::support::world().await, vec![wrong], Vec::new());
    let run = scenario::run::run_with(&s, s.seed(), &wrong_root).await;
    assert_eq!(outcome_of(&run, false), Outcome::Fail, "{run:#?}");
    let said = format!("{:?}", run.findings);
    // The other root has the same name and another key.
    assert!(said.contains("RFC 5280 path validation"), "{said}");
    for sut in [own_top, right_root, wrong_root] {
        if let Sut::Server(t) = sut {
            t.shutdown().await;
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_step_reads_the_challenge_mail_of_its_own_order_in_a_shared_mailbox() {
    let reply_with_cc = scenario_named("rfc8823/3.2/reply-with-cc-accepted");
    let sut = target(crate::support::world().await, Vec::new(), Vec::new());
    let world = world_of(&sut);
    // An earlier order left its challenge mail, never answered, in alice's INBOX: a server run
    // shares one world (and mailbox) across scenarios.
    let earlier = crate::support::client(world, "earlier").await;
    acmeproof::acme::email::start(&earlier, world, "alice@example.test", crate::support::WAIT)
        .await
        .expect("an earlier challenge mail");
    let run = scenario::run::run_with(&reply_with_cc, reply_with_cc.seed(), &sut).await;
    // The step replied to its own order's mail, so the CA validated it.
    assert_eq!(outcome_of(&run, false), Outcome::Pass, "{run:#?}");
    let inbox = world
        .mail
        .as_ref()
        .expect("mail")
        .store
        .messages("alice@example.test", "INBOX")
        .expect("inbox");
    assert!(inbox.len() >= 2, "both challenge mails are there");
    if let Sut::Server(t) = sut {
        t.shutdown().await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_server_declining_eai_addresses_is_unimplemented_not_a_failure() {
    let eai = scenario_named("rfc8823/3/issuance-eai-address");
    // A CA that declines internationalized addresses (rejectedIdentifier, RFC 8555 §7.4).
    let world = crate::support::world_with(|c| c.ca.knobs.refuse_eai = true).await;
    let sut = target(world, Vec::new(), Vec::new());
    let run = scenario::run::run_with(&eai, eai.seed(), &sut).await;
    assert_eq!(outcome_of(&run, false), Outcome::Unimplemented, "{run:#?}");
    assert!(run.findings.as_slice().is_empty(), "{:?}", run.findings);
    let (_, why) = run.verdict.clone().expect("a verdict");
    assert!(why.contains("rejectedIdentifier"), "{why}");
    // The same CA still issues for an ASCII address.
    let run = scenario::run::run_with(&issuance(), issuance().seed(), &sut).await;
    assert_eq!(outcome_of(&run, false), Outcome::Pass, "{run:#?}");
    if let Sut::Server(t) = sut {
        t.shutdown().await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn each_defect_of_an_ignored_challenge_mail_is_its_own_finding() {
    let reply_with_cc = scenario_named("rfc8823/3.2/reply-with-cc-accepted");
    // A CA whose challenge mail breaks two MUSTs at once: no Auto-Submitted, no DKIM.
    let world = crate::support::world_with(|c| {
        c.ca.knobs.challenge_without_auto_submitted = true;
        c.ca.knobs.challenge_unsigned = true;
    })
    .await;
    let sut = target(world, Vec::new(), Vec::new());
    let run = scenario::run::run_with(&reply_with_cc, reply_with_cc.seed(), &sut).await;
    assert_eq!(outcome_of(&run, false), Outcome::Fail, "{run:#?}");
    let ids: Vec<&str> = run.findings.as_slice().iter().map(|f| f.req).collect();
    let auto_submitted = run
        .findings
        .as_slice()
        .iter()
        .find(|f| f.expected.contains("Auto-Submitted"))
        .unwrap_or_else(|| panic!("an Auto-Submitted finding: {:#?}", run.findings));
    let dkim = run
        .findings
        .as_slice()
        .iter()
        .find(|f| f.req != auto_submitted.req && f.expected.to_lowercase().contains("dkim"))
        .unwrap_or_else(|| panic!("a DKIM finding: {:#?}", run.findings));
    assert_ne!(auto_submitted.req, dkim.req);
    // Not folded into one line under SMIME-7.
    assert!(!ids.contains(&"SMIME-7"), "{ids:?}");
    if let Sut::Server(t) = sut {
        t.shutdown().await;
    }
}
