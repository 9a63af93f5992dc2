//! revokeCert (RFC 8555 §7.6, ACME-32): by the issuing account (`kid`), by an account that
//! holds authorizations for every identifier of the certificate (`kid`, ACME-35), or by the
//! certificate's own key (`jwk`).

use std::sync::Arc;

use axum::http::StatusCode;
use serde_json::{Value, json};
use x509_parser::prelude::*;

use super::jws::KeyRef;
use super::model::AuthzStatus;
use super::pki::{Identifier, IdentifierKind};
use super::problem::{Problem, ProblemType};
use super::resources::Authenticated;
use super::server::{CaShared, Reply};
use super::state::Store;
use crate::protocol::b64url;
use crate::protocol::requirements as req;

/// RFC 5280 §5.3.1 reason codes a subscriber may give (the CA/Browser Forum subscriber set:
/// unspecified, keyCompromise, affiliationChanged, superseded, cessationOfOperation).
pub const ALLOWED_REASONS: &[u8] = &[0, 1, 3, 4, 5];

/// POST revokeCert.
pub fn revoke(ca: &Arc<CaShared>, auth: &Authenticated) -> Result<Reply, Problem> {
    let payload = auth.object("revokeCert takes {\"certificate\": ...}")?;
    let cert_b64 = payload
        .get("certificate")
        .and_then(|v| v.as_str())
        .ok_or_else(|| Problem::malformed("revokeCert needs a \"certificate\" string"))?;
    let der = b64url::decode_strict(cert_b64)
        .map_err(|e| Problem::malformed(format!("\"certificate\" is not base64url: {e}")))?;
    let reason = match payload.get("reason") {
        None | Some(Value::Null) => 0,
        Some(v) => v
            .as_u64()
            .and_then(|r| u8::try_from(r).ok())
            .filter(|r| ALLOWED_REASONS.contains(r))
            .ok_or_else(|| {
                Problem::new(
                    ProblemType::BadRevocationReason,
                    format!("reason {v} is not one of {ALLOWED_REASONS:?}"),
                )
                // Which reasons a CA takes is its policy (RFC 8555 §7.6).
                .enforcing(req::ACME_32)
            })?,
    };
    let (_, cert) = X509Certificate::from_der(&der)
        .map_err(|e| Problem::malformed(format!("\"certificate\" is not a certificate: {e}")))?;
    let serial = cert.tbs_certificate.raw_serial_as_string().replace(':', "");
    let mut store = ca.store();
    let id = store.certs_by_serial.get(&serial).cloned().ok_or_else(|| {
        Problem::malformed(format!("serial {serial} was not issued by this CA")).with_status(404)
    })?;
    let record = store
        .certs
        .get(&id)
        .ok_or_else(|| Problem::internal("certificate index is inconsistent"))?;
    if record.der != der {
        return Err(Problem::malformed(
            "the certificate does not match the one this CA issued with that serial",
        ));
    }
    let (issuer, identifiers) = (record.account.clone(), record.identifiers.clone());
    match &auth.account {
        Some(account) if matches!(auth.jws.key(), KeyRef::Kid(_)) => {
            // RFC 8555 §7.6: "The server MUST consider at least the following accounts
            // authorized for a given certificate: the account that issued the certificate; an
            // account that holds authorizations for all of the identifiers in the
            // certificate."
            let now = ca.clock.now();
            if issuer != account.id
                && !holds_authorizations(&mut store, &account.id, &identifiers, now)
            {
                return Err(Problem::unauthorized(
                    "only the issuing account, an account holding valid authorizations for every identifier of the certificate, or the certificate key may revoke (RFC 8555 §7.6)",
                )
                .enforcing(req::ACME_35));
            }
        }
        _ => {
            // Signed with a jwk: it must be the certificate's own key.
            let cert_key = spki_thumbprint(cert.public_key())
                .ok_or_else(|| Problem::internal("cannot read the certificate key"))?;
            let signer = acmeproof_protocol::jwk::thumbprint(&auth.jwk)
                .map_err(|e| Problem::new(ProblemType::BadPublicKey, e.to_string()))?;
            if cert_key != signer {
                return Err(
                    Problem::unauthorized("the JWS key is not the certificate's key")
                        .violates(req::ACME_32),
                );
            }
        }
    }
    let Some(record) = store.certs.get_mut(&id) else {
        return Err(Problem::internal("certificate index is inconsistent"));
    };
    // Knob revoke_twice_ok breaks that on purpose: a second revocation is answered 200.
    if record.revoked.is_some() {
        if ca.knobs().revoke_twice_ok {
            return Ok(Reply::empty(StatusCode::OK));
        }
        return Err(Problem::new(
            ProblemType::AlreadyRevoked,
            format!("serial {serial} is already revoked"),
        )
        .enforcing(req::ACME_32));
    }
    record.revoked = Some(reason);
    record.revoked_at = Some(ca.clock.now());
    Ok(Reply::empty(StatusCode::OK))
}

