//! The smarthost of a server under test and its CA mailbox, in a running world: mail sent
//! through the smarthost (STARTTLS, AUTH) reaches the recipient with its signature untouched
//! by default, and signed for the From domain with `dkim_sign`; mail to the CA mailbox lands
//! in the store, where IMAP and POP3 serve it.

use std::time::Duration;

use acmeproof_mocks::dkim::{DkimVerifier, passes_for_domain};
use acmeproof_mocks::dns::WorldResolver;
use acmeproof_mocks::mail::Envelope;
use acmeproof_mocks::smtp::client::{ClientTls, SmtpClient};
use acmeproof_mocks::world::mail::CaMailboxSpec;
use acmeproof_mocks::world::smarthost::SmarthostConfig;
use acmeproof_mocks::world::{World, WorldConfig};

const ALICE: &str = "alice@example.test";
const CA: &str = "acme-ca@ca.example.test";
const WAIT: Duration = Duration::from_secs(20);

async fn world(smarthost: Option<SmarthostConfig>) -> World {
    let mut config = WorldConfig::example();
    config.mail.ca_mailbox = Some(CaMailboxSpec {
        address: CA.into(),
        password: None,
    });
    config.mail.smarthost = smarthost;
    config.mail.retry_delay_ms = 50;
    World::start(config).await.expect("world")
}

fn message(subject: &str) -> Vec<u8> {
    format!(
        "From: <{CA}>\r\nTo: <{ALICE}>\r\nSubject: {subject}\r\nMessage-ID: <{subject}@ca.example.test>\r\n\
         Date: Thu, 01 Jan 2026 00:00:00 +0000\r\nAuto-Submitted: auto-generated\r\n\r\nhello\r\n"
    )
    .into_bytes()
}

/// STARTTLS, AUTH PLAIN with `user`/`password`, one message from the CA mailbox to alice.
async fn through_smarthost(world: &World, user: &str, password: &str, data: &[u8]) {
    let smarthost = world.mail.as_ref().unwrap().smarthost.as_ref().unwrap();
    let name = rustls::pki_types::ServerName::try_from("localhost").unwrap();
    let tls = ClientTls::StartTls(world.pki.client_config(), name);
    let mut client = SmtpClient::connect(smarthost.starttls.addr(), "ca.example.test", tls, false)
        .await
        .expect("STARTTLS");
    client.auth_plain(user, password).await.expect("AUTH");
    let envelope = Envelope {
        mail_from: CA.into(),
        rcpt_to: vec![ALICE.into()],
        smtputf8: false,
        body_8bit: false,
    };
    let result = client.send(&envelope, data).await;
    let _ = client.quit().await;
    result.expect("the smarthost accepts");
}

async fn arrived(world: &World, subject: &str) -> Vec<u8> {
    let needle = format!("<{subject}@ca.example.test>");
    world
        .mail
        .as_ref()
        .unwrap()
        .store
        .wait_for_message(
            ALICE,
            |m| String::from_utf8_lossy(&m.raw).contains(&needle),
            WAIT,
        )
        .await
        .map(|m| m.raw.to_vec())
        .unwrap_or_else(|| panic!("{subject} not delivered to {ALICE}"))
}

fn signatures(raw: &[u8]) -> usize {
    String::from_utf8_lossy(raw)
        .matches("\r\nDKIM-Signature:")
        .count()
        + usize::from(raw.starts_with(b"DKIM-Signature:"))
}

async fn dkim_passes(world: &World, raw: &[u8], domain: &str) -> bool {
    let verifier = DkimVerifier::new(&WorldResolver::new(world.dns.addr()).unwrap());
    passes_for_domain(&verifier.verify(raw).await, domain)
}

#[tokio::test]
async fn by_default_a_signed_message_passes_byte_identical_and_is_not_re_signed() {
    let world = world(Some(SmarthostConfig::default())).await;
    // The server under test signs its own mail (with the world's key of its domain).
    let key = world
        .mail
        .as_ref()
        .unwrap()
        .keys
        .get("ca.example.test")
        .expect("the CA mailbox's domain has a DKIM key");
    let signed = key
        .sign(
            &message("signed"),
            &["from", "to", "subject", "date", "message-id"],
        )
        .unwrap();
    // Any user name and password are accepted.
    through_smarthost(&world, "any-user", "any-password", &signed).await;
    let raw = arrived(&world, "signed").await;
    // Trace fields only are added on top (RFC 5321 §4.4); the server's bytes follow unchanged.
    assert!(raw.ends_with(&signed), "{}", String::from_utf8_lossy(&raw));
    assert_eq!(signatures(&raw), 1, "{}", String::from_utf8_lossy(&raw));
    assert!(dkim_passes(&world, &raw, "ca.example.test").await);

    // An unsigned message stays unsigned: the judged mail is what the server produced.
    through_smarthost(&world, "any-user", "any-password", &message("unsigned")).await;
    let raw = arrived(&world, "unsigned").await;
    assert!(raw.ends_with(&message("unsigned")));
    assert_eq!(signatures(&raw), 0, "{}", String::from_utf8_lossy(&raw));
    world.shutdown().await;
}

