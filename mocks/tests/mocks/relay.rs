//! Relays in a running world: faults (greylisting, drop, duplicate, reorder) and mangling, as
//! seen from the mailbox at the end of the chain.

use std::time::Duration;

use acmeproof_mocks::mail::{Envelope, Incoming, MailSink, Session};
use acmeproof_mocks::mangle::Mangle;
use acmeproof_mocks::relay::{RelayBehaviour, RelaySink, SharedRelay};
use acmeproof_mocks::smtp::client::{ClientTls, SmtpClient};
use acmeproof_mocks::world::mail::RelaySpec;
use acmeproof_mocks::world::{World, WorldConfig};

const ALICE: &str = "alice@example.test";
const WAIT: Duration = Duration::from_secs(20);

async fn world_with_relay(behaviour: RelayBehaviour) -> World {
    let mut config = WorldConfig::example();
    config.mail.relays = vec![RelaySpec {
        name: "faulty".into(),
        behaviour,
    }];
    config.mail.retry_delay_ms = 50;
    World::start(config).await.expect("world")
}

fn message(subject: &str) -> Vec<u8> {
    format!(
        "From: <{ALICE}>\r\nTo: <{ALICE}>\r\nSubject: {subject}\r\nMessage-ID: <{subject}@example.test>\r\n\
         Date: Thu, 01 Jan 2026 00:00:00 +0000\r\n\r\nhello\r\n"
    )
    .into_bytes()
}

/// Hands a message to the world's first relay, as a sender on loopback would.
async fn send_to_relay(world: &World, subject: &str) {
    send_raw_to_relay(world, &message(subject)).await;
}

/// Hands `raw` to the world's first relay.
async fn send_raw_to_relay(world: &World, raw: &[u8]) {
    let relay = world.mail.as_ref().unwrap().relays[0].1.addr();
    let mut client = SmtpClient::connect(relay, "sender.example.test", ClientTls::None, false)
        .await
        .unwrap();
    let envelope = Envelope {
        mail_from: ALICE.into(),
        rcpt_to: vec![ALICE.into()],
        smtputf8: false,
        body_8bit: false,
    };
    let result = client.send(&envelope, raw).await;
    let _ = client.quit().await;
    result.expect("the relay accepts");
}

/// Alice submits a message with `subject` through Submission (STARTTLS, AUTH PLAIN): the
/// world's sender then carries it through the relays.
async fn submit(world: &World, subject: &str) {
    let mail = world.mail.as_ref().unwrap();
    let mut client = SmtpClient::connect(
        mail.submission.addr(),
        "client.example.test",
        ClientTls::StartTls(
            world.pki.client_config(),
            rustls_pki_types::ServerName::try_from("localhost").unwrap(),
        ),
        false,
    )
    .await
    .unwrap();
    client.auth_plain(ALICE, "alice-password").await.unwrap();
    let envelope = Envelope {
        mail_from: ALICE.into(),
        rcpt_to: vec![ALICE.into()],
        smtputf8: false,
        body_8bit: false,
    };
    client.send(&envelope, &message(subject)).await.unwrap();
    let _ = client.quit().await;
}

async fn arrived(world: &World, subject: &str, timeout: Duration) -> Option<Vec<u8>> {
    let store = &world.mail.as_ref().unwrap().store;
    store
        .wait_for_message(
            ALICE,
            |m| String::from_utf8_lossy(&m.raw).contains(&format!("{subject}@example.test")),
            timeout,
        )
        .await
        .map(|m| m.raw.to_vec())
}

fn count(world: &World, subject: &str) -> usize {
    world
        .mail
        .as_ref()
        .unwrap()
        .store
        .messages(ALICE, "INBOX")
        .unwrap()
        .iter()
        .filter(|m| String::from_utf8_lossy(&m.raw).contains(&format!("{subject}@example.test")))
        .count()
}

#[tokio::test]
async fn a_clean_relay_adds_received_and_delivers() {
    let world = world_with_relay(RelayBehaviour::default()).await;
    send_to_relay(&world, "clean").await;
    let raw = arrived(&world, "clean", WAIT).await.expect("delivered");
    let text = String::from_utf8_lossy(&raw);
    assert!(text.contains("by faulty.relay.acmeproof.test"), "{text}");
    assert!(
        text.starts_with("Return-Path:"),
        "final delivery adds Return-Path: {text}"
    );
    world.shutdown().await;
}

