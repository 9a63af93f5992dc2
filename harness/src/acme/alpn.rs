//! The reference client's tls-alpn-01 responder (RFC 8737 §3): a TLS server on loopback that
//! answers ALPN `acme-tls/1` with a self-signed certificate per name, holding the single
//! dNSName and the critical acmeIdentifier extension (rcgen writes it).
//!
//! The CA connects to the name's address from the world's DNS on its `tls_alpn01_port` knob,
//! so a world points that knob at [`AlpnResponder::port`].

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use rustls::pki_types::{PrivateKeyDer, PrivatePkcs8KeyDer};
use rustls::server::{ClientHello, ResolvesServerCert};
use rustls::sign::CertifiedKey;
use tokio::net::TcpListener;
use tokio::task::JoinHandle;

use acmeproof_protocol::tls_alpn::{ACME_TLS_1, acme_identifier, check_validation_hello};

/// Why the responder could not start or take a name.
#[derive(Debug, thiserror::Error)]
pub enum AlpnError {
    /// The socket.
    #[error("tls-alpn-01 responder: {0}")]
    Io(#[from] std::io::Error),
    /// The certificate or the TLS configuration.
    #[error("tls-alpn-01 certificate: {0}")]
    Certificate(String),
}

/// Serves validation certificates by SNI; stops when dropped.
#[derive(Debug)]
pub struct AlpnResponder {
    port: u16,
    names: Arc<Names>,
    task: JoinHandle<()>,
}

#[derive(Debug, Default)]
struct Names(Mutex<HashMap<String, Arc<CertifiedKey>>>);

impl ResolvesServerCert for Names {
    fn resolve(&self, hello: ClientHello<'_>) -> Option<Arc<CertifiedKey>> {
        // RFC 8737 §3: only the CA's validation handshake as the RFC has it (ALPN acme-tls/1
        // alone, SNI the name) gets the validation certificate; any other fails the validation.
        // Here the checker's ALPN half decides; its SNI half holds by construction, since the
        // certificate is looked up by the SNI (a wrong name finds none).
        let alpn: Option<Vec<&[u8]>> = hello.alpn().map(Iterator::collect);
        let name = hello.server_name()?.to_ascii_lowercase();
        if let Err(finding) = check_validation_hello(alpn.as_deref(), Some(&name), &name) {
            tracing::warn!(%finding.req, observed = %finding.observed, "tls-alpn-01 handshake refused");
            return None;
        }
        self.0.lock().ok()?.get(&name).cloned()
    }
}

impl AlpnResponder {
    /// Starts the responder on 127.0.0.1 (a port chosen by the system).
    pub async fn start() -> Result<AlpnResponder, AlpnError> {
        let listener = TcpListener::bind("127.0.0.1:0").await?;
        let port = listener.local_addr()?.port();
        let names = Arc::new(Names::default());
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let mut config = rustls::ServerConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .map_err(|e| AlpnError::Certificate(e.to_string()))?
            .with_no_client_auth()
            .with_cert_resolver(Arc::clone(&names) as Arc<dyn ResolvesServerCert>);
        config.alpn_protocols = vec![ACME_TLS_1.to_vec()];
        let acceptor = tokio_rustls::TlsAcceptor::from(Arc::new(config));
        let task = tokio::spawn(async move {
            while let Ok((tcp, _)) = listener.accept().await {
                let acceptor = acceptor.clone();
                tokio::spawn(async move {
                    // The handshake is the whole protocol: no data follows (RFC 8737 §4).
                    let _ = tokio::time::timeout(
                        std::time::Duration::from_secs(10),
                        acceptor.accept(tcp),
                    )
                    .await;
                });
            }
        });
        Ok(AlpnResponder { port, names, task })
    }

    /// The port to set as the CA's `tls_alpn01_port`.
    pub fn port(&self) -> u16 {
        self.port
    }

    /// Answers for `domain` with the validation certificate of `token` and the account key
    /// whose thumbprint is `thumbprint`.
    pub fn serve(&self, domain: &str, token: &str, thumbprint: &str) -> Result<(), AlpnError> {
        let key = validation_certificate(domain, &acme_identifier(token, thumbprint))?;
        self.names
            .0
            .lock()
            .map_err(|_| AlpnError::Certificate("poisoned".into()))?
            .insert(domain.to_ascii_lowercase(), Arc::new(key));
        Ok(())
    }

    /// Stops answering for `domain`.
    pub fn forget(&self, domain: &str) {
        if let Ok(mut names) = self.names.0.lock() {
            names.remove(&domain.to_ascii_lowercase());
        }
    }
}

impl Drop for AlpnResponder {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// RFC 8737 §3: a self-signed certificate with the single dNSName `domain` and the critical
/// acmeIdentifier extension holding `digest`.
pub fn validation_certificate(domain: &str, digest: &[u8; 32]) -> Result<CertifiedKey, AlpnError> {
    let fail = |e: &dyn std::fmt::Display| AlpnError::Certificate(e.to_string());
    let key = rcgen::KeyPair::generate().map_err(|e| fail(&e))?;
    let mut params =
        rcgen::CertificateParams::new(vec![domain.to_owned()]).map_err(|e| fail(&e))?;
    params.distinguished_name = rcgen::DistinguishedName::new();
    params
        .custom_extensions
        .push(rcgen::CustomExtension::new_acme_identifier(digest));
    let cert = params.self_signed(&key).map_err(|e| fail(&e))?;
    let der = PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(key.serialize_der()));
    let signing = rustls::crypto::ring::sign::any_supported_type(&der).map_err(|e| fail(&e))?;
    Ok(CertifiedKey::new(vec![cert.der().clone()], signing))
}
