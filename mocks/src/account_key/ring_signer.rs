//! ES256 and ES384 request signatures made with ring, behind josekit's `JwsSigner` trait.
//!
//! josekit signs through OpenSSL's `EVP_DigestSign*`, which sets up a fresh context for every
//! signature (OpenSSL 3 looks the digest and signature algorithms up in its provider tables
//! each time), then converts OpenSSL's DER signature to JWS form. Under `bench dns01` `perf`
//! put 13 % of all CPU in the client's signing, about 40 µs a signature, where ring signs in
//! about 22 µs. Every ACME request is signed, so this is paid on each one.
//!
//! josekit still builds the header and the serialization (no home-made JWS); only the
//! signature of the signing input moves to ring. ring's `*_FIXED` signing format is RFC 7518
//! §3.4's: "the JWS Signature value MUST be a 64-octet sequence" (R then S, each the curve's
//! size) for ES256, 96 octets for ES384.

use std::sync::Arc;

use josekit::JoseError;
use josekit::jws::{ES256, ES384, JwsAlgorithm, JwsSigner};
use ring::rand::SystemRandom;
use ring::signature::{
    ECDSA_P256_SHA256_FIXED_SIGNING, ECDSA_P384_SHA384_FIXED_SIGNING, EcdsaKeyPair,
};

/// A josekit signer whose ECDSA signature comes from ring.
#[derive(Debug, Clone)]
pub(super) struct RingEcdsaSigner {
    /// ES256 or ES384: josekit's algorithm object, for the header and the signature length.
    algorithm: &'static dyn JwsAlgorithm,
    signature_len: usize,
    pair: Arc<EcdsaKeyPair>,
    /// ECDSA needs a fresh per-signature secret (SEC 1 §4.1.3); ring takes it from the system.
    /// Signatures are not reproducible from the seed, as they were not through OpenSSL.
    rng: SystemRandom,
}

impl RingEcdsaSigner {
    /// The ring signer for `alg` ES256 or ES384 from a PKCS#8 private key; `None` for another
    /// algorithm, or a key ring cannot read (the caller keeps josekit's signer then).
    pub(super) fn new(alg: &str, pkcs8: &[u8]) -> Option<RingEcdsaSigner> {
        let rng = SystemRandom::new();
        let (algorithm, signing, signature_len): (&'static dyn JwsAlgorithm, _, _) = match alg {
            "ES256" => (&ES256, &ECDSA_P256_SHA256_FIXED_SIGNING, 64),
            "ES384" => (&ES384, &ECDSA_P384_SHA384_FIXED_SIGNING, 96),
            _ => return None,
        };
        let pair = EcdsaKeyPair::from_pkcs8(signing, pkcs8, &rng).ok()?;
        Some(RingEcdsaSigner {
            algorithm,
            signature_len,
            pair: Arc::new(pair),
            rng,
        })
    }
}

impl JwsSigner for RingEcdsaSigner {
    fn algorithm(&self) -> &dyn JwsAlgorithm {
        self.algorithm
    }

    fn key_id(&self) -> Option<&str> {
        // As josekit's signer from DER: no key id, so josekit adds no `kid`.
        None
    }

    fn signature_len(&self) -> usize {
        self.signature_len
    }

    fn sign(&self, message: &[u8]) -> Result<Vec<u8>, JoseError> {
        self.pair
            .sign(&self.rng, message)
            .map(|signature| signature.as_ref().to_vec())
            .map_err(|e| JoseError::InvalidSignature(anyhow::anyhow!("ring ECDSA signing: {e}")))
    }

    fn box_clone(&self) -> Box<dyn JwsSigner> {
        Box::new(self.clone())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use josekit::jws::JwsVerifier;

    /// ring's signatures are the length RFC 7518 §3.4 says, and josekit's own verifier (OpenSSL)
    /// accepts them over the message signed and refuses them over another.
    #[test]
    fn josekit_accepts_what_ring_signs() {
        for (alg, algorithm) in [("ES256", ES256), ("ES384", ES384)] {
            let pair = algorithm.generate_key_pair().unwrap();
            let signer = RingEcdsaSigner::new(alg, &pkcs8(&pair.to_der_private_key())).expect(alg);
            let verifier = algorithm
                .verifier_from_jwk(&pair.to_jwk_public_key())
                .unwrap();
            let signature = signer.sign(b"signing input").unwrap();
            assert_eq!(signature.len(), signer.signature_len(), "{alg}");
            verifier.verify(b"signing input", &signature).expect(alg);
            assert!(
                verifier.verify(b"another input", &signature).is_err(),
                "{alg}"
            );
            assert_eq!(signer.algorithm().name(), alg);
        }
    }

    #[test]
    fn other_algorithms_and_unreadable_keys_keep_josekit() {
        let der = pkcs8(&ES256.generate_key_pair().unwrap().to_der_private_key());
        assert!(RingEcdsaSigner::new("ES256", &der).is_some());
        assert!(RingEcdsaSigner::new("ES512", &der).is_none());
        assert!(RingEcdsaSigner::new("ES256", b"not a key").is_none());
        // A P-256 key is no ES384 key.
        assert!(RingEcdsaSigner::new("ES384", &der).is_none());
    }

    /// The PKCS#8 `AccountKey` hands over: OpenSSL's, public key included.
    fn pkcs8(der: &[u8]) -> Vec<u8> {
        openssl::pkey::PKey::private_key_from_der(der)
            .unwrap()
            .private_key_to_pkcs8()
            .unwrap()
    }
}
