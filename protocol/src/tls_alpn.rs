//! tls-alpn-01 (RFC 8737): what the validation certificate must hold, checked sans I/O.
//!
//! RFC 8737 §3: "The client prepares for validation by constructing a self-signed certificate
//! that MUST contain an acmeIdentifier extension and a subjectAlternativeName extension. The
//! subjectAlternativeName extension MUST contain a single dNSName entry where the value is the
//! domain name being validated. The acmeIdentifier extension MUST contain the SHA-256 digest of
//! the key authorization for the challenge. The acmeIdentifier extension MUST be critical".
//! The CA connects with ALPN `acme-tls/1` only and SNI the name (ACME-38), and checks the
//! certificate with [`check_certificate`] (ACME-39). Reading the certificate (x509-parser) is
//! the caller's.

use sha2::{Digest as _, Sha256};

use crate::finding::Finding;
use crate::keyauth::key_authorization;

/// The ALPN protocol name of the validation handshake (RFC 8737 §6.2).
pub const ACME_TLS_1: &[u8] = b"acme-tls/1";

/// id-pe-acmeIdentifier, `{ id-pe 31 }` = 1.3.6.1.5.5.7.1.31 (RFC 8737 §6.1).
pub const OID_ACME_IDENTIFIER: &[u64] = &[1, 3, 6, 1, 5, 5, 7, 1, 31];

/// The content of the acmeIdentifier extension: SHA-256 of the key authorization (32 octets,
/// RFC 8737 §3 `Authorization ::= OCTET STRING (SIZE (32))`).
pub fn acme_identifier(token: &str, thumbprint: &str) -> [u8; 32] {
    Sha256::digest(key_authorization(token, thumbprint).as_bytes()).into()
}

/// What the CA read from the certificate the validation handshake presented.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct ValidationCertificate {
    /// The subjectAltName's dNSName entries, as written.
    pub dns_names: Vec<String>,
    /// How many subjectAltName entries are not dNSNames.
    pub other_names: usize,
    /// The acmeIdentifier extension, if present: (critical, the OCTET STRING's octets, or
    /// `None` when its value is not a DER OCTET STRING).
    pub acme_identifier: Option<(bool, Option<Vec<u8>>)>,
}

/// Why a validation certificate does not prove control of the name.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AlpnCertificateError {
    /// RFC 8737 §3: "a subjectAltName extension containing the dNSName being validated and no
    /// other entries".
    #[error(
        "the certificate's subjectAltName must be the single dNSName {expected:?}; it holds {found}"
    )]
    Names {
        /// The name validated.
        expected: String,
        /// What was found, in words.
        found: String,
    },
    /// No acmeIdentifier extension.
    #[error("the certificate has no acmeIdentifier extension (1.3.6.1.5.5.7.1.31)")]
    NoAcmeIdentifier,
    /// RFC 8737 §3: "The acmeIdentifier extension MUST be critical".
    #[error("the acmeIdentifier extension is not critical")]
    NotCritical,
    /// The extension's value is not a 32-octet OCTET STRING.
    #[error("the acmeIdentifier extension is not a DER OCTET STRING of 32 octets")]
    BadEncoding,
    /// The digest is another key authorization's.
    #[error("the acmeIdentifier holds {found}, not SHA-256 of the key authorization {expected}")]
    WrongDigest {
        /// Expected digest, hex.
        expected: String,
        /// Found digest, hex.
        found: String,
    },
}

/// RFC 8737 §3 on the CA's side of the validation handshake (ACME-38): "The ACME server
/// [...] MUST provide an ALPN extension with the single protocol name "acme-tls/1" and an SNI
/// extension containing only the domain name being validated". `alpn` is what the ClientHello
/// offered (`None`: no ALPN extension), `sni` its server name.
pub fn check_validation_hello(
    alpn: Option<&[&[u8]]>,
    sni: Option<&str>,
    domain: &str,
) -> Result<(), Finding> {
    let broken = |observed: String| {
        Finding::new(
            crate::requirements::ACME_38,
            format!("ALPN \"acme-tls/1\" only and SNI {domain:?}"),
            observed,
        )
    };
    match alpn {
        Some([only]) if *only == ACME_TLS_1 => {}
        Some(offered) => {
            let names: Vec<String> = offered
                .iter()
                .map(|p| String::from_utf8_lossy(p).into_owned())
                .collect();
            return Err(broken(format!("ALPN {names:?}")));
        }
        None => return Err(broken("no ALPN extension".into())),
    }
    match sni {
        Some(name) if name.eq_ignore_ascii_case(domain) => Ok(()),
        Some(name) => Err(broken(format!("SNI {name:?}"))),
        None => Err(broken("no SNI".into())),
    }
}

