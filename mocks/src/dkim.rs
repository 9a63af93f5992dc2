//! DKIM for the world's mail plane: keys published in the world's DNS, signing and verification,
//! all on mail-auth (no home-made DKIM).
//!
//! ```text
//!   DkimKey::generate(domain, selector, alg, rng) ─► publish(&DnsServer)  <s>._domainkey.<d> TXT
//!   DkimKey::sign(raw, headers) ─► "DKIM-Signature: …" + raw
//!   DkimVerifier::new(&WorldResolver).verify(raw) ─► Vec<DkimOutcome> ─► passes_for_domain
//!                                                                     └─► authentication_results
//! ```
//!
//! - Algorithms: ed25519-sha256 (RFC 8463), the default, and rsa-sha256 (RFC 6376 §3.3) with
//!   2048-bit keys (RFC 8301 §3.2: "Signers MUST use RSA keys of at least 1024 bits … SHOULD use
//!   at least 2048"). rsa-sha1 is not offered (RFC 8301 §3.1: "MUST NOT be used").
//! - Determinism: an Ed25519 key is 32 octets drawn from the seeded stream (RFC 8032 §5.1.5),
//!   so a seed replays the same key. openssl cannot generate RSA from a caller-given stream, so
//!   an RSA key is one per algorithm, domain, selector and size in a process, shared by every
//!   world asking for it again (`rsa_keys`): the first 2048-bit names take test keys committed
//!   to this repository, in the order they are first asked for, and later ones are generated.
//!   The records and signatures may differ between runs; the verdicts do not.
//! - Time: mail-auth stamps `t=` from the system clock when signing and checks `x=` against it
//!   when verifying; the world clock does not reach it.
//! - Verdicts: mail-auth reports a body-hash mismatch as `Neutral` (not `Fail`), so a check
//!   "DKIM passed" must compare against [`DkimVerdict::Pass`].

use std::fmt;

use acmeproof_protocol::address::domain_to_a_labels;
use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use mail_auth::common::crypto::{Algorithm, Ed25519Key, RsaKey, Sha1, Sha256, SigningKey};
use mail_auth::common::headers::{HeaderWriter as _, Writable};
use mail_auth::dkim::{Canonicalization as MaCanon, DkimSigner, Signature};
use mail_auth::{AuthenticatedMessage, AuthenticationResults, DkimOutput, DkimResult};
use mail_auth::{MessageAuthenticator, hickory_resolver::TokioResolver};
use rustls_pki_types::{PrivateKeyDer, PrivatePkcs8KeyDer};
use serde::{Deserialize, Serialize};

use acmeproof_protocol::smime::dkim::{
    ANY_MAIL_RULES, DkimTags, SignatureResult, Verification, judge_dkim,
};

use crate::dns::{DnsError, DnsServer, WorldResolver};
use crate::seed::SeededRng;

/// RSA modulus size for generated keys (RFC 8301 §3.2 "SHOULD use at least 2048 bits").
pub const RSA_BITS: u32 = 2048;
/// Largest message signed or verified; larger input is refused without parsing.
pub const MAX_DKIM_MESSAGE_OCTETS: usize = 50 * 1024 * 1024;
/// Longest selector accepted (a selector is a DNS name: RFC 6376 §3.1).
const MAX_SELECTOR_OCTETS: usize = 253;

