//! The client-side account key and request signer, used by acmeproof's own ACME client, the
//! tests and the benchmark.
//!
//! Keys are openssl `PKey`s held as PKCS#8; signing is josekit's (no home-made JWS), with the
//! ES256 and ES384 signature itself made by ring (`ring_signer`). EC and
//! Ed25519 keys can be derived from a [`SeededRng`] so a world replays with the same account
//! keys; RSA keys come from openssl's generator and are **not** reproducible from a seed.
//!
//! Every JWS produced is in the flattened JSON serialization with a protected header only
//! (RFC 8555 §6.2); `jwk` and `kid` are never both emitted; the nonce is set with
//! `set_claim("nonce", ..)` so ACME's opaque string is sent as is (josekit's `set_nonce`
//! would base64url-encode it again).

use acmeproof_protocol::{b64url, jwk};
use josekit::jws::{self, ES256, ES384, ES512, EdDSA, HS256, JwsHeaderSet, JwsSigner, RS256};
use openssl::bn::{BigNum, BigNumContext};
use openssl::ec::{EcKey, EcPoint};
use openssl::nid::Nid;
use openssl::pkey::{Id, PKey, Private};
use openssl::rsa::Rsa;
use serde_json::{Map, Value, json};

use crate::ca::pki::{Curve, named_group};
use crate::seed::SeededRng;

mod ring_signer;

/// Why a key could not be made, read or used.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum KeyError {
    /// openssl refused the key material.
    #[error("openssl: {0}")]
    Openssl(#[from] openssl::error::ErrorStack),
    /// josekit refused the key or the header.
    #[error("josekit: {0}")]
    Jose(#[from] josekit::JoseError),
    /// The key type or curve is not one of [`KeyAlg`].
    #[error("unsupported key: {0}")]
    Unsupported(String),
    /// The seed stream gave no valid EC scalar in many tries (practically impossible).
    #[error("no valid EC private scalar drawn from the seed stream")]
    Exhausted,
    /// The header asked for would make an invalid ACME request.
    #[error("invalid header: {0}")]
    Header(String),
    /// JSON (de)serialization failed.
    #[error("json: {0}")]
    Json(#[from] serde_json::Error),
}

/// The signature algorithm of an account key (RFC 8555 §6.2; RFC 7518 §3.1, RFC 8037 §3.1).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum KeyAlg {
    /// ECDSA P-256 SHA-256.
    Es256,
    /// ECDSA P-384 SHA-384.
    Es384,
    /// ECDSA P-521 SHA-512 (RFC 7518 §3.4).
    Es512,
    /// RSASSA-PKCS1-v1_5 SHA-256, 2048-bit keys when generated.
    Rs256,
    /// EdDSA with Ed25519.
    EdDsa,
}

impl KeyAlg {
    /// The JWS `alg` name.
    pub fn name(self) -> &'static str {
        match self {
            KeyAlg::Es256 => "ES256",
            KeyAlg::Es384 => "ES384",
            KeyAlg::Es512 => "ES512",
            KeyAlg::Rs256 => "RS256",
            KeyAlg::EdDsa => "EdDSA",
        }
    }

    /// The algorithm named `name` (`ES256`, `ES384`, `ES512`, `RS256`, `EdDSA`).
    pub fn from_name(name: &str) -> Option<KeyAlg> {
        [
            KeyAlg::Es256,
            KeyAlg::Es384,
            KeyAlg::Es512,
            KeyAlg::Rs256,
            KeyAlg::EdDsa,
        ]
        .into_iter()
        .find(|a| a.name() == name)
    }
}

/// How a request names its key (RFC 8555 §6.2): exactly one of the two.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SignWith {
    /// Embed the public key as `jwk` (newAccount, revokeCert with the certificate key).
    Jwk,
    /// Name the account URL as `kid`.
    Kid(String),
}

/// An account key pair and its josekit signer.
pub struct AccountKey {
    alg: KeyAlg,
    pkcs8: Vec<u8>,
    signer: Box<dyn JwsSigner>,
    public_jwk: Value,
}

impl std::fmt::Debug for AccountKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Never print the private key.
        f.debug_struct("AccountKey")
            .field("alg", &self.alg.name())
            .field("public_jwk", &self.public_jwk)
            .finish_non_exhaustive()
    }
}

impl Clone for AccountKey {
    fn clone(&self) -> Self {
        AccountKey {
            alg: self.alg,
            pkcs8: self.pkcs8.clone(),
            signer: self.signer.box_clone(),
            public_jwk: self.public_jwk.clone(),
        }
    }
}

