//! `mocks::smtp` end to end: each role against our own client and raw bytes, bad input, the
//! smuggling variants, STARTTLS injection, and real tools (swaks, curl, Python smtplib).

use crate::tools::{run, temp_dir};
use std::net::SocketAddr;
use std::sync::{Arc, Mutex, OnceLock};
use std::time::Duration;

use acmeproof_mocks::ca::pki::Pki;
use acmeproof_mocks::clock::Clock;
use acmeproof_mocks::mail::{Authenticator, Envelope, Incoming, MailSink, Reply, Session};
use acmeproof_mocks::seed::Seed;
use acmeproof_mocks::smtp::client::{ClientError, ClientTls, SmtpClient, Stage};
use acmeproof_mocks::smtp::{Direction, Role, SmtpConfig, SmtpServer};
use rustls_pki_types::ServerName;
use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};
use tokio::net::TcpStream;
use tokio::sync::Notify;
use tokio::time::timeout;

const T: Duration = Duration::from_secs(10);
const EAI_FROM: &str = "δοκιμή@παράδειγμα.δοκιμή";
const EAI_RCPT: &str = "θέμα@example.test";

// ---------------------------------------------------------------- fixtures

/// Lower-cases and turns the domain into A-labels, so U-label and A-label forms compare equal.
fn norm(addr: &str) -> String {
    match addr.rsplit_once('@') {
        Some((local, domain)) => {
            let domain = idna::domain_to_ascii(domain).unwrap_or_else(|_| domain.to_lowercase());
            format!("{}@{domain}", local.to_lowercase())
        }
        None => addr.to_lowercase(),
    }
}

/// Records deliveries; knows some recipients; can fail some at delivery (over quota).
struct TestSink {
    known: Vec<String>,
    fail_at_delivery: Vec<String>,
    got: Mutex<Vec<Incoming>>,
    notify: Notify,
}

impl TestSink {
    fn new(known: &[&str]) -> Arc<Self> {
        Self::with_failures(known, &[])
    }

    fn with_failures(known: &[&str], fail: &[&str]) -> Arc<Self> {
        Arc::new(TestSink {
            known: known.iter().map(|a| norm(a)).collect(),
            fail_at_delivery: fail.iter().map(|a| norm(a)).collect(),
            got: Mutex::new(Vec::new()),
            notify: Notify::new(),
        })
    }

    fn count(&self) -> usize {
        self.got.lock().unwrap().len()
    }

    /// Waits (bounded) until `n` messages arrived; returns them.
    async fn wait_for(&self, n: usize) -> Vec<Incoming> {
        timeout(T, async {
            loop {
                let notified = self.notify.notified();
                if self.count() >= n {
                    return self.got.lock().unwrap().clone();
                }
                notified.await;
            }
        })
        .await
        .expect("delivery within the timeout")
    }
}

#[async_trait::async_trait]
impl MailSink for TestSink {
    async fn check_recipient(&self, rcpt: &str, _session: &Session) -> Result<(), Reply> {
        if self.known.contains(&norm(rcpt)) {
            Ok(())
        } else {
            Err(Reply::no_such_user(rcpt))
        }
    }

    async fn deliver(&self, message: Incoming) -> Vec<Result<(), Reply>> {
        let results = message
            .envelope
            .rcpt_to
            .iter()
            .map(|r| {
                if self.fail_at_delivery.contains(&norm(r)) {
                    Err(Reply::new(452, (4, 2, 2), format!("<{r}> is over quota")))
                } else {
                    Ok(())
                }
            })
            .collect();
        self.got.lock().unwrap().push(message);
        self.notify.notify_waiters();
        results
    }
}

/// alice / secret, who may send as alice@example.test only.
struct TestAuth;

impl Authenticator for TestAuth {
    fn authenticate(&self, user: &str, password: &str) -> Option<String> {
        (user == "alice" && password == "secret").then(|| "alice".to_owned())
    }

    fn may_send_as(&self, user: &str, address: &str) -> bool {
        address.eq_ignore_ascii_case(&format!("{user}@example.test"))
    }
}

fn pki() -> &'static Pki {
    static PKI: OnceLock<Pki> = OnceLock::new();
    PKI.get_or_init(|| Pki::generate(Seed(25), &Clock::system(), "SMTP Test").unwrap())
}

fn server_tls() -> Arc<rustls::ServerConfig> {
    pki()
        .tls_server_config_with_alpn(&["mx.example.test", "localhost", "127.0.0.1"], &[])
        .unwrap()
}

fn mx_name() -> ServerName<'static> {
    ServerName::try_from("mx.example.test".to_owned()).unwrap()
}

const KNOWN: &[&str] = &[
    "known@example.test",
    "other@example.test",
    "full@example.test",
    EAI_RCPT,
    EAI_FROM,
];

fn config(role: Role, sink: Arc<TestSink>) -> SmtpConfig {
    let mut c = SmtpConfig::new(role, "mx.example.test", sink, Clock::system());
    if role == Role::Submission {
        c.auth = Some(Arc::new(TestAuth));
        c.tls = Some(server_tls());
    }
    c
}

async fn start(role: Role) -> (SmtpServer, Arc<TestSink>) {
    let sink = TestSink::new(KNOWN);
    let server = SmtpServer::start(config(role, Arc::clone(&sink)))
        .await
        .unwrap();
    (server, sink)
}

fn env(from: &str, to: &[&str]) -> Envelope {
    Envelope {
        mail_from: from.into(),
        rcpt_to: to.iter().map(|s| s.to_string()).collect(),
        ..Envelope::default()
    }
}

const MSG: &[u8] =
    b"From: a@example.test\r\nTo: known@example.test\r\nSubject: hi\r\n\r\nhello\r\n.dot line\r\n";

/// A message alice may submit (she is its author).
const ALICE_MSG: &[u8] =
    b"From: Alice <alice@example.test>\r\nTo: known@example.test\r\nSubject: hi\r\n\r\nhello\r\n";

/// Raw bytes on a socket, reading reply lines with a timeout.
struct Raw {
    r: BufReader<TcpStream>,
}

impl Raw {
    async fn connect(addr: SocketAddr) -> (Raw, String) {
        let s = TcpStream::connect(addr).await.unwrap();
        let mut raw = Raw {
            r: BufReader::new(s),
        };
        let greeting = raw.line().await;
        (raw, greeting)
    }

    async fn send(&mut self, bytes: &[u8]) {
        self.r.get_mut().write_all(bytes).await.unwrap();
    }

    /// One line without CRLF; empty at EOF.
    async fn line(&mut self) -> String {
        let mut s = String::new();
        timeout(T, self.r.read_line(&mut s))
            .await
            .expect("a line within the timeout")
            .unwrap_or(0);
        s.trim_end_matches(['\r', '\n']).to_owned()
    }