/// Why a key could not be made or used.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum DkimError {
    /// The signing domain is not a valid (IDNA) domain.
    #[error("dkim: bad domain {0:?}")]
    BadDomain(String),
    /// The selector is not a sequence of LDH labels (RFC 6376 §3.1, §3.6.2.1).
    #[error("dkim: bad selector {0:?}")]
    BadSelector(String),
    /// openssl failed (RSA generation).
    #[error("dkim: openssl: {0}")]
    Openssl(#[from] openssl::error::ErrorStack),
    /// mail-auth refused the key or the message.
    #[error("dkim: mail-auth: {0}")]
    MailAuth(#[from] mail_auth::Error),
    /// ring refused the Ed25519 seed.
    #[error("dkim: ed25519 key: {0}")]
    Ed25519(String),
    /// The message is larger than [`MAX_DKIM_MESSAGE_OCTETS`].
    #[error("dkim: message of {0} octets is too large")]
    TooLarge(usize),
    /// Publishing the key record failed.
    #[error("dkim: {0}")]
    Dns(#[from] DnsError),
}

/// A DKIM signing algorithm (RFC 6376 §3.3, RFC 8463 §3).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum DkimAlgorithm {
    /// `ed25519-sha256` (RFC 8463); key from the seed.
    #[default]
    Ed25519Sha256,
    /// `rsa-sha256` with a 2048-bit key (not reproducible from the seed).
    RsaSha256,
    /// `rsa-sha1`: RFC 8301 §3.1 says it "MUST NOT be used for signing or verifying". Only
    /// for a hostile signer in tests and scenarios; verification never counts it.
    RsaSha1,
}

impl DkimAlgorithm {
    /// The `a=` value.
    pub fn name(self) -> &'static str {
        match self {
            DkimAlgorithm::Ed25519Sha256 => "ed25519-sha256",
            DkimAlgorithm::RsaSha256 => "rsa-sha256",
            DkimAlgorithm::RsaSha1 => "rsa-sha1",
        }
    }

    /// The key record's `k=` value.
    pub fn key_type(self) -> &'static str {
        match self {
            DkimAlgorithm::Ed25519Sha256 => "ed25519",
            DkimAlgorithm::RsaSha256 | DkimAlgorithm::RsaSha1 => "rsa",
        }
    }
}

/// One canonicalization algorithm (RFC 6376 §3.4).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Canonicalization {
    /// `relaxed`: tolerates refolding and white-space changes (§3.4.2, §3.4.4).
    #[default]
    Relaxed,
    /// `simple`: almost no modification tolerated (§3.4.1, §3.4.3).
    Simple,
}

impl Canonicalization {
    fn to_mail_auth(self) -> MaCanon {
        match self {
            Canonicalization::Relaxed => MaCanon::Relaxed,
            Canonicalization::Simple => MaCanon::Simple,
        }
    }

    fn from_mail_auth(c: MaCanon) -> Self {
        match c {
            MaCanon::Relaxed => Canonicalization::Relaxed,
            MaCanon::Simple => Canonicalization::Simple,
        }
    }

    /// `relaxed` or `simple`.
    pub fn name(self) -> &'static str {
        match self {
            Canonicalization::Relaxed => "relaxed",
            Canonicalization::Simple => "simple",
        }
    }
}

/// A DKIM key pair for one domain and selector.
#[derive(Clone)]
pub struct DkimKey {
    domain: String,
    selector: String,
    algorithm: DkimAlgorithm,
    /// Ed25519: the 32-octet seed; RSA: PKCS#8 DER.
    secret: Vec<u8>,
    /// RSA: the modulus size.
    rsa_bits: u32,
    /// Ed25519: the raw 32-octet public key (RFC 8463 §4.2); RSA: SubjectPublicKeyInfo DER.
    public: Vec<u8>,
    header_canon: Canonicalization,
    body_canon: Canonicalization,
    body_length: bool,
}

impl fmt::Debug for DkimKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("DkimKey")
            .field("domain", &self.domain)
            .field("selector", &self.selector)
            .field("algorithm", &self.algorithm)
            .field("canonicalization", &self.canonicalization())
            .finish_non_exhaustive()
    }
}

fn check_selector(selector: &str) -> Result<(), DkimError> {
    let bad = || DkimError::BadSelector(selector.to_owned());
    if selector.is_empty() || selector.len() > MAX_SELECTOR_OCTETS {
        return Err(bad());
    }
    for label in selector.split('.') {
        let ldh = label
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-');
        if label.is_empty() || label.len() > 63 || !ldh || label.starts_with('-') {
            return Err(bad());
        }
    }
    Ok(())
}

impl DkimKey {
    /// A new key for `domain` (U- or A-labels; signed as lowercase A-labels in `d=`) and
    /// `selector`. Ed25519 draws its 32-octet private key from `rng`; RSA ignores `rng` (see the
    /// module documentation) and generates a 2048-bit key with openssl.
    pub fn generate(
        domain: &str,
        selector: &str,
        algorithm: DkimAlgorithm,
        rng: &SeededRng,
    ) -> Result<DkimKey, DkimError> {
        Self::generate_sized(domain, selector, algorithm, RSA_BITS, rng)
    }

