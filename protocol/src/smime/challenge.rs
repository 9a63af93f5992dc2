//! The "challenge" e-mail (RFC 8823 §3.1): built by a CA, checked by an ACME-email-aware MUA.

use mail_builder::MessageBuilder;
use mail_builder::headers::content_type::ContentType;
use mail_builder::headers::raw::Raw;
use mail_builder::mime::MimePart;
use mail_parser::MessageParser;
use serde::Serialize;

use super::ChallengeBody;
use super::dkim::{CHALLENGE_RULES, SignatureResult};
use super::headers;
use super::subject::{self, SubjectToken};
use super::{AUTO_SUBMITTED_ACME, MAX_MESSAGE_OCTETS, MailError};
use crate::address::CaseRule;
use crate::finding::{Finding, Findings, Level};
use crate::requirements as req;

/// Everything a challenge e-mail is made of. Random parts (token-part1, Message-ID) and the
/// date are given by the caller, so a seeded run builds the same bytes every time.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ChallengeEmail {
    /// From: the challenge object's `from` (RFC 8823 §3.1 item 2).
    pub from: String,
    /// To: the address being validated (§3.1 item 3).
    pub to: String,
    /// Optional Reply-To (§3.1 item 4).
    pub reply_to: Option<String>,
    /// Optional CC addresses (§3.1 item 4).
    pub cc: Vec<String>,
    /// Date, in seconds since the Unix epoch.
    pub date: i64,
    /// Message-ID without angle brackets.
    pub message_id: String,
    /// token-part1, base64url.
    pub token_part1: String,
    /// The Auto-Submitted value; `None` leaves the field out (a fault to inject).
    pub auto_submitted: Option<String>,
    /// The body's media type.
    pub body: ChallengeBody,
}

impl ChallengeEmail {
    /// A conformant challenge (Auto-Submitted `auto-generated; type=acme`, text/plain).
    pub fn new(
        from: impl Into<String>,
        to: impl Into<String>,
        token_part1: impl Into<String>,
        message_id: impl Into<String>,
        date: i64,
    ) -> Self {
        ChallengeEmail {
            from: from.into(),
            to: to.into(),
            reply_to: None,
            cc: Vec::new(),
            date,
            message_id: message_id.into(),
            token_part1: token_part1.into(),
            auto_submitted: Some(AUTO_SUBMITTED_ACME.into()),
            body: ChallengeBody::TextPlain,
        }
    }

    /// The `Subject` value: `ACME: <token-part1>` (RFC 8823 §3.1 item 1).
    pub fn subject(&self) -> String {
        format!("{} {}", subject::LABEL, self.token_part1)
    }

    /// The message, CRLF line endings, unsigned (DKIM signing needs a key: the mail plane
    /// signs these bytes).
    pub fn build(&self) -> Vec<u8> {
        let mut mb = MessageBuilder::new();
        if let Some(value) = &self.auto_submitted {
            mb = mb.header("Auto-Submitted", Raw::new(value.clone()));
        }
        mb = mb
            .date(mail_builder::headers::date::Date::new(self.date))
            .message_id(self.message_id.clone())
            .from(self.from.clone())
            .to(self.to.clone());
        if let Some(reply_to) = &self.reply_to {
            mb = mb.reply_to(reply_to.clone());
        }
        if !self.cc.is_empty() {
            mb = mb.cc(self.cc.clone());
        }
        // The token is ASCII, so mail-builder writes the Subject as is (no encoded-words:
        // RFC 8823 §3.1 item 1 "The US-ASCII charset SHOULD be used").
        mb = mb.subject(self.subject());
        let text = self.explanation();
        let html = format!(
            "<html><body><p>{}</p></body></html>",
            text.replace('&', "&amp;")
                .replace('<', "&lt;")
                .replace('>', "&gt;")
                .replace("\r\n", "<br>\r\n")
        );
        mb = match self.body {
            ChallengeBody::TextPlain => mb.body(MimePart::new("text/plain", text)),
            ChallengeBody::TextHtml => mb.body(MimePart::new("text/html", html)),
            ChallengeBody::MultipartAlternative => mb.body(MimePart::new(
                ContentType::new("multipart/alternative")
                    .attribute("boundary", super::boundary_for(&self.message_id)),
                vec![
                    MimePart::new("text/plain", text),
                    MimePart::new("text/html", html),
                ],
            )),
        };
        mb.write_to_vec().unwrap_or_default()
    }

    fn explanation(&self) -> String {
        format!(
            "This is an automatically generated ACME challenge for the address\r\n\
             \"{}\". If you have not asked for an S/MIME certificate\r\n\
             for it, ignore this message. If you have, your mail client may\r\n\
             answer it for you, or you may paste the first token part into\r\n\
             your ACME client.\r\n",
            self.to
        )
    }
}

