//! `mocks::imap` end to end: a raw-socket client for every command, bad input, TLS, and curl.
//! Python's imaplib runs against `acmeproof serve` instead (harness `peers_mailbox`), where it
//! also checks the served certificate and sees a real delivery wake IDLE.

use crate::tools::{run, temp_dir};
use std::net::SocketAddr;
use std::sync::{Arc, OnceLock};
use std::time::Duration;

use acmeproof_mocks::ca::pki::Pki;
use acmeproof_mocks::clock::Clock;
use acmeproof_mocks::imap::{Direction, ImapConfig, ImapServer};
use acmeproof_mocks::mailstore::MailStore;
use acmeproof_mocks::seed::Seed;
use rustls_pki_types::ServerName;
use time::OffsetDateTime;
use tokio::io::{AsyncBufReadExt, AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt, BufReader};
use tokio::net::TcpStream;
use tokio::time::timeout;

pub(crate) const T: Duration = Duration::from_secs(10);
pub(crate) const ALICE: &str = "alice@example.test";
const EAI: &str = "δοκιμή@παράδειγμα.δοκιμή";

// ---------------------------------------------------------------- fixtures

pub(crate) fn pki() -> &'static Pki {
    static PKI: OnceLock<Pki> = OnceLock::new();
    PKI.get_or_init(|| Pki::generate(Seed(143), &Clock::system(), "IMAP Test").unwrap())
}

pub(crate) fn server_tls() -> Arc<rustls::ServerConfig> {
    pki()
        .tls_server_config_with_alpn(&["imap.example.test", "localhost", "127.0.0.1"], &[])
        .unwrap()
}

pub(crate) const MSG1: &str = "From: ACME CA <ca@ca.example.test>\r\nTo: alice@example.test\r\nSubject: ACME: tok1\r\nAuto-Submitted: auto-generated; type=acme\r\nMessage-ID: <m1@ca.example.test>\r\nDate: Mon, 1 Jan 2024 00:00:00 +0000\r\n\r\nchallenge body\r\n";
const MSG2: &str = "From: Bob <bob@b.example.test>\r\nTo: alice@example.test\r\nSubject: hello\r\n\r\nhi alice\r\n";
const MSG3: &str =
    "From: carol@c.example.test\r\nTo: alice@example.test\r\nSubject: acme later\r\n\r\nlater\r\n";
const EAI_MSG: &str = "From: θέμα <θέμα@example.test>\r\nTo: δοκιμή@παράδειγμα.δοκιμή\r\nSubject: γεια ACME\r\n\r\nσώμα\r\n";

pub(crate) fn store() -> MailStore {
    let s = MailStore::new();
    s.add_user(ALICE, "pw").unwrap();
    s.add_user(EAI, "πάσο").unwrap();
    let at = OffsetDateTime::UNIX_EPOCH;
    for m in [MSG1, MSG2, MSG3] {
        s.deliver(ALICE, m.as_bytes(), at).unwrap();
    }
    s.deliver(EAI, EAI_MSG.as_bytes(), at).unwrap();
    s.create_mailbox(ALICE, "Archive").unwrap();
    s
}

pub(crate) fn config(store: &MailStore) -> ImapConfig {
    let mut c = ImapConfig::new("imap.example.test", store.clone(), Clock::system());
    c.idle_timeout = T;
    c
}

pub(crate) async fn start() -> (ImapServer, MailStore) {
    let s = store();
    let mut c = config(&s);
    c.tls = Some(server_tls());
    (ImapServer::start(c).await.unwrap(), s)
}

pub(crate) trait Stream: AsyncRead + AsyncWrite + Unpin + Send {}
impl<T: AsyncRead + AsyncWrite + Unpin + Send> Stream for T {}

/// A raw client: tagged commands, responses collected up to the tagged line; literals in
/// responses are read by their length and inlined.
pub(crate) struct Client {
    s: BufReader<Box<dyn Stream>>,
    n: u32,
}

impl Client {
    pub(crate) async fn connect(addr: SocketAddr) -> (Client, String) {
        let tcp = TcpStream::connect(addr).await.unwrap();
        let mut c = Client {
            s: BufReader::new(Box::new(tcp)),
            n: 0,
        };
        let greeting = c.response().await.unwrap();
        (c, greeting)
    }

    pub(crate) async fn connect_tls(addr: SocketAddr) -> (Client, String) {
        let tcp = TcpStream::connect(addr).await.unwrap();
        let tls = tls_connect(Box::new(tcp)).await;
        let mut c = Client {
            s: BufReader::new(tls),
            n: 0,
        };
        let greeting = c.response().await.unwrap();
        (c, greeting)
    }

    /// STARTTLS, then the handshake on the same connection.
    pub(crate) async fn starttls(self) -> (Client, Vec<String>) {
        let mut c = self;
        let r = c.cmd("STARTTLS").await;
        assert!(tagged(&r).contains(" OK "), "{r:?}");
        let inner = c.s.into_inner();
        let tls = tls_connect(inner).await;
        (
            Client {
                s: BufReader::new(tls),
                n: c.n,
            },
            r,
        )
    }

    pub(crate) async fn send(&mut self, bytes: &[u8]) {
        self.s.get_mut().write_all(bytes).await.unwrap();
        self.s.get_mut().flush().await.unwrap();
    }

