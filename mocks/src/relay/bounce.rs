//! Non-delivery reports (RFC 3464 delivery status notifications in an RFC 6522
//! multipart/report), built with mail-builder.

use mail_builder::MessageBuilder;
use mail_builder::headers::content_type::ContentType;
use mail_builder::headers::raw::Raw;
use mail_builder::mime::MimePart;

use crate::mail::{Envelope, Reply};

/// How much of the original header section is returned.
const MAX_RETURNED_HEADERS: usize = 16 * 1024;

/// The report `reporting_host` sends to the envelope sender of `original`.
pub fn build(
    reporting_host: &str,
    envelope: &Envelope,
    original: &[u8],
    reply: &Reply,
    date: i64,
) -> Vec<u8> {
    let headers_end = find_header_end(original).min(MAX_RETURNED_HEADERS);
    let returned_headers = String::from_utf8_lossy(&original[..headers_end]).into_owned();
    let status = reply
        .enhanced
        .map(|(c, s, d)| format!("{c}.{s}.{d}"))
        .unwrap_or_else(|| if reply.code >= 500 { "5.0.0" } else { "4.0.0" }.into());
    let mut per_recipient = String::new();
    for rcpt in &envelope.rcpt_to {
        // RFC 6533 §3: a non-ASCII address is reported with the utf-8 address type.
        let kind = if rcpt.is_ascii() { "rfc822" } else { "utf-8" };
        per_recipient.push_str(&format!(
            "\r\nFinal-Recipient: {kind}; {rcpt}\r\nAction: failed\r\nStatus: {status}\r\n\
             Diagnostic-Code: smtp; {reply}\r\n"
        ));
    }
    let delivery_status = format!("Reporting-MTA: dns; {reporting_host}\r\n{per_recipient}");
    let text = format!(
        "This is the mail system at {reporting_host}.\r\n\r\n\
         Your message could not be delivered to {}.\r\n\r\nThe next hop said: {reply}\r\n",
        envelope.rcpt_to.join(", ")
    );
    let boundary = format!("bounce-{date:x}-{:x}", original.len());
    MessageBuilder::new()
        .from((
            "Mail Delivery System".to_owned(),
            format!("MAILER-DAEMON@{reporting_host}"),
        ))
        .to(envelope.mail_from.clone())
        .subject("Undelivered Mail Returned to Sender")
        .date(mail_builder::headers::date::Date::new(date))
        // RFC 3834 §5: a delivery report is auto-replied mail.
        .header("Auto-Submitted", Raw::new("auto-replied"))
        .body(MimePart::new(
            ContentType::new("multipart/report")
                .attribute("report-type", "delivery-status")
                .attribute("boundary", boundary),
            vec![
                MimePart::new("text/plain", text),
                MimePart::new("message/delivery-status", delivery_status),
                MimePart::new("text/rfc822-headers", returned_headers),
            ],
        ))
        .write_to_vec()
        .unwrap_or_default()
}

/// The text of a report as a reader sees it: the raw bytes, then every part decoded (the
/// delivery-status part may be base64 or quoted-printable).
pub fn readable_text(raw: &[u8]) -> String {
    let mut text = String::from_utf8_lossy(raw).into_owned();
    if let Some(message) = mail_parser::MessageParser::default().parse(raw) {
        for part in &message.parts {
            match &part.body {
                mail_parser::PartType::Text(t) | mail_parser::PartType::Html(t) => {
                    text.push('\n');
                    text.push_str(t);
                }
                mail_parser::PartType::Binary(b) | mail_parser::PartType::InlineBinary(b) => {
                    text.push('\n');
                    text.push_str(&String::from_utf8_lossy(b));
                }
                _ => {}
            }
        }
    }
    text
}

fn find_header_end(raw: &[u8]) -> usize {
    raw.windows(4)
        .position(|w| w == b"\r\n\r\n")
        .map(|p| p + 2)
        .unwrap_or(raw.len())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_bounce_parses_and_names_the_recipient_and_the_reply() {
        let envelope = Envelope {
            mail_from: "ca@ca.acmeproof.test".into(),
            rcpt_to: vec!["δοκιμή@παράδειγμα.δοκιμή".into()],
            smtputf8: true,
            body_8bit: false,
        };
        let reply = Reply::new(553, (5, 6, 7), "SMTPUTF8 is not supported here");
        let raw = build(
            "relay.acmeproof.test",
            &envelope,
            b"Subject: ACME: abc\r\nFrom: ca@ca.acmeproof.test\r\n\r\nbody\r\n",
            &reply,
            1_767_225_600,
        );
        let parsed = mail_parser::MessageParser::default().parse(&raw).unwrap();
        assert_eq!(
            parsed.subject(),
            Some("Undelivered Mail Returned to Sender")
        );
        let text = readable_text(&raw);
        assert!(text.contains("Status: 5.6.7"), "{text}");
        assert!(
            text.contains("Final-Recipient: utf-8;"),
            "RFC 6533 address type: {text}"
        );
        assert!(text.contains("Subject: ACME: abc"), "{text}");
        assert!(text.contains("Auto-Submitted: auto-replied"), "{text}");
    }
}
