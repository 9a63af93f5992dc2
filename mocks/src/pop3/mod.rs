//! The POP3 server (RFC 1939) with CAPA (RFC 2449), STLS (RFC 2595), response codes (RFC 2449
//! §8, RFC 3206), the UTF8 command (RFC 6856) and implicit TLS (POP3S, RFC 8314), over the
//! world's [`MailStore`]: a user's maildrop is their `INBOX`.
//!
//! ```text
//!   mod.rs      config, start/addr/shutdown, the connection cap's POP3 refusal
//!   session.rs  the per-connection state machine: AUTHORIZATION → TRANSACTION → UPDATE, STLS
//!   command.rs  parsing command lines (pure)
//! ```
//!
//! The accept loop, the line reader, the TLS upgrade and the transcript are the line-server core's
//! (`line`).
//!
//! Policies (each cited at the code that implements it):
//! - A command line over 255 octets (RFC 2449 §4) gets `-ERR` and the session goes on.
//! - DELE only marks a message in the session; `QUIT` in TRANSACTION state flags the marked
//!   messages `\Deleted` and expunges the INBOX (RFC 1939 §6 UPDATE state). A connection that
//!   ends any other way (drop, idle timeout, shutdown) removes nothing (RFC 1939 §6).
//!   The store has no per-message expunge, so that QUIT also removes INBOX messages another
//!   protocol (IMAP) had flagged `\Deleted` without expunging.
//! - The maildrop is locked for one session at a time on this server (RFC 1939 §8); a second
//!   login gets `-ERR [IN-USE]` (RFC 2449 §8.1.2).
//! - Ten bad commands in a row → `-ERR` and close; the idle timeout closes silently
//!   (RFC 1939 §3: "without removing any messages or sending any response").

use std::collections::HashSet;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex, RwLock};
use std::time::Duration;

use crate::clock::Clock;
use crate::line::accept::{self, ADMISSION_SLACK, Admission, Listening, implicit_tls};
use crate::line::transcript::Transcript;
use crate::mailstore::MailStore;

mod command;
mod session;

pub use crate::line::{Direction, SHUTDOWN_GRACE, TranscriptLine};

/// Default idle timeout: RFC 1939 §3 allows an autologout timer of at least 10 minutes.
pub const DEFAULT_IDLE_TIMEOUT: Duration = Duration::from_secs(10 * 60);
/// Default idle timeout in the AUTHORIZATION state: 30 s without a command. This is the bound
/// on how long idle connections can lock a new client out at the connection cap (see
/// `line::accept::Admission`).
pub const DEFAULT_LOGIN_TIMEOUT: Duration = Duration::from_secs(30);
/// Default limit on simultaneous connections.
pub const DEFAULT_MAX_CONNECTIONS: usize = 256;
/// Default transcript size (lines, across connections; oldest dropped first).
pub const DEFAULT_TRANSCRIPT_LINES: usize = 10_000;
/// Configuration of one POP3 server.
#[derive(Clone)]
pub struct Pop3Config {
    /// Our name, in the QUIT reply.
    pub hostname: String,
    /// TLS for STLS (or implicit TLS); `None` offers no TLS.
    pub tls: Option<Arc<rustls::ServerConfig>>,
    /// Handshake first (POP3S, RFC 8314 §3.3 port 995 style). Needs `tls`.
    pub implicit_tls: bool,
    /// The maildrops: each user's `INBOX`.
    pub store: MailStore,
    /// The world clock, for transcript times.
    pub clock: Clock,
    /// How long the server waits for each command line before it closes the connection.
    pub idle_timeout: Duration,
    /// The idle timeout before login (AUTHORIZATION state; capped by `idle_timeout`).
    pub login_timeout: Duration,
    /// Simultaneous connections; more wait for a slot (bounded by the login timeout), then
    /// are answered `-ERR [SYS/TEMP]` and closed.
    pub max_connections: usize,
    /// Extra CAPA lines (e.g. `ACME <digest>`); changeable at runtime with
    /// [`Pop3Server::set_capa_extra`].
    pub capa_extra: Vec<String>,
    /// The `ACME <digest>` CAPA line of capability-pop-00 (draft-ietf-acme-email-tls-04/-05
    /// §3.4), shown only while set; a shared handle, see [`Pop3Server::acme_capability`].
    pub acme: crate::mail::acme::AcmeAdvert,
    /// Transcript capacity in lines (0 keeps none).
    pub transcript_lines: usize,
    /// Where to listen: 127.0.0.1 port 0 (the system chooses) unless a world config fixes it.
    pub listen: SocketAddr,
}

impl std::fmt::Debug for Pop3Config {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Pop3Config")
            .field("hostname", &self.hostname)
            .field("tls", &self.tls.is_some())
            .field("implicit_tls", &self.implicit_tls)
            .field("idle_timeout", &self.idle_timeout)
            .field("login_timeout", &self.login_timeout)
            .field("max_connections", &self.max_connections)
            .field("capa_extra", &self.capa_extra)
            .finish_non_exhaustive()
    }
}