    /// One response (a line plus the literals it announces); `None` at EOF.
    pub(crate) async fn response(&mut self) -> Option<String> {
        let mut out = String::new();
        loop {
            let mut line = Vec::new();
            let n = timeout(T, self.s.read_until(b'\n', &mut line))
                .await
                .expect("response in time")
                .ok()?;
            if n == 0 {
                return None;
            }
            let text = String::from_utf8_lossy(&line).into_owned();
            let body = text.trim_end_matches(['\r', '\n']);
            out.push_str(body);
            let lit = body
                .strip_suffix('}')
                .and_then(|b| b.rsplit_once('{'))
                .and_then(|(_, d)| d.parse::<usize>().ok());
            match lit {
                Some(len) => {
                    let mut buf = vec![0; len];
                    timeout(T, self.s.read_exact(&mut buf))
                        .await
                        .unwrap()
                        .ok()?;
                    out.push_str("\r\n");
                    out.push_str(&String::from_utf8_lossy(&buf));
                }
                None => return Some(out),
            }
        }
    }

    pub(crate) fn next_tag(&mut self) -> String {
        self.n += 1;
        format!("a{}", self.n)
    }

    /// Sends `tag command` and collects the responses up to the tagged one.
    pub(crate) async fn cmd(&mut self, command: &str) -> Vec<String> {
        let tag = self.next_tag();
        self.send(format!("{tag} {command}\r\n").as_bytes()).await;
        self.until_tagged(&tag).await
    }

    pub(crate) async fn until_tagged(&mut self, tag: &str) -> Vec<String> {
        let mut out = Vec::new();
        loop {
            let r = self.response().await.expect("connection open");
            let done = r.starts_with(&format!("{tag} "));
            out.push(r);
            if done {
                return out;
            }
        }
    }

    pub(crate) async fn login(&mut self) {
        let r = self.cmd("LOGIN alice@example.test pw").await;
        assert!(tagged(&r).contains(" OK "), "{r:?}");
    }

    pub(crate) async fn at_eof(&mut self) -> bool {
        loop {
            match self.response().await {
                None => return true,
                Some(l) if l.starts_with("* BYE") => continue,
                Some(_) => return false,
            }
        }
    }
}

pub(crate) async fn tls_connect(inner: Box<dyn Stream>) -> Box<dyn Stream> {
    let connector = tokio_rustls::TlsConnector::from(pki().client_config());
    let name = ServerName::try_from("imap.example.test".to_owned()).unwrap();
    Box::new(
        timeout(T, connector.connect(name, inner))
            .await
            .unwrap()
            .unwrap(),
    )
}

pub(crate) fn tagged(r: &[String]) -> &str {
    r.last().map(String::as_str).unwrap_or("")
}

pub(crate) fn has(r: &[String], want: &str) -> bool {
    r.iter().any(|l| l.contains(want))
}

/// Another client is served normally.
pub(crate) async fn still_serves(server: &ImapServer) {
    let (mut c, _) = Client::connect(server.addr()).await;
    c.login().await;
    let r = c.cmd("SELECT INBOX").await;
    assert!(tagged(&r).contains("OK [READ-WRITE]"), "{r:?}");
    c.cmd("LOGOUT").await;
}

// ---------------------------------------------------------------- happy paths

#[tokio::test]
async fn greeting_capability_login_list_status() {
    let (server, _store) = start().await;
    let (mut c, greeting) = Client::connect(server.addr()).await;
    assert!(
        greeting.starts_with("* OK [CAPABILITY IMAP4rev1 "),
        "{greeting}"
    );
    assert!(greeting.contains("STARTTLS") && greeting.contains("AUTH=PLAIN"));
    let r = c.cmd("CAPABILITY").await;
    assert!(has(&r, "* CAPABILITY IMAP4rev1") && has(&r, "IDLE") && has(&r, "LITERAL+"));
    let r = c.cmd("LOGIN alice@example.test wrong").await;
    assert!(tagged(&r).contains("NO [AUTHENTICATIONFAILED]"), "{r:?}");
    c.login().await;
    let r = c.cmd("LIST \"\" \"*\"").await;
    assert!(has(&r, "* LIST (\\HasNoChildren) \"/\" INBOX"), "{r:?}");
    assert!(has(&r, "* LIST (\\HasNoChildren) \"/\" Archive"), "{r:?}");
    let r = c.cmd("LIST \"\" \"%\"").await;
    assert_eq!(r.len(), 3, "{r:?}");
    let r = c.cmd("LIST \"\" \"\"").await;
    assert!(has(&r, "(\\Noselect) \"/\" \"\""), "{r:?}");
    let r = c
        .cmd("STATUS INBOX (MESSAGES RECENT UIDNEXT UIDVALIDITY UNSEEN)")
        .await;
    assert!(
        has(
            &r,
            "* STATUS INBOX (MESSAGES 3 RECENT 3 UIDNEXT 4 UIDVALIDITY 1 UNSEEN 3)"
        ),
        "{r:?}"
    );
    let r = c.cmd("STATUS Nowhere (MESSAGES)").await;
    assert!(tagged(&r).contains("NO"), "{r:?}");
    let r = c.cmd("LOGOUT").await;
    assert!(has(&r, "* BYE") && tagged(&r).contains("OK"));
    let t = server.transcript();
    assert!(
        t.iter()
            .any(|l| l.direction == Direction::ClientToServer && l.line == "a3 LOGIN <redacted>")
    );
    assert!(!t.iter().any(|l| l.line.contains("wrong")));
    server.shutdown().await;
}

