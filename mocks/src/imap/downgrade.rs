//! What a client that did not `ENABLE UTF8=ACCEPT` sees of a message whose header holds raw
//! UTF-8 (an EAI message, RFC 6532).
//!
//! RFC 6855 §7: "When an IMAP server uses a mailbox format that supports UTF-8 headers and it
//! permits selection or examination of that mailbox without issuing "ENABLE UTF8=ACCEPT" first,
//! it is the responsibility of the server to comply with the IMAP4rev1 base specification
//! [RFC3501] and the Internet Message Format [RFC5322] with respect to all header information
//! transmitted over the wire." The server here creates a surrogate in the manner of RFC 6858
//! (simplified downgrading), which RFC 6855 names for this:
//!
//! - a header field that is ASCII is passed on untouched;
//! - in an address field, each display name becomes RFC 2047 encoded words; an address whose
//!   domain alone is non-ASCII gets its A-label form (the same mailbox); an address with a
//!   non-ASCII local part, which has no ASCII form, becomes an empty group whose display name
//!   (encoded words) carries the original, so the reader still sees who it was;
//! - any other field with non-ASCII is written as unstructured text in encoded words;
//! - the body is passed on as it is (8-bit bodies are not header information).
//!
//! The surrogate is made per FETCH and never stored: the UID, flags and internal date are the
//! message's; RFC822.SIZE and every section are the surrogate's, so they agree with each other.
//! Encoded words and folding are mail-builder's.

use bytes::Bytes;
use mail_builder::headers::Header;
use mail_builder::headers::address::Address as BuiltAddress;
use mail_builder::headers::text::Text;
use mail_parser::{Addr, Address, HeaderValue, MessageParser};

use crate::mailstore::{HeaderCache, StoredMessage};

/// Address fields (RFC 5322 §3.6.2, §3.6.3, §3.6.6).
const ADDRESS_FIELDS: [&str; 11] = [
    "from",
    "sender",
    "reply-to",
    "to",
    "cc",
    "bcc",
    "resent-from",
    "resent-sender",
    "resent-to",
    "resent-cc",
    "resent-bcc",
];

/// The ASCII surrogate of `msg`, or `None` when its header is ASCII already (the common case:
/// nothing is copied).
pub(crate) fn surrogate(msg: &StoredMessage) -> Option<StoredMessage> {
    let raw: &[u8] = &msg.raw;
    let parsed = MessageParser::default().parse_headers(raw)?;
    let header_end = parsed
        .headers()
        .last()
        .map_or(0, |h| (h.offset_end as usize).min(raw.len()));
    if raw[..header_end].is_ascii() {
        return None;
    }
    let mut out = Vec::with_capacity(raw.len() + raw.len() / 8);
    let mut copied_to = 0usize;
    for field in parsed.headers() {
        let (start, end) = (field.offset_field as usize, field.offset_end as usize);
        let Some(bytes) = raw.get(start..end) else {
            continue;
        };
        // Whatever lies between fields (nothing, normally) is kept.
        out.extend_from_slice(raw.get(copied_to..start).unwrap_or_default());
        copied_to = end;
        if bytes.is_ascii() {
            out.extend_from_slice(bytes);
            continue;
        }
        let name = field.name.as_str();
        out.extend_from_slice(name.as_bytes());
        out.extend_from_slice(b": ");
        let column = name.len() + 2;
        match &field.value {
            HeaderValue::Address(address)
                if ADDRESS_FIELDS.contains(&name.to_ascii_lowercase().as_str()) =>
            {
                ascii_addresses(address).write_header(&mut out, column);
            }
            _ => {
                let value = String::from_utf8_lossy(
                    raw.get(field.offset_start as usize..end)
                        .unwrap_or_default(),
                );
                let unfolded = value.replace("\r\n", "").replace('\n', "");
                Text::new(unfolded.trim()).write_header(&mut out, column);
            }
        }
    }
    out.extend_from_slice(raw.get(copied_to..).unwrap_or_default());
    Some(StoredMessage {
        size: out.len(),
        raw: Bytes::from(out),
        headers: HeaderCache::default(),
        ..msg.clone()
    })
}

