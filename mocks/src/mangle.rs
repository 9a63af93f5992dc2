//! What real relays do to messages in transit: pure functions over raw bytes.
//!
//! mail-parser locates header fields, MIME parts and their bodies; the edits are byte splices
//! at those offsets (applied back to front), with mail-parser's decoders and mail-builder's
//! encoders for transfer encodings. Nothing is re-serialised, so every byte a mangle does not
//! mean to touch stays as it was.
//!
//! # Which DKIM signatures survive (RFC 6376 §3.4, proven in `tests/mocks/mangle.rs`)
//!
//! | Mangle | relaxed/relaxed | simple/simple | why |
//! |---|---|---|---|
//! | `SubjectTag` | breaks if Subject ∈ `h=` | same | the Subject value changes (any canonicalization) |
//! | `Footer` | breaks | breaks | the body hash changes. `l=` (RFC 6376 §3.5) would let it through in theory, but mail-auth refuses every `l=` signature (`Neutral`, "Insecure 'l=' tag", RFC 6376 §8.2) |
//! | `ReencodeQuotedPrintable` | breaks | breaks | body octets change (whenever QP differs from the original: 8-bit text, `=`, long lines), and Content-Transfer-Encoding changes |
//! | `ReencodeBase64` | breaks | breaks | body octets and Content-Transfer-Encoding change |
//! | `RefoldHeaders` | survives | breaks if a refolded field ∈ `h=` | relaxed header canonicalization unfolds and compresses WSP (§3.4.2); simple does not (§3.4.1) |
//! | `LfLineEndings` | survives | breaks | mail-auth (the verifier here) hashes LF-only body lines as CRLF lines under both body canonicalizations, and relaxed header canonicalization ends each field with CRLF; simple header canonicalization hashes the field octets as they are, so the bare LF changes the hash. Converting back to CRLF (as an MTA does on the next SMTP hop, RFC 5321 §2.3.8) restores the signed octets exactly, and then every signature verifies |
//! | `AddHeader(n, _)` | breaks if `n` ∈ `h=` | same | a field signed as absent (RFC 6376 §5.4, e.g. List-Id from `DKIM_SHOULD_SIGN`) now exists |

use mail_builder::encoders::base64::Base64Encoder;
use mail_builder::encoders::quoted_printable::QuotedPrintableEncoder;
use mail_parser::decoders::base64::base64_decode;
use mail_parser::decoders::quoted_printable::quoted_printable_decode;
use mail_parser::{Encoding, Message, MessageParser, MessagePart, MimeHeaders, PartType};
use serde::{Deserialize, Serialize};

use crate::dkim::Canonicalization;

/// Largest message a mangle reads.
pub const MAX_MANGLE_OCTETS: usize = 50 * 1024 * 1024;
/// The column [`Mangle::RefoldHeaders`] folds at (RFC 5322 §2.1.1 recommends 78; relays that
/// refold use their own).
pub const REFOLD_COLUMN: usize = 40;
/// The fields [`Mangle::RefoldHeaders`] unfolds and refolds. DKIM-Signature is deliberately not
/// among them: relays that rewrite it are rare, and then no canonicalization helps.
pub const REFOLDED_FIELDS: &[&str] = &["Subject", "From", "To", "Cc", "Reply-To", "References"];
/// RFC 5322 §2.1.1: a line is at most 998 characters; a header value added is bounded by it.
const MAX_LINE: usize = 998;

/// One thing a relay does to a message.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Mangle {
    /// Prefix the Subject (e.g. `"[EXT] "`); a message without Subject gets one. A Subject that
    /// already starts with the tag is left alone (gateways do not tag twice).
    SubjectTag(String),
    /// Append lines to the first text/plain part (the top-level body or inside a multipart),
    /// keeping its transfer encoding and the MIME structure.
    Footer(String),
    /// Re-encode every text/* leaf part as quoted-printable (RFC 2045 §6.7).
    ReencodeQuotedPrintable,
    /// Re-encode every text/* leaf part as base64 (RFC 2045 §6.8).
    ReencodeBase64,
    /// Unfold and refold [`REFOLDED_FIELDS`] at [`REFOLD_COLUMN`] (RFC 5322 §2.2.3).
    RefoldHeaders,
    /// Every CRLF becomes LF (a Unix MDA writing mbox / Maildir).
    LfLineEndings,
    /// Prepend a header field (`List-Id`, `X-Spam-Status`, …).
    AddHeader(String, String),
}

