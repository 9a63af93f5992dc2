//! rustls configurations from the world PKI, always with the ring provider so they never
//! depend on a process-default `CryptoProvider`.

use std::net::IpAddr;
use std::sync::Arc;

use rcgen::{CertificateParams, DnType, ExtendedKeyUsagePurpose, IsCa};
use rustls::crypto::CryptoProvider;
use rustls_pki_types::{CertificateDer, UnixTime};

use super::PkiError;
use super::profile::dns_a_labels;
use super::rcgen_key_usages;
use super::san::apply_sans;
use crate::clock::Clock;
use acmeproof_protocol::pki::{KeyUsageBits, SanName};

fn ring() -> Arc<CryptoProvider> {
    crate::ring_provider()
}

/// Subject, SANs, KU and EKU of a leaf for the world's own servers: `names` that parse as IP
/// addresses become iPAddress SANs, the others dNSName SANs (RFC 6125 §6.4: clients match
/// DNS-IDs; RFC 5280 §4.2.1.6 iPAddress for IP literals). The CN is the first DNS name.
pub(crate) fn server_leaf_profile(
    params: &mut CertificateParams,
    names: &[&str],
) -> Result<(), PkiError> {
    let mut sans = Vec::new();
    for name in names {
        match name.parse::<IpAddr>() {
            Ok(ip) => sans.push(SanName::Ip(ip)),
            Err(_) => sans.push(SanName::Dns(dns_a_labels(name)?)),
        }
    }
    params.is_ca = IsCa::ExplicitNoCa;
    if let Some(SanName::Dns(first)) = sans.iter().find(|s| matches!(s, SanName::Dns(_))) {
        params
            .distinguished_name
            .push(DnType::CommonName, first.clone());
    }
    apply_sans(params, &sans)?;
    params.key_usages = rcgen_key_usages(KeyUsageBits::DIGITAL_SIGNATURE);
    params.extended_key_usages = vec![ExtendedKeyUsagePurpose::ServerAuth];
    Ok(())
}

/// A server configuration presenting the leaf `resolver` gives (see `lazy_leaf`).
pub(crate) fn server_config(
    resolver: Arc<dyn rustls::server::ResolvesServerCert>,
    alpn: &[&[u8]],
) -> Result<Arc<rustls::ServerConfig>, PkiError> {
    let mut config = rustls::ServerConfig::builder_with_provider(ring())
        .with_safe_default_protocol_versions()?
        .with_no_client_auth()
        .with_cert_resolver(resolver);
    config.alpn_protocols = alpn.iter().map(|p| p.to_vec()).collect();
    Ok(Arc::new(config))
}

/// The world clock as rustls' notion of "now", so certificate validity is judged in world
/// time (a scenario that advances the clock sees expiry).
#[derive(Debug)]
struct WorldTime(Clock);

impl rustls::time_provider::TimeProvider for WorldTime {
    fn current_time(&self) -> Option<UnixTime> {
        let secs = u64::try_from(self.0.now().unix_timestamp()).ok()?;
        Some(UnixTime::since_unix_epoch(std::time::Duration::from_secs(
            secs,
        )))
    }
}

/// A client configuration trusting only `root`.
pub(crate) fn client_config(
    root: &CertificateDer<'static>,
    clock: &Clock,
) -> Result<Arc<rustls::ClientConfig>, PkiError> {
    let mut roots = rustls::RootCertStore::empty();
    roots.add(root.clone())?;
    let config =
        rustls::ClientConfig::builder_with_details(ring(), Arc::new(WorldTime(clock.clone())))
            .with_safe_default_protocol_versions()?
            .with_root_certificates(roots)
            .with_no_client_auth();
    Ok(Arc::new(config))
}
