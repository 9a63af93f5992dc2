//! Certificate profiles: what goes into an end-entity certificate besides the key.
//!
//! - [`Profile::TlsServer`]: RFC 7817 §4 and draft-ietf-acme-email-tls-05 (mail servers):
//!   DNS-IDs (dNSName), optional SRV-IDs (SRVName, RFC 4985), a CN-ID, EKU serverAuth.
//! - [`Profile::Smime`]: RFC 8823 §3 / RFC 8550 §4.4: the address as rfc822Name or
//!   SmtpUTF8Mailbox (RFC 8398 §3), empty subject, EKU emailProtection, KU chosen per
//!   RFC 8823 §3.3.

use acmeproof_protocol::address::{SanForm, domain_to_a_labels, parse_address, san_form};
use rcgen::{CertificateParams, DistinguishedName, DnType, ExtendedKeyUsagePurpose, IsCa};

use super::PkiError;
use super::rcgen_key_usages;
use super::san::apply_sans;
use acmeproof_protocol::pki::KeyUsageBits;
use acmeproof_protocol::pki::{KeyAlgorithm, SanName, SmimeUsage};

/// RFC 5280 Appendix A.1: `ub-common-name INTEGER ::= 64`.
const UB_COMMON_NAME: usize = 64;

/// The kind of end-entity certificate to issue.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Profile {
    /// A TLS server certificate (mail or web server).
    TlsServer {
        /// DNS-IDs, in order; the first is also the CN-ID (RFC 7817 §4). At least one.
        /// U-labels are converted to A-labels (RFC 5280 §7.2); a leading `*.` is kept.
        dns_names: Vec<String>,
        /// SRV-IDs such as `_imaps.example.net` (RFC 4985 §2, RFC 7817 §6: no `_tcp`).
        srv_names: Vec<String>,
    },
    /// A mail server certificate with SRV-IDs only (knob tls_profile = srv-only): no
    /// dNSName, no CN-ID; keyUsage digitalSignature and keyAgreement, extKeyUsage serverAuth
    /// and clientAuth. RFC 7817 §4 leaves the SAN set and the usages to the CA.
    SrvOnly {
        /// SRV-IDs such as `_imaps.example.net`; at least one.
        srv_names: Vec<String>,
    },
    /// An S/MIME certificate for one address (RFC 8823).
    Smime {
        /// The address, as in the `email` identifier.
        email: String,
        /// Signing, encryption or both (see `SmimeUsage::from_csr_key_usage`).
        usage: SmimeUsage,
    },
}

