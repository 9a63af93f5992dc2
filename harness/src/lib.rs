//! # acmeproof
//!
//! The conformance harness for ACME over e-mail (RFC 8823, draft-ietf-acme-email-tls, and the
//! RFC 8555 core under both): the CLI, the scenario runner, the reference client and MUA, and
//! the judges of an external ACME client or server.
//!
//! ```text
//!  acmeproof CLI ──► cli ──► run / list / explain / matrix / serve / bench / report / lint
//!                             │
//!                             ├─► scenario (load, run steps) ──► sut (client or server under test)
//!                             │        │                            │
//!                             │        └─► acme, mua (reference client and MUA)
//!                             ▼
//!     acmeproof-protocol (rules) · acmeproof-mocks (the world's servers) · acmeproof-reports
//! ```
//!
//! Depends on: acmeproof-protocol for every rule, acmeproof-mocks for the world,
//! acmeproof-reports for the result model. Must not: write a protocol rule of its own (a judge
//! calls the checker in acmeproof-protocol under the rule's id), or be depended on by the crates
//! below it (docs/architecture.md, checked by `.ci/check-layers`).
//!
//! - [`cli`]: the command line (the only module that knows clap) and its exit codes.
//! - [`keys`]: account keys from JWK or PEM files.
//! - [`acme`]: the built-in RFC 8555 client (issuance flows, the `bench` driver).
//! - [`mua`]: the reference RFC 8823 client and MUA (IMAP, Submission, DKIM).
//! - [`scenario`]: scenario files, their loader and runner.
//! - [`sut`]: the systems under test: an external client command, an external server URL, and
//!   their judges.
//! - [`checkers`]: where the code names each requirement, for `explain` and the coverage test.
#![forbid(unsafe_code)]
#![warn(missing_docs, clippy::print_stdout, clippy::print_stderr)]

pub mod acme;
pub mod checkers;
pub mod cli;
pub mod keys;
pub mod mua;
pub mod scenario;
pub mod sut;
