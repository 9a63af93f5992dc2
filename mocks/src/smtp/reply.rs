//! Rendering replies (RFC 5321 §4.2): `code SP text` or, for several lines, `code-text` lines
//! ending with one `code SP text`. Text from hooks is cleaned of CR/LF so a sink cannot inject
//! reply lines.

use crate::mail::Reply;

/// The single line of `reply`, without CRLF.
pub(crate) fn line(reply: &Reply) -> String {
    clean(&reply.to_string())
}

/// The lines of a multi-line reply (EHLO, HELP), without CRLF.
pub(crate) fn multi(code: u16, lines: &[String]) -> Vec<String> {
    let last = lines.len().saturating_sub(1);
    if lines.is_empty() {
        return vec![format!("{code} ")];
    }
    lines
        .iter()
        .enumerate()
        .map(|(i, l)| {
            let sep = if i == last { ' ' } else { '-' };
            clean(&format!("{code}{sep}{l}"))
        })
        .collect()
}

/// A reply without an enhanced code (354, 334, greeting).
pub(crate) fn plain(code: u16, text: impl Into<String>) -> Reply {
    Reply {
        code,
        enhanced: None,
        text: text.into(),
    }
}

fn clean(s: &str) -> String {
    s.chars()
        .map(|c| if c == '\r' || c == '\n' { ' ' } else { c })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn renders_single_and_multi() {
        assert_eq!(line(&Reply::ok("fine")), "250 2.0.0 fine");
        assert_eq!(line(&plain(354, "go\r\nMAIL")), "354 go  MAIL");
        assert_eq!(
            multi(250, &["h".into(), "SIZE 10".into(), "PIPELINING".into()]),
            vec!["250-h", "250-SIZE 10", "250 PIPELINING"]
        );
    }
}