impl AccountKey {
    /// A new key for `alg`. EC (P-256, P-384, P-521) and Ed25519 keys are derived from `rng`, so the
    /// same seed stream gives the same key; RSA-2048 keys come from openssl's own generator and
    /// are not reproducible.
    pub fn generate(alg: KeyAlg, rng: &SeededRng) -> Result<AccountKey, KeyError> {
        let pkey = match alg {
            KeyAlg::Es256 => ec_from_rng(Curve::P256, rng)?,
            KeyAlg::Es384 => ec_from_rng(Curve::P384, rng)?,
            KeyAlg::Es512 => ec_from_rng(Curve::P521, rng)?,
            // RFC 8032 §5.1.5: any 32 octets are an Ed25519 private key.
            KeyAlg::EdDsa => PKey::private_key_from_raw_bytes(&rng.bytes(32), Id::ED25519)?,
            KeyAlg::Rs256 => PKey::from_rsa(Rsa::generate(2048)?)?,
        };
        Self::from_pkey(&pkey)
    }

    /// An RSA-2048 key (RS256) shared by every caller naming `name` in this process. The first
    /// names of a process take test keys committed to this repository, so nothing is generated
    /// (see `rsa_keys`). For a key whose reuse changes nothing a peer does, such as a
    /// certificate key; never an account key an outside CA keeps: across runs it would find the
    /// account an earlier run made with the same committed key.
    pub fn shared_rsa(name: &str) -> Result<AccountKey, KeyError> {
        Self::from_pkey(&crate::rsa_keys::shared(
            2048,
            &format!("account-key {name}"),
        )?)
    }

    /// Reads a PEM private key: PKCS#8, SEC 1 (`EC PRIVATE KEY`) or PKCS#1 (`RSA PRIVATE KEY`).
    pub fn from_pem(pem: &str) -> Result<AccountKey, KeyError> {
        Self::from_pkey(&PKey::private_key_from_pem(pem.as_bytes())?)
    }

    /// Reads a DER PKCS#8 `PrivateKeyInfo`.
    pub fn from_pkcs8_der(der: &[u8]) -> Result<AccountKey, KeyError> {
        Self::from_pkey(&PKey::private_key_from_pkcs8(der)?)
    }

    fn from_pkey(pkey: &PKey<Private>) -> Result<AccountKey, KeyError> {
        let alg = match pkey.id() {
            Id::RSA => KeyAlg::Rs256,
            Id::ED25519 => KeyAlg::EdDsa,
            Id::EC => match pkey.ec_key()?.group().curve_name() {
                Some(Nid::X9_62_PRIME256V1) => KeyAlg::Es256,
                Some(Nid::SECP384R1) => KeyAlg::Es384,
                Some(Nid::SECP521R1) => KeyAlg::Es512,
                other => return Err(KeyError::Unsupported(format!("EC curve {other:?}"))),
            },
            other => return Err(KeyError::Unsupported(format!("key type {other:?}"))),
        };
        let pkcs8 = pkey.private_key_to_pkcs8()?;
        // ES256 and ES384 sign through ring (`ring_signer`: OpenSSL's per-signature set-up
        // cost more than the signature). ring reads every EC key OpenSSL writes as PKCS#8 (the
        // public key included), so josekit's signer is built only when ring refuses the key:
        // building it just to check the key cost as much as a signature.
        let signer: Box<dyn JwsSigner> = match ring_signer::RingEcdsaSigner::new(alg.name(), &pkcs8)
        {
            Some(ring) => Box::new(ring),
            // Signers from DER carry no key id, so josekit adds no `kid`.
            // josekit refuses RSA keys under 2048 bits here.
            None => match alg {
                KeyAlg::Es256 => Box::new(ES256.signer_from_der(&pkcs8)?),
                KeyAlg::Es384 => Box::new(ES384.signer_from_der(&pkcs8)?),
                KeyAlg::Es512 => Box::new(ES512.signer_from_der(&pkcs8)?),
                KeyAlg::Rs256 => Box::new(RS256.signer_from_der(&pkcs8)?),
                KeyAlg::EdDsa => Box::new(EdDSA.signer_from_der(&pkcs8)?),
            },
        };
        let public_jwk = public_jwk_of(pkey)?;
        Ok(AccountKey {
            alg,
            pkcs8,
            signer,
            public_jwk,
        })
    }

