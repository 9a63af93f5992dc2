//! acmeproof's own RFC 8555 client: the ACME half of the reference client, the driver of the
//! `bench` command, and the client the tests use against the mock CA (or any CA).
//!
//! - [`client`]: the transport: directory, nonces (with the RFC 8555 §6.5 badNonce retry),
//!   signed POSTs, polling;
//! - [`flow`]: whole dns-01 issuances;
//! - [`email`]: RFC 8823 issuance over the mail plane, step by step;
//! - [`email_tls`]: draft-ietf-acme-email-tls issuance for a mail server, step by step;
//! - [`probe`]: deliberately broken requests (the JWS and transport rules of RFC 8555 §6);
//! - [`wire`]: what a client sent and got, for the transcript of a server run.

// `AcmeError::Problem` carries the whole problem document; it is built once per failed request,
// so its size costs nothing measurable.
#![allow(clippy::result_large_err)]

pub mod alpn;
pub mod client;
pub mod email;
pub mod email_tls;
pub mod flow;
pub mod probe;
pub mod wire;

pub use client::{AcmeClient, AcmeError, Directory, Response};
pub use wire::Observed;
