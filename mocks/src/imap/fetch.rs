//! FETCH data items (RFC 3501 §7.4.2) for one message: sections, ENVELOPE, BODYSTRUCTURE.
//! MIME structure and header offsets come from mail-parser; nothing here parses MIME by hand.

use std::collections::BTreeSet;
use std::ops::Range;

use mail_parser::{
    Address, HeaderName, Message, MessageParser, MessagePart, MimeHeaders, PartType,
};

use super::parse::{FetchAtt, Section};
use super::response::{Charset, Resp, flag_list};
use crate::mailstore::{ParsedHeaders, StoredMessage};

/// What the session knows about the message beyond the store snapshot.
pub(crate) struct View<'a> {
    pub(crate) seq: u32,
    pub(crate) msg: &'a StoredMessage,
    /// Current flags (after any implicit `\Seen`).
    pub(crate) flags: &'a BTreeSet<String>,
    /// `\Recent` in this session.
    pub(crate) recent: bool,
    pub(crate) charset: Charset,
}

/// Whether the items fetch body content without `.PEEK` (RFC 3501 §6.4.5: sets `\Seen`).
pub(crate) fn sets_seen(items: &[FetchAtt]) -> bool {
    items.iter().any(|a| {
        matches!(
            a,
            FetchAtt::Rfc822 | FetchAtt::Rfc822Text | FetchAtt::Body { peek: false, .. }
        )
    })
}

/// Parses the message with mail-parser (`None` only for input it cannot read at all).
pub(crate) fn parse_message(raw: &[u8]) -> Option<Message<'_>> {
    MessageParser::default().parse(raw)
}

/// `* seq FETCH (…)` for the items; `uid` and `flags` force UID / FLAGS into the answer (UID
/// commands, implicit `\Seen`).
pub(crate) fn render(v: &View<'_>, items: &[FetchAtt], uid: bool, flags: bool) -> Resp {
    let raw: &[u8] = &v.msg.raw;
    let plain = |a: &FetchAtt| {
        matches!(
            a,
            FetchAtt::Flags | FetchAtt::Uid | FetchAtt::InternalDate | FetchAtt::Rfc822Size
        )
    };
    // HEADER.FIELDS needs the header fields and their offsets only: the body is not decoded.
    let fields_only = |a: &FetchAtt| {
        matches!(
            a,
            FetchAtt::Body {
                section: Section::HeaderFields { .. },
                ..
            }
        )
    };
    // Only header fields asked for: they come from the message's header cache, no parse.
    let header_only = items.iter().all(|a| plain(a) || fields_only(a));
    let parsed = if header_only {
        None
    } else {
        parse_message(raw)
    };
    let mut r = Resp::new(&format!("* {} FETCH (", v.seq));
    let mut first = true;
    let mut sep = |r: &mut Resp| {
        if !first {
            r.raw(" ");
        }
        first = false;
    };
    let mut items: Vec<&FetchAtt> = items.iter().collect();
    if uid && !items.contains(&&FetchAtt::Uid) {
        items.insert(0, &FetchAtt::Uid);
    }
    if flags && !items.contains(&&FetchAtt::Flags) {
        items.push(&FetchAtt::Flags);
    }
    for att in items {
        sep(&mut r);
        match att {
            FetchAtt::Flags => {
                let recent = v.recent.then_some("\\Recent");
                let list = flag_list(v.flags.iter().map(String::as_str).chain(recent));
                r.raw(&format!("FLAGS {list}"));
            }
            FetchAtt::Uid => {
                r.raw(&format!("UID {}", v.msg.uid));
            }
            FetchAtt::InternalDate => {
                r.raw(&format!(
                    "INTERNALDATE \"{}\"",
                    internal_date(v.msg.internal_date)
                ));
            }
            FetchAtt::Rfc822Size => {
                r.raw(&format!("RFC822.SIZE {}", v.msg.size));
            }
            FetchAtt::Envelope => {
                r.raw("ENVELOPE ");
                envelope(&mut r, parsed.as_ref(), v.charset);
            }
            FetchAtt::BodyStructure { extensible } => {
                r.raw(if *extensible {
                    "BODYSTRUCTURE "
                } else {
                    "BODY "
                });
                match &parsed {
                    Some(m) => body_structure(&mut r, m, 0, *extensible, v.charset, 0),
                    None => basic_text(&mut r, raw.len(), count_lines(raw)),
                }
            }
            FetchAtt::Rfc822 => {
                r.raw("RFC822 ").literal(raw);
            }
            FetchAtt::Rfc822Header => {
                r.raw("RFC822.HEADER ")
                    .literal(header(raw, parsed.as_ref()));
            }
            FetchAtt::Rfc822Text => {
                r.raw("RFC822.TEXT ").literal(text(raw, parsed.as_ref()));
            }
            FetchAtt::Body {
                section, partial, ..
            } => {
                let content = match section {
                    Section::HeaderFields { not, names } if header_only => {
                        cached_header_fields(raw, v.msg.headers(), *not, names)
                    }
                    _ => section_bytes(raw, parsed.as_ref(), section),
                };
                r.raw(&format!("BODY[{}]", section_name(section)));
                match partial {
                    Some((start, count)) => {
                        let s = (*start as usize).min(content.len());
                        let e = s.saturating_add(*count as usize).min(content.len());
                        r.raw(&format!("<{start}> ")).literal(&content[s..e]);
                    }
                    None => {
                        r.raw(" ").literal(&content);
                    }
                }
            }
        }
    }
    r.raw(")");
    r
}

