//! The reference MUA end to end over real protocols: the CA's challenge mail goes
//! CA → relay → MX → LMTP → store → IMAP → MUA, the reply goes MUA → Submission → relay → the
//! CA's MX. DKIM is checked both ways (the MUA on the challenge, the CA on the reply), and the
//! certificate is checked with x509-parser. Then the MUA's own rules: what it ignores, how it
//! waits, and its variants.

use std::collections::BTreeSet;
use std::time::Duration;

use acmeproof::mua::judge::{Expected, Judgement, judge};
use acmeproof::mua::mailbox::Mailbox;
use acmeproof::mua::{self, MailAccount, MailboxWait, MuaOptions, PostTiming};
use acmeproof_mocks::dkim::DkimVerifier;
use acmeproof_mocks::dns::WorldResolver;
use acmeproof_mocks::imap::Direction;
use acmeproof_mocks::relay::RelayBehaviour;
use acmeproof_mocks::seed::Seed;
use acmeproof_mocks::world::World;
use acmeproof_mocks::world::mail::RelaySpec;
use acmeproof_protocol::pki::SmimeUsage;
use acmeproof_protocol::smime::ResponseBody;
use acmeproof_protocol::token::Join;
use serde_json::Value;

use crate::support::*;

const ALICE: &str = "alice@example.test";
const ALICE_PASSWORD: &str = "alice-password";
const EAI: &str = "δοκιμή@παράδειγμα.δοκιμή";
const EAI_PASSWORD: &str = "eai-password";

fn options(usage: SmimeUsage) -> MuaOptions {
    MuaOptions {
        usage,
        timeout: WAIT,
        ..MuaOptions::default()
    }
}

fn account(world: &World, address: &str, password: &str) -> MailAccount {
    MailAccount::in_world(world, address, password).expect("mail plane")
}

/// The IMAP lines the client sent, lossy, in order.
fn imap_commands(world: &World, implicit: bool) -> Vec<String> {
    let mail = world.mail.as_ref().unwrap();
    let server = if implicit { &mail.imaps } else { &mail.imap };
    server
        .transcript()
        .into_iter()
        .filter(|l| l.direction == Direction::ClientToServer)
        .map(|l| l.line)
        .collect()
}

