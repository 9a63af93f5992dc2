//! One POP3 connection: greeting, command dispatch, STLS, and the RFC 1939 states as a closed
//! enum. A command handler takes the state by value and returns the next one, so a TRANSACTION
//! command cannot run without a maildrop. The session loop, the reads and the TLS upgrade are
//! the line core's (`line::serve`, `line::Link`).

use std::collections::BTreeSet;
use std::net::SocketAddr;
use std::sync::Arc;

use super::Shared;
use super::command::{self, Command};
use crate::line::{Accepted, End, Flow, Line, Link, Opening, Protocol, open_and_serve};
use crate::mailstore::{INBOX, StoreError, StoredMessage};

/// RFC 1939 §3 session states (UPDATE is the QUIT handler of [`Maildrop`]).
enum State {
    /// Before login, with the name from USER if one came (RFC 1939 §7).
    Authorization { user: Option<String> },
    /// After login (RFC 1939 §5).
    Transaction(Maildrop),
}

/// The maildrop a session holds: the INBOX as it was at login, and the messages marked for
/// deletion. Message numbers are positions in `messages`, from 1 (RFC 1939 §5).
struct Maildrop {
    user: String,
    uidvalidity: u32,
    messages: Vec<StoredMessage>,
    /// Indexes into `messages` marked by DELE; only QUIT makes them real (RFC 1939 §6).
    deleted: BTreeSet<usize>,
    _lock: MaildropLock,
}

/// Exclusive access to one user's maildrop on this server (RFC 1939 §8), released on drop, so
/// a dropped connection frees it too.
struct MaildropLock {
    shared: Arc<Shared>,
    user: String,
}

impl MaildropLock {
    fn take(shared: &Arc<Shared>, user: &str) -> Option<MaildropLock> {
        let mut locked = shared.locked.lock().unwrap_or_else(|p| p.into_inner());
        locked.insert(user.to_owned()).then(|| MaildropLock {
            shared: Arc::clone(shared),
            user: user.to_owned(),
        })
    }
}

impl Drop for MaildropLock {
    fn drop(&mut self) {
        let mut locked = self.shared.locked.lock().unwrap_or_else(|p| p.into_inner());
        locked.remove(&self.user);
    }
}

struct Session {
    shared: Arc<Shared>,
    link: Link,
    peer: SocketAddr,
    state: State,
}

/// Serves one accepted connection to the end.
pub(crate) async fn run(shared: Arc<Shared>, accepted: Accepted) {
    let peer = accepted.peer;
    let cfg = &shared.config;
    let opening = Opening::new(
        &shared.transcript,
        cfg.tls.as_ref(),
        cfg.implicit_tls,
        cfg.idle_timeout,
    );
    open_and_serve(accepted, opening, |link| Session {
        shared,
        link,
        peer,
        state: State::Authorization { user: None },
    })
    .await;
}

impl Protocol for Session {
    type Input = Line;

    fn link(&mut self) -> &mut Link {
        &mut self.link
    }

    fn greet(&mut self) {
        self.ok("acmeproof POP3 ready");
    }

    /// A command line with the idle timeout: before login the shorter login timeout, which
    /// bounds how long idle connections can hold the slots of the connection cap.
    async fn read(&mut self) -> Result<Line, End> {
        let cfg = &self.shared.config;
        let idle = match self.state {
            State::Authorization { .. } => cfg.login_timeout.min(cfg.idle_timeout),
            State::Transaction(_) => cfg.idle_timeout,
        };
        self.link.read_line(command::READ_LINE_MAX, idle).await
    }

    async fn handle(&mut self, line: Line) -> Flow {
        match line {
            Line::Full(bytes) => self.command(&bytes),
            Line::TooLong { .. } => {
                self.link.record_in("<overlong command line dropped>");
                // RFC 2449 §4: 255 octets per command line; answer and go on.
                self.err("line too long (limit 255 octets)");
                Flow::Continue
            }
        }
    }