    /// As [`DkimKey::generate`], with an RSA key of `rsa_bits` (ignored for Ed25519). Keys
    /// under 1024 bits break RFC 8301 §3.2 ("Signers MUST use RSA keys of at least 1024
    /// bits"): only for a hostile signer in tests and scenarios.
    pub fn generate_sized(
        domain: &str,
        selector: &str,
        algorithm: DkimAlgorithm,
        rsa_bits: u32,
        rng: &SeededRng,
    ) -> Result<DkimKey, DkimError> {
        Self::generate_shared(domain, selector, algorithm, rsa_bits, None, rng)
    }

    /// As [`DkimKey::generate`], for the `slot`-th domain of a world: an RSA key is shared by
    /// every world's `slot`-th domain with this selector in this process (whatever the
    /// domain's name), so distinct slots of one world keep distinct keys while a run of many
    /// worlds makes each slot's key once. Ed25519 keys still come from `rng`.
    pub fn generate_in_slot(
        domain: &str,
        selector: &str,
        algorithm: DkimAlgorithm,
        slot: usize,
        rng: &SeededRng,
    ) -> Result<DkimKey, DkimError> {
        Self::generate_shared(domain, selector, algorithm, RSA_BITS, Some(slot), rng)
    }

    fn generate_shared(
        domain: &str,
        selector: &str,
        algorithm: DkimAlgorithm,
        rsa_bits: u32,
        slot: Option<usize>,
        rng: &SeededRng,
    ) -> Result<DkimKey, DkimError> {
        let domain = domain_to_a_labels(domain).map_err(|_| DkimError::BadDomain(domain.into()))?;
        check_selector(selector)?;
        let (secret, public) = match algorithm {
            DkimAlgorithm::Ed25519Sha256 => {
                let seed = rng.bytes(32);
                let pair = ring::signature::Ed25519KeyPair::from_seed_unchecked(&seed)
                    .map_err(|e| DkimError::Ed25519(e.to_string()))?;
                let public = ring::signature::KeyPair::public_key(&pair)
                    .as_ref()
                    .to_vec();
                (seed, public)
            }
            DkimAlgorithm::RsaSha256 | DkimAlgorithm::RsaSha1 => {
                // One key per algorithm, domain (or world slot) and selector in this process:
                // a library run starts hundreds of worlds with the same DKIM names (`rsa_keys`).
                let owner = match slot {
                    Some(slot) => format!("world-slot-{slot}"),
                    None => domain.clone(),
                };
                let name = format!(
                    "dkim {} {owner} {}",
                    algorithm.name(),
                    selector.to_ascii_lowercase()
                );
                let pkey = crate::rsa_keys::shared(rsa_bits, &name)?;
                let pkcs8 = pkey.private_key_to_pkcs8()?;
                // ring's RsaKey::public_key() is PKCS#1; RFC 6376 §3.6.1 `p=` for
                // k=rsa is the SubjectPublicKeyInfo, which openssl writes.
                let spki = pkey.public_key_to_der()?;
                (pkcs8, spki)
            }
        };
        Ok(DkimKey {
            domain,
            selector: selector.to_ascii_lowercase(),
            algorithm,
            secret,
            public,
            rsa_bits,
            header_canon: Canonicalization::Relaxed,
            body_canon: Canonicalization::Relaxed,
            body_length: false,
        })
    }

    /// The same key signing with `c=<header>/<body>` (default `relaxed/relaxed`).
    pub fn with_canonicalization(
        mut self,
        header: Canonicalization,
        body: Canonicalization,
    ) -> Self {
        self.header_canon = header;
        self.body_canon = body;
        self
    }

    /// The same key adding `l=` (the signed body length, RFC 6376 §3.5) to its signatures. Only
    /// for tests of what `l=` lets through: RFC 6376 §8.2 warns against it.
    pub fn with_body_length(mut self, on: bool) -> Self {
        self.body_length = on;
        self
    }

