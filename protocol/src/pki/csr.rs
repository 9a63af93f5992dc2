//! PKCS#10 CSRs (RFC 2986) as sent to `finalize` (RFC 8555 §7.4): parse with x509-parser, check
//! the key, verify the self-signature, and read what the applicant asks for.
//!
//! - RFC 2985 §5.4.2: requested extensions travel in the `extensionRequest` attribute.
//! - RFC 8555 §7.4: identifiers are in "the commonName and/or subjectAltName".
//! - RFC 8823 §3.3: the KeyUsage request (or its absence) chooses the S/MIME usage.
//! - RFC 8398 §3 / RFC 4985 §2: SmtpUTF8Mailbox and SRVName otherNames.
//!
//! The CA signs only the subject public key of a CSR it accepted; nothing else of the CSR is
//! copied into a certificate.

use std::fmt;
use std::net::IpAddr;

use x509_parser::asn1_rs::{Any, FromDer as _, Tag, TaggedExplicit};
use x509_parser::certification_request::X509CertificationRequest;
use x509_parser::extensions::{GeneralName, ParsedExtension};
use x509_parser::oid_registry::{
    OID_EC_P256, OID_KEY_TYPE_EC_PUBLIC_KEY, OID_NIST_EC_P384, OID_PKCS1_RSAENCRYPTION,
    OID_SIG_ED25519,
};
use x509_parser::x509::SubjectPublicKeyInfo;

use super::usage::KeyUsageBits;

/// RFC 8398 §3: id-on-SmtpUTF8Mailbox, 1.3.6.1.5.5.7.8.9.
pub const OID_SMTP_UTF8_MAILBOX: &[u64] = &[1, 3, 6, 1, 5, 5, 7, 8, 9];
/// RFC 4985 §2: id-on-dnsSRV (SRVName), 1.3.6.1.5.5.7.8.7.
pub const OID_SRV_NAME: &[u64] = &[1, 3, 6, 1, 5, 5, 7, 8, 7];
/// Smallest RSA modulus accepted (bits). CA/B Forum BRs §6.1.5 and common CA practice.
pub const MIN_RSA_BITS: usize = 2048;
/// Largest RSA modulus accepted (bits): ring, which verifies the CSR signature, stops at 8192.
pub const MAX_RSA_BITS: usize = 8192;

/// Why a CSR is refused. The `Display` text is meant for the `detail` of the ACME problem.
///
/// A CA answers every one of them with `badCSR`, refused keys included: RFC 8555 §6.7
/// "badCSR: The CSR is unacceptable (e.g., due to a short key)"; `badPublicKey` is about the key
/// that signed the JWS ("The JWS was signed by a public key the server does not support"), not
/// the CSR's.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum CsrError {
    /// Not a DER PKCS#10 CertificationRequest (or bytes after it).
    #[error("CSR is not a valid DER PKCS#10 CertificationRequest: {0}")]
    Malformed(String),
    /// A requested extension in the extensionRequest attribute does not parse.
    #[error("CSR extensionRequest contains an unparseable extension: {0}")]
    BadExtension(String),
    /// The CSR's self-signature does not verify with its own public key (RFC 2986 §3).
    #[error("CSR signature does not verify with the CSR's public key: {0}")]
    BadSignature(String),
    /// The public key is of a type or curve this CA does not certify.
    #[error("unsupported public key: {0} (accepted: RSA 2048-8192, EC P-256, EC P-384, Ed25519)")]
    UnsupportedKey(String),
    /// An RSA modulus outside the accepted range.
    #[error(
        "RSA key of {bits} bits is not accepted (accepted: {MIN_RSA_BITS} to {MAX_RSA_BITS} bits)"
    )]
    RsaKeySize {
        /// Bits in the modulus.
        bits: usize,
    },
    /// RFC 8823 §3.3: the requested KeyUsage is neither signing-only, encryption-only nor both.
    #[error(
        "CSR requests key usage {requested}, but RFC 8823 §3.3 allows only digitalSignature/nonRepudiation (signing) and keyEncipherment/keyAgreement (encryption){}",
        if extra.is_empty() { String::new() } else { format!("; not allowed: {extra}") }
    )]
    KeyUsageNotAllowed {
        /// Every bit the CSR asked for.
        requested: KeyUsageBits,
        /// The bits outside the RFC 8823 §3.3 sets.
        extra: KeyUsageBits,
    },
}