#[tokio::test]
async fn select_examine_fetch_and_seen() {
    let (server, store) = start().await;
    let (mut c, _) = Client::connect(server.addr()).await;
    c.login().await;
    let r = c.cmd("EXAMINE INBOX").await;
    assert!(tagged(&r).contains("[READ-ONLY]"), "{r:?}");
    assert!(has(&r, "* 3 RECENT"), "EXAMINE does not take \\Recent");
    let r = c.cmd("FETCH 1 BODY[]").await;
    assert!(!has(&r, "\\Seen"), "read-only: no \\Seen: {r:?}");
    let r = c.cmd("SELECT inbox").await;
    for want in [
        "* FLAGS (\\Answered \\Flagged \\Deleted \\Seen \\Draft)",
        "* 3 EXISTS",
        "* 3 RECENT",
        "* OK [UNSEEN 1]",
        "* OK [UIDVALIDITY 1]",
        "* OK [UIDNEXT 4]",
        "* OK [PERMANENTFLAGS (",
    ] {
        assert!(has(&r, want), "{want}: {r:?}");
    }
    assert!(tagged(&r).contains("OK [READ-WRITE]"));

    let r = c.cmd("FETCH 1:* (UID FLAGS RFC822.SIZE)").await;
    assert!(
        has(
            &r,
            &format!(
                "* 1 FETCH (UID 1 FLAGS (\\Recent) RFC822.SIZE {})",
                MSG1.len()
            )
        ),
        "{r:?}"
    );
    assert_eq!(r.len(), 4);
    // PEEK leaves \Seen alone.
    let r = c.cmd("FETCH 1 (BODY.PEEK[HEADER.FIELDS (SUBJECT)])").await;
    assert!(
        has(
            &r,
            "* 1 FETCH (BODY[HEADER.FIELDS (SUBJECT)] {23}\r\nSubject: ACME: tok1\r\n\r\n)"
        ),
        "{r:?}"
    );
    assert!(!store.message(ALICE, "INBOX", 1).unwrap().has_flag("\\Seen"));
    // A non-PEEK fetch sets \Seen and reports FLAGS.
    let r = c.cmd("FETCH 1 BODY[TEXT]").await;
    assert!(has(&r, "BODY[TEXT] {16}\r\nchallenge body\r\n"), "{r:?}");
    assert!(has(&r, "FLAGS (\\Seen \\Recent)"), "{r:?}");
    assert!(store.message(ALICE, "INBOX", 1).unwrap().has_flag("\\Seen"));
    let r = c
        .cmd("FETCH 2 (BODY[HEADER] BODY.PEEK[]<0.4> RFC822.HEADER)")
        .await;
    assert!(has(&r, "BODY[]<0> {4}\r\nFrom"), "{r:?}");
    assert!(has(&r, "BODY[HEADER] {"));
    let r = c.cmd("FETCH 2 (RFC822.TEXT INTERNALDATE)").await;
    assert!(
        has(&r, "INTERNALDATE \"01-Jan-1970 00:00:00 +0000\""),
        "{r:?}"
    );
    assert!(has(&r, "RFC822.TEXT {10}\r\nhi alice\r\n"), "{r:?}");
    let r = c.cmd("FETCH 3 RFC822").await;
    assert!(
        has(&r, "RFC822 {") && has(&r, "Subject: acme later"),
        "{r:?}"
    );
    // UID FETCH answers with UIDs and includes UID.
    let r = c.cmd("UID FETCH 2:* FLAGS").await;
    assert!(has(&r, "* 2 FETCH (UID 2 FLAGS"), "{r:?}");
    assert!(has(&r, "* 3 FETCH (UID 3 FLAGS"), "{r:?}");
    let r = c.cmd("FETCH 1 ENVELOPE").await;
    assert!(
        has(
            &r,
            "ENVELOPE (\"Mon, 1 Jan 2024 00:00:00 +0000\" \"ACME: tok1\" ((\"ACME CA\" NIL \"ca\" \"ca.example.test\"))"
        ),
        "{r:?}"
    );
    assert!(has(&r, "\"<m1@ca.example.test>\")"), "{r:?}");
    for m in ["ALL", "FAST", "FULL", "BODYSTRUCTURE"] {
        let r = c.cmd(&format!("FETCH 2 {m}")).await;
        assert!(tagged(&r).contains("OK"), "{m}: {r:?}");
    }
    let r = c.cmd("FETCH 2 BODYSTRUCTURE").await;
    assert!(has(&r, "BODYSTRUCTURE (\"TEXT\" \"PLAIN\""), "{r:?}");
    let r = c.cmd("FETCH 9 FLAGS").await;
    assert!(tagged(&r).contains("BAD"), "{r:?}");
    let r = c.cmd("UID FETCH 9 FLAGS").await;
    assert_eq!(r.len(), 1, "no such UID: nothing, OK: {r:?}");
    let r = c.cmd("SELECT Nowhere").await;
    assert!(tagged(&r).contains("NO [NONEXISTENT]"));
    let r = c.cmd("FETCH 1 FLAGS").await;
    assert!(tagged(&r).contains("BAD"), "failed SELECT deselects: {r:?}");
    server.shutdown().await;
}

