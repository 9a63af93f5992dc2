//! Parsing POP3 command lines (pure): RFC 1939 §3 keywords are case-insensitive, separated from
//! their arguments by a single space; RFC 2449 §4 raises the line limit to 255 octets.

/// RFC 2449 §4: "The maximum length of a command is increased ... to 255 octets, including the
/// terminating CRLF."
pub(crate) const READ_LINE_MAX: usize = 255;

/// One parsed command.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Command {
    User(String),
    Pass(String),
    Capa,
    Stls,
    Utf8,
    Quit,
    Stat,
    List(Option<u32>),
    Retr(u32),
    Dele(u32),
    Noop,
    Rset,
    Top(u32, u32),
    Uidl(Option<u32>),
}

/// Why a line is not a command; each becomes one `-ERR` line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum ParseError {
    /// The line is not UTF-8 or holds control characters.
    Garbage,
    /// Not a command we know (APOP, AUTH and anything else).
    Unknown(String),
    /// A known command with missing, extra or malformed arguments.
    Syntax(&'static str),
}

impl ParseError {
    /// The text after `-ERR `.
    pub(crate) fn text(&self) -> String {
        match self {
            ParseError::Garbage => "invalid characters in command line".into(),
            ParseError::Unknown(verb) => format!("unknown command {verb}"),
            ParseError::Syntax(usage) => format!("syntax: {usage}"),
        }
    }
}

/// The line without its CRLF (or bare LF), if it is UTF-8 without other control characters.
pub(crate) fn strip_line(bytes: &[u8]) -> Result<&str, ParseError> {
    let body = bytes.strip_suffix(b"\n").unwrap_or(bytes);
    let body = body.strip_suffix(b"\r").unwrap_or(body);
    let text = std::str::from_utf8(body).map_err(|_| ParseError::Garbage)?;
    if text.chars().any(char::is_control) {
        return Err(ParseError::Garbage);
    }
    Ok(text)
}

/// Parses one command line (without its line ending).
pub(crate) fn parse(line: &str) -> Result<Command, ParseError> {
    let (verb, rest) = match line.split_once(' ') {
        Some((v, r)) => (v, Some(r)),
        None => (line, None),
    };
    let upper = verb.to_ascii_uppercase();
    let none = |cmd: Command, usage: &'static str| match rest {
        None => Ok(cmd),
        Some(_) => Err(ParseError::Syntax(usage)),
    };
    match upper.as_str() {
        // RFC 1939 §7: the name and the password are the rest of the line; §13 notes that a
        // server may treat spaces in the PASS argument as part of the password.
        "USER" => match rest {
            Some(name) if !name.is_empty() => Ok(Command::User(name.to_owned())),
            _ => Err(ParseError::Syntax("USER name")),
        },
        "PASS" => match rest {
            Some(pw) if !pw.is_empty() => Ok(Command::Pass(pw.to_owned())),
            _ => Err(ParseError::Syntax("PASS password")),
        },
        "CAPA" => none(Command::Capa, "CAPA"),
        "STLS" => none(Command::Stls, "STLS"),
        "UTF8" => none(Command::Utf8, "UTF8"),
        "QUIT" => none(Command::Quit, "QUIT"),
        "STAT" => none(Command::Stat, "STAT"),
        "NOOP" => none(Command::Noop, "NOOP"),
        "RSET" => none(Command::Rset, "RSET"),
        "LIST" => optional_number(rest, "LIST [msg]").map(Command::List),
        "UIDL" => optional_number(rest, "UIDL [msg]").map(Command::Uidl),
        "RETR" => one_number(rest, "RETR msg").map(Command::Retr),
        "DELE" => one_number(rest, "DELE msg").map(Command::Dele),
        "TOP" => {
            let usage = "TOP msg n";
            let args = rest.ok_or(ParseError::Syntax(usage))?;
            let (msg, n) = args.split_once(' ').ok_or(ParseError::Syntax(usage))?;
            Ok(Command::Top(number(msg, usage)?, number(n, usage)?))
        }
        _ => {
            let shown: String = verb.chars().take(16).collect();
            Err(ParseError::Unknown(shown))
        }
    }
}

/// RFC 1939 §3: numeric arguments are decimal; a message number is at least 1 (0 parses and
/// is answered "no such message" by the session, like any out-of-range number).
fn number(text: &str, usage: &'static str) -> Result<u32, ParseError> {
    if text.is_empty() || text.len() > 10 || !text.bytes().all(|b| b.is_ascii_digit()) {
        return Err(ParseError::Syntax(usage));
    }
    text.parse().map_err(|_| ParseError::Syntax(usage))
}

fn one_number(rest: Option<&str>, usage: &'static str) -> Result<u32, ParseError> {
    number(rest.ok_or(ParseError::Syntax(usage))?, usage)
}

fn optional_number(rest: Option<&str>, usage: &'static str) -> Result<Option<u32>, ParseError> {
    rest.map(|r| number(r, usage)).transpose()
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn commands() {
        assert_eq!(parse("user alice"), Ok(Command::User("alice".into())));
        assert_eq!(parse("PASS a b c"), Ok(Command::Pass("a b c".into())));
        assert_eq!(parse("LIST"), Ok(Command::List(None)));
        assert_eq!(parse("list 2"), Ok(Command::List(Some(2))));
        assert_eq!(parse("TOP 1 0"), Ok(Command::Top(1, 0)));
        assert_eq!(parse("Uidl 3"), Ok(Command::Uidl(Some(3))));
        assert_eq!(parse("stls"), Ok(Command::Stls));
        assert_eq!(parse("RETR x"), Err(ParseError::Syntax("RETR msg")));
        assert_eq!(parse("RETR"), Err(ParseError::Syntax("RETR msg")));
        assert_eq!(
            parse("RETR 99999999999"),
            Err(ParseError::Syntax("RETR msg"))
        );
        assert_eq!(parse("TOP 1"), Err(ParseError::Syntax("TOP msg n")));
        assert_eq!(parse("QUIT now"), Err(ParseError::Syntax("QUIT")));
        assert_eq!(parse("PASS"), Err(ParseError::Syntax("PASS password")));
        assert_eq!(parse("APOP a b"), Err(ParseError::Unknown("APOP".into())));
    }

    #[test]
    fn line_endings_and_garbage() {
        assert_eq!(strip_line(b"NOOP\r\n"), Ok("NOOP"));
        assert_eq!(strip_line(b"NOOP\n"), Ok("NOOP"));
        assert_eq!(strip_line(b"\xff\xfe\r\n"), Err(ParseError::Garbage));
        assert_eq!(strip_line(b"NO\0OP\r\n"), Err(ParseError::Garbage));
    }

    proptest! {
        #[test]
        fn never_panics(bytes in proptest::collection::vec(any::<u8>(), 0..300)) {
            if let Ok(text) = strip_line(&bytes) {
                let _ = parse(text);
            }
        }
    }
}