impl CsrError {
    /// The requirement a refused KeyUsage breaks (RFC 8823 §3.3): a request with an
    /// encryption bit and no signing bit is an encryption-only one, whose rule is SMIME-56
    /// ("keyEncipherment or keyAgreement bits set and no other bits set"); any other is held
    /// to the signing-only rule, SMIME-55. `None` for the errors that are not about KeyUsage.
    pub fn key_usage_rule(&self) -> Option<&'static str> {
        let CsrError::KeyUsageNotAllowed { requested, .. } = self else {
            return None;
        };
        let encryption_only = requested
            .intersects(KeyUsageBits::KEY_ENCIPHERMENT | KeyUsageBits::KEY_AGREEMENT)
            && !requested
                .intersects(KeyUsageBits::DIGITAL_SIGNATURE | KeyUsageBits::NON_REPUDIATION);
        Some(if encryption_only {
            crate::requirements::SMIME_56
        } else {
            crate::requirements::SMIME_55
        })
    }
}

/// The public key algorithm of a CSR (and of the certificate issued for it).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize)]
pub enum KeyAlgorithm {
    /// rsaEncryption (RFC 8017), with the modulus size in bits.
    Rsa {
        /// Bits in the modulus.
        bits: usize,
    },
    /// id-ecPublicKey on P-256 (RFC 5480).
    EcP256,
    /// id-ecPublicKey on P-384 (RFC 5480).
    EcP384,
    /// Ed25519 (RFC 8410).
    Ed25519,
}

impl KeyAlgorithm {
    /// Its name for knob `refuse_csr_keys`: `rsa`, `p256`, `p384`, `ed25519`.
    pub fn knob_name(self) -> &'static str {
        match self {
            KeyAlgorithm::Rsa { .. } => "rsa",
            KeyAlgorithm::EcP256 => "p256",
            KeyAlgorithm::EcP384 => "p384",
            KeyAlgorithm::Ed25519 => "ed25519",
        }
    }

    /// True for RSA keys (they encrypt: keyEncipherment; EC keys agree: keyAgreement).
    pub fn is_rsa(self) -> bool {
        matches!(self, KeyAlgorithm::Rsa { .. })
    }

    /// Reads the algorithm of a SubjectPublicKeyInfo and checks it is one this CA certifies.
    pub fn of_spki(spki: &SubjectPublicKeyInfo<'_>) -> Result<KeyAlgorithm, CsrError> {
        let alg = &spki.algorithm.algorithm;
        if *alg == OID_PKCS1_RSAENCRYPTION {
            let key = match spki.parsed() {
                Ok(x509_parser::public_key::PublicKey::RSA(key)) => key,
                _ => return Err(CsrError::UnsupportedKey("malformed RSA public key".into())),
            };
            let bits = modulus_bits(key.modulus);
            if !(MIN_RSA_BITS..=MAX_RSA_BITS).contains(&bits) {
                return Err(CsrError::RsaKeySize { bits });
            }
            Ok(KeyAlgorithm::Rsa { bits })
        } else if *alg == OID_KEY_TYPE_EC_PUBLIC_KEY {
            let curve = spki
                .algorithm
                .parameters
                .as_ref()
                .and_then(|p| p.as_oid().ok());
            match curve {
                Some(c) if c == OID_EC_P256 => Ok(KeyAlgorithm::EcP256),
                Some(c) if c == OID_NIST_EC_P384 => Ok(KeyAlgorithm::EcP384),
                Some(c) => Err(CsrError::UnsupportedKey(format!("EC curve {c}"))),
                None => Err(CsrError::UnsupportedKey(
                    "EC key without a named curve".into(),
                )),
            }
        } else if *alg == OID_SIG_ED25519 {
            Ok(KeyAlgorithm::Ed25519)
        } else {
            Err(CsrError::UnsupportedKey(format!("algorithm {alg}")))
        }
    }
}

