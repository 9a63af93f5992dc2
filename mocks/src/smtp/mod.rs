//! The SMTP engine: one server in four roles (MX, Submission, relay front end, LMTP) and an
//! SMTP/LMTP client.
//!
//! ```text
//!   session/    the per-connection state machine (RFC 5321, 2033, 3207, 6531, 1870, 2920):
//!               mod.rs (loop, HELO/EHLO/LHLO, STARTTLS), transaction.rs (MAIL, RCPT, DATA),
//!               authenticate.rs (AUTH, RFC 4954)
//!   command.rs  parsing command lines, paths and MAIL parameters (pure)
//!   data.rs     DATA: end-of-data detection, dot-unstuffing, bare CR/LF, limits (pure)
//!   reply.rs    rendering single and multi-line replies
//!   client.rs   SmtpClient (relays, the CA, tests)
//!   bench.rs    bench_mx_accept
//! ```
//!
//! Policies (each cited at the code that implements it):
//! - End of data is only `CRLF . CRLF` (RFC 5321 §4.1.1.4, §2.3.8). Any bare LF or bare CR in
//!   DATA rejects the whole message at end of data with `550 5.6.0` (Postfix's
//!   `smtpd_forbid_bare_newline`); a command line ending in a bare LF gets `500 5.5.2`.
//! - A command line over 512 octets (RFC 5321 §4.5.3.1.4; MAIL gets the extension allowances)
//!   gets `500 5.5.6`; the session stays usable.
//! - A DATA text line over 1000 octets (§4.5.3.1.6) or a message over `max_message_octets`
//!   is read to the end without being stored, then answered `552 5.3.4` (§4.5.3.1.9 "552 Too
//!   much mail data", RFC 1870 §6.3).
//! - Ten bad commands in a row → `421 4.7.0` and close; idle timeout → `421 4.4.2` and close.

use std::net::SocketAddr;
use std::sync::{Arc, RwLock};
use std::time::Duration;

use crate::clock::Clock;
use crate::line::accept::{self, ADMISSION_SLACK, Admission, Listening};
use crate::line::transcript::Transcript;
use crate::mail::{Authenticator, MailSink};

pub mod bench;
pub mod client;
mod command;
mod data;
mod reply;
mod session;

pub use crate::line::{Direction, SHUTDOWN_GRACE, TranscriptLine};

/// Default SIZE (RFC 1870): 10 MiB.
pub const DEFAULT_MAX_MESSAGE_OCTETS: usize = 10 * 1024 * 1024;
/// Default recipient limit; RFC 5321 §4.5.3.1.8 requires at least 100.
pub const DEFAULT_MAX_RECIPIENTS: usize = 100;
/// Default idle timeout, per command line and per DATA line.
pub const DEFAULT_IDLE_TIMEOUT: Duration = Duration::from_secs(30);
/// Default transcript size (lines, across connections; oldest dropped first).
pub const DEFAULT_TRANSCRIPT_LINES: usize = 10_000;
/// Default limit on simultaneous connections.
pub const DEFAULT_MAX_CONNECTIONS: usize = 256;

/// Which server this is. One engine; the role picks greeting, HELO verb and policies.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Role {
    /// Inbound MX (port 25 style): no AUTH, recipients checked by the sink.
    Mx,
    /// Message submission (RFC 6409): AUTH required before MAIL, send-as enforced.
    Submission,
    /// A relay's front end: like MX; a relay hop may switch SMTPUTF8 off.
    Relay,
    /// LMTP (RFC 2033): LHLO, one reply per recipient after DATA.
    Lmtp,
}