#[tokio::test]
async fn search_combinations() {
    let (server, store) = start().await;
    store.add_flags(ALICE, "INBOX", 2, &["\\Seen"]).unwrap();
    let (mut c, _) = Client::connect(server.addr()).await;
    c.login().await;
    c.cmd("SELECT INBOX").await;
    for (q, want) in [
        ("ALL", "* SEARCH 1 2 3"),
        ("UNSEEN SUBJECT \"ACME\"", "* SEARCH 1 3"),
        ("OR FROM bob FROM carol", "* SEARCH 2 3"),
        ("NOT SEEN", "* SEARCH 1 3"),
        ("SEEN", "* SEARCH 2"),
        ("HEADER Auto-Submitted acme", "* SEARCH 1"),
        ("CHARSET UTF-8 (OR 1 3) NOT SUBJECT later", "* SEARCH 1"),
        ("TO alice FROM \"ACME CA\"", "* SEARCH 1"),
        ("UID 2:*", "* SEARCH 2 3"),
        ("SUBJECT nothing", "* SEARCH"),
    ] {
        let r = c.cmd(&format!("SEARCH {q}")).await;
        assert_eq!(r[0], want, "{q}: {r:?}");
        assert!(tagged(&r).contains("OK"));
    }
    store
        .deliver(ALICE, MSG1.as_bytes(), OffsetDateTime::UNIX_EPOCH)
        .unwrap();
    let r = c.cmd("UID SEARCH SUBJECT tok1").await;
    assert!(has(&r, "* 4 EXISTS"), "{r:?}");
    assert!(has(&r, "* SEARCH 1 4"), "{r:?}");
    server.shutdown().await;
}

/// Each message's header is parsed once and kept with it (only flags ever change): answers
/// that depend on flags, on which messages remain, and on new arrivals stay right after the
/// headers are cached.
#[tokio::test]
async fn header_cache_answers_stay_right_after_flags_expunge_and_deliveries() {
    let (server, store) = start().await;
    let (mut c, _) = Client::connect(server.addr()).await;
    c.login().await;
    c.cmd("SELECT INBOX").await;
    let fields = "BODY.PEEK[HEADER.FIELDS (SUBJECT FROM)]";
    // Fill the caches of all three.
    let r = c.cmd("UID SEARCH SUBJECT acme").await;
    assert_eq!(r[0], "* SEARCH 1 3", "{r:?}");
    let r = c.cmd(&format!("UID FETCH 1:* ({fields})")).await;
    assert!(r[0].contains("Subject: ACME: tok1"), "{r:?}");
    // Flags change: header keys still match, flag keys see the new flags.
    c.cmd("STORE 1 +FLAGS.SILENT (\\Seen)").await;
    let r = c.cmd("UID SEARCH UNSEEN SUBJECT acme").await;
    assert_eq!(r[0], "* SEARCH 3", "{r:?}");
    let r = c.cmd("UID SEARCH SEEN FROM \"ACME CA\"").await;
    assert_eq!(r[0], "* SEARCH 1", "{r:?}");
    // Expunge: the gone message is not found, sequence numbers shift.
    c.cmd("UID STORE 1 +FLAGS.SILENT (\\Deleted)").await;
    let r = c.cmd("EXPUNGE").await;
    assert_eq!(r[0], "* 1 EXPUNGE", "{r:?}");
    let r = c.cmd("UID SEARCH SUBJECT acme").await;
    assert_eq!(r[0], "* SEARCH 3", "{r:?}");
    let r = c.cmd("SEARCH SUBJECT acme").await;
    assert_eq!(r[0], "* SEARCH 2", "{r:?}");
    // New deliveries: the same bytes again (UID 4) and new ones (UID 5), each with its own
    // header; UIDs are never reused, so no answer comes from an expunged message's cache.
    let at = OffsetDateTime::UNIX_EPOCH;
    store.deliver(ALICE, MSG1.as_bytes(), at).unwrap();
    let dave = "From: Dave <dave@d.example.test>\r\nSubject: ACME: tok5\r\n\r\nx\r\n";
    store.deliver(ALICE, dave.as_bytes(), at).unwrap();
    let r = c.cmd("UID SEARCH SUBJECT acme").await;
    assert!(has(&r, "* 4 EXISTS"), "{r:?}");
    assert!(has(&r, "* SEARCH 3 4 5"), "{r:?}");
    let r = c.cmd("UID SEARCH UNSEEN FROM dave").await;
    assert_eq!(r[0], "* SEARCH 5", "{r:?}");
    let r = c.cmd("UID SEARCH SUBJECT tok1").await;
    assert_eq!(r[0], "* SEARCH 4", "{r:?}");
    let r = c.cmd(&format!("UID FETCH 5 ({fields} RFC822.SIZE)")).await;
    assert!(
        r[0].contains("From: Dave <dave@d.example.test>\r\nSubject: ACME: tok5\r\n\r\n"),
        "{r:?}"
    );
    assert!(
        r[0].contains(&format!("RFC822.SIZE {}", dave.len())),
        "{r:?}"
    );
    // Flags cleared again: the cached header is unaffected.
    c.cmd("UID STORE 5 +FLAGS.SILENT (\\Seen)").await;
    let r = c.cmd("UID SEARCH UNSEEN SUBJECT acme").await;
    assert_eq!(r[0], "* SEARCH 3 4", "{r:?}");
    c.cmd("UID STORE 5 -FLAGS.SILENT (\\Seen)").await;
    let r = c.cmd("UID SEARCH UNSEEN SUBJECT acme").await;
    assert_eq!(r[0], "* SEARCH 3 4 5", "{r:?}");
    server.shutdown().await;
}

