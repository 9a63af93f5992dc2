//! The "response" e-mail (RFC 8823 §3.2): built by an MUA, checked by a CA.

use mail_builder::MessageBuilder;
use mail_builder::headers::content_type::ContentType;
use mail_builder::mime::MimePart;
use mail_parser::{Encoding, Message, MessageParser, MessagePart, MimeHeaders as _, PartType};
use serde::{Deserialize, Serialize};

use super::challenge::ChallengeInfo;
use super::dkim::{RESPONSE_RULES, SignatureResult};
use super::headers;
use super::subject;
use super::{BEGIN_LINE, END_LINE, MAX_MESSAGE_OCTETS, MailError};
use crate::address::CaseRule;
use crate::finding::{Finding, Findings, Level};
use crate::requirements as req;
use crate::token::{self, Join};
use crate::{b64url, keyauth};

/// The media type of a response body (RFC 8823 §3.2 item 7: "either text/plain or
/// multipart/alternative … containing text/plain as one of the alternatives").
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, Default)]
#[serde(rename_all = "kebab-case")]
pub enum ResponseBody {
    /// `text/plain`.
    #[default]
    TextPlain,
    /// `multipart/alternative` with `text/plain` and `text/html`.
    MultipartAlternative,
}

/// Everything a response e-mail is made of.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ResponseEmail {
    /// From: the address being validated (§3.2 item 2).
    pub from: String,
    /// To: the challenge's Reply-To, else its From (§3.2 item 3).
    pub to: String,
    /// token-part1 as the challenge Subject carried it.
    pub token_part1: String,
    /// In-Reply-To and References: the challenge's Message-ID, without angle brackets
    /// (§3.2 item 5, SHOULD).
    pub in_reply_to: Option<String>,
    /// Date, in seconds since the Unix epoch.
    pub date: i64,
    /// Message-ID without angle brackets.
    pub message_id: String,
    /// The digest: base64url(SHA-256(key authorization)).
    pub digest: String,
    /// Wrap the digest after this many characters (§3.2 item 7: "line endings (CRLFs) can be
    /// freely inserted in the middle of the encoded digest"); `None` keeps one line.
    pub wrap: Option<usize>,
    /// The body's media type.
    pub body: ResponseBody,
}

impl ResponseEmail {
    /// The response an MUA sends to `challenge`, or `None` when the challenge has no
    /// token-part1 or no address to reply to.
    pub fn reply_to(
        challenge: &ChallengeInfo,
        from: impl Into<String>,
        digest: impl Into<String>,
        message_id: impl Into<String>,
        date: i64,
    ) -> Option<Self> {
        Some(ResponseEmail {
            from: from.into(),
            to: challenge.reply_address()?.to_string(),
            token_part1: challenge.token_part1.clone()?,
            in_reply_to: challenge.message_id.clone(),
            date,
            message_id: message_id.into(),
            digest: digest.into(),
            wrap: None,
            body: ResponseBody::TextPlain,
        })
    }

    /// `Re: ACME: <token-part1>` (§3.2 item 1).
    pub fn subject(&self) -> String {
        format!("Re: {} {}", subject::LABEL, self.token_part1)
    }

    /// The BEGIN/END block, CRLF line endings, digest wrapped as asked.
    pub fn block(&self) -> String {
        let width = self.wrap.filter(|&w| w > 0).unwrap_or(usize::MAX);
        let mut block = format!("{BEGIN_LINE}\r\n");
        let chars: Vec<char> = self.digest.chars().collect();
        for line in chars.chunks(width.min(chars.len().max(1))) {
            block.extend(line);
            block.push_str("\r\n");
        }
        block.push_str(END_LINE);
        block.push_str("\r\n");
        block
    }