/// RFC 8737 §3 step 4 on the certificate: exactly one subjectAltName entry, a dNSName equal to
/// `domain` ("The comparison of dNSNames MUST be case insensitive"), and a critical
/// acmeIdentifier extension holding `expected` (see [`acme_identifier`]).
pub fn check_certificate(
    cert: &ValidationCertificate,
    domain: &str,
    expected: &[u8; 32],
) -> Result<(), AlpnCertificateError> {
    let single = cert.other_names == 0
        && matches!(cert.dns_names.as_slice(), [only] if only.eq_ignore_ascii_case(domain));
    if !single {
        return Err(AlpnCertificateError::Names {
            expected: domain.to_owned(),
            found: format!(
                "dNSNames {:?} and {} other entr{}",
                cert.dns_names,
                cert.other_names,
                if cert.other_names == 1 { "y" } else { "ies" }
            ),
        });
    }
    let (critical, value) = cert
        .acme_identifier
        .as_ref()
        .ok_or(AlpnCertificateError::NoAcmeIdentifier)?;
    if !critical {
        return Err(AlpnCertificateError::NotCritical);
    }
    let found = value
        .as_deref()
        .filter(|v| v.len() == 32)
        .ok_or(AlpnCertificateError::BadEncoding)?;
    if found != expected {
        return Err(AlpnCertificateError::WrongDigest {
            expected: hex(expected),
            found: hex(found),
        });
    }
    Ok(())
}

fn hex(octets: &[u8]) -> String {
    octets.iter().map(|b| format!("{b:02x}")).collect()
}

#[cfg(test)]
mod tests {

    #[test]
    fn the_validation_hello_offers_acme_tls_1_only_and_the_name_as_sni() {
        let ok: &[&[u8]] = &[ACME_TLS_1];
        assert_eq!(
            check_validation_hello(Some(ok), Some("A.example.test"), "a.example.test"),
            Ok(())
        );
        let two: &[&[u8]] = &[b"h2", ACME_TLS_1];
        assert!(
            check_validation_hello(Some(two), Some("a.example.test"), "a.example.test").is_err()
        );
        assert!(check_validation_hello(None, Some("a.example.test"), "a.example.test").is_err());
        assert!(
            check_validation_hello(Some(ok), Some("b.example.test"), "a.example.test").is_err()
        );
        assert!(check_validation_hello(Some(ok), None, "a.example.test").is_err());
    }
    use super::*;

    fn good(domain: &str, digest: [u8; 32]) -> ValidationCertificate {
        ValidationCertificate {
            dns_names: vec![domain.into()],
            other_names: 0,
            acme_identifier: Some((true, Some(digest.to_vec()))),
        }
    }

    #[test]
    fn the_digest_is_sha256_of_the_key_authorization() {
        // SHA-256("token.thumb"), as `printf token.thumb | sha256sum` prints it.
        let d = acme_identifier("token", "thumb");
        assert_eq!(
            hex(&d),
            "94275fb692425daa5a64790118865b72e6de296f11980d23486fda64dd35cdb5"
        );
        assert_ne!(d, acme_identifier("token", "other"));
    }

    #[test]
    fn a_good_certificate_passes_and_each_fault_fires() {
        let d = acme_identifier("t", "k");
        assert_eq!(
            check_certificate(&good("a.example", d), "A.Example", &d),
            Ok(())
        );
        let mut two = good("a.example", d);
        two.dns_names.push("b.example".into());
        assert!(matches!(
            check_certificate(&two, "a.example", &d),
            Err(AlpnCertificateError::Names { .. })
        ));
        let mut ip = good("a.example", d);
        ip.other_names = 1;
        assert!(matches!(
            check_certificate(&ip, "a.example", &d),
            Err(AlpnCertificateError::Names { .. })
        ));
        assert!(matches!(
            check_certificate(&good("b.example", d), "a.example", &d),
            Err(AlpnCertificateError::Names { .. })
        ));
        let mut none = good("a.example", d);
        none.acme_identifier = None;
        assert_eq!(
            check_certificate(&none, "a.example", &d),
            Err(AlpnCertificateError::NoAcmeIdentifier)
        );
        let mut soft = good("a.example", d);
        soft.acme_identifier = Some((false, Some(d.to_vec())));
        assert_eq!(
            check_certificate(&soft, "a.example", &d),
            Err(AlpnCertificateError::NotCritical)
        );
        let mut short = good("a.example", d);
        short.acme_identifier = Some((true, Some(d[..31].to_vec())));
        assert_eq!(
            check_certificate(&short, "a.example", &d),
            Err(AlpnCertificateError::BadEncoding)
        );
        let other = acme_identifier("t", "other-key");
        assert!(matches!(
            check_certificate(&good("a.example", other), "a.example", &d),
            Err(AlpnCertificateError::WrongDigest { .. })
        ));
    }
}