#[tokio::test]
async fn alice_gets_a_signing_certificate_through_imap_and_submission() {
    let world = world().await;
    let client = client(&world, "mua-alice").await;
    let outcome = mua::issue(
        &client,
        &account(&world, ALICE, ALICE_PASSWORD),
        &options(SmimeUsage::SIGNING),
        world.pki.root_der(),
    )
    .await
    .unwrap_or_else(|e| panic!("{e}"));
    // The certificate: rfc822Name, emailProtection, signing only (checked again here so the
    // test does not rest on the MUA's own check alone).
    let leaf = &outcome.certificate;
    assert!(leaf.has_san("email:alice@example.test"), "{leaf:?}");
    let ku = leaf.key_usage.as_ref().expect("KU");
    assert!(ku.critical, "RFC 8550 §4.4.2");
    assert_eq!(ku.value.names(), ["digitalSignature"], "{ku:?}");
    let eku = &leaf.extended_key_usage.as_ref().expect("EKU").value;
    assert!(eku.iter().any(|e| e == "emailProtection"), "{eku:?}");
    // The MUA's certificate check fires on what does not fit: another address, another key
    // usage, another trust anchor.
    let chain = &outcome.issued.chain_pem;
    let root = world.pki.root_der();
    let check = |address, usage, root| mua::certificate::check_smime(chain, address, usage, root);
    assert!(check(ALICE, SmimeUsage::SIGNING, root).is_ok());
    let e = check(EAI, SmimeUsage::SIGNING, root).unwrap_err();
    assert!(e.contains("no SAN smtputf8:"), "{e}");
    let e = check(ALICE, SmimeUsage::EncryptionOnly, root).unwrap_err();
    assert!(e.contains("does not match"), "{e}");
    let e = check(ALICE, SmimeUsage::SIGNING, &outcome.exchange.challenge_mail).unwrap_err();
    assert!(e.starts_with("chain:"), "{e}");

    // The way in: the challenge as fetched over IMAP carries the trace of LMTP, the MX and the
    // relay (RFC 5321 §4.4), and the MUA verified the CA's DKIM signature.
    let mail = world.mail.as_ref().unwrap();
    let hops = acmeproof::mua::trace::hops(&outcome.exchange.challenge_mail).expect("parses");
    let by: Vec<&str> = hops.iter().map(|h| h.by.as_str()).collect();
    assert_eq!(
        by,
        [
            mail.relays[0].0.as_str(),
            "mx.acmeproof.test",
            "lmtp.acmeproof.test"
        ],
        "{hops:?}"
    );
    assert!(outcome.exchange.challenge_dkim_pass);
    assert!(
        outcome
            .exchange
            .challenge_mail
            .starts_with(b"Return-Path: <"),
        "final delivery"
    );
    let commands = imap_commands(&world, false);
    for want in ["STARTTLS", "AUTHENTICATE PLAIN", "UID FETCH", "UID STORE"] {
        assert!(
            commands.iter().any(|c| c.contains(want)),
            "{want} in {commands:?}"
        );
    }
    let stored = mail
        .store
        .message(ALICE, "INBOX", outcome.challenge_uid)
        .expect("challenge in the store");
    assert!(stored.flags.contains("\\Answered"), "{:?}", stored.flags);

    // The way out: one reply, through the relay, DKIM-signed by the MSA and verified there;
    // the CA validated it (it refuses replies without DKIM: see email.rs).
    let forwarded = mail.relays[0].2.forwarded();
    let replies: Vec<_> = forwarded
        .iter()
        .filter(|f| {
            f.envelope
                .rcpt_to
                .iter()
                .any(|r| r.starts_with("acme-challenge@"))
        })
        .collect();
    assert_eq!(replies.len(), 1, "one reply");
    assert!(String::from_utf8_lossy(&replies[0].data).contains("dkim=pass"));
    assert_eq!(outcome.authorization["status"], "valid");
    assert!(outcome.ignored.is_empty(), "{:?}", outcome.ignored);
    world.shutdown().await;
}

#[tokio::test]
async fn an_eai_address_gets_an_encryption_certificate_over_imaps() {
    let world = world().await;
    let client = client(&world, "mua-eai").await;
    let imaps = world.mail.as_ref().unwrap().imaps.addr();
    let outcome = mua::issue(
        &client,
        &account(&world, EAI, EAI_PASSWORD).with_imaps(imaps),
        &options(SmimeUsage::EncryptionOnly),
        world.pki.root_der(),
    )
    .await
    .unwrap_or_else(|e| panic!("{e}"));
    let leaf = &outcome.certificate;
    assert!(leaf.has_san(&format!("smtputf8:{EAI}")), "{leaf:?}");
    assert!(
        !leaf.sans.iter().any(|s| s.starts_with("email:")),
        "{leaf:?}"
    );
    // An EC key: encryption is keyAgreement (RFC 8823 §3.3).
    assert_eq!(
        leaf.key_usage.as_ref().expect("KU").value.names(),
        ["keyAgreement"]
    );
    assert!(outcome.exchange.challenge_dkim_pass);
    let commands = imap_commands(&world, true);
    assert!(
        commands.iter().any(|c| c.contains("ENABLE UTF8=ACCEPT")),
        "{commands:?}"
    );
    assert!(!commands.iter().any(|c| c.contains("STARTTLS")));
    world.shutdown().await;
}

