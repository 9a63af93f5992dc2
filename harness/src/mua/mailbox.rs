//! The MUA's INBOX over IMAP, through the async-imap client: STARTTLS or implicit TLS with the
//! server certificate checked, AUTHENTICATE PLAIN (UTF-8 user names work, RFC 4616), `ENABLE
//! UTF8=ACCEPT` when offered (RFC 6855 §3), then new mail found by `UID SEARCH` and awaited
//! with IDLE (RFC 2177) or a bounded poll.

use std::collections::BTreeSet;
use std::time::Duration;

use async_imap::extensions::idle::IdleResponse;
use async_imap::types::Uid;
use futures_util::TryStreamExt as _;
use tokio::net::TcpStream;
use tokio::time::Instant;
use tokio_rustls::TlsConnector;
use tokio_rustls::client::TlsStream;

use super::account::{ImapTls, MailAccount};
use crate::acme::flow::FlowError;

type Session = async_imap::Session<TlsStream<TcpStream>>;

/// How the MUA waits for new mail.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum MailboxWait {
    /// IMAP IDLE (RFC 2177): the server says when mail arrives.
    #[default]
    Idle,
    /// `UID SEARCH` again after this interval (for servers without IDLE).
    Poll(Duration),
}

/// One message as fetched.
#[derive(Debug, Clone)]
pub struct Fetched {
    /// Its UID.
    pub uid: Uid,
    /// `BODY.PEEK[]`: the whole message, without setting `\Seen`.
    pub raw: Vec<u8>,
}

/// An open, selected INBOX.
pub struct Mailbox {
    /// `None` only if an IDLE failed half-way (async-imap's IDLE takes the session by value).
    session: Option<Session>,
    /// Messages with a UID below this were there before the MUA started looking.
    first_new_uid: Uid,
    /// UIDs already fetched.
    seen: BTreeSet<Uid>,
    /// Fetched messages handed back unprocessed, returned first next time.
    pending: Vec<Fetched>,
    /// The token-part1 values replied to from this mailbox: one reply per challenge, however
    /// many copies of it arrive (a relay that duplicates, a CA that resends).
    answered: BTreeSet<String>,
    idle_supported: bool,
    /// The bound on each command's answer: a server that stops answering is an error, not a
    /// hang.
    command_timeout: Duration,
}

impl std::fmt::Debug for Mailbox {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Mailbox")
            .field("first_new_uid", &self.first_new_uid)
            .field("seen", &self.seen)
            .finish_non_exhaustive()
    }
}

fn imap_error(what: &str, e: impl std::fmt::Display) -> FlowError {
    FlowError::Imap(format!("{what}: {e}"))
}

/// `fut`, or an error naming `what` once `limit` has passed.
async fn bounded<T>(
    limit: Duration,
    what: &str,
    fut: impl std::future::Future<Output = Result<T, FlowError>>,
) -> Result<T, FlowError> {
    tokio::time::timeout(limit, fut)
        .await
        .map_err(|_| imap_error(what, format!("no answer in {limit:?}")))?
}

fn lost() -> FlowError {
    FlowError::Imap("the IMAP session was lost in an earlier IDLE".into())
}

/// SASL PLAIN (RFC 4616): `\0user\0password`; async-imap base64-encodes it.
struct Plain<'a> {
    user: &'a str,
    password: &'a str,
}

impl async_imap::Authenticator for Plain<'_> {
    type Response = Vec<u8>;

    fn process(&mut self, _challenge: &[u8]) -> Vec<u8> {
        format!("\0{}\0{}", self.user, self.password).into_bytes()
    }
}

impl Mailbox {
    /// Connects, authenticates as `account` and selects INBOX. Mail already in it is not
    /// reported by [`Mailbox::next_new`]: a challenge is always newer than the MUA's order.
    pub async fn open(account: &MailAccount, timeout: Duration) -> Result<Mailbox, FlowError> {
        bounded(
            timeout,
            "opening the mailbox",
            Self::open_inner(account, timeout),
        )
        .await
    }