    /// The message, CRLF line endings, unsigned (the mail plane DKIM-signs it).
    pub fn build(&self) -> Vec<u8> {
        let mut mb = MessageBuilder::new()
            .date(mail_builder::headers::date::Date::new(self.date))
            .message_id(self.message_id.clone());
        if let Some(id) = &self.in_reply_to {
            mb = mb.in_reply_to(id.clone()).references(id.clone());
        }
        mb = mb
            .from(self.from.clone())
            .to(self.to.clone())
            .subject(self.subject());
        let text = self.block();
        mb = match self.body {
            ResponseBody::TextPlain => mb.body(MimePart::new("text/plain", text)),
            ResponseBody::MultipartAlternative => {
                let html = format!("<html><body><pre>{}</pre></body></html>\r\n", text);
                mb.body(MimePart::new(
                    ContentType::new("multipart/alternative")
                        .attribute("boundary", super::boundary_for(&self.message_id)),
                    vec![
                        MimePart::new("text/plain", text),
                        MimePart::new("text/html", html),
                    ],
                ))
            }
        };
        mb.write_to_vec().unwrap_or_default()
    }
}

/// The digest found between the BEGIN and END lines.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct DigestBlock {
    /// The digest with line breaks and other white space removed.
    pub digest: String,
    /// How many lines it was spread over.
    pub lines: usize,
    /// Whether the block sat in a quoted reply (`> ` prefixes).
    pub quoted: bool,
}

/// Why no digest could be taken from a body.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum BlockError {
    /// No `-----BEGIN ACME RESPONSE-----` line.
    #[error("no \"{BEGIN_LINE}\" line")]
    NoBegin,
    /// A BEGIN line without a later END line.
    #[error("no \"{END_LINE}\" line after the BEGIN line")]
    NoEnd,
    /// Nothing between BEGIN and END.
    #[error("no digest between the BEGIN and END lines")]
    Empty,
}

/// RFC 8823 §3.2 item 7: takes the digest from the first BEGIN/END block of a text/plain body.
///
/// Line breaks inside the digest are ignored ("they MUST be ignored when processing it"), text
/// before and after the block is ignored, and a block quoted in a reply (`> ` on every line, as
/// MUAs quote) is read the same way.
pub fn extract_digest(text: &str) -> Result<DigestBlock, BlockError> {
    let mut lines = text.split('\n').map(|l| unquote(l.trim_end_matches('\r')));
    let quoted = loop {
        match lines.next() {
            Some((line, quoted)) if line.trim() == BEGIN_LINE => break quoted,
            Some(_) => {}
            None => return Err(BlockError::NoBegin),
        }
    };
    let mut digest = String::new();
    let mut count = 0;
    for (line, _) in lines {
        if line.trim() == END_LINE {
            if digest.is_empty() {
                return Err(BlockError::Empty);
            }
            return Ok(DigestBlock {
                digest,
                lines: count,
                quoted,
            });
        }
        let part = token::strip_whitespace(line);
        if !part.is_empty() {
            count += 1;
            digest.push_str(&part);
        }
    }
    Err(BlockError::NoEnd)
}

/// Strips a reply-quote prefix (`>`, `> >`, `>>`): returns the text and whether it was quoted.
fn unquote(line: &str) -> (&str, bool) {
    let trimmed = line.trim_start_matches(['>', ' ']);
    if trimmed.len() < line.len() && line.trim_start().starts_with('>') {
        (trimmed, true)
    } else {
        (line, false)
    }
}

/// The digest a CA expects.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub enum ExpectedDigest {
    /// Unknown: the checker extracts the digest but cannot judge it.
    #[default]
    Unknown,
    /// One of these digests.
    Digests(Vec<String>),
    /// The digest computed from the token parts and the account key's thumbprint, with the
    /// joins the CA accepts (RFC 8823 leaves the join open: a knob).
    Tokens {
        /// token-part1; `None` takes it from the response's Subject, which repeats it
        /// (§3.2 item 1), as a CA does when it looks up the challenge a reply answers.
        part1: Option<String>,
        /// token-part2.
        part2: String,
        /// RFC 7638 thumbprint of the account key.
        thumbprint: String,
        /// Joins that count as correct.
        accept: Vec<Join>,
    },
}