    /// All lines of one reply.
    async fn reply(&mut self) -> Vec<String> {
        let mut lines = Vec::new();
        loop {
            let l = self.line().await;
            let done = l.len() < 4 || l.as_bytes()[3] != b'-';
            lines.push(l);
            if done {
                return lines;
            }
        }
    }

    /// Sends a command, returns the last line of its reply.
    async fn cmd(&mut self, line: &str) -> String {
        self.send(format!("{line}\r\n").as_bytes()).await;
        self.reply().await.pop().unwrap_or_default()
    }

    async fn at_eof(&mut self) -> bool {
        let mut rest = Vec::new();
        matches!(timeout(T, self.r.read_to_end(&mut rest)).await, Ok(Ok(_)))
    }
}

/// `550 5.1.1` from `550 5.1.1 text`: the code and the enhanced code.
fn code(line: &str) -> &str {
    let end = line
        .match_indices(' ')
        .nth(1)
        .map_or(line.len(), |(i, _)| i);
    &line[..end]
}

/// After any abuse: a fresh client is served normally.
async fn still_serves(server: &SmtpServer, role: Role) {
    let tls = if role == Role::Submission {
        ClientTls::StartTls(pki().client_config(), mx_name())
    } else {
        ClientTls::None
    };
    let mut c = SmtpClient::connect(server.addr(), "client.test", tls, role == Role::Lmtp)
        .await
        .expect("served after abuse");
    assert_eq!(c.command("NOOP").await.unwrap().code, 250);
    c.quit().await.unwrap();
}

// ---------------------------------------------------------------- roles with our client

#[tokio::test]
async fn mx_accepts_known_refuses_unknown() {
    let (server, sink) = start(Role::Mx).await;
    let mut c = SmtpClient::connect(server.addr(), "client.test", ClientTls::None, false)
        .await
        .unwrap();
    assert_eq!(c.greeting().text, "mx.example.test ESMTP acmeproof");
    assert_eq!(c.extension("SIZE"), Some("10485760"));
    for k in ["PIPELINING", "8BITMIME", "SMTPUTF8", "ENHANCEDSTATUSCODES"] {
        assert!(c.has_extension(k), "{k}");
    }
    for k in ["CHUNKING", "STARTTLS", "AUTH"] {
        assert!(!c.has_extension(k), "{k}");
    }
    let replies = c
        .send(
            &env(
                "a@example.test",
                &["known@example.test", "nobody@example.test"],
            ),
            MSG,
        )
        .await
        .unwrap();
    assert_eq!(replies[0].code, 250);
    assert_eq!(
        (replies[1].code, replies[1].enhanced),
        (550, Some((5, 1, 1)))
    );
    // Every recipient unknown: the client reports it.
    let err = c
        .send(&env("a@example.test", &["nobody@example.test"]), MSG)
        .await
        .unwrap_err();
    assert!(matches!(err, ClientError::NoRecipients(ref r) if r[0].code == 550));
    // Null reverse-path.
    assert_eq!(
        c.send(&env("", &["known@example.test"]), MSG)
            .await
            .unwrap()[0]
            .code,
        250
    );
    c.quit().await.unwrap();

    let got = sink.wait_for(2).await;
    assert_eq!(got[0].envelope.mail_from, "a@example.test");
    assert_eq!(got[0].envelope.rcpt_to, vec!["known@example.test"]);
    assert_eq!(got[0].data, MSG);
    assert_eq!(got[0].session.protocol, "ESMTP");
    assert_eq!(got[0].session.helo, "client.test");
    assert_eq!(got[1].envelope.mail_from, "");

    let t = server.transcript();
    // The DATA section is one entry: the message as received, dot-unstuffed (".dot line").
    let data_entries = t
        .iter()
        .filter(|l| l.direction == Direction::ClientToServer && l.line.contains("hello"))
        .collect::<Vec<_>>();
    assert_eq!(data_entries.len(), 2, "{t:#?}");
    assert!(
        data_entries
            .iter()
            .all(|l| l.line == String::from_utf8_lossy(MSG))
    );
    assert!(
        t.iter()
            .any(|l| l.direction == Direction::ServerToClient && l.line.starts_with("550 5.1.1"))
    );
    server.shutdown().await;
}

#[tokio::test]
async fn relay_front_end_accepts_like_mx() {
    let (server, sink) = start(Role::Relay).await;
    let mut c = SmtpClient::connect(server.addr(), "client.test", ClientTls::None, false)
        .await
        .unwrap();
    assert_eq!(
        c.send(&env("a@example.test", &["known@example.test"]), MSG)
            .await
            .unwrap()[0]
            .code,
        250
    );
    assert_eq!(sink.wait_for(1).await.len(), 1);
    server.shutdown().await;
}

#[tokio::test]
async fn submission_requires_tls_auth_and_send_as() {
    let (server, sink) = start(Role::Submission).await;
    // Before TLS: AUTH is neither offered nor accepted; MAIL needs AUTH.
    let (mut raw, _) = Raw::connect(server.addr()).await;
    raw.send(b"EHLO client.test\r\n").await;
    let ehlo = raw.reply().await;
    assert!(ehlo.iter().any(|l| l.ends_with("STARTTLS")));
    assert!(!ehlo.iter().any(|l| l.contains("AUTH")));
    assert_eq!(
        code(&raw.cmd("AUTH PLAIN AGFsaWNlAHNlY3JldA==").await),
        "538 5.7.11"
    );
    assert_eq!(
        code(&raw.cmd("MAIL FROM:<alice@example.test>").await),
        "530 5.7.0"
    );
    raw.cmd("QUIT").await;

    let tls = ClientTls::StartTls(pki().client_config(), mx_name());
    let mut c = SmtpClient::connect(server.addr(), "client.test", tls, false)
        .await
        .unwrap();
    assert!(c.is_tls());
    assert!(!c.has_extension("STARTTLS"), "not offered again under TLS");
    assert_eq!(c.extension("AUTH"), Some("PLAIN LOGIN"));
    let e = c
        .send(&env("alice@example.test", &["known@example.test"]), MSG)
        .await
        .unwrap_err();
    assert!(
        matches!(e, ClientError::Rejected { stage: Stage::Mail, ref reply } if reply.code == 530)
    );
    let e = c.auth_plain("alice", "wrong").await.unwrap_err();
    assert!(
        matches!(e, ClientError::Rejected { stage: Stage::Auth, ref reply }
        if reply.code == 535 && reply.enhanced == Some((5, 7, 8)))
    );
    c.auth_plain("alice", "secret").await.unwrap();
    assert_eq!(
        c.command("AUTH PLAIN AGFsaWNlAHNlY3JldA==")
            .await
            .unwrap()
            .code,
        503
    );
    let e = c
        .send(&env("bob@example.test", &["known@example.test"]), MSG)
        .await
        .unwrap_err();
    assert!(
        matches!(e, ClientError::Rejected { stage: Stage::Mail, ref reply }
        if reply.code == 553 && reply.enhanced == Some((5, 7, 1)))
    );
    // The envelope is alice's but the author (From: a@example.test) is not: the MSA will not
    // sign for someone else.
    let r = c
        .send(&env("alice@example.test", &["known@example.test"]), MSG)
        .await
        .unwrap();
    assert_eq!((r[0].code, r[0].enhanced), (550, Some((5, 7, 1))), "{r:?}");
    assert!(r[0].text.contains("From: <a@example.test>"), "{r:?}");
    let r = c
        .send(
            &env("alice@example.test", &["known@example.test"]),
            ALICE_MSG,
        )
        .await
        .unwrap();
    assert_eq!(r[0].code, 250);
    c.quit().await.unwrap();
    let got = sink.wait_for(1).await;
    assert_eq!(got.len(), 1, "the forged author was not delivered");
    assert_eq!(got[0].session.authenticated_as.as_deref(), Some("alice"));
    assert!(got[0].session.tls);
    assert_eq!(got[0].session.protocol, "ESMTPSA");
    let t = server.transcript();
    assert!(
        !t.iter().any(|l| l.line.contains("AGFsaWNlAHNlY3JldA")),
        "secrets redacted"
    );
    assert!(t.iter().any(|l| l.line == "AUTH PLAIN <redacted>"));
    server.shutdown().await;
}

