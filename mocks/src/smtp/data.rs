//! DATA content (RFC 5321 §4.1.1.4, §4.5.2): end-of-data detection, dot-unstuffing, bare CR/LF
//! detection and the size limits. Pure: it is fed lines as the reader splits them at LF.
//!
//! Smuggling (the 2023 SMTP smuggling advisories; RFC 5321 §2.3.8): the message ends ONLY at
//! `CRLF . CRLF` — a `.` line terminated by CRLF that follows a line terminated by CRLF (the
//! `354` follows the DATA line's CRLF, so the first line counts as following one). `\n.\n`,
//! `\r.\r\n`, `\r\n.\n` and `\n.\r\n` are content. Policy: any bare LF or bare CR anywhere in
//! the content marks the message, and the session rejects it after the real end of data with
//! `550 5.6.0` (Postfix `smtpd_forbid_bare_newline` style), so a receiver behind us that would
//! read those sequences differently never sees them.

use crate::mail::Reply;

/// RFC 5321 §4.5.3.1.6: a text line is at most 1000 octets including CRLF.
pub(crate) const TEXT_LINE_MAX: usize = 1000;

/// How much of one DATA section a transcript keeps: the rest is counted, not kept.
pub(crate) const DATA_SHOWN_OCTETS: usize = 64 * 1024;

/// The transcript form of a DATA section: the message as received (lossy UTF-8, CRLF kept),
/// cut after [`DATA_SHOWN_OCTETS`] with a count of what follows; a section the server refused
/// is only counted.
pub(crate) fn data_shown(data: Option<&[u8]>, octets: usize) -> String {
    let Some(data) = data else {
        return format!("<{octets} octets of DATA, refused>");
    };
    let shown = &data[..data.len().min(DATA_SHOWN_OCTETS)];
    // Valid UTF-8 (nearly every message) is checked by the fast validator and copied once.
    let mut text = match std::str::from_utf8(shown) {
        Ok(valid) => valid.to_owned(),
        Err(_) => String::from_utf8_lossy(shown).into_owned(),
    };
    if data.len() > shown.len() {
        text.push_str(&format!("… {} more octets", data.len() - shown.len()));
    }
    text
}

/// What feeding a line did.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum Fed {
    More,
    End,
}

#[derive(Debug)]
pub(crate) struct DataParser {
    data: Vec<u8>,
    max: usize,
    after_crlf: bool,
    bare: bool,
    overlong: bool,
    oversize: bool,
    octets: usize,
}

impl DataParser {
    pub(crate) fn new(max: usize) -> Self {
        DataParser {
            data: Vec::new(),
            max,
            after_crlf: true,
            bare: false,
            overlong: false,
            oversize: false,
            octets: 0,
        }
    }

    /// Feeds one line including its LF.
    pub(crate) fn feed(&mut self, line: &[u8]) -> Fed {
        let crlf = line.ends_with(b"\r\n");
        if self.after_crlf && line == b".\r\n" {
            return Fed::End;
        }
        let body_len = line.len() - if crlf { 2 } else { 1 };
        if !crlf || memchr::memchr(b'\r', &line[..body_len]).is_some() {
            self.bare = true;
        }
        if line.len() > TEXT_LINE_MAX {
            self.overlong = true;
        }
        // RFC 5321 §4.5.2: a leading period is removed.
        let content = match line.first() {
            Some(b'.') => &line[1..],
            _ => line,
        };
        self.octets = self.octets.saturating_add(content.len());
        self.store(content);
        self.after_crlf = crlf;
        Fed::More
    }

    /// A line longer than the reader's bound was dropped.
    pub(crate) fn feed_too_long(&mut self, crlf: bool) {
        self.overlong = true;
        if !crlf {
            self.bare = true;
        }
        self.after_crlf = crlf;
    }

    fn store(&mut self, content: &[u8]) {
        if self.oversize {
            return;
        }
        if self.data.len() + content.len() > self.max {
            // RFC 1870 §6.3: keep reading to the end, store nothing more, answer 552 then.
            self.oversize = true;
            self.data = Vec::new();
            return;
        }
        self.data.extend_from_slice(content);
    }

    /// Octets of content seen (after unstuffing), stored or not.
    pub(crate) fn octets(&self) -> usize {
        self.octets
    }