    async fn open_inner(account: &MailAccount, timeout: Duration) -> Result<Mailbox, FlowError> {
        let tcp = TcpStream::connect(account.imap)
            .await
            .map_err(|e| imap_error(&format!("connect {}", account.imap), e))?;
        // IMAP is request/response in small writes (a command, then DONE after IDLE): without
        // this, Nagle's algorithm meets the peer's delayed ACK and each exchange waits ~40 ms.
        let _ = tcp.set_nodelay(true);
        let connector = TlsConnector::from(std::sync::Arc::clone(&account.tls));
        let tls = match account.imap_tls {
            ImapTls::Implicit => connector
                .connect(account.tls_name()?, tcp)
                .await
                .map_err(|e| imap_error("TLS", e))?,
            ImapTls::StartTls => {
                let mut plain = async_imap::Client::new(tcp);
                plain
                    .read_response()
                    .await
                    .map_err(|e| imap_error("greeting", e))?
                    .ok_or_else(|| imap_error("greeting", "connection closed"))?;
                plain
                    .run_command_and_check_ok("STARTTLS", None)
                    .await
                    .map_err(|e| imap_error("STARTTLS", e))?;
                connector
                    .connect(account.tls_name()?, plain.into_inner())
                    .await
                    .map_err(|e| imap_error("TLS after STARTTLS", e))?
            }
        };
        let mut client = async_imap::Client::new(tls);
        if account.imap_tls == ImapTls::Implicit {
            client
                .read_response()
                .await
                .map_err(|e| imap_error("greeting", e))?
                .ok_or_else(|| imap_error("greeting", "connection closed"))?;
        }
        let plain = Plain {
            user: &account.address,
            password: &account.password,
        };
        let mut session = client
            .authenticate("PLAIN", plain)
            .await
            .map_err(|(e, _)| {
                imap_error(&format!("AUTHENTICATE PLAIN as {}", account.address), e)
            })?;
        let capabilities = session
            .capabilities()
            .await
            .map_err(|e| imap_error("CAPABILITY", e))?;
        if capabilities.has_str("UTF8=ACCEPT") {
            // RFC 6855 §3: after ENABLE the server sends UTF-8 headers as they are, which an
            // EAI mailbox needs for its own address.
            session
                .run_command_and_check_ok("ENABLE UTF8=ACCEPT")
                .await
                .map_err(|e| imap_error("ENABLE UTF8=ACCEPT", e))?;
        }
        let idle_supported = capabilities.has_str("IDLE");
        let inbox = session
            .select("INBOX")
            .await
            .map_err(|e| imap_error("SELECT INBOX", e))?;
        Ok(Mailbox {
            session: Some(session),
            first_new_uid: inbox.uid_next.unwrap_or(1),
            seen: BTreeSet::new(),
            pending: Vec::new(),
            answered: BTreeSet::new(),
            idle_supported,
            command_timeout: timeout,
        })
    }

    /// Messages that arrived since [`Mailbox::open`] and were not returned before (or were
    /// [put back](Mailbox::put_back)), oldest first.
    pub async fn new_messages(&mut self) -> Result<Vec<Fetched>, FlowError> {
        let mut out = std::mem::take(&mut self.pending);
        let fresh = self.unseen_uids().await?;
        for uid in fresh {
            let raw = self.fetch(uid).await?;
            self.seen.insert(uid);
            out.push(Fetched { uid, raw });
        }
        Ok(out)
    }

    /// UIDs above the last one seen, not seen yet, in order (one `UID SEARCH`).
    async fn unseen_uids(&mut self) -> Result<Vec<Uid>, FlowError> {
        // Only UIDs above the last one seen: the answer stays small however long the MUA runs.
        let from = self.seen.last().map_or(self.first_new_uid, |last| {
            last.saturating_add(1).max(self.first_new_uid)
        });
        let query = format!("UID {from}:*");
        let limit = self.command_timeout;
        let session = self.session()?;
        let found = bounded(limit, "UID SEARCH", async {
            session
                .uid_search(&query)
                .await
                .map_err(|e| imap_error("UID SEARCH", e))
        })
        .await?;
        // RFC 3501 §6.4.8: `n:*` always matches the highest UID, even when it is below n.
        let mut fresh: Vec<Uid> = found
            .into_iter()
            .filter(|uid| *uid >= from && !self.seen.contains(uid))
            .collect();
        fresh.sort_unstable();
        Ok(fresh)
    }

    /// Hands back messages returned by [`Mailbox::new_messages`] but not looked at, so the next
    /// call returns them again (the MUA stops at the challenge it answers; a copy of it behind
    /// must still be judged, and ignored, next time).
    pub fn put_back(&mut self, unprocessed: Vec<Fetched>) {
        let mut rest = std::mem::take(&mut self.pending);
        self.pending = unprocessed;
        self.pending.append(&mut rest);
    }