#[tokio::test]
async fn submission_auth_login_cancel_and_sequence() {
    let sink = TestSink::new(KNOWN);
    let mut cfg = config(Role::Submission, Arc::clone(&sink));
    cfg.require_tls_for_auth = false;
    let server = SmtpServer::start(cfg).await.unwrap();
    let (mut raw, _) = Raw::connect(server.addr()).await;
    assert_eq!(
        code(&raw.cmd("AUTH PLAIN").await),
        "503 5.5.1",
        "AUTH before EHLO"
    );
    raw.send(b"EHLO client.test\r\n").await;
    assert!(
        raw.reply()
            .await
            .iter()
            .any(|l| l[4..] == *"AUTH PLAIN LOGIN")
    );
    assert_eq!(raw.cmd("AUTH PLAIN").await, "334 ");
    assert_eq!(code(&raw.cmd("*").await), "501 5.7.0");
    assert_eq!(code(&raw.cmd("AUTH PLAIN !!!").await), "501 5.5.2");
    assert_eq!(code(&raw.cmd("AUTH CRAM-MD5").await), "504 5.5.4");
    assert_eq!(raw.cmd("AUTH LOGIN").await, "334 VXNlcm5hbWU6");
    assert_eq!(raw.cmd("YWxpY2U=").await, "334 UGFzc3dvcmQ6");
    assert_eq!(code(&raw.cmd("c2VjcmV0").await), "235 2.7.0");
    assert_eq!(
        code(&raw.cmd("AUTH LOGIN").await),
        "503 5.5.1",
        "AUTH twice"
    );
    assert_eq!(
        code(&raw.cmd("MAIL FROM:<alice@example.test>").await),
        "250 2.1.0"
    );
    raw.cmd("QUIT").await;
    let t = server.transcript();
    assert!(!t.iter().any(|l| l.line.contains("c2VjcmV0")));
    assert!(t.iter().any(|l| l.line == "<redacted>"));
    server.shutdown().await;
}

/// RFC 4954 §4: a SASL response may be 12288 octets, as the AUTH initial response and as a
/// continuation line; one octet more is a line too long, and the session goes on.
#[tokio::test]
async fn auth_responses_of_12288_octets_are_read_whole() {
    use base64::Engine as _;
    let sink = TestSink::new(KNOWN);
    let mut cfg = config(Role::Submission, Arc::clone(&sink));
    cfg.require_tls_for_auth = false;
    let server = SmtpServer::start(cfg).await.unwrap();
    let (mut raw, _) = Raw::connect(server.addr()).await;
    raw.send(b"EHLO client.test\r\n").await;
    raw.reply().await;
    // `\0alice\0<password>` whose base64 is exactly 12288 octets: the wrong password is
    // judged (535), so the whole response was read and decoded.
    let password = "p".repeat(12_288 / 4 * 3 - "\0alice\0".len());
    let response = base64::engine::general_purpose::STANDARD.encode(format!("\0alice\0{password}"));
    assert_eq!(response.len(), 12_288);
    assert_eq!(
        code(&raw.cmd(&format!("AUTH PLAIN {response}")).await),
        "535 5.7.8"
    );
    assert_eq!(raw.cmd("AUTH PLAIN").await, "334 ");
    assert_eq!(code(&raw.cmd(&response).await), "535 5.7.8");
    // Over the limit: 500 5.5.6 for the command and for a continuation.
    let over = format!("{response}AAAA");
    assert_eq!(
        code(&raw.cmd(&format!("AUTH PLAIN {over}")).await),
        "500 5.5.6"
    );
    assert_eq!(raw.cmd("AUTH PLAIN").await, "334 ");
    assert_eq!(code(&raw.cmd(&over).await), "500 5.5.6");
    // The session is intact: the right credentials still log in.
    let ok = base64::engine::general_purpose::STANDARD.encode("\0alice\0secret");
    assert_eq!(
        code(&raw.cmd(&format!("AUTH PLAIN {ok}")).await),
        "235 2.7.0"
    );
    server.shutdown().await;
}

#[tokio::test]
async fn submissions_implicit_tls() {
    let sink = TestSink::new(KNOWN);
    let mut cfg = config(Role::Submission, Arc::clone(&sink));
    cfg.implicit_tls = true;
    let server = SmtpServer::start(cfg).await.unwrap();
    let tls = ClientTls::Implicit(pki().client_config(), mx_name());
    let mut c = SmtpClient::connect(server.addr(), "client.test", tls, false)
        .await
        .unwrap();
    assert!(!c.has_extension("STARTTLS"));
    c.auth_plain("alice", "secret").await.unwrap();
    c.send(
        &env("alice@example.test", &["known@example.test"]),
        ALICE_MSG,
    )
    .await
    .unwrap();
    c.quit().await.unwrap();
    assert!(sink.wait_for(1).await[0].session.tls);
    server.shutdown().await;
}

