//! # acmeproof-mocks
//!
//! The real network servers of an acmeproof world, each on a 127.0.0.1 port chosen at start and
//! each usable on its own as a library. They call the rules of [`acmeproof_protocol`] (re-exported
//! as [`protocol`]) and never re-implement them.
//!
//! ```text
//!                 World (one per scenario run)
//!   ca (ACME over HTTPS) ── dns (authoritative, RFC 2136 UPDATE) ── smtp (MX, Submission, relay, LMTP)
//!          │                                                          │
//!          └──── challenge mail ──────────────► mailstore ◄── imap / pop3
//! ```
//!
//! Module plan (each arrives with its issue; nothing here is a stub that pretends to work):
//! - `dns`: hickory-server authority with faults, UPDATE/TSIG and a query history;
//! - `ca`: RFC 8555 resources on axum + rustls, `email-reply-00`, dns-01, http-01, email-tls
//!   challenges, certificate profiles;
//! - `smtp`: one `Connection` (framing, limits, STARTTLS) and one module per verb; LMTP;
//! - `imap`, `pop3`: mailbox access for the reference MUA and for real mail clients;
//! - `mailstore`: the mailboxes both sides share;
//! - `world`: builds and starts a topology, hands out endpoints, shuts it down within a bound.
#![forbid(unsafe_code)]
#![warn(missing_docs, clippy::print_stdout, clippy::print_stderr)]

pub use acmeproof_protocol as protocol;