/// Why a mangle could not be applied.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum MangleError {
    /// mail-parser finds no message in the input.
    #[error("mangle: not an e-mail message")]
    NotAMessage,
    /// Over [`MAX_MANGLE_OCTETS`].
    #[error("mangle: message of {0} octets is too large")]
    TooLarge(usize),
    /// No text part to add a footer to or to re-encode.
    #[error("mangle: no text part")]
    NoTextPart,
    /// A header name outside RFC 5322 §3.6.8 `ftext`, or empty.
    #[error("mangle: bad header name {0:?}")]
    BadHeaderName(String),
    /// A header value or tag holding CR/LF, or longer than a line.
    #[error("mangle: bad header value {0:?}")]
    BadHeaderValue(String),
    /// A non-ASCII footer for a part whose charset is not UTF-8.
    #[error("mangle: footer is not ASCII and the part's charset is {0:?}")]
    FooterCharset(String),
    /// The part's transfer encoding does not decode.
    #[error("mangle: part body does not decode as {0}")]
    Decode(&'static str),
    /// mail-parser's offsets do not describe the input (a malformed message).
    #[error("mangle: message structure is not usable")]
    Structure,
}

impl Mangle {
    /// A short name: `subject-tag`, `footer`, … (the serde tag).
    pub fn name(&self) -> &'static str {
        match self {
            Mangle::SubjectTag(_) => "subject-tag",
            Mangle::Footer(_) => "footer",
            Mangle::ReencodeQuotedPrintable => "reencode-quoted-printable",
            Mangle::ReencodeBase64 => "reencode-base64",
            Mangle::RefoldHeaders => "refold-headers",
            Mangle::LfLineEndings => "lf-line-endings",
            Mangle::AddHeader(..) => "add-header",
        }
    }

    /// The documented claim: does a signature with `c=<header>/<body>` over `signed` (its
    /// `h=`) still verify after this mangle, as mail-auth verifies the mangled bytes?
    ///
    /// Assumptions, held by the tests' messages: a signed refolded field is long enough to be
    /// folded; re-encoding changes the body octets (8-bit text); no `l=`.
    /// `LfLineEndings`: survives relaxed header canonicalization only (mail-auth canonicalizes
    /// LF-only body lines as CRLF lines under both body algorithms; simple header
    /// canonicalization hashes the bare LF). A verifier that reads only CRLF as a line end may
    /// break all of them.
    pub fn expected_to_survive(
        &self,
        header: Canonicalization,
        _body: Canonicalization,
        signed: &[&str],
    ) -> bool {
        let covers = |name: &str| signed.iter().any(|h| h.eq_ignore_ascii_case(name));
        match self {
            Mangle::SubjectTag(_) => !covers("Subject"),
            Mangle::Footer(_) | Mangle::ReencodeQuotedPrintable | Mangle::ReencodeBase64 => false,
            Mangle::RefoldHeaders => {
                header == Canonicalization::Relaxed || !REFOLDED_FIELDS.iter().any(|f| covers(f))
            }
            Mangle::LfLineEndings => header == Canonicalization::Relaxed,
            Mangle::AddHeader(name, _) => !covers(name),
        }
    }
}

/// Applies one mangle.
pub fn apply(raw: &[u8], mangle: &Mangle) -> Result<Vec<u8>, MangleError> {
    if raw.len() > MAX_MANGLE_OCTETS {
        return Err(MangleError::TooLarge(raw.len()));
    }
    match mangle {
        Mangle::LfLineEndings => Ok(crlf_to_lf(raw)),
        Mangle::AddHeader(name, value) => add_header(raw, name, value),
        Mangle::SubjectTag(tag) => subject_tag(raw, tag),
        Mangle::RefoldHeaders => refold(raw),
        Mangle::Footer(text) => footer(raw, text),
        Mangle::ReencodeQuotedPrintable => reencode(raw, Cte::QuotedPrintable),
        Mangle::ReencodeBase64 => reencode(raw, Cte::Base64),
    }
}

