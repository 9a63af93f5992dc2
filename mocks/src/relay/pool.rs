//! Persistent connections to one next hop (the MX's LMTP): a bounded set of idle sessions,
//! each reused for the next transaction, so a message costs no TCP and LHLO round trips.
//!
//! A session goes back to the pool only in step with the server: after a completed
//! transaction, which ends the server's transaction state (RFC 5321 §4.1.1.4), or after the
//! client's own RSET on a refusal. So the next transaction starts with its MAIL, RCPT and DATA
//! group (RFC 2920 §3.1) and no RSET round trip: an RSET before each reuse cost the served MX
//! a tenth of its CPU per message (a write and a read on both ends of the LMTP connection).
//!
//! A reused session may have been closed by the server while idle (its own idle timeout, a
//! restart). That shows before any message data is sent (the 354 never comes: the socket is
//! gone, or the server's 421 closing reply answers the MAIL, RFC 5321 §3.8), so the
//! transaction is sent again once on a fresh connection: the dead session delivered nothing.
//! A failure after message data was sent is reported as it is (a transient failure for the
//! sender to retry, RFC 5321 §4.5.4), never retried here: the server may have taken the message,
//! and a retry could deliver it twice.

use std::net::SocketAddr;
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use super::send::SendError;
use crate::mail::{Envelope, Reply};
use crate::smtp::client::{ClientTls, SmtpClient};

/// Idle sessions kept at most; more are closed (QUIT) when their transaction ends.
pub const DEFAULT_MAX_IDLE: usize = 32;
/// How long a session may sit idle before it is closed instead of reused: below the
/// server's own idle timeout (the world's servers close after 30 s), so a reused session
/// is normally still open.
pub const DEFAULT_IDLE_TIMEOUT: Duration = Duration::from_secs(10);

/// A pool of sessions with one next hop.
#[derive(Debug)]
pub struct SessionPool {
    host: String,
    addr: SocketAddr,
    hello: String,
    lmtp: bool,
    max_idle: usize,
    idle_timeout: Duration,
    idle: Mutex<Vec<(SmtpClient, Instant)>>,
    opened: AtomicU64,
}

impl SessionPool {
    /// A pool of LMTP (`lmtp`) or SMTP sessions with `host` at `addr`, greeting as `hello`.
    pub fn new(host: &str, addr: SocketAddr, hello: &str, lmtp: bool) -> SessionPool {
        SessionPool {
            host: host.to_owned(),
            addr,
            hello: hello.to_owned(),
            lmtp,
            max_idle: DEFAULT_MAX_IDLE,
            idle_timeout: DEFAULT_IDLE_TIMEOUT,
            idle: Mutex::new(Vec::new()),
            opened: AtomicU64::new(0),
        }
    }

    /// The same pool with other bounds.
    pub fn with_limits(mut self, max_idle: usize, idle_timeout: Duration) -> SessionPool {
        self.max_idle = max_idle;
        self.idle_timeout = idle_timeout;
        self
    }

    /// Connections opened so far.
    pub fn opened(&self) -> u64 {
        self.opened.load(Ordering::Relaxed)
    }

    /// Sessions idle in the pool now.
    pub fn idle(&self) -> usize {
        self.lock().len()
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Vec<(SmtpClient, Instant)>> {
        self.idle.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Ends every idle session with QUIT (a pool's last act, before the server stops).
    pub async fn close(&self) {
        let idle: Vec<_> = std::mem::take(&mut *self.lock());
        for (client, _) in idle {
            let _ = client.quit().await;
        }
    }

    /// A fresh idle session, the most recently used first; stale ones are dropped.
    fn take(&self) -> Option<SmtpClient> {
        let mut idle = self.lock();
        while let Some((client, since)) = idle.pop() {
            if since.elapsed() < self.idle_timeout {
                return Some(client);
            }
            // Closed by dropping: the server sees the connection end (its QUIT is a
            // courtesy a pool that outlived the session need not pay).
            drop(client);
        }
        None
    }

    fn put_back(&self, client: SmtpClient) {
        let mut idle = self.lock();
        if idle.len() < self.max_idle {
            idle.push((client, Instant::now()));
        }
    }

    fn connection_error(&self, reason: String) -> SendError {
        SendError::Connection {
            host: self.host.clone(),
            reason,
        }
    }

    async fn connect(&self) -> Result<SmtpClient, SendError> {
        self.opened.fetch_add(1, Ordering::Relaxed);
        SmtpClient::connect(self.addr, &self.hello, ClientTls::None, self.lmtp)
            .await
            .map_err(|e| self.connection_error(e.to_string()))
    }

    /// A session for a transaction: a pooled one (`true`), else a new one.
    async fn ready(&self) -> Result<(SmtpClient, bool), SendError> {
        match self.take() {
            Some(client) => Ok((client, true)),
            None => Ok((self.connect().await?, false)),
        }
    }

    /// Sends one message in pieces (a trace field, then the message) on a pooled session.
    /// The replies are per recipient for LMTP; for SMTP a refusal is an error.
    pub async fn send_parts(
        &self,
        envelope: &Envelope,
        parts: &[&[u8]],
    ) -> Result<Vec<Reply>, SendError> {
        let (mut client, reused) = self.ready().await?;
        let mut result = client.send_parts(envelope, parts).await;
        if reused && closed_while_idle(&client, &result) {
            // Nothing of the message reached the dead session: sent again, once, fresh.
            client = self.connect().await?;
            result = client.send_parts(envelope, parts).await;
        }
        match result {
            Ok(replies) => {
                self.put_back(client);
                if !self.lmtp
                    && let Some(refusal) = replies.iter().find(|r| !r.is_positive())
                {
                    return Err(SendError::Rejected {
                        host: self.host.clone(),
                        reply: refusal.clone(),
                    });
                }
                Ok(replies)
            }
            Err(e) => match e.reply() {
                // A refusal: the session is in step with the server (the client reset it)
                // and can serve the next transaction.
                Some(reply) => {
                    let reply = reply.clone();
                    // 421: the server is closing the session (RFC 5321 §3.8).
                    if reply.code != 421 {
                        self.put_back(client);
                    }
                    Err(SendError::Rejected {
                        host: self.host.clone(),
                        reply,
                    })
                }
                // Broken mid-transaction: dropped, and reported for the sender to retry.
                None => Err(self.connection_error(e.to_string())),
            },
        }
    }
}

/// Whether a transaction on a pooled session failed because the server had closed it while
/// idle: before any message data was sent, the socket failed or went silent, or the server
/// answered with 421, which RFC 5321 §3.8 has a closing server give to every command.
fn closed_while_idle(
    client: &SmtpClient,
    result: &Result<Vec<Reply>, crate::smtp::client::ClientError>,
) -> bool {
    use crate::smtp::client::ClientError;
    if client.sent_message_data() {
        return false;
    }
    match result {
        Err(ClientError::Io(_) | ClientError::Timeout) => true,
        Err(ClientError::Rejected { reply, .. }) => reply.code == 421,
        _ => false,
    }
}