#[tokio::test]
async fn lmtp_per_recipient_replies_and_hello_verbs() {
    let sink = TestSink::with_failures(KNOWN, &["full@example.test"]);
    let server = SmtpServer::start(config(Role::Lmtp, Arc::clone(&sink)))
        .await
        .unwrap();
    let (mut raw, greeting) = Raw::connect(server.addr()).await;
    assert_eq!(greeting, "220 mx.example.test LMTP acmeproof");
    assert!(raw.cmd("HELO client.test").await.starts_with("500 "));
    assert!(raw.cmd("EHLO client.test").await.starts_with("500 "));
    raw.cmd("QUIT").await;

    let mut c = SmtpClient::connect(server.addr(), "client.test", ClientTls::None, true)
        .await
        .unwrap();
    let to = [
        "known@example.test",
        "full@example.test",
        "nobody@example.test",
        "other@example.test",
    ];
    let r = c.send(&env("a@example.test", &to), MSG).await.unwrap();
    let codes: Vec<u16> = r.iter().map(|r| r.code).collect();
    assert_eq!(codes, vec![250, 452, 550, 250]);
    c.quit().await.unwrap();
    let got = sink.wait_for(1).await;
    assert_eq!(got[0].session.protocol, "LMTP");
    assert_eq!(got[0].envelope.rcpt_to.len(), 3);

    // The SMTP roles refuse LHLO.
    for role in [Role::Mx, Role::Relay, Role::Submission] {
        let (s, _) = start(role).await;
        let (mut raw, _) = Raw::connect(s.addr()).await;
        assert!(
            raw.cmd("LHLO client.test").await.starts_with("500 "),
            "{role:?}"
        );
        s.shutdown().await;
    }
    server.shutdown().await;
}

/// A repeated RCPT of one mailbox (the domain in another case and as A-labels too) is
/// accepted again but delivered once; LMTP still answers each RCPT after DATA (RFC 2033 §4.2).
#[tokio::test]
async fn repeated_recipients_are_delivered_once() {
    for role in [Role::Mx, Role::Lmtp] {
        let sink = TestSink::with_failures(KNOWN, &["full@example.test"]);
        let server = SmtpServer::start(config(role, Arc::clone(&sink)))
            .await
            .unwrap();
        let (mut raw, _) = Raw::connect(server.addr()).await;
        raw.cmd(hello(role)).await;
        assert_eq!(
            code(&raw.cmd("MAIL FROM:<a@example.test>").await),
            "250 2.1.0"
        );
        let rcpts = [
            "known@example.test",
            "known@EXAMPLE.test",
            "full@example.test",
            "known@example.test",
            "full@example.test",
        ];
        for r in rcpts {
            assert_eq!(
                code(&raw.cmd(&format!("RCPT TO:<{r}>")).await),
                "250 2.1.5",
                "{role:?} {r}"
            );
        }
        // The local part is case-sensitive (RFC 5321 §2.4): another mailbox to the engine (this
        // test sink happens to accept it).
        assert_eq!(
            code(&raw.cmd("RCPT TO:<Known@example.test>").await),
            "250 2.1.5"
        );
        assert_eq!(raw.cmd("DATA").await.split(' ').next(), Some("354"));
        raw.send(b"Subject: once\r\n\r\nbody\r\n.\r\n").await;
        let after: Vec<String> = if role == Role::Lmtp {
            let mut v = Vec::new();
            for _ in 0..=rcpts.len() {
                v.push(raw.reply().await.pop().unwrap());
            }
            v
        } else {
            vec![raw.reply().await.pop().unwrap()]
        };
        let codes: Vec<&str> = after.iter().map(|l| code(l)).collect();
        if role == Role::Lmtp {
            assert_eq!(
                codes,
                [
                    "250 2.1.5",
                    "250 2.1.5",
                    "452 4.2.2",
                    "250 2.1.5",
                    "452 4.2.2",
                    "250 2.1.5"
                ]
            );
        } else {
            assert_eq!(codes, ["452 4.2.2"], "SMTP: the first failure");
        }
        let got = sink.wait_for(1).await;
        assert_eq!(
            got[0].envelope.rcpt_to,
            vec![
                "known@example.test",
                "full@example.test",
                "Known@example.test"
            ],
            "{role:?}: each mailbox once"
        );
        raw.cmd("QUIT").await;
        server.shutdown().await;
    }
}

/// RFC 5321 §4.5.3.1.8: the recipient limit counts RCPTs as sent, repeats included, so a client
/// cannot make the server answer without bound either.
#[tokio::test]
async fn repeated_recipients_count_towards_the_limit() {
    let sink = TestSink::new(KNOWN);
    let mut cfg = config(Role::Mx, Arc::clone(&sink));
    cfg.max_recipients = 3;
    let server = SmtpServer::start(cfg).await.unwrap();
    let (mut raw, _) = Raw::connect(server.addr()).await;
    raw.cmd("EHLO client.test").await;
    raw.cmd("MAIL FROM:<a@example.test>").await;
    for _ in 0..3 {
        assert_eq!(
            code(&raw.cmd("RCPT TO:<known@example.test>").await),
            "250 2.1.5"
        );
    }
    assert_eq!(
        code(&raw.cmd("RCPT TO:<known@example.test>").await),
        "452 4.5.3"
    );
    server.shutdown().await;
}

// ---------------------------------------------------------------- SMTPUTF8

#[tokio::test]
async fn smtputf8_declared_undeclared_and_hop_without_it() {
    let (server, sink) = start(Role::Mx).await;
    let mut c = SmtpClient::connect(server.addr(), "client.test", ClientTls::None, false)
        .await
        .unwrap();
    let body = "From: δοκιμή@παράδειγμα.δοκιμή\r\nSubject: γεια\r\n\r\nκείμενο\r\n".as_bytes();
    let r = c.send(&env(EAI_FROM, &[EAI_RCPT]), body).await.unwrap();
    assert_eq!(r[0].code, 250);
    let got = sink.wait_for(1).await;
    assert!(got[0].envelope.smtputf8 && got[0].envelope.body_8bit);
    assert_eq!(got[0].envelope.mail_from, EAI_FROM);
    assert_eq!(got[0].session.protocol, "UTF8SMTP");

    let (mut raw, _) = Raw::connect(server.addr()).await;
    raw.cmd("EHLO client.test").await;
    assert_eq!(
        code(&raw.cmd(&format!("MAIL FROM:<{EAI_FROM}>")).await),
        "553 5.6.7"
    );
    assert_eq!(
        code(&raw.cmd("MAIL FROM:<a@example.test>").await),
        "250 2.1.0"
    );
    assert_eq!(
        code(&raw.cmd(&format!("RCPT TO:<{EAI_RCPT}>")).await),
        "553 5.6.7"
    );
    assert_eq!(code(&raw.cmd("RSET").await), "250 2.0.0");
    assert_eq!(
        code(&raw.cmd("MAIL FROM:<a@example.test> SMTPUTF8=yes").await),
        "501 5.5.4"
    );
    server.shutdown().await;

    // A hop with SMTPUTF8 switched off.
    let sink = TestSink::new(KNOWN);
    let mut cfg = config(Role::Relay, Arc::clone(&sink));
    cfg.smtputf8 = false;
    let hop = SmtpServer::start(cfg).await.unwrap();
    let (mut raw, _) = Raw::connect(hop.addr()).await;
    raw.send(b"EHLO client.test\r\n").await;
    assert!(!raw.reply().await.iter().any(|l| l.contains("SMTPUTF8")));
    assert_eq!(
        code(&raw.cmd("MAIL FROM:<a@example.test> SMTPUTF8").await),
        "555 5.5.4"
    );
    assert_eq!(
        code(&raw.cmd(&format!("MAIL FROM:<{EAI_FROM}>")).await),
        "553 5.6.7"
    );
    let mut c = SmtpClient::connect(hop.addr(), "client.test", ClientTls::None, false)
        .await
        .unwrap();
    assert!(!c.has_extension("SMTPUTF8"));
    // RFC 6531 §3.2: our client does not send SMTPUTF8 to a hop that does not offer it; it
    // fails locally with 553 5.6.7, and the hop sees no transaction.
    let before = hop.transcript().len();
    let e = c.send(&env(EAI_FROM, &[EAI_RCPT]), body).await.unwrap_err();
    let reply = e.reply().expect("a local reply").clone();
    assert!(matches!(
        e,
        ClientError::Rejected {
            stage: Stage::Mail,
            ..
        }
    ));
    assert_eq!((reply.code, reply.enhanced), (553, Some((5, 6, 7))));
    assert_eq!(
        hop.transcript().len(),
        before,
        "nothing was sent to the hop"
    );
    // The client is still usable for ASCII mail.
    assert_eq!(
        c.send(&env("a@example.test", &["known@example.test"]), MSG)
            .await
            .unwrap()[0]
            .code,
        250
    );
    assert_eq!(sink.count(), 1);
    hop.shutdown().await;
}

