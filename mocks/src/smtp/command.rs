//! Parsing one command line (RFC 5321 §4.1) into a [`Command`]. Pure: no I/O, no state.

use crate::mail::Reply;

/// RFC 5321 §4.5.3.1.4: a command line is at most 512 octets including CRLF.
pub(crate) const COMMAND_LINE_MAX: usize = 512;
/// MAIL may be longer by the extensions' allowances: SMTPUTF8 +10 (RFC 6531 §3.4), SIZE +26
/// (RFC 1870 §3), AUTH= +500 (RFC 4954 §5). BODY= needs none in RFC 6152, give it 14.
pub(crate) const MAIL_LINE_MAX: usize = COMMAND_LINE_MAX + 10 + 26 + 500 + 14;
/// RFC 4954 §4: a SASL response (the initial response of AUTH, or a line answering a `334`)
/// may be 12288 octets long.
pub(crate) const AUTH_RESPONSE_MAX: usize = 12_288;
/// A continuation line: the response and its CRLF.
pub(crate) const AUTH_CONTINUATION_MAX: usize = AUTH_RESPONSE_MAX + 2;
/// `AUTH`, a mechanism name (at most 20 characters, RFC 4422 §3.1), the initial response, the
/// spaces between them and CRLF.
pub(crate) const AUTH_LINE_MAX: usize = "AUTH ".len() + 20 + 1 + AUTH_RESPONSE_MAX + 2;
/// What the reader will buffer for any command line before dropping it as too long (the verb's
/// own limit, [`line_limit`], is checked once the line is in).
pub(crate) const READ_LINE_MAX: usize = if AUTH_LINE_MAX > MAIL_LINE_MAX {
    AUTH_LINE_MAX
} else {
    MAIL_LINE_MAX
};
/// RFC 5321 §4.5.3.1.3: a path is at most 256 octets including the angle brackets.
const PATH_MAX: usize = 256;

/// A parsed command.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Command {
    Helo(String),
    Ehlo(String),
    Lhlo(String),
    Mail {
        path: String,
        params: Vec<Param>,
    },
    Rcpt {
        path: String,
        params: Vec<Param>,
    },
    Data,
    Rset,
    Noop,
    Quit,
    Vrfy,
    Help,
    StartTls,
    Auth {
        mechanism: String,
        initial: Option<String>,
    },
    /// Known verbs we do not offer (EXPN, BDAT, TURN, ETRN, ATRN): 502.
    NotImplemented(String),
}

/// A MAIL/RCPT parameter: keyword (upper-cased) and optional value.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Param {
    pub(crate) key: String,
    pub(crate) value: Option<String>,
}

/// Strips the CRLF, or says why the line is not a valid command line.
///
/// RFC 5321 §2.3.8: "lines consisting of CRLF … MUST NOT recognize other sequences as line
/// terminators" — so a bare LF (or a CR or NUL inside the line) makes the line invalid:
/// `500 5.5.2`, the session goes on.
pub(crate) fn strip_line(line: &[u8]) -> Result<&str, Reply> {
    let Some(body) = line.strip_suffix(b"\r\n") else {
        return Err(Reply::new(
            500,
            (5, 5, 2),
            "bare LF in command line not allowed",
        ));
    };
    if body.iter().any(|&b| b == b'\r' || b == b'\n' || b == 0) {
        return Err(Reply::new(500, (5, 5, 2), "bare CR or NUL in command line"));
    }
    std::str::from_utf8(body)
        .map_err(|_| Reply::new(500, (5, 5, 2), "command line is not valid UTF-8"))
}

/// The longest a line of this verb may be (the caller checks after reading).
pub(crate) fn line_limit(line: &str) -> usize {
    let verb = line.split(' ').next().unwrap_or("");
    if verb.eq_ignore_ascii_case("MAIL") {
        MAIL_LINE_MAX
    } else if verb.eq_ignore_ascii_case("AUTH") {
        // `AUTH <mechanism> ` (a mechanism name counts up to its 20-character limit), then the
        // initial response's own allowance and CRLF.
        let head: usize = line.split(' ').take(2).map(|w| w.len() + 1).sum();
        head.min(AUTH_LINE_MAX - AUTH_RESPONSE_MAX - 2) + AUTH_RESPONSE_MAX + 2
    } else {
        COMMAND_LINE_MAX
    }
}

