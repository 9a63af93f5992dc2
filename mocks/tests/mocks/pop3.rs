//! `mocks::pop3` end to end: every command over a raw socket, DELE/RSET/QUIT against the store,
//! STLS and POP3S, bad input. Python's poplib runs against `acmeproof serve` instead (harness
//! `peers_mailbox`).

use std::net::SocketAddr;
use std::sync::{Arc, OnceLock};
use std::time::Duration;

use acmeproof_mocks::ca::pki::Pki;
use acmeproof_mocks::clock::Clock;
use acmeproof_mocks::mailstore::{INBOX, MailStore};
use acmeproof_mocks::pop3::{Direction, Pop3Config, Pop3Server};
use acmeproof_mocks::seed::Seed;
use rustls_pki_types::ServerName;
use time::OffsetDateTime;
use tokio::io::{AsyncBufReadExt, AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt, BufReader};
use tokio::net::TcpStream;
use tokio::time::timeout;
use tokio_rustls::TlsConnector;

const T: Duration = Duration::from_secs(10);
const USER: &str = "alice@example.test";
const PASS: &str = "secret";
/// Lines that start with `.`, one of them a lone `.`, which RETR must dot-stuff.
const MSG1: &str = "From: bob@example.test\r\nSubject: one\r\n\r\nhello\r\n.leading dot\r\n..two dots\r\n.\r\nend\r\n";
const MSG2: &str = "Subject: two\r\n\r\nline1\r\nline2\r\nline3\r\n";

// ---------------------------------------------------------------- fixtures

fn pki() -> &'static Pki {
    static PKI: OnceLock<Pki> = OnceLock::new();
    PKI.get_or_init(|| Pki::generate(Seed(110), &Clock::system(), "POP3 Test").unwrap())
}

fn server_tls() -> Arc<rustls::ServerConfig> {
    pki()
        .tls_server_config_with_alpn(&["pop.example.test", "localhost", "127.0.0.1"], &[])
        .unwrap()
}

fn store() -> MailStore {
    let store = MailStore::new();
    store.add_user(USER, PASS).unwrap();
    store.add_user("bob@example.test", "pw").unwrap();
    let at = OffsetDateTime::UNIX_EPOCH;
    store.deliver(USER, MSG1.as_bytes(), at).unwrap();
    store.deliver(USER, MSG2.as_bytes(), at).unwrap();
    store
}

fn config(store: &MailStore) -> Pop3Config {
    let mut cfg = Pop3Config::new("pop.example.test", store.clone(), Clock::system());
    cfg.idle_timeout = T;
    cfg
}

async fn start(store: &MailStore) -> Pop3Server {
    Pop3Server::start(config(store)).await.unwrap()
}

async fn start_tls(store: &MailStore, implicit: bool) -> Pop3Server {
    let mut cfg = config(store);
    cfg.tls = Some(server_tls());
    cfg.implicit_tls = implicit;
    Pop3Server::start(cfg).await.unwrap()
}

fn inbox(store: &MailStore) -> Vec<u32> {
    store
        .messages(USER, INBOX)
        .unwrap()
        .iter()
        .map(|m| m.uid)
        .collect()
}

trait Stream: AsyncRead + AsyncWrite + Unpin + Send {}
impl<S: AsyncRead + AsyncWrite + Unpin + Send> Stream for S {}

/// A client that speaks bytes.
struct Raw {
    r: BufReader<Box<dyn Stream>>,
}

impl Raw {
    async fn connect(addr: SocketAddr) -> (Raw, String) {
        let s = TcpStream::connect(addr).await.unwrap();
        Raw::over(Box::new(s)).await
    }

    async fn connect_tls(addr: SocketAddr) -> (Raw, String) {
        let s = TcpStream::connect(addr).await.unwrap();
        Raw::over(tls(Box::new(s)).await).await
    }

    async fn over(s: Box<dyn Stream>) -> (Raw, String) {
        let mut raw = Raw {
            r: BufReader::new(s),
        };
        let greeting = raw.line().await;
        (raw, greeting)
    }

