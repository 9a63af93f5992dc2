//! The changes a scenario makes to a reply before it is sent: header fields replaced or added,
//! the digest replaced or restyled, the body quoted. Pure functions on the raw text (the
//! reply is ours: CRLF, ASCII header names first).

use acmeproof_mocks::mangle::Mangle;

use super::model::{BodyEncoding, DigestStyle, ReplyChanges, SubjectForm};

/// Applies the scenario's changes to a built reply (header edits on the raw text: the reply is
/// ours, CRLF, ASCII headers first).
pub fn change_reply(reply: Vec<u8>, c: &ReplyChanges) -> Result<Vec<u8>, String> {
    let text = String::from_utf8_lossy(&reply).into_owned();
    let (head, body) = text.split_once("\r\n\r\n").unwrap_or((&text, ""));
    let mut head: Vec<String> = head.split("\r\n").map(str::to_owned).collect();
    if c.no_in_reply_to {
        head.retain(|l| {
            let l = l.to_ascii_lowercase();
            !l.starts_with("in-reply-to:") && !l.starts_with("references:")
        });
    }
    if let Some(form) = c.subject_form {
        let at = head
            .iter()
            .position(|l| l.to_ascii_lowercase().starts_with("subject:"))
            .ok_or("the reply has no Subject")?;
        let value = head[at]["subject:".len()..].trim().to_owned();
        head[at] = format!("Subject: {}", subject_in_form(&value, form)?);
    }
    let mut replace = |name: &str, value: &str| {
        let prefix = format!("{}:", name.to_ascii_lowercase());
        if let Some(line) = head
            .iter_mut()
            .find(|l| l.to_ascii_lowercase().starts_with(&prefix))
        {
            *line = format!("{name}: {value}");
        }
    };
    if let Some(from) = &c.from_header {
        replace("From", from);
    }
    if let Some(subject) = &c.subject {
        replace("Subject", subject);
    }
    let mut body = body.to_owned();
    if let Some(digest) = &c.digest {
        body = replace_digest(&body, |_| digest.clone());
    }
    match c.digest_style {
        Some(DigestStyle::Padded) => body = replace_digest(&body, |d| format!("{d}=")),
        Some(DigestStyle::Spaced) => {
            body = replace_digest(&body, |d| {
                d.as_bytes()
                    .chunks(8)
                    .map(|c| String::from_utf8_lossy(c).into_owned())
                    .collect::<Vec<_>>()
                    .join(" ")
            })
        }
        Some(DigestStyle::Indented) => body = replace_digest(&body, |d| format!("   {d}")),
        Some(DigestStyle::Altered) => body = replace_digest(&body, altered),
        None => {}
    }
    if c.no_block {
        body = body
            .split("\r\n")
            .filter(|l| {
                *l != acmeproof_protocol::smime::BEGIN_LINE
                    && *l != acmeproof_protocol::smime::END_LINE
            })
            .collect::<Vec<_>>()
            .join("\r\n");
    }
    if c.text_around {
        body = around_block(&body);
    }
    if c.quote {
        body = body
            .split("\r\n")
            .map(|l| {
                if l.is_empty() {
                    String::new()
                } else {
                    format!("> {l}")
                }
            })
            .collect::<Vec<_>>()
            .join("\r\n");
    }
    let mut out: Vec<String> = c.add_headers.clone();
    out.extend(head);
    let built = format!("{}\r\n\r\n{body}", out.join("\r\n")).into_bytes();
    // RFC 2045 §6.7 and §6.8, by the same encoder a re-encoding relay uses (mail-builder).
    let mangle = match c.encoding {
        None => return Ok(built),
        Some(BodyEncoding::QuotedPrintable) => Mangle::ReencodeQuotedPrintable,
        Some(BodyEncoding::Base64) => Mangle::ReencodeBase64,
    };
    acmeproof_mocks::mangle::apply(&built, &mangle).map_err(|e| e.to_string())
}

