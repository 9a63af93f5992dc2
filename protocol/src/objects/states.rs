//! The state machines of RFC 8555 §7.1.6: which status may follow which.

use crate::finding::Findings;
use crate::requirements as req;

/// The kind of object whose status changed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// An order (§7.1.6, the order diagram).
    Order,
    /// An authorization (the authorization diagram).
    Authorization,
    /// A challenge (the challenge diagram).
    Challenge,
}

/// The statuses reachable from `from` (itself included) in §7.1.6's diagrams, or `None` for a
/// status the diagram does not have (the object checkers report that one).
///
/// Orders: pending → ready → processing → valid, and any of the first three → invalid ("Order
/// objects are created in the "pending" state. Once all of the authorizations listed in the
/// order object are in the "valid" state, the order transitions to the "ready" state. The order
/// moves to the "processing" state after the client submits a request to the order's
/// "finalize" URL ... Once the certificate is issued, the order enters the "valid" state. If an
/// error occurs at any of these stages, the order moves to the "invalid" state."). A pending
/// authorization may become anything; a valid one only expired, deactivated or revoked
/// ("valid ... Expire / Deactivate / Revoke"); the others are final. Challenges: pending →
/// processing → valid | invalid.
fn reachable(kind: Kind, from: &str) -> Option<&'static [&'static str]> {
    Some(match (kind, from) {
        (Kind::Order, "pending") => &["pending", "ready", "processing", "valid", "invalid"],
        (Kind::Order, "ready") => &["ready", "processing", "valid", "invalid"],
        (Kind::Order, "processing") => &["processing", "valid", "invalid"],
        (Kind::Order, "valid") => &["valid"],
        (Kind::Order, "invalid") => &["invalid"],
        (Kind::Authorization, "pending") => &super::authz::AUTHZ_STATES,
        (Kind::Authorization, "valid") => &["valid", "expired", "deactivated", "revoked"],
        (Kind::Authorization, "invalid") => &["invalid"],
        (Kind::Authorization, "deactivated") => &["deactivated"],
        (Kind::Authorization, "expired") => &["expired"],
        (Kind::Authorization, "revoked") => &["revoked"],
        (Kind::Challenge, "pending") => &["pending", "processing", "valid", "invalid"],
        (Kind::Challenge, "processing") => &["processing", "valid", "invalid"],
        (Kind::Challenge, "valid") => &["valid"],
        (Kind::Challenge, "invalid") => &["invalid"],
        _ => return None,
    })
}

/// Checks that an object of `kind` at `url`, seen in status `from`, may be seen next in status
/// `to`: challenges under ACME-25, orders and authorizations under ACME-44 (§7.1.6). A status
/// outside the diagrams is left to the object checkers.
pub fn check_transition(kind: Kind, url: &str, from: &str, to: &str) -> Findings {
    let mut out = Findings::new();
    let Some(next) = reachable(kind, from) else {
        return out;
    };
    if reachable(kind, to).is_some() && !next.contains(&to) {
        let (id, what) = match kind {
            Kind::Order => (req::ACME_44, "order"),
            Kind::Authorization => (req::ACME_44, "authorization"),
            Kind::Challenge => (req::ACME_25, "challenge"),
        };
        out.add(
            id,
            format!("a {from} {what} moves on only to {next:?} (RFC 8555 §7.1.6)"),
            format!("{url} went from {from} to {to}"),
        );
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn forward_moves_pass() {
        for (kind, from, to) in [
            (Kind::Order, "pending", "ready"),
            (Kind::Order, "ready", "processing"),
            (Kind::Order, "processing", "valid"),
            (Kind::Order, "pending", "invalid"),
            (Kind::Order, "valid", "valid"),
            (Kind::Authorization, "pending", "valid"),
            (Kind::Authorization, "valid", "deactivated"),
            (Kind::Challenge, "pending", "processing"),
            (Kind::Challenge, "processing", "invalid"),
            // Not a diagram status: the object checker's business, not this one's.
            (Kind::Order, "pending", "done"),
        ] {
            assert!(
                check_transition(kind, "u", from, to).as_slice().is_empty(),
                "{kind:?} {from} -> {to}"
            );
        }
    }

    #[test]
    fn backward_moves_fire() {
        for (kind, from, to, id) in [
            (Kind::Order, "valid", "processing", "ACME-44"),
            (Kind::Order, "ready", "pending", "ACME-44"),
            (Kind::Order, "invalid", "pending", "ACME-44"),
            (Kind::Authorization, "valid", "pending", "ACME-44"),
            (Kind::Authorization, "invalid", "valid", "ACME-44"),
            (Kind::Challenge, "valid", "pending", "ACME-25"),
            (Kind::Challenge, "processing", "pending", "ACME-25"),
        ] {
            assert_eq!(
                check_transition(kind, "u", from, to).ids(),
                [id],
                "{kind:?} {from} -> {to}"
            );
        }
    }
}
