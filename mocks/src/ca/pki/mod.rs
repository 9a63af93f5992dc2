//! The world PKI and certificate issuance for the mock CA.
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
//! - [`csr`]: PKCS#10 parsing and verification (RFC 2986, RFC 2985 extensionRequest);
//! - [`identifier`]: ACME identifiers and the RFC 8555 §7.4 same-set rule;
//! - [`profile`]: TLS server (RFC 7817 §4) and S/MIME (RFC 8823 §3.3, RFC 8550 §4.4) contents;
//! - `san`: subjectAltName encoding, including SRVName (RFC 4985) and SmtpUTF8Mailbox
//!   (RFC 8398);
//! - [`inspect`]: reading certificates back, chain verification;
//! - [`path`]: RFC 5280 path validation (rustls-webpki) of a chain up to given roots, or up to
//!   its own top certificate when no root is known;
//! - [`usage`]: KeyUsage bit sets.
//!
//! rcgen writes every certificate, x509-parser reads every CSR and certificate, and yasna
//! only encodes the GeneralNames of a SAN that contains an SRVName.

pub mod authority;
pub mod csr;
pub mod identifier;
pub mod inspect;
mod keys;
pub mod path;
pub mod profile;
mod san;
mod tls;
pub mod usage;

pub use authority::{CRL_NEXT_UPDATE, Issued, Pki, RevokedEntry};
pub use csr::{CsrError, CsrInfo, KeyAlgorithm, SanName, parse_csr};
pub use identifier::{
    Identifier, IdentifierKind, check_csr_identifiers, identifiers_of, same_identifier_set,
};
pub use inspect::{CertSummary, InspectError, verify_chain};
pub use keys::SERIAL_OCTETS;
pub use path::{Purpose, TrustAnchors, validate_path};
pub use profile::{Profile, SmimeUsage};
pub use usage::KeyUsageBits;

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
    /// The CSR was refused (maps to an ACME problem, see [`CsrError::problem_type`]).
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
