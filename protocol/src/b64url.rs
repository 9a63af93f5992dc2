//! base64url (RFC 4648 §5) as ACME and RFC 8823 use it.
//!
//! RFC 8555 §6.1 (after RFC 7515 §2): "Trailing '=' characters MUST be stripped. Encoded values
//! that include trailing '=' characters MUST be rejected as improperly encoded." That is
//! [`decode_strict`]. RFC 8823's own examples carry a trailing `=` (token-part1 in Figure 1), so
//! the mail side reads tokens with [`decode_lenient`], which accepts the padding a 4-character
//! block would have, and nothing else.

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;

/// Why a base64url value could not be decoded.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum DecodeError {
    /// RFC 8555 §6.1: padding is not allowed in strict mode.
    #[error("base64url value carries '=' padding, which RFC 8555 §6.1 forbids")]
    Padding,
    /// Lenient mode accepts only the padding the value's length calls for.
    #[error("base64url value has wrong padding")]
    WrongPadding,
    /// A character outside `A-Z a-z 0-9 - _`.
    #[error("character {0:?} at offset {1} is not in the base64url alphabet")]
    Alphabet(char, usize),
    /// The length or the trailing bits cannot come from an encoder.
    #[error("base64url value is not canonical (bad length or non-zero trailing bits)")]
    NotCanonical,
}

/// Encodes octets as base64url without padding.
pub fn encode(bytes: impl AsRef<[u8]>) -> String {
    URL_SAFE_NO_PAD.encode(bytes)
}

/// Decodes base64url the RFC 8555 way: no padding, alphabet only, canonical trailing bits.
pub fn decode_strict(text: &str) -> Result<Vec<u8>, DecodeError> {
    if text.contains('=') {
        return Err(DecodeError::Padding);
    }
    decode_unpadded(text)
}

/// Decodes base64url as mail examples write it: like [`decode_strict`], but the `=` padding
/// that the value's length calls for (one or two) is accepted, as in RFC 8823 Figure 1.
pub fn decode_lenient(text: &str) -> Result<Vec<u8>, DecodeError> {
    let body = text.trim_end_matches('=');
    let pads = text.len() - body.len();
    if pads > 0 {
        // The padded length must be a multiple of 4 and the pad count what the body needs.
        let needed = (4 - body.len() % 4) % 4;
        if pads != needed || needed == 3 {
            return Err(DecodeError::WrongPadding);
        }
    }
    decode_unpadded(body)
}

/// Whether `text` is in the base64url alphabet, without padding.
pub fn is_alphabet(text: &str) -> bool {
    text.bytes()
        .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
}

fn decode_unpadded(text: &str) -> Result<Vec<u8>, DecodeError> {
    if let Some((offset, c)) = text
        .char_indices()
        .find(|&(_, c)| !(c.is_ascii_alphanumeric() || c == '-' || c == '_'))
    {
        return Err(DecodeError::Alphabet(c, offset));
    }
    // The engine rejects a length of 1 mod 4 and non-zero trailing bits.
    URL_SAFE_NO_PAD
        .decode(text)
        .map_err(|_| DecodeError::NotCanonical)
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn strict_rejects_padding_and_alphabet() {
        assert_eq!(decode_strict("AQAB"), Ok(vec![1, 0, 1]));
        assert_eq!(decode_strict("AQ=="), Err(DecodeError::Padding));
        assert_eq!(decode_strict("A+QB"), Err(DecodeError::Alphabet('+', 1)));
        assert_eq!(decode_strict("A/QB"), Err(DecodeError::Alphabet('/', 1)));
        assert_eq!(decode_strict("AQ B"), Err(DecodeError::Alphabet(' ', 2)));
        assert_eq!(decode_strict("A"), Err(DecodeError::NotCanonical));
        // "AR" has non-zero trailing bits: no encoder emits it.
        assert_eq!(decode_strict("AR"), Err(DecodeError::NotCanonical));
    }

    #[test]
    fn lenient_accepts_only_the_needed_padding() {
        let tp1 = "LgYemJLy3F1LDkiJrdIGbEzyFJyOyf6vBdyZ1TG3sME=";
        assert_eq!(decode_lenient(tp1).map(|v| v.len()), Ok(32));
        assert_eq!(decode_strict(tp1), Err(DecodeError::Padding));
        assert_eq!(decode_lenient("AQ=="), Ok(vec![1]));
        assert_eq!(decode_lenient("AQ="), Err(DecodeError::WrongPadding));
        assert_eq!(decode_lenient("AQAB="), Err(DecodeError::WrongPadding));
        assert_eq!(decode_lenient("AQ+B"), Err(DecodeError::Alphabet('+', 2)));
    }

    proptest! {
        #[test]
        fn round_trip(bytes in proptest::collection::vec(any::<u8>(), 0..80)) {
            let text = encode(&bytes);
            prop_assert!(is_alphabet(&text));
            prop_assert_eq!(decode_strict(&text), Ok(bytes.clone()));
            prop_assert_eq!(decode_lenient(&text), Ok(bytes.clone()));
            let padded = format!("{text}{}", "=".repeat((4 - text.len() % 4) % 4));
            prop_assert_eq!(decode_lenient(&padded), Ok(bytes));
        }

        #[test]
        fn never_panics(text in ".{0,64}") {
            let _ = decode_strict(&text);
            let _ = decode_lenient(&text);
        }
    }
}