    /// The `d=` domain (lowercase A-labels).
    pub fn domain(&self) -> &str {
        &self.domain
    }

    /// The `s=` selector.
    pub fn selector(&self) -> &str {
        &self.selector
    }

    /// The algorithm.
    pub fn algorithm(&self) -> DkimAlgorithm {
        self.algorithm
    }

    /// The `c=` value, e.g. `relaxed/relaxed`.
    pub fn canonicalization(&self) -> String {
        format!("{}/{}", self.header_canon.name(), self.body_canon.name())
    }

    /// Where the key record lives: `<selector>._domainkey.<domain>` (RFC 6376 §3.6.2.1).
    pub fn dns_name(&self) -> String {
        format!("{}._domainkey.{}", self.selector, self.domain)
    }

    /// The key record (RFC 6376 §3.6.1): `v=DKIM1; k=ed25519; p=<raw key>` (RFC 8463 §4.2) or
    /// `v=DKIM1; k=rsa; p=<SubjectPublicKeyInfo>`, base64.
    pub fn txt_record_value(&self) -> String {
        format!(
            "v=DKIM1; k={}; p={}",
            self.algorithm.key_type(),
            STANDARD.encode(&self.public)
        )
    }

    /// Replaces the TXT RRset at [`DkimKey::dns_name`] by the key record. An RSA record is over
    /// 255 octets: the DNS server stores it as several character-strings (RFC 6376 §3.6.2.2:
    /// "the strings … MUST be concatenated together").
    pub async fn publish(&self, dns: &DnsServer) -> Result<(), DkimError> {
        dns.set_txt(&self.dns_name(), vec![self.txt_record_value()])
            .await?;
        Ok(())
    }

    /// This key with `d=` another domain, whose DNS publishes no such key: its signatures do not
    /// verify. Only for a broken-on-purpose signer (knob `challenge_dkim_other_domain`, RFC
    /// 8823 §3.1 item 6: `d=` is the From domain).
    pub fn with_domain(&self, domain: &str) -> Result<DkimKey, DkimError> {
        let domain = domain_to_a_labels(domain).map_err(|_| DkimError::BadDomain(domain.into()))?;
        Ok(DkimKey {
            domain,
            ..self.clone()
        })
    }

    /// `raw` with a `DKIM-Signature:` field prepended, covering `headers` (names absent from the
    /// message are signed as absent, RFC 6376 §5.4). RFC 6376 §5.4 requires From among them.
    pub fn sign(&self, raw: &[u8], headers: &[&str]) -> Result<Vec<u8>, DkimError> {
        if raw.len() > MAX_DKIM_MESSAGE_OCTETS {
            return Err(DkimError::TooLarge(raw.len()));
        }
        let field = match self.algorithm {
            DkimAlgorithm::Ed25519Sha256 => {
                let key = Ed25519Key::from_seed_and_public_key(&self.secret, &self.public)?;
                self.signature(key, raw, headers)?
            }
            // ring signs rsa-sha256 with keys of 2048 bits and more.
            DkimAlgorithm::RsaSha256 if self.rsa_bits >= RSA_BITS => {
                let der = PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(self.secret.as_slice()));
                let key = RsaKey::<Sha256>::from_key_der(der)?;
                self.signature(key, raw, headers)?
            }
            // What ring refuses to sign (rsa-sha1, short keys) openssl signs; mail-auth still
            // does all of DKIM.
            DkimAlgorithm::RsaSha256 => {
                let key = OpensslRsa::<Sha256>::from_pkcs8(&self.secret)?;
                self.signature(key, raw, headers)?
            }
            DkimAlgorithm::RsaSha1 => {
                let key = OpensslRsa::<Sha1>::from_pkcs8(&self.secret)?;
                self.signature(key, raw, headers)?
            }
        };
        let mut out = field.into_bytes();
        out.extend_from_slice(raw);
        Ok(out)
    }

    fn signature<K: SigningKey>(
        &self,
        key: K,
        raw: &[u8],
        headers: &[&str],
    ) -> Result<String, DkimError> {
        let sig = DkimSigner::from_key(key)
            .domain(self.domain.clone())
            .selector(self.selector.clone())
            .headers(headers.iter().copied())
            .header_canonicalization(self.header_canon.to_mail_auth())
            .body_canonicalization(self.body_canon.to_mail_auth())
            .body_length(self.body_length)
            .sign(raw)?;
        Ok(sig.to_header())
    }
}

