//! Challenge objects (RFC 8555 §7.1.5, §8).

use serde_json::Value;

use super::looks_like_rfc3339;
use crate::finding::Findings;
use crate::requirements as req;

/// RFC 8555 §7.1.6: the states a challenge can be in.
const CHALLENGE_STATES: [&str; 4] = ["pending", "processing", "valid", "invalid"];

/// Checks one challenge object (RFC 8555 §7.1.5, §8, §8.2) under ACME-25:
/// - its `status` is one of §7.1.6's;
/// - "validated … This field is REQUIRED if the "status" field is "valid"" (§7.1.5), as an
///   RFC 3339 date-time (a `T` between date and time, at least);
/// - an invalid challenge says why: "The server MUST add an entry to the "error" field in the
///   challenge after each failed validation query" (§8.2);
/// - "A challenge object with an error MUST have status equal to "processing" or "invalid""
///   (§8, as corrected by erratum 5732).
pub fn check_challenge_object(challenge: &Value) -> Findings {
    let mut out = Findings::new();
    let kind = challenge["type"].as_str().unwrap_or("a challenge");
    let status = challenge["status"].as_str().unwrap_or_default();
    if !CHALLENGE_STATES.contains(&status) {
        out.add(
            req::ACME_25,
            format!("{kind}: status pending, processing, valid or invalid (RFC 8555 §7.1.6)"),
            format!("status {}", challenge["status"]),
        );
        return out;
    }
    let validated = challenge["validated"].as_str();
    if status == "valid" && !validated.is_some_and(looks_like_rfc3339) {
        out.add(
            req::ACME_25,
            format!("{kind}: a valid challenge has `validated`, an RFC 3339 time (§7.1.5)"),
            format!("validated {}", challenge["validated"]),
        );
    }
    let has_error = challenge.get("error").is_some_and(|e| !e.is_null());
    if status == "invalid" && !has_error {
        out.add(
            req::ACME_25,
            format!("{kind}: an invalid challenge has an `error` (§8.2)"),
            "no error".to_owned(),
        );
    }
    if has_error && !matches!(status, "processing" | "invalid") {
        out.add(
            req::ACME_25,
            format!("{kind}: a challenge with an `error` is processing or invalid (§8)"),
            format!("status {status} with error {}", challenge["error"]),
        );
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn conformant_challenges_pass() {
        for c in [
            json!({"type": "dns-01", "status": "pending"}),
            json!({"type": "dns-01", "status": "valid", "validated": "2026-12-06T15:00:00Z"}),
            json!({"type": "dns-01", "status": "invalid", "error": {"type": "urn:ietf:params:acme:error:dns"}}),
            json!({"type": "http-01", "status": "processing", "error": {"type": "urn:ietf:params:acme:error:connection"}}),
        ] {
            assert!(check_challenge_object(&c).as_slice().is_empty(), "{c}");
        }
    }

    #[test]
    fn each_broken_rule_is_acme_25() {
        for c in [
            json!({"type": "dns-01", "status": "done"}),
            json!({"type": "dns-01", "status": "valid"}),
            json!({"type": "dns-01", "status": "valid", "validated": 1765033200}),
            json!({"type": "dns-01", "status": "invalid"}),
            json!({"type": "dns-01", "status": "valid", "validated": "2026-12-06T15:00:00Z", "error": {"type": "x"}}),
        ] {
            assert_eq!(check_challenge_object(&c).ids(), ["ACME-25"], "{c}");
        }
    }
}