    /// The message, or the reply that rejects it.
    pub(crate) fn finish(self) -> Result<Vec<u8>, Reply> {
        if self.bare {
            return Err(Reply::new(550, (5, 6, 0), "bare LF/CR not allowed"));
        }
        if self.oversize {
            return Err(Reply::new(
                552,
                (5, 3, 4),
                "message exceeds fixed maximum message size",
            ));
        }
        if self.overlong {
            // RFC 5321 §4.5.3.1.9: "552 Too much mail data" is the reply for exceeded data
            // limits; 500 is not a valid reply to the end of DATA (§4.3.2).
            return Err(Reply::new(
                552,
                (5, 3, 4),
                "text line longer than 1000 octets",
            ));
        }
        Ok(self.data)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn data_is_shown_up_to_the_cap_and_counted_beyond() {
        assert_eq!(
            data_shown(Some(b"Subject: x\r\n\r\nhi\r\n"), 17),
            "Subject: x\r\n\r\nhi\r\n"
        );
        let big = vec![b'a'; DATA_SHOWN_OCTETS + 10];
        let shown = data_shown(Some(&big), big.len());
        assert!(
            shown.ends_with("… 10 more octets"),
            "{}",
            &shown[shown.len() - 40..]
        );
        assert_eq!(shown.len(), DATA_SHOWN_OCTETS + "… 10 more octets".len());
        assert_eq!(data_shown(None, 99), "<99 octets of DATA, refused>");
    }

    /// Splits like the reader does and feeds until the end.
    fn run(input: &[u8], max: usize) -> (Option<Result<Vec<u8>, Reply>>, usize) {
        let mut p = DataParser::new(max);
        let mut pos = 0;
        while let Some(i) = input[pos..].iter().position(|&b| b == b'\n') {
            let line = &input[pos..pos + i + 1];
            pos += i + 1;
            if p.feed(line) == Fed::End {
                return (Some(p.finish()), pos);
            }
        }
        (None, pos)
    }

    #[test]
    fn unstuffs_and_ends_at_crlf_dot_crlf() {
        let (r, used) = run(b"a\r\n..b\r\n.\r\nMAIL", 100);
        assert_eq!(r.unwrap().unwrap(), b"a\r\n.b\r\n");
        assert_eq!(used, 11);
        let (r, _) = run(b".\r\n", 100);
        assert_eq!(r.unwrap().unwrap(), b"");
    }

    #[test]
    fn smuggling_variants_do_not_end_and_are_rejected() {
        for sep in [
            &b"\n.\n"[..],
            &b"\r.\r\n"[..],
            &b"\r\n.\n"[..],
            &b"\n.\r\n"[..],
        ] {
            let mut msg = b"Subject: x\r\n\r\nhello".to_vec();
            msg.extend_from_slice(sep);
            msg.extend_from_slice(b"MAIL FROM:<evil@x.example>\r\nRCPT TO:<v@y.example>\r\n");
            msg.extend_from_slice(b"DATA\r\nsmuggled\r\n.\r\n");
            let (r, used) = run(&msg, 1 << 20);
            assert_eq!(used, msg.len(), "{sep:?} ended early");
            let reply = r.unwrap().unwrap_err();
            assert_eq!((reply.code, reply.enhanced), (550, Some((5, 6, 0))));
        }
    }

    #[test]
    fn limits() {
        let (r, _) = run(b"0123456789\r\n0123456789\r\n.\r\n", 15);
        assert_eq!(r.unwrap().unwrap_err().code, 552);
        let long = [vec![b'x'; 999], b"\r\n.\r\n".to_vec()].concat();
        assert_eq!(run(&long, 1 << 20).0.unwrap().unwrap_err().code, 552);
        let ok = [vec![b'x'; 998], b"\r\n.\r\n".to_vec()].concat();
        assert!(run(&ok, 1 << 20).0.unwrap().is_ok());
    }

    proptest! {
        /// Content that never contains CRLF.CRLF never ends, whatever else it holds.
        #[test]
        fn only_crlf_dot_crlf_ends(body in proptest::collection::vec(
            prop_oneof![Just(b'\r'), Just(b'\n'), Just(b'.'), Just(b'a')], 0..200)) {
            let mut input = b"x\r\n".to_vec();
            input.extend_from_slice(&body);
            let ends = input.windows(5).any(|w| w == b"\r\n.\r\n");
            let (r, _) = run(&input, 1 << 20);
            prop_assert_eq!(r.is_some(), ends);
        }
    }
}