    async fn fetch(&mut self, uid: Uid) -> Result<Vec<u8>, FlowError> {
        let limit = self.command_timeout;
        let session = self.session()?;
        let fetches: Vec<_> = bounded(limit, "UID FETCH", async {
            session
                .uid_fetch(uid.to_string(), "BODY.PEEK[]")
                .await
                .map_err(|e| imap_error("UID FETCH", e))?
                .try_collect()
                .await
                .map_err(|e| imap_error("UID FETCH", e))
        })
        .await?;
        fetches
            .iter()
            .find(|f| f.uid == Some(uid))
            .or(fetches.first())
            .and_then(|f| f.body())
            .map(<[u8]>::to_vec)
            .ok_or_else(|| imap_error("UID FETCH", format!("no body for UID {uid}")))
    }

    /// Waits until the server reports a change or `deadline` passes. Returns `false` at the
    /// deadline.
    pub async fn wait(&mut self, how: MailboxWait, deadline: Instant) -> Result<bool, FlowError> {
        let left = deadline.saturating_duration_since(Instant::now());
        if left.is_zero() {
            return Ok(false);
        }
        match how {
            MailboxWait::Poll(every) => {
                tokio::time::sleep(every.min(left)).await;
                Ok(Instant::now() < deadline)
            }
            MailboxWait::Idle if !self.idle_supported => {
                Box::pin(self.wait(MailboxWait::Poll(Duration::from_millis(100)), deadline)).await
            }
            MailboxWait::Idle => self.idle(left).await,
        }
    }

    async fn idle(&mut self, left: Duration) -> Result<bool, FlowError> {
        // A delivery the server reported during an earlier command (an untagged `* n EXISTS`
        // riding on a SEARCH or FETCH answer, RFC 3501 §7) is not reported again when IDLE
        // starts: async-imap parks such updates in its unsolicited channel, and IDLE would wait
        // for news already received. So: forget the parked updates, look once more, and idle
        // only when nothing is new (our server reports anything later at IDLE's start).
        while self.session()?.unsolicited_responses.try_recv().is_ok() {}
        if !self.unseen_uids().await?.is_empty() {
            return Ok(true);
        }
        // async-imap's IDLE consumes the session and gives it back at DONE.
        let session = self.session.take().ok_or_else(lost)?;
        let limit = self.command_timeout;
        let mut handle = session.idle();
        bounded(limit, "IDLE", async {
            handle.init().await.map_err(|e| imap_error("IDLE", e))
        })
        .await?;
        // The wait itself is bounded by `left`; async-imap answers Timeout then.
        let (wait, _stop) = handle.wait_with_timeout(left);
        let response = wait.await.map_err(|e| imap_error("IDLE", e))?;
        let session = bounded(limit, "DONE", async {
            handle.done().await.map_err(|e| imap_error("DONE", e))
        })
        .await?;
        self.session = Some(session);
        Ok(matches!(response, IdleResponse::NewData(_)))
    }

    /// NOOP (RFC 3501 §6.1.2): keeps the session alive and lets the server report changes.
    pub async fn noop(&mut self) -> Result<(), FlowError> {
        let limit = self.command_timeout;
        let session = self.session()?;
        bounded(limit, "NOOP", async {
            session.noop().await.map_err(|e| imap_error("NOOP", e))
        })
        .await
    }

    /// The token-part1 values replied to from this mailbox.
    pub fn answered(&self) -> &BTreeSet<String> {
        &self.answered
    }

    /// Records that the challenge `uid` carrying `token_part1` was replied to, and sets
    /// `\Answered` and `\Seen` on it (RFC 3501 §2.3.2), as an MUA does after replying.
    pub async fn mark_answered(&mut self, uid: Uid, token_part1: &str) -> Result<(), FlowError> {
        self.answered.insert(token_part1.to_owned());
        let limit = self.command_timeout;
        let session = self.session()?;
        bounded(limit, "UID STORE", async {
            let _updates: Vec<_> = session
                .uid_store(uid.to_string(), "+FLAGS (\\Answered \\Seen)")
                .await
                .map_err(|e| imap_error("UID STORE", e))?
                .try_collect()
                .await
                .map_err(|e| imap_error("UID STORE", e))?;
            Ok(())
        })
        .await
    }

    fn session(&mut self) -> Result<&mut Session, FlowError> {
        self.session.as_mut().ok_or_else(lost)
    }

    /// LOGOUT.
    pub async fn close(mut self) {
        let limit = self.command_timeout;
        if let Some(session) = self.session.as_mut() {
            let _ = tokio::time::timeout(limit, session.logout()).await;
        }
    }
}