#[tokio::test]
async fn unexpected_challenges_are_ignored_and_only_the_real_one_is_answered() {
    let world = world().await;
    let client = client(&world, "mua-ignores").await;
    let account = account(&world, ALICE, ALICE_PASSWORD);
    let mut mailbox = Mailbox::open(&account, WAIT).await.expect("mailbox");
    // Three lookalikes arrive first: from another sender, a `Re:` of a challenge, and one
    // from the CA's address signed with a key its DNS does not publish.
    let ca_from = world.ca.shared().config.challenge_from.clone();
    let store = &world.mail.as_ref().unwrap().store;
    let now = world.clock.now();
    for kind in acmeproof::scenario::lookalike::KINDS {
        let raw = acmeproof::scenario::lookalike::build(
            *kind,
            &ca_from,
            ALICE,
            &Seed(9).stream("forger"),
        )
        .unwrap();
        store.deliver(ALICE, &raw, now).expect("deliver");
    }
    let outcome = mua::issue_in(
        &mut mailbox,
        &client,
        &account,
        &options(SmimeUsage::BOTH),
        world.pki.root_der(),
    )
    .await
    .unwrap_or_else(|e| panic!("{e}"));
    mailbox.close().await;
    let reasons: Vec<&str> = outcome.ignored.iter().map(|i| i.reason.as_str()).collect();
    assert_eq!(reasons.len(), 3, "{reasons:?}");
    assert!(
        reasons[0].contains("SMIME-22"),
        "another sender: {reasons:?}"
    );
    assert!(
        reasons[1].contains("Re: ACME") && reasons[1].contains("SMIME-17"),
        "a reply: {reasons:?}"
    );
    assert!(reasons[2].contains("SMIME-28"), "forged DKIM: {reasons:?}");
    let forwarded = world.mail.as_ref().unwrap().relays[0].2.forwarded();
    let replies = forwarded
        .iter()
        .filter(|f| f.envelope.mail_from == ALICE)
        .count();
    assert_eq!(replies, 1, "only the real challenge is answered");
    world.shutdown().await;
}

#[tokio::test]
async fn idle_reports_mail_delivered_before_or_while_idling() {
    let world = world().await;
    let account = account(&world, ALICE, ALICE_PASSWORD);
    let store = world.mail.as_ref().unwrap().store.clone();
    let mut mailbox = Mailbox::open(&account, WAIT).await.expect("mailbox");
    assert!(mailbox.new_messages().await.unwrap().is_empty());
    let deadline = tokio::time::Instant::now() + WAIT;
    // Delivered between SELECT and the wait: the look before IDLE finds it (and the server
    // would report it when IDLE starts).
    store
        .deliver(ALICE, b"Subject: one\r\n\r\nbody\r\n", world.clock.now())
        .unwrap();
    assert!(mailbox.wait(MailboxWait::Idle, deadline).await.unwrap());
    let got = mailbox.new_messages().await.unwrap();
    assert_eq!(got.len(), 1);
    assert!(got[0].raw.starts_with(b"Subject: one"));
    // Delivered while idling: the store's event wakes the IDLE.
    let clock = world.clock.clone();
    let writer = store.clone();
    let later = tokio::spawn(async move {
        tokio::task::yield_now().await;
        writer
            .deliver(ALICE, b"Subject: two\r\n\r\nbody\r\n", clock.now())
            .unwrap()
    });
    assert!(mailbox.wait(MailboxWait::Idle, deadline).await.unwrap());
    later.await.unwrap();
    let got = mailbox.new_messages().await.unwrap();
    assert_eq!(got.len(), 1);
    assert!(got[0].raw.starts_with(b"Subject: two"));
    // Delivered, then reported on the answer to another command (`* n EXISTS` before NOOP's
    // OK): it is not announced again at IDLE's start, so the wait must not idle past it.
    store
        .deliver(ALICE, b"Subject: three\r\n\r\nbody\r\n", world.clock.now())
        .unwrap();
    mailbox.noop().await.unwrap();
    let soon = tokio::time::Instant::now() + Duration::from_millis(500);
    assert!(
        mailbox.wait(MailboxWait::Idle, soon).await.unwrap(),
        "not missed"
    );
    let got = mailbox.new_messages().await.unwrap();
    assert!(got[0].raw.starts_with(b"Subject: three"));
    // Nothing more: the wait ends at its deadline, not before.
    let soon = tokio::time::Instant::now() + Duration::from_millis(300);
    assert!(!mailbox.wait(MailboxWait::Idle, soon).await.unwrap());
    mailbox.close().await;
    let commands = imap_commands(&world, false);
    assert!(
        commands.iter().filter(|c| c.ends_with(" IDLE")).count() == 2,
        "{commands:?}"
    );
    assert!(commands.iter().any(|c| c == "DONE"), "{commands:?}");
    world.shutdown().await;
}

