//! What the mail servers share: the envelope of a message, SMTP replies, and the two hooks a
//! server calls (a [`MailSink`] that decides on recipients and takes delivered messages, and an
//! [`Authenticator`] for Submission). The SMTP/LMTP engine (`smtp`), the relays, the mail store
//! and the CA's inbound mail all meet here.

pub mod acme;

use std::net::SocketAddr;

use bytes::Bytes;

use time::OffsetDateTime;

/// An SMTP reply: a code, an RFC 3463 enhanced status code, and text.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Reply {
    /// The three-digit code (RFC 5321 §4.2).
    pub code: u16,
    /// The RFC 3463 enhanced status code (`class.subject.detail`), when ENHANCEDSTATUSCODES is on.
    pub enhanced: Option<(u8, u16, u16)>,
    /// Human-readable text, one line (no CR or LF).
    pub text: String,
}

impl Reply {
    /// A reply with an enhanced status code.
    pub fn new(code: u16, enhanced: (u8, u16, u16), text: impl Into<String>) -> Self {
        Reply {
            code,
            enhanced: Some(enhanced),
            text: text.into(),
        }
    }

    /// 250 2.0.0.
    pub fn ok(text: impl Into<String>) -> Self {
        Self::new(250, (2, 0, 0), text)
    }

    /// 550 5.1.1: no such user.
    pub fn no_such_user(rcpt: &str) -> Self {
        Self::new(550, (5, 1, 1), format!("<{rcpt}>: no such mailbox here"))
    }

    /// 451 4.3.0: try again later.
    pub fn try_later(text: impl Into<String>) -> Self {
        Self::new(451, (4, 3, 0), text)
    }

    /// Whether this is a 2xx.
    pub fn is_positive(&self) -> bool {
        (200..300).contains(&self.code)
    }

    /// Whether this is a 4xx.
    pub fn is_transient(&self) -> bool {
        (400..500).contains(&self.code)
    }
}

impl std::fmt::Display for Reply {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self.enhanced {
            Some((c, s, d)) => write!(f, "{} {c}.{s}.{d} {}", self.code, self.text),
            None => write!(f, "{} {}", self.code, self.text),
        }
    }
}

/// The envelope of one transaction (RFC 5321 §2.3.1).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Envelope {
    /// `MAIL FROM` address, without angle brackets; empty for the null reverse-path.
    pub mail_from: String,
    /// `RCPT TO` addresses that were accepted, in order.
    pub rcpt_to: Vec<String>,
    /// `MAIL FROM ... SMTPUTF8` (RFC 6531 §3.4).
    pub smtputf8: bool,
    /// `BODY=8BITMIME` (RFC 6152).
    pub body_8bit: bool,
}

/// What a server knows about the session a message came in on.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Session {
    /// The peer.
    pub peer: SocketAddr,
    /// The EHLO/HELO/LHLO argument.
    pub helo: String,
    /// The authenticated user (Submission), if any.
    pub authenticated_as: Option<String>,
    /// Whether the session is under TLS (STARTTLS or implicit).
    pub tls: bool,
    /// The server's own name (for Received fields).
    pub server_name: String,
    /// `ESMTP`, `ESMTPS`, `ESMTPSA`, `LMTP`, `LMTPS` … (RFC 3848 `with` keywords).
    pub protocol: String,
}

/// A message accepted after DATA.
#[derive(Debug, Clone)]
pub struct Incoming {
    /// The envelope.
    pub envelope: Envelope,
    /// The message as received: CRLF line endings, dot-stuffing removed, no final `.` line.
    /// Reference-counted, so every recipient, copy and hop that keeps the message shares these
    /// octets instead of copying them.
    pub data: Bytes,
    /// The session.
    pub session: Session,
    /// When the end of data arrived (world clock).
    pub received_at: OffsetDateTime,
}

impl Incoming {
    /// RFC 5321 §4.4: the trace field a server prepends when it accepts a message for relay or
    /// delivery ("it MUST insert trace ... information at the beginning of the message
    /// content"), with the RFC 3848 `with` keyword of the session, the queue id when known, and
    /// a `for` clause when the message goes to one recipient (§4.4: never more than one).
    pub fn received_field(&self, by: &str, id: Option<u64>) -> String {
        match self.envelope.rcpt_to.as_slice() {
            [one] => self.received_field_for(by, id, Some(one)),
            _ => self.received_field_for(by, id, None),
        }
    }

    /// [`Incoming::received_field`] with the `for` clause naming `rcpt` (final delivery writes
    /// one copy per recipient).
    pub fn received_field_for(&self, by: &str, id: Option<u64>, rcpt: Option<&str>) -> String {
        let date =
            mail_builder::headers::date::Date::new(self.received_at.unix_timestamp()).to_rfc822();
        let rcpt = rcpt.map(|r| format!("\r\n\tfor <{r}>")).unwrap_or_default();
        let id = id.map(|id| format!(" id {id:08X}")).unwrap_or_default();
        format!(
            "Received: from {helo} ([{ip}])\r\n\tby {by} with {proto}{id}{rcpt};\r\n\t{date}\r\n",
            helo = self.session.helo,
            ip = self.session.peer.ip(),
            proto = self.session.protocol,
        )
    }
}

/// Where a server's accepted mail goes, and who may receive it.
///
/// MX: the mail store (through LMTP) or the CA's inbox; relay: the next hop; LMTP: a mailbox.
#[async_trait::async_trait]
pub trait MailSink: Send + Sync + 'static {
    /// Called at RCPT TO. `Ok` accepts the recipient; `Err` is the reply (550 5.1.1, 551, 451).
    async fn check_recipient(&self, rcpt: &str, session: &Session) -> Result<(), Reply>;

    /// Called at the end of DATA with the accepted recipients. Returns one reply per recipient
    /// in envelope order: SMTP answers with the first failure (or 250 if all succeed), LMTP
    /// answers each (RFC 2033 §4.2).
    async fn deliver(&self, message: Incoming) -> Vec<Result<(), Reply>>;
}

/// Who may use Submission, and which addresses each user may send as.
pub trait Authenticator: Send + Sync + 'static {
    /// Checks a user name and password (AUTH PLAIN / LOGIN); returns the user's canonical name.
    fn authenticate(&self, user: &str, password: &str) -> Option<String>;

    /// Whether `user` may use `address` as MAIL FROM (and as the header From).
    fn may_send_as(&self, user: &str, address: &str) -> bool;
}
