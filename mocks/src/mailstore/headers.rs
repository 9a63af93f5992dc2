//! The parsed header of a stored message, computed once and shared by every snapshot of it.
//!
//! A stored message's octets never change (only its flags do), so what IMAP needs from its
//! header — the fields in order, where each lies in the raw message (`HEADER.FIELDS`), and its
//! decoded value as text (`SEARCH` on header keys) — is parsed on first need with
//! mail-parser's header-only parser and kept with the message. Clones of a [`StoredMessage`]
//! (store snapshots) share the cache, so a mailbox's headers are parsed once, not once per
//! command.
//!
//! [`StoredMessage`]: super::StoredMessage

use std::fmt;
use std::ops::Range;
use std::sync::{Arc, OnceLock};

use mail_parser::{Address, HeaderValue, MessageParser};

/// One header field as mail-parser reads it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct HeaderField {
    /// The field name (mail-parser's spelling; compare case-insensitively).
    pub(crate) name: String,
    /// The whole field (name, colon, value, line ends) in the raw message.
    pub(crate) range: Range<usize>,
    /// The decoded value as text ([`value_text`]), lowercased (`str::to_lowercase`).
    pub(crate) text_lower: String,
}

/// A message's header fields, in order; none when mail-parser cannot read the message.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct ParsedHeaders {
    pub(crate) fields: Vec<HeaderField>,
}

impl ParsedHeaders {
    /// Parses the header of `raw` (the body is not decoded).
    pub(crate) fn parse(raw: &[u8]) -> Self {
        let Some(m) = MessageParser::default().parse_headers(raw) else {
            return Self::default();
        };
        let fields = m
            .headers()
            .iter()
            .map(|h| HeaderField {
                name: h.name.as_str().to_owned(),
                range: h.offset_field as usize..h.offset_end as usize,
                text_lower: value_text(&h.value).to_lowercase(),
            })
            .collect();
        Self { fields }
    }
}

/// The lazily parsed header of one stored message, shared by its clones. Two caches compare
/// equal always: the cache is a function of the raw octets, which the message compares.
#[derive(Clone, Default)]
pub(crate) struct HeaderCache(Arc<OnceLock<ParsedHeaders>>);

impl HeaderCache {
    /// The parsed header of `raw`, which must be the octets of the message this cache belongs
    /// to: parsed on the first call, shared afterwards.
    pub(crate) fn get(&self, raw: &[u8]) -> &ParsedHeaders {
        self.0.get_or_init(|| ParsedHeaders::parse(raw))
    }
}

impl fmt::Debug for HeaderCache {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(if self.0.get().is_some() {
            "HeaderCache(parsed)"
        } else {
            "HeaderCache(unparsed)"
        })
    }
}

impl PartialEq for HeaderCache {
    fn eq(&self, _: &Self) -> bool {
        true
    }
}

impl Eq for HeaderCache {}

/// A decoded header value as text, as SEARCH matches it: addresses as `name <address>`.
pub(crate) fn value_text(v: &HeaderValue<'_>) -> String {
    match v {
        HeaderValue::Text(t) => t.to_string(),
        HeaderValue::TextList(l) => l.join(" "),
        HeaderValue::Address(a) => address_text(a),
        HeaderValue::DateTime(d) => d.to_rfc822(),
        HeaderValue::ContentType(ct) => {
            let mut s = ct.ctype().to_owned();
            if let Some(sub) = ct.subtype() {
                s.push('/');
                s.push_str(sub);
            }
            s
        }
        _ => String::new(),
    }
}

fn address_text(a: &Address<'_>) -> String {
    a.iter()
        .map(|addr| match (&addr.name, &addr.address) {
            (Some(n), Some(a)) => format!("{n} <{a}>"),
            (None, Some(a)) => a.to_string(),
            (Some(n), None) => n.to_string(),
            (None, None) => String::new(),
        })
        .collect::<Vec<_>>()
        .join(", ")
}

#[cfg(test)]
mod tests {
    use time::OffsetDateTime;

    use super::*;
    use crate::mailstore::{INBOX, MailStore};

    const A: &str = "a@example.test";

    #[test]
    fn snapshots_share_one_parse_that_flags_and_expunges_leave_right() {
        let store = MailStore::new();
        store.add_user(A, "pw").unwrap();
        let at = OffsetDateTime::UNIX_EPOCH;
        let raw = b"From: Alice <alice@example.test>\r\nSubject: =?utf-8?q?Gr=C3=BC=C3=9Fe?= ACME\r\n\r\nbody\r\n";
        let uid = store.deliver(A, raw, at).unwrap();
        let first = store.message(A, INBOX, uid).unwrap();
        let parsed = first.headers();
        assert_eq!(parsed.fields.len(), 2);
        assert_eq!(parsed.fields[0].name, "From");
        assert_eq!(parsed.fields[0].text_lower, "alice <alice@example.test>");
        assert_eq!(parsed.fields[1].text_lower, "grüße acme");
        assert_eq!(
            &raw[parsed.fields[1].range.clone()],
            &raw[34..raw.len() - 8]
        );
        // A later snapshot, after a flag change, shares the same parse; a snapshot taken
        // before the change does not see it (the store copied the record, not the octets).
        let before = store.snapshot(A, INBOX).unwrap();
        store.add_flags(A, INBOX, uid, &["\\Seen"]).unwrap();
        assert!(!before[0].has_flag("\\Seen"));
        assert_eq!(before[0].raw.as_ptr(), first.raw.as_ptr());
        assert!(std::ptr::eq(parsed, before[0].headers()));
        let again = store.message(A, INBOX, uid).unwrap();
        assert!(again.has_flag("\\Seen"));
        assert!(std::ptr::eq(parsed, again.headers()));
        assert!(std::ptr::eq(
            parsed,
            store.messages(A, INBOX).unwrap()[0].headers()
        ));
        // Expunged and delivered again: a new record under a new UID, parsed afresh.
        store.add_flags(A, INBOX, uid, &["\\Deleted"]).unwrap();
        assert_eq!(store.expunge(A, INBOX).unwrap(), vec![uid]);
        let other = b"Subject: other\r\n\r\n";
        let uid2 = store.deliver(A, other, at).unwrap();
        assert_ne!(uid2, uid);
        let fresh = store.message(A, INBOX, uid2).unwrap();
        assert_eq!(fresh.headers().fields.len(), 1);
        assert_eq!(fresh.headers().fields[0].text_lower, "other");
        // The old snapshot still answers for its own octets.
        assert_eq!(first.headers().fields.len(), 2);
    }

    #[test]
    fn unreadable_input_has_no_fields() {
        assert_eq!(ParsedHeaders::parse(b""), ParsedHeaders::default());
    }
}
