//! Integration tests of acmeproof-mocks, one module per component: each check is shown to fire
//! on a bad input and to pass on a good one.

mod jws;
