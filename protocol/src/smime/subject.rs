//! The `Subject: ACME: <token-part1>` line (RFC 8823 §3.1 item 1, §3.2 item 1).
//!
//! mail-parser unfolds the field and decodes RFC 2047 encoded-words; this module reads the
//! decoded text. It also lists the charsets of the encoded-words in the *raw* field, because
//! RFC 8823 §3.1 item 1 restricts them: "only the "UTF-8" and "US-ASCII" charsets are allowed".

use crate::{b64url, token};

/// The label that precedes token-part1.
pub const LABEL: &str = "ACME:";

/// What a decoded Subject says.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SubjectToken {
    /// Text before `ACME:`, trimmed (empty for a challenge, `Re:` and the like for a response).
    pub prefix: String,
    /// token-part1 with all whitespace removed (RFC 8823 §3.1 item 1: "white spaces (if any)
    /// within the <token-part1> MUST be ignored").
    pub token_part1: String,
    /// Whether folding white space follows the label, as the syntax requires.
    pub fws_after_label: bool,
}

impl SubjectToken {
    /// Whether the prefix marks a reply (RFC 8823 §3 step 5: "a subject starting with the reply
    /// prefix "Re:""). Matched case-insensitively: MUAs write `Re:`, `RE:` and `re:`.
    pub fn is_reply(&self) -> bool {
        self.prefix
            .get(..3)
            .is_some_and(|p| p.eq_ignore_ascii_case("re:"))
    }

    /// Whether token-part1 is base64url, a trailing `=` tolerated.
    pub fn token_is_base64url(&self) -> bool {
        !self.token_part1.is_empty() && b64url::decode_lenient(&self.token_part1).is_ok()
    }

    /// token-part1's length in bits, when it decodes.
    pub fn token_bits(&self) -> Option<usize> {
        token::token_bits(&self.token_part1).ok()
    }
}

/// Reads token-part1 from a decoded, unfolded Subject. `None` when there is no `ACME:` label.
///
/// RFC 8823 §3.2 item 1: servers "can ignore any prefix before the "ACME:" label", so the label
/// is looked for anywhere; the prefix is returned for the caller to judge.
pub fn parse_subject(decoded: &str) -> Option<SubjectToken> {
    let at = decoded.find(LABEL)?;
    let rest = &decoded[at + LABEL.len()..];
    Some(SubjectToken {
        prefix: decoded[..at].trim().to_string(),
        token_part1: token::strip_whitespace(rest),
        fws_after_label: rest.starts_with([' ', '\t', '\r', '\n']),
    })
}

/// One RFC 2047 encoded-word found in a raw header value.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EncodedWord {
    /// The charset, without an RFC 2231 §5 `*language` suffix, as written.
    pub charset: String,
    /// `B` or `Q` (upper-cased).
    pub encoding: char,
    /// Its length from `=?` to `?=`.
    pub length: usize,
    /// Whether its encoded-text is made of what its encoding allows (RFC 2047 §4.1: the
    /// base64 alphabet and `=` for `B`; §4.2: printable ASCII but `?` for `Q`).
    pub text_valid: bool,
}

/// RFC 2047 §2: "An 'encoded-word' may not be more than 75 characters long, including
/// 'charset', 'encoding', 'encoded-text', and delimiters."
pub const MAX_ENCODED_WORD: usize = 75;

impl EncodedWord {
    /// RFC 8823 §3.1 item 1: only UTF-8 and US-ASCII are allowed (charset names are
    /// case-insensitive, RFC 2047 §2).
    pub fn charset_allowed(&self) -> bool {
        self.charset.eq_ignore_ascii_case("utf-8") || self.charset.eq_ignore_ascii_case("us-ascii")
    }

    /// Why the word is not well formed (RFC 2047 §2, §4; MAIL-6), if it is not. Decoders
    /// accept such words, so this is the one place that notices them.
    pub fn malformed(&self) -> Option<String> {
        if self.length > MAX_ENCODED_WORD {
            return Some(format!(
                "an encoded-word of {} characters (RFC 2047 §2: at most {MAX_ENCODED_WORD})",
                self.length
            ));
        }
        (!self.text_valid).then(|| {
            format!(
                "an encoded-word whose encoded-text is not {} encoding (RFC 2047 §4)",
                self.encoding
            )
        })
    }
}

/// MAIL-6 on one raw header value: one finding per encoded-word that is not well formed.
pub fn check_encoded_words(raw: &str, findings: &mut crate::finding::Findings) {
    for why in encoded_words(raw).iter().filter_map(EncodedWord::malformed) {
        findings.add(
            crate::requirements::MAIL_6,
            "well-formed encoded-words (=?charset?encoding?encoded-text?=, at most 75 characters)",
            why,
        );
    }
}

