//! The TLS leaf of one of the world's own servers, drawn when the server starts and built at
//! its first handshake.
//!
//! A world starts a server leaf for the CA's HTTPS and one for its mail servers, and building
//! one (the P-256 key from its scalar, the leaf's signature) cost about 1.5 % of the CPU of a
//! scenario library run, while many scenarios never open a TLS connection to the mail servers.
//! So everything random is drawn at once, in the order it always was (the key's octets, the
//! serial, notBefore from the world clock): a world replayed from its seed presents the same
//! certificates whichever handshake comes first. Only the arithmetic waits for rustls to ask.

use std::sync::{Arc, OnceLock};

use rcgen::{CertificateParams, Issuer, KeyPair};
use rustls::server::{ClientHello, ResolvesServerCert};
use rustls::sign::CertifiedKey;
use rustls_pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer};

use super::PkiError;
use super::keys::p256_from;

/// A server leaf whose key and signature are computed at the first handshake, then kept.
#[derive(Debug)]
pub(crate) struct LazyLeaf {
    /// The octets the key's scalar is derived from ([`p256_from`]).
    key_input: Vec<u8>,
    /// The leaf's names, serial and validity, drawn when the server started.
    params: CertificateParams,
    /// The world's intermediate: signs the leaf, and follows it in the chain.
    issuer: Arc<Issuer<'static, KeyPair>>,
    intermediate_der: CertificateDer<'static>,
    /// The built leaf; `None` when building failed (logged once, and every handshake fails).
    built: OnceLock<Option<Arc<CertifiedKey>>>,
}

impl LazyLeaf {
    pub(crate) fn new(
        key_input: Vec<u8>,
        params: CertificateParams,
        issuer: Arc<Issuer<'static, KeyPair>>,
        intermediate_der: CertificateDer<'static>,
    ) -> LazyLeaf {
        LazyLeaf {
            key_input,
            params,
            issuer,
            intermediate_der,
            built: OnceLock::new(),
        }
    }

    fn build(&self) -> Result<CertifiedKey, PkiError> {
        let key = p256_from(&self.key_input)?;
        let cert = self.params.signed_by(&key, &self.issuer)?;
        let chain = vec![cert.der().clone(), self.intermediate_der.clone()];
        let der = PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(key.serialize_der()));
        let signing = rustls::crypto::ring::sign::any_ecdsa_type(&der)?;
        Ok(CertifiedKey::new(chain, signing))
    }
}

impl ResolvesServerCert for LazyLeaf {
    /// The leaf and its key, built at the first handshake.
    fn resolve(&self, _hello: ClientHello<'_>) -> Option<Arc<CertifiedKey>> {
        self.built
            .get_or_init(|| match self.build() {
                Ok(built) => Some(Arc::new(built)),
                Err(e) => {
                    tracing::error!("building a TLS server leaf failed: {e}");
                    None
                }
            })
            .clone()
    }
}
