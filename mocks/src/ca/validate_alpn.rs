//! Validation of tls-alpn-01 (RFC 8737 §3, ACME-38/39): a TLS handshake with the name's
//! address from the world's DNS, offering only ALPN `acme-tls/1` and SNI the name, then the
//! presented certificate checked by [`acmeproof_protocol::tls_alpn::check_certificate`].
//!
//! RFC 8737 §3 fixes port 443; the world's servers listen on ports the system chose, so the
//! port is the `tls_alpn01_port` knob, as `http01_port` is for http-01. "Once the TLS
//! handshake has been completed, the connection MUST be immediately closed": nothing is read
//! or written after it.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use acmeproof_protocol::tls_alpn::{
    ACME_TLS_1, OID_ACME_IDENTIFIER, ValidationCertificate, acme_identifier, check_certificate,
};
use rustls_pki_types::ServerName;
use tokio::net::TcpStream;
use x509_parser::prelude::*;

use super::problem::{Problem, ProblemType};
use super::server::CaShared;
use super::validate::Job;

/// How long the connection and the handshake may take.
pub const TLS_ALPN01_TIMEOUT: Duration = Duration::from_secs(5);

/// RFC 8737 §3: validates `job` by a TLS handshake with its name's address.
pub(super) async fn tls_alpn01(ca: &CaShared, job: &Job) -> Result<(), Problem> {
    let domain = job.identifier.value.as_str();
    let ip = super::validate::first_address(ca, domain).await?;
    let port = ca.knobs().tls_alpn01_port;
    let addr = SocketAddr::new(ip, port);
    let connection = |detail: String| Problem::new(ProblemType::Connection, detail);
    let tcp = tokio::time::timeout(TLS_ALPN01_TIMEOUT, TcpStream::connect(addr))
        .await
        .map_err(|_| connection(format!("connecting to {addr} timed out")))?
        .map_err(|e| connection(format!("connecting to {addr}: {e}")))?;
    // "The ACME server MUST provide an ALPN extension with the single protocol name
    // "acme-tls/1" and an SNI extension containing only the domain name being validated".
    let config =
        client_config().map_err(|e| Problem::internal(format!("tls-alpn-01 client: {e}")))?;
    let name = ServerName::try_from(domain.to_owned())
        .map_err(|e| Problem::malformed(format!("{domain:?} cannot be an SNI name: {e}")))?;
    let tls = tokio::time::timeout(
        TLS_ALPN01_TIMEOUT,
        tokio_rustls::TlsConnector::from(Arc::new(config)).connect(name, tcp),
    )
    .await
    .map_err(|_| connection(format!("the TLS handshake with {addr} timed out")))?
    .map_err(|e| {
        Problem::new(
            ProblemType::Tls,
            format!("TLS handshake with {addr} for tls-alpn-01 failed: {e}"),
        )
    })?;
    let (_, session) = tls.get_ref();
    let incorrect =
        |detail: String| Problem::new(ProblemType::IncorrectResponse, detail).with_status(403);
    if session.alpn_protocol() != Some(ACME_TLS_1) {
        return Err(incorrect(format!(
            "{addr} did not negotiate ALPN \"acme-tls/1\" (RFC 8737 §3)"
        )));
    }
    let der = session
        .peer_certificates()
        .and_then(|chain| chain.first())
        .map(|c| c.as_ref().to_vec())
        .ok_or_else(|| incorrect(format!("{addr} presented no certificate")))?;
    // RFC 8737 §3: the connection is closed right after the handshake.
    drop(tls);
    let found = read_certificate(&der)
        .map_err(|e| incorrect(format!("the certificate from {addr} does not parse: {e}")))?;
    let expected = acme_identifier(&job.token, &job.thumbprint);
    check_certificate(&found, domain, &expected).map_err(|e| {
        incorrect(format!("tls-alpn-01 at {addr}: {e} (RFC 8737 §3)"))
            .violates(crate::protocol::requirements::ACME_39)
    })
}

/// The validation client: TLS 1.2 or 1.3 (RFC 8737 §5: "MUST only negotiate TLS 1.2 or
/// higher"), ring, ALPN `acme-tls/1` only, and [`super::any_certificate::AnyCertificate`].
fn client_config() -> Result<rustls::ClientConfig, rustls::Error> {
    let provider = crate::ring_provider();
    let mut config = rustls::ClientConfig::builder_with_provider(Arc::clone(&provider))
        .with_safe_default_protocol_versions()?
        .dangerous()
        .with_custom_certificate_verifier(Arc::new(super::any_certificate::AnyCertificate(
            provider,
        )))
        .with_no_client_auth();
    config.alpn_protocols = vec![ACME_TLS_1.to_vec()];
    Ok(config)
}

/// The subjectAltName entries and the acmeIdentifier extension of a certificate.
pub fn read_certificate(der: &[u8]) -> Result<ValidationCertificate, String> {
    let (_, cert) = X509Certificate::from_der(der).map_err(|e| e.to_string())?;
    let mut found = ValidationCertificate::default();
    for ext in cert.extensions() {
        let oid: Option<Vec<u64>> = ext.oid.iter().map(|arcs| arcs.collect());
        if oid.as_deref() == Some(OID_ACME_IDENTIFIER) {
            let digest = yasna::parse_der(ext.value, |r| r.read_bytes()).ok();
            found.acme_identifier = Some((ext.critical, digest));
        }
        if let ParsedExtension::SubjectAlternativeName(san) = ext.parsed_extension() {
            for name in &san.general_names {
                match name {
                    GeneralName::DNSName(dns) => found.dns_names.push((*dns).to_owned()),
                    _ => found.other_names += 1,
                }
            }
        }
    }
    Ok(found)
}
