//! The world's root and intermediate CA, and issuance of end-entity certificates from a CSR.
//!
//! ```text
//!   "<name> Root"          ECDSA P-256, CA:TRUE, KU keyCertSign+cRLSign (critical), ~10 years
//!     └─ "<name> Intermediate"   CA:TRUE pathlen 0, signs every end-entity certificate
//!          ├─ TLS server leaves of the world's own HTTPS/STARTTLS servers
//!          └─ certificates issued on ACME finalize (TLS server or S/MIME profile)
//! ```
//!
//! Keys and serials come from the world [`Seed`]; validity periods from the world [`Clock`].
//! The root's private key is dropped once the intermediate is signed.

use std::path::Path;
use std::sync::Arc;

use rcgen::{
    BasicConstraints, CertificateParams, CertificateRevocationListParams, CrlDistributionPoint,
    DistinguishedName, DnType, IsCa, Issuer, KeyIdMethod, KeyPair, RevocationReason,
    RevokedCertParams, SerialNumber,
};
use rustls_pki_types::CertificateDer;
use time::{Duration, OffsetDateTime};

use super::PkiError;
use super::keys::{derive_p256, hex, p256_input, serial};
use super::lazy_leaf::LazyLeaf;
use super::profile::Profile;
use super::rcgen_key_usages;
use super::tls;
use crate::clock::Clock;
use crate::seed::{Seed, SeededRng};
use acmeproof_protocol::pki::{CsrInfo, KeyUsageBits};

/// How far before "now" a certificate's notBefore is set, so a peer whose clock is slightly
/// behind still accepts it (the usual CA practice; RFC 5280 leaves it to policy).
pub const BACKDATE: Duration = Duration::hours(1);
/// Validity of the root and the intermediate: about ten years.
pub const CA_VALIDITY: Duration = Duration::days(3653);
/// Validity of the leaves of the world's own servers ([`Pki::tls_server_config`]).
pub const SERVER_LEAF_VALIDITY: Duration = Duration::days(365);

/// A certificate issued by [`Pki::issue`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Issued {
    /// The serial number, lowercase hex without separators (as in x509-parser's raw serial).
    pub serial_hex: String,
    /// The end-entity certificate, DER.
    pub der: Vec<u8>,
    /// `application/pem-certificate-chain` (RFC 8555 §9.1): the leaf then the intermediate,
    /// nothing between or around the PEM blocks.
    pub chain_pem: String,
    /// notBefore.
    pub not_before: OffsetDateTime,
    /// notAfter.
    pub not_after: OffsetDateTime,
}

/// The world PKI: root, intermediate, and the issuing key.
#[derive(Debug)]
pub struct Pki {
    clock: Clock,
    root_der: CertificateDer<'static>,
    root_pem: String,
    intermediate_der: CertificateDer<'static>,
    intermediate_pem: String,
    /// The intermediate's name, key-identifier method and key: signs every leaf.
    intermediate: Arc<Issuer<'static, KeyPair>>,
    /// Serial numbers of every certificate after the two CA certificates.
    serials: SeededRng,
    /// Keys of the world's own TLS server leaves.
    server_keys: SeededRng,
    /// Built once so [`Pki::client_config`] cannot fail.
    client_config: Arc<rustls::ClientConfig>,
}

impl Pki {
    /// Generates the root and the intermediate for a world called `name` (used in the CNs:
    /// "`name` Root", "`name` Intermediate").
    pub fn generate(seed: Seed, clock: &Clock, name: &str) -> Result<Pki, PkiError> {
        let serials = seed.stream("pki.serial");
        let now = whole_seconds(clock.now());

        let root_key = derive_p256(&seed.stream("pki.root.key"))?;
        let mut root = ca_params(&format!("{name} Root"), name, now, &serials);
        root.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        let root_cert = root.self_signed(&root_key)?;

        let int_key = derive_p256(&seed.stream("pki.intermediate.key"))?;
        let mut int = ca_params(&format!("{name} Intermediate"), name, now, &serials);
        // RFC 5280 §4.2.1.9: pathLenConstraint 0 — the intermediate signs only end entities.
        int.is_ca = IsCa::Ca(BasicConstraints::Constrained(0));
        // RFC 5280 §4.2.1.1: AKI MUST be present in all certificates but self-signed roots.
        int.use_authority_key_identifier_extension = true;
        let int_cert = int.signed_by(&int_key, &Issuer::new(root, root_key))?;

        let root_der = root_cert.der().clone();
        let client_config = tls::client_config(&root_der, clock)?;
        Ok(Pki {
            clock: clock.clone(),
            root_pem: root_cert.pem(),
            root_der,
            intermediate_pem: int_cert.pem(),
            intermediate_der: int_cert.der().clone(),
            intermediate: Arc::new(Issuer::new(int, int_key)),
            serials,
            server_keys: seed.stream("pki.server.key"),
            client_config,
        })
    }