/// An address list with no raw UTF-8 left (see the module doc).
fn ascii_addresses(address: &Address<'_>) -> BuiltAddress<'static> {
    let list: Vec<BuiltAddress<'static>> = match address {
        Address::List(list) => list.iter().map(ascii_mailbox).collect(),
        Address::Group(groups) => groups
            .iter()
            .map(|g| {
                let members = g.addresses.iter().map(ascii_mailbox).collect();
                BuiltAddress::new_group(g.name.as_deref().map(str::to_owned), members)
            })
            .collect(),
    };
    BuiltAddress::new_list(list)
}

fn ascii_mailbox(addr: &Addr<'_>) -> BuiltAddress<'static> {
    let name = addr.name.as_deref().map(str::to_owned);
    let Some(email) = addr.address.as_deref() else {
        return BuiltAddress::new_group(name, Vec::new());
    };
    let (local, domain) = crate::protocol::address::split(email).unwrap_or((email, ""));
    if local.is_ascii() {
        let domain = crate::protocol::address::domain_to_a_labels(domain)
            .unwrap_or_else(|_| domain.to_owned());
        let email = if domain.is_empty() {
            local.to_owned()
        } else {
            format!("{local}@{domain}")
        };
        return BuiltAddress::new_address(name, email);
    }
    // No ASCII form of this mailbox exists: show it, do not pretend to address it.
    let shown = match name {
        Some(n) => format!("{n} <{email}>"),
        None => email.to_owned(),
    };
    BuiltAddress::new_group(Some(shown), Vec::new())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn stored(raw: &[u8]) -> StoredMessage {
        StoredMessage {
            uid: 7,
            flags: Default::default(),
            recent: false,
            internal_date: time::OffsetDateTime::UNIX_EPOCH,
            size: raw.len(),
            raw: Bytes::copy_from_slice(raw),
            headers: Default::default(),
        }
    }

    #[test]
    fn an_ascii_header_is_left_alone() {
        let m = stored(b"From: a@example.test\r\nSubject: hi\r\n\r\nbody \xce\xb4\r\n");
        assert!(surrogate(&m).is_none(), "8-bit body, ASCII header");
    }

    #[test]
    fn an_eai_header_becomes_ascii_and_keeps_its_information() {
        let raw = "From: θέμα <θέμα@example.test>\r\nTo: Bob <bob@παράδειγμα.δοκιμή>, carol@example.test\r\n\
                   Subject: γεια ACME\r\nX-Plain: kept\r\n\r\nσώμα\r\n";
        let m = stored(raw.as_bytes());
        let s = surrogate(&m).expect("a surrogate");
        let body_at = s.raw.windows(4).position(|w| w == b"\r\n\r\n").unwrap() + 4;
        let header = std::str::from_utf8(&s.raw[..body_at]).expect("UTF-8");
        assert!(header.is_ascii(), "{header}");
        assert_eq!(s.size, s.raw.len());
        assert_eq!((s.uid, s.internal_date), (m.uid, m.internal_date));
        assert!(
            s.raw.ends_with("\r\n\r\nσώμα\r\n".as_bytes()),
            "the body is untouched"
        );
        assert!(header.contains("X-Plain: kept\r\n"), "{header}");
        assert!(
            header.contains("bob@xn--hxajbheg2az3al.xn--jxalpdlp"),
            "{header}"
        );
        assert!(header.contains("carol@example.test"), "{header}");
        // Read back with mail-parser: the words decode to the original text, and the mailbox
        // with a UTF-8 local part is an empty group named after it.
        let back = MessageParser::default().parse(&s.raw[..]).unwrap();
        assert_eq!(back.subject(), Some("γεια ACME"));
        let Some(Address::Group(groups)) = back.from() else {
            panic!("From is a group: {header}");
        };
        assert_eq!(groups[0].name.as_deref(), Some("θέμα <θέμα@example.test>"));
        assert!(groups[0].addresses.is_empty());
        let to = back.to().unwrap().first().unwrap();
        assert_eq!(to.name.as_deref(), Some("Bob"));
    }
}
