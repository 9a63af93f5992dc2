//! Reading a certificate back with x509-parser: the facts the certificate checkers, the CA's
//! tests and the harness look at in an issued certificate ([`CertSummary`]).

use x509_parser::certificate::X509Certificate;
use x509_parser::extensions::ParsedExtension;
use x509_parser::oid_registry::OID_X509_EXT_SUBJECT_ALT_NAME;
use x509_parser::prelude::FromDer as _;

use super::csr::{CsrError, KeyAlgorithm, SanName};
use super::usage::KeyUsageBits;

/// Why a certificate cannot be read or a chain does not verify.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum InspectError {
    /// Not a DER X.509 certificate (or bytes after it); names which one.
    #[error("{which}: not a DER X.509 certificate: {reason}")]
    Malformed {
        /// `leaf`, `intermediate`, `root` or `certificate`.
        which: &'static str,
        /// The parser's message.
        reason: String,
    },
    /// An extension is present but does not parse, or appears twice (RFC 5280 §4.2).
    #[error("extension {oid}: {reason}")]
    BadExtension {
        /// Dotted OID.
        oid: String,
        /// What is wrong.
        reason: String,
    },
    /// A certificate's public key is not one of the accepted types.
    #[error("public key: {0}")]
    Key(#[from] CsrError),
    /// A link of the chain is wrong (name, CA flag or signature).
    #[error("chain: {0}")]
    Chain(String),
}

/// A critical flag and a value.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Flagged<T> {
    /// The extension's `critical` flag.
    pub critical: bool,
    /// The decoded value.
    pub value: T,
}

/// basicConstraints (RFC 5280 §4.2.1.9).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Constraints {
    /// cA.
    pub ca: bool,
    /// pathLenConstraint.
    pub path_len: Option<u32>,
}

/// The checkable facts of one certificate.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CertSummary {
    /// Subject DN in RFC 4514-like text (empty string for an empty subject).
    pub subject: String,
    /// True if the subject is an empty SEQUENCE.
    pub subject_empty: bool,
    /// Issuer DN text.
    pub issuer: String,
    /// Serial number, lowercase hex without separators.
    pub serial_hex: String,
    /// notBefore.
    pub not_before: time::OffsetDateTime,
    /// notAfter.
    pub not_after: time::OffsetDateTime,
    /// The subject key's algorithm, or the reason it is not one this CA accepts.
    pub key: Result<KeyAlgorithm, String>,
    /// subjectAltNames as tagged strings: `dns:…`, `email:…` (rfc822Name), `smtputf8:…`,
    /// `srv:…`, `ip:…`, `other:…`.
    pub sans: Vec<String>,
    /// The SAN extension's critical flag (`None`: no SAN extension).
    pub san_critical: Option<bool>,
    /// How many SAN extensions the certificate has (RFC 5280 §4.2: at most one).
    pub san_extensions: usize,
    /// keyUsage bits and criticality.
    pub key_usage: Option<Flagged<KeyUsageBits>>,
    /// extKeyUsage purposes by name (`serverAuth`, `clientAuth`, `emailProtection`, …, other
    /// OIDs dotted) and criticality.
    pub extended_key_usage: Option<Flagged<Vec<String>>>,
    /// basicConstraints and criticality.
    pub basic_constraints: Option<Flagged<Constraints>>,
    /// subjectKeyIdentifier, hex.
    pub subject_key_id: Option<String>,
    /// authorityKeyIdentifier keyIdentifier, hex (`Some("")` if the extension has none).
    pub authority_key_id: Option<String>,
}