impl fmt::Display for KeyAlgorithm {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            KeyAlgorithm::Rsa { bits } => write!(f, "RSA-{bits}"),
            KeyAlgorithm::EcP256 => f.write_str("EC P-256"),
            KeyAlgorithm::EcP384 => f.write_str("EC P-384"),
            KeyAlgorithm::Ed25519 => f.write_str("Ed25519"),
        }
    }
}

/// Significant bits of an unsigned big-endian integer (leading zero octets ignored).
fn modulus_bits(modulus: &[u8]) -> usize {
    let significant: &[u8] = match modulus.iter().position(|b| *b != 0) {
        Some(i) => &modulus[i..],
        None => return 0,
    };
    let lead = significant
        .first()
        .map_or(0, |b| b.leading_zeros() as usize);
    significant.len() * 8 - lead
}

/// One subjectAltName GeneralName (RFC 5280 §4.2.1.6) requested in a CSR or found in a
/// certificate.
#[derive(Debug, Clone, PartialEq, Eq, Hash, serde::Serialize)]
pub enum SanName {
    /// dNSName, as written.
    Dns(String),
    /// rfc822Name, as written.
    Rfc822(String),
    /// otherName SmtpUTF8Mailbox (RFC 8398 §3): the UTF8String value.
    SmtpUtf8Mailbox(String),
    /// otherName SRVName (RFC 4985 §2): the IA5String value, e.g. `_imaps.example.net`.
    SrvName(String),
    /// iPAddress.
    Ip(IpAddr),
    /// Anything else (URI, directoryName, other otherNames, malformed entries), described.
    Other(String),
}

impl SanName {
    /// Reads one x509-parser GeneralName.
    pub fn from_general_name(name: &GeneralName<'_>) -> SanName {
        match name {
            GeneralName::DNSName(s) => SanName::Dns((*s).to_owned()),
            GeneralName::RFC822Name(s) => SanName::Rfc822((*s).to_owned()),
            GeneralName::IPAddress(bytes) => match ip_from_octets(bytes) {
                Some(ip) => SanName::Ip(ip),
                None => SanName::Other(format!("iPAddress of {} octets", bytes.len())),
            },
            GeneralName::OtherName(oid, raw) => other_name(&oid.to_id_string(), oid, raw),
            GeneralName::URI(s) => SanName::Other(format!("uri:{s}")),
            GeneralName::DirectoryName(n) => SanName::Other(format!("dirName:{n}")),
            GeneralName::RegisteredID(oid) => SanName::Other(format!("registeredID:{oid}")),
            GeneralName::X400Address(_) => SanName::Other("x400Address".into()),
            GeneralName::EDIPartyName(_) => SanName::Other("ediPartyName".into()),
            GeneralName::Invalid(tag, _) => SanName::Other(format!("invalid GeneralName {tag}")),
        }
    }

    /// The tagged form used in reports and tests: `dns:…`, `email:…` (rfc822Name),
    /// `smtputf8:…`, `srv:…`, `ip:…`, `other:…`.
    pub fn tagged(&self) -> String {
        match self {
            SanName::Dns(v) => format!("dns:{v}"),
            SanName::Rfc822(v) => format!("email:{v}"),
            SanName::SmtpUtf8Mailbox(v) => format!("smtputf8:{v}"),
            SanName::SrvName(v) => format!("srv:{v}"),
            SanName::Ip(ip) => format!("ip:{ip}"),
            SanName::Other(v) => format!("other:{v}"),
        }
    }
}

