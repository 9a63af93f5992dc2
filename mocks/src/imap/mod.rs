//! An IMAP4rev1 server (RFC 3501) over the world's [`MailStore`]: the whole base command set
//! (CAPABILITY, NOOP, LOGOUT, STARTTLS, AUTHENTICATE, LOGIN, SELECT, EXAMINE, CREATE, DELETE,
//! RENAME, SUBSCRIBE, UNSUBSCRIBE, LIST, LSUB, STATUS, APPEND, CHECK, CLOSE, EXPUNGE, SEARCH,
//! FETCH, STORE, COPY, UID) with LITERAL+ (RFC 7888), IDLE (RFC 2177), ENABLE (RFC 5161),
//! UTF8=ACCEPT (RFC 6855), UNSELECT (RFC 3691), SASL-IR (RFC 4959), NAMESPACE (RFC 2342), UIDPLUS
//! (RFC 4315), MOVE (RFC 6851), CHILDREN (RFC 3348), APPENDLIMIT (RFC 7889), STARTTLS and
//! implicit TLS.
//!
//! ```text
//!   mod.rs        ImapConfig, ImapServer (start, addr, transcript, shutdown)
//!   session/      per-connection state machine: NotAuthenticated → Authenticated → Selected →
//!                 Logout; command assembly with literals and limits; the commands by group
//!   parse.rs      commands, astrings, literals, sequence sets, fetch items, search keys, dates
//!                 (pure)
//!   fetch.rs      FETCH items: sections (part numbers too), ENVELOPE, BODYSTRUCTURE via
//!                 mail-parser
//!   downgrade.rs  the ASCII surrogate of an EAI message for a client without UTF8=ACCEPT
//!   search.rs     SEARCH evaluation: header keys on the stored header cache, BODY/TEXT via
//!                 mail-parser, dates
//!   response.rs   quoting, literals out, flag lists
//!   bench.rs      bench_search_fetch (`acmeproof bench imap`)
//!   probe.rs      the parser on one received command, for the imap-codec comparison example
//! ```
//!
//! The accept loop, the bounded line reader, the TLS upgrade and the transcript are the
//! line-server core's (`line`).
//!
//! Policies:
//! - A command line (all its lines, literals excluded) over `max_command_octets` → `tag BAD`
//!   whenever the tag can be read from its first octets (else `* BAD`); the session goes on.
//! - A literal whose announced size would take the command's literals over
//!   `max_literal_octets` → `tag BAD [TOOBIG]` without reading it; an APPEND message over
//!   `max_append_octets` (APPENDLIMIT) → `tag NO [TOOBIG]` (RFC 7889). A synchronising literal
//!   gets no `+`; a non-synchronising one (LITERAL+) is read and dropped when it is at most
//!   [`MAX_DISCARD_OCTETS`], else the answer is followed by `* BYE` and close.
//! - A synchronising literal after no tag, an unknown command, or (before login) a command
//!   that needs login → `BAD` instead of `+` (RFC 9051 §7.5), so the next line is a command; an
//!   APPEND to a mailbox that does not exist → `NO [TRYCREATE]` instead of `+`.
//! - Output: while more than `line::conn::OUTPUT_HIGH_WATER` octets of answers are
//!   unsent, no further command is read, and a FETCH waits for the client between messages;
//!   a client that never reads meets the idle timeout instead of growing the server's memory.
//! - SEARCH with a charset other than US-ASCII or UTF-8 → `tag NO [BADCHARSET (US-ASCII
//!   UTF-8)]` (RFC 3501 §6.4.4).
//! - Ten BAD answers in a row → `* BYE` and close; no command for `idle_timeout` (also in IDLE)
//!   → `* BYE Autologout` and close (RFC 3501 §5.4).
//! - Unknown command or syntax error → `tag BAD`; a command in the wrong state → `tag BAD`;
//!   bad credentials → `tag NO [AUTHENTICATIONFAILED]`; an unparseable line without a tag →
//!   `* BAD`.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use crate::clock::Clock;
use crate::line::accept::{self, ADMISSION_SLACK, Admission, Listening, implicit_tls};
use crate::line::transcript::Transcript;
pub use crate::line::{Direction, SHUTDOWN_GRACE, TranscriptLine};
use crate::mailstore::MailStore;

