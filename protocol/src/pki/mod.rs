//! The one home of the certificate rules, sans I/O with x509-parser: what a CSR asks for, what
//! the certificate issued for it must carry, and the readable facts of a certificate.
//!
//! ```text
//!  finalize CSR ──parse_csr──► CsrInfo ──check_csr_identifiers(order)──► ok? (RFC 8555 §7.4)
//!                                 │ key_usage
//!                                 ▼
//!                     SmimeUsage::from_csr_key_usage (RFC 8823 §3.3)
//!                                 │  the CA issues, then anyone checks:
//!                                 ▼
//!   smime_profile::check_issued_certificate / check_smime_leaf, server_profile::check
//! ```
//!
//! - [`csr`]: PKCS#10 parsing and verification (RFC 2986, RFC 2985 extensionRequest);
//! - [`identifier`]: ACME identifiers and the RFC 8555 §7.4 same-set rule (ACME-45, SMIME-13);
//! - [`smime_usage`]: [`SmimeUsage`], the one S/MIME key-usage type (RFC 8823 §3.3,
//!   SMIME-55/56/57), used by the CA, the client, the reference MUA and the judges;
//! - [`usage`]: KeyUsage bit sets (RFC 5280 §4.2.1.3);
//! - [`cert`]: [`CertSummary`], the checkable facts of one certificate;
//! - [`smime_profile`]: the S/MIME certificate issued on finalize against the CSR it answers,
//!   and against the address and usage the reference MUA asked for (names, key, key usage,
//!   extKeyUsage);
//! - [`server_profile`]: what a mail server's TLS certificate obtained through
//!   draft-ietf-acme-email-tls may and must carry (RFC 7817 §4), split into the rules the texts
//!   make (findings at their level) and acmeproof's own issuance choices (findings at
//!   [`crate::Level::Info`]).
//!
//! Signing, keys and RFC 5280 path validation are the CA's machinery and stay with it.

pub mod cert;
pub mod csr;
pub mod identifier;
pub mod server_profile;
pub mod smime_profile;
pub mod smime_usage;
pub mod usage;

pub use cert::{CertSummary, Constraints, Flagged, InspectError};
pub use csr::{
    CsrError, CsrInfo, KeyAlgorithm, OID_SMTP_UTF8_MAILBOX, OID_SRV_NAME, SanName, parse_csr,
};
pub use identifier::{
    Identifier, IdentifierKind, check_csr_identifiers, identifiers_of, same_identifier_set,
};
pub use smime_usage::{SmimeUsage, UsageError};
pub use usage::KeyUsageBits;