/// The Subject `value` (`Re: ACME: <token-part1>`) in `form`.
fn subject_in_form(value: &str, form: SubjectForm) -> Result<String, String> {
    use base64::Engine as _;
    match form {
        // RFC 2047 §2: an encoded-word is at most 75 characters, so a long Subject takes
        // several, separated by folding white space, which §6.2 has a decoder drop; §5: each
        // holds whole characters.
        SubjectForm::Encoded => {
            let mut chunks: Vec<String> = vec![String::new()];
            for c in value.chars() {
                if chunks.last().is_some_and(|l| l.len() + c.len_utf8() > 45) {
                    chunks.push(String::new());
                }
                if let Some(last) = chunks.last_mut() {
                    last.push(c);
                }
            }
            Ok(chunks
                .iter()
                .map(|chunk| {
                    format!(
                        "=?UTF-8?B?{}?=",
                        base64::engine::general_purpose::STANDARD.encode(chunk)
                    )
                })
                .collect::<Vec<_>>()
                .join("\r\n "))
        }
        // RFC 5322 §2.2.3 folding inside token-part1: unfolded, a space is left in the token,
        // which RFC 8823 §3.1 item 1 has the parser drop.
        SubjectForm::Folded => {
            let at = value
                .find(acmeproof_protocol::smime::subject::LABEL)
                .ok_or("the Subject has no ACME: label")?;
            let token_at = at + acmeproof_protocol::smime::subject::LABEL.len() + 1;
            let token = value.get(token_at..).unwrap_or_default();
            let half = token.len() / 2;
            if half == 0 || !token.is_ascii() {
                return Err(format!("cannot fold the token of {value:?}"));
            }
            Ok(format!(
                "{}{}\r\n {}",
                &value[..token_at],
                &token[..half],
                &token[half..]
            ))
        }
        SubjectForm::NoRe => {
            let at = value
                .find(acmeproof_protocol::smime::subject::LABEL)
                .ok_or("the Subject has no ACME: label")?;
            Ok(value[at..].to_owned())
        }
    }
}

/// `digest` with its first character changed: the length and alphabet of a right one.
fn altered(digest: &str) -> String {
    let mut chars = digest.chars();
    let first = match chars.next() {
        Some('A') => 'B',
        Some(_) => 'A',
        None => 'A',
    };
    std::iter::once(first).chain(chars).collect()
}

/// `body` with a line of prose before the BEGIN line and after the END line (RFC 8823 §3.2
/// item 7: text outside the block is ignored).
fn around_block(body: &str) -> String {
    body.split("\r\n")
        .map(|l| {
            if l == acmeproof_protocol::smime::BEGIN_LINE {
                format!("Hello, here is my answer to your challenge.\r\n\r\n{l}")
            } else if l == acmeproof_protocol::smime::END_LINE {
                format!("{l}\r\n\r\nBest regards,\r\nAlice")
            } else {
                l.to_owned()
            }
        })
        .collect::<Vec<_>>()
        .join("\r\n")
}

/// The body with the lines between the BEGIN and END lines replaced by `rewrite` of the digest
/// they hold (joined).
pub fn replace_digest(body: &str, rewrite: impl Fn(&str) -> String) -> String {
    let lines: Vec<&str> = body.split("\r\n").collect();
    let begin = lines
        .iter()
        .position(|l| *l == acmeproof_protocol::smime::BEGIN_LINE);
    let end = lines
        .iter()
        .position(|l| *l == acmeproof_protocol::smime::END_LINE);
    let digest = match (begin, end) {
        (Some(b), Some(e)) if b < e => lines[b + 1..e].concat(),
        _ => String::new(),
    };
    let mut out = Vec::new();
    let mut inside = false;
    for line in lines {
        if line == acmeproof_protocol::smime::BEGIN_LINE {
            inside = true;
            out.push(line.to_owned());
            out.push(rewrite(&digest));
        } else if line == acmeproof_protocol::smime::END_LINE {
            inside = false;
            out.push(line.to_owned());
        } else if !inside {
            out.push(line.to_owned());
        }
    }
    out.join("\r\n")
}

#[cfg(test)]
mod tests {
    use super::*;

    const REPLY: &str = "From: alice@example.test\r\nSubject: Re: ACME: abc\r\n\r\nhello\r\n-----BEGIN ACME RESPONSE-----\r\nAAAA\r\nBBBB\r\n-----END ACME RESPONSE-----\r\n";

    fn changed(c: ReplyChanges) -> String {
        String::from_utf8(change_reply(REPLY.as_bytes().to_vec(), &c).unwrap()).unwrap()
    }

    #[test]
    fn no_change_keeps_the_reply() {
        assert_eq!(changed(ReplyChanges::default()), REPLY);
    }

    #[test]
    fn headers_are_replaced_and_added() {
        let text = changed(ReplyChanges {
            from_header: Some("bob@example.test".into()),
            subject: Some("hi".into()),
            add_headers: vec!["List-Id: <l.example.test>".into()],
            ..ReplyChanges::default()
        });
        assert!(
            text.starts_with(
                "List-Id: <l.example.test>\r\nFrom: bob@example.test\r\nSubject: hi\r\n\r\n"
            ),
            "{text}"
        );
    }

