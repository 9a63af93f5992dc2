//! The certificate a CA issued on finalize, held against the CSR it was asked for: the names,
//! the key and the key usage of the request, and a purpose S/MIME agents accept.

use x509_parser::certificate::X509Certificate;
use x509_parser::certification_request::X509CertificationRequest;
use x509_parser::extensions::{GeneralName, ParsedExtension};
use x509_parser::prelude::FromDer;

use super::server_profile::{eku_names, key_usage_names};
use crate::finding::Findings;
use crate::requirements as req;

/// Checks the end-entity certificate `leaf_der` issued for the CSR `csr_der`:
/// - ACME-45 (RFC 8555 §7.4: "A request to finalize an order will result in an error if the CA
///   is unwilling to issue a certificate corresponding to the submitted CSR"): its
///   subjectAltNames are exactly the CSR's (none missing, none added) and its public key is
///   the CSR's;
/// - SMIME-57 (RFC 8823 §3.3): the key usage the CSR asked for. "In order to request
///   signing-only S/MIME certificates, the CSR MUST include the key usage extension with
///   digitalSignature and/or nonRepudiation bits set and no other bits set. In order to request
///   encryption-only S/MIME certificates, the CSR MUST include the key usage extension with
///   keyEncipherment or keyAgreement bits set and no other bits set. Presence of both of the
///   above sets of key usage bits in the CSR, as well as absence of key usage extension in the
///   CSR, signals to the ACME server to issue an S/MIME certificate suitable for both signing
///   and encryption.";
/// - MAIL-9 (RFC 8550 §4.4.4): "If the extended key usage extension is present in the
///   certificate, then interpreting S/MIME agents MUST check that it contains either the
///   emailProtection or the anyExtendedKeyUsage OID": without one of them no S/MIME agent
///   uses the certificate.
///
/// A certificate that does not parse is ACME-23's (the chain is not what §7.4.2 describes); a
/// CSR that does not parse (the harness's own) gives no finding.
pub fn check_issued_certificate(leaf_der: &[u8], csr_der: &[u8]) -> Findings {
    let mut out = Findings::new();
    let Ok((_, csr)) = X509CertificationRequest::from_der(csr_der) else {
        return out;
    };
    let cert = match X509Certificate::from_der(leaf_der) {
        Ok((_, cert)) => cert,
        Err(e) => {
            out.add(
                req::ACME_23,
                "an end-entity certificate first in the chain (RFC 8555 §7.4.2)",
                format!("it does not parse: {e}"),
            );
            return out;
        }
    };
    let mut csr_names = Vec::new();
    let mut csr_usage = None;
    for ext in csr.requested_extensions().into_iter().flatten() {
        match ext {
            ParsedExtension::SubjectAlternativeName(san) => {
                csr_names.extend(san.general_names.iter().map(describe));
            }
            ParsedExtension::KeyUsage(ku) => csr_usage = Some(key_usage_names(ku)),
            _ => {}
        }
    }
    let mut cert_names = Vec::new();
    let mut cert_usage = None;
    let mut cert_eku = None;
    for ext in cert.extensions() {
        match ext.parsed_extension() {
            ParsedExtension::SubjectAlternativeName(san) => {
                cert_names.extend(san.general_names.iter().map(describe));
            }
            ParsedExtension::KeyUsage(ku) => cert_usage = Some(key_usage_names(ku)),
            ParsedExtension::ExtendedKeyUsage(eku) => cert_eku = Some(eku_names(eku)),
            _ => {}
        }
    }
    csr_names.sort();
    csr_names.dedup();
    cert_names.sort();
    cert_names.dedup();
    let missing: Vec<&String> = csr_names
        .iter()
        .filter(|n| !cert_names.contains(n))
        .collect();
    let added: Vec<&String> = cert_names
        .iter()
        .filter(|n| !csr_names.contains(n))
        .collect();
    if !missing.is_empty() || !added.is_empty() {
        out.add(
            req::ACME_45,
            format!("the certificate names exactly the CSR's subjectAltNames {csr_names:?}"),
            format!("missing {missing:?}, added {added:?}"),
        );
    }
    if cert.public_key().raw != csr.certification_request_info.subject_pki.raw {
        out.add(
            req::ACME_45,
            "the certificate carries the CSR's public key",
            "another key",
        );
    }
    check_usage(csr_usage.as_deref(), cert_usage.as_deref(), &mut out);
    if let Some(eku) = cert_eku
        && !eku
            .iter()
            .any(|p| p == "emailProtection" || p == "anyExtendedKeyUsage")
    {
        out.add(
            req::MAIL_9,
            "extKeyUsage with emailProtection or anyExtendedKeyUsage, if present (RFC 8550 \
             §4.4.4)",
            format!("extKeyUsage {eku:?}"),
        );
    }
    out
}

