//! A mail tool's test against an embedded world: lettre (crates.io) submits a message over
//! Submission with STARTTLS and AUTH, the world's MX and LMTP deliver it into the mail store,
//! and async-imap (crates.io) reads it back over IMAPS. Both clients trust the world's root and
//! nothing else.

use std::sync::Arc;
use std::time::{Duration, Instant};

use acmeproof_mocks::World;
use futures_util::TryStreamExt;
use lettre::message::Mailbox;
use lettre::transport::smtp::authentication::Credentials;
use lettre::transport::smtp::client::{Certificate, Tls, TlsParameters};
use lettre::{AsyncSmtpTransport, AsyncTransport, Message, Tokio1Executor};
use tokio::net::TcpStream;
use tokio_rustls::TlsConnector;

const BOB: &str = "bob@example.test";
const BOB_PASSWORD: &str = "bob-password";
/// The world's servers present a certificate for `localhost` (issued by its root).
const TLS_NAME: &str = "localhost";
/// The longest the delivery may take before the test gives up (the world delivers in
/// milliseconds; this bounds a broken world, it is not a figure).
const DELIVERY_DEADLINE: Duration = Duration::from_secs(15);

#[tokio::test]
async fn lettre_submits_and_async_imap_reads_the_message_back() {
    let world = World::builder()
        .mail(true)
        .user(BOB, BOB_PASSWORD)
        .start()
        .await
        .expect("world with the mail plane");
    let mail = world.mail().expect("the mail plane is on");
    let alice = mail
        .users
        .iter()
        .find(|u| u.address == "alice@example.test")
        .expect("the example world's alice")
        .clone();

    // lettre: Submission (RFC 6409) on the world's port, STARTTLS required, AUTH as alice.
    let tls = TlsParameters::builder(TLS_NAME.into())
        .add_root_certificate(
            Certificate::from_pem(world.root_pem().as_bytes()).expect("the world's root"),
        )
        .build_rustls()
        .expect("TLS parameters");
    let smtp = AsyncSmtpTransport::<Tokio1Executor>::builder_dangerous("127.0.0.1")
        .port(mail.submission.port())
        .tls(Tls::Required(tls))
        .credentials(Credentials::new(
            alice.address.clone(),
            alice.password.clone(),
        ))
        .build();
    let subject = "a message from lettre to async-imap";
    let message = Message::builder()
        .from(alice.address.parse::<Mailbox>().expect("alice"))
        .to(BOB.parse::<Mailbox>().expect("bob"))
        .subject(subject)
        .body(String::from("Hello Bob, through the embedded world.\r\n"))
        .expect("message");
    let response = smtp
        .send(message)
        .await
        .expect("Submission accepts the message");
    assert!(response.is_positive(), "{response:?}");

    // async-imap: IMAPS (RFC 8314 implicit TLS), LOGIN as bob, wait for the message.
    let tcp = TcpStream::connect(mail.imaps).await.expect("IMAPS connect");
    let connector = TlsConnector::from(Arc::clone(&world.rustls_client_config()));
    let tls = connector
        .connect(TLS_NAME.try_into().expect("name"), tcp)
        .await
        .expect("IMAPS handshake with the world's root");
    let mut client = async_imap::Client::new(tls);
    client
        .read_response()
        .await
        .expect("greeting")
        .expect("greeting line");
    let mut session = client
        .login(BOB, BOB_PASSWORD)
        .await
        .map_err(|(e, _)| e)
        .expect("LOGIN as bob");
    let started = Instant::now();
    let uid = loop {
        session.select("INBOX").await.expect("SELECT INBOX");
        let found = session
            .uid_search(format!("SUBJECT \"{subject}\""))
            .await
            .expect("UID SEARCH");
        if let Some(uid) = found.into_iter().next() {
            break uid;
        }
        assert!(
            started.elapsed() < DELIVERY_DEADLINE,
            "the message did not reach bob's INBOX within {DELIVERY_DEADLINE:?}"
        );
        // RFC 2177: wait for the server to announce the delivery (EXISTS), bounded.
        let mut idle = session.idle();
        idle.init().await.expect("IDLE");
        let (wait, _stop) = idle.wait_with_timeout(Duration::from_secs(1));
        wait.await.expect("IDLE wait");
        session = idle.done().await.expect("DONE");
    };
    let fetched: Vec<_> = session
        .uid_fetch(uid.to_string(), "RFC822")
        .await
        .expect("UID FETCH")
        .try_collect()
        .await
        .expect("the fetched message");
    let raw = fetched
        .first()
        .and_then(|f| f.body())
        .expect("the message body");
    let parsed = mail_parser::MessageParser::default()
        .parse(raw)
        .expect("a message");
    assert_eq!(parsed.subject(), Some(subject));
    assert_eq!(
        parsed
            .from()
            .and_then(|a| a.first())
            .and_then(|a| a.address()),
        Some(alice.address.as_str())
    );
    assert!(
        parsed
            .body_text(0)
            .is_some_and(|b| b.contains("Hello Bob, through the embedded world.")),
        "{:?}",
        parsed.body_text(0)
    );
    session.logout().await.expect("LOGOUT");
}