#[tokio::test]
async fn greylisting_defers_the_first_attempt_and_the_sender_retries() {
    let world = world_with_relay(RelayBehaviour {
        greylist: true,
        ..RelayBehaviour::default()
    })
    .await;
    // Submission hands the mail to the greylisting relay and retries after the 451.
    let mail = world.mail.as_ref().unwrap();
    submit(&world, "grey").await;
    arrived(&world, "grey", WAIT)
        .await
        .expect("delivered after the retry");
    let transcript = mail.relays[0].1.transcript();
    let deferred = transcript
        .iter()
        .filter(|l| l.line.starts_with("451 4.7.1"))
        .count();
    assert_eq!(deferred, 1, "one deferral, then acceptance: {transcript:?}");
    world.shutdown().await;
}

#[tokio::test]
async fn a_dropping_relay_accepts_and_loses_the_message() {
    let world = world_with_relay(RelayBehaviour {
        drop_percent: 100,
        ..RelayBehaviour::default()
    })
    .await;
    send_to_relay(&world, "dropped").await;
    // A bounded wait for something that must not happen.
    assert!(
        arrived(&world, "dropped", Duration::from_millis(800))
            .await
            .is_none()
    );
    assert!(
        world.mail.as_ref().unwrap().relays[0]
            .2
            .forwarded()
            .is_empty()
    );
    world.shutdown().await;
}

#[tokio::test]
async fn a_duplicating_relay_delivers_twice() {
    let world = world_with_relay(RelayBehaviour {
        duplicate: true,
        ..RelayBehaviour::default()
    })
    .await;
    send_to_relay(&world, "twice").await;
    let store = world.mail.as_ref().unwrap().store.clone();
    let mut events = store.subscribe();
    while count(&world, "twice") < 2 {
        tokio::time::timeout(WAIT, events.recv())
            .await
            .expect("a second copy")
            .expect("store events");
    }
    assert_eq!(count(&world, "twice"), 2);
    world.shutdown().await;
}

/// A world whose relay reorders, holding a message for at most `hold_ms`, and the relay, after
/// its message 0 (never held) has arrived: the next message is the one held.
async fn reordering_world(hold_ms: u64) -> (World, std::sync::Arc<RelaySink>) {
    let world = world_with_relay(RelayBehaviour {
        reorder: true,
        reorder_hold_ms: hold_ms,
        ..RelayBehaviour::default()
    })
    .await;
    let relay = std::sync::Arc::clone(&world.mail.as_ref().unwrap().relays[0].2);
    send_to_relay(&world, "zeroth").await;
    arrived(&world, "zeroth", WAIT).await.unwrap();
    (world, relay)
}

#[tokio::test]
async fn a_reordering_relay_lets_the_second_message_overtake_the_first() {
    // A bound far beyond the test's own wait: the held message can only come out early, as
    // it must, because the next one overtook it. The relay holds every other message (the
    // first is number 0: not held; number 1 is).
    let (world, relay) = reordering_world(60_000).await;
    assert_eq!(relay.overtaken(), 0, "nothing was held yet");
    send_to_relay(&world, "held").await;
    send_to_relay(&world, "overtaking").await;
    arrived(&world, "held", WAIT).await.unwrap();
    let uids: Vec<(u32, bool)> = world
        .mail
        .as_ref()
        .unwrap()
        .store
        .messages(ALICE, "INBOX")
        .unwrap()
        .iter()
        .filter(|m| !String::from_utf8_lossy(&m.raw).contains("zeroth@"))
        .map(|m| (m.uid, String::from_utf8_lossy(&m.raw).contains("held@")))
        .collect();
    assert_eq!(uids.len(), 2, "{uids:?}");
    assert!(
        !uids[0].1 && uids[1].1,
        "the held message arrived last: {uids:?}"
    );
    assert_eq!(relay.overtaken(), 1);
    world.shutdown().await;
}

#[tokio::test]
async fn a_relay_counts_a_message_as_held_from_its_acceptance_until_it_is_overtaken() {
    let (world, relay) = reordering_world(60_000).await;
    assert!(
        relay.wait_until_nothing_held(WAIT).await,
        "number 0 is not held"
    );
    // Held from the relay's acceptance on: handed to the relay's sink directly, the message is
    // counted before the test yields, so before the relay's own task for it could run.
    let accepted = SharedRelay(std::sync::Arc::clone(&relay))
        .deliver(Incoming {
            envelope: Envelope {
                mail_from: ALICE.into(),
                rcpt_to: vec![ALICE.into()],
                smtputf8: false,
                body_8bit: false,
            },
            data: message("held").into(),
            session: Session {
                peer: std::net::SocketAddr::from(([127, 0, 0, 1], 2525)),
                helo: "sender.example.test".into(),
                authenticated_as: None,
                tls: false,
                server_name: "faulty.relay.acmeproof.test".into(),
                protocol: "SMTP".into(),
            },
            received_at: world.clock.now(),
        })
        .await;
    assert!(accepted.iter().all(Result::is_ok), "{accepted:?}");
    assert_eq!(relay.held(), 1);
    assert!(
        !relay
            .wait_until_nothing_held(Duration::from_millis(200))
            .await,
        "nothing overtook it yet"
    );
    send_to_relay(&world, "overtaking").await;
    assert!(relay.wait_until_nothing_held(WAIT).await);
    // Once nothing is held, the overtaking is counted, whatever the next hop did meanwhile.
    assert_eq!(relay.overtaken(), 1);
    world.shutdown().await;
}