#[tokio::test]
async fn with_dkim_sign_it_signs_for_the_from_domain_like_an_msa() {
    let world = world(Some(SmarthostConfig {
        dkim_sign: true,
        users: Vec::new(),
    }))
    .await;
    through_smarthost(&world, "ca", "secret", &message("msa")).await;
    let raw = arrived(&world, "msa").await;
    assert_eq!(signatures(&raw), 1, "{}", String::from_utf8_lossy(&raw));
    assert!(
        String::from_utf8_lossy(&raw).contains("d=ca.example.test"),
        "{}",
        String::from_utf8_lossy(&raw)
    );
    assert!(dkim_passes(&world, &raw, "ca.example.test").await);
    world.shutdown().await;
}

#[tokio::test]
async fn configured_users_only_and_no_smarthost_unless_asked() {
    let world = world(Some(SmarthostConfig {
        dkim_sign: false,
        users: vec![acmeproof_mocks::world::mail::UserSpec {
            address: "ca".into(),
            password: "secret".into(),
        }],
    }))
    .await;
    let smarthost = world.mail.as_ref().unwrap().smarthost.as_ref().unwrap();
    let name = rustls::pki_types::ServerName::try_from("localhost").unwrap();
    let tls = ClientTls::StartTls(world.pki.client_config(), name);
    let mut client = SmtpClient::connect(smarthost.starttls.addr(), "ca.example.test", tls, false)
        .await
        .unwrap();
    let refused = client.auth_plain("ca", "wrong").await;
    assert!(refused.is_err(), "a wrong password is refused");
    let _ = client.quit().await;
    through_smarthost(&world, "ca", "secret", &message("configured")).await;
    arrived(&world, "configured").await;
    world.shutdown().await;

    let world = world_without_smarthost().await;
    assert!(world.mail.as_ref().unwrap().smarthost.is_none());
    world.shutdown().await;
}

async fn world_without_smarthost() -> World {
    World::start(WorldConfig::example()).await.expect("world")
}

#[tokio::test]
async fn replies_to_the_ca_mailbox_land_in_its_inbox_with_a_seeded_password() {
    let world = world(None).await;
    let mail = world.mail.as_ref().unwrap();
    let ca = mail.ca_mailbox.clone().expect("the CA mailbox");
    assert_eq!(ca.address, CA);
    assert_eq!(ca.password.len(), 16, "a password drawn from the seed");
    // The same seed, the same password.
    let again = self::world(None).await;
    assert_eq!(
        again.mail.as_ref().unwrap().ca_mailbox.as_ref().unwrap(),
        &ca
    );
    again.shutdown().await;
    // Its domain has an MX like any user's domain: a relay routes alice's reply to it.
    let relay = mail.relays[0].1.addr();
    let mut client = SmtpClient::connect(relay, "example.test", ClientTls::None, false)
        .await
        .unwrap();
    let envelope = Envelope {
        mail_from: ALICE.into(),
        rcpt_to: vec![CA.into()],
        smtputf8: false,
        body_8bit: false,
    };
    let reply = b"From: <alice@example.test>\r\nTo: <acme-ca@ca.example.test>\r\n\
        Subject: Re: ACME: x\r\nMessage-ID: <reply@example.test>\r\n\r\nbody\r\n";
    client.send(&envelope, reply).await.expect("relayed");
    let _ = client.quit().await;
    let got = mail
        .store
        .wait_for_message(CA, |m| m.raw.ends_with(b"body\r\n"), WAIT)
        .await;
    assert!(got.is_some(), "the reply reached the CA mailbox");
    assert!(mail.store.authenticate(CA, &ca.password).is_some());
    world.shutdown().await;
}

#[tokio::test]
async fn fixed_listen_addresses_are_kept_and_a_taken_one_is_one_clear_error() {
    let (smarthost, imaps) = (
        acmeproof_testkit::fixed_port(),
        acmeproof_testkit::fixed_port(),
    );
    let mut config = WorldConfig::example();
    config.mail.smarthost = Some(SmarthostConfig::default());
    config.mail.listen.smarthost = Some(([127, 0, 0, 1], smarthost).into());
    config.mail.listen.imaps = Some(([127, 0, 0, 1], imaps).into());
    let world = World::start(config.clone()).await.expect("world");
    let mail = world.mail.as_ref().unwrap();
    assert_eq!(
        mail.smarthost.as_ref().unwrap().starttls.addr().port(),
        smarthost
    );
    assert_eq!(mail.imaps.addr().port(), imaps);
    // The others still take a port the system chose.
    assert_ne!(mail.imap.addr().port(), 0);
    // A second world wants the same ports: one line naming the address.
    let err = World::start(config).await.expect_err("the port is taken");
    let text = err.to_string();
    assert!(text.contains(&format!("127.0.0.1:{smarthost}")), "{text}");
    assert_eq!(text.lines().count(), 1, "{text}");
    world.shutdown().await;
}
