//! One connection's state machine: greeting, the command loop, HELO/EHLO/LHLO, STARTTLS and the
//! limits. The mail transaction is in `transaction`, AUTH in `authenticate`; parsing is in
//! `command`, DATA content in `data`, SASL decoding in `auth`.

use std::net::SocketAddr;
use std::sync::Arc;

use tokio::sync::watch;

use super::command::{self, Command};
use super::reply;
use super::{Direction, Role, Shared};
use crate::line::conn;
use crate::line::{BoxStream, Conn, Line};
use crate::mail::{Reply, Session as SessionInfo};

mod authenticate;
mod transaction;

/// Consecutive bad commands before `421 4.7.0` and close (RFC 5321 §4.3.2 lets a server close
/// on abuse; Postfix `smtpd_hard_error_limit` is the same idea).
pub(crate) const MAX_BAD_COMMANDS: u32 = 10;

/// What the main loop does after a command.
enum Flow {
    Continue,
    Close,
    StartTls,
}

/// What a read produced.
enum Read {
    Line(Line),
    /// Peer closed, or the socket failed: nothing more to say.
    Gone,
    Timeout,
    Shutdown,
}

/// How an exchange inside a command (AUTH continuation) ended early.
enum Stop {
    Reply(Reply),
    Close,
}

/// The mail transaction after a successful MAIL.
struct Txn {
    from: String,
    smtputf8: bool,
    body_8bit: bool,
    /// The accepted recipients, each once: a repeated RCPT of the same mailbox is answered
    /// like the first but not stored again, so 100 RCPTs of one address deliver one copy.
    rcpts: Vec<String>,
    /// `rcpts` as mailbox keys (`transaction::mailbox_key`), in the same order.
    keys: Vec<String>,
    /// For each accepted RCPT, in order, its entry in `rcpts` (LMTP answers each RCPT after
    /// DATA, RFC 2033 §4.2, repeats included).
    accepted: Vec<usize>,
}

struct Session {
    shared: Arc<Shared>,
    conn: Conn,
    conn_id: u64,
    peer: SocketAddr,
    stop: watch::Receiver<bool>,
    tls: bool,
    /// The HELO/EHLO/LHLO name and whether it was EHLO/LHLO (extensions allowed).
    helo: Option<(String, bool)>,
    auth_user: Option<String>,
    txn: Option<Txn>,
    bad: u32,
}

/// Serves one accepted connection to the end.
pub(crate) async fn run(
    shared: Arc<Shared>,
    stream: BoxStream,
    peer: SocketAddr,
    conn_id: u64,
    stop: watch::Receiver<bool>,
) {
    let opened = conn::opening_stream(
        shared.config.tls.as_ref(),
        shared.config.implicit_tls,
        stream,
        shared.config.idle_timeout,
    )
    .await;
    let Some((stream, tls)) = opened else {
        tracing::debug!(%peer, "implicit TLS handshake failed");
        return;
    };
    let mut session = Session {
        shared,
        conn: Conn::new(stream),
        conn_id,
        peer,
        stop,
        tls,
        helo: None,
        auth_user: None,
        txn: None,
        bad: 0,
    };
    session.serve().await;
}

impl Session {
    fn lmtp(&self) -> bool {
        self.shared.config.role == Role::Lmtp
    }

