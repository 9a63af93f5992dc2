//! The path a mail took, from its `Received:` trace fields (RFC 5321 §4.4), read with
//! mail-parser.

use mail_parser::{HeaderValue, MessageParser};

/// One hop: who handed the mail on, who took it, and how.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Hop {
    /// The sending host (`from`, else the HELO name); `?` when the field says neither.
    pub from: String,
    /// The receiving host; `?` when missing.
    pub by: String,
    /// The protocol keyword (`ESMTPSA`, `LMTP`, `UTF8SMTP`, …); `?` when missing.
    pub with: String,
}

/// The hops of `raw`, oldest first (each hop prepends its field), or `None` when the mail does
/// not parse.
pub fn hops(raw: &[u8]) -> Option<Vec<Hop>> {
    let message = MessageParser::default().parse(raw)?;
    let shown = |v: Option<String>| v.unwrap_or_else(|| "?".into());
    let mut hops: Vec<Hop> = message
        .header_values("Received")
        .filter_map(|v| match v {
            HeaderValue::Received(r) => Some(Hop {
                from: shown(r.from.as_ref().or(r.helo.as_ref()).map(ToString::to_string)),
                by: shown(r.by.as_ref().map(ToString::to_string)),
                with: shown(r.with.as_ref().map(ToString::to_string)),
            }),
            _ => None,
        })
        .collect();
    hops.reverse();
    Some(hops)
}
