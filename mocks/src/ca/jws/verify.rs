//! Key acceptance (RFC 8555 §6.2, ACME-11) and signature verification with josekit.

use std::sync::Arc;

use acmeproof_protocol::b64url;
use josekit::jws::JwsVerifier;
use serde_json::{Map, Value};

use super::algorithms::{bad_public_key, bad_signature_algorithm, check_request_alg, verifier};
use super::parse::{FlattenedJws, ParsedJws};
use crate::ca::problem::Problem;

/// RFC 7517 §9.2/RFC 7518 §6: the members that make a JWK private (or secret).
const PRIVATE_MEMBERS: &[&str] = &["d", "p", "q", "dp", "dq", "qi", "oth", "k"];

/// Smallest and largest accepted RSA modulus. RFC 8555 §6.2 leaves key policy to the server;
/// 2048 is the CA/B Forum floor, 8192 bounds the cost of a verification.
const RSA_MIN_BITS: usize = 2048;
const RSA_MAX_BITS: usize = 8192;

/// Checks that `jwk` is a public key this server accepts for `alg` (RFC 8555 §6.2, ACME-11):
///
/// - `alg` must be supported (else `badSignatureAlgorithm`, see
///   [`check_request_alg`](super::check_request_alg));
/// - ES256 ↔ EC P-256, ES384 ↔ EC P-384, ES512 ↔ EC P-521 (RFC 7518 §3.4), with full-length
///   coordinates of a point on the curve;
/// - RS256 ↔ RSA with 2048 ≤ bits(n) ≤ 8192, counted after stripping leading zero octets;
/// - EdDSA ↔ OKP Ed25519 only (Ed448 is not implemented: RFC 8555 §6.2 names Ed25519);
/// - no private members (`d`, `p`, `q`, `dp`, `dq`, `qi`, `oth`, `k`): a request carrying its
///   private key is refused as `badPublicKey` — the key is not an acceptable public key
///   (RFC 8555 §6.7), and RFC 7517 §9.2 requires private members be kept confidential;
/// - josekit must be able to build a verifier from it (catches off-curve points).
///
/// Every key problem is `badPublicKey`, 400.
pub fn check_public_key(jwk: &Value, alg: &str) -> Result<(), Problem> {
    checked_verifier(jwk, alg).map(|_| ())
}

/// [`check_public_key`], giving the verifier the check built, so that the request's signature
/// is checked with it ([`ParsedJws::verify_with`]) without building or looking it up again.
pub fn checked_verifier(jwk: &Value, alg: &str) -> Result<Arc<dyn JwsVerifier>, Problem> {
    check_request_alg(alg)?;
    let obj = jwk
        .as_object()
        .ok_or_else(|| bad_public_key("JWK is not a JSON object"))?;
    if let Some(m) = PRIVATE_MEMBERS.iter().find(|m| obj.contains_key(**m)) {
        return Err(bad_public_key(format!(
            "JWK carries the private member {m:?}; send the public key only"
        )));
    }
    let s = |name: &str| obj.get(name).and_then(Value::as_str);
    let octets = |name: &str| -> Result<Vec<u8>, Problem> {
        let text = s(name).ok_or_else(|| {
            bad_public_key(format!("JWK member {name:?} missing or not a string"))
        })?;
        b64url::decode_strict(text).map_err(|e| bad_public_key(format!("JWK member {name:?}: {e}")))
    };
    let kty = s("kty").unwrap_or("");
    let crv = s("crv").unwrap_or("");
    match alg {
        "ES256" | "ES384" | "ES512" => {
            let (want_crv, len) = match alg {
                "ES256" => ("P-256", 32),
                "ES384" => ("P-384", 48),
                // RFC 7518 §6.2.1.2: P-521 coordinates are 66 octets.
                _ => ("P-521", 66),
            };
            if kty != "EC" || crv != want_crv {
                return Err(bad_public_key(format!(
                    "{alg} needs an EC {want_crv} key, got kty {kty:?} crv {crv:?}"
                )));
            }
            for c in ["x", "y"] {
                let got = octets(c)?.len();
                if got != len {
                    // RFC 7518 §6.2.1.2: coordinates are the full field size.
                    return Err(bad_public_key(format!(
                        "JWK {c:?} is {got} octets, {want_crv} needs {len}"
                    )));
                }
            }
        }
        "RS256" => {
            if kty != "RSA" {
                return Err(bad_public_key(format!(
                    "RS256 needs an RSA key, got kty {kty:?}"
                )));
            }
            let bits = bit_length(&octets("n")?);
            if !(RSA_MIN_BITS..=RSA_MAX_BITS).contains(&bits) {
                return Err(bad_public_key(format!(
                    "RSA modulus is {bits} bits; this server accepts {RSA_MIN_BITS} to {RSA_MAX_BITS}"
                )));
            }
            if bit_length(&octets("e")?) < 2 {
                return Err(bad_public_key("RSA exponent must be at least 2"));
            }
        }
        "EdDSA" => {
            // RFC 8555 §6.2: EdDSA "using the "Ed25519" variant"; RFC 8037 §2 OKP keys.
            if kty != "OKP" || crv != "Ed25519" {
                return Err(bad_public_key(format!(
                    "EdDSA is accepted with OKP Ed25519 keys only, got kty {kty:?} crv {crv:?}"
                )));
            }
            if octets("x")?.len() != 32 {
                return Err(bad_public_key("Ed25519 \"x\" must be 32 octets"));
            }
        }
        // check_request_alg let only the five above through.
        other => {
            return Err(bad_signature_algorithm(format!(
                "alg {other:?} is not supported"
            )));
        }
    }
    verifier(alg, jwk)
}

