//! The world PKI and certificate issuance for the mock CA: its machinery only. The rules (CSR
//! parsing, the identifier-set rule, the S/MIME key usage, the certificate profiles and
//! `CertSummary`) live in `acmeproof_protocol::pki`; the CA calls them.
//!
//! ```text
//!  finalize CSR ──parse_csr──► CsrInfo ──check_csr_identifiers(order)──► ok?
//!                                 │                                       │
//!                                 └──────── Pki::issue(csr, Profile) ◄────┘
//!                                              │  signed by the intermediate
//!                                              ▼
//!                                 Issued { der, chain_pem (leaf + intermediate) }
//! ```
//!
//! - [`authority`]: [`Pki`], the root and intermediate (RFC 5280), issuance, TLS configs;
//! - [`profile`]: TLS server (RFC 7817 §4) and S/MIME (RFC 8823 §3.3, RFC 8550 §4.4) contents
//!   written into the certificates it issues;
//! - `san`: subjectAltName encoding, including SRVName (RFC 4985) and SmtpUTF8Mailbox
//!   (RFC 8398);
//! - [`inspect`]: chain verification (signatures and issuer links);
//! - [`path`]: RFC 5280 path validation (rustls-webpki) of a chain up to given roots, or up to
//!   its own top certificate when no root is known.
//!
//! rcgen writes every certificate, x509-parser reads every CSR and certificate, and yasna
//! only encodes the GeneralNames of a SAN that contains an SRVName.

pub mod authority;
pub mod inspect;
mod keys;
pub(crate) use keys::{Curve, named_group};
mod lazy_leaf;
pub mod path;
pub mod profile;
mod san;
mod tls;

// The rules the CA applies, from their one home (for the CA's own code; others import them
// from `acmeproof_protocol::pki`).
pub(crate) use acmeproof_protocol::pki::{
    CsrError, CsrInfo, Identifier, IdentifierKind, KeyUsageBits, SanName, SmimeUsage,
    check_csr_identifiers, parse_csr,
};
pub use authority::{CRL_NEXT_UPDATE, Issued, Pki, RevokedEntry};
pub use inspect::verify_chain;
pub use keys::SERIAL_OCTETS;
pub use path::{Purpose, TrustAnchors, validate_path};
pub use profile::Profile;

/// The RFC 8555 §6.7 error type the CA answers a refused CSR with.
///
/// Always `badCSR`, refused keys included: RFC 8555 §6.7 "badCSR: The CSR is unacceptable
/// (e.g., due to a short key)"; `badPublicKey` is about the key that signed the JWS ("The JWS
/// was signed by a public key the server does not support"), not the CSR's.
pub fn csr_problem_type(_: &CsrError) -> crate::ca::problem::ProblemType {
    crate::ca::problem::ProblemType::BadCsr
}

/// `bits` as rcgen purposes, for writing a certificate (bits above 8 have no rcgen purpose and
/// are dropped).
pub fn rcgen_key_usages(bits: KeyUsageBits) -> Vec<rcgen::KeyUsagePurpose> {
    use rcgen::KeyUsagePurpose as P;
    [
        (KeyUsageBits::DIGITAL_SIGNATURE, P::DigitalSignature),
        (KeyUsageBits::NON_REPUDIATION, P::ContentCommitment),
        (KeyUsageBits::KEY_ENCIPHERMENT, P::KeyEncipherment),
        (KeyUsageBits::DATA_ENCIPHERMENT, P::DataEncipherment),
        (KeyUsageBits::KEY_AGREEMENT, P::KeyAgreement),
        (KeyUsageBits::KEY_CERT_SIGN, P::KeyCertSign),
        (KeyUsageBits::CRL_SIGN, P::CrlSign),
        (KeyUsageBits::ENCIPHER_ONLY, P::EncipherOnly),
        (KeyUsageBits::DECIPHER_ONLY, P::DecipherOnly),
    ]
    .into_iter()
    .filter(|(bit, _)| bits.contains(*bit))
    .map(|(_, purpose)| purpose)
    .collect()
}

/// DER of a subjectAltName extension value (`GeneralNames`) holding `names`, SRVNames included
/// (rcgen cannot encode an IA5String otherName; see `san.rs`). Clients use it to put SRV-IDs in
/// a CSR through `rcgen::CustomExtension` (RFC 7817 §5).
pub fn subject_alt_name_der(names: &[SanName]) -> Result<Vec<u8>, PkiError> {
    san::san_der(names)
}

/// Why the PKI could not generate, issue or configure.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum PkiError {
    /// The CSR was refused (maps to an ACME problem, see [`csr_problem_type`]).
    #[error(transparent)]
    Csr(#[from] CsrError),
    /// The profile cannot be applied (bad name, impossible key usage, empty SAN, …).
    #[error("certificate profile: {0}")]
    Profile(String),
    /// The subject public key cannot be certified.
    #[error("subject public key: {0}")]
    Key(String),
    /// rcgen failed to build or sign a certificate.
    #[error("certificate generation: {0}")]
    Rcgen(#[from] rcgen::Error),
    /// OpenSSL failed while deriving a key.
    #[error("key derivation: {0}")]
    OpenSsl(#[from] openssl::error::ErrorStack),
    /// rustls refused a configuration.
    #[error("TLS configuration: {0}")]
    Tls(#[from] rustls::Error),
    /// A file could not be written.
    #[error("{path}: {source}")]
    Io {
        /// The path.
        path: String,
        /// The I/O error.
        #[source]
        source: std::io::Error,
    },
}
