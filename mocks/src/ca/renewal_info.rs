//! ARI, ACME Renewal Information (RFC 9773, ACME-40/41): `renewalInfo` answers an
//! unauthenticated GET for a certificate identifier with a suggested renewal window in world
//! time, and newOrder's `replaces` names the certificate an order renews.
//!
//! The window: the last third of the validity period, less its last sixth (for a 90-day
//! certificate, days 60 to 75). A revoked certificate gets a window that has already begun:
//! RFC 9773 §4.2, "the server ... can suggest a window in the past, to indicate that the
//! client should renew immediately".

use std::sync::Arc;

use ::time::{Duration, OffsetDateTime};
use acmeproof_protocol::ari::CertId;
use axum::http::{StatusCode, header};
use serde_json::json;
use x509_parser::prelude::{FromDer, X509Certificate};

use super::model::{CertRecord, OrderStatus};
use super::pki::Identifier;
use super::problem::{Problem, ProblemType};
use super::server::{CaShared, Reply};
use super::state::Store;
use crate::clock::rfc3339;

/// RFC 9773 §4.3: the `Retry-After` of a renewalInfo answer (the RFC's example is six hours).
pub const RETRY_AFTER_SECS: u64 = 6 * 3600;

/// How far before "now" the window of a revoked certificate starts.
const REVOKED_WINDOW: Duration = Duration::hours(1);

/// GET renewalInfo/`cert_id` (RFC 9773 §4.2).
pub fn get(ca: &Arc<CaShared>, cert_id: &str) -> Result<Reply, Problem> {
    let store = ca.store();
    let cert = find(&store, cert_id)?;
    let (not_before, _) = leaf_facts(&cert.der)?;
    let (start, end) = window(
        not_before,
        cert.not_after,
        cert.revoked.is_some(),
        ca.clock.now(),
    );
    Ok(Reply::json(
        StatusCode::OK,
        &json!({ "suggestedWindow": { "start": rfc3339(start), "end": rfc3339(end) } }),
    )
    .with(header::RETRY_AFTER, RETRY_AFTER_SECS.to_string()))
}

/// The suggested window of a certificate valid from `not_before` to `not_after`.
pub fn window(
    not_before: OffsetDateTime,
    not_after: OffsetDateTime,
    revoked: bool,
    now: OffsetDateTime,
) -> (OffsetDateTime, OffsetDateTime) {
    if revoked {
        let start = crate::clock::earlier(now, REVOKED_WINDOW).unwrap_or(now);
        return (start, now.max(start + Duration::SECOND));
    }
    let validity = not_after - not_before;
    (not_after - validity / 3, not_after - validity / 6)
}

/// RFC 9773 §5: checks newOrder's `replaces` against the account's certificates. A certificate
/// this CA did not issue, another account's, or one sharing no identifier with the order is
/// `malformed`; one another live order already replaces is 409 `alreadyReplaced`.
pub fn check_replaces(
    store: &Store,
    account: &str,
    replaces: &str,
    identifiers: &[Identifier],
) -> Result<(), Problem> {
    let cert = find(store, replaces)
        .map_err(|p| Problem::malformed(format!("\"replaces\": {}", p.detail)).with_status(400))?;
    if cert.account != account {
        return Err(Problem::malformed(
            "\"replaces\" names a certificate of another account (RFC 9773 §5)",
        ));
    }
    if !cert.identifiers.iter().any(|i| identifiers.contains(i)) {
        return Err(Problem::malformed(
            "\"replaces\" names a certificate that shares no identifier with the order (RFC 9773 §5)",
        ));
    }
    let taken = store
        .orders
        .values()
        .any(|o| o.replaces.as_deref() == Some(replaces) && o.status != OrderStatus::Invalid);
    if taken {
        // RFC 9773 §5: "it MUST return an HTTP 409 (Conflict) with a problem document of type
        // "alreadyReplaced"".
        return Err(Problem::new(
            ProblemType::AlreadyReplaced,
            format!("the certificate {replaces} is already replaced by another order"),
        )
        .with_status(409)
        .enforcing(crate::protocol::requirements::ACME_41));
    }
    Ok(())
}

/// The certificate a certificate identifier names: its serial among this CA's certificates,
/// and its AKI the one in that certificate.
fn find<'a>(store: &'a Store, cert_id: &str) -> Result<&'a CertRecord, Problem> {
    let id = CertId::parse(cert_id).map_err(|e| Problem::malformed(format!("{cert_id:?}: {e}")))?;
    let serial: String = id.serial.iter().map(|b| format!("{b:02x}")).collect();
    let unknown =
        || Problem::malformed(format!("no certificate of this CA is {cert_id}")).with_status(404);
    let cert = store
        .certs_by_serial
        .get(&serial)
        .and_then(|c| store.certs.get(c))
        .ok_or_else(unknown)?;
    let (_, aki) = leaf_facts(&cert.der)?;
    if aki.as_deref() != Some(id.key_identifier.as_slice()) {
        return Err(unknown());
    }
    Ok(cert)
}

/// notBefore and the AKI keyIdentifier of a certificate this CA issued.
fn leaf_facts(der: &[u8]) -> Result<(OffsetDateTime, Option<Vec<u8>>), Problem> {
    let (_, cert) = X509Certificate::from_der(der)
        .map_err(|e| Problem::internal(format!("a stored certificate does not parse: {e}")))?;
    let aki = acmeproof_protocol::ari::authority_key_id(&cert);
    Ok((cert.validity().not_before.to_datetime(), aki))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn jan_1_2026() -> OffsetDateTime {
        OffsetDateTime::from_unix_timestamp(1_767_225_600).unwrap()
    }

    #[test]
    fn the_window_is_the_last_third_less_the_last_sixth() {
        let nb = jan_1_2026();
        let na = nb + Duration::days(90);
        assert_eq!(
            window(nb, na, false, nb),
            (nb + Duration::days(60), nb + Duration::days(75))
        );
    }

    #[test]
    fn a_revoked_certificate_gets_a_window_that_has_begun() {
        let nb = jan_1_2026();
        let now = nb + Duration::days(3);
        let (start, end) = window(nb, nb + Duration::days(90), true, now);
        assert!(start < now && end <= now && start < end);
    }
}