/// RFC 3501 `date-time`: `"dd-Mon-yyyy hh:mm:ss +zzzz"`.
pub(crate) fn internal_date(t: time::OffsetDateTime) -> String {
    const MONTHS: [&str; 12] = [
        "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
    ];
    let off = t.offset().whole_minutes();
    let sign = if off < 0 { '-' } else { '+' };
    let off = off.unsigned_abs();
    format!(
        "{:02}-{}-{:04} {:02}:{:02}:{:02} {sign}{:02}{:02}",
        t.day(),
        MONTHS[usize::from(u8::from(t.month())) - 1],
        t.year(),
        t.hour(),
        t.minute(),
        t.second(),
        off / 60,
        off % 60
    )
}

fn section_name(s: &Section) -> String {
    match s {
        Section::Full => String::new(),
        Section::Header => "HEADER".into(),
        Section::Text => "TEXT".into(),
        Section::Mime => "MIME".into(),
        Section::Part(path, inner) => {
            let numbers: Vec<String> = path.iter().map(u32::to_string).collect();
            let inner = section_name(inner);
            if inner.is_empty() {
                numbers.join(".")
            } else {
                format!("{}.{inner}", numbers.join("."))
            }
        }
        Section::HeaderFields { not, names } => format!(
            "HEADER.FIELDS{} ({})",
            if *not { ".NOT" } else { "" },
            names
                .iter()
                .map(|n| n.to_ascii_uppercase())
                .collect::<Vec<_>>()
                .join(" ")
        ),
    }
}

/// Where the body starts (after the blank line), per mail-parser.
fn body_offset(raw: &[u8], parsed: Option<&Message<'_>>) -> usize {
    parsed
        .map_or(raw.len(), |m| m.root_part().offset_body as usize)
        .min(raw.len())
}

/// The header section, including the blank line that ends it (RFC 3501 §6.4.5).
fn header<'r>(raw: &'r [u8], parsed: Option<&Message<'_>>) -> &'r [u8] {
    &raw[..body_offset(raw, parsed)]
}

fn text<'r>(raw: &'r [u8], parsed: Option<&Message<'_>>) -> &'r [u8] {
    &raw[body_offset(raw, parsed)..]
}

/// The octets of a section.
pub(crate) fn section_bytes(raw: &[u8], parsed: Option<&Message<'_>>, s: &Section) -> Vec<u8> {
    match s {
        Section::Full => raw.to_vec(),
        Section::Header => header(raw, parsed).to_vec(),
        Section::Text => text(raw, parsed).to_vec(),
        // Only valid after a part number (the parser sees to it).
        Section::Mime => Vec::new(),
        Section::Part(path, inner) => part_bytes(raw, path, inner).unwrap_or_default(),
        Section::HeaderFields { not, names } => {
            let fields = parsed.into_iter().flat_map(|m| {
                m.headers().iter().map(|h| {
                    (
                        h.name.as_str(),
                        h.offset_field as usize..h.offset_end as usize,
                    )
                })
            });
            header_fields(raw, fields, *not, names)
        }
    }
}

/// A located body part: its MIME header and its body, in the raw message of its level.
struct Located<'r> {
    mime: &'r [u8],
    body: &'r [u8],
    /// `message/rfc822` (or `message/global`): the body is a message of its own.
    message: bool,
}