pub mod bench;
mod downgrade;
mod fetch;
mod parse;
pub mod probe;
mod response;
mod search;
mod session;

/// Default bound on one command (its lines, literals excluded): 64 KiB.
pub const DEFAULT_MAX_COMMAND_OCTETS: usize = 64 * 1024;
/// Default bound on the literals of one command other than APPEND: 64 KiB.
pub const DEFAULT_MAX_LITERAL_OCTETS: usize = 64 * 1024;
/// Default APPENDLIMIT (RFC 7889): the largest message APPEND takes, 10 MiB (the same as the
/// SMTP servers' default SIZE, so a message they accept can be appended).
pub const DEFAULT_MAX_APPEND_OCTETS: usize = 10 * 1024 * 1024;
/// Default autologout timer. RFC 3501 §5.4 asks for at least 30 minutes; a test world does not
/// need idle clients to linger that long.
pub const DEFAULT_IDLE_TIMEOUT: Duration = Duration::from_secs(5 * 60);
/// Default idle timeout before login: a connection that has not logged in is closed after
/// 30 s without a command. This is the bound on how long idle connections can lock a new
/// client out at the connection cap (see `line::accept::Admission`).
pub const DEFAULT_LOGIN_TIMEOUT: Duration = Duration::from_secs(30);
/// Default limit on simultaneous connections.
pub const DEFAULT_MAX_CONNECTIONS: usize = 256;
/// Default transcript size (lines, across connections; oldest dropped first).
pub const DEFAULT_TRANSCRIPT_LINES: usize = 10_000;
/// A non-synchronising literal over the limit is read and dropped up to this size; a larger
/// one closes the connection.
pub const MAX_DISCARD_OCTETS: u64 = 1024 * 1024;

/// Configuration of one IMAP server.
#[derive(Clone)]
pub struct ImapConfig {
    /// Our name (greeting, BYE).
    pub hostname: String,
    /// TLS for STARTTLS, or for implicit TLS; `None` offers no TLS.
    pub tls: Option<Arc<rustls::ServerConfig>>,
    /// Handshake first (IMAPS, RFC 8314). Needs `tls`.
    pub implicit_tls: bool,
    /// Refuse LOGIN and AUTHENTICATE before TLS (advertises LOGINDISABLED, RFC 3501 §6.2.3).
    /// Default false, so plain LOGIN works on localhost.
    pub require_tls_for_login: bool,
    /// The mailboxes served.
    pub store: MailStore,
    /// The world clock (transcript times).
    pub clock: Clock,
    /// Bound on one command's lines.
    pub max_command_octets: usize,
    /// Bound on one command's literals.
    pub max_literal_octets: usize,
    /// Bound on the message of an APPEND (advertised as `APPENDLIMIT`, RFC 7889).
    pub max_append_octets: usize,
    /// Autologout timer.
    pub idle_timeout: Duration,
    /// Autologout timer while not logged in (capped by `idle_timeout`).
    pub login_timeout: Duration,
    /// Simultaneous connections; more get `* BYE` and are closed.
    pub max_connections: usize,
    /// Transcript capacity in lines (0 keeps none).
    pub transcript_lines: usize,
    /// The `ACME=<digest>` capability of capability-imap-00 (draft-ietf-acme-email-tls-05
    /// §3.4), shown only while set; a shared handle, see [`ImapServer::acme_capability`].
    pub acme: crate::mail::acme::AcmeAdvert,
    /// Where to listen: 127.0.0.1 port 0 (the system chooses) unless a world config fixes it.
    pub listen: SocketAddr,
}

impl std::fmt::Debug for ImapConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ImapConfig")
            .field("hostname", &self.hostname)
            .field("tls", &self.tls.is_some())
            .field("implicit_tls", &self.implicit_tls)
            .field("require_tls_for_login", &self.require_tls_for_login)
            .field("max_command_octets", &self.max_command_octets)
            .field("max_literal_octets", &self.max_literal_octets)
            .field("max_append_octets", &self.max_append_octets)
            .field("idle_timeout", &self.idle_timeout)
            .field("login_timeout", &self.login_timeout)
            .field("max_connections", &self.max_connections)
            .finish_non_exhaustive()
    }
}

