//! JWS request authentication for the mock CA (RFC 8555 §6.2–§6.5, §7.3.4, §7.3.5).
//!
//! The CA's HTTP layer calls these, in this order, for every POST:
//!
//! 1. [`check_content_type`]: `application/jose+json`, else 415 `malformed` (ACME-6);
//! 2. [`parse`]: size bound, flattened serialization only, strict base64url, protected header
//!    with `alg`, `nonce`, `url` and exactly one of `jwk`/`kid`, no `crit`, no `b64: false`
//!    (ACME-7, 8, 10, 13, 14);
//! 3. the nonce store (not here) consumes [`ParsedJws::nonce`] (ACME-4);
//! 4. [`ParsedJws::check_url`] against the request URL (ACME-12);
//! 5. [`check_public_key`] on the `jwk` (or the stored account key for `kid`) (ACME-11);
//! 6. [`ParsedJws::verify`] with that key;
//! 7. for newAccount with `externalAccountBinding`: [`verify_external_account_binding`];
//!    for keyChange: [`verify_key_change`] (ACME-33).
//!
//! [`FlattenedJws`] is the structural layer under [`ParsedJws`]: it holds no ACME header rules
//! (no `nonce`/`url` requirement, any `alg`), so the inner JWSs of EAB and keyChange and plain
//! JOSE test vectors (RFC 7515 A.3) go through it.
//!
//! Every failure is a [`Problem`](super::problem::Problem); nothing here panics on input.
//! Signatures are checked by josekit; openssl only builds keys.
//!
//! Error type choices where RFC 8555 names none:
//! - a signature that does not verify is `malformed` (RFC 8555 §6.2 requires a valid JWS but
//!   registers no dedicated type; §6.7 `malformed` is "the request message was malformed");
//! - a `jwk` with private members is `badPublicKey` (§6.7: the key is not acceptable);
//! - a missing or syntactically invalid nonce is `badNonce`. RFC 8555 §6.5 requires badNonce
//!   when a request is rejected "because its nonce value was unacceptable (or not present)";
//!   §6.5.2 says a nonce that is not base64url makes the JWS "malformed". We read the latter
//!   as the reason and the former as the error type, as Boulder and Pebble answer; the client
//!   then gets the fresh Replay-Nonce a badNonce response carries (ACME-4).

mod algorithms;
mod eab;
mod key_change;
mod parse;
mod ring_ecdsa;
mod verify;

pub use algorithms::{SUPPORTED_ALGORITHMS, check_request_alg, supported_algorithms};
pub use eab::verify_external_account_binding;
pub use key_change::{verify_key_change, verify_key_change_with};
pub use parse::{
    FlattenedJws, JOSE_JSON, KeyRef, MAX_BODY_BYTES, ParsedJws, Payload, check_content_type, parse,
};
pub use verify::{check_public_key, checked_verifier, public_members};
