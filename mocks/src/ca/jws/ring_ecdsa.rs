//! ES256 and ES384 request signatures checked with ring, behind josekit's `JwsVerifier` trait.
//!
//! josekit checks an ECDSA signature through OpenSSL's `EVP_DigestVerify*`, which sets up a
//! fresh context for every signature: OpenSSL 3 looks the digest and signature algorithms up
//! in its provider tables each time. On the served CA under the dns-01 workload `perf` put 8 %
//! of all CPU in that set-up (`do_sigver_init`, `evp_generic_fetch`), and a signature took
//! 84–92 µs through josekit against 69–75 µs through ring on the same machine. Every ACME
//! request is signed, so this is paid on each one.
//!
//! josekit still builds the verifier from the JWK first ([`super::algorithms`]): it decides
//! which keys are usable (curve, point on the curve), so what this module accepts is exactly
//! what josekit accepted. Only the signature check moves to ring, with the same input: RFC 7518
//! §3.4, "the JWS Signature value MUST be a 64-octet sequence" (R and S, each the curve's
//! size), which is ring's `*_FIXED` format. A signature ring refuses goes to josekit too, which
//! words the error the problem document carries.

use std::sync::Arc;

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use josekit::JoseError;
use josekit::jws::alg::ecdsa::EcdsaJwsVerifier;
use josekit::jws::{JwsAlgorithm, JwsVerifier};
use ring::signature::{
    ECDSA_P256_SHA256_FIXED, ECDSA_P384_SHA384_FIXED, EcdsaVerificationAlgorithm, UnparsedPublicKey,
};
use serde_json::{Map, Value};

/// A josekit ECDSA verifier whose signature check runs in ring.
#[derive(Debug, Clone)]
pub(super) struct RingEcdsa {
    /// Built by josekit from the same JWK: the algorithm and key id come from it.
    josekit: EcdsaJwsVerifier,
    algorithm: &'static EcdsaVerificationAlgorithm,
    /// The public point, uncompressed (SEC 1 §2.3.3: 0x04, X, Y).
    point: Arc<[u8]>,
}

impl RingEcdsa {
    /// For `alg` ES256 or ES384, the ring check of the key `public` that josekit built into
    /// `josekit`; `None` for another algorithm or a JWK whose coordinates do not decode.
    pub(super) fn new(
        alg: &str,
        josekit: EcdsaJwsVerifier,
        public: &Map<String, Value>,
    ) -> Option<RingEcdsa> {
        let algorithm = match alg {
            "ES256" => &ECDSA_P256_SHA256_FIXED,
            "ES384" => &ECDSA_P384_SHA384_FIXED,
            _ => return None,
        };
        let coordinate = |name: &str| {
            let text = public.get(name)?.as_str()?;
            URL_SAFE_NO_PAD.decode(text).ok()
        };
        // The point josekit gave OpenSSL, built the same way from the same members.
        let mut point = vec![0x04];
        point.extend(coordinate("x")?);
        point.extend(coordinate("y")?);
        Some(RingEcdsa {
            josekit,
            algorithm,
            point: point.into(),
        })
    }
}

impl RingEcdsa {
    fn ring_accepts(&self, message: &[u8], signature: &[u8]) -> bool {
        UnparsedPublicKey::new(self.algorithm, &self.point)
            .verify(message, signature)
            .is_ok()
    }
}

impl JwsVerifier for RingEcdsa {
    fn algorithm(&self) -> &dyn JwsAlgorithm {
        self.josekit.algorithm()
    }

    fn key_id(&self) -> Option<&str> {
        self.josekit.key_id()
    }

    fn verify(&self, message: &[u8], signature: &[u8]) -> Result<(), JoseError> {
        if self.ring_accepts(message, signature) {
            return Ok(());
        }
        // A refused signature is rare (a broken client, a test of one): josekit checks it
        // again and words the error, so the problem documents read as they always did.
        self.josekit.verify(message, signature)
    }

    fn box_clone(&self) -> Box<dyn JwsVerifier> {
        Box::new(self.clone())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use josekit::jws::alg::ecdsa::{EcdsaJwsAlgorithm, EcdsaJwsSigner};
    use josekit::jws::{ES256, ES384, JwsSigner};

    /// A fresh key pair of `algorithm`: its public JWK, a signer and josekit's verifier.
    fn keys(algorithm: EcdsaJwsAlgorithm) -> (josekit::jwk::Jwk, EcdsaJwsSigner, EcdsaJwsVerifier) {
        let pair = algorithm.generate_key_pair().unwrap();
        let signer = algorithm
            .signer_from_jwk(&pair.to_jwk_private_key())
            .unwrap();
        let verifier = algorithm
            .verifier_from_jwk(&pair.to_jwk_public_key())
            .unwrap();
        (pair.to_jwk_public_key(), signer, verifier)
    }

    /// ring and josekit agree on good signatures, and on every kind of bad one.
    #[test]
    fn accepts_and_refuses_what_josekit_does() {
        for (alg, algorithm) in [("ES256", ES256), ("ES384", ES384)] {
            let (pair, signer, verifier) = keys(algorithm);
            let public: Map<String, Value> = pair.as_ref().clone();
            let ring = RingEcdsa::new(alg, verifier.clone(), &public).expect(alg);
            assert_eq!(ring.algorithm().name(), alg);
            let message = b"protected.payload";
            let good = signer.sign(message).unwrap();
            let mut flipped = good.clone();
            flipped[5] ^= 1;
            let mut zero_s = good.clone();
            let half = good.len() / 2;
            zero_s[half..].fill(0);
            let cases: [(&[u8], &[u8]); 5] = [
                (message, &good),
                (b"protected.other", &good),
                (message, &flipped),
                (message, &zero_s),
                (message, &good[1..]),
            ];
            for (i, (m, sig)) in cases.iter().enumerate() {
                assert_eq!(
                    ring.ring_accepts(m, sig),
                    verifier.verify(m, sig).is_ok(),
                    "{alg} case {i}"
                );
            }
            assert!(ring.ring_accepts(message, &good), "{alg}: a good signature");
            assert!(
                ring.verify(message, &flipped).is_err(),
                "{alg}: a changed one"
            );
        }
    }

    #[test]
    fn only_the_curves_ring_checks() {
        let pair = ES256.generate_key_pair().unwrap();
        let verifier = ES256.verifier_from_jwk(&pair.to_jwk_public_key()).unwrap();
        let public: Map<String, Value> = pair.to_jwk_public_key().as_ref().clone();
        assert!(RingEcdsa::new("ES512", verifier.clone(), &public).is_none());
        let mut broken = public.clone();
        broken.insert("x".into(), Value::String("not base64!".into()));
        assert!(RingEcdsa::new("ES256", verifier, &broken).is_none());
    }
}
