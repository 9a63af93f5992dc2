//! The signature algorithms the mock CA accepts on requests (RFC 8555 §6.2, ACME-8, ACME-10).
//!
//! Policy: ES256 (MUST), EdDSA with Ed25519 (SHOULD), plus ES384, ES512 (P-521, as Pebble and
//! the Python `acme` library / josepy offer) and RS256, which common clients (certbot,
//! acme.sh, lego) send. Everything else — `none`, every MAC (`HS*`), RS384, RS512,
//! PS256/384/512, ES256K — is answered with `badSignatureAlgorithm` and the list below, as
//! RFC 8555 §6.2 requires.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, OnceLock};

use josekit::jws::{ES256, ES384, ES512, EdDSA, JwsVerifier, RS256};
use serde_json::Value;

use super::ring_ecdsa::RingEcdsa;
use super::verify::public_members;
use crate::ca::problem::{Problem, ProblemType};

/// The `alg` values accepted on ACME requests, in the order they are advertised.
pub const SUPPORTED_ALGORITHMS: &[&str] = &["ES256", "ES384", "ES512", "RS256", "EdDSA"];

/// The `alg` values accepted on ACME requests (RFC 8555 §6.2; the `algorithms` field of a
/// `badSignatureAlgorithm` problem).
pub fn supported_algorithms() -> &'static [&'static str] {
    SUPPORTED_ALGORITHMS
}

/// RFC 7518 §3.2: the `HS*` family are MACs.
pub(crate) fn is_mac(alg: &str) -> bool {
    alg.starts_with("HS")
}

/// A `badSignatureAlgorithm` problem carrying the supported list (RFC 8555 §6.2: the problem
/// document "MUST include an "algorithms" field").
pub(crate) fn bad_signature_algorithm(detail: impl Into<String>) -> Problem {
    let mut p = Problem::new(ProblemType::BadSignatureAlgorithm, detail)
        .violates(crate::protocol::requirements::ACME_10);
    p.algorithms = Some(SUPPORTED_ALGORITHMS.iter().map(|s| s.to_string()).collect());
    p
}

/// Checks an outer (or keyChange inner) request `alg`: RFC 8555 §6.2 "MUST NOT be "none" or a
/// Message Authentication Code (MAC) algorithm", and must be one we implement (ACME-10).
pub fn check_request_alg(alg: &str) -> Result<(), Problem> {
    if alg == "none" {
        return Err(bad_signature_algorithm(
            "alg \"none\" is forbidden (RFC 8555 §6.2)",
        ));
    }
    if is_mac(alg) {
        return Err(bad_signature_algorithm(format!(
            "alg {alg:?} is a MAC, forbidden on ACME requests (RFC 8555 §6.2)"
        )));
    }
    if !SUPPORTED_ALGORITHMS.contains(&alg) {
        return Err(bad_signature_algorithm(format!(
            "alg {alg:?} is not supported by this server"
        )));
    }
    Ok(())
}

/// The josekit verifier for `alg` built from the public members of `jwk`.
///
/// `kid`, `alg`, `use`, `key_ops` and private members are dropped first: josekit would otherwise
/// reject a JWK whose `alg`/`use` differs from its own idea.
/// A key josekit cannot build (wrong type, off-curve point, short RSA) is `badPublicKey`.
/// Verifiers built so far, by algorithm and public key: an account signs every request with
/// one key, and building a verifier from a JWK costs about as much as a verification.
/// Bounded: past [`MAX_CACHED_VERIFIERS`] keys the cache starts over.
type VerifierCache = HashMap<(String, String), Arc<dyn JwsVerifier>>;

/// The most verifiers kept.
pub const MAX_CACHED_VERIFIERS: usize = 4096;

fn cache() -> &'static Mutex<VerifierCache> {
    static CACHE: OnceLock<Mutex<VerifierCache>> = OnceLock::new();
    CACHE.get_or_init(|| Mutex::new(HashMap::new()))
}

/// The verifier for `alg` with the public key `jwk`, built once per key (see
/// [`VerifierCache`]). A key that does not fit is refused every time, never cached.
pub(crate) fn verifier(alg: &str, jwk: &Value) -> Result<Arc<dyn JwsVerifier>, Problem> {
    let public = public_members(jwk)?;
    // serde_json's map is sorted by member name, so equal keys serialize equally.
    let key = (
        alg.to_owned(),
        serde_json::to_string(&public).unwrap_or_default(),
    );
    if let Some(found) = cache().lock().unwrap_or_else(|p| p.into_inner()).get(&key) {
        return Ok(Arc::clone(found));
    }
    let built: Arc<dyn JwsVerifier> = Arc::from(build_verifier(alg, public)?);
    let mut cache = cache().lock().unwrap_or_else(|p| p.into_inner());
    if cache.len() >= MAX_CACHED_VERIFIERS {
        cache.clear();
    }
    cache.insert(key, Arc::clone(&built));
    Ok(built)
}

fn build_verifier(
    alg: &str,
    public: serde_json::Map<String, Value>,
) -> Result<Box<dyn JwsVerifier>, Problem> {
    let jwk = josekit::jwk::Jwk::from_map(public.clone())
        .map_err(|e| bad_public_key(format!("JWK not usable: {e}")))?;
    // josekit decides which keys are usable; ring checks the signatures (see `ring_ecdsa`).
    let ecdsa = |built: josekit::jws::alg::ecdsa::EcdsaJwsVerifier| match RingEcdsa::new(
        alg,
        built.clone(),
        &public,
    ) {
        Some(ring) => Box::new(ring) as Box<dyn JwsVerifier>,
        None => Box::new(built) as Box<dyn JwsVerifier>,
    };
    let built: Result<Box<dyn JwsVerifier>, josekit::JoseError> = match alg {
        "ES256" => ES256.verifier_from_jwk(&jwk).map(ecdsa),
        "ES384" => ES384.verifier_from_jwk(&jwk).map(ecdsa),
        "ES512" => ES512
            .verifier_from_jwk(&jwk)
            .map(|v| Box::new(v) as Box<dyn JwsVerifier>),
        "RS256" => RS256
            .verifier_from_jwk(&jwk)
            .map(|v| Box::new(v) as Box<dyn JwsVerifier>),
        "EdDSA" => EdDSA
            .verifier_from_jwk(&jwk)
            .map(|v| Box::new(v) as Box<dyn JwsVerifier>),
        other => {
            return Err(bad_signature_algorithm(format!(
                "alg {other:?} is not supported by this server"
            )));
        }
    };
    built.map_err(|e| bad_public_key(format!("key does not fit alg {alg}: {e}")))
}

/// `badPublicKey`, 400 (RFC 8555 §6.7).
pub(crate) fn bad_public_key(detail: impl Into<String>) -> Problem {
    Problem::new(ProblemType::BadPublicKey, detail).violates(crate::protocol::requirements::ACME_11)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn request_algs() {
        for ok in SUPPORTED_ALGORITHMS {
            assert_eq!(check_request_alg(ok), Ok(()));
        }
        for bad in ["none", "HS256", "HS512", "RS512", "PS256", "ES256K", ""] {
            let p = check_request_alg(bad).unwrap_err();
            assert_eq!(p.kind, ProblemType::BadSignatureAlgorithm, "{bad}");
            assert_eq!(p.status, 400);
            assert_eq!(
                p.algorithms.as_deref().map(<[String]>::len),
                Some(SUPPORTED_ALGORITHMS.len())
            );
        }
    }
}
