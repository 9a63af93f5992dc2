//! One connection's state machine: greeting, HELO/EHLO/LHLO, STARTTLS, AUTH, the mail
//! transaction, DATA, and the limits. Parsing is in `command`, DATA content in `data`, SASL in
//! `auth`; this file decides what each command means in the current state and answers it.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use tokio::sync::watch;
use tokio_rustls::TlsAcceptor;

use super::command::{self, Command, Param};
use super::data::{DataParser, Fed, TEXT_LINE_MAX};
use super::io::{BoxStream, Conn, Line};
use super::reply;
use super::{Direction, Role, Shared, auth};
use crate::mail::{Envelope, Incoming, Reply, Session as SessionInfo};

/// Consecutive bad commands before `421 4.7.0` and close (RFC 5321 §4.3.2 lets a server close
/// on abuse; Postfix `smtpd_hard_error_limit` is the same idea).
pub(crate) const MAX_BAD_COMMANDS: u32 = 10;
/// Cap on the TLS handshake, also bounded by the idle timeout.
const HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(10);

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
    rcpts: Vec<String>,
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
    let mut stream = stream;
    let mut tls = false;
    if shared.config.implicit_tls {
        let Some(config) = shared.config.tls.clone() else {
            return;
        };
        match handshake(config, stream, shared.config.idle_timeout).await {
            Some(s) => stream = s,
            None => {
                tracing::debug!(%peer, "implicit TLS handshake failed");
                return;
            }
        }
        tls = true;
    }
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