/// What RFC 8823 §3.3 makes of the CSR's key usage, held against the certificate's. A
/// certificate without keyUsage may be used for anything (RFC 5280 §4.2.1.3), so it is
/// signing-only or encryption-only for no one.
fn check_usage(asked: Option<&[&str]>, got: Option<&[&str]>, out: &mut Findings) {
    let signs = |bits: &[&str]| {
        bits.iter()
            .any(|b| matches!(*b, "digitalSignature" | "nonRepudiation"))
    };
    // RFC 8823 §3.3: encryption is keyEncipherment (RSA) or keyAgreement (EC).
    let encrypts = |bits: &[&str]| {
        bits.iter()
            .any(|b| matches!(*b, "keyEncipherment" | "keyAgreement"))
    };
    let (want_sign, want_encrypt, what) = match asked {
        Some(bits) if signs(bits) && !encrypts(bits) => (true, false, "signing-only"),
        Some(bits) if encrypts(bits) && !signs(bits) => (false, true, "encryption-only"),
        _ => (true, true, "signing and encryption"),
    };
    let fits = match got {
        None => want_sign && want_encrypt,
        Some(bits) => signs(bits) == want_sign && encrypts(bits) == want_encrypt,
    };
    if !fits {
        out.add(
            req::SMIME_57,
            format!("a {what} certificate, as the CSR's key usage {asked:?} asks (RFC 8823 §3.3)"),
            format!("keyUsage {got:?}"),
        );
    }
}