#[tokio::test]
async fn store_expunge_close_unselect() {
    let (server, store) = start().await;
    let (mut c, _) = Client::connect(server.addr()).await;
    c.login().await;
    c.cmd("SELECT INBOX").await;
    let r = c.cmd("STORE 1 +FLAGS (\\Flagged foo)").await;
    assert!(
        has(&r, "* 1 FETCH (FLAGS (\\Flagged foo \\Recent))"),
        "{r:?}"
    );
    let r = c.cmd("UID STORE 3 FLAGS.SILENT (\\Seen)").await;
    assert_eq!(r.len(), 1, "{r:?}");
    let r = c.cmd("STORE 1 -FLAGS foo").await;
    assert!(has(&r, "FLAGS (\\Flagged \\Recent)"), "{r:?}");
    let r = c.cmd("STORE 1 FLAGS (\\Recent)").await;
    assert!(tagged(&r).contains("NO"), "{r:?}");
    // Delete 1 and 2 of 3: EXPUNGE reports 2 then 1 (each number valid as sent).
    c.cmd("STORE 1:2 +FLAGS.SILENT (\\Deleted)").await;
    let r = c.cmd("EXPUNGE").await;
    assert_eq!(&r[..2], ["* 2 EXPUNGE", "* 1 EXPUNGE"], "{r:?}");
    let r = c.cmd("FETCH 1 UID").await;
    assert!(has(&r, "* 1 FETCH (UID 3)"), "{r:?}");
    assert_eq!(store.messages(ALICE, "INBOX").unwrap().len(), 1);
    c.cmd("STORE 1 +FLAGS (\\Deleted)").await;
    let r = c.cmd("UNSELECT").await;
    assert!(tagged(&r).contains("OK"));
    assert_eq!(
        store.messages(ALICE, "INBOX").unwrap().len(),
        1,
        "UNSELECT keeps"
    );
    c.cmd("EXAMINE INBOX").await;
    let r = c.cmd("EXPUNGE").await;
    assert!(tagged(&r).contains("NO [READ-ONLY]"));
    let r = c.cmd("CLOSE").await;
    assert!(tagged(&r).contains("OK"));
    assert_eq!(
        store.messages(ALICE, "INBOX").unwrap().len(),
        1,
        "read-only CLOSE keeps"
    );
    c.cmd("SELECT INBOX").await;
    c.cmd("CLOSE").await;
    assert_eq!(
        store.messages(ALICE, "INBOX").unwrap().len(),
        0,
        "CLOSE expunges"
    );
    server.shutdown().await;
}

#[tokio::test]
async fn idle_woken_by_delivery_and_noop_reports_exists() {
    let (server, store) = start().await;
    let (mut c, _) = Client::connect(server.addr()).await;
    c.login().await;
    c.cmd("SELECT INBOX").await;
    store
        .deliver(ALICE, MSG2.as_bytes(), OffsetDateTime::UNIX_EPOCH)
        .unwrap();
    let r = c.cmd("NOOP").await;
    assert!(has(&r, "* 4 EXISTS") && has(&r, "* 4 RECENT"), "{r:?}");
    c.send(b"i1 IDLE\r\n").await;
    assert_eq!(c.response().await.unwrap(), "+ idling");
    // Another user's mail does not wake us; ours does.
    store
        .deliver(EAI, MSG2.as_bytes(), OffsetDateTime::UNIX_EPOCH)
        .unwrap();
    store
        .deliver(ALICE, MSG3.as_bytes(), OffsetDateTime::UNIX_EPOCH)
        .unwrap();
    assert_eq!(c.response().await.unwrap(), "* 5 EXISTS");
    assert_eq!(c.response().await.unwrap(), "* 5 RECENT");
    // An expunge by another session shows as EXPUNGE while idling.
    store.add_flags(ALICE, "INBOX", 1, &["\\Deleted"]).unwrap();
    store.expunge(ALICE, "INBOX").unwrap();
    assert_eq!(c.response().await.unwrap(), "* 1 EXPUNGE");
    c.send(b"DONE\r\n").await;
    let r = c.until_tagged("i1").await;
    assert!(tagged(&r).contains("OK"), "{r:?}");
    let r = c.cmd("FETCH 4 UID").await;
    assert!(has(&r, "(UID 5)"), "{r:?}");
    server.shutdown().await;
}

