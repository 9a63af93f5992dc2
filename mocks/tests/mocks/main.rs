//! Integration tests of acmeproof-mocks: one binary, one module per component. Each check is
//! shown to fire on a bad input and to pass on a good one.

mod dns;
mod jws;
mod pki;
mod smtp;
