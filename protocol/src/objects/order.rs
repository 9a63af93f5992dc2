//! Order objects (RFC 8555 §7.1.3) and the URL newOrder names (§7.4).

use serde_json::Value;

use super::{is_url, looks_like_rfc3339};
use crate::finding::Findings;
use crate::requirements as req;

/// RFC 8555 §7.1.6: the states an order can be in.
const ORDER_STATES: [&str; 5] = ["pending", "ready", "processing", "valid", "invalid"];

/// Checks one order object under ACME-42 (RFC 8555 §7.1.3):
/// - its `status` is one of §7.1.6's;
/// - "expires (optional, string): The timestamp after which the server will consider this
///   order invalid, encoded in the format specified in [RFC3339]. This field is REQUIRED for
///   objects with "pending" or "valid" in the status field.";
/// - `identifiers` (required) is a non-empty array of `{type, value}` objects;
/// - `authorizations` (required) is an array of URLs and `finalize` (required) a URL;
/// - `certificate` is a URL, and a valid order has one (§7.4: "valid: The server has issued
///   the certificate and provisioned its URL to the "certificate" field of the order").
pub fn check_order_object(order: &Value) -> Findings {
    let mut out = Findings::new();
    let status = order["status"].as_str().unwrap_or_default();
    if !ORDER_STATES.contains(&status) {
        out.add(
            req::ACME_42,
            "order status pending, ready, processing, valid or invalid (RFC 8555 §7.1.6)",
            format!("status {}", order["status"]),
        );
        return out;
    }
    match order.get("expires").filter(|e| !e.is_null()) {
        None if matches!(status, "pending" | "valid") => out.add(
            req::ACME_42,
            format!("a {status} order has `expires` (REQUIRED, §7.1.3)"),
            "no expires",
        ),
        Some(e) if !e.as_str().is_some_and(looks_like_rfc3339) => out.add(
            req::ACME_42,
            "order `expires` in RFC 3339 format (§7.1.3)",
            format!("expires {e}"),
        ),
        _ => {}
    }
    let identifiers_ok = order["identifiers"].as_array().is_some_and(|ids| {
        !ids.is_empty()
            && ids
                .iter()
                .all(|i| i["type"].is_string() && i["value"].is_string())
    });
    if !identifiers_ok {
        out.add(
            req::ACME_42,
            "order `identifiers`: a non-empty array of {type, value} (§7.1.3)",
            format!("identifiers {}", order["identifiers"]),
        );
    }
    let authorizations_ok = order["authorizations"]
        .as_array()
        .is_some_and(|a| a.iter().all(|u| u.as_str().is_some_and(is_url)));
    if !authorizations_ok {
        out.add(
            req::ACME_42,
            "order `authorizations`: an array of URLs (§7.1.3)",
            format!("authorizations {}", order["authorizations"]),
        );
    }
    if !order["finalize"].as_str().is_some_and(is_url) {
        out.add(
            req::ACME_42,
            "order `finalize`: a URL (§7.1.3)",
            format!("finalize {}", order["finalize"]),
        );
    }
    match order.get("certificate").filter(|c| !c.is_null()) {
        None if status == "valid" => out.add(
            req::ACME_42,
            "a valid order has its `certificate` URL (§7.4)",
            "no certificate",
        ),
        Some(c) if !c.as_str().is_some_and(is_url) => out.add(
            req::ACME_42,
            "order `certificate`: a URL (§7.1.3)",
            format!("certificate {c}"),
        ),
        _ => {}
    }
    out
}

/// Checks that the URL newOrder named is the order it created, under ACME-18 (RFC 8555 §7.4:
/// "the server ... will return a 201 (Created) response with the order object ... in the
/// body and a Location header field"; §7.1: "Order objects are created in response to
/// newOrder requests and are fetched by POST-as-GET to their URLs"): `created` is the body of
/// the newOrder answer, `fetched` what a POST-as-GET of its Location returned. They name the
/// same identifiers and the same finalize URL.
pub fn check_new_order_location(location: &str, created: &Value, fetched: &Value) -> Findings {
    let mut out = Findings::new();
    let same_ids = identifier_set(created) == identifier_set(fetched);
    let same_finalize = created["finalize"] == fetched["finalize"];
    if !same_ids || !same_finalize {
        out.add(
            req::ACME_18,
            format!("the newOrder Location {location} fetches the order newOrder created"),
            format!(
                "created identifiers {} finalize {}; fetched identifiers {} finalize {}",
                created["identifiers"],
                created["finalize"],
                fetched["identifiers"],
                fetched["finalize"]
            ),
        );
    }
    out
}