/// Configuration of one server.
#[derive(Clone)]
pub struct SmtpConfig {
    /// The role.
    pub role: Role,
    /// Our name in the greeting, EHLO and `Session::server_name`.
    pub hostname: String,
    /// TLS for STARTTLS (or implicit TLS); `None` offers no TLS.
    pub tls: Option<Arc<rustls::ServerConfig>>,
    /// Handshake first (Submissions, RFC 8314 port 465 style). Needs `tls`.
    pub implicit_tls: bool,
    /// Submission: offer and accept AUTH only under TLS (RFC 4954 §4, RFC 8314 §3.3).
    pub require_tls_for_auth: bool,
    /// SIZE (RFC 1870): the largest message accepted, in octets after dot-unstuffing.
    pub max_message_octets: usize,
    /// RCPT limit per transaction (RFC 5321 §4.5.3.1.8).
    pub max_recipients: usize,
    /// How long the server waits for each command line and each DATA line.
    pub idle_timeout: Duration,
    /// Offer SMTPUTF8 (RFC 6531). A relay hop without it refuses internationalized mail.
    pub smtputf8: bool,
    /// Extra EHLO keywords (e.g. `ACME <digest>`); changeable at runtime with
    /// [`SmtpServer::set_extra_keywords`].
    pub advertise_extra: Vec<String>,
    /// The `ACME <digest>` EHLO/LHLO keyword of capability-smtp-00 (draft-ietf-acme-email-tls-05
    /// §3.4), shown only while set; a shared handle, see [`SmtpServer::acme_capability`].
    pub acme: crate::mail::acme::AcmeAdvert,
    /// Recipient checks and delivery.
    pub sink: Arc<dyn MailSink>,
    /// AUTH (required for Submission).
    pub auth: Option<Arc<dyn Authenticator>>,
    /// The world clock, for `received_at` and transcript times.
    pub clock: Clock,
    /// Transcript capacity in lines (0 keeps none).
    pub transcript_lines: usize,
    /// Simultaneous connections; more are answered `421 4.7.0` and closed.
    pub max_connections: usize,
    /// Where to listen: 127.0.0.1 port 0 (the system chooses) unless a world config fixes it.
    pub listen: SocketAddr,
}

impl std::fmt::Debug for SmtpConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SmtpConfig")
            .field("role", &self.role)
            .field("hostname", &self.hostname)
            .field("tls", &self.tls.is_some())
            .field("implicit_tls", &self.implicit_tls)
            .field("require_tls_for_auth", &self.require_tls_for_auth)
            .field("max_message_octets", &self.max_message_octets)
            .field("max_recipients", &self.max_recipients)
            .field("idle_timeout", &self.idle_timeout)
            .field("smtputf8", &self.smtputf8)
            .field("advertise_extra", &self.advertise_extra)
            .field("auth", &self.auth.is_some())
            .finish_non_exhaustive()
    }
}

impl SmtpConfig {
    /// A configuration with the defaults: no TLS, SIZE 10 MiB, 100 recipients, 30 s idle
    /// timeout, SMTPUTF8 on, AUTH only under TLS.
    pub fn new(
        role: Role,
        hostname: impl Into<String>,
        sink: Arc<dyn MailSink>,
        clock: Clock,
    ) -> Self {
        SmtpConfig {
            role,
            hostname: hostname.into(),
            tls: None,
            implicit_tls: false,
            require_tls_for_auth: true,
            max_message_octets: DEFAULT_MAX_MESSAGE_OCTETS,
            max_recipients: DEFAULT_MAX_RECIPIENTS,
            idle_timeout: DEFAULT_IDLE_TIMEOUT,
            smtputf8: true,
            advertise_extra: Vec::new(),
            acme: Default::default(),
            sink,
            auth: None,
            clock,
            transcript_lines: DEFAULT_TRANSCRIPT_LINES,
            max_connections: DEFAULT_MAX_CONNECTIONS,
            listen: SocketAddr::from(([127, 0, 0, 1], 0)),
        }
    }
}

/// Why a server could not start.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum SmtpError {
    /// Binding 127.0.0.1:0 failed.
    #[error("cannot bind: {0}")]
    Bind(#[source] std::io::Error),
    /// The configuration is inconsistent.
    #[error("invalid SMTP configuration: {0}")]
    Config(String),
}