/// The section `inner` of part `path` (RFC 3501 §6.4.5), `None` when there is no such part: the
/// client gets an empty string. `HEADER`, `TEXT` and `HEADER.FIELDS` after a part number apply
/// to the message a `message/rfc822` part encapsulates (parsed on its own, so offsets are
/// always those of the bytes at hand).
fn part_bytes(raw: &[u8], path: &[u32], inner: &Section) -> Option<Vec<u8>> {
    let located = locate(raw, path, 0)?;
    Some(match inner {
        Section::Full => located.body.to_vec(),
        Section::Mime => located.mime.to_vec(),
        Section::Part(..) => return None,
        other if located.message => {
            let nested = parse_message(located.body);
            section_bytes(located.body, nested.as_ref(), other)
        }
        _ => Vec::new(),
    })
}

/// Part `path` of the message `raw`: RFC 3501 §6.4.5, "every message has at least one part
/// number": a message that is not multipart has only part 1, its body; in a multipart, part n
/// is its n-th body part; the parts of an encapsulated message are numbered below its part.
fn locate<'r>(raw: &'r [u8], path: &[u32], depth: usize) -> Option<Located<'r>> {
    let (&n, rest) = path.split_first()?;
    if depth > 16 {
        return None;
    }
    let m = parse_message(raw)?;
    let root = m.parts.first()?;
    let id = match &root.body {
        PartType::Multipart(children) => *children.get((n as usize).checked_sub(1)?)? as usize,
        _ if n == 1 => 0,
        _ => return None,
    };
    descend(raw, &m, id, rest, depth)
}

fn descend<'r>(
    raw: &'r [u8],
    m: &Message<'_>,
    id: usize,
    rest: &[u32],
    depth: usize,
) -> Option<Located<'r>> {
    let part = m.parts.get(id)?;
    let message = part.content_type().is_some_and(|c| {
        c.ctype().eq_ignore_ascii_case("message")
            && c.subtype().is_some_and(|s| {
                s.eq_ignore_ascii_case("rfc822") || s.eq_ignore_ascii_case("global")
            })
    });
    // The root's "MIME header" is the message header; a body part's starts at its own fields.
    let mime = raw.get(part.offset_header as usize..part.offset_body as usize)?;
    let body = raw.get(part.offset_body as usize..part.offset_end as usize)?;
    let Some((&n, more)) = rest.split_first() else {
        return Some(Located {
            mime,
            body,
            message,
        });
    };
    match &part.body {
        PartType::Multipart(children) => {
            let child = *children.get((n as usize).checked_sub(1)?)? as usize;
            descend(raw, m, child, more, depth + 1)
        }
        _ if message => locate(body, rest, depth + 1),
        _ => None,
    }
}

/// `HEADER.FIELDS` / `HEADER.FIELDS.NOT` from the message's header cache.
fn cached_header_fields(raw: &[u8], h: &ParsedHeaders, not: bool, names: &[String]) -> Vec<u8> {
    let fields = h.fields.iter().map(|f| (f.name.as_str(), f.range.clone()));
    header_fields(raw, fields, not, names)
}

/// The raw fields (name, where in `raw`) named (`not`: not named) in `names`, in order.
fn header_fields<'n>(
    raw: &[u8],
    fields: impl Iterator<Item = (&'n str, Range<usize>)>,
    not: bool,
    names: &[String],
) -> Vec<u8> {
    let mut out = Vec::new();
    for (name, range) in fields {
        let wanted = names.iter().any(|n| n.eq_ignore_ascii_case(name));
        if wanted != not
            && let Some(field) = raw.get(range)
        {
            out.extend_from_slice(field);
        }
    }
    // RFC 3501 §6.4.5: the subset includes the blank line that ends the header.
    out.extend_from_slice(b"\r\n");
    out
}

/// A header field's raw value, unfolded and trimmed (RFC 5322 §2.2.3).
fn raw_value(m: &Message<'_>, name: HeaderName<'_>) -> Option<String> {
    let v = m.header_raw(name)?;
    Some(v.replace("\r\n", "").replace('\n', "").trim().to_owned())
}