/// Applies mangles in order.
pub fn apply_all(raw: &[u8], mangles: &[Mangle]) -> Result<Vec<u8>, MangleError> {
    let mut out = raw.to_vec();
    for m in mangles {
        out = apply(&out, m)?;
    }
    Ok(out)
}

fn crlf_to_lf(raw: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(raw.len());
    let mut i = 0;
    while i < raw.len() {
        if raw[i] == b'\r' && raw.get(i + 1) == Some(&b'\n') {
            i += 1;
            continue;
        }
        out.push(raw[i]);
        i += 1;
    }
    out
}

/// The message's line ending, from its first line.
fn newline_of(raw: &[u8]) -> &'static [u8] {
    match raw.iter().position(|&b| b == b'\n') {
        Some(i) if i > 0 && raw[i - 1] == b'\r' => b"\r\n",
        Some(_) => b"\n",
        None => b"\r\n",
    }
}

fn parse(raw: &[u8]) -> Result<Message<'_>, MangleError> {
    let msg = MessageParser::default()
        .parse(raw)
        .ok_or(MangleError::NotAMessage)?;
    if msg.parts.is_empty() {
        return Err(MangleError::NotAMessage);
    }
    Ok(msg)
}

/// RFC 5322 §3.6.8: `field-name = 1*ftext`, ftext = %d33-57 / %d59-126.
fn check_name(name: &str) -> Result<(), MangleError> {
    let ok = !name.is_empty()
        && name.len() <= 76
        && name.bytes().all(|b| (33..=126).contains(&b) && b != b':');
    ok.then_some(())
        .ok_or_else(|| MangleError::BadHeaderName(name.to_owned()))
}

fn check_value(value: &str) -> Result<(), MangleError> {
    let ok = value.len() <= MAX_LINE && !value.contains(['\r', '\n', '\0']);
    ok.then_some(())
        .ok_or_else(|| MangleError::BadHeaderValue(value.to_owned()))
}

fn add_header(raw: &[u8], name: &str, value: &str) -> Result<Vec<u8>, MangleError> {
    check_name(name)?;
    check_value(value)?;
    let nl = newline_of(raw);
    let mut out = Vec::with_capacity(raw.len() + name.len() + value.len() + 4);
    out.extend_from_slice(name.as_bytes());
    out.extend_from_slice(b": ");
    out.extend_from_slice(value.as_bytes());
    out.extend_from_slice(nl);
    out.extend_from_slice(raw);
    Ok(out)
}

/// A replacement of `raw[start..end]`.
struct Edit {
    start: usize,
    end: usize,
    bytes: Vec<u8>,
}

/// Applies non-overlapping edits; offsets that do not fit the input are a structure error.
fn splice(raw: &[u8], mut edits: Vec<Edit>) -> Result<Vec<u8>, MangleError> {
    edits.sort_by_key(|e| (e.start, e.end));
    let mut out = Vec::with_capacity(raw.len() + 256);
    let mut at = 0;
    for e in edits {
        if e.start < at || e.end < e.start || e.end > raw.len() {
            return Err(MangleError::Structure);
        }
        out.extend_from_slice(raw.get(at..e.start).ok_or(MangleError::Structure)?);
        out.extend_from_slice(&e.bytes);
        at = e.end;
    }
    out.extend_from_slice(raw.get(at..).ok_or(MangleError::Structure)?);
    Ok(out)
}

