//! SASL decoding for AUTH (RFC 4954): PLAIN (RFC 4616) and LOGIN. Pure; the session does the
//! exchange. Secrets never reach a log: the session redacts AUTH lines in the transcript.

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;

use crate::mail::Reply;

/// `334 VXNlcm5hbWU6` / `334 UGFzc3dvcmQ6`: "Username:" and "Password:" in base64.
pub(crate) const LOGIN_USER_PROMPT: &str = "VXNlcm5hbWU6";
pub(crate) const LOGIN_PASS_PROMPT: &str = "UGFzc3dvcmQ6";

/// The client's answer to a `334` challenge, or its initial response.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum Response {
    /// Decoded bytes (`=` is the empty initial response, RFC 4954 §4).
    Bytes(Vec<u8>),
    /// `*`: cancel (RFC 4954 §4: the server MUST reply 501).
    Cancel,
}

pub(crate) fn cancelled() -> Reply {
    Reply::new(501, (5, 7, 0), "authentication cancelled")
}

pub(crate) fn bad_base64() -> Reply {
    // RFC 4954 §4: a response that cannot be decoded as base64 is rejected with 501.
    Reply::new(501, (5, 5, 2), "cannot decode base64")
}

pub(crate) fn failed() -> Reply {
    // RFC 4954 §6: 535 5.7.8 authentication credentials invalid.
    Reply::new(535, (5, 7, 8), "authentication credentials invalid")
}

pub(crate) fn decode(text: &str) -> Result<Response, Reply> {
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
        .map_err(|_| bad_base64())
}

/// RFC 4616 §2: `[authzid] NUL authcid NUL passwd`. An authzid other than the authcid would
/// be proxy authorization, which we do not grant.
pub(crate) fn plain(bytes: &[u8]) -> Result<(String, String), Reply> {
    let mut parts = bytes.split(|&b| b == 0);
    let (Some(authz), Some(user), Some(pass), None) =
        (parts.next(), parts.next(), parts.next(), parts.next())
    else {
        return Err(failed());
    };
    let text = |b: &[u8]| String::from_utf8(b.to_vec()).map_err(|_| failed());
    let (authz, user, pass) = (text(authz)?, text(user)?, text(pass)?);
    if !authz.is_empty() && authz != user {
        return Err(failed());
    }
    Ok((user, pass))
}

/// A LOGIN field (user name or password) as text.
pub(crate) fn login_field(bytes: Vec<u8>) -> Result<String, Reply> {
    String::from_utf8(bytes).map_err(|_| failed())
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
        assert!(plain(b"other\0u\0p").is_err());
        assert!(plain(b"\0u").is_err());
        assert_eq!(decode("*").unwrap(), Response::Cancel);
        assert_eq!(decode("=").unwrap(), Response::Bytes(vec![]));
        assert_eq!(decode("!!!").unwrap_err().code, 501);
    }
}