/// RFC 3501 §7.4.2 ENVELOPE.
fn envelope(r: &mut Resp, m: Option<&Message<'_>>, cs: Charset) {
    let Some(m) = m else {
        r.raw("(NIL NIL NIL NIL NIL NIL NIL NIL NIL NIL)");
        return;
    };
    let text = |r: &mut Resp, name: HeaderName<'_>| {
        let v = raw_value(m, name);
        r.nstring(v.as_deref().map(str::as_bytes), cs);
    };
    r.raw("(");
    text(r, HeaderName::Date);
    r.raw(" ");
    text(r, HeaderName::Subject);
    let from = m.from();
    for (addr, fallback) in [
        (from, None),
        (m.sender(), from),
        (m.reply_to(), from),
        (m.to(), None),
        (m.cc(), None),
        (m.bcc(), None),
    ] {
        r.raw(" ");
        addresses(r, addr.or(fallback), cs);
    }
    r.raw(" ");
    text(r, HeaderName::InReplyTo);
    r.raw(" ");
    text(r, HeaderName::MessageId);
    r.raw(")");
}

/// A display name as the ENVELOPE shows it. mail-parser hands names over decoded; a client
/// without UTF8=ACCEPT gets a non-ASCII one as RFC 2047 encoded words again (as the header
/// carried it), never as raw UTF-8 (RFC 6855 §7).
fn phrase(r: &mut Resp, name: Option<&str>, cs: Charset) {
    match name {
        Some(n) if cs == Charset::Ascii && !n.is_ascii() => {
            let mut out = Vec::new();
            mail_builder::headers::Header::write_header(
                &mail_builder::headers::text::Text::new(n),
                &mut out,
                0,
            );
            let words = String::from_utf8_lossy(&out).replace("\r\n", "");
            r.string(words.trim().as_bytes(), cs);
        }
        _ => {
            r.nstring(name.map(str::as_bytes), cs);
        }
    }
}

fn addresses(r: &mut Resp, a: Option<&Address<'_>>, cs: Charset) {
    let one = |r: &mut Resp, name: Option<&str>, address: Option<&str>| {
        let (local, host) = match address.and_then(crate::protocol::address::split) {
            Some((l, h)) => (Some(l), Some(h)),
            None => (address, None),
        };
        r.raw("(");
        phrase(r, name, cs);
        r.raw(" NIL ");
        r.nstring(local.map(str::as_bytes), cs);
        r.raw(" ");
        r.nstring(host.map(str::as_bytes), cs);
        r.raw(")");
    };
    match a {
        None => {
            r.raw("NIL");
        }
        Some(Address::List(list)) if list.is_empty() => {
            r.raw("NIL");
        }
        Some(Address::List(list)) => {
            r.raw("(");
            for addr in list {
                one(r, addr.name.as_deref(), addr.address.as_deref());
            }
            r.raw(")");
        }
        Some(Address::Group(groups)) => {
            r.raw("(");
            for g in groups {
                // RFC 3501 §7.4.2: a group is (NIL NIL "name" NIL) … (NIL NIL NIL NIL).
                if let Some(name) = g.name.as_deref() {
                    r.raw("(NIL NIL ");
                    phrase(r, Some(name), cs);
                    r.raw(" NIL)");
                }
                for addr in &g.addresses {
                    one(r, addr.name.as_deref(), addr.address.as_deref());
                }
                if g.name.is_some() {
                    r.raw("(NIL NIL NIL NIL)");
                }
            }
            r.raw(")");
        }
    }
}

fn count_lines(b: &[u8]) -> usize {
    b.iter().filter(|&&c| c == b'\n').count()
}

fn basic_text(r: &mut Resp, size: usize, lines: usize) {
    r.raw(&format!(
        "(\"TEXT\" \"PLAIN\" (\"CHARSET\" \"US-ASCII\") NIL NIL \"7BIT\" {size} {lines})"
    ));
}