// ---------------------------------------------------------------- protocol details

#[tokio::test]
async fn sequence_params_and_limits() {
    let sink = TestSink::new(KNOWN);
    let mut cfg = config(Role::Mx, Arc::clone(&sink));
    cfg.max_recipients = 2;
    cfg.max_message_octets = 1000;
    let server = SmtpServer::start(cfg).await.unwrap();
    let (mut raw, greeting) = Raw::connect(server.addr()).await;
    assert_eq!(greeting, "220 mx.example.test ESMTP acmeproof");
    assert_eq!(
        code(&raw.cmd("MAIL FROM:<a@example.test>").await),
        "503 5.5.1"
    );
    raw.cmd("EHLO client.test").await;
    assert_eq!(
        code(&raw.cmd("RCPT TO:<known@example.test>").await),
        "503 5.5.1"
    );
    assert_eq!(code(&raw.cmd("DATA").await), "503 5.5.1");
    assert_eq!(code(&raw.cmd("VRFY known").await), "252 2.5.0");
    assert_eq!(code(&raw.cmd("HELP").await), "214 2.0.0");
    assert_eq!(code(&raw.cmd("EXPN list").await), "502 5.5.1");
    assert_eq!(
        code(&raw.cmd("MAIL FROM:<a@example.test> FOO=1").await),
        "555 5.5.4"
    );
    assert_eq!(
        code(&raw.cmd("MAIL FROM:<a@example.test> BODY=BINARYMIME").await),
        "501 5.5.4"
    );
    assert_eq!(
        code(&raw.cmd("MAIL FROM:<a@example.test> SIZE=5000").await),
        "552 5.3.4"
    );
    assert_eq!(
        code(&raw.cmd("MAIL FROM:a@example.test").await),
        "501 5.1.7"
    );
    assert_eq!(
        code(&raw.cmd("MAIL FROM:<a@example.test").await),
        "501 5.1.7"
    );
    assert_eq!(
        code(
            &raw.cmd("MAIL FROM:<a@example.test> SIZE=500 BODY=8BITMIME")
                .await
        ),
        "250 2.1.0"
    );
    assert_eq!(
        code(&raw.cmd("MAIL FROM:<a@example.test>").await),
        "503 5.5.1",
        "nested"
    );
    assert_eq!(code(&raw.cmd("DATA").await), "503 5.5.1", "no recipients");
    assert_eq!(
        code(&raw.cmd("RCPT TO:<known@example.test> NOTIFY=NEVER").await),
        "555 5.5.4"
    );
    assert_eq!(
        code(&raw.cmd("RCPT TO:<nobody@example.test>").await),
        "550 5.1.1"
    );
    assert_eq!(code(&raw.cmd("RCPT TO:<>").await), "501 5.1.3");
    assert_eq!(
        code(&raw.cmd("RCPT TO:<a b@example.test>").await),
        "501 5.1.3"
    );
    assert_eq!(
        code(&raw.cmd("RCPT TO:<known@example.test>").await),
        "250 2.1.5"
    );
    assert_eq!(
        code(&raw.cmd("RCPT TO:<other@example.test>").await),
        "250 2.1.5"
    );
    assert_eq!(
        code(&raw.cmd("RCPT TO:<full@example.test>").await),
        "452 4.5.3"
    );
    assert_eq!(
        raw.cmd("DATA").await,
        "354 Start mail input; end with <CRLF>.<CRLF>"
    );
    // Over SIZE: read to the end, nothing stored, 552.
    let big = "x".repeat(70);
    for _ in 0..30 {
        raw.send(format!("{big}\r\n").as_bytes()).await;
    }
    assert_eq!(code(&raw.cmd(".").await), "552 5.3.4");
    // Overlong text line (RFC 5321 §4.5.3.1.6).
    raw.cmd("MAIL FROM:<a@example.test>").await;
    raw.cmd("RCPT TO:<known@example.test>").await;
    raw.cmd("DATA").await;
    raw.send(format!("{}\r\n", "y".repeat(1200)).as_bytes())
        .await;
    let r = raw.cmd(".").await;
    assert!(r.starts_with("552 5.3.4 text line"), "{r}");
    assert_eq!(code(&raw.cmd("NOOP").await), "250 2.0.0");
    assert_eq!(sink.count(), 0);
    assert_eq!(code(&raw.cmd("QUIT").await), "221 2.0.0");
    assert!(raw.at_eof().await);
    server.shutdown().await;
}

#[tokio::test]
async fn extra_keywords_change_at_runtime() {
    let (server, _) = start(Role::Mx).await;
    server.set_extra_keywords(vec!["ACME abc-_123".into(), "BAD\r\n250 X".into()]);
    let c = SmtpClient::connect(server.addr(), "client.test", ClientTls::None, false)
        .await
        .unwrap();
    assert_eq!(c.extension("ACME"), Some("abc-_123"));
    assert!(!c.extensions().iter().any(|e| e.contains("BAD")));
    server.set_extra_keywords(vec![]);
    let c2 = SmtpClient::connect(server.addr(), "client.test", ClientTls::None, false)
        .await
        .unwrap();
    assert!(!c2.has_extension("ACME"));
    server.shutdown().await;
}

#[tokio::test]
async fn shutdown_is_bounded_and_says_421() {
    let (server, _) = start(Role::Mx).await;
    let (mut raw, _) = Raw::connect(server.addr()).await;
    raw.cmd("EHLO client.test").await;
    timeout(Duration::from_secs(5), server.shutdown())
        .await
        .expect("bounded shutdown");
    assert_eq!(code(&raw.line().await), "421 4.3.2");
    assert!(TcpStream::connect(server.addr()).await.is_err());
}