    async fn serve(&mut self) {
        let kind = if self.lmtp() { "LMTP" } else { "ESMTP" };
        let greeting = format!("{} {kind} acmeproof", self.shared.config.hostname);
        self.reply(reply::plain(220, greeting));
        loop {
            let flow = match self.read(command::READ_LINE_MAX).await {
                Read::Line(Line::Full(bytes)) => self.command(&bytes).await,
                Read::Line(Line::TooLong { .. }) => {
                    self.record_in("<overlong command line dropped>");
                    // RFC 5321 §4.5.3.1.9: "500 Line too long"; the session goes on.
                    self.reply(Reply::new(500, (5, 5, 6), "line too long"));
                    Flow::Continue
                }
                Read::Gone => return,
                Read::Timeout => self.idle_timeout(),
                Read::Shutdown => self.shutting_down(),
            };
            match flow {
                Flow::Continue => {}
                Flow::Close => break,
                Flow::StartTls => {
                    if !self.start_tls().await {
                        return;
                    }
                    continue;
                }
            }
            if self.bad >= MAX_BAD_COMMANDS {
                self.reply(Reply::new(421, (4, 7, 0), "too many errors, closing"));
                break;
            }
        }
        // A client that stops reading cannot hold the task past the idle timeout.
        let _ = tokio::time::timeout(self.shared.config.idle_timeout, self.conn.close()).await;
    }

    fn idle_timeout(&mut self) -> Flow {
        self.reply(Reply::new(421, (4, 4, 2), "idle timeout, closing"));
        Flow::Close
    }

    fn shutting_down(&mut self) -> Flow {
        self.reply(Reply::new(421, (4, 3, 2), "server shutting down"));
        Flow::Close
    }

    /// Reads a line with the idle timeout, or notices shutdown.
    async fn read(&mut self, max: usize) -> Read {
        let idle = self.shared.config.idle_timeout;
        let conn = &mut self.conn;
        let stop = &mut self.stop;
        tokio::select! {
            read = tokio::time::timeout(idle, conn.read_line(max)) => match read {
                Ok(Ok(Some(line))) => Read::Line(line),
                Ok(Ok(None)) | Ok(Err(_)) => Read::Gone,
                Err(_) => Read::Timeout,
            },
            _ = stop.wait_for(|stopping| *stopping) => Read::Shutdown,
        }
    }

    fn record_in(&self, line: &str) {
        self.shared
            .transcript
            .record(self.conn_id, Direction::ClientToServer, line);
    }

    /// Queues a reply (flushed before the next read) and counts bad commands.
    fn reply(&mut self, r: Reply) {
        let line = reply::line(&r);
        self.send_line(&line);
        if matches!(r.code, 500..=504 | 555) {
            self.bad += 1;
        } else if r.code < 400 {
            self.bad = 0;
        }
    }

    fn send_line(&mut self, line: &str) {
        self.shared
            .transcript
            .record(self.conn_id, Direction::ServerToClient, line);
        self.conn.queue(line.as_bytes());
        self.conn.queue(b"\r\n");
    }

    async fn command(&mut self, bytes: &[u8]) -> Flow {
        let text = match command::strip_line(bytes) {
            Ok(text) => text,
            Err(r) => {
                let shown = String::from_utf8_lossy(bytes);
                let shown: String = shown
                    .trim_end_matches(['\r', '\n'])
                    .chars()
                    .take(512)
                    .collect();
                self.record_in(&shown);
                self.reply(r);
                return Flow::Continue;
            }
        };
        self.record_in(&redact(text));
        if text.len() + 2 > command::line_limit(text) {
            self.reply(Reply::new(500, (5, 5, 6), "line too long"));
            return Flow::Continue;
        }
        let cmd = match command::parse(text) {
            Ok(cmd) => cmd,
            Err(r) => {
                self.reply(r);
                return Flow::Continue;
            }
        };
        match cmd {
            Command::Helo(name) => self.hello(name, false, false),
            Command::Ehlo(name) => self.hello(name, true, false),
            Command::Lhlo(name) => self.hello(name, true, true),
            Command::Mail { path, params } => self.mail(path, params),
            Command::Rcpt { path, params } => self.rcpt(path, params).await,
            Command::Data => return self.data().await,
            Command::Rset => {
                self.txn = None;
                self.reply(Reply::ok("Ok"));
            }
            Command::Noop => self.reply(Reply::ok("Ok")),
            Command::Quit => {
                let text = format!("{} closing connection", self.shared.config.hostname);
                self.reply(Reply::new(221, (2, 0, 0), text));
                return Flow::Close;
            }
            // RFC 5321 §3.5.3: 252 when we will not verify but would accept.
            Command::Vrfy => self.reply(Reply::new(
                252,
                (2, 5, 0),
                "Cannot VRFY user, but will accept message and attempt delivery",
            )),
            Command::Help => self.reply(Reply::new(
                214,
                (2, 0, 0),
                "Commands: EHLO HELO LHLO MAIL RCPT DATA RSET NOOP QUIT VRFY HELP STARTTLS AUTH",
            )),
            Command::StartTls => return self.starttls(),
            Command::Auth { mechanism, initial } => return self.auth(mechanism, initial).await,
            Command::NotImplemented(verb) => {
                self.reply(Reply::new(
                    502,
                    (5, 5, 1),
                    format!("{verb} not implemented"),
                ));
            }
        }
        Flow::Continue
    }