    /// After `+OK Begin TLS negotiation`: the handshake over the same socket.
    async fn upgrade(self) -> Raw {
        assert!(self.r.buffer().is_empty(), "nothing after the STLS reply");
        Raw {
            r: BufReader::new(tls(self.r.into_inner()).await),
        }
    }

    async fn send(&mut self, bytes: &[u8]) {
        self.r.get_mut().write_all(bytes).await.unwrap();
    }

    /// One line without CRLF; empty at EOF.
    async fn line(&mut self) -> String {
        let mut s = Vec::new();
        timeout(T, self.r.read_until(b'\n', &mut s))
            .await
            .expect("a line within the timeout")
            .unwrap_or(0);
        String::from_utf8_lossy(&s)
            .trim_end_matches(['\r', '\n'])
            .to_owned()
    }

    /// Sends a command, returns the one-line reply.
    async fn cmd(&mut self, line: &str) -> String {
        self.send(format!("{line}\r\n").as_bytes()).await;
        self.line().await
    }

    /// Sends a command with a multi-line reply; returns the first line and the body lines as
    /// sent (still dot-stuffed), without the final `.`.
    async fn multi(&mut self, line: &str) -> (String, Vec<String>) {
        let first = self.cmd(line).await;
        let mut body = Vec::new();
        if first.starts_with("+OK") {
            loop {
                let l = self.line().await;
                if l == "." {
                    break;
                }
                body.push(l);
            }
        }
        (first, body)
    }

    async fn login(&mut self) -> String {
        assert!(self.cmd(&format!("USER {USER}")).await.starts_with("+OK"));
        self.cmd(&format!("PASS {PASS}")).await
    }

    async fn at_eof(&mut self) -> bool {
        let mut rest = Vec::new();
        matches!(timeout(T, self.r.read_to_end(&mut rest)).await, Ok(Ok(_)))
    }
}

async fn tls(s: Box<dyn Stream>) -> Box<dyn Stream> {
    let name = ServerName::try_from("pop.example.test").unwrap();
    let connector = TlsConnector::from(pki().client_config());
    Box::new(
        timeout(T, connector.connect(name, s))
            .await
            .unwrap()
            .unwrap(),
    )
}