#[tokio::test]
async fn connection_limit_transcript_bound_and_implicit_tls_garbage() {
    let sink = TestSink::new(KNOWN);
    let mut cfg = config(Role::Mx, Arc::clone(&sink));
    cfg.max_connections = 1;
    cfg.transcript_lines = 5;
    let server = SmtpServer::start(cfg).await.unwrap();
    let (mut first, _) = Raw::connect(server.addr()).await;
    // Over the cap, a connection waits for a slot: it is greeted once the first one quits.
    let addr = server.addr();
    let second = tokio::spawn(async move { Raw::connect(addr).await });
    for _ in 0..10 {
        first.cmd("NOOP").await;
    }
    assert!(!second.is_finished(), "no slot yet");
    first.cmd("QUIT").await;
    let (mut second, greeting) = timeout(T, second).await.unwrap().unwrap();
    assert!(greeting.starts_with("220 "), "{greeting}");
    second.cmd("QUIT").await;
    assert_eq!(server.transcript().len(), 5);
    server.shutdown().await;

    // HELO (no extensions): parameters are refused.
    let (server, _) = start(Role::Mx).await;
    let (mut raw, _) = Raw::connect(server.addr()).await;
    assert_eq!(
        raw.cmd("HELO client.test").await,
        "250 2.0.0 mx.example.test"
    );
    assert_eq!(
        code(&raw.cmd("MAIL FROM:<a@example.test> BODY=8BITMIME").await),
        "555 5.5.4"
    );
    server.shutdown().await;

    // Implicit TLS: plaintext SMTP gets no greeting, only a closed connection.
    let sink = TestSink::new(KNOWN);
    let mut cfg = config(Role::Submission, sink);
    cfg.implicit_tls = true;
    let server = SmtpServer::start(cfg).await.unwrap();
    let mut s = TcpStream::connect(server.addr()).await.unwrap();
    s.write_all(b"EHLO client.test\r\n").await.unwrap();
    let mut rest = Vec::new();
    let _ = timeout(T, s.read_to_end(&mut rest)).await.unwrap();
    assert!(!String::from_utf8_lossy(&rest).contains("220"));
    still_serves_implicit(&server).await;
    server.shutdown().await;
}

async fn still_serves_implicit(server: &SmtpServer) {
    let tls = ClientTls::Implicit(pki().client_config(), mx_name());
    let c = SmtpClient::connect(server.addr(), "client.test", tls, false)
        .await
        .unwrap();
    c.quit().await.unwrap();
}

// ---------------------------------------------------------------- bad input, every role

const ROLES: [Role; 4] = [Role::Mx, Role::Submission, Role::Relay, Role::Lmtp];

fn hello(role: Role) -> &'static str {
    if role == Role::Lmtp {
        "LHLO client.test"
    } else {
        "EHLO client.test"
    }
}

#[tokio::test]
async fn overlong_lines_and_garbage_keep_the_session() {
    for role in ROLES {
        let (server, _) = start(role).await;
        let (mut raw, _) = Raw::connect(server.addr()).await;
        raw.send(hello(role).as_bytes()).await;
        raw.send(b"\r\n").await;
        raw.reply().await;
        let over = format!("NOOP {}", "a".repeat(600));
        assert_eq!(code(&raw.cmd(&over).await), "500 5.5.6", "{role:?}");
        assert_eq!(code(&raw.cmd("NOOP").await), "250 2.0.0", "{role:?}");
        // 1 MiB without a line end, then one: one 500, memory bounded by the reader.
        raw.send(&vec![b'z'; 1 << 20]).await;
        assert_eq!(code(&raw.cmd("").await), "500 5.5.6", "{role:?}");
        assert_eq!(code(&raw.cmd("NOOP").await), "250 2.0.0");
        // Binary garbage, NUL, invalid UTF-8, a bare LF command.
        raw.send(b"\x00\xff\xfe\x16\x03\x01garbage\r\n").await;
        assert_eq!(code(&raw.reply().await[0]), "500 5.5.2");
        raw.send(b"NOOP\n").await;
        assert_eq!(code(&raw.reply().await[0]), "500 5.5.2");
        assert_eq!(code(&raw.cmd("NOOP").await), "250 2.0.0");
        assert_eq!(code(&raw.cmd("QUIT").await), "221 2.0.0");
        still_serves(&server, role).await;
        server.shutdown().await;
    }
}

#[tokio::test]
async fn unknown_commands_hit_the_limit() {
    for role in ROLES {
        let (server, _) = start(role).await;
        let (mut raw, _) = Raw::connect(server.addr()).await;
        for i in 0..9 {
            assert_eq!(code(&raw.cmd(&format!("XYZZY{i}")).await), "500 5.5.2");
        }
        raw.send(b"XYZZY9\r\n").await;
        assert_eq!(code(&raw.line().await), "500 5.5.2");
        assert_eq!(code(&raw.line().await), "421 4.7.0", "{role:?}");
        assert!(raw.at_eof().await);
        still_serves(&server, role).await;
        server.shutdown().await;
    }
}

#[tokio::test]
async fn pipelining_flood_is_answered() {
    for role in ROLES {
        let (server, _) = start(role).await;
        let s = TcpStream::connect(server.addr()).await.unwrap();
        let (rd, mut wr) = s.into_split();
        let reader = tokio::spawn(async move {
            let mut r = BufReader::new(rd);
            let (mut ok, mut line) = (0usize, String::new());
            loop {
                line.clear();
                if r.read_line(&mut line).await.unwrap_or(0) == 0 {
                    return (ok, line);
                }
                if line.starts_with("250 2.0.0 Ok") {
                    ok += 1;
                }
                if line.starts_with("221 ") {
                    return (ok, line);
                }
            }
        });
        let mut flood = format!("{}\r\n", hello(role)).into_bytes();
        for _ in 0..5000 {
            flood.extend_from_slice(b"NOOP\r\n");
        }
        flood.extend_from_slice(b"QUIT\r\n");
        wr.write_all(&flood).await.unwrap();
        let (ok, last) = timeout(Duration::from_secs(30), reader)
            .await
            .unwrap()
            .unwrap();
        assert_eq!(ok, 5000, "{role:?}");
        assert!(last.starts_with("221 2.0.0"));
        // A flood of bad commands ends at the limit, without answering the rest.
        let (mut raw, _) = Raw::connect(server.addr()).await;
        raw.send(&b"BOGUS\r\n".repeat(5000)).await;
        let mut lines = Vec::new();
        loop {
            let l = raw.line().await;
            if l.is_empty() {
                break;
            }
            lines.push(l);
        }
        assert_eq!(lines.len(), 11, "{role:?}");
        assert_eq!(code(&lines[10]), "421 4.7.0");
        still_serves(&server, role).await;
        server.shutdown().await;
    }
}

