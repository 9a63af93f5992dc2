//! [`parse_command`]: the server's command parser applied to one command already received in
//! full, outside any session. It exists for the parser comparison example
//! (`examples/imap_parse_compare.rs`, which measures it against imap-codec); the server never
//! calls it. Session rules (login state, line and literal limits, mailbox existence) are not
//! applied: only what `parse.rs` decides.

use super::parse::{self, ParseError};

/// What the parser makes of one command.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Verdict {
    /// A command the server would execute.
    Command,
    /// A syntax error or unknown command: `tag BAD text` (or `* BAD` without a tag).
    Bad(String),
    /// Well formed but refused by the parser itself: `tag NO text` (an unknown SEARCH charset).
    No(String),
    /// The input stops inside a line or before an announced literal has arrived.
    Incomplete,
}

/// Parses the first command in `wire` (its lines and literals as the client sent them, CRLF
/// included), assembled as the session assembles it: each line without its line ending, a
/// literal announced at the end of a line appended after CRLF, octet-counted.
pub fn parse_command(wire: &[u8]) -> Verdict {
    let mut buf = Vec::with_capacity(wire.len());
    let mut rest = wire;
    loop {
        let Some(end) = rest.iter().position(|&c| c == b'\n') else {
            return Verdict::Incomplete;
        };
        let body = &rest[..end];
        let body = body.strip_suffix(b"\r").unwrap_or(body);
        buf.extend_from_slice(body);
        rest = &rest[end + 1..];
        let Ok(Some((n, _sync))) = parse::trailing_literal(body) else {
            break;
        };
        let Some(literal) = usize::try_from(n).ok().and_then(|n| rest.get(..n)) else {
            return Verdict::Incomplete;
        };
        buf.extend_from_slice(b"\r\n");
        buf.extend_from_slice(literal);
        rest = &rest[literal.len()..];
    }
    match parse::parse(&buf) {
        Ok(_) => Verdict::Command,
        Err(ParseError::NoTag) => Verdict::Bad("* BAD no tag or unreadable command".into()),
        Err(ParseError::Bad { tag, text }) => Verdict::Bad(format!("{tag} BAD {text}")),
        Err(ParseError::No { tag, text }) => Verdict::No(format!("{tag} NO {text}")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn assembles_literals_and_reports_each_outcome() {
        assert_eq!(parse_command(b"a NOOP\r\n"), Verdict::Command);
        assert_eq!(
            parse_command(b"a APPEND INBOX {3}\r\nabc\r\n"),
            Verdict::Command
        );
        assert_eq!(
            parse_command(b"a APPEND INBOX {3}\r\nab"),
            Verdict::Incomplete
        );
        assert_eq!(parse_command(b"a NOOP"), Verdict::Incomplete);
        assert!(matches!(parse_command(b"a FOO\r\n"), Verdict::Bad(t) if t.starts_with("a BAD")));
        assert!(matches!(
            parse_command(b"a SEARCH CHARSET KOI8-R ALL\r\n"),
            Verdict::No(t) if t.contains("BADCHARSET")
        ));
    }
}