/// One subjectAltName as text for comparison: e-mail addresses and DNS names with their domain
/// lower-cased (domains are case-insensitive; local parts are not), other names by their
/// encoding.
fn describe(name: &GeneralName<'_>) -> String {
    let lower_domain = |addr: &str| match addr.rsplit_once('@') {
        Some((local, domain)) => format!("{local}@{}", domain.to_lowercase()),
        None => addr.to_lowercase(),
    };
    match name {
        GeneralName::RFC822Name(addr) => format!("rfc822Name {}", lower_domain(addr)),
        GeneralName::DNSName(d) => format!("dNSName {}", d.to_lowercase()),
        GeneralName::OtherName(oid, raw) => {
            let hex: String = raw.iter().map(|b| format!("{b:02x}")).collect();
            format!("otherName {oid} {hex}")
        }
        other => other.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rcgen::{
        CertificateParams, DnType, ExtendedKeyUsagePurpose, IsCa, KeyPair, KeyUsagePurpose, SanType,
    };

    const DS: KeyUsagePurpose = KeyUsagePurpose::DigitalSignature;
    const KE: KeyUsagePurpose = KeyUsagePurpose::KeyEncipherment;

    fn san(addr: &str) -> SanType {
        SanType::Rfc822Name(addr.try_into().unwrap())
    }

    fn csr(key: &KeyPair, names: &[&str], usage: &[KeyUsagePurpose]) -> Vec<u8> {
        let mut p = CertificateParams::default();
        p.subject_alt_names = names.iter().map(|n| san(n)).collect();
        p.key_usages = usage.to_vec();
        p.serialize_request(key).unwrap().der().to_vec()
    }

    /// A certificate for `key`, signed by a throwaway CA.
    fn cert(
        key: &KeyPair,
        names: &[&str],
        usage: &[KeyUsagePurpose],
        eku: &[ExtendedKeyUsagePurpose],
    ) -> Vec<u8> {
        let ca_key = KeyPair::generate().unwrap();
        let mut ca = CertificateParams::default();
        ca.is_ca = IsCa::Ca(rcgen::BasicConstraints::Unconstrained);
        ca.distinguished_name.push(DnType::CommonName, "test CA");
        let issuer = rcgen::Issuer::new(ca, ca_key);
        let mut p = CertificateParams::default();
        p.subject_alt_names = names.iter().map(|n| san(n)).collect();
        p.key_usages = usage.to_vec();
        p.extended_key_usages = eku.to_vec();
        p.signed_by(key, &issuer).unwrap().der().to_vec()
    }

    const EMAIL: ExtendedKeyUsagePurpose = ExtendedKeyUsagePurpose::EmailProtection;

    #[test]
    fn the_certificate_asked_for_passes() {
        let key = KeyPair::generate().unwrap();
        for (asked, issued) in [
            (&[][..], &[DS, KeyUsagePurpose::KeyAgreement][..]),
            (&[DS, KE][..], &[DS, KE][..]),
            (&[DS][..], &[DS, KeyUsagePurpose::ContentCommitment][..]),
            (&[KE][..], &[KE][..]),
        ] {
            let c = cert(&key, &["alice@Example.test"], issued, &[EMAIL]);
            let r = csr(&key, &["alice@example.test"], asked);
            assert!(
                check_issued_certificate(&c, &r).as_slice().is_empty(),
                "{asked:?} -> {issued:?}: {:?}",
                check_issued_certificate(&c, &r)
            );
        }
        // No extKeyUsage at all: any purpose (RFC 5280 §4.2.1.12).
        let c = cert(&key, &["alice@example.test"], &[DS, KE], &[]);
        let r = csr(&key, &["alice@example.test"], &[]);
        assert!(check_issued_certificate(&c, &r).as_slice().is_empty());
    }

    #[test]
    fn names_other_than_the_csr_are_acme_45() {
        let key = KeyPair::generate().unwrap();
        let r = csr(&key, &["alice@example.test"], &[]);
        for names in [
            &["alice@example.test", "bob@example.test"][..],
            &["bob@example.test"][..],
            &[][..],
            &["Alice@example.test"][..],
        ] {
            let c = cert(&key, names, &[DS, KE], &[EMAIL]);
            assert_eq!(
                check_issued_certificate(&c, &r).ids(),
                ["ACME-45"],
                "{names:?}"
            );
        }
    }

    #[test]
    fn another_key_is_acme_45() {
        let key = KeyPair::generate().unwrap();
        let other = KeyPair::generate().unwrap();
        let c = cert(&other, &["alice@example.test"], &[DS, KE], &[EMAIL]);
        let r = csr(&key, &["alice@example.test"], &[]);
        assert_eq!(check_issued_certificate(&c, &r).ids(), ["ACME-45"]);
    }

    #[test]
    fn a_key_usage_other_than_asked_is_smime_57() {
        let key = KeyPair::generate().unwrap();
        for (asked, issued) in [
            (&[DS][..], &[DS, KE][..]),
            (&[KE][..], &[DS][..]),
            (&[][..], &[DS][..]),
            (&[DS, KE][..], &[KE][..]),
            (&[DS][..], &[][..]),
        ] {
            let c = cert(&key, &["alice@example.test"], issued, &[EMAIL]);
            let r = csr(&key, &["alice@example.test"], asked);
            assert_eq!(
                check_issued_certificate(&c, &r).ids(),
                ["SMIME-57"],
                "{asked:?} -> {issued:?}"
            );
        }
    }

    #[test]
    fn an_eku_without_email_protection_is_mail_9() {
        let key = KeyPair::generate().unwrap();
        let c = cert(
            &key,
            &["alice@example.test"],
            &[DS, KE],
            &[ExtendedKeyUsagePurpose::ServerAuth],
        );
        let r = csr(&key, &["alice@example.test"], &[]);
        assert_eq!(check_issued_certificate(&c, &r).ids(), ["MAIL-9"]);
        let c = cert(
            &key,
            &["alice@example.test"],
            &[DS, KE],
            &[ExtendedKeyUsagePurpose::Any],
        );
        assert!(check_issued_certificate(&c, &r).as_slice().is_empty());
    }

    #[test]
    fn an_unparsable_certificate_is_acme_23() {
        let key = KeyPair::generate().unwrap();
        let r = csr(&key, &["alice@example.test"], &[]);
        assert_eq!(check_issued_certificate(b"junk", &r).ids(), ["ACME-23"]);
    }
}
