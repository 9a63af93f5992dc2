//! External account binding (RFC 8555 §7.3.4).

use acmeproof_protocol::jwk::thumbprint;
use josekit::jws::{HS256, HS384, HS512, JwsVerifier};
use serde_json::Value;

use super::parse::FlattenedJws;
use crate::ca::problem::Problem;

/// Verifies the `externalAccountBinding` of a newAccount request and returns its `kid` (the
/// CA-issued key identifier), following RFC 8555 §7.3.4 "To verify the account binding, the
/// CA MUST take the following steps":
///
/// 1. "Verify that the value of the field is a well-formed JWS": flattened, strict base64url,
///    no `crit`, no unprotected header ([`FlattenedJws`]) — else `malformed`;
/// 2. "The "alg" field MUST indicate a MAC-based algorithm" (HS256, HS384, HS512) — else
///    `malformed`; "The "kid" field MUST contain the key identifier" — missing/non-string:
///    `malformed`; "The "nonce" field MUST NOT be present" — `malformed`; "The "url" field MUST
///    be set to the same value as the outer JWS" — `unauthorized`, as RFC 8555 §6.4 treats a
///    url mismatch;
/// 3. "Verify that the "payload" field contains exactly the same JWK as the "jwk" field of the
///    outer JWS": compared as keys by RFC 7638 thumbprint — not JSON: `malformed`, another key:
///    `unauthorized` (the binding does not authorize this account key);
/// 4. "Verify that the MAC on the JWS verifies using that MAC key": `lookup_hmac_key(kid)`;
///    unknown kid or a MAC that does not verify: `unauthorized`. A stored key josekit refuses
///    (shorter than the hash output, RFC 7518 §3.2) is `serverInternal`.
///
/// Step 5 ("the MAC key is not already bound to another account") is the caller's.
pub fn verify_external_account_binding(
    eab: &Value,
    outer_url: &str,
    account_jwk: &Value,
    lookup_hmac_key: impl Fn(&str) -> Option<Vec<u8>>,
) -> Result<String, Problem> {
    let jws = FlattenedJws::from_value(eab)
        .map_err(|p| Problem::malformed(format!("externalAccountBinding: {}", p.detail)))?;
    let alg = jws.alg();
    if !matches!(alg, "HS256" | "HS384" | "HS512") {
        return Err(Problem::malformed(format!(
            "externalAccountBinding alg {alg:?} is not a MAC algorithm (RFC 8555 §7.3.4)"
        )));
    }
    let kid = match jws.protected().get("kid") {
        Some(Value::String(kid)) => kid.clone(),
        Some(_) => {
            return Err(Problem::malformed(
                "externalAccountBinding kid is not a string",
            ));
        }
        None => {
            return Err(Problem::malformed(
                "externalAccountBinding has no kid (RFC 8555 §7.3.4)",
            ));
        }
    };
    if jws.protected().contains_key("nonce") {
        return Err(Problem::malformed(
            "externalAccountBinding MUST NOT carry a nonce (RFC 8555 §7.3.4)",
        ));
    }
    match jws.protected().get("url") {
        Some(Value::String(url)) if url == outer_url => {}
        _ => {
            return Err(Problem::unauthorized(format!(
                "externalAccountBinding url is not the outer url {outer_url:?} (RFC 8555 §7.3.4)"
            )));
        }
    }
    let payload: Value = serde_json::from_slice(jws.payload_bytes()).map_err(|_| {
        Problem::malformed("externalAccountBinding payload is not a JWK (RFC 8555 §7.3.4)")
    })?;
    let same_key = match (thumbprint(&payload), thumbprint(account_jwk)) {
        (Ok(a), Ok(b)) => a == b,
        _ => false,
    };
    if !same_key {
        return Err(Problem::unauthorized(
            "externalAccountBinding payload is not the account key of the outer JWS (RFC 8555 §7.3.4)",
        ));
    }
    let key = lookup_hmac_key(&kid).ok_or_else(|| {
        Problem::unauthorized(format!("externalAccountBinding kid {kid:?} is unknown"))
    })?;
    let verifier: Box<dyn JwsVerifier> = match alg {
        "HS256" => HS256.verifier_from_bytes(&key).map(|v| Box::new(v) as _),
        "HS384" => HS384.verifier_from_bytes(&key).map(|v| Box::new(v) as _),
        _ => HS512.verifier_from_bytes(&key).map(|v| Box::new(v) as _),
    }
    .map_err(|e| Problem::internal(format!("EAB MAC key for {kid:?} unusable: {e}")))?;
    verifier
        .verify(&jws.signing_input(), jws.signature())
        .map_err(|_| {
            Problem::unauthorized("externalAccountBinding MAC does not verify (RFC 8555 §7.3.4)")
        })?;
    Ok(kid)
}
