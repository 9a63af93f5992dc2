//! Did the client get the certificate it asked for? The chain leads to the world's root
//! (RFC 5280 §6 path validation, by rustls-webpki), the leaf names exactly the identifiers of
//! the order, and it is a TLS server certificate.

use std::fmt;

use acmeproof_protocol::pki::CertSummary;
use rustls_pki_types::CertificateDer;
use rustls_pki_types::pem::PemObject;
use time::OffsetDateTime;

use super::World;
use crate::ca::pki::{Purpose, TrustAnchors, validate_path};

/// The leaf of an issued chain, as [`World::assert_issued`] found it.
#[derive(Debug, Clone)]
pub struct Issued {
    /// The leaf, read.
    pub leaf: CertSummary,
    /// How many certificates the chain holds (the leaf first).
    pub chain_len: usize,
}

impl fmt::Display for Issued {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let leaf = &self.leaf;
        let eku = leaf
            .extended_key_usage
            .as_ref()
            .map(|e| e.value.join(", "))
            .unwrap_or_else(|| "(none)".into());
        writeln!(f, "subject:   {}", leaf.subject)?;
        writeln!(f, "issuer:    {}", leaf.issuer)?;
        writeln!(f, "serial:    {}", leaf.serial_hex)?;
        writeln!(f, "validity:  {} .. {}", leaf.not_before, leaf.not_after)?;
        writeln!(f, "SANs:      {}", leaf.sans.join(", "))?;
        writeln!(f, "EKU:       {eku}")?;
        write!(f, "chain:     {} certificate(s)", self.chain_len)
    }
}

/// Why a chain is not the certificate asked for.
#[derive(Debug, Clone, thiserror::Error)]
pub enum IssuedError {
    /// The PEM text holds no certificate, or a broken one.
    #[error("the chain does not parse: {0}")]
    Parse(String),
    /// Path validation up to the world's root failed.
    #[error("the chain does not lead to the world's root: {0}")]
    Path(String),
    /// The leaf's names are not the identifiers.
    #[error("the leaf names {found:?}, the order asked for {wanted:?}\n{issued}")]
    Names {
        /// The identifiers asked for.
        wanted: Vec<String>,
        /// The SANs found.
        found: Vec<String>,
        /// The leaf.
        issued: Box<Issued>,
    },
    /// The leaf is no TLS server certificate.
    #[error("the leaf's extended key usage lacks serverAuth\n{0}")]
    Usage(Box<Issued>),
}

/// Checks `chain_pem` (the leaf first, as RFC 8555 §7.4.2's `application/pem-certificate-chain`)
/// against `root_der` at `at`: the path validates for serverAuth, the leaf's SANs are exactly
/// `identifiers` (DNS names or IP addresses; RFC 8555 §7.4: the CSR's names are the order's),
/// and its EKU names serverAuth.
pub fn check_issued(
    root_der: &[u8],
    chain_pem: &str,
    identifiers: &[&str],
    at: OffsetDateTime,
) -> Result<Issued, IssuedError> {
    let chain = CertificateDer::pem_slice_iter(chain_pem.as_bytes())
        .map(|c| c.map(|c| c.to_vec()))
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| IssuedError::Parse(e.to_string()))?;
    let Some(leaf_der) = chain.first() else {
        return Err(IssuedError::Parse("no CERTIFICATE block".into()));
    };
    let leaf = CertSummary::from_der(leaf_der).map_err(|e| IssuedError::Parse(e.to_string()))?;
    validate_path(
        &chain,
        TrustAnchors::Root(root_der),
        Purpose::ServerAuth,
        at,
    )
    .map_err(IssuedError::Path)?;
    let issued = Issued {
        leaf,
        chain_len: chain.len(),
    };
    // The SANs are tagged (`dns:`, `ip:`); identifiers are compared without the tag, DNS
    // names case-insensitively (RFC 4343).
    let mut found: Vec<String> = issued
        .leaf
        .sans
        .iter()
        .map(|s| {
            s.split_once(':')
                .map_or(s.as_str(), |(_, v)| v)
                .to_ascii_lowercase()
        })
        .collect();
    let mut wanted: Vec<String> = identifiers.iter().map(|i| i.to_ascii_lowercase()).collect();
    found.sort();
    wanted.sort();
    if found != wanted {
        return Err(IssuedError::Names {
            wanted,
            found,
            issued: Box::new(issued),
        });
    }
    let server_auth = issued
        .leaf
        .extended_key_usage
        .as_ref()
        .is_some_and(|e| e.value.iter().any(|p| p == "serverAuth"));
    if !server_auth {
        return Err(IssuedError::Usage(Box::new(issued)));
    }
    Ok(issued)
}

/// [`World::assert_issued`] without a world: panics with the reason and the leaf's summary.
#[track_caller]
pub fn assert_issued(root_der: &[u8], chain_pem: &str, identifiers: &[&str]) -> Issued {
    match check_issued(root_der, chain_pem, identifiers, OffsetDateTime::now_utc()) {
        Ok(issued) => issued,
        Err(e) => panic!("not the certificate asked for: {e}"),
    }
}

impl World {
    /// Panics unless `chain_pem` leads to this world's root (at the world's time), names
    /// exactly `identifiers`, and is a TLS server certificate; the message shows the leaf.
    #[track_caller]
    pub fn assert_issued(&self, chain_pem: &str, identifiers: &[&str]) -> Issued {
        let now = self.inner().clock.now();
        match check_issued(self.root_der(), chain_pem, identifiers, now) {
            Ok(issued) => issued,
            Err(e) => panic!("not the certificate asked for: {e}"),
        }
    }
}