    /// The private key as PKCS#8 PEM (`-----BEGIN PRIVATE KEY-----`).
    pub fn to_pkcs8_pem(&self) -> Result<String, KeyError> {
        let pkey = PKey::private_key_from_pkcs8(&self.pkcs8)?;
        let pem = pkey.private_key_to_pem_pkcs8()?;
        String::from_utf8(pem).map_err(|e| KeyError::Unsupported(e.to_string()))
    }

    /// The private key as DER PKCS#8.
    pub fn pkcs8_der(&self) -> &[u8] {
        &self.pkcs8
    }

    /// The key's algorithm.
    pub fn key_alg(&self) -> KeyAlg {
        self.alg
    }

    /// The JWS `alg` name.
    pub fn alg(&self) -> &str {
        self.alg.name()
    }

    /// The public JWK: `kty` and the public members only (no `kid`, `alg`, `use`).
    pub fn public_jwk(&self) -> Value {
        self.public_jwk.clone()
    }

    /// RFC 7638 thumbprint of the public key (RFC 8555 §8.1).
    pub fn thumbprint(&self) -> String {
        // public_jwk_of only builds JWKs protocol::jwk understands.
        jwk::thumbprint(&self.public_jwk).unwrap_or_default()
    }

    /// A flattened JWS whose protected header is `{"alg", ...protected_extra}` over `payload`
    /// (`None`: the empty payload of POST-as-GET, RFC 8555 §6.3).
    ///
    /// `protected_extra` must not hold both `jwk` and `kid` (RFC 8555 §6.2), nor an `alg` other
    /// than this key's; josekit checks the syntax of the registered members (for example a
    /// `nonce` must be base64url). For deliberately invalid requests use [`Self::sign_raw`].
    pub fn sign(
        &self,
        protected_extra: Map<String, Value>,
        payload: Option<&Value>,
    ) -> Result<Value, KeyError> {
        if protected_extra.contains_key("jwk") && protected_extra.contains_key("kid") {
            return Err(KeyError::Header(
                "both jwk and kid (RFC 8555 §6.2 forbids it)".into(),
            ));
        }
        let mut header = JwsHeaderSet::new();
        header.set_algorithm(self.alg(), true);
        for (name, value) in protected_extra {
            if name == "alg" {
                if value.as_str() != Some(self.alg()) {
                    return Err(KeyError::Header(format!(
                        "alg {value} does not match the key's {}",
                        self.alg()
                    )));
                }
                continue;
            }
            header.set_claim(&name, Some(value), true)?;
        }
        let payload = match payload {
            Some(v) => serde_json::to_vec(v)?,
            None => Vec::new(),
        };
        let text = jws::serialize_flattened_json(&payload, &header, &*self.signer)?;
        Ok(serde_json::from_str(&text)?)
    }

    /// An ACME request (RFC 8555 §6.2): protected `{alg, jwk|kid, nonce, url}`.
    pub fn sign_request(
        &self,
        key_ref: SignWith,
        nonce: &str,
        url: &str,
        payload: Option<&Value>,
    ) -> Result<Value, KeyError> {
        let mut extra = self.key_member(key_ref);
        // Not set_nonce: it would base64url-encode the already-encoded nonce.
        extra.insert("nonce".into(), json!(nonce));
        extra.insert("url".into(), json!(url));
        self.sign(extra, payload)
    }

    /// An inner JWS for keyChange (RFC 8555 §7.3.5): protected `{alg, jwk, url}`, no nonce,
    /// signed with this (the new) key over `payload`.
    pub fn sign_inner(&self, url: &str, payload: &Value) -> Result<Value, KeyError> {
        let mut extra = self.key_member(SignWith::Jwk);
        extra.insert("url".into(), json!(url));
        self.sign(extra, Some(payload))
    }

    /// Signs exactly the given protected header and base64url payload, with no checks at all:
    /// for conformance tests that must send what a correct client never would (bad nonces,
    /// `crit`, `b64: false`, padded payloads). The signature is josekit's over
    /// `base64url(JSON(protected)) "." payload_b64`.
    pub fn sign_raw(
        &self,
        protected: &Map<String, Value>,
        payload_b64: &str,
    ) -> Result<Value, KeyError> {
        let protected_b64 = b64url::encode(serde_json::to_vec(protected)?);
        let input = format!("{protected_b64}.{payload_b64}");
        let signature = self.signer.sign(input.as_bytes())?;
        Ok(json!({
            "protected": protected_b64,
            "payload": payload_b64,
            "signature": b64url::encode(signature),
        }))
    }