/// An RSA key that signs through openssl (PKCS#1 v1.5 with `H`): for the signatures ring
/// refuses to make, which a hostile signer needs.
struct OpensslRsa<H> {
    key: openssl::pkey::PKey<openssl::pkey::Private>,
    hash: std::marker::PhantomData<H>,
}

impl<H> OpensslRsa<H> {
    fn from_pkcs8(der: &[u8]) -> Result<Self, DkimError> {
        Ok(OpensslRsa {
            key: openssl::pkey::PKey::private_key_from_pkcs8(der)?,
            hash: std::marker::PhantomData,
        })
    }

    fn sign_with(
        &self,
        digest: openssl::hash::MessageDigest,
        input: impl Writable,
    ) -> mail_auth::Result<Vec<u8>> {
        let mut data = Vec::with_capacity(256);
        input.write(&mut data);
        let library = |e: openssl::error::ErrorStack| {
            mail_auth::Error::Crypto(mail_auth::common::crypto::CryptoError::Library(
                e.to_string(),
            ))
        };
        let mut signer = openssl::sign::Signer::new(digest, &self.key).map_err(library)?;
        signer.update(&data).map_err(library)?;
        signer.sign_to_vec().map_err(library)
    }
}

impl SigningKey for OpensslRsa<Sha256> {
    type Hasher = Sha256;

    fn sign(&self, input: impl Writable) -> mail_auth::Result<Vec<u8>> {
        self.sign_with(openssl::hash::MessageDigest::sha256(), input)
    }

    fn algorithm(&self) -> Algorithm {
        Algorithm::RsaSha256
    }
}

impl SigningKey for OpensslRsa<Sha1> {
    type Hasher = Sha1;

    fn sign(&self, input: impl Writable) -> mail_auth::Result<Vec<u8>> {
        self.sign_with(openssl::hash::MessageDigest::sha1(), input)
    }

    fn algorithm(&self) -> Algorithm {
        Algorithm::RsaSha1
    }
}

/// The result of one signature (RFC 8601 §2.7.1 `dkim=` values).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DkimVerdict {
    /// `pass`.
    Pass,
    /// `fail`: the signature does not verify (or `t=s` AUID mismatch).
    Fail(String),
    /// `neutral`: mail-auth's verdict for a body-hash mismatch, an expired or malformed
    /// signature.
    Neutral(String),
    /// `temperror`: the key could not be fetched (DNS timeout, SERVFAIL).
    TempError(String),
    /// `permerror`: no usable key (NXDOMAIN, bad record).
    PermError(String),
    /// `none`: the message carries no signature.
    None,
}

impl DkimVerdict {
    /// Whether this is [`DkimVerdict::Pass`].
    pub fn is_pass(&self) -> bool {
        matches!(self, DkimVerdict::Pass)
    }
}

/// What verification said about one `DKIM-Signature` field.
#[derive(Debug, Clone)]
pub struct DkimOutcome {
    /// `d=` as written (empty if the field did not parse).
    pub domain: String,
    /// `s=` as written (empty if the field did not parse).
    pub selector: String,
    /// The verdict.
    pub result: DkimVerdict,
    /// `h=`, as written.
    pub headers_signed: Vec<String>,
    /// `c=` of the signature, e.g. `relaxed/simple` (empty if the field did not parse).
    pub canonicalization: String,
    /// For an `rsa-*` signature, the size of the key its record publishes (when it was read).
    pub rsa_key_bits: Option<u32>,
    raw_result: DkimResult,
    signature: Option<Signature>,
}