#[tokio::test]
async fn eai_user_envelope_after_enable_utf8() {
    let (server, _store) = start().await;
    let (mut c, _) = Client::connect(server.addr()).await;
    // SASL-IR with the EAI user (UTF-8 inside base64).
    let ir = base64_plain(EAI, "πάσο");
    let r = c.cmd(&format!("AUTHENTICATE PLAIN {ir}")).await;
    assert!(tagged(&r).contains("OK"), "{r:?}");
    let r = c.cmd("FETCH 1 ENVELOPE").await;
    assert!(tagged(&r).contains("BAD"), "not selected yet");
    c.cmd("SELECT INBOX").await;
    // Before ENABLE, RFC 6855 §7: no raw UTF-8 header goes out; the client gets the ASCII
    // surrogate (encoded words; the UTF-8 mailbox as an empty group named after it), whose size
    // and sections agree with each other.
    let r = c
        .cmd("FETCH 1 (ENVELOPE RFC822.SIZE BODY.PEEK[HEADER] BODY.PEEK[TEXT])")
        .await;
    let fetch = &r[0];
    let header_end = fetch.find("\r\n\r\n").expect("a header section");
    assert!(fetch[..header_end].is_ascii(), "{r:?}");
    assert!(
        has(&r, "\"=?utf-8?"),
        "encoded words in the envelope: {r:?}"
    );
    assert!(has(&r, "To: =?utf-8?"), "{r:?}");
    assert!(has(&r, "σώμα"), "the body is not header information: {r:?}");
    let size: usize = fetch
        .split("RFC822.SIZE ")
        .nth(1)
        .and_then(|s| s.split(' ').next())
        .and_then(|n| n.parse().ok())
        .expect("RFC822.SIZE");
    let r = c.cmd("FETCH 1 BODY.PEEK[]").await;
    let (_, whole) = r[0].split_once("}\r\n").expect("a literal");
    assert_eq!(
        whole.len() - 1,
        size,
        "RFC822.SIZE is the surrogate's: {r:?}"
    );
    let r = c.cmd("ENABLE UTF8=ACCEPT").await;
    assert!(has(&r, "* ENABLED UTF8=ACCEPT"), "{r:?}");
    let r = c.cmd("FETCH 1 ENVELOPE").await;
    assert!(
        has(
            &r,
            "(NIL \"γεια ACME\" ((\"θέμα\" NIL \"θέμα\" \"example.test\")) ((\"θέμα\" NIL \"θέμα\" \"example.test\")) ((\"θέμα\" NIL \"θέμα\" \"example.test\")) ((NIL NIL \"δοκιμή\" \"παράδειγμα.δοκιμή\")) NIL NIL NIL NIL)"
        ),
        "{r:?}"
    );
    let r = c.cmd("SEARCH SUBJECT \"ΓΕΙΑ\"").await;
    assert_eq!(r[0], "* SEARCH 1");
    // LOGIN with a quoted UTF-8 user name and the continuation form of AUTHENTICATE.
    let (mut c, _) = Client::connect(server.addr()).await;
    let r = c.cmd(&format!("LOGIN \"{EAI}\" \"πάσο\"")).await;
    assert!(tagged(&r).contains("OK"), "{r:?}");
    let (mut c, _) = Client::connect(server.addr()).await;
    c.send(b"p1 AUTHENTICATE PLAIN\r\n").await;
    assert_eq!(c.response().await.unwrap(), "+ ");
    c.send(format!("{}\r\n", base64_plain(ALICE, "pw")).as_bytes())
        .await;
    let r = c.until_tagged("p1").await;
    assert!(tagged(&r).contains("OK"), "{r:?}");
    let (mut c, _) = Client::connect(server.addr()).await;
    c.send(b"p1 AUTHENTICATE PLAIN\r\n").await;
    c.response().await.unwrap();
    c.send(b"*\r\n").await;
    let r = c.until_tagged("p1").await;
    assert!(tagged(&r).contains("BAD"), "cancelled: {r:?}");
    server.shutdown().await;
}

pub(crate) fn base64_plain(user: &str, pass: &str) -> String {
    use base64::Engine as _;
    base64::engine::general_purpose::STANDARD.encode(format!("\0{user}\0{pass}"))
}

#[tokio::test]
async fn literals_sync_and_non_sync() {
    let (server, _store) = start().await;
    let (mut c, _) = Client::connect(server.addr()).await;
    c.send(b"l1 LOGIN {18}\r\n").await;
    assert!(c.response().await.unwrap().starts_with("+ "));
    c.send(b"alice@example.test {2+}\r\npw\r\n").await;
    let r = c.until_tagged("l1").await;
    assert!(tagged(&r).contains("OK"), "{r:?}");
    server.shutdown().await;
}

// ---------------------------------------------------------------- TLS

#[tokio::test]
async fn starttls_then_login_and_logindisabled() {
    let s = store();
    let mut cfg = config(&s);
    cfg.tls = Some(server_tls());
    cfg.require_tls_for_login = true;
    let server = ImapServer::start(cfg).await.unwrap();
    let (mut c, greeting) = Client::connect(server.addr()).await;
    assert!(greeting.contains("LOGINDISABLED") && !greeting.contains("AUTH=PLAIN"));
    let r = c.cmd("LOGIN alice@example.test pw").await;
    assert!(tagged(&r).contains("NO [PRIVACYREQUIRED]"), "{r:?}");
    let (mut c, _) = c.starttls().await;
    let r = c.cmd("CAPABILITY").await;
    assert!(!has(&r, "STARTTLS") && !has(&r, "LOGINDISABLED") && has(&r, "AUTH=PLAIN"));
    c.login().await;
    let r = c.cmd("SELECT INBOX").await;
    assert!(has(&r, "* 3 EXISTS"));
    let r = c.cmd("STARTTLS").await;
    assert!(tagged(&r).contains("BAD"));
    // Plaintext pipelined behind STARTTLS is refused, never read as TLS.
    let (mut c, _) = Client::connect(server.addr()).await;
    c.send(b"s1 STARTTLS\r\ns2 LOGIN alice@example.test pw\r\n")
        .await;
    let r = c.until_tagged("s1").await;
    assert!(tagged(&r).contains("BAD"), "{r:?}");
    assert!(c.at_eof().await);
    server.shutdown().await;
}

#[tokio::test]
async fn implicit_tls() {
    let s = store();
    let mut cfg = config(&s);
    cfg.tls = Some(server_tls());
    cfg.implicit_tls = true;
    let server = ImapServer::start(cfg).await.unwrap();
    let (mut c, greeting) = Client::connect_tls(server.addr()).await;
    assert!(greeting.starts_with("* OK") && !greeting.contains("STARTTLS"));
    c.login().await;
    let r = c.cmd("EXAMINE INBOX").await;
    assert!(tagged(&r).contains("READ-ONLY"));
    server.shutdown().await;
    let mut cfg = config(&s);
    cfg.implicit_tls = true;
    assert!(ImapServer::start(cfg).await.is_err());
}

