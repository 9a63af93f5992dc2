//! Integration tests of acmeproof-mocks: one binary, one module per component.

mod pki;
