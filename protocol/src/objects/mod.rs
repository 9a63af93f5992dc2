//! RFC 8555 resource objects as a server sends them, checked by their own rules: what a judge of
//! an external CA reads from every order, authorization and challenge it fetches, and the
//! certificate it downloads.
//!
//! - [`account`]: newAccount answers (ACME-15) and the orders list (ACME-36);
//! - [`challenge`]: a challenge object (ACME-25) and its token (ACME-28);
//! - [`directory`]: the directory (ACME-1) and the newNonce answers (ACME-2);
//! - [`order`]: an order object (ACME-42), the newOrder `Location` (ACME-18), and an order
//!   keeping its identifiers and authorizations (ACME-19);
//! - [`authz`]: an authorization object (ACME-43, `expires` ACME-26);
//! - [`states`]: the §7.1.6 state machines, one status after another (ACME-44).
//!
//! The issued certificate against its CSR is [`crate::pki::smime_profile`].

pub mod account;
pub mod authz;
pub mod challenge;
pub mod directory;
pub mod order;
pub mod states;

pub use account::{
    AccountAnswer, check_new_account, check_only_return_existing, check_orders_list,
};
pub use authz::check_authorization_object;
pub use challenge::{TokenLedger, check_challenge_object, check_challenge_token};
pub use directory::{NonceAnswer, check_directory_object, check_new_nonce_answer};
pub use order::{check_new_order_location, check_order_object, check_order_unchanged};
pub use states::{Kind, check_transition};

/// `YYYY-MM-DDTHH:MM:SS…`: the shape of an RFC 3339 date-time, enough to tell one from a
/// number or free text.
pub(crate) fn looks_like_rfc3339(text: &str) -> bool {
    let b = text.as_bytes();
    b.len() >= 20
        && b[..4].iter().all(u8::is_ascii_digit)
        && b[4] == b'-'
        && b[7] == b'-'
        && matches!(b[10], b'T' | b't')
        && b[13] == b':'
        && b[16] == b':'
}

/// Whether `text` is an absolute http(s) URL with a host: what RFC 8555 §7.1 resources name
/// each other by ("identified by URLs").
pub(crate) fn is_url(text: &str) -> bool {
    let rest = text
        .strip_prefix("https://")
        .or_else(|| text.strip_prefix("http://"));
    rest.is_some_and(|r| {
        let host = r.split(['/', '?', '#']).next().unwrap_or_default();
        !host.is_empty() && !text.contains(char::is_whitespace)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls_and_times() {
        assert!(is_url("https://ca.example/acme/order/1"));
        assert!(is_url("http://127.0.0.1:14000/x"));
        assert!(!is_url("/acme/order/1"));
        assert!(!is_url("https:///x"));
        assert!(!is_url("https://a b/"));
        assert!(looks_like_rfc3339("2026-12-06T15:00:00Z"));
        assert!(!looks_like_rfc3339("1765033200"));
    }
}
