//! # acmeproof
//!
//! The conformance harness for ACME over e-mail (RFC 8823, draft-ietf-acme-email-tls):
//!
//! ```text
//!  acmeproof CLI ──► cli::main ──► digest / lint (now) ─┐
//!                                  run (scenarios, later)├─► acmeproof-protocol (rules)
//!                                                        └─► acmeproof-mocks (servers)
//! ```
//!
//! - [`cli`]: the command line (the only module that knows clap) and its exit codes.
//! - [`keys`]: account keys from JWK or PEM files.
//! - [`acme`]: the built-in RFC 8555 client (issuance flows, the `bench` driver).
//! - [`mua`]: the reference RFC 8823 client and MUA (IMAP, Submission, DKIM).
//! - [`scenario`]: scenario files, their loader and runner.
#![forbid(unsafe_code)]
#![warn(missing_docs, clippy::print_stdout, clippy::print_stderr)]

pub mod acme;
pub mod cli;
pub mod keys;
pub mod mua;
pub mod scenario;
pub mod sut;