    /// The root certificate, PEM: what users trust.
    pub fn root_pem(&self) -> &str {
        &self.root_pem
    }

    /// The root certificate, DER.
    pub fn root_der(&self) -> &[u8] {
        &self.root_der
    }

    /// The intermediate certificate, PEM.
    pub fn intermediate_pem(&self) -> &str {
        &self.intermediate_pem
    }

    /// The intermediate certificate, DER.
    pub fn intermediate_der(&self) -> &[u8] {
        &self.intermediate_der
    }

    /// Writes the root (PEM) to `path`, for `REQUESTS_CA_BUNDLE`, `LEGO_CA_CERTIFICATES`,
    /// `curl --cacert` and the like.
    pub fn write_bundle(&self, path: &Path) -> Result<(), PkiError> {
        std::fs::write(path, &self.root_pem).map_err(|source| PkiError::Io {
            path: path.display().to_string(),
            source,
        })
    }

    /// Issues an end-entity certificate for the public key of `csr` (nothing else of the CSR
    /// is used: the identifiers were checked by the caller, and `profile` says what to
    /// write). Valid from now − [`BACKDATE`] to now + `validity`, by the world clock.
    pub fn issue(
        &self,
        csr: &CsrInfo,
        profile: &Profile,
        validity: Duration,
    ) -> Result<Issued, PkiError> {
        self.issue_with_crl(csr, profile, validity, None)
    }

    /// As [`Pki::issue`]; `crl_url`, when given, becomes the certificate's CRL distribution
    /// point (RFC 5280 §4.2.1.13: "the URI MUST point to a single DER encoded CRL").
    pub fn issue_with_crl(
        &self,
        csr: &CsrInfo,
        profile: &Profile,
        validity: Duration,
        crl_url: Option<&str>,
    ) -> Result<Issued, PkiError> {
        let spki = rcgen::SubjectPublicKeyInfo::from_der(&csr.spki_der)
            .map_err(|e| PkiError::Key(format!("{}: {e}", csr.key)))?;
        let mut params = self.leaf_params(validity)?;
        profile.apply(&mut params, csr.key)?;
        if let Some(url) = crl_url {
            params.crl_distribution_points = vec![CrlDistributionPoint {
                uris: vec![url.to_owned()],
            }];
        }
        let cert = params.signed_by(&spki, &self.intermediate)?;
        Ok(Issued {
            serial_hex: params
                .serial_number
                .as_ref()
                .map(|s| hex(&s.to_bytes()))
                .unwrap_or_default(),
            der: cert.der().to_vec(),
            chain_pem: format!("{}{}", cert.pem(), self.intermediate_pem),
            not_before: params.not_before,
            not_after: params.not_after,
        })
    }

    /// A TLS server configuration for the world's own servers (ACME directory, mail servers):
    /// a fresh leaf for `names` (IP addresses become iPAddress SANs, everything else dNSName),
    /// served with the intermediate, ALPN `h2` and `http/1.1`, ring provider. What the leaf
    /// takes from the seed is drawn now; its key pair and signature are computed at the first
    /// handshake.
    pub fn tls_server_config(&self, names: &[&str]) -> Result<Arc<rustls::ServerConfig>, PkiError> {
        self.tls_server_config_with_alpn(names, &[b"h2", b"http/1.1"])
    }

    /// As [`Pki::tls_server_config`] with the given ALPN protocols (empty: no ALPN, as a
    /// STARTTLS server for mail needs — a rustls server refuses clients whose offered ALPN
    /// protocols it does not share).
    pub fn tls_server_config_with_alpn(
        &self,
        names: &[&str],
        alpn: &[&[u8]],
    ) -> Result<Arc<rustls::ServerConfig>, PkiError> {
        // Drawn now, built at the first handshake (`lazy_leaf`).
        let key_input = p256_input(&self.server_keys);
        let mut params = self.leaf_params(SERVER_LEAF_VALIDITY)?;
        tls::server_leaf_profile(&mut params, names)?;
        let leaf = LazyLeaf::new(
            key_input,
            params,
            Arc::clone(&self.intermediate),
            self.intermediate_der.clone(),
        );
        tls::server_config(Arc::new(leaf), alpn)
    }

    /// A TLS client configuration trusting only this root, checking validity against the
    /// world clock, ring provider.
    pub fn client_config(&self) -> Arc<rustls::ClientConfig> {
        Arc::clone(&self.client_config)
    }