/// RFC 3501 §7.4.2 BODY / BODYSTRUCTURE from mail-parser's parts (depth-bounded).
fn body_structure(r: &mut Resp, m: &Message<'_>, id: usize, ext: bool, cs: Charset, depth: usize) {
    let Some(part) = m.parts.get(id) else {
        r.raw("NIL");
        return;
    };
    let ct = part.content_type();
    let ctype = ct.map_or("text", |c| c.ctype()).to_ascii_uppercase();
    let subtype = ct.and_then(|c| c.subtype()).map_or_else(
        || {
            if ctype == "TEXT" {
                "PLAIN".into()
            } else {
                String::new()
            }
        },
        str::to_ascii_uppercase,
    );
    if let PartType::Multipart(children) = &part.body {
        r.raw("(");
        if depth < 16 {
            for &child in children {
                body_structure(r, m, child as usize, ext, cs, depth + 1);
            }
        }
        if children.is_empty() || depth >= 16 {
            basic_text(r, 0, 0);
        }
        r.raw(" ").string(subtype.as_bytes(), cs);
        if ext {
            r.raw(" ");
            params(r, part, cs);
            r.raw(" NIL NIL NIL");
        }
        r.raw(")");
        return;
    }
    let raw = m.raw_message.as_ref();
    let body = raw
        .get(part.offset_body as usize..part.offset_end as usize)
        .unwrap_or_default();
    r.raw("(").string(ctype.as_bytes(), cs).raw(" ");
    r.string(subtype.as_bytes(), cs).raw(" ");
    params(r, part, cs);
    r.raw(" ");
    r.nstring(part.content_id().map(str::as_bytes), cs).raw(" ");
    r.nstring(part.content_description().map(str::as_bytes), cs)
        .raw(" ");
    let cte = part
        .content_transfer_encoding()
        .unwrap_or("7BIT")
        .to_ascii_uppercase();
    r.string(cte.as_bytes(), cs)
        .raw(&format!(" {}", body.len()));
    if ctype == "TEXT" {
        r.raw(&format!(" {}", count_lines(body)));
    }
    if ctype == "MESSAGE" && matches!(subtype.as_str(), "RFC822" | "GLOBAL") {
        // RFC 3501 §7.4.2: a MESSAGE/RFC822 body also has the encapsulated message's envelope,
        // its body structure and the size in lines.
        let nested = parse_message(body);
        r.raw(" ");
        envelope(r, nested.as_ref(), cs);
        r.raw(" ");
        match &nested {
            Some(n) if depth < 16 => body_structure(r, n, 0, ext, cs, depth + 1),
            _ => basic_text(r, body.len(), count_lines(body)),
        }
        r.raw(&format!(" {}", count_lines(body)));
    }
    if ext {
        r.raw(" NIL NIL NIL NIL");
    }
    r.raw(")");
}

