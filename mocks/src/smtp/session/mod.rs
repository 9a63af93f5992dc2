//! One connection's state machine: greeting, command dispatch, HELO/EHLO/LHLO, STARTTLS and the
//! SMTP answers to the line core's ends (idle timeout, shutdown, too many errors). The session
//! loop, the reads and the TLS upgrade are the line core's (`line::serve`, `line::Link`); the
//! mail transaction is in `transaction`, AUTH in `authenticate`; parsing is in `command`, DATA
//! content in `data`.

use std::net::SocketAddr;
use std::sync::Arc;

use super::command::{self, Command};
use super::reply;
use super::{Role, Shared};
use crate::line::{Accepted, End, Flow, Line, Link, Opening, Protocol, open_and_serve};
use crate::mail::{Reply, Session as SessionInfo};

mod authenticate;
mod transaction;

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
    link: Link,
    peer: SocketAddr,
    /// The HELO/EHLO/LHLO name and whether it was EHLO/LHLO (extensions allowed).
    helo: Option<(String, bool)>,
    auth_user: Option<String>,
    txn: Option<Txn>,
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
        helo: None,
        auth_user: None,
        txn: None,
    })
    .await;
}

impl Protocol for Session {
    type Input = Line;

    fn link(&mut self) -> &mut Link {
        &mut self.link
    }

    fn greet(&mut self) {
        let kind = if self.lmtp() { "LMTP" } else { "ESMTP" };
        let greeting = format!("{} {kind} acmeproof", self.shared.config.hostname);
        self.reply(reply::plain(220, greeting));
    }

    async fn read(&mut self) -> Result<Line, End> {
        self.read_line(command::READ_LINE_MAX).await
    }

    async fn handle(&mut self, line: Line) -> Flow {
        match line {
            Line::Full(bytes) => self.command(&bytes).await,
            Line::TooLong { .. } => {
                self.record_in("<overlong command line dropped>");
                // RFC 5321 §4.5.3.1.9: "500 Line too long"; the session goes on.
                self.reply(Reply::new(500, (5, 5, 6), "line too long"));
                Flow::Continue
            }
        }
    }

    fn on_timeout(&mut self) {
        self.idle_timeout();
    }

    fn on_shutdown(&mut self) {
        self.shutting_down();
    }

    fn on_too_many_errors(&mut self) {
        // RFC 5321 §4.3.2 lets a server close on abuse.
        self.reply(Reply::new(421, (4, 7, 0), "too many errors, closing"));
    }

    fn tls_started(&mut self) {
        // RFC 3207 §4.2: "the server MUST discard any knowledge obtained from the client,
        // such as the argument to the EHLO command, which was not obtained from the TLS
        // negotiation itself"; the client must EHLO again.
        self.helo = None;
        self.auth_user = None;
        self.txn = None;
    }
}

impl Session {
    fn lmtp(&self) -> bool {
        self.shared.config.role == Role::Lmtp
    }

    fn idle_timeout(&mut self) -> Flow {
        self.reply(Reply::new(421, (4, 4, 2), "idle timeout, closing"));
        Flow::Close
    }

    fn shutting_down(&mut self) -> Flow {
        self.reply(Reply::new(421, (4, 3, 2), "server shutting down"));
        Flow::Close
    }

    /// Reads a line of at most `max` octets with the idle timeout, or notices shutdown.
    async fn read_line(&mut self, max: usize) -> Result<Line, End> {
        self.link
            .read_line(max, self.shared.config.idle_timeout)
            .await
    }

    fn record_in(&self, line: impl Into<String>) {
        self.link.record_in(line);
    }

    /// Queues a reply (flushed before the next read) and counts bad commands.
    fn reply(&mut self, r: Reply) {
        let line = reply::line(&r);
        self.link.send_line(&line);
        if matches!(r.code, 500..=504 | 555) {
            self.link.count_bad();
        } else if r.code < 400 {
            self.link.reset_bad();
        }
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
        self.record_in(redact(text));
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
        if self.link.offers_tls() {
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
        if let Some(digest) = cfg.acme.visible(self.link.tls()) {
            lines.insert(1, crate::protocol::email_tls::ehlo_capability(&digest));
        }
        for line in reply::multi(250, &lines) {
            self.link.send_line(&line);
        }
        self.link.reset_bad();
    }

    /// RFC 4954 §4 + RFC 8314 §3.3: Submission offers AUTH only under TLS unless configured
    /// otherwise.
    fn auth_offered(&self) -> bool {
        let cfg = &self.shared.config;
        cfg.role == Role::Submission
            && cfg.auth.is_some()
            && (self.link.tls() || !cfg.require_tls_for_auth)
    }

    fn starttls(&mut self) -> Flow {
        if self.link.tls() {
            self.reply(Reply::new(503, (5, 5, 1), "TLS already active"));
            return Flow::Continue;
        }
        if !self.link.has_tls_config() {
            self.reply(Reply::new(502, (5, 5, 1), "STARTTLS not offered"));
            return Flow::Continue;
        }
        if self.link.pipelined_after_starttls() {
            // RFC 3207 §4.2, the CVE-2011-0411 class: plaintext pipelined after STARTTLS
            // must never be read as if it came over TLS. Refuse and close.
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

    /// What the sink learns about this session.
    fn info(&self, smtputf8: bool) -> SessionInfo {
        let (helo, esmtp) = self.helo.clone().unwrap_or_default();
        SessionInfo {
            peer: self.peer,
            helo,
            authenticated_as: self.auth_user.clone(),
            tls: self.link.tls(),
            server_name: self.shared.config.hostname.clone(),
            protocol: protocol_keyword(
                self.lmtp(),
                esmtp,
                smtputf8,
                self.link.tls(),
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