    /// The intermediate's CRL (RFC 5280 §5) of `revoked`, numbered `number`: thisUpdate now
    /// by the world clock, nextUpdate [`CRL_NEXT_UPDATE`] later (or the last representable
    /// instant), signed by the intermediate (whose SKI is the CRL's AKI).
    pub fn crl(&self, revoked: &[RevokedEntry], number: u64) -> Result<Vec<u8>, PkiError> {
        let now = whole_seconds(self.clock.now());
        let next =
            crate::clock::later(now, CRL_NEXT_UPDATE).unwrap_or_else(|_| crate::clock::latest());
        let params = CertificateRevocationListParams {
            this_update: now,
            next_update: next,
            crl_number: SerialNumber::from(number),
            issuing_distribution_point: None,
            revoked_certs: revoked
                .iter()
                .map(|entry| RevokedCertParams {
                    serial_number: SerialNumber::from_slice(&entry.serial),
                    revocation_time: whole_seconds(entry.revoked_at),
                    reason_code: reason(entry.reason),
                    invalidity_date: None,
                })
                .collect(),
            key_identifier_method: KeyIdMethod::Sha256,
        };
        Ok(params.signed_by(&self.intermediate)?.der().to_vec())
    }

    /// Parameters every leaf shares: serial, validity, AKI.
    fn leaf_params(&self, validity: Duration) -> Result<CertificateParams, PkiError> {
        if validity <= Duration::ZERO {
            return Err(PkiError::Profile(format!(
                "validity {validity} is not positive"
            )));
        }
        let now = whole_seconds(self.clock.now());
        let mut params = CertificateParams::default();
        // rcgen's defaults (CN "rcgen self signed cert", 1975–4096) are always replaced.
        params.distinguished_name = DistinguishedName::new();
        (params.not_before, params.not_after) = validity_from(now, validity);
        params.serial_number = Some(SerialNumber::from_slice(&serial(&self.serials)));
        // RFC 5280 §4.2.1.1: authorityKeyIdentifier; the subject key identifier comes with
        // basicConstraints (see `Profile::apply`).
        params.use_authority_key_identifier_extension = true;
        Ok(params)
    }
}

/// How long a CRL is current: its nextUpdate after thisUpdate (RFC 5280 §5.1.2.5).
pub const CRL_NEXT_UPDATE: Duration = Duration::days(1);

/// A revoked certificate as the CRL lists it.
#[derive(Debug, Clone)]
pub struct RevokedEntry {
    /// The serial's octets.
    pub serial: Vec<u8>,
    /// When the CA revoked it (world time).
    pub revoked_at: OffsetDateTime,
    /// The RFC 5280 §5.3.1 reason code the client gave.
    pub reason: u8,
}

/// RFC 5280 §5.3.1: "the reason code extension ... SHOULD be absent instead of using the
/// unspecified (0) reasonCode value".
fn reason(code: u8) -> Option<RevocationReason> {
    Some(match code {
        1 => RevocationReason::KeyCompromise,
        2 => RevocationReason::CaCompromise,
        3 => RevocationReason::AffiliationChanged,
        4 => RevocationReason::Superseded,
        5 => RevocationReason::CessationOfOperation,
        6 => RevocationReason::CertificateHold,
        8 => RevocationReason::RemoveFromCrl,
        9 => RevocationReason::PrivilegeWithdrawn,
        10 => RevocationReason::AaCompromise,
        _ => return None,
    })
}

/// Shared fields of the two CA certificates.
fn ca_params(cn: &str, org: &str, now: OffsetDateTime, serials: &SeededRng) -> CertificateParams {
    let mut params = CertificateParams::default();
    let mut dn = DistinguishedName::new();
    dn.push(DnType::OrganizationName, org);
    dn.push(DnType::CommonName, cn);
    params.distinguished_name = dn;
    (params.not_before, params.not_after) = validity_from(now, CA_VALIDITY);
    params.serial_number = Some(SerialNumber::from_slice(&serial(serials)));
    // RFC 5280 §4.2.1.3: a CA key that signs certificates and CRLs; rcgen marks KU critical.
    params.key_usages = rcgen_key_usages(KeyUsageBits::KEY_CERT_SIGN | KeyUsageBits::CRL_SIGN);
    params
}

/// notBefore and notAfter of a certificate valid for `validity` from `now` (backdated by
/// [`BACKDATE`]). Whatever the world clock says, both stay within four-digit years: RFC 5280
/// §4.1.2.5 "the notAfter SHOULD be assigned the GeneralizedTime value of 99991231235959Z" for
/// a certificate without a well-defined end, so a validity past it ends there.
fn validity_from(now: OffsetDateTime, validity: Duration) -> (OffsetDateTime, OffsetDateTime) {
    (
        crate::clock::earlier(now, BACKDATE).unwrap_or_else(|_| crate::clock::earliest()),
        crate::clock::later(now, validity).unwrap_or_else(|_| crate::clock::latest()),
    )
}

/// X.509 times have whole seconds (RFC 5280 §4.1.2.5.1/.2): drop the rest so what [`Issued`]
/// reports is what the certificate says.
fn whole_seconds(t: OffsetDateTime) -> OffsetDateTime {
    t.replace_nanosecond(0).unwrap_or(t)
}
