//! SASL decoding shared by SMTP AUTH (RFC 4954), IMAP AUTHENTICATE (RFC 3501 §6.2.2, SASL-IR
//! RFC 4959) and the SMTP client: PLAIN (RFC 4616) and LOGIN. Pure; each protocol does its own
//! exchange and turns a [`SaslError`] into its own answer. Secrets never reach a log: the
//! sessions redact them in the transcript.

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;

/// `334 VXNlcm5hbWU6` / `334 UGFzc3dvcmQ6`: "Username:" and "Password:" in base64.
pub(crate) const LOGIN_USER_PROMPT: &str = "VXNlcm5hbWU6";
pub(crate) const LOGIN_PASS_PROMPT: &str = "UGFzc3dvcmQ6";

/// The client's answer to a challenge, or its initial response.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum Response {
    /// Decoded bytes (`=` is the empty initial response, RFC 4954 §4, RFC 4959 §3).
    Bytes(Vec<u8>),
    /// `*`: cancel (RFC 4954 §4, RFC 3501 §6.2.2).
    Cancel,
}

/// Why a response was not accepted; the protocol picks the words and the code.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum SaslError {
    /// Not base64 (RFC 4954 §4: rejected with 501; RFC 3501 §6.2.2: BAD).
    BadBase64,
    /// Decoded, but not credentials we accept (malformed PLAIN, proxy authorization, not
    /// UTF-8).
    Invalid,
}

/// Decodes one response line (without its CRLF).
pub(crate) fn decode(text: &str) -> Result<Response, SaslError> {
    let text = text.trim();
    if text == "*" {
        return Ok(Response::Cancel);
    }
    if text == "=" {
        return Ok(Response::Bytes(Vec::new()));
    }
    STANDARD
        .decode(text)
        .map(Response::Bytes)
        .map_err(|_| SaslError::BadBase64)
}

/// RFC 4616 §2: `[authzid] NUL authcid NUL passwd`. An authzid other than the authcid would
/// be proxy authorization, which we do not grant.
pub(crate) fn plain(bytes: &[u8]) -> Result<(String, String), SaslError> {
    let mut parts = bytes.split(|&b| b == 0);
    let (Some(authz), Some(user), Some(pass), None) =
        (parts.next(), parts.next(), parts.next(), parts.next())
    else {
        return Err(SaslError::Invalid);
    };
    let text = |b: &[u8]| String::from_utf8(b.to_vec()).map_err(|_| SaslError::Invalid);
    let (authz, user, pass) = (text(authz)?, text(user)?, text(pass)?);
    if !authz.is_empty() && authz != user {
        return Err(SaslError::Invalid);
    }
    Ok((user, pass))
}

/// A LOGIN field (user name or password) as text.
pub(crate) fn login_field(bytes: Vec<u8>) -> Result<String, SaslError> {
    String::from_utf8(bytes).map_err(|_| SaslError::Invalid)
}

/// The PLAIN initial response a client sends.
pub(crate) fn encode_plain(user: &str, pass: &str) -> String {
    STANDARD.encode(format!("\0{user}\0{pass}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn plain_round_trip_and_rules() {
        let Response::Bytes(b) = decode(&encode_plain("u", "p w")).unwrap() else {
            panic!()
        };
        assert_eq!(plain(&b).unwrap(), ("u".into(), "p w".into()));
        assert_eq!(plain(b"u\0u\0p").unwrap(), ("u".into(), "p".into()));
        assert_eq!(plain(b"other\0u\0p"), Err(SaslError::Invalid));
        assert_eq!(plain(b"\0u"), Err(SaslError::Invalid));
        assert_eq!(decode("*").unwrap(), Response::Cancel);
        assert_eq!(decode("=").unwrap(), Response::Bytes(vec![]));
        assert_eq!(decode("!!!").unwrap_err(), SaslError::BadBase64);
    }
}