/// The encoded-words of a raw (undecoded) header value, in order.
///
/// Only well-formed words are returned (`=?charset?B|Q?text?=`, RFC 2047 §2); other `=?`
/// sequences are ordinary text, as RFC 2047 §6.1 has a decoder treat them.
pub fn encoded_words(raw: &str) -> Vec<EncodedWord> {
    let mut words = Vec::new();
    let mut rest = raw;
    while let Some(start) = rest.find("=?") {
        let candidate = &rest[start + 2..];
        match parse_encoded_word(candidate) {
            Some((word, used)) => {
                words.push(word);
                rest = &candidate[used..];
            }
            None => rest = candidate,
        }
    }
    words
}

/// Parses `charset?E?text?=` (after the `=?`); returns the word and the bytes consumed.
fn parse_encoded_word(s: &str) -> Option<(EncodedWord, usize)> {
    let charset_end = s.find('?')?;
    let charset_full = &s[..charset_end];
    // RFC 2047 §2: charset is a token: no space, controls or especials.
    if charset_full.is_empty()
        || !charset_full
            .bytes()
            .all(|b| b.is_ascii_graphic() && !b"()<>@,;:\"/[]?.=".contains(&b))
    {
        return None;
    }
    let after = &s[charset_end + 1..];
    let mut chars = after.chars();
    let encoding = chars.next()?.to_ascii_uppercase();
    if !matches!(encoding, 'B' | 'Q') || chars.next()? != '?' {
        return None;
    }
    let text = &after[2..];
    let text_end = text.find("?=")?;
    if text[..text_end].contains([' ', '\t', '\r', '\n']) {
        return None;
    }
    let charset = charset_full
        .split_once('*')
        .map_or(charset_full, |(c, _lang)| c)
        .to_string();
    let used = charset_end + 1 + 2 + text_end + 2;
    let encoded = &text[..text_end];
    let text_valid = match encoding {
        'B' => encoded
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"+/=".contains(&b)),
        _ => encoded.bytes().all(|b| b.is_ascii_graphic() && b != b'?'),
    };
    Some((
        EncodedWord {
            charset,
            encoding,
            length: used + 2,
            text_valid,
        },
        used,
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn plain_challenge_subject() {
        let s = parse_subject("ACME: LgYemJLy3F1LDkiJrdIGbEzyFJyOyf6vBdyZ1TG3sME=").unwrap();
        assert_eq!(s.prefix, "");
        assert!(!s.is_reply());
        assert!(s.fws_after_label);
        assert_eq!(s.token_bits(), Some(256));
    }

    #[test]
    fn reply_prefix_and_whitespace_inside_token() {
        let s = parse_subject("Re: Fwd: ACME: LgYemJLy3F1LDki JrdIGbEzyFJyOyf  6vBdyZ1TG3sME=")
            .unwrap();
        assert_eq!(s.prefix, "Re: Fwd:");
        assert!(s.is_reply());
        assert_eq!(
            s.token_part1,
            "LgYemJLy3F1LDkiJrdIGbEzyFJyOyf6vBdyZ1TG3sME="
        );
        assert!(parse_subject("Hello").is_none());
        let tight = parse_subject("ACME:abc").unwrap();
        assert!(!tight.fws_after_label);
        assert!(!parse_subject("ACME: a+b").unwrap().token_is_base64url());
    }

    #[test]
    fn encoded_word_charsets() {
        let words = encoded_words("=?UTF-8?Q?ACME:_LgYe?= =?us-ascii*en?B?QUJD?=");
        assert_eq!(words.len(), 2);
        assert!(words.iter().all(EncodedWord::charset_allowed));
        assert_eq!(words[1].charset, "us-ascii");
        let latin = encoded_words("=?ISO-8859-1?Q?ACME:_abc?=");
        assert_eq!(latin.len(), 1);
        assert!(!latin[0].charset_allowed());
        // Not encoded-words: RFC 2047 §6.1 treats them as text.
        assert!(encoded_words("=?UTF-8?X?abc?=").is_empty());
        assert!(encoded_words("a =? b ?= c").is_empty());
        assert!(encoded_words("=?UTF-8?Q?a b?=").is_empty());
    }

    #[test]
    fn encoded_words_too_long_or_with_bad_text_are_mail_6() {
        let findings = |raw: &str| {
            let mut f = crate::finding::Findings::new();
            check_encoded_words(raw, &mut f);
            f.as_slice().iter().map(|f| f.req).collect::<Vec<_>>()
        };
        // 75 characters exactly: well formed.
        let at_limit = format!("=?US-ASCII?B?{}?=", "A".repeat(60));
        assert_eq!(at_limit.len(), 75);
        assert!(findings(&at_limit).is_empty());
        assert!(findings("=?UTF-8?Q?ACME:_abc?= =?us-ascii?B?QUJD?=").is_empty());
        let over = format!("=?US-ASCII?B?{}?=", "A".repeat(64));
        assert_eq!(findings(&over), ["MAIL-6"]);
        assert_eq!(findings("x =?UTF-8?B?QU*D?= y"), ["MAIL-6"]);
        assert_eq!(encoded_words(&over)[0].length, 79);
    }
}
