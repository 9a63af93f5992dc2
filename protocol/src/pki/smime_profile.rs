//! The certificate a CA issued on finalize, held against the CSR it was asked for: the names,
//! the key and the key usage of the request, and a purpose S/MIME agents accept.

use x509_parser::certificate::X509Certificate;
use x509_parser::certification_request::X509CertificationRequest;
use x509_parser::extensions::{GeneralName, ParsedExtension};
use x509_parser::prelude::FromDer;

use super::cert::CertSummary;
use super::csr::SanName;
use super::server_profile::eku_names;
use super::smime_usage::SmimeUsage;
use super::usage::KeyUsageBits;
use crate::address::{parse_address, san_form};
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
            ParsedExtension::KeyUsage(ku) => csr_usage = Some(KeyUsageBits::from_flags(ku.flags)),
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
            ParsedExtension::KeyUsage(ku) => cert_usage = Some(KeyUsageBits::from_flags(ku.flags)),
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
    check_usage(csr_usage, cert_usage, &mut out);
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

/// The S/MIME profile of the certificate the reference MUA got for `address` after asking for
/// `usage` (what an S/MIME agent checks before it uses the certificate):
/// - ACME-45: it names the address in the subjectAltName form RFC 8398 §3 gives it ("When the
///   local-part is ASCII, rfc822Name subjectAltName MUST be used"; a non-ASCII one is an
///   SmtpUTF8Mailbox), as the CSR asked;
/// - MAIL-9 (RFC 8550 §4.4.4): the extKeyUsage is present and holds emailProtection (the MUA
///   asks more than the MUST: anyExtendedKeyUsage or no extension is not enough for it);
/// - SMIME-57 (RFC 8823 §3.3): the keyUsage is present and fits `usage` exactly.
///
/// An address that does not parse is one finding under ACME-45.
pub fn check_smime_leaf(leaf: &CertSummary, address: &str, usage: SmimeUsage) -> Findings {
    let mut out = Findings::new();
    match parse_address(address).and_then(|a| san_form(&a)) {
        Err(e) => out.add(
            req::ACME_45,
            "a certificate for an e-mail address",
            format!("{address}: {e}"),
        ),
        Ok(form) => {
            let san = SanName::from(form).tagged();
            if !leaf.has_san(&san) {
                out.add(
                    req::ACME_45,
                    format!("the subjectAltName {san} (RFC 8398 §3)"),
                    format!("no SAN {san}: {:?}", leaf.sans),
                );
            }
        }
    }
    let eku = leaf.eku_names();
    if !eku.iter().any(|p| p == "emailProtection") {
        out.add(
            req::MAIL_9,
            "extKeyUsage with emailProtection (RFC 8550 §4.4.4)",
            format!("EKU lacks emailProtection: {eku:?}"),
        );
    }
    let bits = leaf.key_usage.as_ref().map(|k| k.value);
    if !usage.fits(Some(bits.unwrap_or(KeyUsageBits::EMPTY))) {
        out.add(
            req::SMIME_57,
            format!("keyUsage for {usage} (RFC 8823 §3.3)"),
            format!(
                "key usage {:?} does not match the {usage:?} the CSR asked for",
                leaf.key_usage_names()
            ),
        );
    }
    out
}

/// What RFC 8823 §3.3 makes of the CSR's key usage ([`SmimeUsage::read`]: a request with
/// bits outside the two sets is read as both, the client's fault and not judged here), held
/// against the certificate's ([`SmimeUsage::fits`]).
fn check_usage(asked: Option<KeyUsageBits>, got: Option<KeyUsageBits>, out: &mut Findings) {
    let want = SmimeUsage::read(asked);
    if !want.fits(got) {
        let what = match want {
            SmimeUsage::SigningOnly { .. } => "signing-only",
            SmimeUsage::EncryptionOnly => "encryption-only",
            SmimeUsage::Both { .. } => "signing and encryption",
        };
        let names = |bits: Option<KeyUsageBits>| bits.map(KeyUsageBits::names);
        out.add(
            req::SMIME_57,
            format!(
                "a {what} certificate, as the CSR's key usage {:?} asks (RFC 8823 §3.3)",
                names(asked)
            ),
            format!("keyUsage {:?}", names(got)),
        );
    }
}

/// One subjectAltName as text for comparison: e-mail addresses and DNS names with their domain
/// lower-cased (domains are case-insensitive; local parts are not), other names by their
/// encoding.
fn describe(name: &GeneralName<'_>) -> String {
    let lower_domain = |addr: &str| match crate::address::split(addr) {
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

    fn leaf(
        names: &[&str],
        usage: &[KeyUsagePurpose],
        eku: &[ExtendedKeyUsagePurpose],
    ) -> CertSummary {
        let key = KeyPair::generate().unwrap();
        CertSummary::from_der(&cert(&key, names, usage, eku)).unwrap()
    }

    #[test]
    fn the_leaf_the_mua_asked_for_passes() {
        let ka = KeyUsagePurpose::KeyAgreement;
        for (usage, bits) in [
            (SmimeUsage::BOTH, &[DS, ka][..]),
            (SmimeUsage::SIGNING, &[DS][..]),
            (SmimeUsage::EncryptionOnly, &[ka][..]),
        ] {
            let l = leaf(&["alice@example.test"], bits, &[EMAIL]);
            let found = check_smime_leaf(&l, "alice@example.test", usage);
            assert!(found.as_slice().is_empty(), "{usage:?}: {found:?}");
        }
    }

    #[test]
    fn a_leaf_off_the_profile_is_flagged_under_its_rule() {
        let good = leaf(&["alice@example.test"], &[DS, KE], &[EMAIL]);
        assert_eq!(
            check_smime_leaf(&good, "bob@example.test", SmimeUsage::BOTH).ids(),
            ["ACME-45"]
        );
        assert_eq!(
            check_smime_leaf(&good, "not an address", SmimeUsage::BOTH).ids(),
            ["ACME-45"]
        );
        assert_eq!(
            check_smime_leaf(&good, "alice@example.test", SmimeUsage::SIGNING).ids(),
            ["SMIME-57"]
        );
        let server = leaf(
            &["alice@example.test"],
            &[DS, KE],
            &[ExtendedKeyUsagePurpose::ServerAuth],
        );
        assert_eq!(
            check_smime_leaf(&server, "alice@example.test", SmimeUsage::BOTH).ids(),
            ["MAIL-9"]
        );
        // The MUA wants the keyUsage extension: none at all is not "both".
        let no_usage = leaf(&["alice@example.test"], &[], &[EMAIL]);
        assert_eq!(
            check_smime_leaf(&no_usage, "alice@example.test", SmimeUsage::BOTH).ids(),
            ["SMIME-57"]
        );
    }
}