fn syntax(text: &str) -> Reply {
    Reply::new(501, (5, 5, 4), text)
}

/// Parses a command line (without CRLF).
pub(crate) fn parse(line: &str) -> Result<Command, Reply> {
    let (verb, rest) = match line.find(' ') {
        Some(i) => (&line[..i], &line[i + 1..]),
        None => (line, ""),
    };
    let arg = rest.trim();
    let no_arg = |c: Command| {
        if arg.is_empty() {
            Ok(c)
        } else {
            Err(syntax("no parameters allowed"))
        }
    };
    match verb.to_ascii_uppercase().as_str() {
        "HELO" => domain_arg(arg).map(Command::Helo),
        "EHLO" => domain_arg(arg).map(Command::Ehlo),
        "LHLO" => domain_arg(arg).map(Command::Lhlo),
        "MAIL" => {
            // RFC 3463: X.1.7 is the sender's address syntax, X.1.3 the recipient's.
            let (path, params) = path_and_params(rest, "FROM:").map_err(|mut r| {
                if r.enhanced == Some((5, 1, 3)) {
                    r.enhanced = Some((5, 1, 7));
                }
                r
            })?;
            Ok(Command::Mail { path, params })
        }
        "RCPT" => {
            let (path, params) = path_and_params(rest, "TO:")?;
            Ok(Command::Rcpt { path, params })
        }
        "DATA" => no_arg(Command::Data),
        "RSET" => no_arg(Command::Rset),
        "QUIT" => no_arg(Command::Quit),
        "STARTTLS" => no_arg(Command::StartTls),
        // RFC 5321 §4.1.1.9: NOOP may carry a string, which is ignored; HELP likewise.
        "NOOP" => Ok(Command::Noop),
        "HELP" => Ok(Command::Help),
        "VRFY" if !arg.is_empty() => Ok(Command::Vrfy),
        "VRFY" => Err(syntax("VRFY needs an argument")),
        "AUTH" => {
            let mut words = arg.split_ascii_whitespace();
            let mechanism = words
                .next()
                .ok_or_else(|| syntax("AUTH needs a mechanism"))?
                .to_ascii_uppercase();
            let initial = words.next().map(str::to_owned);
            if words.next().is_some() {
                return Err(syntax("too many AUTH arguments"));
            }
            Ok(Command::Auth { mechanism, initial })
        }
        "EXPN" | "BDAT" | "TURN" | "ETRN" | "ATRN" | "SEND" | "SOML" | "SAML" => {
            Ok(Command::NotImplemented(verb.to_ascii_uppercase()))
        }
        _ => Err(Reply::new(500, (5, 5, 2), "command not recognized")),
    }
}

fn domain_arg(arg: &str) -> Result<String, Reply> {
    let name = arg.split_ascii_whitespace().next().unwrap_or("");
    if name.is_empty() {
        return Err(syntax("a domain or address literal is required"));
    }
    Ok(name.to_owned())
}

/// `FROM:<path> params` / `TO:<path> params`. Leniency: spaces after the colon are accepted
/// (common in the field); the keyword is case-insensitive.
fn path_and_params(rest: &str, keyword: &str) -> Result<(String, Vec<Param>), Reply> {
    let Some(head) = rest.get(..keyword.len()) else {
        return Err(syntax(&format!("expected {keyword}<address>")));
    };
    if !head.eq_ignore_ascii_case(keyword) {
        return Err(syntax(&format!("expected {keyword}<address>")));
    }
    let after = rest[keyword.len()..].trim_start();
    let (path, tail) = parse_path(after)?;
    let mut params: Vec<Param> = Vec::new();
    for word in tail.split_ascii_whitespace() {
        let (key, value) = match word.split_once('=') {
            Some((k, v)) => (k, Some(v.to_owned())),
            None => (word, None),
        };
        let valid_key =
            !key.is_empty() && key.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-');
        if !valid_key {
            return Err(syntax("malformed parameter"));
        }
        let key = key.to_ascii_uppercase();
        if params.iter().any(|p| p.key == key) {
            return Err(syntax("duplicate parameter"));
        }
        params.push(Param { key, value });
    }
    Ok((path, params))
}