/// What the checker knows of the exchange a response belongs to.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ResponseContext {
    /// The address being validated (SMIME-40 is checked only when known).
    pub identifier: Option<String>,
    /// The challenge it answers (SMIME-38 token, SMIME-41 To, SMIME-43 In-Reply-To).
    pub challenge: Option<ChallengeInfo>,
    /// The digest that proves control.
    pub expected: ExpectedDigest,
    /// How local parts compare (RFC 8398 §5).
    pub case: CaseRule,
    /// What a DKIM verifier said of each signature (`None`: judged from the header fields
    /// alone, as if every signature verified).
    pub dkim: Option<Vec<SignatureResult>>,
}

/// The outcome of [`check_response`].
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct ResponseReport {
    /// The single From address, if there is one.
    pub from: Option<String>,
    /// token-part1 from the Subject.
    pub token_part1: Option<String>,
    /// The digest block, when one was found.
    pub block: Option<DigestBlock>,
    /// Whether the digest matched the expected one (`None` when nothing was expected).
    pub digest_matches: Option<bool>,
    /// The joins that produce the digest (with [`ExpectedDigest::Tokens`]).
    pub joins: Vec<Join>,
    /// Every finding, in order.
    pub findings: Findings,
}

/// SMIME-38…50 carry no keyword of their own; SMIME-37 makes the whole §3.2 structure a MUST.
fn structural(
    id: &'static str,
    expected: impl Into<String>,
    observed: impl Into<String>,
) -> Finding {
    Finding::new(id, expected, observed).at(Level::Must)
}

/// Checks a response e-mail against RFC 8823 §3.2 (SMIME-37…54) and compares its digest with
/// the expected one in constant time.
pub fn check_response(raw: &[u8], ctx: &ResponseContext) -> Result<ResponseReport, MailError> {
    if raw.len() > MAX_MESSAGE_OCTETS {
        return Err(MailError::TooLarge(raw.len()));
    }
    let msg = MessageParser::default()
        .parse(raw)
        .filter(|m| !m.headers().is_empty())
        .ok_or(MailError::NotAMessage)?;
    let mut report = ResponseReport::default();
    let findings = &mut report.findings;
    headers::check_rfc5322(&msg, raw, findings);

    // Subject (§3.2 item 1).
    report.token_part1 = check_subject(&msg, ctx, findings);

    // From, To, In-Reply-To (§3.2 items 2, 3, 5).
    match headers::single_address(msg.from()) {
        Ok(from) => {
            if let Some(id) = &ctx.identifier
                && !headers::same_address(&from, id, ctx.case)
            {
                findings.push(structural(
                    req::SMIME_40,
                    format!("From: {id}"),
                    format!("From: {from}"),
                ));
            }
            report.from = Some(from);
        }
        Err(why) => findings.push(structural(req::SMIME_40, "exactly one From address", why)),
    }
    if let Some(expected_to) = ctx
        .challenge
        .as_ref()
        .and_then(ChallengeInfo::reply_address)
    {
        match headers::single_address(msg.to()) {
            Ok(to) if headers::same_address(&to, expected_to, ctx.case) => {}
            Ok(to) => findings.push(structural(
                req::SMIME_41,
                format!("To: {expected_to}"),
                format!("To: {to}"),
            )),
            Err(why) => findings.push(structural(req::SMIME_41, format!("To: {expected_to}"), why)),
        }
    }
    let in_reply_to = msg.in_reply_to().as_text().map(str::to_string);
    match (
        &in_reply_to,
        ctx.challenge.as_ref().and_then(|c| c.message_id.as_deref()),
    ) {
        (None, expected) => findings.add(
            req::SMIME_43,
            format!(
                "In-Reply-To: <{}>",
                expected.unwrap_or("challenge Message-ID")
            ),
            "no In-Reply-To header field",
        ),
        (Some(seen), Some(expected)) if seen != expected => findings.add(
            req::SMIME_43,
            format!("In-Reply-To: <{expected}>"),
            format!("In-Reply-To: <{seen}>"),
        ),
        _ => {}
    }

    // §3.2 item 6: "List-* header fields … MUST be absent".
    let lists: Vec<&str> = headers::names(&msg)
        .into_iter()
        .filter(|n| n.len() > 5 && n.get(..5).is_some_and(|p| p.eq_ignore_ascii_case("list-")))
        .collect();
    if !lists.is_empty() {
        findings.add(req::SMIME_44, "no List-* header fields", lists.join(", "));
    }

    // RFC 3834 §5.2: auto-generated "MUST NOT be used on a message issued in direct response".
    if let Some(a) = headers::raw_values(&msg, "Auto-Submitted").first() {
        let a = headers::parse_auto_submitted(a);
        if a.keyword == "auto-generated" {
            findings.add(
                req::MAIL_4,
                "Auto-Submitted absent, no or auto-replied on a response",
                "Auto-Submitted: auto-generated",
            );
        }
    }

    // Body (§3.2 items 7 and 8).
    if let Some((kind, at)) = headers::bare_line_ending(raw) {
        findings.push(structural(
            req::SMIME_47,
            "CRLF line endings only",
            format!("{kind} at octet {at}"),
        ));
    }
    let text = check_body(&msg, findings);
    if let Some(text) = text {
        report.block = check_block(&text, findings);
    }
    if let Some(block) = &report.block {
        (report.digest_matches, report.joins) = judge_digest(
            &block.digest,
            &ctx.expected,
            report.token_part1.as_deref(),
            findings,
        );
    }

    // Authenticity (§3.2 item 9): DKIM only, one signature meeting every rule (judge_dkim).
    let from_domain = report.from.as_deref().and_then(headers::domain_of);
    let dkim = headers::check_dkim(
        &msg,
        from_domain.as_deref(),
        ctx.dkim.as_deref(),
        &RESPONSE_RULES,
    );
    findings.extend(dkim.findings);
    Ok(report)
}

