//! RFC 7638 JWK thumbprints, which ACME uses in every key authorization (RFC 8555 §8.1).
//!
//! The canonical form is written out explicitly here: josekit has no thumbprint API, and it turns
//! on serde_json's `preserve_order`, so serialising a map would keep the input's member order.
//! RFC 7638 §3.2: only the required members, in lexicographic order, no whitespace.

use serde_json::Value;
use sha2::{Digest as _, Sha256};

use crate::b64url;

/// Why a JWK has no thumbprint.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum JwkError {
    /// The text is not a JSON object.
    #[error("JWK is not a JSON object")]
    NotAnObject,
    /// `kty` is missing or names a key type acmeproof does not know.
    #[error("unsupported or missing \"kty\": {0}")]
    KeyType(String),
    /// A required member is missing or not a string.
    #[error("JWK member \"{0}\" is missing or not a string")]
    Missing(&'static str),
    /// A member is not strict base64url (RFC 7518 §6: Base64urlUInt / coordinates).
    #[error("JWK member \"{0}\" is not strict base64url")]
    Encoding(&'static str),
    /// The curve is not one acmeproof supports for this key type.
    #[error("unsupported curve {0:?}")]
    Curve(String),
    /// A coordinate has the wrong length for its curve (RFC 7518 §6.2.1.2).
    #[error("JWK member \"{member}\" is {got} octets, {curve} needs {want}")]
    CoordinateLength {
        /// The member.
        member: &'static str,
        /// The curve.
        curve: String,
        /// The length the curve needs.
        want: usize,
        /// The length seen.
        got: usize,
    },
}

/// Parses `json` and returns its RFC 7638 thumbprint (SHA-256, base64url).
pub fn thumbprint_json(json: &str) -> Result<String, JwkError> {
    let value: Value = serde_json::from_str(json).map_err(|_| JwkError::NotAnObject)?;
    thumbprint(&value)
}

/// RFC 7638 §3: base64url(SHA-256(canonical form)) of a public or private JWK.
pub fn thumbprint(jwk: &Value) -> Result<String, JwkError> {
    Ok(b64url::encode(Sha256::digest(
        canonical_form(jwk)?.as_bytes(),
    )))
}

/// RFC 7638 §3.2/§3.3: the canonical JSON of the required members.
///
/// - RSA: `e`, `kty`, `n` (RFC 7638 §3.2). RFC 8555 §8.1: "any prepended zero octets in the
///   fields of a JWK object MUST be stripped before doing the computation", so leading zero
///   octets of `e` and `n` are removed.
/// - EC: `crv`, `kty`, `x`, `y` for P-256, P-384 and P-521, coordinates at full length
///   (RFC 7518 §6.2.1.2).
/// - OKP: `crv`, `kty`, `x` (RFC 8037 §2) for Ed25519, Ed448, X25519 and X448.
/// - oct: `k`, `kty`.
///
/// Private members are ignored, so a private key has the thumbprint of its public key.
pub fn canonical_form(jwk: &Value) -> Result<String, JwkError> {
    let obj = jwk.as_object().ok_or(JwkError::NotAnObject)?;
    let member = |name: &'static str| -> Result<&str, JwkError> {
        obj.get(name)
            .and_then(Value::as_str)
            .ok_or(JwkError::Missing(name))
    };
    let octets = |name: &'static str| -> Result<Vec<u8>, JwkError> {
        b64url::decode_strict(member(name)?).map_err(|_| JwkError::Encoding(name))
    };
    let kty = obj
        .get("kty")
        .and_then(Value::as_str)
        .ok_or_else(|| JwkError::KeyType("(missing)".into()))?;
    match kty {
        "RSA" => {
            let e = strip_leading_zeros(octets("e")?);
            let n = strip_leading_zeros(octets("n")?);
            Ok(format!(
                r#"{{"e":"{}","kty":"RSA","n":"{}"}}"#,
                b64url::encode(e),
                b64url::encode(n)
            ))
        }
        "EC" => {
            let crv = member("crv")?;
            let want = match crv {
                "P-256" => 32,
                "P-384" => 48,
                "P-521" => 66,
                other => return Err(JwkError::Curve(other.into())),
            };
            for name in ["x", "y"] {
                let got = octets(name)?.len();
                if got != want {
                    return Err(JwkError::CoordinateLength {
                        member: name,
                        curve: crv.into(),
                        want,
                        got,
                    });
                }
            }
            Ok(format!(
                r#"{{"crv":"{crv}","kty":"EC","x":"{}","y":"{}"}}"#,
                member("x")?,
                member("y")?
            ))
        }
        "OKP" => {
            let crv = member("crv")?;
            let want = match crv {
                "Ed25519" | "X25519" => 32,
                "Ed448" => 57,
                "X448" => 56,
                other => return Err(JwkError::Curve(other.into())),
            };
            let got = octets("x")?.len();
            if got != want {
                return Err(JwkError::CoordinateLength {
                    member: "x",
                    curve: crv.into(),
                    want,
                    got,
                });
            }
            Ok(format!(
                r#"{{"crv":"{crv}","kty":"OKP","x":"{}"}}"#,
                member("x")?
            ))
        }
        "oct" => {
            octets("k")?;
            Ok(format!(r#"{{"k":"{}","kty":"oct"}}"#, member("k")?))
        }
        other => Err(JwkError::KeyType(other.into())),
    }
}

fn strip_leading_zeros(mut bytes: Vec<u8>) -> Vec<u8> {
    let zeros = bytes.iter().take_while(|&&b| b == 0).count();
    // Keep one octet for the value zero itself.
    bytes.drain(..zeros.min(bytes.len().saturating_sub(1)));
    bytes
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use serde_json::json;

    const RFC7638_N: &str = "0vx7agoebGcQSuuPiLJXZptN9nndrQmbXEps2aiAFbWhM78LhWx4cbbfAAtVT86zwu1RK7aPFFxuhDR1L6tSoc_BJECPebWKRXjBZCiFV4n3oknjhMstn64tZ_2W-5JsGY4Hc5n9yBXArwl93lqt7_RN5w6Cf0h4QyQ5v-65YGjQR0_FDW2QvzqY368QQMicAtaSqzs8KJZgnYb9c7d0zgdAZHzu6qMQvRL5hajrn1n91CbOpbISD08qNLyrdkt-bFTWhAI4vMQFh6WeZu0fM4lFd2NcRwr3XPksINHaQ-G_xBniIqbw0Ls1jF44-csFCur-kEgU8awapJzKnqDKgw";

    #[test]
    fn rsa_leading_zero_is_stripped() {
        let mut n = vec![0u8];
        n.extend(b64url::decode_strict(RFC7638_N).unwrap());
        let padded = json!({"kty":"RSA","e":"AQAB","n": b64url::encode(&n)});
        let plain = json!({"kty":"RSA","e":"AQAB","n": RFC7638_N});
        assert_eq!(thumbprint(&padded), thumbprint(&plain));
    }

    #[test]
    fn errors_fire() {
        assert_eq!(thumbprint(&json!([])), Err(JwkError::NotAnObject));
        assert_eq!(
            thumbprint(&json!({"kty":"DSA"})),
            Err(JwkError::KeyType("DSA".into()))
        );
        assert_eq!(
            thumbprint(&json!({"kty":"RSA","e":"AQAB"})),
            Err(JwkError::Missing("n"))
        );
        assert_eq!(
            thumbprint(&json!({"kty":"RSA","e":"AQAB=","n":"AQAB"})),
            Err(JwkError::Encoding("e"))
        );
        assert_eq!(
            thumbprint(&json!({"kty":"EC","crv":"P-192","x":"AA","y":"AA"})),
            Err(JwkError::Curve("P-192".into()))
        );
        assert!(matches!(
            thumbprint(&json!({"kty":"EC","crv":"P-256","x":"AQAB","y":"AQAB"})),
            Err(JwkError::CoordinateLength {
                member: "x",
                want: 32,
                got: 3,
                ..
            })
        ));
        assert!(matches!(
            thumbprint(&json!({"kty":"OKP","crv":"Ed25519","x":"AQAB"})),
            Err(JwkError::CoordinateLength {
                member: "x",
                want: 32,
                ..
            })
        ));
    }

    proptest! {
        /// RFC 7638 §3.3: member order and extra members do not change the thumbprint.
        #[test]
        fn order_and_extras_do_not_matter(extra in "[a-z]{1,8}", swap in any::<bool>()) {
            let x = "f83OJ3D2xF1Bg8vub9tLe1gHMzV76e8Tus9uPHvRVEU";
            let y = "x_FEzRu9m36HLN_tue659LNpXW6pCyStikYjKIWI5a0";
            let text = if swap {
                format!(r#"{{"y":"{y}","{extra}x":"v","x":"{x}","kty":"EC","crv":"P-256"}}"#)
            } else {
                format!(r#"{{"crv":"P-256","kty":"EC","x":"{x}","y":"{y}"}}"#)
            };
            prop_assert_eq!(
                thumbprint_json(&text).unwrap(),
                "oKIywvGUpTVTyxMQ3bwIIeQUudfr_CkLMjCE19ECD-U"
            );
        }

        #[test]
        fn never_panics(text in ".{0,200}") {
            let _ = thumbprint_json(&text);
        }
    }
}