#[tokio::test]
async fn idle_timeout_mid_data_delivers_nothing() {
    for role in ROLES {
        let sink = TestSink::new(KNOWN);
        let mut cfg = config(role, Arc::clone(&sink));
        cfg.idle_timeout = Duration::from_millis(300);
        cfg.require_tls_for_auth = false;
        let server = SmtpServer::start(cfg).await.unwrap();
        let (mut raw, _) = Raw::connect(server.addr()).await;
        raw.send(format!("{}\r\n", hello(role)).as_bytes()).await;
        raw.reply().await;
        if role == Role::Submission {
            assert_eq!(
                code(&raw.cmd("AUTH PLAIN AGFsaWNlAHNlY3JldA==").await),
                "235 2.7.0"
            );
        }
        raw.cmd("MAIL FROM:<alice@example.test>").await;
        assert_eq!(
            code(&raw.cmd("RCPT TO:<known@example.test>").await),
            "250 2.1.5"
        );
        assert!(raw.cmd("DATA").await.starts_with("354"));
        raw.send(b"Subject: half\r\n\r\nhalf a li").await;
        assert_eq!(code(&raw.line().await), "421 4.4.2", "{role:?}");
        assert!(raw.at_eof().await);
        assert_eq!(sink.count(), 0);
        // And between commands.
        let (mut raw, _) = Raw::connect(server.addr()).await;
        assert_eq!(code(&raw.line().await), "421 4.4.2");
        still_serves(&server, role).await;
        server.shutdown().await;
    }
}

#[tokio::test]
async fn smuggling_variants_never_split_the_message() {
    let variants: [&[u8]; 4] = [b"\n.\n", b"\r.\r\n", b"\r\n.\n", b"\n.\r\n"];
    for role in ROLES {
        let sink = TestSink::new(KNOWN);
        let mut cfg = config(role, Arc::clone(&sink));
        cfg.require_tls_for_auth = false;
        let server = SmtpServer::start(cfg).await.unwrap();
        let (mut raw, _) = Raw::connect(server.addr()).await;
        raw.send(format!("{}\r\n", hello(role)).as_bytes()).await;
        raw.reply().await;
        if role == Role::Submission {
            raw.cmd("AUTH PLAIN AGFsaWNlAHNlY3JldA==").await;
        }
        for sep in variants {
            raw.cmd("MAIL FROM:<alice@example.test>").await;
            raw.cmd("RCPT TO:<known@example.test>").await;
            assert!(raw.cmd("DATA").await.starts_with("354"));
            let mut msg = b"Subject: legit\r\n\r\nhello".to_vec();
            msg.extend_from_slice(sep);
            msg.extend_from_slice(
                b"MAIL FROM:<evil@attacker.test>\r\nRCPT TO:<other@example.test>\r\nDATA\r\n\
                  Subject: smuggled\r\n\r\nsmuggled\r\n.\r\n",
            );
            raw.send(&msg).await;
            // Exactly one reply: the whole thing was one message, refused.
            let r = raw.line().await;
            assert_eq!(code(&r), "550 5.6.0", "{role:?} {sep:?}");
            assert_eq!(
                code(&raw.cmd("NOOP").await),
                "250 2.0.0",
                "{role:?} {sep:?}: no extra replies"
            );
        }
        // A clean message on the same connection still goes through.
        raw.cmd("MAIL FROM:<alice@example.test>").await;
        raw.cmd("RCPT TO:<known@example.test>").await;
        raw.cmd("DATA").await;
        raw.send(b"Subject: clean\r\n\r\nok\r\n.\r\n").await;
        assert_eq!(&raw.line().await[..3], "250");
        let got = sink.wait_for(1).await;
        assert_eq!(got.len(), 1, "{role:?}");
        assert_eq!(&got[0].data[..], b"Subject: clean\r\n\r\nok\r\n");
        let t = server.transcript();
        assert!(
            !t.iter().any(|l| l.line.contains("evil@attacker")),
            "{role:?}"
        );
        still_serves(&server, role).await;
        server.shutdown().await;
    }
}

#[tokio::test]
async fn starttls_with_pipelined_plaintext_is_refused() {
    let (server, _) = start(Role::Submission).await;
    let (mut raw, _) = Raw::connect(server.addr()).await;
    raw.cmd("EHLO client.test").await;
    raw.send(b"STARTTLS\r\nAUTH PLAIN AGFsaWNlAHNlY3JldA==\r\nMAIL FROM:<alice@example.test>\r\n")
        .await;
    assert_eq!(code(&raw.line().await), "501 5.5.4");
    assert!(raw.at_eof().await);
    let t = server.transcript();
    assert!(
        !t.iter()
            .any(|l| l.line.starts_with("MAIL") || l.line.starts_with("AUTH"))
    );
    // STARTTLS twice, and a normal upgrade afterwards.
    let tls = ClientTls::StartTls(pki().client_config(), mx_name());
    let mut c = SmtpClient::connect(server.addr(), "client.test", tls, false)
        .await
        .unwrap();
    assert_eq!(c.command("STARTTLS").await.unwrap().code, 503);
    c.quit().await.unwrap();
    // Bytes that are not TLS after the 220 end the connection.
    let (mut raw, _) = Raw::connect(server.addr()).await;
    raw.cmd("EHLO client.test").await;
    assert_eq!(code(&raw.cmd("STARTTLS").await), "220 2.0.0");
    raw.send(b"EHLO plaintext.test\r\n").await;
    assert!(raw.at_eof().await);
    still_serves(&server, Role::Submission).await;
    server.shutdown().await;
}

// ---------------------------------------------------------------- real tools

#[tokio::test]
async fn swaks_submission_starttls_auth() {
    let Some(swaks) = acmeproof_testkit::require_tool("swaks") else {
        return;
    };
    let (server, sink) = start(Role::Submission).await;
    let dir = temp_dir("smtp");
    let root = dir.join("root.pem");
    pki().write_bundle(&root).unwrap();
    let addr = server.addr().to_string();
    let root_s = root.display().to_string();
    let (ok, out) = run(
        &swaks,
        &[
            "--server",
            &addr,
            "--ehlo",
            "client.test",
            "--from",
            "alice@example.test",
            "--to",
            "known@example.test",
            "--tls",
            "--tls-verify",
            "--tls-ca-path",
            &root_s,
            "--auth",
            "PLAIN",
            "--auth-user",
            "alice",
            "--auth-password",
            "secret",
        ],
    )
    .await;
    assert!(ok, "{out}");
    let got = sink.wait_for(1).await;
    assert_eq!(got[0].envelope.mail_from, "alice@example.test");
    assert_eq!(got[0].envelope.rcpt_to, vec!["known@example.test"]);
    assert_eq!(got[0].session.authenticated_as.as_deref(), Some("alice"));
    assert!(got[0].session.tls);
    assert!(!out.contains("secret"));
    // A wrong password fails.
    let (ok, _) = run(
        &swaks,
        &[
            "--server",
            &addr,
            "--from",
            "alice@example.test",
            "--to",
            "known@example.test",
            "--tls",
            "--tls-verify",
            "--tls-ca-path",
            &root_s,
            "--auth",
            "PLAIN",
            "--auth-user",
            "alice",
            "--auth-password",
            "nope",
        ],
    )
    .await;
    assert!(!ok);
    assert_eq!(sink.count(), 1);
    let _ = std::fs::remove_dir_all(dir);
    server.shutdown().await;
}

