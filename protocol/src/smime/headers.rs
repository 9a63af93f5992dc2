//! Header-section checks shared by the challenge and response checkers.

use mail_parser::{Address, Message};

use super::dkim::{DkimJudgement, DkimRules, SignatureResult, judge_dkim};
use crate::address::{self, CaseRule, EmailAddress};
use crate::finding::Findings;
use crate::requirements as req;

/// The raw values of every field called `name` (case-insensitive), in order.
pub(crate) fn raw_values<'m>(msg: &'m Message<'_>, name: &str) -> Vec<&'m str> {
    msg.headers_raw()
        .filter(|(n, _)| n.eq_ignore_ascii_case(name))
        .map(|(_, v)| v)
        .collect()
}

/// The names of all header fields, in order.
pub(crate) fn names<'m>(msg: &'m Message<'_>) -> Vec<&'m str> {
    msg.headers_raw().map(|(n, _)| n).collect()
}

/// RFC 5322 §3.6 and §2.1.1 rules that every message meets (MAIL-1, MAIL-2, MAIL-5).
pub(crate) fn check_rfc5322(msg: &Message<'_>, raw: &[u8], findings: &mut Findings) {
    for name in ["Date", "From"] {
        let n = raw_values(msg, name).len();
        if n != 1 {
            findings.add(
                req::MAIL_1,
                format!("exactly one {name} header field"),
                format!("{n} {name} header fields"),
            );
        }
    }
    for name in ["Subject", "To", "Message-ID", "In-Reply-To"] {
        let n = raw_values(msg, name).len();
        if n > 1 {
            findings.add(
                req::MAIL_2,
                format!("at most one {name} header field"),
                format!("{n} {name} header fields"),
            );
        }
    }
    if let Some((line, len)) = raw
        .split(|&b| b == b'\n')
        .enumerate()
        .map(|(i, l)| (i + 1, l.strip_suffix(b"\r").unwrap_or(l).len()))
        .find(|&(_, len)| len > 998)
    {
        findings.add(
            req::MAIL_5,
            "lines of at most 998 characters",
            format!("line {line} has {len}"),
        );
    }
}

/// Where the first bare CR or bare LF sits, if any (RFC 5322 §2.3; RFC 8823 §3.2 item 7:
/// "Bare LFs or bare CRs are not allowed").
pub(crate) fn bare_line_ending(bytes: &[u8]) -> Option<(&'static str, usize)> {
    for (i, &b) in bytes.iter().enumerate() {
        match b {
            b'\r' if bytes.get(i + 1) != Some(&b'\n') => return Some(("bare CR", i)),
            b'\n' if i == 0 || bytes[i - 1] != b'\r' => return Some(("bare LF", i)),
            _ => {}
        }
    }
    None
}

/// The single mailbox of an address field, or why there is not exactly one.
pub(crate) fn single_address(field: Option<&Address<'_>>) -> Result<String, String> {
    let Some(field) = field else {
        return Err("no such header field".into());
    };
    let addrs: Vec<&str> = field.iter().filter_map(|a| a.address()).collect();
    match addrs.as_slice() {
        [one] => Ok((*one).to_string()),
        [] => Err("no address in the field".into()),
        many => Err(format!("{} addresses: {}", many.len(), many.join(", "))),
    }
}

/// Whether `seen` is the same mailbox as `expected` (RFC 8398 §5: domains normalised, the local
/// part compared by `rule`). Unparseable addresses match only when byte-identical.
pub(crate) fn same_address(seen: &str, expected: &str, rule: CaseRule) -> bool {
    match (
        address::parse_address(seen),
        address::parse_address(expected),
    ) {
        (Ok(a), Ok(b)) => address::addresses_match(&a, &b, rule),
        _ => seen == expected,
    }
}

/// The domain of an address, or `None` when it does not parse.
pub(crate) fn domain_of(addr: &str) -> Option<String> {
    address::parse_address(addr)
        .ok()
        .map(|a: EmailAddress| a.domain().to_string())
}