    fn on_timeout(&mut self) {
        // RFC 1939 §3: the autologout timer closes "without removing any messages or sending
        // any response to the client".
        tracing::debug!(peer = %self.peer, "POP3 idle timeout");
    }

    fn on_shutdown(&mut self) {
        self.err("[SYS/TEMP] server shutting down");
    }

    fn on_too_many_errors(&mut self) {
        self.err("too many errors, closing");
    }

    fn tls_started(&mut self) {
        // RFC 2595 §4: the session starts over in AUTHORIZATION state (no USER remembered).
        self.state = State::Authorization { user: None };
    }
}

impl Session {
    fn ok(&mut self, text: &str) {
        self.link.reset_bad();
        self.link.send_line(&format!("+OK {text}"));
    }

    fn err(&mut self, text: &str) {
        self.link.count_bad();
        self.link.send_line(&format!("-ERR {text}"));
    }

    /// `+OK` first line, then `lines` (dot-stuffed), then `.` (RFC 1939 §3 multi-line).
    fn multi(&mut self, first: &str, lines: &[String]) {
        self.ok(first);
        for line in lines {
            if line.starts_with('.') {
                self.link.send_line(&format!(".{line}"));
            } else {
                self.link.send_line(line);
            }
        }
        self.link.send_line(".");
    }

    fn command(&mut self, bytes: &[u8]) -> Flow {
        let text = match command::strip_line(bytes) {
            Ok(text) => text,
            Err(e) => {
                let shown = String::from_utf8_lossy(bytes);
                self.link.record_in(shown.trim_end_matches(['\r', '\n']));
                self.err(&e.text());
                return Flow::Continue;
            }
        };
        self.link.record_in(redact(text));
        let cmd = match command::parse(text) {
            Ok(cmd) => cmd,
            Err(e) => {
                self.err(&e.text());
                return Flow::Continue;
            }
        };
        tracing::trace!(conn = self.link.conn_id(), ?cmd, "POP3 command");
        let state = std::mem::replace(&mut self.state, State::Authorization { user: None });
        let (next, flow) = match state {
            State::Authorization { user } => self.authorization(user, cmd),
            State::Transaction(mbox) => self.transaction(mbox, cmd),
        };
        self.state = next;
        flow
    }

    fn capa(&mut self, authorization: bool) {
        let mut lines: Vec<String> = Vec::new();
        if authorization {
            lines.push("USER".into());
            if self.link.offers_tls() {
                lines.push("STLS".into());
            }
        }
        for l in [
            "TOP",
            "UIDL",
            "PIPELINING",
            "RESP-CODES",
            "AUTH-RESP-CODE",
            "UTF8 USER",
            "IMPLEMENTATION acmeproof",
        ] {
            lines.push(l.into());
        }
        if let Ok(extra) = self.shared.capa_extra.read() {
            lines.extend(extra.iter().cloned());
        }
        // draft-ietf-acme-email-tls-04 §3.4: "POP3 server than returns the base64url encoding
        // of this digest as a value of the "ACME" capability in response to CAPA command".
        if let Some(digest) = self.shared.config.acme.visible(self.link.tls()) {
            lines.push(crate::protocol::email_tls::pop3_capability(&digest));
        }
        self.multi("Capability list follows", &lines);
    }

