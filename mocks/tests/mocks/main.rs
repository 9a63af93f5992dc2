//! Integration tests of acmeproof-mocks: one binary, one module per component. Each check is
//! shown to fire on a bad input and to pass on a good one.

mod caps;
mod corpus;
mod dkim;
mod dns;
mod http_stall;
mod imap;
mod imap_rev1;
mod jws;
mod mailstore;
mod mangle;
mod pki;
mod pool;
mod pop3;
mod relay;
mod smarthost;
mod smtp;
mod tools;