fn subject_tag(raw: &[u8], tag: &str) -> Result<Vec<u8>, MangleError> {
    check_value(tag)?;
    let msg = parse(raw)?;
    let field = msg.parts[0]
        .headers
        .iter()
        .find(|h| h.name.as_str().eq_ignore_ascii_case("Subject"));
    let Some(field) = field else {
        return add_header(raw, "Subject", tag.trim_end());
    };
    let start = field.offset_start as usize;
    let end = field.offset_end as usize;
    let value = raw.get(start..end).ok_or(MangleError::Structure)?;
    let lead = value
        .iter()
        .take_while(|b| **b == b' ' || **b == b'\t')
        .count();
    if value
        .get(lead..)
        .is_some_and(|v| v.starts_with(tag.as_bytes()))
    {
        return Ok(raw.to_vec());
    }
    // RFC 5322 §3.6.5: Subject is unstructured; the tag goes before the first non-WSP octet,
    // so an RFC 2047 encoded-word after it stays separated by the tag's own trailing space.
    let insert_at = start + lead;
    let mut bytes = tag.as_bytes().to_vec();
    if !tag.ends_with([' ', '\t']) {
        bytes.push(b' ');
    }
    splice(
        raw,
        vec![Edit {
            start: insert_at,
            end: insert_at,
            bytes,
        }],
    )
}

fn refold(raw: &[u8]) -> Result<Vec<u8>, MangleError> {
    let msg = parse(raw)?;
    let mut edits = Vec::new();
    for h in &msg.parts[0].headers {
        let name = h.name.as_str();
        if !REFOLDED_FIELDS.iter().any(|f| f.eq_ignore_ascii_case(name)) {
            continue;
        }
        let (start, end) = (h.offset_start as usize, h.offset_end as usize);
        let value = raw.get(start..end).ok_or(MangleError::Structure)?;
        let prefix = (h.offset_start.saturating_sub(h.offset_field)) as usize;
        edits.push(Edit {
            start,
            end,
            bytes: refold_value(value, prefix),
        });
    }
    splice(raw, edits)
}

/// RFC 5322 §2.2.3: unfolding removes each CRLF that precedes WSP; folding inserts CRLF before
/// WSP. `value` is the field body with its line end; `prefix` is the octets of `Name:`.
fn refold_value(value: &[u8], prefix: usize) -> Vec<u8> {
    let (body, nl): (&[u8], &[u8]) = if let Some(b) = value.strip_suffix(b"\r\n") {
        (b, b"\r\n")
    } else if let Some(b) = value.strip_suffix(b"\n") {
        (b, b"\n")
    } else {
        (value, b"")
    };
    // Unfold.
    let mut flat = Vec::with_capacity(body.len());
    let mut i = 0;
    while i < body.len() {
        let crlf = body[i] == b'\r' && body.get(i + 1) == Some(&b'\n');
        let lf = body[i] == b'\n';
        let skip = if crlf { 2 } else { usize::from(lf) };
        if skip > 0 && matches!(body.get(i + skip), Some(b' ' | b'\t')) {
            i += skip;
            continue;
        }
        flat.push(body[i]);
        i += 1;
    }
    // Segments, each but the first starting at a run of WSP.
    let mut segments: Vec<&[u8]> = Vec::new();
    let mut seg_start = 0;
    for j in 1..flat.len() {
        let wsp = |b: u8| b == b' ' || b == b'\t';
        if wsp(flat[j]) && !wsp(flat[j - 1]) && j > seg_start {
            segments.push(&flat[seg_start..j]);
            seg_start = j;
        }
    }
    if seg_start < flat.len() {
        segments.push(&flat[seg_start..]);
    }
    let fold_nl: &[u8] = if nl.is_empty() { b"\r\n" } else { nl };
    let mut out = Vec::with_capacity(flat.len() + 16);
    let mut column = prefix;
    for (k, seg) in segments.iter().enumerate() {
        // Never fold before the first segment: that would leave the first line without a
        // visible value (RFC 5322 §3.2.2 asks for at least one non-WSP on a folded line).
        if k > 0 && column + seg.len() > REFOLD_COLUMN {
            out.extend_from_slice(fold_nl);
            column = 0;
        }
        out.extend_from_slice(seg);
        column += seg.len();
    }
    out.extend_from_slice(nl);
    out
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Cte {
    QuotedPrintable,
    Base64,
}

impl Cte {
    fn name(self) -> &'static str {
        match self {
            Cte::QuotedPrintable => "quoted-printable",
            Cte::Base64 => "base64",
        }
    }

    fn encode(self, data: &[u8]) -> Vec<u8> {
        match self {
            Cte::QuotedPrintable => QuotedPrintableEncoder::new()
                .preserve_line_breaks()
                .encode(data),
            Cte::Base64 => Base64Encoder::new().wrap_lines().encode(data),
        }
        .unwrap_or_default()
    }
}

