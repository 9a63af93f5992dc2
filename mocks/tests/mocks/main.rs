//! The one integration-test binary of acmeproof-mocks: each server has its own module.

mod dns;