    fn authorization(&mut self, user: Option<String>, cmd: Command) -> (State, Flow) {
        let stay = |user| State::Authorization { user };
        match cmd {
            Command::User(name) => {
                // Say nothing about whether the user exists (RFC 1939 §13).
                self.ok("send PASS");
                (stay(Some(name)), Flow::Continue)
            }
            Command::Pass(password) => {
                let Some(name) = user else {
                    self.err("PASS needs USER first");
                    return (stay(None), Flow::Continue);
                };
                match self.login(&name, &password) {
                    Ok(mbox) => (State::Transaction(mbox), Flow::Continue),
                    Err(text) => {
                        self.err(&text);
                        (stay(None), Flow::Continue)
                    }
                }
            }
            Command::Capa => {
                self.capa(true);
                (stay(user), Flow::Continue)
            }
            Command::Stls => {
                let flow = self.stls();
                (stay(None), flow)
            }
            Command::Utf8 => {
                // RFC 6856 §2: allowed in AUTHORIZATION; USER/PASS then take UTF-8 (they
                // always do here), and messages are served as stored (never downgraded).
                self.ok("UTF8 enabled");
                (stay(user), Flow::Continue)
            }
            Command::Quit => {
                let text = format!("{} POP3 server signing off", self.shared.config.hostname);
                self.ok(&text);
                (stay(None), Flow::Close)
            }
            Command::Stat
            | Command::List(_)
            | Command::Retr(_)
            | Command::Dele(_)
            | Command::Noop
            | Command::Rset
            | Command::Top(..)
            | Command::Uidl(_) => {
                self.err("not authenticated: use USER and PASS first");
                (stay(user), Flow::Continue)
            }
        }
    }

    /// Checks the password, locks the maildrop and takes the INBOX snapshot; `Err` is the
    /// `-ERR` text.
    fn login(&mut self, name: &str, password: &str) -> Result<Maildrop, String> {
        let store = &self.shared.config.store;
        // RFC 3206 §4: [AUTH] for a credentials failure.
        let user = store
            .authenticate(name, password)
            .ok_or_else(|| "[AUTH] invalid user name or password".to_owned())?;
        // RFC 2449 §8.1.2: [IN-USE] when the maildrop is locked by another session.
        let lock = MaildropLock::take(&self.shared, &user)
            .ok_or_else(|| "[IN-USE] maildrop already locked".to_owned())?;
        let loaded = store
            .messages(&user, INBOX)
            .and_then(|m| Ok((m, store.mailbox_status(&user, INBOX)?.uidvalidity)));
        let (messages, uidvalidity) = loaded.map_err(|e| {
            tracing::warn!(%user, error = %e, "POP3 cannot open the maildrop");
            // RFC 3206 §4: [SYS/TEMP] for a transient system failure.
            "[SYS/TEMP] cannot open the maildrop".to_owned()
        })?;
        tracing::debug!(%user, tls = self.link.tls(), messages = messages.len(), "POP3 login");
        let mbox = Maildrop {
            user,
            uidvalidity,
            messages,
            deleted: BTreeSet::new(),
            _lock: lock,
        };
        let (n, size) = mbox.stat();
        self.ok(&format!("maildrop has {n} messages ({size} octets)"));
        Ok(mbox)
    }

    fn transaction(&mut self, mut mbox: Maildrop, cmd: Command) -> (State, Flow) {
        match cmd {
            Command::Stat => {
                let (n, size) = mbox.stat();
                self.ok(&format!("{n} {size}"));
            }
            Command::List(None) => {
                let (n, size) = mbox.stat();
                let lines: Vec<String> = mbox
                    .live()
                    .map(|(num, m)| format!("{num} {}", m.size))
                    .collect();
                self.multi(&format!("{n} messages ({size} octets)"), &lines);
            }
            Command::List(Some(num)) => match mbox.get(num) {
                Ok(m) => {
                    let size = m.size;
                    self.ok(&format!("{num} {size}"));
                }
                Err(e) => self.err(&e),
            },
            Command::Uidl(None) => {
                let lines: Vec<String> = mbox
                    .live()
                    .map(|(num, m)| format!("{num} {}", mbox.unique_id(m)))
                    .collect();
                self.multi("unique-id listing follows", &lines);
            }
            Command::Uidl(Some(num)) => match mbox.get(num) {
                Ok(m) => {
                    let id = mbox.unique_id(m);
                    self.ok(&format!("{num} {id}"));
                }
                Err(e) => self.err(&e),
            },
            Command::Retr(num) => self.send_message(&mbox, num, None),
            Command::Top(num, lines) => self.send_message(&mbox, num, Some(lines)),
            Command::Dele(num) => match mbox.get(num) {
                Ok(_) => {
                    mbox.deleted.insert(num as usize - 1);
                    self.ok(&format!("message {num} deleted"));
                }
                Err(e) => self.err(&e),
            },
            Command::Noop => self.ok(""),
            Command::Rset => {
                // RFC 1939 §5 RSET: unmark every message marked as deleted.
                mbox.deleted.clear();
                let (n, size) = mbox.stat();
                self.ok(&format!("maildrop has {n} messages ({size} octets)"));
            }
            Command::Capa => self.capa(false),
            Command::Quit => {
                self.update(&mbox);
                return (State::Transaction(mbox), Flow::Close);
            }
            Command::User(_) | Command::Pass(_) | Command::Stls | Command::Utf8 => {
                self.err("command not valid in TRANSACTION state");
            }
        }
        (State::Transaction(mbox), Flow::Continue)
    }