fn check_subject(
    msg: &Message<'_>,
    ctx: &ResponseContext,
    findings: &mut Findings,
) -> Option<String> {
    let Some(raw) = headers::raw_values(msg, "Subject").first().copied() else {
        findings.push(structural(
            req::SMIME_38,
            "Subject: Re: ACME: <token-part1>",
            "no Subject",
        ));
        return None;
    };
    subject::check_encoded_words(raw, findings);
    for word in subject::encoded_words(raw) {
        if !word.charset_allowed() {
            findings.push(structural(
                req::SMIME_38,
                "encoded-words in UTF-8 or US-ASCII only, as in the challenge",
                format!("charset {}", word.charset),
            ));
        }
    }
    let decoded = msg.subject().unwrap_or_default();
    let Some(token) = subject::parse_subject(decoded) else {
        findings.push(structural(
            req::SMIME_38,
            "Subject: Re: ACME: <token-part1>",
            format!("Subject: {decoded}"),
        ));
        return None;
    };
    if !token.prefix.is_ascii() {
        findings.push(structural(
            req::SMIME_38,
            "a US-ASCII reply prefix",
            format!("prefix {:?}", token.prefix),
        ));
    }
    if let Some(expected) = ctx
        .challenge
        .as_ref()
        .and_then(|c| c.token_part1.as_deref())
        && token.token_part1 != expected
    {
        findings.push(structural(
            req::SMIME_38,
            format!("token-part1 {expected} from the challenge"),
            format!("token-part1 {}", token.token_part1),
        ));
    }
    Some(token.token_part1)
}