impl ImapConfig {
    /// The defaults: no TLS, plain LOGIN allowed, 64 KiB commands and literals, 5 min
    /// autologout, 256 connections.
    pub fn new(hostname: impl Into<String>, store: MailStore, clock: Clock) -> Self {
        ImapConfig {
            hostname: hostname.into(),
            tls: None,
            implicit_tls: false,
            require_tls_for_login: false,
            store,
            clock,
            max_command_octets: DEFAULT_MAX_COMMAND_OCTETS,
            max_literal_octets: DEFAULT_MAX_LITERAL_OCTETS,
            max_append_octets: DEFAULT_MAX_APPEND_OCTETS,
            idle_timeout: DEFAULT_IDLE_TIMEOUT,
            login_timeout: DEFAULT_LOGIN_TIMEOUT,
            max_connections: DEFAULT_MAX_CONNECTIONS,
            transcript_lines: DEFAULT_TRANSCRIPT_LINES,
            acme: Default::default(),
            listen: SocketAddr::from(([127, 0, 0, 1], 0)),
        }
    }
}

/// Why a server could not start.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ImapError {
    /// Binding 127.0.0.1:0 failed.
    #[error("cannot bind: {0}")]
    Bind(#[source] std::io::Error),
    /// The configuration is inconsistent.
    #[error("invalid IMAP configuration: {0}")]
    Config(String),
}

/// What the accept loop and the sessions share.
pub(crate) struct Shared {
    pub(crate) config: ImapConfig,
    pub(crate) transcript: Arc<Transcript>,
}

/// A running server. Dropping the handle stops it too; [`ImapServer::shutdown`] stops it and
/// waits, bounded.
pub struct ImapServer {
    listening: Listening,
    shared: Arc<Shared>,
}

impl std::fmt::Debug for ImapServer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ImapServer")
            .field("addr", &self.listening.addr())
            .finish_non_exhaustive()
    }
}

impl ImapServer {
    /// Binds `config.listen` (127.0.0.1:0 by default) and serves.
    pub async fn start(config: ImapConfig) -> Result<ImapServer, ImapError> {
        if config.implicit_tls && config.tls.is_none() {
            return Err(ImapError::Config("implicit_tls needs a TLS config".into()));
        }
        if config.hostname.contains(['\r', '\n']) {
            return Err(ImapError::Config("hostname holds CR or LF".into()));
        }
        let shared = Arc::new(Shared {
            transcript: Arc::new(Transcript::new(
                config.transcript_lines,
                config.clock.clone(),
            )),
            config,
        });
        let cfg = &shared.config;
        let admission = Admission {
            max_connections: cfg.max_connections,
            // RFC 3501 §7.1.5: BYE "as the initial greeting to indicate that the server is
            // not willing to accept a connection from this client".
            busy: b"* BYE too many connections, try later\r\n",
            tls: implicit_tls(cfg.implicit_tls, cfg.tls.as_ref()),
            // Idle sessions before login are closed after the login timeout.
            wait: cfg.login_timeout.min(cfg.idle_timeout) + ADMISSION_SLACK,
        };
        let serve_shared = Arc::clone(&shared);
        let listen = shared.config.listen;
        let listening = accept::listen(listen, admission, "IMAP", move |accepted| {
            session::run(Arc::clone(&serve_shared), accepted)
        })
        .await
        .map_err(ImapError::Bind)?;
        Ok(ImapServer { listening, shared })
    }

    /// The bound address.
    pub fn addr(&self) -> SocketAddr {
        self.listening.addr()
    }

    /// The handle that sets and clears this server's `ACME=<digest>` capability at runtime
    /// (capability-imap-00).
    pub fn acme_capability(&self) -> crate::mail::acme::AcmeAdvert {
        self.shared.config.acme.clone()
    }

    /// Every command received and response sent, oldest first (bounded). A command is one
    /// entry with its literals inlined (CRLF shown as `⏎`, cut at 1000 characters); literals in
    /// responses appear as `{n}<n octets>`; LOGIN arguments and SASL data as `<redacted>`.
    pub fn transcript(&self) -> Vec<TranscriptLine> {
        self.shared.transcript.snapshot()
    }

    /// Stops accepting, tells open sessions to close (`* BYE`), and waits at most
    /// 2 × [`SHUTDOWN_GRACE`].
    pub async fn shutdown(&self) {
        self.listening.shutdown().await;
    }
}