impl Profile {
    /// Fills subject, SANs, KU, EKU and basic constraints of `params` for a key of type `key`.
    pub(crate) fn apply(
        &self,
        params: &mut CertificateParams,
        key: KeyAlgorithm,
    ) -> Result<(), PkiError> {
        // RFC 5280 §4.2.1.9: end entities may carry cA FALSE; rcgen writes the subject key
        // identifier (RFC 5280 §4.2.1.2) only together with basicConstraints.
        params.is_ca = IsCa::ExplicitNoCa;
        params.distinguished_name = DistinguishedName::new();
        match self {
            Profile::TlsServer {
                dns_names,
                srv_names,
            } => {
                let dns: Vec<String> = dns_names
                    .iter()
                    .map(|d| dns_a_labels(d))
                    .collect::<Result<_, _>>()?;
                let first = dns.first().ok_or_else(|| {
                    PkiError::Profile("a TLS server certificate needs at least one DNS name".into())
                })?;
                // RFC 7817 §4: CAs MUST support CN-ID; it is the first DNS-ID. A name longer
                // than ub-common-name cannot be a CN; the subject is then empty and the SAN
                // critical (RFC 5280 §4.2.1.6).
                if first.len() <= UB_COMMON_NAME {
                    params
                        .distinguished_name
                        .push(DnType::CommonName, first.clone());
                }
                let mut names: Vec<SanName> = dns.into_iter().map(SanName::Dns).collect();
                for srv in srv_names {
                    names.push(SanName::SrvName(srv_name(srv)?));
                }
                apply_sans(params, &names)?;
                // RFC 5246 §7.4.2 / RFC 8446 §4.4.2: an RSA key exchanges keys by encipherment
                // in TLS 1.2; EC and Ed25519 keys only sign.
                let ku = if key.is_rsa() {
                    KeyUsageBits::DIGITAL_SIGNATURE | KeyUsageBits::KEY_ENCIPHERMENT
                } else {
                    KeyUsageBits::DIGITAL_SIGNATURE
                };
                params.key_usages = rcgen_key_usages(ku);
                params.extended_key_usages = vec![ExtendedKeyUsagePurpose::ServerAuth];
            }
            Profile::SrvOnly { srv_names } => {
                let names = srv_names
                    .iter()
                    .map(|s| srv_name(s).map(SanName::SrvName))
                    .collect::<Result<Vec<_>, _>>()?;
                // An empty subject: the SAN goes critical (RFC 5280 §4.2.1.6).
                apply_sans(params, &names)?;
                params.key_usages =
                    rcgen_key_usages(KeyUsageBits::DIGITAL_SIGNATURE | KeyUsageBits::KEY_AGREEMENT);
                params.extended_key_usages = vec![
                    ExtendedKeyUsagePurpose::ServerAuth,
                    ExtendedKeyUsagePurpose::ClientAuth,
                ];
            }
            Profile::Smime { email, usage } => {
                let addr = parse_address(email).map_err(|e| {
                    PkiError::Profile(format!("{email:?} is not an e-mail address: {e}"))
                })?;
                // RFC 8550 §3: "The email address SHOULD be in the subjectAltName extension and
                // SHOULD NOT be in the subject distinguished name." The subject stays empty.
                //
                // RFC 8550 §4.4.3 / RFC 8398 §3 Table 1: an ASCII local part is an rfc822Name
                // with the domain in A-labels; a non-ASCII local part is an SmtpUTF8Mailbox
                // whose non-ASCII domain labels "MUST be U-labels" (RFC 8398 §3; RFC 9598 keeps
                // the rule), ASCII labels lowercased. `san_form` implements that table.
                let san = match san_form(&addr)
                    .map_err(|e| PkiError::Profile(format!("{email:?}: {e}")))?
                {
                    SanForm::Rfc822Name(v) => SanName::Rfc822(v),
                    SanForm::SmtpUtf8Mailbox(v) => SanName::SmtpUtf8Mailbox(v),
                };
                apply_sans(params, &[san])?;
                // RFC 8550 §4.4.2: "If a key usage extension is included in a PKIX certificate,
                // then it MUST be marked as critical." rcgen always marks it critical.
                params.key_usages = rcgen_key_usages(
                    usage
                        .key_usage(key)
                        .map_err(|e| PkiError::Profile(e.to_string()))?,
                );
                // RFC 8550 §4.4.4: id-kp-emailProtection.
                params.extended_key_usages = vec![ExtendedKeyUsagePurpose::EmailProtection];
            }
        }
        Ok(())
    }
}

/// A DNS-ID in lowercase A-labels, a leading wildcard label kept (RFC 7817 §4: "MAY allow …
/// the wildcard character '*' … as the complete left-most label").
pub(crate) fn dns_a_labels(name: &str) -> Result<String, PkiError> {
    let (wild, rest) = match name.strip_prefix("*.") {
        Some(rest) => ("*.", rest),
        None => ("", name),
    };
    domain_to_a_labels(rest)
        .map(|a| format!("{wild}{a}"))
        .map_err(|e| PkiError::Profile(format!("{name:?} is not a DNS name: {e}")))
}

/// RFC 4985 §2: `_Service.Name`; "The Name MUST be converted to ACE … before it is stored";
/// service names are case-insensitive and written here in lowercase.
fn srv_name(srv: &str) -> Result<String, PkiError> {
    let bad = |why: &str| PkiError::Profile(format!("{srv:?} is not an SRVName: {why}"));
    let rest = srv
        .strip_prefix('_')
        .ok_or_else(|| bad("must start with '_'"))?;
    let (service, name) = rest
        .split_once('.')
        .ok_or_else(|| bad("no name after the service"))?;
    if service.is_empty()
        || service.len() > 15
        || !service
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-')
    {
        // RFC 6335 §5.1: service names are 1–15 letters, digits and hyphens.
        return Err(bad("invalid service name"));
    }
    let name = domain_to_a_labels(name).map_err(|e| bad(&e.to_string()))?;
    Ok(format!("_{}.{name}", service.to_ascii_lowercase()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn srv_names_are_normalised_and_checked() {
        assert_eq!(
            srv_name("_IMAPS.Mail.Example.TEST").unwrap(),
            "_imaps.mail.example.test"
        );
        assert_eq!(
            srv_name("_imaps.bücher.example").unwrap(),
            "_imaps.xn--bcher-kva.example"
        );
        for bad in [
            "imaps.example.test",
            "_.example.test",
            "_imaps",
            "_im aps.example.test",
        ] {
            assert!(srv_name(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn dns_names_become_a_labels() {
        assert_eq!(
            dns_a_labels("Bücher.Example").unwrap(),
            "xn--bcher-kva.example"
        );
        assert_eq!(dns_a_labels("*.Example.test").unwrap(), "*.example.test");
        assert!(dns_a_labels("a..b").is_err());
    }
}
