//! A crate that uses acmeproof-mocks as a test dependency would; see `tests/`.
#![forbid(unsafe_code)]

pub use acmeproof_mocks::World;