/// Logs in, retrying while the previous session still holds the maildrop lock (a server
/// notices a dropped connection a moment later).
async fn login_when_free(addr: SocketAddr) -> Raw {
    for _ in 0..100 {
        let (mut raw, _) = Raw::connect(addr).await;
        let reply = raw.login().await;
        if reply.starts_with("+OK") {
            return raw;
        }
        assert!(reply.starts_with("-ERR [IN-USE]"), "{reply}");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    panic!("maildrop never unlocked");
}

/// Another client is served normally.
async fn still_serves(server: &Pop3Server) {
    let mut raw = login_when_free(server.addr()).await;
    assert!(raw.cmd("STAT").await.starts_with("+OK "));
    assert!(raw.cmd("QUIT").await.starts_with("+OK"));
}

// ---------------------------------------------------------------- commands

#[tokio::test]
async fn every_command() {
    let store = store();
    let server = start(&store).await;
    let (mut raw, greeting) = Raw::connect(server.addr()).await;
    assert_eq!(greeting, "+OK acmeproof POP3 ready");

    let (first, capa) = raw.multi("CAPA").await;
    assert_eq!(first, "+OK Capability list follows");
    for want in [
        "USER",
        "UIDL",
        "TOP",
        "PIPELINING",
        "RESP-CODES",
        "AUTH-RESP-CODE",
        "IMPLEMENTATION acmeproof",
    ] {
        assert!(capa.iter().any(|c| c == want), "{want} in {capa:?}");
    }
    assert!(!capa.iter().any(|c| c == "STLS"), "no TLS, no STLS");

    let (s1, s2) = (MSG1.len(), MSG2.len());
    assert_eq!(
        raw.login().await,
        format!("+OK maildrop has 2 messages ({} octets)", s1 + s2)
    );
    assert_eq!(raw.cmd("STAT").await, format!("+OK 2 {}", s1 + s2));
    let (first, list) = raw.multi("LIST").await;
    assert!(first.starts_with("+OK 2 messages"), "{first}");
    assert_eq!(list, vec![format!("1 {s1}"), format!("2 {s2}")]);
    assert_eq!(raw.cmd("LIST 2").await, format!("+OK 2 {s2}"));

    let (_, uidl) = raw.multi("UIDL").await;
    let uidvalidity = store.mailbox_status(USER, INBOX).unwrap().uidvalidity;
    assert_eq!(
        uidl,
        vec![format!("1 {uidvalidity}.1"), format!("2 {uidvalidity}.2")]
    );
    assert_eq!(raw.cmd("UIDL 2").await, format!("+OK 2 {uidvalidity}.2"));

    // RFC 1939 §3: a line starting with `.` goes out with one more `.`.
    let (first, body) = raw.multi("RETR 1").await;
    assert_eq!(first, format!("+OK {s1} octets"));
    assert_eq!(
        body,
        [
            "From: bob@example.test",
            "Subject: one",
            "",
            "hello",
            "..leading dot",
            "...two dots",
            "..",
            "end"
        ]
    );

    let (first, top) = raw.multi("TOP 2 1").await;
    assert!(first.starts_with("+OK"), "{first}");
    assert_eq!(top, ["Subject: two", "", "line1"]);
    let (_, top0) = raw.multi("TOP 1 0").await;
    assert_eq!(top0, ["From: bob@example.test", "Subject: one", ""]);

    assert_eq!(raw.cmd("NOOP").await.trim_end(), "+OK");
    assert_eq!(raw.cmd("DELE 1").await, "+OK message 1 deleted");
    assert_eq!(raw.cmd("DELE 1").await, "-ERR message 1 already deleted");
    assert_eq!(raw.cmd("RETR 1").await, "-ERR message 1 already deleted");
    assert_eq!(raw.cmd("LIST 1").await, "-ERR message 1 already deleted");
    assert_eq!(raw.cmd("STAT").await, format!("+OK 1 {s2}"));
    let (_, list) = raw.multi("LIST").await;
    assert_eq!(list, vec![format!("2 {s2}")]);
    assert!(raw.cmd("RSET").await.starts_with("+OK maildrop has 2"));
    assert_eq!(raw.cmd("STAT").await, format!("+OK 2 {}", s1 + s2));

    // In TRANSACTION state: no USER in CAPA, no USER/PASS/STLS.
    let (_, capa) = raw.multi("CAPA").await;
    assert!(!capa.iter().any(|c| c == "USER"));
    assert!(raw.cmd("USER x").await.starts_with("-ERR"));
    assert!(raw.cmd("STLS").await.starts_with("-ERR"));

    assert_eq!(
        raw.cmd("QUIT").await,
        "+OK pop.example.test POP3 server signing off (2 messages left)"
    );
    assert!(raw.at_eof().await);
    assert_eq!(inbox(&store), vec![1, 2]);
    server.shutdown().await;
}

#[tokio::test]
async fn pipelined_commands_are_answered_in_order() {
    let store = store();
    let server = start(&store).await;
    let (mut raw, _) = Raw::connect(server.addr()).await;
    // RFC 2449 §6.6 PIPELINING: several commands in one write.
    raw.send(
        format!("USER {USER}\r\nPASS {PASS}\r\nSTAT\r\nLIST 2\r\nUIDL 1\r\nQUIT\r\n").as_bytes(),
    )
    .await;
    let mut replies = Vec::new();
    for _ in 0..6 {
        replies.push(raw.line().await);
    }
    assert!(replies.iter().all(|r| r.starts_with("+OK")), "{replies:?}");
    assert_eq!(replies[3], format!("+OK 2 {}", MSG2.len()));
    assert!(raw.at_eof().await);
    server.shutdown().await;
}

#[tokio::test]
async fn dele_quit_expunges_and_dele_rset_quit_keeps() {
    let store = store();
    let server = start(&store).await;

    let mut raw = login_when_free(server.addr()).await;
    assert!(raw.cmd("DELE 2").await.starts_with("+OK"));
    assert!(raw.cmd("RSET").await.starts_with("+OK"));
    assert!(raw.cmd("QUIT").await.starts_with("+OK"));
    assert!(raw.at_eof().await);
    assert_eq!(inbox(&store), vec![1, 2]);

    let mut raw = login_when_free(server.addr()).await;
    assert!(raw.cmd("DELE 1").await.starts_with("+OK"));
    // Not yet: only QUIT enters the UPDATE state.
    assert_eq!(inbox(&store), vec![1, 2]);
    assert!(raw.cmd("QUIT").await.ends_with("(1 messages left)"));
    assert!(raw.at_eof().await);
    assert_eq!(inbox(&store), vec![2]);
    server.shutdown().await;
}

#[tokio::test]
async fn uidl_is_stable_across_sessions() {
    let store = store();
    let server = start(&store).await;
    let mut raw = login_when_free(server.addr()).await;
    let (_, before) = raw.multi("UIDL").await;
    assert!(raw.cmd("DELE 1").await.starts_with("+OK"));
    assert!(raw.cmd("QUIT").await.starts_with("+OK"));
    store
        .deliver(
            USER,
            b"Subject: three\r\n\r\n3\r\n",
            OffsetDateTime::UNIX_EPOCH,
        )
        .unwrap();

    let mut raw = login_when_free(server.addr()).await;
    let (_, after) = raw.multi("UIDL").await;
    let id = |l: &String| l.split_once(' ').unwrap().1.to_owned();
    // Message 2 became message 1 and kept its unique id; the new one has a new id.
    assert_eq!(after.len(), 2);
    assert_eq!(id(&after[0]), id(&before[1]));
    assert!(!before.iter().any(|b| id(b) == id(&after[1])));
    assert!(after[0].starts_with("1 "));
    raw.cmd("QUIT").await;
    server.shutdown().await;
}

#[tokio::test]
async fn disconnect_without_quit_expunges_nothing() {
    let store = store();
    let server = start(&store).await;
    let mut raw = login_when_free(server.addr()).await;
    assert!(raw.cmd("DELE 1").await.starts_with("+OK"));
    assert!(raw.cmd("DELE 2").await.starts_with("+OK"));
    drop(raw);
    assert_nothing_expunged(&server, &store).await;
    server.shutdown().await;
}

/// After a session that ended without QUIT: the maildrop is free again and whole (RFC 1939 §6:
/// no QUIT, no UPDATE).
async fn assert_nothing_expunged(server: &Pop3Server, store: &MailStore) {
    let mut raw = login_when_free(server.addr()).await;
    assert_eq!(
        raw.cmd("STAT").await,
        format!("+OK 2 {}", MSG1.len() + MSG2.len())
    );
    raw.cmd("QUIT").await;
    assert_eq!(inbox(store), vec![1, 2]);
}

#[tokio::test]
async fn maildrop_is_locked_for_one_session() {
    let store = store();
    let server = start(&store).await;
    let mut first = login_when_free(server.addr()).await;
    let (mut second, _) = Raw::connect(server.addr()).await;
    assert!(second.cmd(&format!("USER {USER}")).await.starts_with("+OK"));
    assert_eq!(
        second.cmd(&format!("PASS {PASS}")).await,
        "-ERR [IN-USE] maildrop already locked"
    );
    // Another user is not affected.
    assert!(second.cmd("USER bob@example.test").await.starts_with("+OK"));
    assert!(
        second
            .cmd("PASS pw")
            .await
            .starts_with("+OK maildrop has 0")
    );
    first.cmd("QUIT").await;
    second.cmd("QUIT").await;
    still_serves(&server).await;
    server.shutdown().await;
}

#[tokio::test]
async fn capa_extra_lines_change_at_runtime() {
    let store = store();
    let mut cfg = config(&store);
    cfg.capa_extra = vec!["ACME first".into()];
    let server = Pop3Server::start(cfg).await.unwrap();
    let (mut raw, _) = Raw::connect(server.addr()).await;
    let (_, capa) = raw.multi("CAPA").await;
    assert_eq!(capa.last().map(String::as_str), Some("ACME first"));

    server.set_capa_extra(vec![
        "ACME 0123456789abcdef".into(),
        "EVIL\r\n+OK injected".into(),
        ".".into(),
    ]);
    let (_, capa) = raw.multi("CAPA").await;
    assert_eq!(
        capa.last().map(String::as_str),
        Some("ACME 0123456789abcdef")
    );
    assert!(
        !capa
            .iter()
            .any(|c| c.contains("EVIL") || c.contains("first"))
    );
    // Also after login (RFC 2449 §5: CAPA in either state).
    raw.login().await;
    let (_, capa) = raw.multi("CAPA").await;
    assert!(capa.iter().any(|c| c == "ACME 0123456789abcdef"));
    raw.cmd("QUIT").await;
    server.shutdown().await;
}

#[tokio::test]
async fn transcript_records_commands_and_hides_the_password() {
    let store = store();
    let server = start(&store).await;
    let mut raw = login_when_free(server.addr()).await;
    raw.multi("RETR 2").await;
    raw.cmd("QUIT").await;
    assert!(raw.at_eof().await);
    let t = server.transcript();
    let lines: Vec<(Direction, &str)> = t.iter().map(|l| (l.direction, l.line.as_str())).collect();
    assert!(lines.contains(&(Direction::ClientToServer, "PASS <redacted>")));
    assert!(!t.iter().any(|l| l.line.contains(PASS)));
    assert!(lines.contains(&(Direction::ClientToServer, "RETR 2")));
    assert!(
        t.iter()
            .any(|l| l.line.starts_with("<") && l.line.ends_with("of message 2>"))
    );
    server.shutdown().await;
}

// ---------------------------------------------------------------- TLS

#[tokio::test]
async fn stls_then_user_pass() {
    let store = store();
    let server = start_tls(&store, false).await;
    let (mut raw, _) = Raw::connect(server.addr()).await;
    let (_, capa) = raw.multi("CAPA").await;
    assert!(capa.iter().any(|c| c == "STLS"), "{capa:?}");
    // USER before STLS is forgotten by the upgrade (RFC 2595 §4).
    assert!(raw.cmd(&format!("USER {USER}")).await.starts_with("+OK"));
    assert_eq!(raw.cmd("STLS").await, "+OK Begin TLS negotiation");
    let mut raw = raw.upgrade().await;
    assert_eq!(
        raw.cmd(&format!("PASS {PASS}")).await,
        "-ERR PASS needs USER first"
    );
    let (_, capa) = raw.multi("CAPA").await;
    assert!(!capa.iter().any(|c| c == "STLS"), "{capa:?}");
    assert_eq!(raw.cmd("STLS").await, "-ERR TLS already active");
    assert!(raw.login().await.starts_with("+OK maildrop has 2"));
    let (first, body) = raw.multi("RETR 2").await;
    assert!(first.starts_with("+OK"));
    assert_eq!(body.last().map(String::as_str), Some("line3"));
    assert!(raw.cmd("QUIT").await.starts_with("+OK"));
    assert!(raw.at_eof().await);
    server.shutdown().await;
}

#[tokio::test]
async fn stls_with_pipelined_plaintext_is_refused() {
    let store = store();
    let server = start_tls(&store, false).await;
    let (mut raw, _) = Raw::connect(server.addr()).await;
    raw.send(format!("STLS\r\nUSER {USER}\r\n").as_bytes())
        .await;
    assert_eq!(
        raw.line().await,
        "-ERR commands pipelined after STLS refused"
    );
    assert!(raw.at_eof().await);
    // STLS without TLS configured is refused too, and the session goes on.
    let plain = start(&store).await;
    let (mut raw, _) = Raw::connect(plain.addr()).await;
    assert_eq!(raw.cmd("STLS").await, "-ERR STLS not offered");
    assert!(raw.login().await.starts_with("+OK"));
    raw.cmd("QUIT").await;
    still_serves(&server).await;
    server.shutdown().await;
    plain.shutdown().await;
}

#[tokio::test]
async fn implicit_tls() {
    let store = store();
    let server = start_tls(&store, true).await;
    let (mut raw, greeting) = Raw::connect_tls(server.addr()).await;
    assert_eq!(greeting, "+OK acmeproof POP3 ready");
    let (_, capa) = raw.multi("CAPA").await;
    assert!(!capa.iter().any(|c| c == "STLS"));
    assert!(raw.login().await.starts_with("+OK maildrop has 2"));
    assert!(raw.cmd("QUIT").await.starts_with("+OK"));
    // A plaintext client gets nothing useful and the server goes on.
    let mut plain = TcpStream::connect(server.addr()).await.unwrap();
    plain.write_all(b"USER x\r\n").await.unwrap();
    let mut rest = Vec::new();
    let _ = timeout(T, plain.read_to_end(&mut rest)).await.unwrap();
    assert!(!rest.starts_with(b"+OK"));
    let (mut raw, _) = Raw::connect_tls(server.addr()).await;
    assert!(raw.login().await.starts_with("+OK"));
    raw.cmd("QUIT").await;
    server.shutdown().await;
    assert!(
        Pop3Server::start({
            let mut c = config(&store);
            c.implicit_tls = true;
            c
        })
        .await
        .is_err(),
        "implicit TLS without a TLS config"
    );
}

// ---------------------------------------------------------------- bad input

#[tokio::test]
async fn bad_input_gets_err_and_the_session_goes_on() {
    let store = store();
    let server = start(&store).await;
    let (mut raw, _) = Raw::connect(server.addr()).await;
    // Before authentication.
    for cmd in [
        "STAT", "LIST", "RETR 1", "DELE 1", "NOOP", "UIDL", "TOP 1 1", "RSET",
    ] {
        assert_eq!(
            raw.cmd(cmd).await,
            "-ERR not authenticated: use USER and PASS first",
            "{cmd}"
        );
    }
    assert_eq!(raw.cmd("PASS secret").await, "-ERR PASS needs USER first");
    assert!(raw.cmd(&format!("USER {USER}")).await.starts_with("+OK"));
    assert_eq!(
        raw.cmd("PASS wrong").await,
        "-ERR [AUTH] invalid user name or password"
    );
    // The failed PASS forgot the USER.
    assert_eq!(
        raw.cmd(&format!("PASS {PASS}")).await,
        "-ERR PASS needs USER first"
    );
    assert!(
        raw.cmd("APOP alice 0123")
            .await
            .starts_with("-ERR unknown command")
    );
    assert!(raw.cmd("USER").await.starts_with("-ERR syntax"));
    // RFC 2449 §4: 255 octets including CRLF.
    let long = format!("USER {}", "a".repeat(300));
    assert_eq!(
        raw.cmd(&long).await,
        "-ERR line too long (limit 255 octets)"
    );
    let fits = format!("NOOP{}", " ".repeat(249));
    assert_eq!(fits.len() + 2, 255);
    assert!(
        raw.cmd(&fits).await.starts_with("-ERR"),
        "NOOP takes no argument"
    );
    raw.send(b"\xff\xfe\x00\x01garbage\r\n").await;
    assert_eq!(raw.line().await, "-ERR invalid characters in command line");
    assert!(raw.login().await.starts_with("+OK maildrop has 2"));
    for cmd in [
        "RETR 0",
        "RETR 3",
        "LIST 99",
        "DELE 4294967295",
        "UIDL 3",
        "TOP 3 0",
    ] {
        assert!(
            raw.cmd(cmd).await.starts_with("-ERR no such message"),
            "{cmd}"
        );
    }
    // A good command resets the error count (ten in a row close the connection).
    assert!(raw.cmd("NOOP").await.starts_with("+OK"));
    for cmd in [
        "RETR x",
        "RETR 1 2",
        "TOP 1",
        "TOP 1 x",
        "LIST -1",
        "RETR 99999999999",
    ] {
        assert!(raw.cmd(cmd).await.starts_with("-ERR syntax"), "{cmd}");
    }
    assert!(raw.cmd("STAT").await.starts_with("+OK 2"));
    raw.cmd("QUIT").await;
    still_serves(&server).await;
    server.shutdown().await;
}

#[tokio::test]
async fn endless_lines_and_hang_ups_mid_command() {
    let store = store();
    let server = start(&store).await;
    let (mut raw, _) = Raw::connect(server.addr()).await;
    // 100 kB before the CRLF: one -ERR (RFC 2449 §4 limit), the rest dropped unread as a
    // command, and the next line is served.
    let mut long = vec![b'X'; 100_000];
    long.extend_from_slice(b"\r\nNOOP\r\n");
    raw.send(&long).await;
    assert_eq!(raw.line().await, "-ERR line too long (limit 255 octets)");
    assert_eq!(
        raw.line().await,
        "-ERR not authenticated: use USER and PASS first"
    );
    // RFC 1939 §7: PASS has exactly one argument, spaces included; this one is wrong.
    assert!(raw.cmd(&format!("USER {USER}")).await.starts_with("+OK"));
    assert_eq!(
        raw.cmd(&format!("PASS {PASS} extra words")).await,
        "-ERR [AUTH] invalid user name or password"
    );
    // A hang-up in the middle of a command, before authentication.
    raw.send(b"USER ali").await;
    drop(raw);
    // And in the TRANSACTION state, with a DELE pending: no UPDATE (RFC 1939 §6), and the
    // maildrop lock goes with the connection.
    let mut raw = login_when_free(server.addr()).await;
    raw.send(b"DELE 1\r\nRET").await;
    assert!(raw.line().await.starts_with("+OK"));
    drop(raw);
    assert_nothing_expunged(&server, &store).await;
    still_serves(&server).await;
    server.shutdown().await;
}

#[tokio::test]
async fn too_many_errors_close_the_connection() {
    let store = store();
    let server = start(&store).await;
    let (mut raw, _) = Raw::connect(server.addr()).await;
    let mut junk = Vec::new();
    for _ in 0..10 {
        junk.extend_from_slice(b"BOGUS\r\n");
    }
    raw.send(&junk).await;
    for _ in 0..10 {
        assert!(raw.line().await.starts_with("-ERR unknown command"));
    }
    assert_eq!(raw.line().await, "-ERR too many errors, closing");
    assert!(raw.at_eof().await);
    // Binary garbage without any line ending, then a hang-up.
    let (mut raw, _) = Raw::connect(server.addr()).await;
    raw.send(&[0u8, 0xff, 0x80, 0x1b].repeat(2000)).await;
    drop(raw);
    still_serves(&server).await;
    server.shutdown().await;
}

#[tokio::test]
async fn idle_timeout_closes_silently_without_update() {
    let store = store();
    let mut cfg = config(&store);
    cfg.idle_timeout = Duration::from_millis(300);
    let server = Pop3Server::start(cfg).await.unwrap();
    let (mut raw, _) = Raw::connect(server.addr()).await;
    assert!(raw.login().await.starts_with("+OK"));
    assert!(raw.cmd("DELE 1").await.starts_with("+OK"));
    let mut rest = Vec::new();
    timeout(T, raw.r.read_to_end(&mut rest))
        .await
        .unwrap()
        .unwrap();
    // RFC 1939 §3: close "without removing any messages or sending any response".
    assert!(rest.is_empty(), "{:?}", String::from_utf8_lossy(&rest));
    assert_eq!(inbox(&store), vec![1, 2]);
    server.shutdown().await;
}

#[tokio::test]
async fn connection_limit_and_shutdown() {
    let store = store();
    let mut cfg = config(&store);
    cfg.max_connections = 1;
    cfg.tls = Some(server_tls());
    cfg.implicit_tls = true;
    cfg.login_timeout = Duration::from_millis(200);
    let server = Pop3Server::start(cfg).await.unwrap();
    // Logged in, the first session keeps its slot for the (long) idle timeout.
    let (mut first, _) = Raw::connect_tls(server.addr()).await;
    assert!(first.login().await.starts_with("+OK"));
    // The second waits for a slot (the login timeout plus a little), then is refused with
    // POP3's own answer, after the handshake: the client reads it, not a TLS error.
    let (mut second, greeting) = Raw::connect_tls(server.addr()).await;
    assert_eq!(greeting, "-ERR [SYS/TEMP] too many connections, try later");
    assert!(second.at_eof().await);
    assert!(first.cmd("DELE 1").await.starts_with("+OK"));
    timeout(T, server.shutdown()).await.unwrap();
    assert_eq!(first.line().await, "-ERR [SYS/TEMP] server shutting down");
    assert!(first.at_eof().await);
    assert_eq!(inbox(&store), vec![1, 2], "shutdown is not QUIT");
}
