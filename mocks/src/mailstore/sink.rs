//! [`StoreSink`]: the [`MailSink`] an LMTP server (RFC 2033) drives for final delivery into the
//! [`MailStore`].

use bytes::Bytes;

use crate::mail::{Incoming, MailSink, Reply, Session};

use super::{INBOX, MailStore, StoreError};

/// Final delivery into each recipient's `INBOX`, with `Return-Path:` prepended.
#[derive(Debug, Clone)]
pub struct StoreSink {
    store: MailStore,
}

impl StoreSink {
    /// A sink delivering into `store`.
    pub fn new(store: MailStore) -> Self {
        StoreSink { store }
    }

    /// The store behind the sink.
    pub fn store(&self) -> &MailStore {
        &self.store
    }
}

/// The delivered copy: `Return-Path:` (RFC 5321 §4.4: "When the delivery SMTP server makes
/// the "final delivery" of a message, it inserts a return-path line at the beginning of the mail
/// data", preserving the reverse-path, empty for the null reverse-path: `Return-Path: <>`), the
/// trace field, then the message, written once into a buffer of the right size (the store keeps
/// that buffer without copying it again). CR and LF are dropped from the reverse-path so an
/// envelope value cannot inject header fields.
fn final_copy(mail_from: &str, trace: &str, data: &[u8]) -> Bytes {
    let clean: String = mail_from
        .chars()
        .filter(|c| *c != '\r' && *c != '\n')
        .collect();
    let mut out = Vec::with_capacity(18 + clean.len() + trace.len() + data.len());
    out.extend_from_slice(b"Return-Path: <");
    out.extend_from_slice(clean.as_bytes());
    out.extend_from_slice(b">\r\n");
    out.extend_from_slice(trace.as_bytes());
    out.extend_from_slice(data);
    Bytes::from(out)
}

/// The reply for a store refusal (RFC 3463 codes).
fn reply_for(rcpt: &str, err: &StoreError) -> Reply {
    match err {
        StoreError::NoSuchUser(_) | StoreError::BadAddress(..) => Reply::no_such_user(rcpt),
        // RFC 3463 §3.3 X.2.2 "Mailbox full"; RFC 5321 §4.2.2 452 is the transient form.
        StoreError::MailboxFull { .. } | StoreError::UidsExhausted => {
            Reply::new(452, (4, 2, 2), format!("<{rcpt}>: mailbox full"))
        }
        // RFC 3463 §3.4 X.3.1 "Mail system full": the world quota, not this mailbox, is what
        // is exhausted; 452 is RFC 5321's "insufficient system storage".
        StoreError::StoreFull { .. } => {
            Reply::new(452, (4, 3, 1), format!("<{rcpt}>: mail system full"))
        }
        // RFC 3463 §3.4 X.3.4 "Message too big for system"; 552 per RFC 5321 §4.5.3.1.10.
        StoreError::MessageTooLarge { .. } => {
            Reply::new(552, (5, 3, 4), format!("<{rcpt}>: message too big"))
        }
        other => Reply::try_later(format!("<{rcpt}>: {other}")),
    }
}

#[async_trait::async_trait]
impl MailSink for StoreSink {
    /// A user of the store whose INBOX and the store have room now: a full mailbox or store is
    /// refused here, before the client sends the data (the delivery checks again).
    async fn check_recipient(&self, rcpt: &str, _session: &Session) -> Result<(), Reply> {
        self.store.check_room(rcpt).map_err(|e| reply_for(rcpt, &e))
    }

    /// One reply per recipient, in envelope order (RFC 2033 §4.2). Every recipient gets the
    /// same octets, written once: the store keeps one allocation for the message however many
    /// recipients it has (each mailbox counts its octets against the quota).
    async fn deliver(&self, message: Incoming) -> Vec<Result<(), Reply>> {
        // LMTP is final delivery (RFC 2033 §4.2): the copy gets the LMTP server's trace field,
        // then the Return-Path (RFC 5321 §4.4). The trace field names the recipient only when
        // there is one: RFC 5321 §4.4, "If the FOR clause appears, it MUST contain exactly one
        // <path> entry, even when multiple RCPT commands have been given."
        let trace = message.received_field(&message.session.server_name, None);
        let data = final_copy(&message.envelope.mail_from, &trace, &message.data);
        message
            .envelope
            .rcpt_to
            .iter()
            .map(|rcpt| {
                self.store
                    .deliver_bytes(rcpt, INBOX, data.clone(), message.received_at)
                    .map(|_uid| ())
                    .map_err(|e| reply_for(rcpt, &e))
            })
            .collect()
    }
}