fn params(r: &mut Resp, part: &MessagePart<'_>, cs: Charset) {
    let attrs = part
        .content_type()
        .and_then(|c| c.attributes())
        .unwrap_or_default();
    if attrs.is_empty() {
        r.raw("NIL");
        return;
    }
    r.raw("(");
    for (i, a) in attrs.iter().enumerate() {
        if i > 0 {
            r.raw(" ");
        }
        r.string(a.name.to_ascii_uppercase().as_bytes(), cs)
            .raw(" ")
            .string(a.value.as_bytes(), cs);
    }
    r.raw(")");
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    const MSG: &[u8] = b"From: Alice <alice@example.test>\r\nTo: bob@example.test\r\nSubject: ACME:\r\n tok\r\nX-A: 1\r\n\r\nbody line\r\n";

    #[test]
    fn sections_from_mail_parser_offsets() {
        let m = parse_message(MSG).unwrap();
        let h = section_bytes(MSG, Some(&m), &Section::Header);
        assert!(
            h.ends_with(b"X-A: 1\r\n\r\n"),
            "{}",
            String::from_utf8_lossy(&h)
        );
        assert_eq!(
            section_bytes(MSG, Some(&m), &Section::Text),
            b"body line\r\n"
        );
        let f = section_bytes(
            MSG,
            Some(&m),
            &Section::HeaderFields {
                not: false,
                names: vec!["subject".into(), "x-a".into()],
            },
        );
        assert_eq!(f, b"Subject: ACME:\r\n tok\r\nX-A: 1\r\n\r\n");
        let f = section_bytes(
            MSG,
            Some(&m),
            &Section::HeaderFields {
                not: true,
                names: vec!["subject".into(), "x-a".into(), "to".into()],
            },
        );
        assert_eq!(f, b"From: Alice <alice@example.test>\r\n\r\n");
    }

    /// Messages whose header is unusual: the header-only parse must give what the full parse
    /// gives wherever it is used (HEADER.FIELDS, SEARCH header keys).
    pub(crate) const ODD: [&[u8]; 7] = [
        MSG,
        b"Subject: no blank line and no body",
        b"\r\nbody only, no header\r\n",
        b"",
        b"From: a@b.test\nSubject: bare LF\n\nbody\n",
        b"Subject: =?utf-8?q?Gr=C3=BC=C3=9Fe?=\r\nContent-Type: multipart/mixed; boundary=x\r\n\r\n--x\r\nSubject: inner\r\n\r\npart\r\n--x--\r\n",
        b"Subject: caf\xc3\xa9 8-bit\r\nX-A: 1\r\n\r\nbody\r\n",
    ];

    #[test]
    fn header_fields_from_the_header_cache_match_the_full_parse() {
        let mut nonempty = 0;
        for raw in ODD {
            let full = parse_message(raw);
            let cached = ParsedHeaders::parse(raw);
            for not in [false, true] {
                let names: Vec<String> = vec!["subject".into(), "from".into()];
                let s = Section::HeaderFields {
                    not,
                    names: names.clone(),
                };
                let want = section_bytes(raw, full.as_ref(), &s);
                assert_eq!(
                    want,
                    cached_header_fields(raw, &cached, not, &names),
                    "{}",
                    String::from_utf8_lossy(raw)
                );
                nonempty += usize::from(want.len() > 2);
            }
        }
        assert!(nonempty >= ODD.len(), "{nonempty}");
    }

    #[test]
    fn envelope_shape() {
        let m = parse_message(MSG).unwrap();
        let mut r = Resp::default();
        envelope(&mut r, Some(&m), Charset::Ascii);
        assert_eq!(
            r.shown,
            "(NIL \"ACME: tok\" ((\"Alice\" NIL \"alice\" \"example.test\")) \
             ((\"Alice\" NIL \"alice\" \"example.test\")) ((\"Alice\" NIL \"alice\" \"example.test\")) \
             ((NIL NIL \"bob\" \"example.test\")) NIL NIL NIL NIL)"
        );
    }

    const MULTI: &[u8] = b"From: a@example.test\r\nSubject: outer\r\nContent-Type: multipart/mixed; boundary=b\r\n\r\n--b\r\nContent-Type: text/plain\r\n\r\nfirst part\r\n--b\r\nContent-Type: message/rfc822\r\n\r\nSubject: inner\r\nContent-Type: multipart/alternative; boundary=c\r\n\r\n--c\r\nContent-Type: text/plain\r\n\r\ninner plain\r\n--c\r\nContent-Type: text/html\r\n\r\n<p>inner</p>\r\n--c--\r\n\r\n--b--\r\n";

    fn part(raw: &[u8], path: &[u32], inner: Section) -> String {
        let s = Section::Part(path.to_vec(), Box::new(inner));
        String::from_utf8(section_bytes(raw, None, &s)).unwrap()
    }

    #[test]
    fn part_sections_follow_rfc_3501_numbering() {
        assert_eq!(part(MULTI, &[1], Section::Full), "first part");
        assert_eq!(
            part(MULTI, &[1], Section::Mime),
            "Content-Type: text/plain\r\n\r\n"
        );
        assert_eq!(
            part(MULTI, &[2], Section::Header),
            "Subject: inner\r\nContent-Type: multipart/alternative; boundary=c\r\n\r\n"
        );
        assert_eq!(part(MULTI, &[2, 1], Section::Full), "inner plain");
        assert_eq!(part(MULTI, &[2, 2], Section::Full), "<p>inner</p>");
        assert_eq!(part(MULTI, &[3], Section::Full), "", "no part 3");
        assert_eq!(
            part(MULTI, &[1, 1], Section::Full),
            "",
            "a leaf has no parts"
        );
        // A message that is not multipart has exactly part 1: its body.
        assert_eq!(part(MSG, &[1], Section::Full), "body line\r\n");
        assert_eq!(part(MSG, &[2], Section::Full), "");
        let m = parse_message(MULTI).unwrap();
        let mut r = Resp::default();
        body_structure(&mut r, &m, 0, false, Charset::Ascii, 0);
        assert!(
            r.shown
                .contains("\"MESSAGE\" \"RFC822\" NIL NIL NIL \"7BIT\""),
            "{}",
            r.shown
        );
        assert!(
            r.shown.contains("\"inner\""),
            "the encapsulated envelope: {}",
            r.shown
        );
        assert!(r.shown.contains("\"ALTERNATIVE\""), "{}", r.shown);
        assert_eq!(
            section_name(&Section::Part(vec![2, 1], Box::new(Section::Mime))),
            "2.1.MIME"
        );
    }

    #[test]
    fn dates_and_structure() {
        let t = time::macros::datetime!(1996-07-17 02:44:25 -7);
        assert_eq!(internal_date(t), "17-Jul-1996 02:44:25 -0700");
        let m = parse_message(MSG).unwrap();
        let mut r = Resp::default();
        body_structure(&mut r, &m, 0, false, Charset::Ascii, 0);
        assert_eq!(r.shown, "(\"TEXT\" \"PLAIN\" NIL NIL NIL \"7BIT\" 11 1)");
    }
}
