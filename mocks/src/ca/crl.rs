//! The intermediate's CRL (RFC 5280 §5), served by the CA at `/crl` and named as the CRL
//! distribution point of every certificate it issues (RFC 5280 §4.2.1.13). rcgen writes and
//! signs it; the revoked certificates come from the store at the moment of the request.

use std::sync::Arc;
use std::sync::atomic::Ordering;

use axum::http::{StatusCode, header};

use super::pki::RevokedEntry;
use super::problem::Problem;
use super::server::{CaShared, Reply};

/// RFC 5280 §4.2.1.13 names no media type; RFC 2585 §4.2 registers this one for a CRL.
pub const CRL_MEDIA_TYPE: &str = "application/pkix-crl";

/// GET the CRL: every revoked certificate, serial order, a fresh CRL number.
pub fn get(ca: &Arc<CaShared>) -> Result<Reply, Problem> {
    let mut revoked: Vec<RevokedEntry> = ca
        .store()
        .certs
        .values()
        .filter_map(|cert| {
            Some(RevokedEntry {
                serial: hex_octets(&cert.serial_hex)?,
                revoked_at: cert.revoked_at?,
                reason: cert.revoked?,
            })
        })
        .collect();
    revoked.sort_by(|a, b| a.serial.cmp(&b.serial));
    // RFC 5280 §5.2.3: "a monotonically increasing sequence number".
    let number = ca.crl_number.fetch_add(1, Ordering::Relaxed) + 1;
    let der = ca
        .pki
        .crl(&revoked, number)
        .map_err(|e| Problem::internal(format!("the CRL cannot be built: {e}")))?;
    Ok(Reply {
        status: StatusCode::OK,
        headers: vec![(header::CACHE_CONTROL, "no-store".to_owned())],
        body: Some((CRL_MEDIA_TYPE, der)),
    })
}

/// Lowercase hex (as the store keeps serials) to octets.
fn hex_octets(hex: &str) -> Option<Vec<u8>> {
    (0..hex.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(hex.get(i..i + 2)?, 16).ok())
        .collect()
}