    fn key_member(&self, key_ref: SignWith) -> Map<String, Value> {
        let mut m = Map::new();
        match key_ref {
            SignWith::Jwk => m.insert("jwk".into(), self.public_jwk.clone()),
            SignWith::Kid(kid) => m.insert("kid".into(), json!(kid)),
        };
        m
    }
}

/// An `externalAccountBinding` value (RFC 8555 §7.3.4): an HS256 flattened JWS with protected
/// `{alg, kid, url}` (no nonce) over the account's public JWK. josekit refuses HMAC keys
/// shorter than 32 octets (RFC 7518 §3.2), hence the `Result`.
pub fn mac_sign_eab(
    hmac_key: &[u8],
    kid: &str,
    url: &str,
    account_jwk: &Value,
) -> Result<Value, KeyError> {
    let signer = HS256.signer_from_bytes(hmac_key)?;
    let mut header = JwsHeaderSet::new();
    header.set_algorithm("HS256", true);
    header.set_key_id(kid, true);
    header.set_url(url, true);
    let payload = serde_json::to_vec(account_jwk)?;
    let text = jws::serialize_flattened_json(&payload, &header, &signer)?;
    Ok(serde_json::from_str(&text)?)
}

/// FIPS 186-5 A.2.2 (rejection sampling): a scalar drawn from the stream, redrawn until
/// `1 <= d < n`; the public point is `d·G`.
fn ec_from_rng(curve: Curve, rng: &SeededRng) -> Result<PKey<Private>, KeyError> {
    let group = named_group(curve)?;
    let mut ctx = BigNumContext::new()?;
    let mut order = BigNum::new()?;
    group.order(&mut order, &mut ctx)?;
    let len = usize::try_from(order.num_bytes()).map_err(|_| KeyError::Exhausted)?;
    // A.2.2 draws as many bits as the order has: P-521's 66 octets carry 7 bits too many,
    // which are cleared (P-256 and P-384 orders fill their octets, so nothing changes there).
    let excess = u32::try_from(len * 8).unwrap_or(u32::MAX) - order.num_bits().unsigned_abs();
    for _ in 0..64 {
        let mut octets = rng.bytes(len);
        if let Some(first) = octets.first_mut() {
            *first &= 0xffu8.checked_shr(excess).unwrap_or(0);
        }
        let d = BigNum::from_slice(&octets)?;
        if d.num_bits() == 0 || d.ucmp(&order) != std::cmp::Ordering::Less {
            continue;
        }
        // 1 <= d < n was checked above, so d·G is a point of the curve other than infinity:
        // OpenSSL's `check_key` would recompute d·G only to find the same point.
        let mut point = EcPoint::new(group)?;
        point.mul_generator2(group, &d, &mut ctx)?;
        let key = EcKey::from_private_components(group, &d, &point)?;
        return Ok(PKey::from_ec_key(key)?);
    }
    Err(KeyError::Exhausted)
}