impl Pop3Config {
    /// A configuration with the defaults: no TLS, 10-minute idle timeout, no extra CAPA lines.
    pub fn new(hostname: impl Into<String>, store: MailStore, clock: Clock) -> Self {
        Pop3Config {
            hostname: hostname.into(),
            tls: None,
            implicit_tls: false,
            store,
            clock,
            idle_timeout: DEFAULT_IDLE_TIMEOUT,
            login_timeout: DEFAULT_LOGIN_TIMEOUT,
            max_connections: DEFAULT_MAX_CONNECTIONS,
            capa_extra: Vec::new(),
            acme: Default::default(),
            transcript_lines: DEFAULT_TRANSCRIPT_LINES,
            listen: SocketAddr::from(([127, 0, 0, 1], 0)),
        }
    }
}

/// Why a server could not start.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Pop3Error {
    /// Binding 127.0.0.1:0 failed.
    #[error("cannot bind: {0}")]
    Bind(#[source] std::io::Error),
    /// The configuration is inconsistent.
    #[error("invalid POP3 configuration: {0}")]
    Config(String),
}

/// What the accept loop and the sessions share.
pub(crate) struct Shared {
    pub(crate) config: Pop3Config,
    pub(crate) capa_extra: RwLock<Vec<String>>,
    pub(crate) transcript: Arc<Transcript>,
    /// Canonical users whose maildrop a session holds (RFC 1939 §8 exclusive access).
    pub(crate) locked: Mutex<HashSet<String>>,
}

/// A running POP3 server. Dropping the handle stops it too; [`Pop3Server::shutdown`] stops it
/// and waits, bounded.
pub struct Pop3Server {
    listening: Listening,
    shared: Arc<Shared>,
}

impl std::fmt::Debug for Pop3Server {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Pop3Server")
            .field("addr", &self.listening.addr())
            .field("implicit_tls", &self.shared.config.implicit_tls)
            .finish_non_exhaustive()
    }
}

impl Pop3Server {
    /// Binds `config.listen` (127.0.0.1:0 by default) and serves.
    pub async fn start(config: Pop3Config) -> Result<Pop3Server, Pop3Error> {
        if config.implicit_tls && config.tls.is_none() {
            return Err(Pop3Error::Config("implicit_tls needs a TLS config".into()));
        }
        let shared = Arc::new(Shared {
            capa_extra: RwLock::new(sanitize_lines(config.capa_extra.clone())),
            transcript: Arc::new(Transcript::new(
                config.transcript_lines,
                config.clock.clone(),
            )),
            locked: Mutex::new(HashSet::new()),
            config,
        });
        let serve_shared = Arc::clone(&shared);
        let cfg = &shared.config;
        let admission = Admission {
            max_connections: cfg.max_connections,
            // RFC 2449 §8.1.2 (SYS/TEMP): a transient failure; try later.
            busy: b"-ERR [SYS/TEMP] too many connections, try later\r\n",
            tls: implicit_tls(cfg.implicit_tls, cfg.tls.as_ref()),
            // Idle sessions before login are closed after the login timeout.
            wait: cfg.login_timeout.min(cfg.idle_timeout) + ADMISSION_SLACK,
        };
        let listen = shared.config.listen;
        let listening = accept::listen(listen, admission, "POP3", move |accepted| {
            session::run(Arc::clone(&serve_shared), accepted)
        })
        .await
        .map_err(Pop3Error::Bind)?;
        Ok(Pop3Server { listening, shared })
    }

    /// The bound address.
    pub fn addr(&self) -> SocketAddr {
        self.listening.addr()
    }

    /// The handle that sets and clears this server's `ACME <digest>` CAPA line at runtime
    /// (capability-pop-00).
    pub fn acme_capability(&self) -> crate::mail::acme::AcmeAdvert {
        self.shared.config.acme.clone()
    }

    /// Replaces the extra CAPA lines (seen by every CAPA from now on). CR, LF, empty entries
    /// and a lone `.` are dropped so a line cannot inject or end the response.
    pub fn set_capa_extra(&self, lines: Vec<String>) {
        let clean = sanitize_lines(lines);
        match self.shared.capa_extra.write() {
            Ok(mut extra) => *extra = clean,
            Err(poisoned) => *poisoned.into_inner() = clean,
        }
    }

    /// Every command line received and response line sent, oldest first (bounded; message
    /// contents appear as one `<N octets>` line, PASS arguments as `<redacted>`).
    pub fn transcript(&self) -> Vec<TranscriptLine> {
        self.shared.transcript.snapshot()
    }

    /// Stops accepting, tells open sessions to close (`-ERR`, no UPDATE), and waits at most
    /// 2 × [`SHUTDOWN_GRACE`].
    pub async fn shutdown(&self) {
        self.listening.shutdown().await;
    }
}

/// CAPA lines are `capa-tag *(SP param)` (RFC 2449 §5); anything that could break the
/// multi-line framing is dropped.
fn sanitize_lines(lines: Vec<String>) -> Vec<String> {
    lines
        .into_iter()
        .filter(|l| !l.trim().is_empty() && !l.contains(['\r', '\n']) && !l.starts_with('.'))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn capa_extra_cannot_break_framing() {
        let got = sanitize_lines(vec![
            "ACME abc".into(),
            "X\r\n+OK".into(),
            ".".into(),
            "  ".into(),
            "SASL PLAIN".into(),
        ]);
        assert_eq!(got, vec!["ACME abc".to_owned(), "SASL PLAIN".to_owned()]);
    }
}