fn is_leaf_text(part: &MessagePart<'_>) -> bool {
    matches!(part.body, PartType::Text(_) | PartType::Html(_))
}

fn is_text_plain(part: &MessagePart<'_>) -> bool {
    match part.content_type() {
        // RFC 2045 §5.2: no Content-Type means text/plain; us-ascii.
        None => true,
        Some(ct) => {
            ct.ctype().eq_ignore_ascii_case("text")
                && ct.subtype().is_none_or(|s| s.eq_ignore_ascii_case("plain"))
        }
    }
}

/// The part's body octets decoded from its transfer encoding.
fn decoded(part: &MessagePart<'_>, body: &[u8]) -> Result<Vec<u8>, MangleError> {
    match part.encoding {
        Encoding::None => Ok(body.to_vec()),
        Encoding::QuotedPrintable => {
            quoted_printable_decode(body).ok_or(MangleError::Decode("quoted-printable"))
        }
        Encoding::Base64 => base64_decode(body).ok_or(MangleError::Decode("base64")),
    }
}

/// Whether the body ends with a line end. mail-parser's part body excludes the CRLF that
/// belongs to a following delimiter (RFC 2046 §5.1.1: "the CRLF preceding the boundary
/// delimiter line is conceptually attached to the boundary"), so a trailing line end is content.
fn ends_with_newline(body: &[u8]) -> bool {
    body.ends_with(b"\n")
}

/// `data` in `cte`, with the message's line ends, ending in a line end iff `ends_nl`.
fn encoded_body(cte: Cte, data: &[u8], ends_nl: bool, nl: &[u8]) -> Vec<u8> {
    let mut enc = cte.encode(data);
    if nl == b"\n" {
        enc = crlf_to_lf(&enc);
    }
    while enc.ends_with(b"\n") {
        enc.pop();
        if enc.ends_with(b"\r") {
            enc.pop();
        }
    }
    if ends_nl {
        enc.extend_from_slice(nl);
    }
    enc
}

fn body_range(part: &MessagePart<'_>, len: usize) -> Result<(usize, usize), MangleError> {
    let (s, e) = (part.offset_body as usize, part.offset_end as usize);
    if s > e || e > len {
        return Err(MangleError::Structure);
    }
    Ok((s, e))
}

/// The edit that sets the part's Content-Transfer-Encoding to `cte`: replace the field's value
/// or add a field after Content-Type (or at the start of the part's header).
fn cte_edit(part: &MessagePart<'_>, cte: Cte, nl: &[u8]) -> Edit {
    let field = |name: &str| {
        part.headers
            .iter()
            .find(|h| h.name.as_str().eq_ignore_ascii_case(name))
    };
    if let Some(h) = field("Content-Transfer-Encoding") {
        let mut bytes = format!(" {}", cte.name()).into_bytes();
        bytes.extend_from_slice(nl);
        return Edit {
            start: h.offset_start as usize,
            end: h.offset_end as usize,
            bytes,
        };
    }
    let at = field("Content-Type").map_or(part.offset_header as usize, |h| h.offset_end as usize);
    let mut bytes = format!("Content-Transfer-Encoding: {}", cte.name()).into_bytes();
    bytes.extend_from_slice(nl);
    Edit {
        start: at,
        end: at,
        bytes,
    }
}