/// An Auto-Submitted value (RFC 3834 §5): the keyword and its parameters.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct AutoSubmitted {
    /// `no`, `auto-generated`, `auto-replied` or an extension, lower-cased.
    pub keyword: String,
    /// `name=value` parameters, names lower-cased.
    pub params: Vec<(String, String)>,
}

/// Parses an Auto-Submitted value, dropping comments (CFWS) and case (RFC 3834 §5 grammar).
pub(crate) fn parse_auto_submitted(raw: &str) -> AutoSubmitted {
    let mut text = String::with_capacity(raw.len());
    let mut depth = 0usize;
    for c in raw.chars() {
        match c {
            '(' => depth += 1,
            ')' if depth > 0 => depth -= 1,
            _ if depth == 0 => text.push(c),
            _ => {}
        }
    }
    let mut parts = text.split(';');
    let keyword = parts.next().unwrap_or("").trim().to_ascii_lowercase();
    let params = parts
        .filter_map(|p| {
            let (k, v) = p.split_once('=')?;
            Some((
                k.trim().to_ascii_lowercase(),
                v.trim().trim_matches('"').to_string(),
            ))
        })
        .collect();
    AutoSubmitted { keyword, params }
}

/// The DKIM verdict on a message under `rules` ([`judge_dkim`]): with the per-signature results
/// of a verifier when the caller has them, else from the DKIM-Signature fields alone (each
/// [`Verification::NotChecked`](super::dkim::Verification::NotChecked)).
pub(crate) fn check_dkim(
    msg: &Message<'_>,
    from_domain: Option<&str>,
    verified: Option<&[SignatureResult]>,
    rules: &DkimRules,
) -> DkimJudgement {
    let read;
    let signatures = match verified {
        Some(results) => results,
        None => {
            read = raw_values(msg, "DKIM-Signature")
                .into_iter()
                .map(SignatureResult::unchecked)
                .collect::<Vec<_>>();
            &read[..]
        }
    };
    judge_dkim(signatures, from_domain, rules)
}

/// Whether the message is S/MIME signed at its top level (RFC 8551 §3.5):
/// `multipart/signed` or `application/pkcs7-mime; smime-type=signed-data`.
pub(crate) fn is_smime_signed(msg: &Message<'_>) -> bool {
    use mail_parser::MimeHeaders as _;
    let Some(ct) = msg.root_part().content_type() else {
        return false;
    };
    let (ctype, subtype) = (ct.ctype(), ct.subtype().unwrap_or(""));
    (ctype.eq_ignore_ascii_case("multipart") && subtype.eq_ignore_ascii_case("signed"))
        || ((ctype.eq_ignore_ascii_case("application"))
            && (subtype.eq_ignore_ascii_case("pkcs7-mime")
                || subtype.eq_ignore_ascii_case("x-pkcs7-mime"))
            && ct
                .attribute("smime-type")
                .is_some_and(|t| t.eq_ignore_ascii_case("signed-data")))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bare_line_endings_are_found() {
        assert_eq!(bare_line_ending(b"a\r\nb\r\n"), None);
        assert_eq!(bare_line_ending(b"a\r\nb\nc"), Some(("bare LF", 4)));
        assert_eq!(bare_line_ending(b"\na"), Some(("bare LF", 0)));
        assert_eq!(bare_line_ending(b"a\rb\r\n"), Some(("bare CR", 1)));
        assert_eq!(bare_line_ending(b"a\r"), Some(("bare CR", 1)));
    }

    #[test]
    fn auto_submitted_grammar() {
        let a = parse_auto_submitted(" Auto-Generated (why) ;type = ACME ; x=\"y\"");
        assert_eq!(a.keyword, "auto-generated");
        assert_eq!(
            a.params,
            [("type".into(), "ACME".into()), ("x".into(), "y".into())]
        );
        assert_eq!(parse_auto_submitted("no").keyword, "no");
    }
}