#[tokio::test]
async fn a_ca_that_mails_on_post_needs_the_post_before_the_reply() {
    let world = world_with(|c| {
        c.ca.knobs.email_send_on =
            serde_json::from_value(Value::String("challenge-post".into())).unwrap();
    })
    .await;
    let account = account(&world, ALICE, ALICE_PASSWORD);
    // POST after the reply (RFC 8823 §3 step 7): the mail never comes; a clear timeout.
    let after = client(&world, "mua-post-after").await;
    let short = MuaOptions {
        timeout: Duration::from_secs(2),
        ..MuaOptions::default()
    };
    let err = mua::issue(&after, &account, &short, world.pki.root_der())
        .await
        .expect_err("no mail without the POST");
    let text = err.to_string();
    assert!(
        text.contains("no challenge mail from acme-challenge@"),
        "{text}"
    );
    // POST first: the mail comes and the certificate is issued.
    let client = client(&world, "mua-post-before").await;
    let before = MuaOptions {
        post: PostTiming::BeforeReply,
        ..options(SmimeUsage::BOTH)
    };
    let outcome = mua::issue(&client, &account, &before, world.pki.root_der())
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(outcome.authorization["status"], "valid");
    world.shutdown().await;
}

#[tokio::test]
async fn variants_binary_join_multipart_wrapped_digest_and_polling() {
    let world = world().await;
    let client = client(&world, "mua-variants").await;
    let variant = MuaOptions {
        join: Join::Binary,
        body: ResponseBody::MultipartAlternative,
        wrap: Some(16),
        wait: MailboxWait::Poll(Duration::from_millis(50)),
        ..options(SmimeUsage::SIGNING)
    };
    let outcome = mua::issue(
        &client,
        &account(&world, ALICE, ALICE_PASSWORD),
        &variant,
        world.pki.root_der(),
    )
    .await
    .unwrap_or_else(|e| panic!("{e}"));
    let reply = String::from_utf8_lossy(&outcome.reply);
    assert!(reply.contains("multipart/alternative"), "{reply}");
    let commands = imap_commands(&world, false);
    assert!(!commands.iter().any(|c| c.contains("IDLE")), "polled");
    world.shutdown().await;
}

#[tokio::test]
async fn the_judge_answers_a_token_once_and_wants_dkim() {
    let world = world().await;
    let client = client(&world, "mua-judge").await;
    // A real challenge, read from the store.
    let exchange = acmeproof::acme::email::start(&client, &world, ALICE, WAIT)
        .await
        .expect("challenge");
    let resolver = WorldResolver::new(world.dns.addr()).unwrap();
    let verifier = DkimVerifier::new(&resolver);
    let expected = Expected {
        from: exchange.challenge["from"].as_str().unwrap().to_owned(),
        to: ALICE.into(),
        require_dkim: true,
        lenient: false,
    };
    let raw = &exchange.challenge_mail;
    let mut answered = BTreeSet::new();
    let part1 = match judge(raw, &expected, &answered, &verifier).await {
        Judgement::Answer { info, dkim_pass } => {
            assert!(dkim_pass);
            info.token_part1.unwrap()
        }
        Judgement::Ignore(why) => panic!("{why}"),
    };
    answered.insert(part1);
    match judge(raw, &expected, &answered, &verifier).await {
        Judgement::Ignore(why) => assert!(why.contains("already answered"), "{why}"),
        other => panic!("answered twice: {other:?}"),
    }
    // One changed octet in the signed body: DKIM fails and the mail is ignored.
    let text = String::from_utf8_lossy(raw).replacen("\r\n\r\n", "\r\n\r\nX", 1);
    match judge(text.as_bytes(), &expected, &BTreeSet::new(), &verifier).await {
        Judgement::Ignore(why) => assert!(why.contains("SMIME-28"), "{why}"),
        other => panic!("tampered mail answered: {other:?}"),
    }
    world.shutdown().await;
}