/// The public JWK of a private key, public members only, coordinates at full length
/// (RFC 7518 §6.2.1.2) and RSA integers without leading zeros (RFC 7518 §6.3.1).
fn public_jwk_of(pkey: &PKey<Private>) -> Result<Value, KeyError> {
    match pkey.id() {
        Id::RSA => {
            let rsa = pkey.rsa()?;
            Ok(json!({
                "kty": "RSA",
                "n": b64url::encode(rsa.n().to_vec()),
                "e": b64url::encode(rsa.e().to_vec()),
            }))
        }
        Id::EC => {
            let ec = pkey.ec_key()?;
            let group = ec.group();
            let mut ctx = BigNumContext::new()?;
            let (mut x, mut y) = (BigNum::new()?, BigNum::new()?);
            ec.public_key()
                .affine_coordinates(group, &mut x, &mut y, &mut ctx)?;
            let len = i32::try_from(group.degree().div_ceil(8))
                .map_err(|_| KeyError::Unsupported("curve size".into()))?;
            let crv = match group.curve_name() {
                Some(Nid::X9_62_PRIME256V1) => "P-256",
                Some(Nid::SECP384R1) => "P-384",
                Some(Nid::SECP521R1) => "P-521",
                other => return Err(KeyError::Unsupported(format!("EC curve {other:?}"))),
            };
            Ok(json!({
                "kty": "EC",
                "crv": crv,
                "x": b64url::encode(x.to_vec_padded(len)?),
                "y": b64url::encode(y.to_vec_padded(len)?),
            }))
        }
        Id::ED25519 => Ok(json!({
            "kty": "OKP",
            "crv": "Ed25519",
            "x": b64url::encode(pkey.raw_public_key()?),
        })),
        other => Err(KeyError::Unsupported(format!("key type {other:?}"))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::seed::Seed;

    #[test]
    fn shared_rsa_keys_are_one_per_name() {
        let a = AccountKey::shared_rsa("account_key test a").unwrap();
        let again = AccountKey::shared_rsa("account_key test a").unwrap();
        let b = AccountKey::shared_rsa("account_key test b").unwrap();
        assert_eq!(a.key_alg(), KeyAlg::Rs256);
        assert_eq!(a.public_jwk(), again.public_jwk());
        assert_ne!(a.public_jwk(), b.public_jwk());
        assert!(a.sign(Map::new(), None).is_ok());
    }

    #[test]
    fn seeded_ec_keys_sign_through_ring() {
        for (alg, through_ring) in [
            (KeyAlg::Es256, true),
            (KeyAlg::Es384, true),
            (KeyAlg::Es512, false),
            (KeyAlg::EdDsa, false),
        ] {
            let key = AccountKey::generate(alg, &Seed(3).stream("k")).unwrap();
            let signer = format!("{:?}", key.signer);
            assert_eq!(
                signer.starts_with("RingEcdsaSigner"),
                through_ring,
                "{alg:?}: {signer}"
            );
        }
    }

    #[test]
    fn seeded_keys_are_deterministic() {
        for alg in [KeyAlg::Es256, KeyAlg::Es384, KeyAlg::EdDsa] {
            let a = AccountKey::generate(alg, &Seed(9).stream("k")).unwrap();
            let b = AccountKey::generate(alg, &Seed(9).stream("k")).unwrap();
            let c = AccountKey::generate(alg, &Seed(10).stream("k")).unwrap();
            assert_eq!(a.public_jwk(), b.public_jwk(), "{alg:?}");
            assert_eq!(a.pkcs8_der(), b.pkcs8_der(), "{alg:?}");
            assert_ne!(a.public_jwk(), c.public_jwk(), "{alg:?}");
        }
    }

    #[test]
    fn pem_round_trip_keeps_the_key() {
        for alg in [KeyAlg::Es256, KeyAlg::Es384, KeyAlg::EdDsa, KeyAlg::Rs256] {
            let k = AccountKey::generate(alg, &Seed(1).stream("pem")).unwrap();
            let pem = k.to_pkcs8_pem().unwrap();
            assert!(pem.starts_with("-----BEGIN PRIVATE KEY-----"));
            let back = AccountKey::from_pem(&pem).unwrap();
            assert_eq!(back.public_jwk(), k.public_jwk());
            assert_eq!(back.alg(), alg.name());
            let der = AccountKey::from_pkcs8_der(k.pkcs8_der()).unwrap();
            assert_eq!(der.thumbprint(), k.thumbprint());
            assert_eq!(KeyAlg::from_name(k.alg()), Some(alg));
        }
    }

    #[test]
    fn sign_refuses_both_jwk_and_kid_and_a_foreign_alg() {
        let k = AccountKey::generate(KeyAlg::Es256, &Seed(1).stream("s")).unwrap();
        let mut extra = Map::new();
        extra.insert("jwk".into(), k.public_jwk());
        extra.insert("kid".into(), json!("https://ca/acct/1"));
        assert!(matches!(k.sign(extra, None), Err(KeyError::Header(_))));
        let mut extra = Map::new();
        extra.insert("alg".into(), json!("RS256"));
        assert!(matches!(k.sign(extra, None), Err(KeyError::Header(_))));
        let mut extra = Map::new();
        extra.insert("alg".into(), json!("ES256"));
        assert!(k.sign(extra, None).is_ok());
    }

    #[test]
    fn debug_does_not_print_the_private_key() {
        let k = AccountKey::generate(KeyAlg::EdDsa, &Seed(1).stream("d")).unwrap();
        let text = format!("{k:?}");
        assert!(text.contains("EdDSA") && !text.contains("pkcs8"));
    }

    #[test]
    fn eab_needs_a_long_enough_key() {
        let jwk = json!({"kty":"OKP","crv":"Ed25519","x":"AA"});
        assert!(mac_sign_eab(&[0u8; 16], "kid", "u", &jwk).is_err());
        assert!(mac_sign_eab(&[0u8; 32], "kid", "u", &jwk).is_ok());
    }
}