    fn hello(&mut self, name: String, extended: bool, lhlo: bool) {
        // RFC 2033 §4.1: an LMTP server MUST NOT accept HELO/EHLO (500 recommended); an SMTP
        // server does not know LHLO.
        if lhlo != self.lmtp() {
            let text = if self.lmtp() {
                "this is LMTP: use LHLO"
            } else {
                "LHLO is LMTP only: use EHLO"
            };
            self.reply(Reply::new(500, (5, 5, 1), text));
            return;
        }
        // RFC 5321 §4.1.4: EHLO/HELO reset any transaction.
        self.txn = None;
        self.helo = Some((name.clone(), extended));
        let host = self.shared.config.hostname.clone();
        if !extended {
            self.reply(Reply::new(250, (2, 0, 0), host));
            return;
        }
        let cfg = &self.shared.config;
        let mut lines = vec![format!("{host} greets {name}"), "PIPELINING".into()];
        lines.push("8BITMIME".into());
        if cfg.smtputf8 {
            // RFC 6531 §3.1: SMTPUTF8 without parameters; 8BITMIME is also required.
            lines.push("SMTPUTF8".into());
        }
        lines.push("ENHANCEDSTATUSCODES".into());
        lines.push(format!("SIZE {}", cfg.max_message_octets));
        if cfg.tls.is_some() && !self.tls {
            lines.push("STARTTLS".into());
        }
        if self.auth_offered() {
            lines.push("AUTH PLAIN LOGIN".into());
        }
        if let Ok(extra) = self.shared.extra.read() {
            lines.extend(extra.iter().cloned());
        }
        // draft-ietf-acme-email-tls-05 §3.4: "SMTP server than returns the base64url encoding
        // of this digest as a value of the "ACME" EHLO capability."
        // Listed right after the greeting line, so it is a `250-` line as in the -05 example.
        if let Some(digest) = cfg.acme.visible(self.tls) {
            lines.insert(1, crate::protocol::email_tls::ehlo_capability(&digest));
        }
        for line in reply::multi(250, &lines) {
            self.send_line(&line);
        }
        self.bad = 0;
    }

    /// RFC 4954 §4 + RFC 8314 §3.3: Submission offers AUTH only under TLS unless configured
    /// otherwise.
    fn auth_offered(&self) -> bool {
        let cfg = &self.shared.config;
        cfg.role == Role::Submission
            && cfg.auth.is_some()
            && (self.tls || !cfg.require_tls_for_auth)
    }

    fn starttls(&mut self) -> Flow {
        if self.tls {
            self.reply(Reply::new(503, (5, 5, 1), "TLS already active"));
            return Flow::Continue;
        }
        if self.shared.config.tls.is_none() {
            self.reply(Reply::new(502, (5, 5, 1), "STARTTLS not offered"));
            return Flow::Continue;
        }
        if self.conn.has_buffered() {
            // RFC 3207 §4.2, the CVE-2011-0411 class: plaintext pipelined after
            // STARTTLS must never be read as if it came over TLS. Refuse and close.
            self.reply(Reply::new(
                501,
                (5, 5, 4),
                "commands pipelined after STARTTLS refused",
            ));
            return Flow::Close;
        }
        self.reply(Reply::new(220, (2, 0, 0), "Ready to start TLS"));
        Flow::StartTls
    }

