//! Account key rollover (RFC 8555 §7.3.5, ACME-33).

use acmeproof_protocol::jwk::thumbprint;
use serde_json::Value;

use super::algorithms::check_request_alg;
use super::parse::{FlattenedJws, KeyRef};
use super::verify::{checked_verifier, public_members};
use crate::ca::problem::Problem;

/// Checks a keyChange request's inner JWS (`inner` is the outer JWS's payload) and returns the
/// new account key (its public members). The caller has already authenticated the outer JWS
/// with `current_jwk`, the key of the account at `account_url` (RFC 8555 §7.3.5 check 1).
///
/// The checks, in order (RFC 8555 §7.3.5; numbers are the brief's):
///
/// 1. inner is a well-formed flattened JWS ([`FlattenedJws`]) — `malformed`; its `alg` is a
///    request algorithm — `badSignatureAlgorithm`;
/// 2. "The inner JWS MUST have a "jwk" header parameter" (not `kid`, not both) — `malformed`;
/// 5. "The inner JWS MUST omit the "nonce" header parameter" — `malformed`;
/// 8. the new key is acceptable ([`checked_verifier`]) — `badPublicKey`;
/// 3. "Check that the inner JWS verifies using the key in its "jwk" field" — `malformed`;
/// -  "the payload of the inner JWS is a well-formed keyChange object" (`account` string,
///    `oldKey` object) — `malformed`;
/// 4. "Check that the "url" parameters of the inner and outer JWSs are the same" —
///    `malformed` (a malformed rollover, not a misdirected request);
/// 6. "the "account" field of the keyChange object contains the URL for the account matching
///    the old key" — `unauthorized`;
/// 7. "the "oldKey" field of the keyChange object is the same as the account key", compared
///    by RFC 7638 thumbprint — `unauthorized`;
/// 9. "Check that no account exists whose account key is the same as the key in the "jwk"
///    header parameter of the inner JWS": **the caller's** job, with the returned key; RFC 8555
///    §7.3.5: the server SHOULD then answer 409 (Conflict) with a Location of that account.
pub fn verify_key_change(
    inner: &Value,
    outer_url: &str,
    account_url: &str,
    current_jwk: &Value,
) -> Result<Value, Problem> {
    verify_key_change_with(inner, outer_url, account_url, current_jwk, false)
}

/// [`verify_key_change`], with check 5 (no inner `nonce`) skipped when `accept_inner_nonce`:
/// knob `accept_keychange_inner_nonce`, a policy: the client MUST omit it (RFC 8555 §7.3.5),
/// but the server's checks there do not include it.
pub fn verify_key_change_with(
    inner: &Value,
    outer_url: &str,
    account_url: &str,
    current_jwk: &Value,
    accept_inner_nonce: bool,
) -> Result<Value, Problem> {
    let ctx = |p: Problem| Problem {
        detail: format!("keyChange inner JWS: {}", p.detail),
        ..p
    };
    let jws = FlattenedJws::from_value(inner).map_err(ctx)?;
    check_request_alg(jws.alg()).map_err(ctx)?;
    let new_jwk = match jws.key_ref().map_err(ctx)? {
        KeyRef::Jwk(jwk) => jwk,
        KeyRef::Kid(_) => {
            return Err(Problem::malformed(
                "keyChange inner JWS must carry the new key as \"jwk\", not \"kid\" (RFC 8555 §7.3.5)",
            ));
        }
    };
    if jws.protected().contains_key("nonce") && !accept_inner_nonce {
        return Err(Problem::malformed(
            "keyChange inner JWS MUST omit \"nonce\" (RFC 8555 §7.3.5)",
        ));
    }
    let verifier = checked_verifier(&new_jwk, jws.alg()).map_err(ctx)?;
    jws.verify_with(&*verifier).map_err(ctx)?;
    let payload: Value = serde_json::from_slice(jws.payload_bytes())
        .map_err(|_| Problem::malformed("keyChange inner payload is not JSON (RFC 8555 §7.3.5)"))?;
    let (account, old_key) = match (payload.get("account"), payload.get("oldKey")) {
        (Some(Value::String(a)), Some(k @ Value::Object(_))) => (a.as_str(), k),
        _ => {
            return Err(Problem::malformed(
                "keyChange object needs \"account\" (string) and \"oldKey\" (JWK) (RFC 8555 §7.3.5)",
            ));
        }
    };
    let inner_url = jws.url_member().map_err(ctx)?;
    if inner_url != outer_url {
        return Err(Problem::malformed(format!(
            "keyChange inner url {inner_url:?} differs from the outer url {outer_url:?} (RFC 8555 §7.3.5)"
        )));
    }
    if account != account_url {
        return Err(Problem::unauthorized(format!(
            "keyChange \"account\" {account:?} is not the signing account {account_url:?} (RFC 8555 §7.3.5)"
        )));
    }
    let same_old = match (thumbprint(old_key), thumbprint(current_jwk)) {
        (Ok(a), Ok(b)) => a == b,
        _ => false,
    };
    if !same_old {
        return Err(Problem::unauthorized(
            "keyChange \"oldKey\" is not the account's current key (RFC 8555 §7.3.5)",
        ));
    }
    Ok(Value::Object(public_members(&new_jwk)?))
}
