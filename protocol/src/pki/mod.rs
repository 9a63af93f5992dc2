//! Certificate profiles, checked sans I/O with x509-parser.
//!
//! - [`server_profile`]: what a mail server's TLS certificate obtained through
//!   draft-ietf-acme-email-tls may and must carry (RFC 7817 §4), split into the rules the texts
//!   make (findings at their level) and acmeproof's own issuance choices (findings at
//!   [`crate::Level::Info`]).
//! - [`smime_profile`]: the certificate issued on finalize against the CSR it answers (names,
//!   key, key usage, extKeyUsage).

pub mod server_profile;
pub mod smime_profile;