async fn handshake(
    config: Arc<rustls::ServerConfig>,
    stream: BoxStream,
    idle: Duration,
) -> Option<BoxStream> {
    let accept = TlsAcceptor::from(config).accept(stream);
    match tokio::time::timeout(HANDSHAKE_TIMEOUT.min(idle), accept).await {
        Ok(Ok(tls)) => Some(Box::new(tls)),
        _ => None,
    }
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

    fn mail(&mut self, path: String, params: Vec<Param>) {
        let Some((_, esmtp)) = self.helo.clone() else {
            return self.reply(Reply::new(503, (5, 5, 1), "send EHLO/HELO first"));
        };
        if self.txn.is_some() {
            return self.reply(Reply::new(503, (5, 5, 1), "nested MAIL command"));
        }
        let cfg = &self.shared.config;
        if cfg.role == Role::Submission && self.auth_user.is_none() {
            // RFC 4954 §6.
            return self.reply(Reply::new(530, (5, 7, 0), "Authentication required"));
        }
        let (mut smtputf8, mut body_8bit) = (false, false);
        for p in &params {
            if !esmtp {
                return self.reply(Reply::new(555, (5, 5, 4), "parameters need EHLO"));
            }
            let bad_value = Reply::new(501, (5, 5, 4), format!("bad value for {}", p.key));
            match (p.key.as_str(), p.value.as_deref()) {
                ("SIZE", Some(v)) => {
                    let size = (v.len() <= 20).then(|| v.parse::<u64>().ok()).flatten();
                    let Some(size) = size else {
                        return self.reply(bad_value);
                    };
                    // RFC 1870 §6.1: a declared size over the limit fails MAIL with 552.
                    if size > cfg.max_message_octets as u64 {
                        return self.reply(Reply::new(
                            552,
                            (5, 3, 4),
                            "message size exceeds fixed maximum message size",
                        ));
                    }
                }
                ("BODY", Some(v)) if v.eq_ignore_ascii_case("8BITMIME") => body_8bit = true,
                ("BODY", Some(v)) if v.eq_ignore_ascii_case("7BIT") => body_8bit = false,
                ("BODY", _) | ("SIZE", None) => return self.reply(bad_value),
                // RFC 6531 §3.4: SMTPUTF8 takes no value.
                ("SMTPUTF8", None) if cfg.smtputf8 => smtputf8 = true,
                ("SMTPUTF8", Some(_)) if cfg.smtputf8 => return self.reply(bad_value),
                // RFC 4954 §5: AUTH=<mailbox> is accepted (and not trusted) where AUTH is.
                ("AUTH", Some(_)) if cfg.role == Role::Submission => {}
                _ => {
                    // RFC 5321 §4.1.1.11 / §4.3.2: 555 for an unrecognized parameter (this is
                    // also what a hop without SMTPUTF8 says to `SMTPUTF8`, RFC 6531 §3.5).
                    return self.reply(Reply::new(
                        555,
                        (5, 5, 4),
                        format!("{} parameter not recognized", p.key),
                    ));
                }
            }
        }
        if !path.is_ascii() && !smtputf8 {
            return self.reply(non_ascii());
        }
        if let (Some(user), Some(auth)) = (&self.auth_user, &cfg.auth)
            && !auth.may_send_as(user, &path)
        {
            let text = format!("{user} may not send as <{path}>");
            return self.reply(Reply::new(553, (5, 7, 1), text));
        }
        self.txn = Some(Txn {
            from: path,
            smtputf8,
            body_8bit,
            rcpts: Vec::new(),
        });
        self.reply(Reply::new(250, (2, 1, 0), "Ok"));
    }

    async fn rcpt(&mut self, path: String, params: Vec<Param>) {
        let Some(txn) = &self.txn else {
            return self.reply(Reply::new(503, (5, 5, 1), "need MAIL before RCPT"));
        };
        if let Some(p) = params.first() {
            return self.reply(Reply::new(
                555,
                (5, 5, 4),
                format!("{} parameter not recognized", p.key),
            ));
        }
        if path.is_empty() {
            return self.reply(Reply::new(501, (5, 1, 3), "null recipient not allowed"));
        }
        if !path.is_ascii() && !txn.smtputf8 {
            return self.reply(non_ascii());
        }
        let cfg = &self.shared.config;
        if txn.rcpts.len() >= cfg.max_recipients {
            // RFC 5321 §4.5.3.1.10.
            return self.reply(Reply::new(452, (4, 5, 3), "too many recipients"));
        }
        let info = self.info(txn.smtputf8);
        let sink = Arc::clone(&cfg.sink);
        match sink.check_recipient(&path, &info).await {
            Ok(()) => {
                if let Some(txn) = &mut self.txn {
                    txn.rcpts.push(path);
                }
                self.reply(Reply::new(250, (2, 1, 5), "Ok"));
            }
            Err(r) => self.reply(r),
        }
    }

    async fn data(&mut self) -> Flow {
        let Some(txn) = &self.txn else {
            self.reply(Reply::new(503, (5, 5, 1), "need MAIL before DATA"));
            return Flow::Continue;
        };
        if txn.rcpts.is_empty() {
            // RFC 2033 §4.2 (LMTP MUST 503), RFC 5321 §3.3 (503 or 554).
            self.reply(Reply::new(503, (5, 5, 1), "no valid recipients"));
            return Flow::Continue;
        }
        self.reply(reply::plain(
            354,
            "Start mail input; end with <CRLF>.<CRLF>",
        ));
        let mut parser = DataParser::new(self.shared.config.max_message_octets);
        loop {
            match self.read(TEXT_LINE_MAX).await {
                Read::Line(Line::Full(line)) => {
                    if parser.feed(&line) == Fed::End {
                        break;
                    }
                }
                Read::Line(Line::TooLong { crlf }) => parser.feed_too_long(crlf),
                // The transaction is abandoned: the sink gets nothing.
                Read::Gone => return Flow::Close,
                Read::Timeout => return self.idle_timeout(),
                Read::Shutdown => return self.shutting_down(),
            }
        }
        self.record_in(&format!("<{} octets of DATA>", parser.octets()));
        let Some(txn) = self.txn.take() else {
            return Flow::Continue;
        };
        let n = txn.rcpts.len();
        let replies: Vec<Reply> = match parser.finish() {
            Err(r) => vec![r; n],
            Ok(data) => {
                let session = self.info(txn.smtputf8);
                let rcpts = txn.rcpts.clone();
                let incoming = Incoming {
                    envelope: Envelope {
                        mail_from: txn.from,
                        rcpt_to: txn.rcpts,
                        smtputf8: txn.smtputf8,
                        body_8bit: txn.body_8bit,
                    },
                    data,
                    session,
                    received_at: self.shared.config.clock.now(),
                };
                let sink = Arc::clone(&self.shared.config.sink);
                let results = sink.deliver(incoming).await;
                rcpts
                    .iter()
                    .enumerate()
                    .map(|(i, rcpt)| match results.get(i) {
                        Some(Ok(())) if self.lmtp() => {
                            Reply::new(250, (2, 1, 5), format!("<{rcpt}> delivered"))
                        }
                        Some(Ok(())) => Reply::new(250, (2, 0, 0), "Ok: queued"),
                        Some(Err(r)) => r.clone(),
                        None => Reply::try_later("no delivery result for this recipient"),
                    })
                    .collect()
            }
        };
        if self.lmtp() {
            // RFC 2033 §4.2: one reply per successful RCPT, in RCPT order.
            for r in replies {
                self.reply(r);
            }
        } else {
            let first_failure = replies.iter().position(|r| !r.is_positive());
            for (i, r) in replies.iter().enumerate() {
                if !r.is_positive() && Some(i) != first_failure {
                    tracing::info!(conn = self.conn_id, reply = %r, "further recipient failure");
                }
            }
            let answer = match first_failure {
                Some(i) => replies[i].clone(),
                None => replies
                    .into_iter()
                    .next()
                    .unwrap_or_else(|| Reply::ok("Ok: queued")),
            };
            self.reply(answer);
        }
        Flow::Continue
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
            // RFC 3207 §4.2 / crates.md pitfall 14 (CVE-2011-0411): plaintext pipelined after
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
        let Some(tls) = handshake(config, stream, self.shared.config.idle_timeout).await else {
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

    async fn auth(&mut self, mechanism: String, initial: Option<String>) -> Flow {
        let cfg = &self.shared.config;
        let Some(authenticator) = cfg.auth.clone().filter(|_| cfg.role == Role::Submission) else {
            self.reply(Reply::new(502, (5, 5, 1), "AUTH not offered"));
            return Flow::Continue;
        };
        let refusal = if !matches!(self.helo, Some((_, true))) {
            Some(Reply::new(503, (5, 5, 1), "send EHLO first"))
        } else if self.auth_user.is_some() {
            // RFC 4954 §4: after a successful AUTH, further AUTH commands get 503.
            Some(Reply::new(503, (5, 5, 1), "already authenticated"))
        } else if self.txn.is_some() {
            Some(Reply::new(
                503,
                (5, 5, 1),
                "AUTH not allowed in a mail transaction",
            ))
        } else if !self.auth_offered() {
            // RFC 4954 §6: 538 5.7.11 encryption required for requested authentication.
            Some(Reply::new(538, (5, 7, 11), "encryption required for AUTH"))
        } else {
            None
        };
        if let Some(r) = refusal {
            self.reply(r);
            return Flow::Continue;
        }
        let credentials = match mechanism.as_str() {
            "PLAIN" => self.auth_plain(initial).await,
            "LOGIN" => self.auth_login(initial).await,
            _ => Err(Stop::Reply(Reply::new(
                504,
                (5, 5, 4),
                "mechanism not supported",
            ))),
        };
        let (user, pass) = match credentials {
            Ok(c) => c,
            Err(Stop::Reply(r)) => {
                self.reply(r);
                return Flow::Continue;
            }
            Err(Stop::Close) => return Flow::Close,
        };
        match authenticator.authenticate(&user, &pass) {
            Some(canonical) => {
                tracing::debug!(conn = self.conn_id, user = %canonical, "authenticated");
                self.auth_user = Some(canonical);
                self.reply(Reply::new(235, (2, 7, 0), "Authentication successful"));
            }
            None => self.reply(auth::failed()),
        }
        Flow::Continue
    }

    async fn auth_plain(&mut self, initial: Option<String>) -> Result<(String, String), Stop> {
        let response = match initial {
            Some(text) => auth::decode(&text).map_err(Stop::Reply)?,
            None => self.challenge("").await?,
        };
        match response {
            auth::Response::Cancel => Err(Stop::Reply(auth::cancelled())),
            auth::Response::Bytes(b) => auth::plain(&b).map_err(Stop::Reply),
        }
    }

    async fn auth_login(&mut self, initial: Option<String>) -> Result<(String, String), Stop> {
        let user = match initial {
            Some(text) => auth::decode(&text).map_err(Stop::Reply)?,
            None => self.challenge(auth::LOGIN_USER_PROMPT).await?,
        };
        let auth::Response::Bytes(user) = user else {
            return Err(Stop::Reply(auth::cancelled()));
        };
        let auth::Response::Bytes(pass) = self.challenge(auth::LOGIN_PASS_PROMPT).await? else {
            return Err(Stop::Reply(auth::cancelled()));
        };
        let user = auth::login_field(user).map_err(Stop::Reply)?;
        let pass = auth::login_field(pass).map_err(Stop::Reply)?;
        Ok((user, pass))
    }

    /// Sends `334 prompt` and reads the client's base64 answer (logged as `<redacted>`).
    async fn challenge(&mut self, prompt: &str) -> Result<auth::Response, Stop> {
        self.reply(reply::plain(334, prompt));
        match self.read(command::AUTH_LINE_MAX).await {
            Read::Line(Line::Full(bytes)) => {
                self.record_in("<redacted>");
                let text = command::strip_line(&bytes).map_err(Stop::Reply)?;
                auth::decode(text).map_err(Stop::Reply)
            }
            Read::Line(Line::TooLong { .. }) => {
                self.record_in("<redacted>");
                Err(Stop::Reply(Reply::new(500, (5, 5, 6), "line too long")))
            }
            Read::Gone => Err(Stop::Close),
            Read::Timeout => {
                self.idle_timeout();
                Err(Stop::Close)
            }
            Read::Shutdown => {
                self.shutting_down();
                Err(Stop::Close)
            }
        }
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

/// RFC 6531 §3.5 / RFC 5248: `553 5.6.7` for a non-ASCII address without SMTPUTF8.
fn non_ascii() -> Reply {
    Reply::new(
        553,
        (5, 6, 7),
        "non-ASCII addresses need SMTPUTF8 (RFC 6531)",
    )
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
