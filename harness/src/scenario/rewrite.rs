//! The changes a scenario makes to a reply before it is sent: header fields replaced or added,
//! the digest replaced or restyled, the body quoted. Pure functions on the raw text (the
//! reply is ours: CRLF, ASCII header names first).

use super::model::ReplyChanges;

/// Applies the scenario's changes to a built reply (header edits on the raw text: the reply is
/// ours, CRLF, ASCII headers first).
pub fn change_reply(reply: Vec<u8>, c: &ReplyChanges) -> Vec<u8> {
    let text = String::from_utf8_lossy(&reply).into_owned();
    let (head, body) = text.split_once("\r\n\r\n").unwrap_or((&text, ""));
    let mut head: Vec<String> = head.split("\r\n").map(str::to_owned).collect();
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
    match c.digest_style.as_deref() {
        Some("padded") => body = replace_digest(&body, |d| format!("{d}=")),
        Some("spaced") => {
            body = replace_digest(&body, |d| {
                d.as_bytes()
                    .chunks(8)
                    .map(|c| String::from_utf8_lossy(c).into_owned())
                    .collect::<Vec<_>>()
                    .join(" ")
            })
        }
        Some("indented") => body = replace_digest(&body, |d| format!("   {d}")),
        _ => {}
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
    format!("{}\r\n\r\n{body}", out.join("\r\n")).into_bytes()
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
        String::from_utf8(change_reply(REPLY.as_bytes().to_vec(), &c)).unwrap()
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
            digest_style: Some("padded".into()),
            ..ReplyChanges::default()
        });
        assert!(
            text.contains("RESPONSE-----\r\nAAAABBBB=\r\n-----END"),
            "{text}"
        );
        let text = changed(ReplyChanges {
            digest_style: Some("spaced".into()),
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
}