/// What the accept loop and the sessions share.
pub(crate) struct Shared {
    pub(crate) config: SmtpConfig,
    pub(crate) extra: RwLock<Vec<String>>,
    pub(crate) transcript: Arc<Transcript>,
}

/// A running server. Dropping the handle stops it too (the accept loop sees the stop channel
/// close); [`SmtpServer::shutdown`] stops it and waits, bounded.
pub struct SmtpServer {
    listening: Listening,
    shared: Arc<Shared>,
}

impl std::fmt::Debug for SmtpServer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SmtpServer")
            .field("addr", &self.listening.addr())
            .field("role", &self.shared.config.role)
            .finish_non_exhaustive()
    }
}

impl SmtpServer {
    /// Binds `config.listen` (127.0.0.1:0 by default) and serves.
    pub async fn start(config: SmtpConfig) -> Result<SmtpServer, SmtpError> {
        if config.role == Role::Submission && config.auth.is_none() {
            return Err(SmtpError::Config(
                "Submission needs an Authenticator".into(),
            ));
        }
        if config.implicit_tls && config.tls.is_none() {
            return Err(SmtpError::Config("implicit_tls needs a TLS config".into()));
        }
        let shared = Arc::new(Shared {
            extra: RwLock::new(sanitize_keywords(config.advertise_extra.clone())),
            transcript: Arc::new(Transcript::new(
                config.transcript_lines,
                config.clock.clone(),
            )),
            config,
        });
        let cfg = &shared.config;
        let admission = Admission {
            max_connections: cfg.max_connections,
            // RFC 5321 §3.1: a server may answer 421 at connection time.
            busy: b"421 4.7.0 too many connections, try later\r\n",
            tls: accept::implicit_tls(cfg.implicit_tls, cfg.tls.as_ref()),
            // An idle session is closed after the idle timeout, so a slot frees within it.
            wait: cfg.idle_timeout + ADMISSION_SLACK,
        };
        let serve_shared = Arc::clone(&shared);
        let listen = shared.config.listen;
        let listening = accept::listen(listen, admission, "SMTP", move |accepted| {
            session::run(Arc::clone(&serve_shared), accepted)
        })
        .await
        .map_err(SmtpError::Bind)?;
        Ok(SmtpServer { listening, shared })
    }

    /// The bound address.
    pub fn addr(&self) -> SocketAddr {
        self.listening.addr()
    }

    /// Replaces the extra EHLO keywords (seen by every EHLO/LHLO from now on). CR, LF and
    /// empty entries are dropped so a keyword cannot inject reply lines.
    pub fn set_extra_keywords(&self, keywords: Vec<String>) {
        let clean = sanitize_keywords(keywords);
        match self.shared.extra.write() {
            Ok(mut extra) => *extra = clean,
            Err(poisoned) => *poisoned.into_inner() = clean,
        }
    }

    /// The handle that sets and clears this server's `ACME <digest>` EHLO keyword at runtime
    /// (capability-smtp-00).
    pub fn acme_capability(&self) -> crate::mail::acme::AcmeAdvert {
        self.shared.config.acme.clone()
    }

    /// Every command line received and reply line sent, oldest first (bounded in lines and
    /// octets; a DATA section appears as one entry, the message up to 64 KiB followed by
    /// "… N more octets", AUTH secrets as `<redacted>`).
    pub fn transcript(&self) -> Vec<TranscriptLine> {
        self.shared.transcript.snapshot()
    }

    /// Stops accepting, tells open sessions to close (`421 4.3.2`), and waits at most
    /// 2 × [`SHUTDOWN_GRACE`].
    pub async fn shutdown(&self) {
        self.listening.shutdown().await;
    }
}

fn sanitize_keywords(keywords: Vec<String>) -> Vec<String> {
    keywords
        .into_iter()
        .filter(|k| !k.trim().is_empty() && !k.contains(['\r', '\n']))
        .collect()
}