    #[test]
    fn the_digest_is_replaced_restyled_or_quoted() {
        let text = changed(ReplyChanges {
            digest: Some("ZZZZ".into()),
            ..ReplyChanges::default()
        });
        assert!(text.contains("RESPONSE-----\r\nZZZZ\r\n-----END"), "{text}");
        let text = changed(ReplyChanges {
            digest_style: Some(DigestStyle::Padded),
            ..ReplyChanges::default()
        });
        assert!(
            text.contains("RESPONSE-----\r\nAAAABBBB=\r\n-----END"),
            "{text}"
        );
        let text = changed(ReplyChanges {
            digest_style: Some(DigestStyle::Spaced),
            ..ReplyChanges::default()
        });
        assert!(
            text.contains("\r\nAAAABBBB\r\n"),
            "8 characters: no space yet: {text}"
        );
        let text = changed(ReplyChanges {
            quote: true,
            ..ReplyChanges::default()
        });
        assert!(
            text.contains("\r\n> hello\r\n> -----BEGIN ACME RESPONSE-----\r\n> AAAA\r\n"),
            "{text}"
        );
    }

    #[test]
    fn subject_forms_decode_back_to_the_same_token() {
        use mail_parser::MessageParser;
        let subject = |form: &str| {
            let text = changed(ReplyChanges {
                subject_form: Some(form.parse().unwrap()),
                ..ReplyChanges::default()
            });
            let raw = text.split("\r\n\r\n").next().unwrap().to_owned();
            let parsed = MessageParser::default()
                .parse(text.as_bytes())
                .unwrap()
                .subject()
                .unwrap()
                .to_owned();
            (raw, parsed)
        };
        let (raw, parsed) = subject("encoded");
        assert!(raw.contains("Subject: =?UTF-8?B?"), "{raw}");
        assert_eq!(parsed, "Re: ACME: abc");
        // A two-octet character at octets 44-45: a split by octets would cut it.
        let long = format!("{}δοκιμή ACME: {}", "R".repeat(44), "x".repeat(22));
        let words = subject_in_form(&long, SubjectForm::Encoded).unwrap();
        assert_eq!(words.matches("=?UTF-8?B?").count(), 2, "{words}");
        let parsed = mail_parser::MessageParser::default()
            .parse(format!("Subject: {words}\r\n\r\n").as_bytes())
            .unwrap()
            .subject()
            .unwrap()
            .to_owned();
        assert_eq!(parsed, long);
        let (raw, _) = subject("folded");
        assert!(raw.contains("Subject: Re: ACME: a\r\n bc"), "{raw}");
        let (_, parsed) = subject("no-re");
        assert_eq!(parsed, "ACME: abc");
        // An unknown form is a load error: the scenario file does not parse.
        assert!("rot13".parse::<SubjectForm>().is_err());
    }

    #[test]
    fn the_block_is_altered_dropped_or_surrounded() {
        let text = changed(ReplyChanges {
            digest_style: Some(DigestStyle::Altered),
            ..ReplyChanges::default()
        });
        assert!(
            text.contains("RESPONSE-----\r\nBAAABBBB\r\n-----END"),
            "{text}"
        );
        let text = changed(ReplyChanges {
            no_block: true,
            ..ReplyChanges::default()
        });
        assert!(!text.contains("ACME RESPONSE"), "{text}");
        assert!(text.contains("hello\r\nAAAA\r\nBBBB\r\n"), "{text}");
        let text = changed(ReplyChanges {
            text_around: true,
            ..ReplyChanges::default()
        });
        assert!(
            text.contains("challenge.\r\n\r\n-----BEGIN ACME RESPONSE-----\r\nAAAA"),
            "{text}"
        );
        assert!(
            text.contains("-----END ACME RESPONSE-----\r\n\r\nBest regards,"),
            "{text}"
        );
    }

    #[test]
    fn in_reply_to_goes_and_the_body_is_reencoded() {
        const THREADED: &str = "From: alice@example.test\r\nIn-Reply-To: <c@ca.test>\r\nReferences: <c@ca.test>\r\nSubject: Re: ACME: abc\r\n\r\n-----BEGIN ACME RESPONSE-----\r\nAAAA\r\n-----END ACME RESPONSE-----\r\n";
        let text = String::from_utf8(
            change_reply(
                THREADED.as_bytes().to_vec(),
                &ReplyChanges {
                    no_in_reply_to: true,
                    encoding: Some(BodyEncoding::Base64),
                    ..ReplyChanges::default()
                },
            )
            .unwrap(),
        )
        .unwrap();
        assert!(
            !text.contains("In-Reply-To") && !text.contains("References"),
            "{text}"
        );
        assert!(text.contains("Content-Transfer-Encoding: base64"), "{text}");
        assert!(!text.contains("AAAA\r\n"), "{text}");
        let parsed = mail_parser::MessageParser::default()
            .parse(text.as_bytes())
            .unwrap();
        assert!(
            parsed.body_text(0).unwrap().contains("\r\nAAAA\r\n"),
            "{text}"
        );
    }
}