impl CertSummary {
    /// Reads a DER certificate.
    pub fn from_der(der: &[u8]) -> Result<CertSummary, InspectError> {
        let cert = parse(der, "certificate")?;
        let mut summary = CertSummary {
            subject: cert.subject().to_string(),
            subject_empty: cert.subject().iter().next().is_none(),
            issuer: cert.issuer().to_string(),
            serial_hex: hex(cert.raw_serial()),
            not_before: cert.validity().not_before.to_datetime(),
            not_after: cert.validity().not_after.to_datetime(),
            key: KeyAlgorithm::of_spki(cert.public_key()).map_err(|e| e.to_string()),
            sans: Vec::new(),
            san_critical: None,
            san_extensions: 0,
            key_usage: None,
            extended_key_usage: None,
            basic_constraints: None,
            subject_key_id: None,
            authority_key_id: None,
        };
        for ext in cert.extensions() {
            let critical = ext.critical;
            let bad = |reason: String| InspectError::BadExtension {
                oid: ext.oid.to_id_string(),
                reason,
            };
            match ext.parsed_extension() {
                ParsedExtension::SubjectAlternativeName(san) => {
                    summary.san_extensions += 1;
                    if summary.san_critical.is_none() {
                        summary.san_critical = Some(critical);
                        summary.sans = san
                            .general_names
                            .iter()
                            .map(|n| SanName::from_general_name(n).tagged())
                            .collect();
                    }
                }
                ParsedExtension::KeyUsage(ku) => {
                    summary.key_usage = Some(Flagged {
                        critical,
                        value: KeyUsageBits::from_flags(ku.flags),
                    });
                }
                ParsedExtension::ExtendedKeyUsage(eku) => {
                    summary.extended_key_usage = Some(Flagged {
                        critical,
                        value: super::server_profile::eku_names(eku),
                    });
                }
                ParsedExtension::BasicConstraints(bc) => {
                    summary.basic_constraints = Some(Flagged {
                        critical,
                        value: Constraints {
                            ca: bc.ca,
                            path_len: bc.path_len_constraint,
                        },
                    });
                }
                ParsedExtension::SubjectKeyIdentifier(kid) => {
                    summary.subject_key_id = Some(hex(kid.0));
                }
                ParsedExtension::AuthorityKeyIdentifier(aki) => {
                    summary.authority_key_id = Some(
                        aki.key_identifier
                            .as_ref()
                            .map(|k| hex(k.0))
                            .unwrap_or_default(),
                    );
                }
                ParsedExtension::ParseError { error } => return Err(bad(error.to_string())),
                _ => {}
            }
        }
        // RFC 5280 §4.2: "A certificate MUST NOT include more than one instance of a particular
        // extension." x509-parser keeps duplicates; a duplicated SAN is reported through
        // `san_extensions` (tests check it), any other duplicate is an error here.
        let mut seen = std::collections::BTreeSet::new();
        for ext in cert.extensions() {
            if ext.oid != OID_X509_EXT_SUBJECT_ALT_NAME && !seen.insert(ext.oid.to_id_string()) {
                return Err(InspectError::BadExtension {
                    oid: ext.oid.to_id_string(),
                    reason: "appears more than once (RFC 5280 §4.2)".into(),
                });
            }
        }
        Ok(summary)
    }

    /// The EKU purposes (`serverAuth`, `emailProtection`, …); empty without the extension.
    pub fn eku_names(&self) -> Vec<String> {
        self.extended_key_usage
            .as_ref()
            .map(|e| e.value.clone())
            .unwrap_or_default()
    }

    /// The keyUsage bits by name (`digitalSignature`, …); empty without the extension.
    pub fn key_usage_names(&self) -> Vec<String> {
        self.key_usage
            .as_ref()
            .map(|k| k.value.names())
            .unwrap_or_default()
    }

    /// True if `tagged` (e.g. `"dns:mail.example.test"`) is among the SANs.
    pub fn has_san(&self, tagged: &str) -> bool {
        self.sans.iter().any(|s| s == tagged)
    }
}

/// Parses one DER certificate with nothing after it; `which` names it in the error.
pub fn parse<'a>(der: &'a [u8], which: &'static str) -> Result<X509Certificate<'a>, InspectError> {
    let (rest, cert) = X509Certificate::from_der(der).map_err(|e| InspectError::Malformed {
        which,
        reason: e.to_string(),
    })?;
    if !rest.is_empty() {
        return Err(InspectError::Malformed {
            which,
            reason: format!("{} bytes after the certificate", rest.len()),
        });
    }
    Ok(cert)
}

/// Lowercase hex without separators.
fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn garbage_is_an_error_naming_the_certificate() {
        let err = CertSummary::from_der(b"\x30\x00").unwrap_err();
        assert!(matches!(
            err,
            InspectError::Malformed {
                which: "certificate",
                ..
            }
        ));
    }
}
