//! The mock ACME CA (RFC 8555 over HTTPS), with RFC 8823 `email` identifiers.
//!
//! - [`problem`]: problem documents and the error-type registry;
//! - [`jws`]: request authentication (flattened JWS, nonces, keys, `crit`, EAB, keyChange);
//! - [`pki`]: the world's root and intermediate, and certificate issuance from a CSR.

pub mod jws;
pub mod pki;
pub mod problem;