/// What the checker knows of the challenge it expects.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ChallengeContext {
    /// The challenge object's `from` (SMIME-22 is checked only when known).
    pub expected_from: Option<String>,
    /// The address being validated (SMIME-23 is checked only when known).
    pub expected_to: Option<String>,
    /// How local parts compare (RFC 8398 §5).
    pub case: CaseRule,
    /// What a DKIM verifier said of each signature (`None`: judged from the header fields
    /// alone, as if every signature verified).
    pub dkim: Option<Vec<SignatureResult>>,
}

/// What an MUA learns from a challenge: enough to build its response.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct ChallengeInfo {
    /// The single From address, if there is one.
    pub from: Option<String>,
    /// The single To address, if there is one.
    pub to: Option<String>,
    /// The single Reply-To address, if any.
    pub reply_to: Option<String>,
    /// The Message-ID, without angle brackets.
    pub message_id: Option<String>,
    /// The decoded Subject.
    pub subject: Option<String>,
    /// token-part1, whitespace removed, when the Subject carries one.
    pub token_part1: Option<String>,
}

impl ChallengeInfo {
    /// RFC 8823 §3.2 item 3: the response goes to Reply-To if set, else From.
    pub fn reply_address(&self) -> Option<&str> {
        self.reply_to.as_deref().or(self.from.as_deref())
    }
}

/// The outcome of [`check_challenge`].
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct ChallengeReport {
    /// What the mail says.
    pub info: ChallengeInfo,
    /// Whether it carries an S/MIME signature (then SMIME-32/34 need the mail plane).
    pub smime_signed: bool,
    /// Whether an ACME-email-aware MUA would ignore it (RFC 8823 §3.1: "MUST ignore the
    /// challenge"): any MUST-level finding.
    pub ignored: bool,
    /// Every finding, in order.
    pub findings: Findings,
}

/// Checks a challenge e-mail against RFC 8823 §3.1 (SMIME-16…36).
pub fn check_challenge(raw: &[u8], ctx: &ChallengeContext) -> Result<ChallengeReport, MailError> {
    if raw.len() > MAX_MESSAGE_OCTETS {
        return Err(MailError::TooLarge(raw.len()));
    }
    let msg = MessageParser::default()
        .parse(raw)
        .filter(|m| !m.headers().is_empty())
        .ok_or(MailError::NotAMessage)?;
    let mut findings = Findings::new();
    let mut info = ChallengeInfo {
        message_id: msg.message_id().map(str::to_string),
        subject: msg.subject().map(str::to_string),
        ..ChallengeInfo::default()
    };
    headers::check_rfc5322(&msg, raw, &mut findings);

    // Subject: "ACME:" FWS token-part1 (§3.1 item 1).
    check_subject(&msg, &mut info, &mut findings);

    // From and To (§3.1 items 2 and 3).
    match headers::single_address(msg.from()) {
        Ok(from) => {
            if let Some(expected) = &ctx.expected_from
                && !headers::same_address(&from, expected, ctx.case)
            {
                findings.add(
                    req::SMIME_22,
                    format!("From: {expected}"),
                    format!("From: {from}"),
                );
            }
            info.from = Some(from);
        }
        Err(why) => findings.add(req::SMIME_22, "exactly one From address", why),
    }
    match headers::single_address(msg.to()) {
        Ok(to) => {
            if let Some(expected) = &ctx.expected_to
                && !headers::same_address(&to, expected, ctx.case)
            {
                findings.add(
                    req::SMIME_23,
                    format!("To: {expected}"),
                    format!("To: {to}"),
                );
            }
            info.to = Some(to);
        }
        Err(why) => findings.add(req::SMIME_23, "exactly one To address", why),
    }
    info.reply_to = headers::single_address(msg.reply_to()).ok();

    // Auto-Submitted (§3.1 item 5).
    let auto = headers::raw_values(&msg, "Auto-Submitted");
    if auto.len() > 1 {
        findings.add(
            req::MAIL_3,
            "at most one Auto-Submitted field",
            format!("{} fields", auto.len()),
        );
    }
    match auto.first().map(|v| headers::parse_auto_submitted(v)) {
        None => findings.add(
            req::SMIME_25,
            "Auto-Submitted: auto-generated",
            "no Auto-Submitted header field",
        ),
        Some(a) if a.keyword != "auto-generated" => findings.add(
            req::SMIME_25,
            "Auto-Submitted: auto-generated",
            format!("Auto-Submitted: {}", a.keyword),
        ),
        Some(a) => {
            if !a
                .params
                .iter()
                .any(|(k, v)| k == "type" && v.eq_ignore_ascii_case("acme"))
            {
                findings.add(
                    req::SMIME_26,
                    "Auto-Submitted parameter type=acme",
                    "no type=acme parameter",
                );
            }
        }
    }

    // Authenticity (§3.1 item 6): DKIM or S/MIME. S/MIME signatures are recognised, not
    // verified (no S/MIME verifier here): an S/MIME-signed mail needs no DKIM, but a DKIM
    // signature it carries is still judged on its h= and d= (§3.1 item 6 binds "the resulting
    // DKIM-Signature header field").
    let from_domain = info.from.as_deref().and_then(headers::domain_of);
    let dkim = headers::check_dkim(
        &msg,
        from_domain.as_deref(),
        ctx.dkim.as_deref(),
        &CHALLENGE_RULES,
    );
    let smime_signed = headers::is_smime_signed(&msg);
    let has_dkim_field = !headers::raw_values(&msg, "DKIM-Signature").is_empty();
    if !has_dkim_field && !smime_signed {
        findings.add(
            req::SMIME_28,
            "a DKIM-Signature or an S/MIME signature",
            "neither a DKIM-Signature field nor an S/MIME signed body",
        );
    } else {
        for f in dkim.findings.as_slice() {
            if !(smime_signed && f.req == req::SMIME_28) {
                findings.push(f.clone());
            }
        }
    }

    let ignored = findings.has_must();
    if ignored {
        // RFC 8823 §3.1: an MUA "MUST ignore the challenge" that fails validation.
        // Reported as a note: the violation is the finding above, not the MUA's duty.
        findings.push(
            Finding::new(
                req::SMIME_35,
                "an MUA answers only a challenge that passes validation",
                "this one fails, so an ACME-email-aware MUA ignores it",
            )
            .at(Level::Info),
        );
    }
    Ok(ChallengeReport {
        info,
        smime_signed,
        ignored,
        findings,
    })
}

