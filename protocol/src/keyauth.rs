//! Key authorizations (RFC 8555 §8.1) and the value every digest-based challenge publishes.
//!
//! `keyAuthorization = token || '.' || base64url(Thumbprint(accountKey))`. The dns-01 TXT value
//! (RFC 8555 §8.4), the RFC 8823 reply digest and the email-tls capability and TXT values
//! (draft-ietf-acme-email-tls-05 §3.3, §3.4) are all `base64url(SHA-256(keyAuthorization))`.

use sha2::{Digest as _, Sha256};

use crate::b64url;
use crate::finding::Findings;
use crate::requirements as req;

/// RFC 8555 §8.1: the key authorization for `token` and the account key's thumbprint.
pub fn key_authorization(token: &str, thumbprint: &str) -> String {
    format!("{token}.{thumbprint}")
}

/// base64url(SHA-256(key authorization)): the dns-01 TXT value (RFC 8555 §8.4), and the value
/// that RFC 8823 §3 step 6 and draft-ietf-acme-email-tls-05 §3.3/§3.4 reuse.
pub fn digest(key_authorization: &str) -> String {
    b64url::encode(Sha256::digest(key_authorization.as_bytes()))
}

/// RFC 8555 §8.4: the TXT value to publish at `_acme-challenge.<domain>` for `token`.
pub fn dns01_txt_value(token: &str, thumbprint: &str) -> String {
    digest(&key_authorization(token, thumbprint))
}

/// Checks the challenges of an authorization the server refused after the client proved it
/// with the value this module computes, under ACME-27 (RFC 8555 §8.1: "keyAuthorization =
/// token || '.' || base64url(Thumbprint(accountKey))"): an http-01, dns-01 or tls-alpn-01
/// challenge that failed with `incorrectResponse` found that value wrong, so the server
/// computed the key authorization (or its digest) otherwise. Only for a proof made with
/// [`key_authorization`] and [`digest`]; other failures (DNS, connection) are no finding.
pub fn check_refused_proof(authz: &serde_json::Value) -> Findings {
    let mut out = Findings::new();
    for c in authz["challenges"].as_array().into_iter().flatten() {
        let kind = c["type"].as_str().unwrap_or_default();
        let error = c["error"]["type"].as_str().unwrap_or_default();
        if c["status"] == "invalid"
            && matches!(kind, "http-01" | "dns-01" | "tls-alpn-01")
            && crate::problem::short_type(error) == "incorrectResponse"
        {
            out.add(
                req::ACME_27,
                format!(
                    "{kind}: the proof made from token \".\" base64url(thumbprint) accepted \
                     (RFC 8555 §8.1)"
                ),
                format!("incorrectResponse: {}", c["error"]["detail"]),
            );
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rfc8555_tokens() {
        // Computed from the RFC 8555 §8.3 token and the RFC 7638 key.
        let ka = key_authorization(
            "LoqXcYV8q5ONbJQxbmR7SCTNo3tiAXDfowyjxAjEuX0",
            "NzbLsXh8uDCcd-6MNwXF4W_7noWXFZAfHkxZsRGC9Xs",
        );
        assert_eq!(
            ka,
            "LoqXcYV8q5ONbJQxbmR7SCTNo3tiAXDfowyjxAjEuX0.NzbLsXh8uDCcd-6MNwXF4W_7noWXFZAfHkxZsRGC9Xs"
        );
        assert_eq!(digest(&ka), "_cC5rvB9vM8qzT3MTBcTeVpQwtbNypBXyQnE4fhM9QQ");
        assert_ne!(
            dns01_txt_value(
                "LoqXcYV8q5ONbJQxbmR7SCTNo3tiAXDfowyjxAjEuX0",
                "oKIywvGUpTVTyxMQ3bwIIeQUudfr_CkLMjCE19ECD-U"
            ),
            "_cC5rvB9vM8qzT3MTBcTeVpQwtbNypBXyQnE4fhM9QQ"
        );
    }
}

/// Compares a received digest with the expected one in constant time (RFC 8823 §6: an attacker
/// "has only one chance to guess"; no timing side channel should help).
///
/// One trailing `=` on `received` is tolerated: some clients pad base64url in mail.
pub fn digests_match(received: &str, expected: &str) -> bool {
    use subtle::ConstantTimeEq as _;
    let received = received.strip_suffix('=').unwrap_or(received);
    received.len() == expected.len() && bool::from(received.as_bytes().ct_eq(expected.as_bytes()))
}

#[cfg(test)]
mod refused_tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn only_an_incorrect_response_to_a_key_authorization_proof_is_acme_27() {
        let authz = |kind: &str, status: &str, error: &str| {
            json!({"challenges": [{"type": kind, "status": status,
                "error": {"type": format!("urn:ietf:params:acme:error:{error}"), "detail": "x"}}]})
        };
        for kind in ["http-01", "dns-01", "tls-alpn-01"] {
            let refused = check_refused_proof(&authz(kind, "invalid", "incorrectResponse"));
            assert_eq!(refused.ids(), vec![req::ACME_27], "{kind}");
        }
        assert!(check_refused_proof(&authz("dns-01", "invalid", "dns")).is_empty());
        assert!(check_refused_proof(&authz("dns-01", "valid", "incorrectResponse")).is_empty());
        assert!(
            check_refused_proof(&authz("email-reply-00", "invalid", "incorrectResponse"))
                .is_empty()
        );
        assert!(check_refused_proof(&json!({})).is_empty());
    }
}

#[cfg(test)]
mod compare_tests {
    use super::digests_match;

    #[test]
    fn digests_match_exact_and_padded_only() {
        assert!(digests_match("abc", "abc"));
        assert!(digests_match("abc=", "abc"));
        assert!(!digests_match("abd", "abc"));
        assert!(!digests_match("ab", "abc"));
        assert!(!digests_match("abc==", "abc"));
    }
}
