//! The harness crate's one integration-test binary.
//!
//! - `client_cmd`: `acmeproof run --client-cmd` with a Python client (certbot's `acme` library,
//!   imaplib, smtplib, dkimpy), conformant and deliberately broken, judged from the wire;
//! - `cli`: the `acmeproof` binary as a user runs it (`digest`, `lint`, `example`);
//! - `acme`: the built-in client against a world's CA: issuance, accounts, revocation, knobs,
//!   and the JWS negative matrix over HTTPS;
//! - `bench_peers`: `acmeproof bench peers --quick` against `acmeproof serve` and every peer
//!   (Pebble, aiosmtpd, Dovecot, pebble-challtestsrv): each workload prints its figures;
//! - `broken_ca`: the world's CA judged as a server under test, unbroken and with each
//!   broken-on-purpose knob, through every server scenario: one finding id per knob;
//! - `ca_features`: the CA next to Pebble: revocation through authorizations, badCSR, `status`
//!   in embedded problems, ES512, tls-alpn-01, the order list, ARI and the CRL;
//! - `corpus_ca`: the CA's bad-input corpus for HTTP and JWS (`tests/corpus/ca.toml`), each
//!   case with its exact status and problem type;
//! - `coverage`: reverse coverage: every MUST/SHOULD row has code that names it and a scenario,
//!   or the catalogue's one-line reason why not;
//! - `email`: RFC 8823 end to end over the mail plane (store, Submission, relays), and the
//!   replies the CA must refuse, and a corpus reply handed to its recipient's MX as signed;
//! - `mua`: the reference MUA over IMAP and Submission, end to end, its rules and variants;
//! - `objects`: the RFC 8555 object checks of a server run, against the CA's knobs that omit
//!   `validated`, omit `error` and ignore the CSR's key usage;
//! - `matrix`: `acmeproof matrix` over the open-issue variants, cells read back from JSON;
//! - `knobs`: external account binding, strict mode, Retry-After, validation attempts;
//! - `scenario_engine`: scenario load errors and expectations that fire;
//! - `serve`: `acmeproof serve` and its management API;
//! - `served_email_tls`: `acmeproof serve` with the srv-only certificate profile as a server
//!   under test, through every email-tls scenario;
//! - `peers`: certbot and lego against `acmeproof serve` (skipped when not installed);
//! - `peers_ca`: lego on the CA's tls-alpn-01, revocation through authorizations and a P-384
//!   account key; certbot's `acme` library with a P-521 (ES512) account key;
//! - `peers_mail`: swaks, curl and Python's smtplib against `acmeproof serve`'s mail plane
//!   (Submission, implicit TLS, MX with SMTPUTF8, LMTP), arrival seen through the management API;
//! - `peers_pebble`: `acmeproof run --server-url` against Pebble (Debian `pebble`);
//! - `peers_smarthost`: swaks and Python's smtplib through the smarthost of a server under
//!   test (STARTTLS, AUTH), imaplib and poplib reading its CA mailbox;
//! - `peers_a2c`: `acmeproof run --server-url` against acme2certifier (PyPI), configured from
//!   `--wiring` as the README shows;
//! - `peers_mailbox`: Python's imaplib and poplib, fetchmail and s-nail reading mailboxes from
//!   `acmeproof serve` over IMAP and POP3 with STARTTLS/STLS and certificate checks.

mod acme;
mod bench_peers;
mod broken_ca;
mod ca_features;
mod cli;
mod client_cmd;
mod corpus_ca;
mod coverage;
mod email;
mod email_tls;
mod interop;
mod knobs;
mod matrix;
mod mua;
mod objects;
mod peers;
mod peers_a2c;
mod peers_ca;
mod peers_mail;
mod peers_mailbox;
mod peers_pebble;
mod peers_smarthost;
mod scenario_engine;
mod serve;
mod served_ca;
mod served_email_tls;
mod server_target;
mod support;
