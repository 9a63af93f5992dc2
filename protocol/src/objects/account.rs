//! Account answers (RFC 8555 §7.3, §7.3.1) and the account's orders list (§7.1.2.1).

use crate::finding::{Finding, Findings, Level};
use crate::requirements as req;

/// One answer to a newAccount request, as far as RFC 8555 §7.3 speaks of it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AccountAnswer<'a> {
    /// A success: its status and `Location`.
    Success {
        /// The HTTP status.
        status: u16,
        /// The `Location` header field.
        location: Option<&'a str>,
    },
    /// An error: its problem type, without the URN prefix.
    Refused(&'a str),
}

/// Checks a newAccount for a new key and the same request again under ACME-15 (RFC 8555 §7.3:
/// the server "returns this account object in a 201 (Created) response, with the account URL
/// in a Location header field"; §7.3.1: "If the server already has an account registered with
/// the provided account key, then it MUST return a response with status code 200 (OK) and
/// provide the URL of that account in the Location header field").
pub fn check_new_account(created: AccountAnswer<'_>, again: AccountAnswer<'_>) -> Findings {
    let mut out = Findings::new();
    let mut problems = Vec::new();
    let first = match created {
        AccountAnswer::Success {
            status: 201,
            location: Some(l),
        } => Some(l),
        other => {
            problems.push(format!("the new key answered {other:?}"));
            None
        }
    };
    match again {
        AccountAnswer::Success {
            status: 200,
            location,
        } if first.is_none() || location == first => {}
        other => problems.push(format!("the same key again answered {other:?}")),
    }
    if !problems.is_empty() {
        out.add(
            req::ACME_15,
            "201 and a Location for a new key, 200 and the same Location for it again (§7.3, \
             §7.3.1)",
            problems.join("; "),
        );
    }
    out
}

/// Checks `onlyReturnExisting` under ACME-15 (RFC 8555 §7.3.1: "If this field is present with
/// the value "true", then the server MUST NOT create a new account if one does not already
/// exist. This allows a client to look up an account URL based on an account key"; the miss is
/// "accountDoesNotExist"): `known` is the answer for the key of the account at `account_url`,
/// `unknown` the answer for a key the server never saw.
pub fn check_only_return_existing(
    known: AccountAnswer<'_>,
    account_url: &str,
    unknown: AccountAnswer<'_>,
) -> Findings {
    let mut out = Findings::new();
    let mut problems = Vec::new();
    match known {
        AccountAnswer::Success {
            status: 200,
            location: Some(l),
        } if l == account_url => {}
        other => problems.push(format!("the account's key answered {other:?}")),
    }
    match unknown {
        AccountAnswer::Refused("accountDoesNotExist") => {}
        other => problems.push(format!("an unknown key answered {other:?}")),
    }
    if !problems.is_empty() {
        out.add(
            req::ACME_15,
            format!(
                "onlyReturnExisting: 200 and {account_url} for the account's key, \
                 accountDoesNotExist for an unknown key (§7.3.1)"
            ),
            problems.join("; "),
        );
    }
    out
}

/// Checks the account's orders list for one order under ACME-36 (RFC 8555 §7.1.2.1: "The
/// server SHOULD include pending orders and SHOULD NOT include orders that are invalid in the
/// array of URLs"): `status` is the order's, `listed` whether its URL is in the list. Orders
/// in other states are the server's choice.
pub fn check_orders_list(order_url: &str, status: &str, listed: bool) -> Findings {
    let mut out = Findings::new();
    let wrong = match (status, listed) {
        ("invalid", true) => "an invalid order listed",
        ("pending", false) => "a pending order left out",
        _ => return out,
    };
    out.push(
        Finding::new(
            req::ACME_36,
            "pending orders listed, invalid ones not (RFC 8555 §7.1.2.1)",
            format!("{wrong}: {order_url}"),
        )
        .at(Level::Should),
    );
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    const URL: &str = "https://ca/acct/1";

    fn ok(status: u16, location: Option<&str>) -> AccountAnswer<'_> {
        AccountAnswer::Success { status, location }
    }

    #[test]
    fn new_account_answers_are_acme_15() {
        assert!(check_new_account(ok(201, Some(URL)), ok(200, Some(URL))).is_empty());
        for (created, again) in [
            (ok(200, Some(URL)), ok(200, Some(URL))),
            (ok(201, None), ok(200, Some(URL))),
            (ok(201, Some(URL)), ok(201, Some(URL))),
            (ok(201, Some(URL)), ok(200, Some("https://ca/acct/2"))),
            (ok(201, Some(URL)), AccountAnswer::Refused("malformed")),
        ] {
            assert_eq!(
                check_new_account(created, again).ids(),
                vec![req::ACME_15],
                "{created:?} {again:?}"
            );
        }
    }

    #[test]
    fn only_return_existing_is_acme_15() {
        let miss = AccountAnswer::Refused("accountDoesNotExist");
        assert!(check_only_return_existing(ok(200, Some(URL)), URL, miss).is_empty());
        for (known, unknown) in [
            (ok(201, Some(URL)), miss),
            (ok(200, Some("https://ca/acct/2")), miss),
            (ok(200, Some(URL)), ok(201, Some("https://ca/acct/3"))),
            (ok(200, Some(URL)), AccountAnswer::Refused("malformed")),
        ] {
            assert_eq!(
                check_only_return_existing(known, URL, unknown).ids(),
                vec![req::ACME_15],
                "{known:?} {unknown:?}"
            );
        }
    }

    #[test]
    fn the_orders_list_is_acme_36_at_should_level() {
        for (status, listed) in [("pending", true), ("invalid", false), ("valid", false)] {
            assert!(check_orders_list("o", status, listed).is_empty());
        }
        for (status, listed) in [("pending", false), ("invalid", true)] {
            let found = check_orders_list("o", status, listed);
            assert_eq!(found.ids(), vec![req::ACME_36]);
            assert_eq!(found.as_slice()[0].level, Level::Should);
        }
    }
}
