//! Authorization objects (RFC 8555 §7.1.4).

use serde_json::Value;

use super::looks_like_rfc3339;
use crate::finding::Findings;
use crate::requirements as req;

/// RFC 8555 §7.1.6: the states an authorization can be in (a pending one can move to any).
pub(super) const AUTHZ_STATES: [&str; 6] = [
    "pending",
    "valid",
    "invalid",
    "deactivated",
    "expired",
    "revoked",
];

/// Checks one authorization object:
/// - ACME-26 (§7.1.4): "expires (optional, string): The timestamp after which the server will
///   consider this authorization invalid, encoded in the format specified in [RFC3339]. This
///   field is REQUIRED for objects with "valid" in the "status" field.";
/// - ACME-43 (§7.1.4): a §7.1.6 `status`, an `identifier` object, a `challenges` array; and,
///   given the identifiers of the order that lists it (`order_identifiers`, as
///   [`super::order::identifier_set`] gives them), its identifier is one of them (§7.1.3:
///   "authorizations ... the authorizations that the client needs to complete before the
///   requested certificate can be issued", for "identifiers specified in the order"). A
///   wildcard authorization (`"wildcard": true`) stands for `*.` and its value.
pub fn check_authorization_object(
    authz: &Value,
    order_identifiers: Option<&[(String, String)]>,
) -> Findings {
    let mut out = Findings::new();
    let status = authz["status"].as_str().unwrap_or_default();
    if !AUTHZ_STATES.contains(&status) {
        out.add(
            req::ACME_43,
            "authorization status pending, valid, invalid, deactivated, expired or revoked \
             (RFC 8555 §7.1.6)",
            format!("status {}", authz["status"]),
        );
    }
    match authz.get("expires").filter(|e| !e.is_null()) {
        None if status == "valid" => out.add(
            req::ACME_26,
            "a valid authorization has `expires` (REQUIRED, §7.1.4)",
            "no expires",
        ),
        Some(e) if !e.as_str().is_some_and(looks_like_rfc3339) => out.add(
            req::ACME_26,
            "authorization `expires` in RFC 3339 format (§7.1.4)",
            format!("expires {e}"),
        ),
        _ => {}
    }
    let kind = authz["identifier"]["type"].as_str();
    let value = authz["identifier"]["value"].as_str();
    let (Some(kind), Some(value)) = (kind, value) else {
        out.add(
            req::ACME_43,
            "authorization `identifier`: a {type, value} object (§7.1.4)",
            format!("identifier {}", authz["identifier"]),
        );
        return out;
    };
    if !authz["challenges"].is_array() {
        out.add(
            req::ACME_43,
            "authorization `challenges`: an array (§7.1.4)",
            format!("challenges {}", authz["challenges"]),
        );
    }
    if let Some(ids) = order_identifiers {
        let value = if authz["wildcard"] == Value::Bool(true) {
            format!("*.{value}")
        } else {
            value.to_owned()
        };
        let wanted = (kind.to_owned(), value.to_lowercase());
        if !ids.contains(&wanted) {
            out.add(
                req::ACME_43,
                "an order's authorization is for one of the order's identifiers (§7.1.3)",
                format!("{kind} {value}, the order has {ids:?}"),
            );
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn authz(status: &str) -> Value {
        json!({
            "status": status,
            "expires": "2026-12-13T15:00:00Z",
            "identifier": {"type": "email", "value": "alice@example.test"},
            "challenges": [],
        })
    }

    fn order_ids() -> Vec<(String, String)> {
        vec![("email".into(), "alice@example.test".into())]
    }

    #[test]
    fn conformant_authorizations_pass() {
        let mut pending = authz("pending");
        pending.as_object_mut().unwrap().remove("expires");
        let wildcard = json!({
            "status": "pending",
            "identifier": {"type": "dns", "value": "example.test"},
            "wildcard": true,
            "challenges": [],
        });
        let dns = vec![("dns".to_owned(), "*.example.test".to_owned())];
        assert!(
            check_authorization_object(&wildcard, Some(&dns))
                .as_slice()
                .is_empty()
        );
        for a in [authz("valid"), authz("invalid"), pending] {
            assert!(
                check_authorization_object(&a, Some(&order_ids()))
                    .as_slice()
                    .is_empty(),
                "{a}"
            );
        }
    }

    #[test]
    fn a_valid_authorization_without_expires_is_acme_26() {
        let mut a = authz("valid");
        a.as_object_mut().unwrap().remove("expires");
        assert_eq!(check_authorization_object(&a, None).ids(), ["ACME-26"]);
        a["expires"] = json!("next week");
        assert_eq!(check_authorization_object(&a, None).ids(), ["ACME-26"]);
    }

    #[test]
    fn structure_and_membership_are_acme_43() {
        let mut cases = vec![authz("done")];
        let mut a = authz("pending");
        a["identifier"] = json!("alice@example.test");
        cases.push(a);
        let mut a = authz("pending");
        a["challenges"] = json!({});
        cases.push(a);
        let mut a = authz("pending");
        a["identifier"]["value"] = json!("mallory@example.test");
        cases.push(a);
        for a in cases {
            assert_eq!(
                check_authorization_object(&a, Some(&order_ids())).ids(),
                ["ACME-43"],
                "{a}"
            );
        }
    }
}