impl DkimOutcome {
    fn from_output(out: &DkimOutput<'_>) -> Self {
        let sig = out.signature();
        let result = match out.result() {
            DkimResult::Pass => DkimVerdict::Pass,
            DkimResult::Fail(e) => DkimVerdict::Fail(e.to_string()),
            DkimResult::Neutral(e) => DkimVerdict::Neutral(e.to_string()),
            DkimResult::TempError(e) => DkimVerdict::TempError(e.to_string()),
            DkimResult::PermError(e) => DkimVerdict::PermError(e.to_string()),
            DkimResult::None => DkimVerdict::None,
        };
        DkimOutcome {
            domain: sig.map(|s| s.d.clone()).unwrap_or_default(),
            selector: sig.map(|s| s.s.clone()).unwrap_or_default(),
            result,
            headers_signed: sig.map(|s| s.h.clone()).unwrap_or_default(),
            canonicalization: sig
                .map(|s| {
                    format!(
                        "{}/{}",
                        Canonicalization::from_mail_auth(s.ch).name(),
                        Canonicalization::from_mail_auth(s.cb).name()
                    )
                })
                .unwrap_or_default(),
            rsa_key_bits: None,
            raw_result: out.result().clone(),
            signature: sig.cloned(),
        }
    }

    /// The `a=` algorithm, when the field parsed.
    pub fn algorithm(&self) -> Option<&'static str> {
        self.signature.as_ref().map(|s| match s.a {
            Algorithm::RsaSha256 => "rsa-sha256",
            Algorithm::RsaSha1 => "rsa-sha1",
            Algorithm::Ed25519Sha256 => "ed25519-sha256",
        })
    }

    /// This signature as the protocol's DKIM rule reads it
    /// ([`acmeproof_protocol::smime::dkim::judge_dkim`]).
    pub fn signature_result(&self) -> SignatureResult {
        let tags = self.signature.as_ref().map(|s| DkimTags {
            algorithm: self.algorithm().map(str::to_owned),
            domain: Some(s.d.clone()),
            selector: Some(s.s.clone()),
            signed_headers: s.h.clone(),
            body_length: (s.l > 0).then(|| s.l.to_string()),
        });
        let verification = match &self.result {
            DkimVerdict::Pass => Verification::Verified,
            other => Verification::Failed(format!("{other:?}")),
        };
        SignatureResult {
            tags,
            verification,
            rsa_key_bits: self.rsa_key_bits,
        }
    }

    fn unsigned() -> Self {
        DkimOutcome {
            domain: String::new(),
            selector: String::new(),
            result: DkimVerdict::None,
            headers_signed: Vec::new(),
            canonicalization: String::new(),
            rsa_key_bits: None,
            raw_result: DkimResult::None,
            signature: None,
        }
    }

    fn unparsable(reason: &str) -> Self {
        DkimOutcome {
            result: DkimVerdict::PermError(reason.to_owned()),
            raw_result: DkimResult::PermError(mail_auth::Error::ParseError),
            ..Self::unsigned()
        }
    }
}

/// Verifies DKIM signatures with keys from the world's DNS only.
pub struct DkimVerifier {
    auth: MessageAuthenticator,
}

impl fmt::Debug for DkimVerifier {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("DkimVerifier").finish_non_exhaustive()
    }
}

impl DkimVerifier {
    /// A verifier asking `resolver` (the world's DNS) for key records.
    pub fn new(resolver: &WorldResolver) -> Self {
        let inner: TokioResolver = resolver.tokio_resolver().clone();
        DkimVerifier {
            auth: MessageAuthenticator(inner),
        }
    }

    /// One outcome per `DKIM-Signature` field, in message order. A message without signatures
    /// gives one [`DkimVerdict::None`]; input that is not a message (or is over
    /// [`MAX_DKIM_MESSAGE_OCTETS`]) gives one [`DkimVerdict::PermError`].
    pub async fn verify(&self, raw: &[u8]) -> Vec<DkimOutcome> {
        if raw.len() > MAX_DKIM_MESSAGE_OCTETS {
            return vec![DkimOutcome::unparsable("message too large")];
        }
        let Some(msg) = AuthenticatedMessage::parse(raw) else {
            return vec![DkimOutcome::unparsable("not a message")];
        };
        let outputs = self.auth.verify_dkim(&msg).await;
        if outputs.is_empty() {
            return vec![DkimOutcome::unsigned()];
        }
        let mut outcomes: Vec<DkimOutcome> = outputs.iter().map(DkimOutcome::from_output).collect();
        for o in &mut outcomes {
            if o.algorithm().is_some_and(|a| a.starts_with("rsa-")) {
                o.rsa_key_bits = self.rsa_key_bits(&o.selector, &o.domain).await;
            }
        }
        outcomes
    }