/// The public members of a JWK, as josekit needs them: `kty` plus `crv`,`x`,`y` (EC),
/// `crv`,`x` (OKP) or `n`,`e` (RSA). `kid`, `alg`, `use`, `key_ops` and private members are
/// dropped. A non-object or unknown `kty` is `badPublicKey`.
pub fn public_members(jwk: &Value) -> Result<Map<String, Value>, Problem> {
    let obj = jwk
        .as_object()
        .ok_or_else(|| bad_public_key("JWK is not a JSON object"))?;
    let kty = obj.get("kty").and_then(Value::as_str).unwrap_or("");
    let names: &[&str] = match kty {
        "EC" => &["kty", "crv", "x", "y"],
        "OKP" => &["kty", "crv", "x"],
        "RSA" => &["kty", "n", "e"],
        other => return Err(bad_public_key(format!("unsupported JWK kty {other:?}"))),
    };
    let mut out = Map::new();
    for name in names {
        if let Some(v) = obj.get(*name) {
            out.insert((*name).to_owned(), v.clone());
        }
    }
    Ok(out)
}

/// Bits in a big-endian unsigned integer, leading zero octets ignored (RFC 8555 §8.1 / RFC
/// 7518 §6.3.1.1: Base64urlUInt has no leading zeros, but some clients send one).
fn bit_length(octets: &[u8]) -> usize {
    match octets.iter().position(|&b| b != 0) {
        None => 0,
        Some(i) => (octets.len() - i - 1) * 8 + (8 - octets[i].leading_zeros() as usize),
    }
}

impl FlattenedJws {
    /// Verifies the signature over the JWS Signing Input (RFC 7515 §5.2 step 8) with josekit's
    /// verifier for [`alg`](FlattenedJws::alg), built from the public members of `jwk`.
    ///
    /// Only the request algorithms are verified here (MACs are EAB's business). A key josekit
    /// cannot use is `badPublicKey`; a signature that does not verify is `malformed` with
    /// detail "JWS signature does not verify" (RFC 8555 §6.2 has no dedicated error type).
    pub fn verify(&self, jwk: &Value) -> Result<(), Problem> {
        self.verify_with(&*verifier(self.alg(), jwk)?)
    }

    /// Verifies the signature with `verifier` (one [`checked_verifier`] gave for this `alg`).
    pub fn verify_with(&self, verifier: &dyn JwsVerifier) -> Result<(), Problem> {
        verifier
            .verify(&self.signing_input(), self.signature())
            .map_err(|_| {
                Problem::malformed("JWS signature does not verify")
                    .violates(crate::protocol::requirements::ACME_7)
            })
    }
}

impl ParsedJws {
    /// Verifies the request signature with `jwk` (the request's own `jwk`, or the account key
    /// looked up by `kid`); see [`FlattenedJws::verify`]. Call [`check_public_key`] first.
    pub fn verify(&self, jwk: &Value) -> Result<(), Problem> {
        self.jws().verify(jwk)
    }

