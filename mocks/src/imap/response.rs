//! Building response lines: atoms, quoted strings, literals (RFC 3501 §4.3), `NIL`. Each
//! response keeps the octets to send and a transcript form in which a literal's content is
//! replaced by a `<n octets>` marker, so the transcript stays small.

/// How strings may be sent.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Charset {
    /// IMAP4rev1 without UTF8=ACCEPT: quoted strings are 7-bit; 8-bit text goes as a literal.
    Ascii,
    /// After `ENABLE UTF8=ACCEPT` (RFC 6855 §3): quoted strings may carry UTF-8.
    Utf8,
}

/// One response being built.
#[derive(Debug, Default)]
pub(crate) struct Resp {
    pub(crate) wire: Vec<u8>,
    pub(crate) shown: String,
}

impl Resp {
    pub(crate) fn new(start: &str) -> Self {
        let mut r = Resp::default();
        r.raw(start);
        r
    }

    /// Protocol text, sent as is (callers never pass CR or LF).
    pub(crate) fn raw(&mut self, s: &str) -> &mut Self {
        self.wire.extend_from_slice(s.as_bytes());
        self.shown.push_str(s);
        self
    }

    /// A literal: `{n}` CRLF and the octets.
    pub(crate) fn literal(&mut self, bytes: &[u8]) -> &mut Self {
        let head = format!("{{{}}}\r\n", bytes.len());
        self.wire.extend_from_slice(head.as_bytes());
        self.wire.extend_from_slice(bytes);
        self.shown
            .push_str(&format!("{{{}}}<{} octets>", bytes.len(), bytes.len()));
        self
    }

    /// A string: quoted when it can be, else a literal.
    pub(crate) fn string(&mut self, bytes: &[u8], charset: Charset) -> &mut Self {
        let quotable = bytes.len() <= 1024
            && !bytes.iter().any(|&b| matches!(b, 0 | b'\r' | b'\n'))
            && match charset {
                Charset::Ascii => bytes.is_ascii(),
                Charset::Utf8 => std::str::from_utf8(bytes).is_ok(),
            };
        if !quotable {
            return self.literal(bytes);
        }
        let mut q = String::with_capacity(bytes.len() + 2);
        q.push('"');
        for c in String::from_utf8_lossy(bytes).chars() {
            if c == '"' || c == '\\' {
                q.push('\\');
            }
            q.push(c);
        }
        q.push('"');
        self.raw(&q)
    }

    /// `nstring`: `NIL` or a string.
    pub(crate) fn nstring(&mut self, bytes: Option<&[u8]>, charset: Charset) -> &mut Self {
        match bytes {
            Some(b) => self.string(b, charset),
            None => self.raw("NIL"),
        }
    }

    /// `astring` for a mailbox name: an atom when it is one, else a string.
    pub(crate) fn mailbox(&mut self, name: &str, charset: Charset) -> &mut Self {
        let atom = !name.is_empty()
            && name.bytes().all(|c| {
                c > 0x20
                    && c < 0x7f
                    && !matches!(c, b'(' | b')' | b'{' | b'%' | b'*' | b'"' | b'\\' | b']')
            });
        if atom {
            self.raw(name)
        } else {
            self.string(name.as_bytes(), charset)
        }
    }
}

/// A flag list `(\Seen foo)`.
pub(crate) fn flag_list<'a>(flags: impl IntoIterator<Item = &'a str>) -> String {
    let v: Vec<&str> = flags.into_iter().collect();
    format!("({})", v.join(" "))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn strings_quoted_or_literal() {
        let mut r = Resp::new("* ");
        r.string(b"a \"b\" \\c", Charset::Ascii);
        assert_eq!(r.wire, b"* \"a \\\"b\\\" \\\\c\"");
        let mut r = Resp::default();
        r.string("δ".as_bytes(), Charset::Ascii);
        assert_eq!(r.wire, b"{2}\r\n\xce\xb4");
        assert_eq!(r.shown, "{2}<2 octets>");
        let mut r = Resp::default();
        r.string("δ".as_bytes(), Charset::Utf8);
        assert_eq!(r.shown, "\"δ\"");
        let mut r = Resp::default();
        r.string(b"a\r\nb", Charset::Utf8)
            .raw(" ")
            .nstring(None, Charset::Ascii);
        assert_eq!(r.wire, b"{4}\r\na\r\nb NIL");
        let mut r = Resp::default();
        r.mailbox("INBOX", Charset::Ascii)
            .raw(" ")
            .mailbox("My Box", Charset::Ascii);
        assert_eq!(r.shown, "INBOX \"My Box\"");
    }
}