/// Whether `account` holds a valid, unexpired authorization for every one of `identifiers` (a
/// certificate's, as ordered). A wildcard `*.name` needs a wildcard authorization of `name`
/// (proved through DNS); a plain name is covered by any valid authorization of that name,
/// wildcard ones included, since those were proved on the name's own DNS.
fn holds_authorizations(
    store: &mut Store,
    account: &str,
    identifiers: &[Identifier],
    now: ::time::OffsetDateTime,
) -> bool {
    let held: Vec<(Identifier, bool, String)> = store
        .authzs
        .values()
        .filter(|a| a.account == account && a.status == AuthzStatus::Valid)
        .map(|a| (a.identifier.clone(), a.wildcard, a.id.clone()))
        .collect();
    let valid: Vec<((IdentifierKind, String), bool)> = held
        .into_iter()
        .filter(|(_, _, id)| {
            store
                .authz_now(id, now)
                .is_some_and(|a| a.status == AuthzStatus::Valid)
        })
        .map(|(identifier, wildcard, _)| (identifier.comparison_key(), wildcard))
        .collect();
    !identifiers.is_empty()
        && identifiers.iter().all(|wanted| {
            let (kind, value) = wanted.comparison_key();
            let (base, wildcard) = match (kind, value.strip_prefix("*.")) {
                (IdentifierKind::Dns, Some(base)) => (base.to_owned(), true),
                _ => (value, false),
            };
            valid
                .iter()
                .any(|((k, v), w)| *k == kind && *v == base && (*w || !wildcard))
        })
}

/// The RFC 7638 thumbprint of a certificate's public key, by way of its JWK form.
pub fn spki_thumbprint(spki: &SubjectPublicKeyInfo<'_>) -> Option<String> {
    let jwk = match spki.parsed().ok()? {
        x509_parser::public_key::PublicKey::RSA(rsa) => json!({
            "kty": "RSA",
            "n": b64url::encode(strip_zeros(rsa.modulus)),
            "e": b64url::encode(strip_zeros(rsa.exponent)),
        }),
        x509_parser::public_key::PublicKey::EC(point) => {
            let data = point.data();
            let (crv, half) = match data.len() {
                65 => ("P-256", 32),
                97 => ("P-384", 48),
                133 => ("P-521", 66),
                _ => return None,
            };
            if data.first() != Some(&4) {
                return None;
            }
            json!({
                "kty": "EC",
                "crv": crv,
                "x": b64url::encode(&data[1..=half]),
                "y": b64url::encode(&data[1 + half..]),
            })
        }
        _ if spki.algorithm.algorithm.to_id_string() == "1.3.101.112" => json!({
            "kty": "OKP",
            "crv": "Ed25519",
            "x": b64url::encode(&spki.subject_public_key.data),
        }),
        _ => return None,
    };
    acmeproof_protocol::jwk::thumbprint(&jwk).ok()
}

fn strip_zeros(bytes: &[u8]) -> &[u8] {
    let start = bytes
        .iter()
        .position(|b| *b != 0)
        .unwrap_or(bytes.len().saturating_sub(1));
    &bytes[start..]
}