fn check_subject(
    msg: &mail_parser::Message<'_>,
    info: &mut ChallengeInfo,
    findings: &mut Findings,
) {
    let raw = headers::raw_values(msg, "Subject");
    let Some(raw_subject) = raw.first() else {
        findings.add(
            req::SMIME_17,
            "Subject: ACME: <token-part1>",
            "no Subject header field",
        );
        return;
    };
    subject::check_encoded_words(raw_subject, findings);
    for word in subject::encoded_words(raw_subject) {
        if !word.charset_allowed() {
            findings.add(
                req::SMIME_20,
                "encoded-words in UTF-8 or US-ASCII only",
                format!("charset {}", word.charset),
            );
        } else if !word.charset.eq_ignore_ascii_case("us-ascii") {
            findings.add(
                req::SMIME_21,
                "the US-ASCII charset",
                format!("charset {}", word.charset),
            );
        }
    }
    let decoded = info.subject.clone().unwrap_or_default();
    let Some(token) = subject::parse_subject(&decoded) else {
        findings.add(
            req::SMIME_17,
            "Subject: ACME: <token-part1>",
            format!("Subject: {decoded}"),
        );
        return;
    };
    check_token(&token, &decoded, findings);
    info.token_part1 = Some(token.token_part1);
}

fn check_token(token: &SubjectToken, decoded: &str, findings: &mut Findings) {
    if token.is_reply() {
        // RFC 8823 §3 step 5: an MUA "ignores any "challenge" email that has the Subject header
        // field that indicates that it is an email reply" (SMIME-9).
        findings.push(
            Finding::new(
                req::SMIME_17,
                "Subject starting with ACME: (a Re: subject is ignored by MUAs, SMIME-9)",
                format!("Subject: {decoded}"),
            )
            .at(Level::Must),
        );
    } else if !token.prefix.is_empty() {
        findings.add(
            req::SMIME_17,
            "nothing before ACME: in a challenge Subject",
            format!("prefix {:?}", token.prefix),
        );
    }
    if !token.fws_after_label {
        findings.add(
            req::SMIME_17,
            "folding white space after ACME:",
            format!("Subject: {decoded}"),
        );
    }
    if !token.token_is_base64url() {
        findings.add(
            req::SMIME_17,
            "token-part1 in base64url",
            format!("token-part1 {:?}", token.token_part1),
        );
    } else if let Some(bits) = token.token_bits().filter(|&b| b < 128) {
        findings.add(
            req::SMIME_6,
            "token-part1 of at least 128 bits",
            format!("{bits} bits"),
        );
    }
}