fn reencode(raw: &[u8], cte: Cte) -> Result<Vec<u8>, MangleError> {
    let msg = parse(raw)?;
    let nl = newline_of(raw);
    let mut edits = Vec::new();
    for part in msg.parts.iter().filter(|p| is_leaf_text(p)) {
        let (s, e) = body_range(part, raw.len())?;
        let body = raw.get(s..e).ok_or(MangleError::Structure)?;
        let data = decoded(part, body)?;
        edits.push(cte_edit(part, cte, nl));
        edits.push(Edit {
            start: s,
            end: e,
            bytes: encoded_body(cte, &data, ends_with_newline(body), nl),
        });
    }
    if edits.is_empty() {
        return Err(MangleError::NoTextPart);
    }
    splice(raw, edits)
}

fn footer(raw: &[u8], text: &str) -> Result<Vec<u8>, MangleError> {
    if text.len() > MAX_MANGLE_OCTETS / 2 {
        return Err(MangleError::TooLarge(text.len()));
    }
    let msg = parse(raw)?;
    let nl = newline_of(raw);
    let part = msg
        .parts
        .iter()
        .find(|p| is_leaf_text(p) && is_text_plain(p))
        .ok_or(MangleError::NoTextPart)?;
    let charset = part
        .content_type()
        .and_then(|ct| ct.attribute("charset"))
        .unwrap_or("us-ascii");
    if !text.is_ascii() && !charset.eq_ignore_ascii_case("utf-8") {
        return Err(MangleError::FooterCharset(charset.to_owned()));
    }
    let footer_lines: Vec<&str> = text.lines().collect();
    let footer_bytes = footer_lines.join(std::str::from_utf8(nl).unwrap_or("\r\n"));
    let (s, e) = body_range(part, raw.len())?;
    let body = raw.get(s..e).ok_or(MangleError::Structure)?;
    let ends_nl = ends_with_newline(body);
    let bytes = match part.encoding {
        Encoding::None => {
            let core = body
                .strip_suffix(b"\r\n")
                .or_else(|| body.strip_suffix(b"\n"))
                .unwrap_or(body);
            let mut out = core.to_vec();
            if !core.is_empty() {
                out.extend_from_slice(nl);
            }
            out.extend_from_slice(footer_bytes.as_bytes());
            if ends_nl {
                out.extend_from_slice(nl);
            }
            out
        }
        Encoding::QuotedPrintable | Encoding::Base64 => {
            let cte = if part.encoding == Encoding::Base64 {
                Cte::Base64
            } else {
                Cte::QuotedPrintable
            };
            let mut data = decoded(part, body)?;
            if !data.is_empty() && !data.ends_with(b"\n") {
                data.extend_from_slice(b"\r\n");
            }
            data.extend_from_slice(footer_lines.join("\r\n").as_bytes());
            if ends_nl {
                data.extend_from_slice(b"\r\n");
            }
            encoded_body(cte, &data, ends_nl, nl)
        }
    };
    splice(
        raw,
        vec![Edit {
            start: s,
            end: e,
            bytes,
        }],
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn refold_value_folds_before_wsp_and_unfolds_first() {
        let v = b" one two\r\n three four five six seven eight nine\r\n";
        let out = refold_value(v, 8);
        let s = String::from_utf8(out).expect("utf-8");
        assert!(s.ends_with("\r\n"));
        for line in s.trim_end().split("\r\n").skip(1) {
            assert!(line.starts_with(' '), "{s:?}");
        }
        assert_eq!(
            s.replace("\r\n", ""),
            " one two three four five six seven eight nine"
        );
    }

    #[test]
    fn splice_rejects_overlaps_and_out_of_range() {
        let e = |start, end| Edit {
            start,
            end,
            bytes: vec![],
        };
        assert_eq!(
            splice(b"abc", vec![e(0, 2), e(1, 3)]),
            Err(MangleError::Structure)
        );
        assert_eq!(splice(b"abc", vec![e(2, 4)]), Err(MangleError::Structure));
        assert_eq!(splice(b"abc", vec![e(1, 2)]).as_deref(), Ok(&b"ac"[..]));
    }
}