/// Finds the text/plain part (§3.2 item 7), reports its media type and encoding, and returns its
/// decoded text.
fn check_body(msg: &Message<'_>, findings: &mut Findings) -> Option<String> {
    let root = msg.root_part();
    let (ctype, subtype) = media_type(root);
    let plain: Option<&MessagePart<'_>> = if ctype == "text" && subtype == "plain" {
        Some(root)
    } else if ctype == "multipart" && subtype == "alternative" {
        root.sub_parts()
            .into_iter()
            .flatten()
            .filter_map(|&id| msg.part(id))
            .find(|p| media_type(p) == ("text".into(), "plain".into()))
    } else {
        None
    };
    let Some(part) = plain else {
        findings.push(structural(
            req::SMIME_45,
            "text/plain, or multipart/alternative containing text/plain",
            format!("{ctype}/{subtype}"),
        ));
        // Keep going with whatever text there is, to report the digest anyway.
        return msg.body_text(0).map(|t| t.into_owned());
    };
    if part.encoding != Encoding::None {
        findings.add(
            req::SMIME_50,
            "Content-Transfer-Encoding 7bit",
            format!("{:?}", part.encoding),
        );
    }
    match &part.body {
        PartType::Text(text) => {
            // An encoded body can hide bare line endings that the raw check cannot see.
            if part.encoding != Encoding::None
                && let Some((kind, at)) = headers::bare_line_ending(text.as_bytes())
            {
                findings.push(structural(
                    req::SMIME_47,
                    "CRLF line endings in the decoded text/plain",
                    format!("{kind} at octet {at} of the decoded text"),
                ));
            }
            Some(text.to_string())
        }
        _ => None,
    }
}

/// The lower-cased type and subtype; RFC 2045 §5.2: no Content-Type means text/plain.
fn media_type(part: &MessagePart<'_>) -> (String, String) {
    match part.content_type() {
        Some(ct) => (
            ct.ctype().to_ascii_lowercase(),
            ct.subtype().unwrap_or("").to_ascii_lowercase(),
        ),
        None => ("text".into(), "plain".into()),
    }
}

fn check_block(text: &str, findings: &mut Findings) -> Option<DigestBlock> {
    match extract_digest(text) {
        Ok(block) => {
            let bare = block.digest.strip_suffix('=').unwrap_or(&block.digest);
            if !b64url::is_alphabet(bare) || bare.len() != 43 {
                findings.add(
                    req::SMIME_46,
                    "a base64url SHA-256 digest (43 characters) in the block",
                    format!("{:?}", block.digest),
                );
            }
            Some(block)
        }
        Err(e) => {
            findings.add(
                req::SMIME_46,
                format!("a {BEGIN_LINE} … {END_LINE} block"),
                e.to_string(),
            );
            None
        }
    }
}

fn judge_digest(
    digest: &str,
    expected: &ExpectedDigest,
    subject_part1: Option<&str>,
    findings: &mut Findings,
) -> (Option<bool>, Vec<Join>) {
    let (matches, joins, expected_text) = match expected {
        ExpectedDigest::Unknown => return (None, Vec::new()),
        ExpectedDigest::Digests(list) => (
            list.iter().any(|d| keyauth::digests_match(digest, d)),
            Vec::new(),
            list.join(" or "),
        ),
        ExpectedDigest::Tokens {
            part1,
            part2,
            thumbprint,
            accept,
        } => {
            // Without token-part1 (none given, none in the Subject: SMIME-38 already fired)
            // there is nothing to judge against.
            let Some(part1) = part1.as_deref().or(subject_part1) else {
                return (None, Vec::new());
            };
            let joins = token::identify_join(part1, part2, thumbprint, digest).unwrap_or_default();
            let ok = joins.iter().any(|j| accept.contains(j));
            let names: Vec<&str> = accept.iter().map(|j| j.as_str()).collect();
            let mut text = format!("the digest of the {} join", names.join(" or "));
            if !ok && !joins.is_empty() {
                text.push_str(&format!(" (the digest matches the {} join)", joins[0]));
            }
            (ok, joins, text)
        }
    };
    if !matches {
        findings.push(structural(
            req::SMIME_10,
            expected_text,
            format!("digest {digest}"),
        ));
    }
    (Some(matches), joins)
}
