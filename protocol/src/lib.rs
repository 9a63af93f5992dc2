//! # acmeproof-protocol
//!
//! The sans-I/O rules of ACME over e-mail, called by every other part of acmeproof:
//!
//! ```text
//!   bytes / parsed values ──► build_* / parse_* / check_* ──► values + Findings
//!        (no sockets, no tokio, no clock, no filesystem: time and randomness are passed in)
//! ```
//!
//! Depends on: no other acmeproof crate; parsing crates only (x509-parser, mail-parser,
//! mail-builder, idna, sha2, base64, serde). Must not: do I/O or pull in tokio (`.ci/run` checks it),
//! or hold anything but rules: the CA, the MUA and the judges call these checkers, and a rule
//! written anywhere else is a second home for it.
//!
//! - [`b64url`]: base64url, strict (RFC 8555 §6.1) and lenient (mail examples).
//! - [`jwk`]: RFC 7638 JWK thumbprints.
//! - [`keyauth`]: RFC 8555 §8.1 key authorizations and the §8.4 dns-01 TXT value.
//! - [`objects`]: RFC 8555 resource objects as a server sends them (orders, authorizations,
//!   challenges, their state machines).
//! - [`problem`]: RFC 8555 §6.7 error types, long and short.
//! - [`token`]: RFC 8823 token joining (`string` vs `binary`: RFC 8823 leaves the join open) and reply digests.
//! - [`smime`]: RFC 8823 challenge and response e-mails: builders and checkers.
//! - [`address`]: e-mail addresses, IDNA, RFC 8398 §5 comparison, SAN form.
//! - [`email_tls`]: draft-ietf-acme-email-tls-05 names, ports and capability lines.
//! - [`ari`]: RFC 9773 certificate identifiers (renewalInfo, `replaces`).
//! - [`tls_alpn`]: RFC 8737 tls-alpn-01: the acmeIdentifier digest and the certificate check.
//! - [`pki`]: certificate profiles; the RFC 7817 §4 mail server certificate check; the issued
//!   S/MIME certificate against its CSR.
//! - [`requirements`]: the catalogue of every SMIME-n, TLS-n and ACME-n id.
//! - [`finding`]: what a checker reports.
#![forbid(unsafe_code)]
#![warn(missing_docs, clippy::print_stdout, clippy::print_stderr)]

pub mod address;
pub mod ari;
pub mod b64url;
pub mod email_tls;
pub mod finding;
pub mod jwk;
pub mod keyauth;
pub mod objects;
pub mod pki;
pub mod problem;
pub mod requirements;
pub mod smime;
pub mod tls_alpn;
pub mod token;

pub use finding::{Finding, Findings, Level};