#[tokio::test]
async fn a_server_that_stops_answering_is_an_error_not_a_hang() {
    let world = world().await;
    // Greets, then says nothing more (holding the connection open).
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let silent = listener.local_addr().unwrap();
    let holder = tokio::spawn(async move {
        use tokio::io::AsyncWriteExt as _;
        let (mut socket, _) = listener.accept().await.unwrap();
        socket
            .write_all(b"* OK silent server ready\r\n")
            .await
            .unwrap();
        let mut buf = [0u8; 1024];
        use tokio::io::AsyncReadExt as _;
        while socket.read(&mut buf).await.is_ok_and(|n| n > 0) {}
    });
    let mut account = account(&world, ALICE, ALICE_PASSWORD);
    account.imap = silent;
    let err = Mailbox::open(&account, Duration::from_millis(500))
        .await
        .expect_err("no STARTTLS answer");
    let text = err.to_string();
    assert!(
        text.contains("opening the mailbox: no answer in 500ms"),
        "{text}"
    );
    holder.abort();
    world.shutdown().await;
}

#[tokio::test]
async fn a_duplicated_challenge_gets_one_reply() {
    // A relay that delivers every message twice.
    let world = world_with(|c| {
        c.mail.relays = vec![RelaySpec {
            name: "doubler".into(),
            behaviour: RelayBehaviour {
                duplicate: true,
                ..RelayBehaviour::default()
            },
        }];
    })
    .await;
    let client = client(&world, "mua-duplicates").await;
    let account = account(&world, ALICE, ALICE_PASSWORD);
    let store = world.mail.as_ref().unwrap().store.clone();
    let mut mailbox = Mailbox::open(&account, WAIT).await.expect("mailbox");
    let first = mua::issue_in(
        &mut mailbox,
        &client,
        &account,
        &options(SmimeUsage::BOTH),
        world.pki.root_der(),
    )
    .await
    .unwrap_or_else(|e| panic!("{e}"));
    // The second copy of the first challenge arrives...
    let part1 = first.exchange.info.token_part1.clone().unwrap();
    let copy = store
        .wait_for_message(
            ALICE,
            |m| m.uid > first.challenge_uid && String::from_utf8_lossy(&m.raw).contains(&part1),
            WAIT,
        )
        .await
        .expect("the duplicate");
    // ...and the next issuance from the same mailbox sees it, and does not answer it again.
    let second = mua::issue_in(
        &mut mailbox,
        &client,
        &account,
        &options(SmimeUsage::BOTH),
        world.pki.root_der(),
    )
    .await
    .unwrap_or_else(|e| panic!("{e}"));
    mailbox.close().await;
    let ignored: Vec<_> = second
        .ignored
        .iter()
        .filter(|i| i.uid == copy.uid)
        .collect();
    assert_eq!(ignored.len(), 1, "{:?}", second.ignored);
    assert!(
        ignored[0].reason.contains("already answered"),
        "{ignored:?}"
    );
    assert_ne!(
        second.exchange.info.token_part1,
        first.exchange.info.token_part1
    );
    // Two issuances, two replies through Submission.
    let submissions = world
        .mail
        .as_ref()
        .unwrap()
        .submission
        .transcript()
        .into_iter()
        .filter(|l| l.direction == Direction::ClientToServer && l.line.starts_with("MAIL FROM"))
        .count();
    assert_eq!(submissions, 2);
    world.shutdown().await;
}

#[tokio::test]
async fn messages_put_back_come_first_next_time() {
    let world = world().await;
    let account = account(&world, ALICE, ALICE_PASSWORD);
    let store = world.mail.as_ref().unwrap().store.clone();
    let mut mailbox = Mailbox::open(&account, WAIT).await.expect("mailbox");
    for subject in ["one", "two", "three"] {
        let raw = format!("Subject: {subject}\r\n\r\nbody\r\n");
        store
            .deliver(ALICE, raw.as_bytes(), world.clock.now())
            .unwrap();
    }
    let mut got = mailbox.new_messages().await.unwrap().into_iter();
    let one = got.next().unwrap();
    assert!(one.raw.starts_with(b"Subject: one"));
    mailbox.put_back(got.collect());
    store
        .deliver(ALICE, b"Subject: four\r\n\r\nbody\r\n", world.clock.now())
        .unwrap();
    let again: Vec<_> = mailbox.new_messages().await.unwrap();
    let subjects: Vec<String> = again
        .iter()
        .map(|m| String::from_utf8_lossy(&m.raw[9..14]).trim().to_owned())
        .collect();
    assert_eq!(subjects, ["two", "three", "four"]);
    assert!(mailbox.new_messages().await.unwrap().is_empty());
    mailbox.close().await;
    world.shutdown().await;
}
