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
//! Depends on: acmeproof-protocol (every rule the servers apply), tokio, hickory-server, axum,
//! rustls. Must not: depend on the harness or the reports, or decide a protocol rule itself
//! (the CA refuses by calling a checker of acmeproof-protocol and names its id with
//! `Problem::violates`).
//!
//! - [`World`]: the world as a library for a test: [`World::builder`], the responders,
//!   [`World::assert_issued`], [`trace`];
//! - [`dns`]: hickory-server zones with faults, UPDATE/TSIG and a query history;
//! - [`ca`]: RFC 8555 resources on axum + rustls, dns-01, http-01, certificate profiles;
//! - [`mailstore`]: users and mailboxes shared by LMTP delivery ([`mailstore::StoreSink`]) and
//!   IMAP/POP3, with change events;
//! - [`dkim`]: DKIM keys in the world's DNS, signing and verification on mail-auth;
//! - [`mangle`]: what relays do to messages in transit, and which DKIM canonicalizations survive;
//! - [`smtp`]: one SMTP engine in four roles (MX, Submission, relay front end, LMTP) and an
//!   SMTP/LMTP client, over the [`mail`] hooks;
//! - [`seed`], [`clock`]: the world's randomness and time, both replayable;
//! - [`relay`]: store-and-forward hops with DKIM signing and checking, mangling and faults;
//! - [`world`]: everything started together, with the management API;
//! - [`imap`]: an IMAP4rev1 server over the mailstore (IDLE, LITERAL+, UTF8=ACCEPT, TLS);
//! - [`pop3`]: a POP3 server over the mailstore (CAPA, STLS, UIDL, TOP, POP3S).
//! - `line` (inside the crate): the one core SMTP, LMTP, IMAP and POP3 run on: accept loop,
//!   connection cap, implicit TLS and STARTTLS, bounded reads, idle timeout, transcript.
//!
//! Still to come with its issue: the reference MUA over IMAP.
//!
//! ## Cargo features
//!
//! All on by default. A test that needs only certificates over dns-01 or http-01 takes
//! `default-features = false, features = ["ca"]`: no mail stack, and the system's OpenSSL.
//!
//! | feature | builds | implies |
//! |---|---|---|
//! | `dns` | `dns`: the authoritative DNS (hickory-server) and the world resolver | |
//! | `ca` | `ca`, `https`, `account_key`, `world` (with its management API) and [`World`] | `dns` |
//! | `mail` | `smtp`, `relay`, `dkim` (mail-auth), `mailstore`, `mangle`, `mail`, and the CA's RFC 8823 email-reply-00 exchange | `dns` |
//! | `mailbox` | `imap`, `pop3`, and the world's mail plane (its users read mail over IMAP/POP3) | `mail` |
//! | `email-tls` | the CA's draft-ietf-acme-email-tls validation (dns-email-00, capability-*-00) | `ca`, `mail` |
//! | `vendored-openssl` | OpenSSL from source instead of the system's libssl | |
//!
//! The CA's JWS checks use josekit, which is built on OpenSSL with no way around it, so `ca`
//! always links OpenSSL (the system's libssl unless `vendored-openssl`). `mail` also turns on
//! the `mail` feature of [`protocol`] (its RFC 8823 mail builders and checkers).
//!
//! A build without a feature keeps the names its always-on code calls, answering with an error
//! instead of silently doing less: without `mail`, the CA turns an email-reply-00 challenge
//! `invalid` when it is POSTed, with a `serverInternal` problem document that says why; without
//! `email-tls`, the same for the email-tls challenges; without `mailbox`, a world whose config
//! asks for the mail plane (`[mail] enabled`, on by default; [`WorldBuilder::mail`]) fails to
//! start with an error naming the feature.
#![forbid(unsafe_code)]
#![warn(missing_docs, clippy::print_stdout, clippy::print_stderr)]
// `ca::Problem` (a problem document with its headers) is the error of every request path. It is
// built once per failed request, so its size costs nothing measurable; boxing it would only add
// noise to every handler.
#![allow(clippy::result_large_err)]

pub use acmeproof_protocol as protocol;

#[cfg(feature = "ca")]
pub use embed::{
    Dns01Responder, Http01Responder, Issued, IssuedError, World, WorldBuilder, assert_issued,
    check_issued, trace,
};

#[cfg(feature = "ca")]
pub mod account_key;
#[cfg(feature = "ca")]
pub mod ca;
pub mod clock;
#[cfg(feature = "mail")]
pub mod dkim;
#[cfg(feature = "dns")]
pub mod dns;
#[cfg(feature = "ca")]
mod embed;
#[cfg(feature = "ca")]
pub mod https;
#[cfg(feature = "mailbox")]
pub mod imap;
#[cfg(feature = "mail")]
// Parts of the connection core and the store serve only the IMAP/POP3 readers (`mailbox`).
#[cfg_attr(not(feature = "mailbox"), allow(dead_code, unused_imports))]
mod line;
#[cfg(feature = "mail")]
pub mod mail;
#[cfg(feature = "mail")]
#[cfg_attr(not(feature = "mailbox"), allow(dead_code, unused_imports))]
pub mod mailstore;
#[cfg(feature = "mail")]
pub mod mangle;
#[cfg(feature = "mailbox")]
pub mod pop3;
#[cfg(feature = "mail")]
pub mod relay;
#[cfg(any(feature = "mail", feature = "ca"))]
mod rsa_keys;
pub mod seed;
#[cfg(feature = "mail")]
pub mod smtp;
#[cfg(feature = "ca")]
pub mod world;

/// The rustls provider every TLS configuration of the world names (never a process default).
/// rustls 0.23.48 deprecates ring's `default_provider` ("no support for post-quantum
/// algorithms") without a replacement for ring; ring is this crate's choice (no C toolchain),
/// so the one call is allowed here and a consumer's `-D warnings` build stays clean.
// Every server and client is behind a feature; `dns` is implied by each that uses TLS.
#[cfg(feature = "dns")]
#[allow(deprecated)]
pub(crate) fn ring_provider() -> std::sync::Arc<rustls::crypto::CryptoProvider> {
    std::sync::Arc::new(rustls::crypto::ring::default_provider())
}

/// A bind failure that names the address, so "address in use" says which one.
#[cfg(feature = "mail")]
pub(crate) fn bind_error(addr: std::net::SocketAddr, e: std::io::Error) -> std::io::Error {
    std::io::Error::new(e.kind(), format!("{addr}: {e}"))
}