/// Checks an order as fetched again against the order first seen at its URL, under ACME-19
/// (RFC 8555 §7.1.3: the `identifiers` are "the identifiers that the order pertains to", and
/// "Once set, the server MUST NOT change the contents of the "identifiers" or
/// "authorizations" arrays"). Compared as sets: a different order of the same URLs is no
/// change of contents.
pub fn check_order_unchanged(url: &str, first: &Value, now: &Value) -> Findings {
    let mut out = Findings::new();
    let urls = |order: &Value| {
        let mut list: Vec<String> = order["authorizations"]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(|a| a.as_str().map(str::to_owned))
            .collect();
        list.sort();
        list
    };
    // An answer without the arrays (an error body, a partial object) is ACME-42's to judge.
    let has = |order: &Value| order["identifiers"].is_array() && order["authorizations"].is_array();
    if !has(first) || !has(now) {
        return out;
    }
    if identifier_set(first) != identifier_set(now) || urls(first) != urls(now) {
        out.add(
            req::ACME_19,
            format!("the order {url} keeps its identifiers and authorizations (§7.1.3)"),
            format!(
                "first identifiers {} authorizations {}; now identifiers {} authorizations {}",
                first["identifiers"],
                first["authorizations"],
                now["identifiers"],
                now["authorizations"]
            ),
        );
    }
    out
}

/// The `(type, value)` pairs of an object's `identifiers`, sorted, values lower-cased (a
/// server may normalise the case of a domain).
pub fn identifier_set(object: &Value) -> Vec<(String, String)> {
    let mut set: Vec<(String, String)> = object["identifiers"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|i| {
            (
                i["type"].as_str().unwrap_or_default().to_owned(),
                i["value"].as_str().unwrap_or_default().to_lowercase(),
            )
        })
        .collect();
    set.sort();
    set.dedup();
    set
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn order(status: &str) -> Value {
        json!({
            "status": status,
            "expires": "2026-12-13T15:00:00Z",
            "identifiers": [{"type": "email", "value": "alice@example.test"}],
            "authorizations": ["https://ca.example/authz/1"],
            "finalize": "https://ca.example/order/1/finalize",
        })
    }

    #[test]
    fn conformant_orders_pass() {
        let mut valid = order("valid");
        valid["certificate"] = json!("https://ca.example/cert/1");
        let mut ready = order("ready");
        ready.as_object_mut().unwrap().remove("expires");
        for o in [order("pending"), order("processing"), valid, ready] {
            assert!(check_order_object(&o).as_slice().is_empty(), "{o}");
        }
    }

    #[test]
    fn each_broken_rule_is_acme_42() {
        let mut cases = Vec::new();
        cases.push(order("done"));
        let mut o = order("pending");
        o.as_object_mut().unwrap().remove("expires");
        cases.push(o);
        let mut o = order("pending");
        o["expires"] = json!(1765033200);
        cases.push(o);
        cases.push(order("valid")); // no certificate
        let mut o = order("pending");
        o["identifiers"] = json!([]);
        cases.push(o);
        let mut o = order("pending");
        o["authorizations"] = json!(["/authz/1"]);
        cases.push(o);
        let mut o = order("pending");
        o["finalize"] = json!(null);
        cases.push(o);
        let mut o = order("processing");
        o["certificate"] = json!(7);
        cases.push(o);
        for o in cases {
            assert_eq!(check_order_object(&o).ids(), ["ACME-42"], "{o}");
        }
    }

    #[test]
    fn location_must_fetch_the_created_order() {
        let created = order("pending");
        let mut fetched = order("pending");
        fetched["identifiers"][0]["value"] = json!("Alice@Example.test");
        assert!(
            check_new_order_location("https://ca.example/order/1", &created, &fetched)
                .as_slice()
                .is_empty()
        );
        fetched["identifiers"][0]["value"] = json!("bob@example.test");
        assert_eq!(
            check_new_order_location("https://ca.example/order/1", &created, &fetched).ids(),
            ["ACME-18"]
        );
        let mut other = order("pending");
        other["finalize"] = json!("https://ca.example/order/2/finalize");
        assert_eq!(
            check_new_order_location("https://ca.example/order/1", &created, &other).ids(),
            ["ACME-18"]
        );
    }

    #[test]
    fn an_order_that_changes_its_arrays_is_acme_19() {
        let first = json!({
            "identifiers": [{"type": "dns", "value": "a.example"}, {"type": "dns", "value": "b.example"}],
            "authorizations": ["https://ca/authz/1", "https://ca/authz/2"],
        });
        let reordered = json!({
            "status": "valid",
            "identifiers": [{"type": "dns", "value": "B.example"}, {"type": "dns", "value": "a.example"}],
            "authorizations": ["https://ca/authz/2", "https://ca/authz/1"],
        });
        assert!(check_order_unchanged("u", &first, &reordered).is_empty());
        assert!(check_order_unchanged("u", &first, &json!({"status": "valid"})).is_empty());
        let fewer_ids = json!({
            "identifiers": [{"type": "dns", "value": "a.example"}],
            "authorizations": ["https://ca/authz/1", "https://ca/authz/2"],
        });
        let other_authz = json!({
            "identifiers": first["identifiers"].clone(),
            "authorizations": ["https://ca/authz/1", "https://ca/authz/3"],
        });
        for now in [fewer_ids, other_authz] {
            assert_eq!(
                check_order_unchanged("u", &first, &now).ids(),
                vec![req::ACME_19],
                "{now}"
            );
        }
    }
}
