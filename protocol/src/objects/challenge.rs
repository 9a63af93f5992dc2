//! Challenge objects (RFC 8555 §7.1.5, §8).

use serde_json::Value;

use super::looks_like_rfc3339;
use crate::finding::Findings;
use crate::requirements as req;

/// RFC 8555 §7.1.6: the states a challenge can be in.
const CHALLENGE_STATES: [&str; 4] = ["pending", "processing", "valid", "invalid"];

/// The challenge types whose `token` RFC 8555 §8.3 defines (dns-01 §8.4 and tls-alpn-01, RFC
/// 8737 §3, take "the same" token).
const TOKEN_TYPES: [&str; 3] = ["http-01", "dns-01", "tls-alpn-01"];

/// The least entropy of a token, in bits (RFC 8555 §8.3).
const TOKEN_BITS: usize = 128;

/// Checks the `token` of an http-01, dns-01 or tls-alpn-01 challenge under ACME-28 (RFC 8555
/// §8.3: "This value MUST have at least 128 bits of entropy. It MUST NOT contain any
/// characters outside the base64url alphabet and MUST NOT include base64 padding characters
/// ("=")."). Only the length is observable of the entropy: the same measure as token-part1's
/// (SMIME-6), [`crate::token::token_bits`]. Other challenge types have tokens of their own
/// rules: email-reply-00's token-part2 is held to SMIME-4's "should" instead.
pub fn check_challenge_token(challenge: &Value) -> Findings {
    let mut out = Findings::new();
    let kind = challenge["type"].as_str().unwrap_or_default();
    if kind == "email-reply-00" {
        // RFC 8823 §3 step 3: token-part2 "should contain at least 128 bits of entropy"
        // (lower-case should: SMIME-4). Only the length is observable.
        if let Some(token) = challenge["token"].as_str()
            && let Ok(bits) = crate::token::token_bits(token)
            && bits < TOKEN_BITS
        {
            out.add(
                req::SMIME_4,
                format!("email-reply-00: a token-part2 of at least {TOKEN_BITS} bits"),
                format!("{bits} bits: {token:?}"),
            );
        }
        return out;
    }
    if !TOKEN_TYPES.contains(&kind) {
        return out;
    }
    let Some(token) = challenge["token"].as_str() else {
        out.add(
            req::ACME_28,
            format!("{kind}: a `token` string (RFC 8555 §8.3)"),
            format!("token {}", challenge["token"]),
        );
        return out;
    };
    if token.is_empty() || !crate::b64url::is_alphabet(token) {
        out.add(
            req::ACME_28,
            format!("{kind}: a token of base64url characters only, no `=` (RFC 8555 §8.3)"),
            format!("token {token:?}"),
        );
    } else if let Some(bits) = crate::token::token_bits(token)
        .ok()
        .filter(|&b| b < TOKEN_BITS)
    {
        out.add(
            req::ACME_28,
            format!("{kind}: a token of at least {TOKEN_BITS} bits (RFC 8555 §8.3)"),
            format!("{bits} bits: {token:?}"),
        );
    }
    out
}

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
            format!("{kind}: a valid challenge has `validated`, an RFC 3339 time (RFC 8555 §8)"),
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

/// The tokens of every challenge seen in one run, by challenge URL: RFC 8823 §3 step 4, "A new
/// token is generated for each issuance request" (SMIME-5), so an email-reply-00 token seen
/// again under another challenge is a reused one.
#[derive(Debug, Default)]
pub struct TokenLedger {
    seen: std::collections::HashMap<String, String>,
}

/// The most tokens a ledger keeps (a hostile server could mint challenges without end).
const LEDGER_CAPACITY: usize = 10_000;

impl TokenLedger {
    /// Records `challenge` (its `url` and `token`) and reports a token already seen under
    /// another URL.
    pub fn record(&mut self, challenge: &Value) -> Findings {
        let mut out = Findings::new();
        let (Some("email-reply-00"), Some(url), Some(token)) = (
            challenge["type"].as_str(),
            challenge["url"].as_str(),
            challenge["token"].as_str(),
        ) else {
            return out;
        };
        match self.seen.get(token) {
            Some(first) if first != url => out.add(
                req::SMIME_5,
                "a fresh token for each authorization (RFC 8823 §3 step 4)",
                format!("token {token:?} of {url} was already the token of {first}"),
            ),
            Some(_) => {}
            None if self.seen.len() < LEDGER_CAPACITY => {
                self.seen.insert(token.to_owned(), url.to_owned());
            }
            None => {}
        }
        out
    }
}

#[cfg(test)]
mod tests {

    #[test]
    fn a_short_email_reply_token_is_smime_4_and_a_reused_one_smime_5() {
        let challenge = |url: &str, token: &str| json!({"type": "email-reply-00", "url": url, "token": token, "status": "pending"});
        let long = "A".repeat(22); // 132 bits
        assert!(check_challenge_token(&challenge("https://ca/c/1", &long)).is_empty());
        let short = check_challenge_token(&challenge("https://ca/c/1", "AAAAAAAA"));
        assert_eq!(short.ids(), vec![req::SMIME_4]);

        let mut ledger = TokenLedger::default();
        assert!(
            ledger
                .record(&challenge("https://ca/c/1", &long))
                .is_empty()
        );
        // The same challenge seen again is not a reuse.
        assert!(
            ledger
                .record(&challenge("https://ca/c/1", &long))
                .is_empty()
        );
        assert!(
            ledger
                .record(&challenge("https://ca/c/2", "BBBB"))
                .is_empty()
        );
        let reused = ledger.record(&challenge("https://ca/c/3", &long));
        assert_eq!(reused.ids(), vec![req::SMIME_5]);
    }
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

    #[test]
    fn tokens_of_http_dns_and_alpn_challenges_are_acme_28() {
        let good = "LoqXcYV8q5ONbJQxbmR7SCTNo3tiAXDfowyjxAjEuX0";
        for kind in ["http-01", "dns-01", "tls-alpn-01"] {
            assert!(check_challenge_token(&json!({"type": kind, "token": good})).is_empty());
            for bad in [
                json!({"type": kind}),
                json!({"type": kind, "token": ""}),
                json!({"type": kind, "token": format!("{good}=")}),
                json!({"type": kind, "token": "LoqXcYV8q5ON+bJQxbmR7SCTNo3tiAXDfowyjxAjEuX0"}),
                json!({"type": kind, "token": "LoqXcYV8q5ONbJQxbmR7"}),
            ] {
                assert_eq!(
                    check_challenge_token(&bad).ids(),
                    vec![req::ACME_28],
                    "{bad}"
                );
            }
        }
        // 128 bits exactly is enough; other types' tokens are not this rule's.
        assert!(
            check_challenge_token(&json!({"type": "dns-01", "token": "LoqXcYV8q5ONbJQxbmR7SA"}))
                .is_empty()
        );
        assert!(
            check_challenge_token(&json!({"type": "email-reply-00", "token": "x="})).is_empty()
        );
    }
}
