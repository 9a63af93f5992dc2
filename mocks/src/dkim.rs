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
//!   RSA keys are fresh on every run: the records and signatures differ between runs, the
//!   verdicts do not.
//! - Time: mail-auth stamps `t=` from the system clock when signing and checks `x=` against it
//!   when verifying; the world clock does not reach it.
//! - Verdicts: mail-auth reports a body-hash mismatch as `Neutral` (not `Fail`), so a check
//!   "DKIM passed" must compare against [`DkimVerdict::Pass`].

use std::fmt;

use acmeproof_protocol::address::domain_to_a_labels;
use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use mail_auth::common::crypto::{Ed25519Key, RsaKey, Sha256, SigningKey};
use mail_auth::common::headers::HeaderWriter as _;
use mail_auth::dkim::{Canonicalization as MaCanon, DkimSigner, Signature};
use mail_auth::{AuthenticatedMessage, AuthenticationResults, DkimOutput, DkimResult};
use mail_auth::{MessageAuthenticator, hickory_resolver::TokioResolver};
use rustls_pki_types::{PrivateKeyDer, PrivatePkcs8KeyDer};
use serde::{Deserialize, Serialize};

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
}

impl DkimAlgorithm {
    /// The `a=` value.
    pub fn name(self) -> &'static str {
        match self {
            DkimAlgorithm::Ed25519Sha256 => "ed25519-sha256",
            DkimAlgorithm::RsaSha256 => "rsa-sha256",
        }
    }

    /// The key record's `k=` value.
    pub fn key_type(self) -> &'static str {
        match self {
            DkimAlgorithm::Ed25519Sha256 => "ed25519",
            DkimAlgorithm::RsaSha256 => "rsa",
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
            DkimAlgorithm::RsaSha256 => {
                let rsa = openssl::rsa::Rsa::generate(RSA_BITS)?;
                let pkey = openssl::pkey::PKey::from_rsa(rsa)?;
                let pkcs8 = pkey.private_key_to_pkcs8()?;
                // pitfall 11: ring's RsaKey::public_key() is PKCS#1; RFC 6376 §3.6.1 `p=` for
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
            DkimAlgorithm::RsaSha256 => {
                let der = PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(self.secret.as_slice()));
                let key = RsaKey::<Sha256>::from_key_der(der)?;
                self.signature(key, raw, headers)?
            }
        };
        let mut out = field.into_bytes();
        out.extend_from_slice(raw);
        Ok(out)
    }

    fn signature<K: SigningKey<Hasher = Sha256>>(
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
            raw_result: out.result().clone(),
            signature: sig.cloned(),
        }
    }

    fn unsigned() -> Self {
        DkimOutcome {
            domain: String::new(),
            selector: String::new(),
            result: DkimVerdict::None,
            headers_signed: Vec::new(),
            canonicalization: String::new(),
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
        outputs.iter().map(DkimOutcome::from_output).collect()
    }
}

/// Whether some outcome is a Pass with `d=` equal to `domain` (both compared as lowercase
/// A-labels, RFC 8616 §4: U-labels and A-labels name the same domain). This is the RFC 8823
/// §3.1 item 6 / §3.2 item 9 check: "The domain from the "d=" tag … MUST be the same as the
/// domain from the From header field".
pub fn passes_for_domain(outcomes: &[DkimOutcome], domain: &str) -> bool {
    let Ok(want) = domain_to_a_labels(domain.trim_end_matches('.')) else {
        return false;
    };
    outcomes.iter().any(|o| {
        o.result.is_pass()
            && domain_to_a_labels(o.domain.trim_end_matches('.')).is_ok_and(|d| d == want)
    })
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