    /// [`FlattenedJws::verify_with`].
    pub fn verify_with(&self, verifier: &dyn JwsVerifier) -> Result<(), Problem> {
        self.jws().verify_with(verifier)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ca::problem::ProblemType;
    use serde_json::json;

    #[test]
    fn bit_length_strips_leading_zero_octets() {
        assert_eq!(bit_length(&[]), 0);
        assert_eq!(bit_length(&[0, 0]), 0);
        assert_eq!(bit_length(&[1]), 1);
        assert_eq!(bit_length(&[0, 0x80, 0]), 16);
        assert_eq!(bit_length(&[0x01, 0, 1]), 17);
    }

    #[test]
    fn public_members_drops_noise() {
        let jwk = json!({"kty":"EC","crv":"P-256","x":"a","y":"b","d":"s","kid":"k","alg":"ES256","use":"enc"});
        let m = public_members(&jwk).unwrap();
        assert_eq!(
            Value::Object(m),
            json!({"kty":"EC","crv":"P-256","x":"a","y":"b"})
        );
        let e = public_members(&json!({"kty":"oct","k":"AA"})).unwrap_err();
        assert_eq!(e.kind, ProblemType::BadPublicKey);
    }

    #[test]
    fn wrong_kty_and_short_coordinates() {
        let ec = json!({"kty":"EC","crv":"P-256","x":"AQAB","y":"AQAB"});
        let e = check_public_key(&ec, "ES256").unwrap_err();
        assert_eq!(e.kind, ProblemType::BadPublicKey);
        let e = check_public_key(&ec, "RS256").unwrap_err();
        assert_eq!(e.kind, ProblemType::BadPublicKey);
        let e = check_public_key(&json!("x"), "ES256").unwrap_err();
        assert_eq!(e.kind, ProblemType::BadPublicKey);
        let e = check_public_key(&ec, "HS256").unwrap_err();
        assert_eq!(e.kind, ProblemType::BadSignatureAlgorithm);
    }

    #[test]
    fn off_curve_point_is_bad_public_key() {
        // RFC 7515 A.3's x with y changed: not on P-256.
        let jwk = json!({"kty":"EC","crv":"P-256",
            "x":"f83OJ3D2xF1Bg8vub9tLe1gHMzV76e8Tus9uPHvRVEU",
            "y":"x_FEzRu9m36HLN_tue659LNpXW6pCyStikYjKIWI5a4"});
        let e = check_public_key(&jwk, "ES256").unwrap_err();
        assert_eq!(e.kind, ProblemType::BadPublicKey);
        let mut good = jwk.clone();
        good["y"] = json!("x_FEzRu9m36HLN_tue659LNpXW6pCyStikYjKIWI5a0");
        assert_eq!(check_public_key(&good, "ES256"), Ok(()));
    }

    #[test]
    fn a_key_is_built_into_a_verifier_once_and_a_bad_key_never_is() {
        use super::super::algorithms::verifier;
        let good = json!({"kty":"EC","crv":"P-256",
            "x":"f83OJ3D2xF1Bg8vub9tLe1gHMzV76e8Tus9uPHvRVEU",
            "y":"x_FEzRu9m36HLN_tue659LNpXW6pCyStikYjKIWI5a0"});
        let first = verifier("ES256", &good).unwrap();
        // Noise members do not make another key.
        let mut noisy = good.clone();
        noisy["kid"] = json!("k1");
        let again = verifier("ES256", &noisy).unwrap();
        assert!(
            std::sync::Arc::ptr_eq(&first, &again),
            "the cached verifier"
        );
        // Refused every time, not remembered as usable.
        let mut off_curve = good.clone();
        off_curve["y"] = json!("x_FEzRu9m36HLN_tue659LNpXW6pCyStikYjKIWI5a4");
        for _ in 0..2 {
            let e = verifier("ES256", &off_curve).unwrap_err();
            assert_eq!(e.kind, ProblemType::BadPublicKey);
        }
        // Another algorithm with the same key is another verifier (and refused for EC/RS256).
        assert!(verifier("RS256", &good).is_err());
    }
}