// ---------------------------------------------------------------- bad input

#[tokio::test]
async fn bad_input_is_answered_and_the_server_keeps_serving() {
    let (server, _store) = start().await;
    let (mut c, _) = Client::connect(server.addr()).await;
    let r = c.cmd("SELECT INBOX").await;
    assert!(tagged(&r).contains("BAD"), "before login: {r:?}");
    let r = c.cmd("FETCH 1 FLAGS").await;
    assert!(tagged(&r).contains("BAD"), "{r:?}");
    c.login().await;
    let r = c.cmd("FETCH 1 FLAGS").await;
    assert!(tagged(&r).contains("BAD"), "no mailbox selected: {r:?}");
    c.cmd("SELECT INBOX").await;
    let r = c.cmd("SEARCH (SEEN (NOT DELETED)").await;
    assert!(tagged(&r).contains("BAD"), "unbalanced: {r:?}");
    let r = c.cmd("SEARCH SEEN))").await;
    assert!(tagged(&r).contains("BAD"), "{r:?}");
    let r = c.cmd("FETCH 1 (FLAGS").await;
    assert!(tagged(&r).contains("BAD"), "{r:?}");
    let r = c.cmd("LOGIN {abc}").await;
    assert!(tagged(&r).contains("BAD"), "bad literal: {r:?}");
    let r = c.cmd("FROBNICATE").await;
    assert!(tagged(&r).contains("BAD"), "{r:?}");
    c.send(b"\x00\xff\xfe\x80 \x01\r\n").await;
    assert!(c.response().await.unwrap().starts_with("* BAD"));
    // Synchronising literal over the limit: no "+", TOOBIG.
    let r = c.cmd("SEARCH SUBJECT {999999}").await;
    assert!(tagged(&r).contains("BAD [TOOBIG]"), "{r:?}");
    // Non-synchronising literal over the limit: read and dropped, TOOBIG, session goes on.
    let mut big = b"b1 SEARCH SUBJECT {70000+}\r\n".to_vec();
    big.extend(std::iter::repeat_n(b'x', 70000));
    big.extend_from_slice(b"\r\n");
    c.send(&big).await;
    let r = c.until_tagged("b1").await;
    assert!(tagged(&r).contains("BAD [TOOBIG]"), "{r:?}");
    // An overlong line: BAD, session goes on.
    let mut long = b"o1 SEARCH SUBJECT ".to_vec();
    long.extend(std::iter::repeat_n(b'y', 70 * 1024));
    long.extend_from_slice(b"\r\n");
    c.send(&long).await;
    assert!(c.response().await.unwrap().contains("BAD"));
    let r = c.cmd("NOOP").await;
    assert!(tagged(&r).contains("OK"), "session still usable: {r:?}");
    // A huge non-synchronising literal closes the connection.
    c.send(b"h1 SEARCH SUBJECT {99999999+}\r\n").await;
    let r = c.until_tagged("h1").await;
    assert!(tagged(&r).contains("TOOBIG"));
    assert!(c.at_eof().await);

    // Too many bad commands in a row: BYE and close.
    let (mut c, _) = Client::connect(server.addr()).await;
    for _ in 0..9 {
        c.cmd("NONSENSE").await;
    }
    c.send(b"x NONSENSE\r\n").await;
    assert!(c.response().await.unwrap().contains("BAD"));
    assert_eq!(c.response().await.unwrap(), "* BYE too many bad commands");
    assert!(c.at_eof().await);

    // Disconnect in the middle of a literal.
    let (mut c, _) = Client::connect(server.addr()).await;
    c.send(b"d1 LOGIN {100}\r\n").await;
    c.response().await.unwrap();
    c.send(b"only a little").await;
    drop(c);
    let (mut c, _) = Client::connect(server.addr()).await;
    c.send(b"d2 LOGIN {100+}\r\npartial").await;
    drop(c);

    still_serves(&server).await;
    server.shutdown().await;
}

