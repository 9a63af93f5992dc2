//! Handing a message to the next hop, with the retries RFC 5321 §4.5.4 expects of a sender:
//! transient failures (4xx, a failed connection, a DNS timeout) are retried; permanent ones
//! (5xx, no route) are final and lead to a bounce.

use std::net::SocketAddr;
use std::time::Duration;

use super::routes::{MailRoutes, RouteError};
use crate::clock::Clock;
use crate::dns::WorldResolver;
use crate::mail::{Envelope, Reply};
use crate::smtp::client::{ClientTls, SmtpClient};

/// How often and how patiently a sender retries.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RetryPolicy {
    /// Attempts in all (at least 1).
    pub attempts: u32,
    /// Wait between attempts (the sender's queue run interval).
    pub delay: Duration,
}

impl Default for RetryPolicy {
    fn default() -> Self {
        RetryPolicy {
            attempts: 5,
            delay: Duration::from_millis(200),
        }
    }
}

impl RetryPolicy {
    /// This policy, its waits passing on `clock` (world time in a world).
    pub fn on(self, clock: &Clock) -> Retry<'_> {
        Retry {
            policy: self,
            clock,
        }
    }
}

/// A [`RetryPolicy`] with the clock its waits pass on.
#[derive(Debug, Clone, Copy)]
pub struct Retry<'a> {
    /// How often and how patiently.
    pub policy: RetryPolicy,
    /// The clock of the waits between attempts.
    pub clock: &'a Clock,
}

/// Where a message goes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Target {
    /// A fixed host (a smarthost, the next relay in a chain, an LMTP server).
    Host(String, SocketAddr),
    /// The MX of a domain.
    Mx(String),
}

/// Why a message could not be handed on.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SendError {
    /// The next hop answered with a refusal.
    #[error("{host} said: {reply}")]
    Rejected {
        /// The host.
        host: String,
        /// Its reply.
        reply: Reply,
    },
    /// No next hop.
    #[error(transparent)]
    Route(#[from] RouteError),
    /// The connection failed or broke.
    #[error("{host}: {reason}")]
    Connection {
        /// The host.
        host: String,
        /// What happened.
        reason: String,
    },
}

impl SendError {
    /// Whether a retry might succeed.
    pub fn is_transient(&self) -> bool {
        match self {
            SendError::Rejected { reply, .. } => reply.is_transient(),
            SendError::Route(e) => e.is_transient(),
            SendError::Connection { .. } => true,
        }
    }

    /// The reply to quote in a bounce or a log.
    pub fn reply(&self) -> Reply {
        match self {
            SendError::Rejected { reply, .. } => reply.clone(),
            SendError::Route(e) => Reply::new(550, (5, 1, 2), e.to_string()),
            SendError::Connection { reason, .. } => Reply::new(421, (4, 4, 1), reason.clone()),
        }
    }
}

/// Sends once: connects, greets as `ehlo`, sends, quits. The replies are per recipient for
/// LMTP and one for SMTP.
pub async fn send_once(
    host: &str,
    addr: SocketAddr,
    ehlo: &str,
    lmtp: bool,
    envelope: &Envelope,
    data: &[u8],
) -> Result<Vec<Reply>, SendError> {
    send_once_parts(host, addr, ehlo, lmtp, envelope, &[data]).await
}

/// [`send_once`] with the message in consecutive pieces (a trace field, then the message), which
/// are sent without being joined first.
pub async fn send_once_parts(
    host: &str,
    addr: SocketAddr,
    ehlo: &str,
    lmtp: bool,
    envelope: &Envelope,
    parts: &[&[u8]],
) -> Result<Vec<Reply>, SendError> {
    let connection = |reason: String| SendError::Connection {
        host: host.to_owned(),
        reason,
    };
    let mut client = SmtpClient::connect(addr, ehlo, ClientTls::None, lmtp)
        .await
        .map_err(|e| connection(e.to_string()))?;
    let result = client.send_parts(envelope, parts).await;
    let _ = client.quit().await;
    match result {
        // SMTP: one outcome for the whole transaction; a refusal of some recipients or of the
        // data is this attempt's failure (LMTP callers judge each recipient themselves).
        Ok(replies) if !lmtp => match replies.iter().find(|r| !r.is_positive()) {
            Some(refusal) => Err(SendError::Rejected {
                host: host.to_owned(),
                reply: refusal.clone(),
            }),
            None => Ok(replies),
        },
        Ok(replies) => Ok(replies),
        Err(e) => match e.reply() {
            Some(reply) => Err(SendError::Rejected {
                host: host.to_owned(),
                reply: reply.clone(),
            }),
            None => Err(connection(e.to_string())),
        },
    }
}

/// Sends with retries, waiting `retry.policy.delay` of the retry's clock between attempts. Returns the replies of the attempt that got through; with SMTP the whole
/// message succeeded, with LMTP each reply is one recipient's.
pub async fn send(
    routes: &MailRoutes,
    resolver: &WorldResolver,
    target: &Target,
    ehlo: &str,
    envelope: &Envelope,
    data: &[u8],
    retry: Retry<'_>,
) -> Result<Vec<Reply>, SendError> {
    let Retry { policy, clock } = retry;
    let mut last = None;
    for attempt in 1..=policy.attempts.max(1) {
        let hop = match target {
            Target::Host(host, addr) => Ok((host.clone(), *addr)),
            Target::Mx(domain) => routes
                .next_hop(resolver, domain)
                .await
                .map_err(SendError::from),
        };
        let result = match hop {
            Ok((host, addr)) => send_once(&host, addr, ehlo, false, envelope, data).await,
            Err(e) => Err(e),
        };
        match result {
            Ok(replies) => return Ok(replies),
            Err(e) if e.is_transient() && attempt < policy.attempts => {
                tracing::debug!(attempt, error = %e, "transient failure, will retry");
                last = Some(e);
                // The sender's queue interval: this is the simulated MTA's behaviour, so it
                // passes in the world's time.
                clock.sleep(policy.delay).await;
            }
            Err(e) => return Err(e),
        }
    }
    Err(last.unwrap_or(SendError::Connection {
        host: format!("{target:?}"),
        reason: "no attempt was made".into(),
    }))
}
