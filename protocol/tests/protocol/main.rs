//! Integration tests of acmeproof-protocol: test vectors from `fixtures/vectors`, the RFC 8823
//! example mails from `fixtures/mail`, checks firing on bad input, properties and snapshots.

mod catalogue;
mod mails;
mod properties;
mod self_contained;
mod snapshots;
mod support;
mod vectors;
