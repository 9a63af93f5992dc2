//! What the MUA checks on the certificate it gets: the chain up to the trust anchor, and the
//! S/MIME profile for its address (RFC 8823 §3.3, RFC 8550 §4.4, RFC 8398 §3).

use acmeproof_mocks::ca::pki::{Purpose, TrustAnchors, validate_path};
use acmeproof_protocol::address::{parse_address, san_form};
use acmeproof_protocol::pki::{CertSummary, SanName, SmimeUsage, smime_profile};

/// The certificates of a PEM chain, DER, leaf first.
pub fn pem_chain(pem: &str) -> Result<Vec<Vec<u8>>, String> {
    x509_parser::pem::Pem::iter_from_buffer(pem.as_bytes())
        .map(|block| {
            block
                .map(|b| b.contents)
                .map_err(|e| format!("bad PEM: {e}"))
        })
        .collect()
}

/// The SAN an S/MIME certificate for `address` carries, as [`CertSummary::sans`] writes it
/// (RFC 8398 §3, by the protocol's [`san_form`]).
pub fn expected_san(address: &str) -> Result<String, String> {
    let san = parse_address(address)
        .and_then(|a| san_form(&a))
        .map_err(|e| format!("{address}: {e}"))?;
    Ok(SanName::from(san).tagged())
}

/// Checks `chain_pem` (the leaf, then what the CA sent with it) up to `anchors` (the world's
/// root, the roots given for a server under test, or the chain's own top) and the S/MIME
/// profile for `address` with the key usage `usage` asked for. Returns the leaf's summary.
pub fn check_smime<'a>(
    chain_pem: &str,
    address: &str,
    usage: SmimeUsage,
    anchors: impl Into<TrustAnchors<'a>>,
) -> Result<CertSummary, String> {
    let chain = pem_chain(chain_pem)?;
    let Some(leaf) = chain.first() else {
        return Err("the chain holds no certificate".into());
    };
    let summary = CertSummary::from_der(leaf).map_err(|e| format!("leaf: {e}"))?;
    // RFC 5280 §6 up to the anchors, at the moment the leaf became valid: the CA issued it then
    // (a server under test may backdate notBefore, and the world clock may be anywhere).
    validate_path(
        &chain,
        anchors.into(),
        Purpose::EmailProtection,
        summary.not_before,
    )
    .map_err(|e| format!("chain: {e}"))?;
    // The S/MIME profile is protocol's (ACME-45, MAIL-9, SMIME-57); the MUA refuses the
    // certificate on any finding.
    let findings = smime_profile::check_smime_leaf(&summary, address, usage);
    if let Some(first) = findings.as_slice().first() {
        return Err(first.observed.clone());
    }
    Ok(summary)
}