#[tokio::test]
async fn a_held_message_that_nothing_overtakes_comes_out_after_the_bound() {
    let (world, relay) = reordering_world(200).await;
    // Number 1 is held, and no later message comes: the bound releases it, and the relay
    // does not count it as overtaken.
    send_to_relay(&world, "alone").await;
    arrived(&world, "alone", WAIT)
        .await
        .expect("released by the bound");
    assert_eq!(relay.overtaken(), 0);
    world.shutdown().await;
}

#[tokio::test]
async fn a_relay_counts_the_messages_its_mangles_changed() {
    let world = world_with_relay(RelayBehaviour {
        mangle: vec![Mangle::Footer("-- \r\nsent via list\r\n".into())],
        ..RelayBehaviour::default()
    })
    .await;
    let relay = std::sync::Arc::clone(&world.mail.as_ref().unwrap().relays[0].2);
    // No text part to put a footer under: passed on unchanged, and not counted.
    let binary = format!(
        "From: <{ALICE}>\r\nTo: <{ALICE}>\r\nSubject: binary\r\nMessage-ID: <binary@example.test>\r\n\
         Content-Type: application/octet-stream\r\nContent-Transfer-Encoding: base64\r\n\r\nAAAA\r\n"
    );
    send_raw_to_relay(&world, binary.as_bytes()).await;
    let arrived_binary = arrived(&world, "binary", WAIT).await.unwrap();
    assert!(!String::from_utf8_lossy(&arrived_binary).contains("sent via list"));
    assert_eq!(relay.mangled(), 0);
    send_to_relay(&world, "text").await;
    let arrived_text = arrived(&world, "text", WAIT).await.unwrap();
    assert!(String::from_utf8_lossy(&arrived_text).contains("sent via list"));
    assert_eq!(relay.mangled(), 1);
    world.shutdown().await;
}

#[tokio::test]
async fn a_relay_tags_subjects_and_verifies_dkim() {
    let world = world_with_relay(RelayBehaviour {
        dkim_verify: true,
        mangle: vec![Mangle::SubjectTag("[EXT] ".into())],
        ..RelayBehaviour::default()
    })
    .await;
    send_to_relay(&world, "tagged").await;
    let raw = arrived(&world, "tagged", WAIT).await.unwrap();
    let text = String::from_utf8_lossy(&raw);
    assert!(text.contains("Subject: [EXT] tagged"), "{text}");
    assert!(
        text.contains("Authentication-Results: faulty.relay.acmeproof.test"),
        "{text}"
    );
    // RFC 8601 §2.2: no authentication was possible on unsigned mail.
    assert!(
        text.contains("acmeproof.test; none"),
        "unsigned mail: {text}"
    );
    world.shutdown().await;
}

#[tokio::test]
async fn a_relay_holding_mail_for_an_hour_and_a_greylist_pass_in_world_time() {
    let mut config = WorldConfig::example();
    config.mail.relays = vec![RelaySpec {
        name: "slow".into(),
        behaviour: RelayBehaviour {
            delay_ms: 3_600_000,
            greylist: true,
            ..RelayBehaviour::default()
        },
    }];
    // The sender's retry after the greylist's 451 is ten minutes of world time.
    config.mail.retry_delay_ms = 600_000;
    let world = World::start(config).await.expect("world");
    let before = world.clock.offset();
    // Through Submission, whose sender retries after the relay's greylisting 451.
    let mail = world.mail.as_ref().unwrap();
    submit(&world, "held").await;
    // WAIT is far below the hour: in real time this never arrives within it.
    arrived(&world, "held", WAIT)
        .await
        .expect("delivered without an hour of real waiting");
    let passed = world.clock.offset() - before;
    let deferred = mail.relays[0]
        .1
        .transcript()
        .iter()
        .filter(|l| l.line.starts_with("451 4.7.1"))
        .count();
    assert_eq!(deferred, 1, "greylisted once, then retried");
    assert!(
        passed >= time::Duration::minutes(70),
        "the world's clock moved by the retry interval and the hold: {passed}"
    );
    world.shutdown().await;
}