impl From<crate::address::SanForm> for SanName {
    /// The subjectAltName RFC 8398 §3 gives an address ([`crate::address::san_form`]).
    fn from(form: crate::address::SanForm) -> SanName {
        match form {
            crate::address::SanForm::Rfc822Name(v) => SanName::Rfc822(v),
            crate::address::SanForm::SmtpUtf8Mailbox(v) => SanName::SmtpUtf8Mailbox(v),
        }
    }
}

impl fmt::Display for SanName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.tagged())
    }
}

fn ip_from_octets(bytes: &[u8]) -> Option<IpAddr> {
    if let Ok(v4) = <[u8; 4]>::try_from(bytes) {
        return Some(IpAddr::from(v4));
    }
    <[u8; 16]>::try_from(bytes).ok().map(IpAddr::from)
}

/// An otherName: x509-parser hands over the value still inside its `[0] EXPLICIT` wrapper
/// (RFC 5280 §4.2.1.6 `value [0] EXPLICIT ANY DEFINED BY type-id`).
fn other_name(id: &str, oid: &x509_parser::asn1_rs::Oid<'_>, raw: &[u8]) -> SanName {
    let components: Option<Vec<u64>> = oid.iter().map(|it| it.collect());
    let inner = TaggedExplicit::<Any<'_>, x509_parser::asn1_rs::Error, 0>::from_der(raw)
        .ok()
        .map(|(_, tagged)| tagged.into_inner());
    match (components.as_deref(), inner) {
        // RFC 8398 §3: SmtpUTF8Mailbox ::= UTF8String (SIZE (1..MAX))
        (Some(OID_SMTP_UTF8_MAILBOX), Some(any)) if any.header.tag() == Tag::Utf8String => {
            match std::str::from_utf8(any.data) {
                Ok(s) if !s.is_empty() => SanName::SmtpUtf8Mailbox(s.to_owned()),
                _ => SanName::Other(format!("otherName {id} with an invalid UTF8String")),
            }
        }
        // RFC 4985 §2: SRVName ::= IA5String (SIZE (1..MAX))
        (Some(OID_SRV_NAME), Some(any)) if any.header.tag() == Tag::Ia5String => {
            match std::str::from_utf8(any.data) {
                Ok(s) if !s.is_empty() && s.is_ascii() => SanName::SrvName(s.to_owned()),
                _ => SanName::Other(format!("otherName {id} with an invalid IA5String")),
            }
        }
        _ => SanName::Other(format!("otherName {id}")),
    }
}

/// What the CA needs from a CSR that passed [`parse_csr`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CsrInfo {
    /// The SubjectPublicKeyInfo, DER: the only part of the CSR that reaches the certificate.
    pub spki_der: Vec<u8>,
    /// The key's algorithm (already checked to be acceptable).
    pub key: KeyAlgorithm,
    /// The subject's commonName values, in order.
    pub subject_cns: Vec<String>,
    /// The subject DN as text (for logs and problem details).
    pub subject: String,
    /// The subjectAltNames requested in the extensionRequest attribute, in order.
    pub sans: Vec<SanName>,
    /// The KeyUsage requested, or `None` if the CSR has no KeyUsage extension (RFC 8823 §3.3:
    /// absence means "both").
    pub key_usage: Option<KeyUsageBits>,
}