    /// Swaps the plain stream for TLS; on failure the connection is over.
    async fn start_tls(&mut self) -> bool {
        let Some(config) = self.shared.config.tls.clone() else {
            return false;
        };
        let placeholder = Conn::new(Box::new(tokio::io::join(
            tokio::io::empty(),
            tokio::io::sink(),
        )));
        let plain = std::mem::replace(&mut self.conn, placeholder);
        let idle = self.shared.config.idle_timeout;
        let Ok(Ok(stream)) = tokio::time::timeout(idle, plain.into_stream()).await else {
            return false;
        };
        let Some(tls) = conn::handshake(config, stream, self.shared.config.idle_timeout).await
        else {
            tracing::debug!(peer = %self.peer, "STARTTLS handshake failed");
            return false;
        };
        self.conn = Conn::new(tls);
        self.tls = true;
        // RFC 3207 §4.2: discard all knowledge from the client; it must EHLO again.
        self.helo = None;
        self.auth_user = None;
        self.txn = None;
        true
    }

    /// What the sink learns about this session.
    fn info(&self, smtputf8: bool) -> SessionInfo {
        let (helo, esmtp) = self.helo.clone().unwrap_or_default();
        SessionInfo {
            peer: self.peer,
            helo,
            authenticated_as: self.auth_user.clone(),
            tls: self.tls,
            server_name: self.shared.config.hostname.clone(),
            protocol: protocol_keyword(
                self.lmtp(),
                esmtp,
                smtputf8,
                self.tls,
                self.auth_user.is_some(),
            ),
        }
    }
}

/// RFC 3848 `with` keywords (ESMTP, ESMTPS, ESMTPA, ESMTPSA, LMTP…) and their RFC 6531 §3.7.4
/// UTF8 forms.
fn protocol_keyword(lmtp: bool, esmtp: bool, utf8: bool, tls: bool, auth: bool) -> String {
    let base = match (lmtp, esmtp, utf8) {
        (true, _, true) => "UTF8LMTP",
        (true, _, false) => "LMTP",
        (false, _, true) => "UTF8SMTP",
        (false, true, false) => "ESMTP",
        (false, false, false) => return "SMTP".into(),
    };
    let mut s = base.to_owned();
    if tls {
        s.push('S');
    }
    if auth {
        s.push('A');
    }
    s
}

/// AUTH lines in the transcript keep the mechanism and hide the initial response.
fn redact(text: &str) -> String {
    let mut words = text.split(' ');
    let verb = words.next().unwrap_or("");
    if !verb.eq_ignore_ascii_case("AUTH") {
        return text.to_owned();
    }
    match (words.next(), words.next()) {
        (Some(mech), Some(_)) => format!("{verb} {mech} <redacted>"),
        _ => text.to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn with_keywords() {
        assert_eq!(protocol_keyword(false, true, false, true, true), "ESMTPSA");
        assert_eq!(protocol_keyword(false, false, false, true, false), "SMTP");
        assert_eq!(protocol_keyword(true, true, false, false, false), "LMTP");
        assert_eq!(
            protocol_keyword(false, true, true, true, false),
            "UTF8SMTPS"
        );
    }

    #[test]
    fn redacts_auth() {
        assert_eq!(redact("AUTH PLAIN AHUAcA=="), "AUTH PLAIN <redacted>");
        assert_eq!(redact("AUTH LOGIN"), "AUTH LOGIN");
        assert_eq!(redact("MAIL FROM:<a@b>"), "MAIL FROM:<a@b>");
    }
}