    /// The per-signature results for the protocol's DKIM rule (no entry for an unsigned mail).
    pub async fn check(&self, raw: &[u8]) -> Vec<SignatureResult> {
        signature_results(&self.verify(raw).await)
    }

    /// The modulus size of the RSA key published for `selector` and `domain` (RFC 8301 §3.2
    /// sets a floor on it), read as mail-auth reads key records.
    async fn rsa_key_bits(&self, selector: &str, domain: &str) -> Option<u32> {
        use mail_auth::common::cache::NoCache;
        use mail_auth::common::verify::DomainKey;
        let name = format!("{selector}._domainkey.{domain}.");
        let key = self
            .auth
            .txt_lookup::<DomainKey>(name, None::<&NoCache<Box<str>, mail_auth::Txt>>)
            .await
            .ok()?;
        u32::try_from(key.p.public_key_bits())
            .ok()
            .filter(|&b| b > 0)
    }
}

/// The results of `outcomes` for the protocol's DKIM rule; an unsigned mail has none.
pub fn signature_results(outcomes: &[DkimOutcome]) -> Vec<SignatureResult> {
    outcomes
        .iter()
        .filter(|o| o.raw_result != DkimResult::None)
        .map(DkimOutcome::signature_result)
        .collect()
}

/// Whether one signature passes for `domain` under the protocol's DKIM rule
/// ([`judge_dkim`] with no RFC 8823 `h=` list): it verifies, its `d=` is `domain` (U- and
/// A-labels compare equal, RFC 8616 §4), and RFC 8301 lets it count (no rsa-sha1, no RSA key
/// under 1024 bits). RFC 8823's checks add their `h=` lists through the same rule.
pub fn passes_for_domain(outcomes: &[DkimOutcome], domain: &str) -> bool {
    judge_dkim(
        &signature_results(outcomes),
        Some(domain.trim_end_matches('.')),
        &ANY_MAIL_RULES,
    )
    .passes()
}

/// The value of an RFC 8601 `Authentication-Results:` field a relay named `host` adds after
/// verifying (mail-auth's builder): `host; dkim=pass header.d=… header.s=… header.b=…`, or
/// `host; none` without outcomes worth reporting. Folded with CRLF TAB between results.
pub fn authentication_results(host: &str, outcomes: &[DkimOutcome]) -> String {
    let outputs: Vec<DkimOutput<'_>> = outcomes
        .iter()
        .filter(|o| o.raw_result != DkimResult::None)
        .map(|o| {
            let out = match &o.raw_result {
                // RFC 8301 §3.1: verifiers "MUST NOT consider signatures using this algorithm
                // valid" (rsa-sha1), and keys under 1024 bits are no better.
                DkimResult::Pass if o.signature_result().acceptable().is_err() => {
                    DkimOutput::perm_err(mail_auth::Error::Dkim(
                        mail_auth::dkim::DkimError::UnsupportedAlgorithm,
                    ))
                }
                DkimResult::Pass => DkimOutput::pass(),
                DkimResult::Fail(e) => DkimOutput::fail(e.clone()),
                DkimResult::Neutral(e) => DkimOutput::neutral(e.clone()),
                DkimResult::TempError(e) => DkimOutput::temp_err(e.clone()),
                DkimResult::PermError(e) => DkimOutput::perm_err(e.clone()),
                // Filtered out above.
                DkimResult::None => DkimOutput::perm_err(mail_auth::Error::ParseError),
            };
            match &o.signature {
                Some(sig) => out.with_signature(sig),
                None => out,
            }
        })
        .collect();
    let header = AuthenticationResults::new(host)
        .with_dkim_results(&outputs, "")
        .to_header();
    header
        .strip_prefix("Authentication-Results: ")
        .unwrap_or(&header)
        .trim_end_matches("\r\n")
        .to_owned()
}