    /// RETR (all of it) or TOP (headers, the blank line, `body_lines` body lines), dot-stuffed
    /// and terminated by `.` (RFC 1939 §3, §7 TOP).
    fn send_message(&mut self, mbox: &Maildrop, num: u32, body_lines: Option<u32>) {
        let m = match mbox.get(num) {
            Ok(m) => m,
            Err(e) => {
                self.err(&e);
                return;
            }
        };
        let mut out = Vec::with_capacity(m.size + m.size / 32 + 8);
        stuff(&m.raw, body_lines, &mut out);
        let size = m.size;
        match body_lines {
            None => self.ok(&format!("{size} octets")),
            Some(_) => self.ok("top of message follows"),
        }
        let shown = format!("<{} octets of message {num}>", out.len());
        self.link.send_raw(&shown, out);
        self.link.send_line(".");
    }

    /// RFC 1939 §6 UPDATE: the marked messages are flagged `\Deleted` and the INBOX expunged.
    fn update(&mut self, mbox: &Maildrop) {
        let store = &self.shared.config.store;
        let mut failed = 0usize;
        for &i in &mbox.deleted {
            let uid = mbox.messages[i].uid;
            match store.add_flags(&mbox.user, INBOX, uid, &["\\Deleted"]) {
                // Gone already (another protocol expunged it): nothing to do.
                Ok(_) | Err(StoreError::NoSuchMessage(_)) => {}
                Err(e) => {
                    tracing::warn!(user = %mbox.user, uid, error = %e, "POP3 DELE failed");
                    failed += 1;
                }
            }
        }
        let expunged = if mbox.deleted.is_empty() {
            Ok(Vec::new())
        } else {
            store.expunge(&mbox.user, INBOX)
        };
        let host = self.shared.config.hostname.clone();
        match expunged {
            Ok(_) if failed == 0 => {
                let left = mbox.messages.len() - mbox.deleted.len();
                self.ok(&format!(
                    "{host} POP3 server signing off ({left} messages left)"
                ));
            }
            // RFC 1939 §6: "-ERR some deleted messages not removed".
            _ => self.err("[SYS/TEMP] some deleted messages not removed"),
        }
    }

    /// RFC 2595 §4: STLS in AUTHORIZATION state only, once, when offered.
    fn stls(&mut self) -> Flow {
        if self.link.tls() {
            self.err("TLS already active");
            return Flow::Continue;
        }
        if !self.link.has_tls_config() {
            self.err("STLS not offered");
            return Flow::Continue;
        }
        if self.link.pipelined_after_starttls() {
            // STLS command injection (the CVE-2011-0411 class): plaintext pipelined after STLS
            // must never be read as if it came over TLS. Refuse and close.
            self.err("commands pipelined after STLS refused");
            return Flow::Close;
        }
        self.ok("Begin TLS negotiation");
        Flow::StartTls
    }
}

impl Maildrop {
    /// Messages not marked deleted, with their message numbers.
    fn live(&self) -> impl Iterator<Item = (usize, &StoredMessage)> {
        self.messages
            .iter()
            .enumerate()
            .filter(|(i, _)| !self.deleted.contains(i))
            .map(|(i, m)| (i + 1, m))
    }