/// Parses and verifies a DER CSR (the `csr` of an RFC 8555 §7.4 finalize request, after
/// base64url decoding).
///
/// Checks, in order: DER structure with no trailing bytes; the key type and size (so a weak
/// RSA key is reported as such, not as a signature failure); the self-signature; that every
/// requested extension parses.
pub fn parse_csr(der: &[u8]) -> Result<CsrInfo, CsrError> {
    let (rest, csr) =
        X509CertificationRequest::from_der(der).map_err(|e| CsrError::Malformed(e.to_string()))?;
    if !rest.is_empty() {
        return Err(CsrError::Malformed(format!(
            "{} bytes after the CertificationRequest",
            rest.len()
        )));
    }
    let info = &csr.certification_request_info;
    let key = KeyAlgorithm::of_spki(&info.subject_pki)?;
    // RFC 2986 §3: the signature proves possession of the private key.
    csr.verify_signature()
        .map_err(|e| CsrError::BadSignature(e.to_string()))?;

    let subject_cns = info
        .subject
        .iter_common_name()
        .map(|cn| {
            cn.as_str()
                .map(str::to_owned)
                .map_err(|e| CsrError::Malformed(format!("subject commonName: {e}")))
        })
        .collect::<Result<Vec<_>, _>>()?;

    let mut sans = Vec::new();
    let mut key_usage = None;
    for ext in csr.requested_extensions().into_iter().flatten() {
        match ext {
            ParsedExtension::SubjectAlternativeName(san) => {
                sans.extend(san.general_names.iter().map(SanName::from_general_name));
            }
            ParsedExtension::KeyUsage(ku) => {
                key_usage = Some(KeyUsageBits::from_flags(ku.flags));
            }
            ParsedExtension::ParseError { error } => {
                return Err(CsrError::BadExtension(error.to_string()));
            }
            _ => {}
        }
    }

    Ok(CsrInfo {
        spki_der: info.subject_pki.raw.to_vec(),
        key,
        subject_cns,
        subject: info.subject.to_string(),
        sans,
        key_usage,
    })
}

#[cfg(test)]
mod tests {

    #[test]
    fn a_refused_key_usage_names_the_encryption_only_or_the_signing_only_rule() {
        use crate::requirements::{SMIME_55, SMIME_56};
        let refused = |bits: KeyUsageBits| CsrError::KeyUsageNotAllowed {
            requested: bits,
            extra: KeyUsageBits::DATA_ENCIPHERMENT,
        };
        let enc = KeyUsageBits::KEY_ENCIPHERMENT | KeyUsageBits::DATA_ENCIPHERMENT;
        assert_eq!(refused(enc).key_usage_rule(), Some(SMIME_56));
        let sig = KeyUsageBits::DIGITAL_SIGNATURE | KeyUsageBits::DATA_ENCIPHERMENT;
        assert_eq!(refused(sig).key_usage_rule(), Some(SMIME_55));
        assert_eq!(CsrError::Malformed("x".into()).key_usage_rule(), None);
    }
    use super::*;

    #[test]
    fn modulus_bits_ignores_leading_zero_octets_and_bits() {
        assert_eq!(modulus_bits(&[0x00, 0x80, 0x00]), 16);
        assert_eq!(modulus_bits(&[0x01, 0x00]), 9);
        assert_eq!(modulus_bits(&[0x00, 0x00]), 0);
    }

    #[test]
    fn garbage_is_malformed_not_a_panic() {
        for bytes in [
            &b""[..],
            b"\x30",
            b"\x30\x03\x02\x01\x00",
            b"not der at all",
        ] {
            assert!(matches!(parse_csr(bytes), Err(CsrError::Malformed(_))));
        }
    }

    fn valid_csr() -> (Vec<u8>, Vec<u8>) {
        let key = rcgen::KeyPair::generate().unwrap();
        let mut params = rcgen::CertificateParams::new(vec!["a.example.test".into()]).unwrap();
        params.distinguished_name = rcgen::DistinguishedName::new();
        let der = params.serialize_request(&key).unwrap().der().to_vec();
        let spki = parse_csr(&der).unwrap().spki_der;
        (der, spki)
    }

    proptest::proptest! {
        #[test]
        fn arbitrary_bytes_never_panic(bytes in proptest::collection::vec(proptest::num::u8::ANY, 0..512)) {
            let _ = parse_csr(&bytes);
        }

        #[test]
        fn a_flipped_octet_never_yields_another_key(at in 0usize..4096, bit in 0u8..8) {
            // Whatever a one-bit change does, the CSR either fails or still certifies the
            // key that signed it.
            let (mut der, spki) = valid_csr();
            let at = at % der.len();
            der[at] ^= 1 << bit;
            if let Ok(info) = parse_csr(&der) {
                proptest::prop_assert_eq!(info.spki_der, spki);
            }
        }
    }
}