#[tokio::test]
async fn swaks_lmtp() {
    let Some(swaks) = acmeproof_testkit::require_tool("swaks") else {
        return;
    };
    let (server, sink) = start(Role::Lmtp).await;
    let addr = server.addr().to_string();
    let (ok, out) = run(
        &swaks,
        &[
            "--server",
            &addr,
            "--protocol",
            "LMTP",
            "--from",
            "a@example.test",
            "--to",
            "known@example.test,other@example.test",
        ],
    )
    .await;
    assert!(ok, "{out}");
    assert!(out.contains("LHLO"), "{out}");
    let got = sink.wait_for(1).await;
    assert_eq!(got[0].envelope.rcpt_to.len(), 2);
    assert_eq!(got[0].session.protocol, "LMTP");
    server.shutdown().await;
}

#[tokio::test]
async fn curl_smtputf8_address() {
    let Some(curl) = acmeproof_testkit::require_tool("curl") else {
        return;
    };
    let (server, sink) = start(Role::Mx).await;
    let dir = temp_dir("smtp");
    let mail = dir.join("mail.eml");
    std::fs::write(
        &mail,
        "From: δοκιμή@παράδειγμα.δοκιμή\r\nTo: θέμα@example.test\r\nSubject: curl\r\n\r\nγεια\r\n",
    )
    .unwrap();
    let url = format!("smtp://{}/client.test", server.addr());
    let mail_s = mail.display().to_string();
    let (ok, out) = run(
        &curl,
        &[
            "-sS",
            "--max-time",
            "20",
            &url,
            "--mail-from",
            EAI_FROM,
            "--mail-rcpt",
            EAI_RCPT,
            "--upload-file",
            &mail_s,
        ],
    )
    .await;
    assert!(ok, "{out}");
    let got = sink.wait_for(1).await;
    // What curl 7.88.1 sends (from the transcript): the local part in UTF-8, the domain as
    // A-labels, SIZE, then SMTPUTF8; no BODY=8BITMIME although the body is 8-bit:
    //   MAIL FROM:<δοκιμή@xn--hxajbheg2az3al.xn--jxalpdlp> SIZE=108 SMTPUTF8
    //   RCPT TO:<θέμα@example.test>
    let env = &got[0].envelope;
    assert!(env.smtputf8);
    assert_eq!(norm(&env.mail_from), norm(EAI_FROM));
    assert_eq!(norm(&env.rcpt_to[0]), norm(EAI_RCPT));
    let t = server.transcript();
    let sent: Vec<&str> = t
        .iter()
        .filter(|l| l.direction == Direction::ClientToServer)
        .map(|l| l.line.as_str())
        .collect();
    assert!(
        sent.contains(&"MAIL FROM:<δοκιμή@xn--hxajbheg2az3al.xn--jxalpdlp> SIZE=108 SMTPUTF8"),
        "{sent:?}"
    );
    assert!(sent.contains(&"RCPT TO:<θέμα@example.test>"), "{sent:?}");
    assert!(String::from_utf8_lossy(&got[0].data).contains("γεια"));
    let _ = std::fs::remove_dir_all(dir);
    server.shutdown().await;
}

const PY_SMTP: &str = r#"
import smtplib, ssl, sys
from email.message import EmailMessage
port, root, mode = int(sys.argv[1]), sys.argv[2], sys.argv[3]
m = EmailMessage()
m["From"] = "δοκιμή@παράδειγμα.δοκιμή"
m["To"] = "θέμα@example.test"
m["Subject"] = "smtplib"
m.set_content("γεια σου\n.leading dot\n")
if mode == "smtp":
    with smtplib.SMTP("127.0.0.1", port, local_hostname="client.test", timeout=20) as s:
        s.starttls(context=ssl.create_default_context(cafile=root))
        s.send_message(m)
else:
    with smtplib.LMTP("127.0.0.1", port, local_hostname="client.test", timeout=20) as s:
        r = s.sendmail("a@example.test", ["known@example.test", "nobody@example.test"],
                       "Subject: lmtp\r\n\r\nhi\r\n")
        assert list(r) == ["nobody@example.test"], r
print("ok")
"#;

#[tokio::test]
async fn python_smtplib_starttls_utf8_and_lmtp() {
    let Some(python) = acmeproof_testkit::require_tool("python3") else {
        return;
    };
    let dir = temp_dir("smtp");
    let root = dir.join("root.pem");
    pki().write_bundle(&root).unwrap();
    let script = dir.join("send.py");
    std::fs::write(&script, PY_SMTP).unwrap();
    let (script_s, root_s) = (script.display().to_string(), root.display().to_string());

    let sink = TestSink::new(KNOWN);
    let mut cfg = config(Role::Mx, Arc::clone(&sink));
    cfg.tls = Some(server_tls());
    let server = SmtpServer::start(cfg).await.unwrap();
    let port = server.addr().port().to_string();
    let (ok, out) = run(&python, &[&script_s, &port, &root_s, "smtp"]).await;
    assert!(ok, "{out}");
    let got = sink.wait_for(1).await;
    assert_eq!(got[0].envelope.mail_from, EAI_FROM);
    assert_eq!(got[0].envelope.rcpt_to, vec![EAI_RCPT]);
    assert!(got[0].envelope.smtputf8);
    assert!(got[0].session.tls);
    assert_eq!(got[0].session.protocol, "UTF8SMTPS");
    assert!(String::from_utf8_lossy(&got[0].data).contains("\r\n.leading dot\r\n"));
    server.shutdown().await;

    let (server, sink) = start(Role::Lmtp).await;
    let port = server.addr().port().to_string();
    let (ok, out) = run(&python, &[&script_s, &port, &root_s, "lmtp"]).await;
    assert!(ok, "{out}");
    let got = sink.wait_for(1).await;
    assert_eq!(got[0].envelope.rcpt_to, vec!["known@example.test"]);
    let _ = std::fs::remove_dir_all(dir);
    server.shutdown().await;
}

// ------------------------------------------------- the benchmark driver (figures: `acmeproof bench smtp`)

/// The driver behind `acmeproof bench smtp` counts what it sends: a small run, no timing.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bench_driver_sends_and_counts_every_message() {
    let r = acmeproof_mocks::smtp::bench::bench_mx_accept(2, 40, 4096)
        .await
        .unwrap();
    assert_eq!((r.messages, r.connections, r.size), (40, 2, 4096));
}