    /// RFC 1939 §5 STAT: count and octets of the messages not marked deleted.
    fn stat(&self) -> (usize, usize) {
        self.live()
            .fold((0, 0), |(n, size), (_, m)| (n + 1, size + m.size))
    }

    /// RFC 1939 §7 UIDL: stable across sessions and unique in the maildrop, 0x21..0x7E, at
    /// most 70 characters. UIDs are never reused within a UIDVALIDITY (RFC 9051 §2.3.1.1).
    fn unique_id(&self, m: &StoredMessage) -> String {
        format!("{}.{}", self.uidvalidity, m.uid)
    }

    fn get(&self, num: u32) -> Result<&StoredMessage, String> {
        let i = (num as usize).wrapping_sub(1);
        let Some(m) = self.messages.get(i) else {
            return Err(format!("no such message {num}"));
        };
        if self.deleted.contains(&i) {
            return Err(format!("message {num} already deleted"));
        }
        Ok(m)
    }
}

/// Writes `raw` as a multi-line body: every line ends in CRLF and a leading `.` is doubled
/// (RFC 1939 §3). With `body_lines`, only the header, the blank line after it and that many
/// body lines (RFC 1939 §7 TOP).
fn stuff(raw: &[u8], body_lines: Option<u32>, out: &mut Vec<u8>) {
    let mut lines: Vec<&[u8]> = raw.split(|&b| b == b'\n').collect();
    // A final LF leaves an empty piece after it that is not a line.
    if raw.is_empty() || raw.ends_with(b"\n") {
        lines.pop();
    }
    let mut in_header = true;
    let mut sent_body = 0u32;
    for line in lines {
        let line = line.strip_suffix(b"\r").unwrap_or(line);
        if let Some(limit) = body_lines {
            if !in_header {
                if sent_body >= limit {
                    break;
                }
                sent_body += 1;
            } else if line.is_empty() {
                in_header = false;
            }
        }
        if line.first() == Some(&b'.') {
            out.push(b'.');
        }
        out.extend_from_slice(line);
        out.extend_from_slice(b"\r\n");
    }
}

/// PASS lines in the transcript hide the password.
fn redact(text: &str) -> String {
    match text.split_once(' ') {
        Some((verb, _)) if verb.eq_ignore_ascii_case("PASS") => format!("{verb} <redacted>"),
        _ => text.to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn stuffed(raw: &[u8], top: Option<u32>) -> String {
        let mut out = Vec::new();
        stuff(raw, top, &mut out);
        String::from_utf8(out).unwrap()
    }

    #[test]
    fn dot_stuffing_and_line_endings() {
        assert_eq!(
            stuffed(b"A: b\r\n\r\n.one\r\n..two\nthree", None),
            "A: b\r\n\r\n..one\r\n...two\r\nthree\r\n"
        );
        assert_eq!(stuffed(b"", None), "");
        assert_eq!(stuffed(b".\r\n", None), "..\r\n");
    }

    #[test]
    fn top_counts_body_lines_only() {
        let raw = b"A: 1\r\nB: 2\r\n\r\nl1\r\n.l2\r\nl3\r\n";
        assert_eq!(stuffed(raw, Some(0)), "A: 1\r\nB: 2\r\n\r\n");
        assert_eq!(stuffed(raw, Some(2)), "A: 1\r\nB: 2\r\n\r\nl1\r\n..l2\r\n");
        assert_eq!(stuffed(raw, Some(99)), stuffed(raw, None));
        // No blank line: the whole message is header.
        assert_eq!(stuffed(b"A: 1\r\n", Some(0)), "A: 1\r\n");
    }

    #[test]
    fn redacts_pass() {
        assert_eq!(redact("PASS hunter2 x"), "PASS <redacted>");
        assert_eq!(redact("pass x"), "pass <redacted>");
        assert_eq!(redact("USER alice"), "USER alice");
    }
}
