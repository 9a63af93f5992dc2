//! The directory object (RFC 8555 §7.1.1) and the newNonce answers (RFC 8555 §7.2).

use serde_json::Value;

use super::is_url;
use crate::finding::{Finding, Findings, Level};
use crate::requirements as req;

/// The resources every RFC 8555 directory names (§7.1.1's table: `newAuthz` only with
/// pre-authorization, so not here).
const RESOURCES: [&str; 5] = [
    "newNonce",
    "newAccount",
    "newOrder",
    "revokeCert",
    "keyChange",
];

/// Checks a directory object under ACME-1 (RFC 8555 §7.1.1: "The server MUST provide
/// "directory" and "newNonce" resources", and clients find the others in it: "In order to help
/// clients configure themselves with the right URLs for each ACME operation, ACME servers
/// provide a directory object"): each resource of §7.1.1's table is a URL.
pub fn check_directory_object(directory: &Value) -> Findings {
    let mut out = Findings::new();
    if !directory.is_object() {
        out.add(
            req::ACME_1,
            "a directory JSON object (RFC 8555 §7.1.1)",
            format!("{:.60}", directory.to_string()),
        );
        return out;
    }
    let missing: Vec<&str> = RESOURCES
        .into_iter()
        .filter(|r| !directory[*r].as_str().is_some_and(is_url))
        .collect();
    if !missing.is_empty() {
        out.add(
            req::ACME_1,
            format!(
                "the directory names {} as URLs (§7.1.1)",
                RESOURCES.join(", ")
            ),
            format!("no URL for {}", missing.join(", ")),
        );
    }
    out
}

/// One answer of the newNonce resource, as far as RFC 8555 §7.2 speaks of it.
#[derive(Debug, Clone, Copy)]
pub struct NonceAnswer<'a> {
    /// `HEAD` or `GET`.
    pub method: &'a str,
    /// The HTTP status.
    pub status: u16,
    /// The `Replay-Nonce` header field, if any.
    pub replay_nonce: Option<&'a str>,
    /// The `Cache-Control` header field, if any.
    pub cache_control: Option<&'a str>,
}

/// Checks one newNonce answer under ACME-2 (RFC 8555 §7.2): "The server MUST include a
/// Cache-Control header field with the "no-store" directive in responses for the newNonce
/// resource, in addition to the Replay-Nonce header"; a HEAD "SHOULD use status code 200
/// (OK)" (a SHOULD-level finding); the server "MUST also respond to GET requests for this
/// resource, returning an empty body (while still providing a Replay-Nonce header) with a
/// status code of 204 (No Content)". A Replay-Nonce must be a base64url value (§6.5.1).
pub fn check_new_nonce_answer(answer: &NonceAnswer<'_>) -> Findings {
    let mut out = Findings::new();
    let m = answer.method;
    match (m, answer.status) {
        ("HEAD", 200) | ("GET", 204) => {}
        ("HEAD", status) => out.push(
            Finding::new(
                req::ACME_2,
                "newNonce HEAD answers 200 (RFC 8555 §7.2, SHOULD)",
                format!("{status}"),
            )
            .at(Level::Should),
        ),
        (_, status) => out.add(
            req::ACME_2,
            format!("newNonce {m} answers 204 (RFC 8555 §7.2)"),
            format!("{status}"),
        ),
    }
    match answer.replay_nonce {
        Some(n) if !n.is_empty() && crate::b64url::is_alphabet(n) => {}
        other => out.add(
            req::ACME_2,
            format!("newNonce {m} carries a base64url Replay-Nonce (§7.2, §6.5.1)"),
            format!("Replay-Nonce {other:?}"),
        ),
    }
    // RFC 9111 §5.2: directives are comma-separated, names case-insensitive.
    let no_store = answer.cache_control.is_some_and(|v| {
        v.split(',')
            .any(|d| d.trim().eq_ignore_ascii_case("no-store"))
    });
    if !no_store {
        out.add(
            req::ACME_2,
            format!("newNonce {m} carries Cache-Control: no-store (§7.2)"),
            match answer.cache_control {
                Some(value) => format!("Cache-Control: {value}"),
                None => "no Cache-Control".to_owned(),
            },
        );
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn answer<'a>(method: &'a str, status: u16, cache: Option<&'a str>) -> NonceAnswer<'a> {
        NonceAnswer {
            method,
            status,
            replay_nonce: Some("oFvnlFP1wIhRlYS2jTaXbA"),
            cache_control: cache,
        }
    }

    #[test]
    fn a_directory_without_a_resource_is_acme_1() {
        let good = json!({
            "newNonce": "https://ca/nonce", "newAccount": "https://ca/acct",
            "newOrder": "https://ca/order", "revokeCert": "https://ca/revoke",
            "keyChange": "https://ca/key", "meta": {},
        });
        assert!(check_directory_object(&good).is_empty());
        let mut no_key_change = good.clone();
        no_key_change["keyChange"] = Value::Null;
        let mut relative = good.clone();
        relative["newNonce"] = json!("/nonce");
        for bad in [no_key_change, relative, json!([1])] {
            assert_eq!(
                check_directory_object(&bad).ids(),
                vec![req::ACME_1],
                "{bad}"
            );
        }
    }

    #[test]
    fn new_nonce_answers_are_acme_2() {
        assert!(check_new_nonce_answer(&answer("HEAD", 200, Some("no-store"))).is_empty());
        assert!(
            check_new_nonce_answer(&answer("GET", 204, Some("max-age=0, No-Store"))).is_empty()
        );
        let head_204 = check_new_nonce_answer(&answer("HEAD", 204, Some("no-store")));
        assert_eq!(head_204.ids(), vec![req::ACME_2]);
        assert_eq!(head_204.as_slice()[0].level, Level::Should);
        let get_200 = check_new_nonce_answer(&answer("GET", 200, Some("no-store")));
        assert_eq!(get_200.as_slice()[0].level, Level::Must);
        assert_eq!(
            check_new_nonce_answer(&answer("GET", 204, Some("no-cache"))).ids(),
            vec![req::ACME_2]
        );
        assert_eq!(
            check_new_nonce_answer(&answer("GET", 204, None)).ids(),
            vec![req::ACME_2]
        );
        let mut no_nonce = answer("HEAD", 200, Some("no-store"));
        no_nonce.replay_nonce = None;
        assert_eq!(check_new_nonce_answer(&no_nonce).ids(), vec![req::ACME_2]);
        no_nonce.replay_nonce = Some("a nonce");
        assert_eq!(check_new_nonce_answer(&no_nonce).ids(), vec![req::ACME_2]);
    }
}