/// Parses `<...>` at the start of `s`: returns the address (source route dropped, RFC 5321
/// §4.1.1.3 "SHOULD ignore") and the rest of the line.
fn parse_path(s: &str) -> Result<(String, &str), Reply> {
    let bad = || Reply::new(501, (5, 1, 3), "bad address syntax");
    let inner_start = s.strip_prefix('<').ok_or_else(bad)?;
    let mut in_quotes = false;
    let mut escaped = false;
    let mut end = None;
    for (i, c) in inner_start.char_indices() {
        if escaped {
            escaped = false;
            continue;
        }
        match c {
            '\\' if in_quotes => escaped = true,
            '"' => in_quotes = !in_quotes,
            '>' if !in_quotes => {
                end = Some(i);
                break;
            }
            ' ' | '\t' | '<' if !in_quotes => return Err(bad()),
            c if c.is_control() => return Err(bad()),
            _ => {}
        }
    }
    let end = end.ok_or_else(bad)?;
    if end + 2 > PATH_MAX {
        return Err(Reply::new(501, (5, 1, 3), "path too long"));
    }
    let mut addr = &inner_start[..end];
    let rest = &inner_start[end + 1..];
    if !rest.is_empty() && !rest.starts_with(' ') {
        return Err(bad());
    }
    if addr.starts_with('@') {
        // A-d-l ":" Mailbox.
        addr = addr.split_once(':').map(|(_, m)| m).ok_or_else(bad)?;
    }
    if !addr.is_empty() {
        check_mailbox(addr)?;
    }
    Ok((addr.to_owned(), rest))
}

