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
use acmeproof_reports::Channel;

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

/// The world's own CA as a server under test, judged with the lenient MUA of a server run.
fn target(world: World, issuing_roots: Vec<Vec<u8>>, contact: Vec<String>) -> Sut {
    target_with_mua(world, issuing_roots, contact, false)
}

/// [`target`], with a strict MUA when `strict_mua` (`run --strict-mua`).
fn target_with_mua(
    world: World,
    issuing_roots: Vec<Vec<u8>>,
    contact: Vec<String>,
    strict_mua: bool,
) -> Sut {
    Sut::Server(Arc::new(ServerTarget {
        issuing_roots,
        contact,
        strict_mua,
        email_tls: Err("not under test here".into()),
        ..crate::support::world_ca_under_test(world)
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
    // An earlier order left its challenge mail, never answered, in the INBOX the scenario will
    // use (its own mailbox standing for alice; say, the same scenario run before in this world).
    let (_, boxes) = acmeproof::scenario::mailboxes::prepare(
        world,
        &reply_with_cc,
        acmeproof_mocks::seed::Seed(reply_with_cc.seed()),
    )
    .expect("mailboxes");
    let (own, _) = boxes.get("alice@example.test").expect("alice's").clone();
    let earlier = crate::support::client(world, "earlier").await;
    acmeproof::acme::email::start(&earlier, world, &own, crate::support::WAIT)
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
        .messages(&own, "INBOX")
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

/// A world whose CA's challenge mail breaks two MUSTs at once: no Auto-Submitted, no DKIM.
async fn world_with_a_doubly_broken_challenge() -> World {
    crate::support::world_with(|c| {
        c.ca.knobs.challenge_without_auto_submitted = true;
        c.ca.knobs.challenge_unsigned = true;
    })
    .await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn each_defect_of_an_ignored_challenge_mail_is_its_own_finding() {
    let reply_with_cc = scenario_named("rfc8823/3.2/reply-with-cc-accepted");
    let world = world_with_a_doubly_broken_challenge().await;
    let sut = target_with_mua(world, Vec::new(), Vec::new(), true);
    let run = scenario::run::run_with(&reply_with_cc, reply_with_cc.seed(), &sut).await;
    assert_eq!(outcome_of(&run, false), Outcome::Fail, "{run:#?}");
    // The strict MUA ignored the mail: nothing after read-challenge ran.
    assert!(
        run.steps
            .iter()
            .any(|s| s.status == acmeproof::scenario::StepStatus::NotRun),
        "{:#?}",
        run.steps
    );
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

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_lenient_mua_records_each_defect_and_goes_on_with_the_exchange() {
    let reply_with_cc = scenario_named("rfc8823/3.2/reply-with-cc-accepted");
    let world = world_with_a_doubly_broken_challenge().await;
    let sut = target(world, Vec::new(), Vec::new());
    let run = scenario::run::run_with(&reply_with_cc, reply_with_cc.seed(), &sut).await;
    assert_eq!(outcome_of(&run, false), Outcome::Fail, "{run:#?}");
    // Both defects are findings, each under its own id ...
    let ids: Vec<&str> = run.findings.as_slice().iter().map(|f| f.req).collect();
    assert!(
        run.findings
            .as_slice()
            .iter()
            .any(|f| f.expected.contains("Auto-Submitted")),
        "{ids:?}"
    );
    assert!(
        run.findings
            .as_slice()
            .iter()
            .any(|f| f.expected.to_lowercase().contains("dkim")),
        "{ids:?}"
    );
    // ... and the mail was answered: every step ran, and the CA (which only broke its own
    // mail) validated the reply.
    assert!(
        run.steps
            .iter()
            .all(|s| s.status != acmeproof::scenario::StepStatus::NotRun),
        "{:#?}",
        run.steps
    );
    assert!(run.error.is_none(), "{:?}", run.error);
    if let Sut::Server(t) = sut {
        t.shutdown().await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn each_scenario_of_a_server_run_orders_and_reads_a_mailbox_of_its_own() {
    let world = crate::support::world_with(|_| {}).await;
    let sut = target(world, Vec::new(), Vec::new());
    let first = scenario_named("rfc8823/3.2/reply-with-cc-accepted");
    let second = issuance();
    for scenario in [&first, &second] {
        let run = scenario::run::run_with(scenario, scenario.seed(), &sut).await;
        assert_eq!(outcome_of(&run, false), Outcome::Pass, "{run:#?}");
    }
    let store = &world_of(&sut).mail.as_ref().expect("mail").store;
    let users = store.users();
    // Each scenario got its own alice, and its challenge mail went there, not to the world's.
    let own: Vec<&String> = users
        .iter()
        .filter(|u| u.starts_with("alice-") && u.ends_with("@example.test"))
        .collect();
    assert!(own.len() >= 2, "{users:?}");
    for user in own {
        assert!(
            !store.messages(user, "INBOX").expect("inbox").is_empty(),
            "{user} got no mail"
        );
    }
    assert!(
        store
            .messages("alice@example.test", "INBOX")
            .expect("inbox")
            .is_empty(),
        "the world's own alice got a scenario's mail"
    );
    if let Sut::Server(t) = sut {
        t.shutdown().await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_server_run_keeps_each_scenarios_own_wire_without_secrets() {
    let world = crate::support::world_with(|_| {}).await;
    let sut = target(world, Vec::new(), Vec::new());
    let reply_with_cc = scenario_named("rfc8823/3.2/reply-with-cc-accepted");
    let run = scenario::run::run_with(&reply_with_cc, reply_with_cc.seed(), &sut).await;
    assert_eq!(outcome_of(&run, false), Outcome::Pass, "{run:#?}");
    let text = |channel: Channel, needle: &str| {
        run.transcript
            .iter()
            .any(|e| e.channel == channel && e.text.contains(needle))
    };
    // Its HTTPS exchanges, decoded: the newOrder payload and the server's answers ...
    assert!(
        text(Channel::Http, "payload: {\"identifiers\""),
        "{:#?}",
        run.transcript
    );
    assert!(
        text(Channel::Http, "\"status\":\"valid\""),
        "{:#?}",
        run.transcript
    );
    // ... the challenge mail as it arrived, and the reply as it was sent.
    assert!(text(Channel::Smtp, "the challenge mail as received"));
    assert!(text(Channel::Smtp, "-----BEGIN ACME RESPONSE-----"));
    // In time order, numbered.
    assert!(
        run.transcript
            .windows(2)
            .all(|w| w[0].at_ms <= w[1].at_ms && w[0].seq < w[1].seq)
    );
    // Only this scenario's: another scenario's mailbox never shows up.
    let (_, boxes) = acmeproof::scenario::mailboxes::prepare(
        world_of(&sut),
        &reply_with_cc,
        acmeproof_mocks::seed::Seed(reply_with_cc.seed()),
    )
    .expect("mailboxes");
    let (own, password) = boxes.get("alice@example.test").expect("alice").clone();
    assert!(text(Channel::Smtp, &own));
    assert!(
        run.transcript.iter().all(|e| !e.text.contains(&password)),
        "a mailbox password in the transcript"
    );
    if let Sut::Server(t) = sut {
        t.shutdown().await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_issuance_whose_challenge_mail_is_ignored_names_its_defects_not_a_timeout() {
    // A CA whose challenge mail has no Auto-Submitted: the MUA ignores it, so no certificate
    // comes. The finding is that defect (SMIME-25), not "no certificate" filed under the
    // issuance's own requirement after the wait runs out.
    let world =
        crate::support::world_with(|c| c.ca.knobs.challenge_without_auto_submitted = true).await;
    let sut = target_with_mua(world, Vec::new(), Vec::new(), true);
    let s = issuance();
    let run = scenario::run::run_with(&s, s.seed(), &sut).await;
    assert_eq!(outcome_of(&run, false), Outcome::Fail, "{run:#?}");
    let findings = run.findings.as_slice();
    assert!(
        findings
            .iter()
            .any(|f| f.expected.contains("Auto-Submitted")),
        "{findings:#?}"
    );
    assert!(
        findings
            .iter()
            .all(|f| !f.observed.contains("no certificate")),
        "{findings:#?}"
    );
    if let Sut::Server(t) = sut {
        t.shutdown().await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_new_order_step_the_server_declines_is_unimplemented_not_a_failure() {
    // RFC 8555 §7.4: declining an identifier (here an EAI address) is the server's policy.
    let s = scenario_named("rfc8823/3/eai-local-part-a-label-domain-order");
    let world = crate::support::world_with(|c| c.ca.knobs.refuse_eai = true).await;
    let sut = target(world, Vec::new(), Vec::new());
    let run = scenario::run::run_with(&s, s.seed(), &sut).await;
    assert_eq!(outcome_of(&run, false), Outcome::Unimplemented, "{run:#?}");
    assert!(run.findings.as_slice().is_empty(), "{:?}", run.findings);
    let (_, why) = run.verdict.clone().expect("a verdict");
    assert!(why.contains("rejectedIdentifier"), "{why}");
    if let Sut::Server(t) = sut {
        t.shutdown().await;
    }
}

/// A matrix row's client side (here `proof = read-only`) is set in memory; against a server
/// under test the scenario is re-read with mailboxes of its own, and the row must survive
/// that: the read-only MUA POSTs tokenPart1 and a reply-only CA (the world's, as written)
/// refuses it under SMIME-12, where a lost row would have replied and passed.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_matrix_rows_client_values_survive_the_scenarios_own_mailboxes() {
    use acmeproof::scenario::variants;
    let proof = variants::lookup("proof").expect("the proof variant");
    let as_written = variants::apply(&issuance(), proof, "reply", "reply").expect("reply row");
    let read_only = variants::apply(&issuance(), proof, "read-only", "reply").expect("read-only");
    for (s, want) in [(as_written, Outcome::Pass), (read_only, Outcome::Fail)] {
        let sut = target(crate::support::world().await, Vec::new(), Vec::new());
        let run = scenario::run::run_with(&s, s.seed(), &sut).await;
        assert_eq!(outcome_of(&run, false), want, "{run:#?}");
        if want == Outcome::Fail {
            let said = format!("{:?}", run.findings);
            assert!(said.contains("tokenPart1"), "{said}");
            let history = world_of(&sut).ca.shared().history();
            assert!(
                history.iter().any(|r| r
                    .payload
                    .as_ref()
                    .is_some_and(|p| p.get("tokenPart1").is_some())),
                "the read-only MUA never POSTed tokenPart1"
            );
        }
        if let Sut::Server(t) = sut {
            t.shutdown().await;
        }
    }
}