#[tokio::test]
async fn literals_of_doomed_commands_are_refused_before_the_continuation() {
    let (server, _store) = start().await;
    let (mut c, _) = Client::connect(server.addr()).await;
    // RFC 9051 §7.5: BAD instead of "+", so the client sends no more of the command, and
    // the next line is a command again (not the literal of the refused one).
    for (line, want) in [
        ("{5}", "* BAD no tag or unreadable command"),
        ("\u{7f} {5}", "* BAD no tag or unreadable command"),
        ("n1 XAPPEND INBOX {5}", "n1 BAD unknown command XAPPEND"),
        ("n2 UID THREAD 1 {5}", "n2 BAD UID THREAD is not supported"),
        ("n2a APPEND INBOX {5}", "n2a BAD please log in first"),
        ("n3 SELECT {5}", "n3 BAD please log in first"),
        ("n4 SEARCH SUBJECT {5}", "n4 BAD please log in first"),
    ] {
        c.send(format!("{line}\r\n").as_bytes()).await;
        assert_eq!(c.response().await.unwrap(), want, "{line}");
        let r = c.cmd("NOOP").await;
        assert_eq!(r.len(), 1, "{line}: the next line is a command: {r:?}");
        assert!(tagged(&r).contains(" OK "), "{line}: {r:?}");
    }
    // Malformed announcements: BAD, nothing read as a literal.
    for bad in ["{18446744073709551616}", "{-1}", "{}", "{1", "{2}x", "{ 1}"] {
        let r = c.cmd(&format!("LOGIN {bad}")).await;
        assert_eq!(r.len(), 1, "{bad}: {r:?}");
        assert!(tagged(&r).contains(" BAD "), "{bad}: {r:?}");
    }
    // After login, the same SEARCH gets its "+" and works.
    c.login().await;
    c.cmd("SELECT INBOX").await;
    c.send(b"n5 SEARCH SUBJECT {4}\r\n").await;
    assert!(c.response().await.unwrap().starts_with("+ "));
    c.send(b"tok1\r\n").await;
    let r = c.until_tagged("n5").await;
    assert_eq!(r[0], "* SEARCH 1", "{r:?}");
    // Binary garbage without a line ending, then a hang-up.
    let (mut g, _) = Client::connect(server.addr()).await;
    g.send(&[0u8, 0xff, 0x80, 0x1b, b'{'].repeat(2000)).await;
    drop(g);
    still_serves(&server).await;
    let r = c.cmd("NOOP").await;
    assert!(tagged(&r).contains(" OK "), "{r:?}");
    server.shutdown().await;
}

#[tokio::test]
async fn idle_timeout_autologout_and_connection_limit() {
    let s = store();
    let mut cfg = config(&s);
    cfg.idle_timeout = Duration::from_millis(300);
    cfg.max_connections = 1;
    let server = ImapServer::start(cfg).await.unwrap();
    let (mut c, _) = Client::connect(server.addr()).await;
    // The second connection waits for the slot, which the idle first one frees when it is
    // logged out: then the second is greeted.
    let (mut second, greeting) = Client::connect(server.addr()).await;
    assert!(greeting.starts_with("* OK "), "{greeting}");
    assert_eq!(
        c.response().await.unwrap(),
        "* BYE Autologout; idle for too long"
    );
    assert!(c.at_eof().await);
    assert!(second.at_eof().await, "idle in its turn");
    // IDLE is bounded by the same timer.
    let (mut c, _) = Client::connect(server.addr()).await;
    c.login().await;
    c.cmd("SELECT INBOX").await;
    c.send(b"i IDLE\r\n").await;
    assert_eq!(c.response().await.unwrap(), "+ idling");
    assert!(c.response().await.unwrap().starts_with("* BYE Autologout"));
    server.shutdown().await;
}

// ---------------------------------------------------------------- real tools

#[tokio::test]
async fn curl_imap_search_fetch_and_imaps() {
    let Some(curl) = acmeproof_testkit::require_tool("curl") else {
        return;
    };
    let (server, store) = start().await;
    let base = format!("imap://{}/INBOX", server.addr());
    let (ok, out) = run(
        &curl,
        &[
            "-sS",
            "--max-time",
            "20",
            &base,
            "-u",
            "alice@example.test:pw",
            "-X",
            "SEARCH ALL",
        ],
    )
    .await;
    assert!(ok, "{out}");
    assert!(out.contains("* SEARCH 1 2 3"), "{out}");
    let uid1 = format!("{base};UID=1");
    let (ok, out) = run(
        &curl,
        &[
            "-sS",
            "--max-time",
            "20",
            &uid1,
            "-u",
            "alice@example.test:pw",
        ],
    )
    .await;
    assert!(ok, "{out}");
    assert!(
        out.contains("Subject: ACME: tok1") && out.contains("challenge body"),
        "{out}"
    );
    assert!(store.message(ALICE, "INBOX", 1).unwrap().has_flag("\\Seen"));
    server.shutdown().await;

    let s = store;
    let mut cfg = config(&s);
    cfg.tls = Some(server_tls());
    cfg.implicit_tls = true;
    let server = ImapServer::start(cfg).await.unwrap();
    let dir = temp_dir("imap");
    let root = dir.join("root.pem");
    std::fs::write(&root, pki().root_pem()).unwrap();
    let root_s = root.display().to_string();
    let url = format!("imaps://localhost:{}/INBOX;UID=2", server.addr().port());
    let resolve = format!("localhost:{}:127.0.0.1", server.addr().port());
    let (ok, out) = run(
        &curl,
        &[
            "-sS",
            "--max-time",
            "20",
            "--resolve",
            &resolve,
            "--cacert",
            &root_s,
            &url,
            "-u",
            "alice@example.test:pw",
        ],
    )
    .await;
    assert!(ok, "{out}");
    assert!(out.contains("hi alice"), "{out}");
    let _ = std::fs::remove_dir_all(dir);
    server.shutdown().await;
}

/// The driver behind `acmeproof bench imap` checks every answer and counts every round trip: a
/// small run, no timing.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bench_driver_checks_and_counts_every_round_trip() {
    use acmeproof_mocks::imap::bench::{BenchError, bench_search_fetch};
    let r = bench_search_fetch(3, 50, 20).await.unwrap();
    assert_eq!((r.round_trips, r.clients, r.messages), (50, 3, 20));
    assert!(r.p50 <= r.p95 && r.p95 <= r.max, "{r:?}");
    assert!(r.round_trips_per_second > 0.0);
    assert!(matches!(
        bench_search_fetch(0, 10, 10).await,
        Err(BenchError::Params(_))
    ));
}