/// `local@domain` by the protocol's one mailbox syntax (`address::check_mailbox`: RFC 5321
/// §4.1.2 with RFC 6531 UTF-8, the §4.5.3.1 size limits); `postmaster` alone is allowed (RCPT,
/// §4.1.1.3). A bad mailbox is answered 501 5.1.3 (RFC 3463 §3.2 "Bad destination mailbox
/// address syntax").
fn check_mailbox(addr: &str) -> Result<(), Reply> {
    use crate::protocol::address::{AddressError, check_mailbox};
    if addr.eq_ignore_ascii_case("postmaster") {
        return Ok(());
    }
    check_mailbox(addr).map_err(|e| {
        let text = match e {
            AddressError::MissingAt => "address needs a domain",
            AddressError::LocalPartTooLong { .. } => "local part too long",
            AddressError::DomainTooLong { .. } => "domain too long",
            AddressError::MultipleAt
            | AddressError::EmptyLocalPart
            | AddressError::InvalidLocalPart { .. } => "bad local part",
            AddressError::EmptyDomain => "bad address syntax",
            _ => "bad domain",
        };
        Reply::new(501, (5, 1, 3), text.to_owned())
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn p(k: &str, v: Option<&str>) -> Param {
        Param {
            key: k.into(),
            value: v.map(Into::into),
        }
    }

    #[test]
    fn parses_mail_and_params() {
        assert_eq!(
            parse("mail from:<a@b.example> SIZE=10 body=8bitmime SMTPUTF8").unwrap(),
            Command::Mail {
                path: "a@b.example".into(),
                params: vec![
                    p("SIZE", Some("10")),
                    p("BODY", Some("8bitmime")),
                    p("SMTPUTF8", None)
                ]
            }
        );
        assert_eq!(
            parse("MAIL FROM:<>").unwrap(),
            Command::Mail {
                path: String::new(),
                params: vec![]
            }
        );
        assert_eq!(
            parse("RCPT TO:<@relay.example:δοκιμή@παράδειγμα.δοκιμή>").unwrap(),
            Command::Rcpt {
                path: "δοκιμή@παράδειγμα.δοκιμή".into(),
                params: vec![]
            }
        );
        assert_eq!(
            parse("RCPT TO:<\"a b>c\"@x.example>").unwrap(),
            Command::Rcpt {
                path: "\"a b>c\"@x.example".into(),
                params: vec![]
            }
        );
        assert_eq!(
            parse("RCPT TO:<Postmaster>").unwrap(),
            Command::Rcpt {
                path: "Postmaster".into(),
                params: vec![]
            }
        );
    }

    #[test]
    fn rejects_bad_syntax() {
        for bad in [
            "MAIL FROM:a@b",
            "MAIL TO:<a@b>",
            "MAIL FROM:<a@b",
            "MAIL FROM:<a b@c>",
            "MAIL FROM:<a@b>X",
            "MAIL FROM:<a@b> SIZE=1 SIZE=2",
            "MAIL FROM:<nodomain>",
            "RCPT TO:<@>",
            "DATA x",
            "EHLO",
            "AUTH",
        ] {
            let r = parse(bad).unwrap_err();
            assert_eq!(r.code, 501, "{bad}");
        }
        assert_eq!(parse("FOO").unwrap_err().code, 500);
        assert_eq!(
            parse(&format!("MAIL FROM:<{}@x.example>", "a".repeat(65)))
                .unwrap_err()
                .code,
            501
        );
    }

    #[test]
    fn an_auth_line_holds_a_12288_octet_initial_response_and_no_more() {
        let at_limit = format!("AUTH PLAIN {}", "A".repeat(AUTH_RESPONSE_MAX));
        assert!(at_limit.len() + 2 <= line_limit(&at_limit));
        assert!(at_limit.len() + 2 <= READ_LINE_MAX);
        let longest_mechanism =
            format!("AUTH {} {}", "M".repeat(20), "A".repeat(AUTH_RESPONSE_MAX));
        assert!(longest_mechanism.len() + 2 <= line_limit(&longest_mechanism));
        let over = format!("AUTH PLAIN {}", "A".repeat(AUTH_RESPONSE_MAX + 1));
        assert!(over.len() + 2 > line_limit(&over));
        assert_eq!(
            line_limit("NOOP"),
            COMMAND_LINE_MAX,
            "only AUTH gets the allowance"
        );
    }

    #[test]
    fn strip_line_rules() {
        assert_eq!(strip_line(b"NOOP\r\n").unwrap(), "NOOP");
        assert_eq!(strip_line(b"NOOP\n").unwrap_err().code, 500);
        assert_eq!(strip_line(b"NO\rOP\r\n").unwrap_err().code, 500);
        assert_eq!(strip_line(b"NO\0OP\r\n").unwrap_err().code, 500);
        assert_eq!(strip_line(b"\xff\xfe\r\n").unwrap_err().code, 500);
    }

    proptest! {
        // Run: cargo test -p acmeproof-mocks --lib smtp::command (256 cases each; more with
        // PROPTEST_CASES=100000).

        /// Any line parses or is refused with a 5xx reply (RFC 5321 §4.2.4: 500/501/502/504,
        /// 555 for parameters); never a panic.
        #[test]
        fn parse_never_panics(s in ".{0,300}") {
            if let Err(reply) = parse(&s) {
                prop_assert!(matches!(reply.code, 500..=504 | 553 | 555), "{reply:?}");
            }
        }

        /// A well-formed MAIL or RCPT comes back as it was written: path and parameters
        /// (keywords upper-cased, RFC 5321 §4.1.1.11).
        #[test]
        fn mail_and_rcpt_round_trip(
            local in "[a-zA-Z0-9_+-]{1,10}(\\.[a-zA-Z0-9_+-]{1,10}){0,2}",
            domain in "[a-z0-9-]{1,20}(\\.[a-z0-9-]{1,10}){0,3}",
            size in proptest::option::of(0u64..100_000_000),
            rcpt in any::<bool>(),
            verb_case in any::<bool>(),
        ) {
            let path = format!("{local}@{domain}");
            let verb = if rcpt { "RCPT TO" } else { "MAIL FROM" };
            let verb = if verb_case { verb.to_lowercase() } else { verb.to_owned() };
            let line = match size {
                Some(n) if !rcpt => format!("{verb}:<{path}> size={n}"),
                _ => format!("{verb}:<{path}>"),
            };
            let params: Vec<Param> = match size {
                Some(n) if !rcpt => vec![p("SIZE", Some(&n.to_string()))],
                _ => vec![],
            };
            let want = if rcpt {
                Command::Rcpt { path, params }
            } else {
                Command::Mail { path, params }
            };
            prop_assert_eq!(parse(&line).unwrap(), want);
        }

        #[test]
        fn strip_never_panics(b in proptest::collection::vec(any::<u8>(), 0..300)) {
            if let Ok(s) = strip_line(&b) { let _ = parse(s); }
        }
    }
}
