//! The certificate of a mail server that proved its name and service through
//! draft-ietf-acme-email-tls, checked against RFC 7817 §4 (TLS-4).
//!
//! RFC 7817 §4 ("Compliance Checklist for Certification Authorities") says what a CA MUST be
//! able to issue, not what every certificate MUST look like:
//!
//! > CAs MUST support issuance of server certificates with DNS-ID identifier type. …
//! > CAs MUST support issuance of server certificates with SRV-ID identifier type for each
//! > type of email service. … For backward compatibility with a deployed client base, CAs
//! > MUST support issuance of server certificates with CN-ID identifier type.
//!
//! and §4.1 forbids the other direction: a CA that cannot verify the authorization "MUST NOT
//! include such email SRV-IDs/DNS-IDs". draft-ietf-acme-email-tls-02…-05 §3.1 binds ACME
//! servers to RFC 7817 §4. So, at [`Level::Must`] under TLS-4:
//!
//! - the certificate carries an identifier the client asked for and proved: the `dns`
//!   identifier as a DNS-ID (dNSName or CN-ID), or the SRV-ID (`_service.domain`, RFC 4985) of
//!   a validated service;
//! - it carries nothing that was not validated: no other dNSName, no SRV-ID of a service that
//!   was not proved (the twin of a proved one excepted, see below), no other kind of name.
//!
//! Everything else is a choice the texts leave to the CA, reported at [`Level::Info`] (a
//! policy note; a CA is never failed on it):
//!
//! - the exact SAN set: whether the DNS-ID comes with the SRV-IDs, whether each validated
//!   service gets its SRV-ID (-00/-01 §3.1 even said "MAY include SRV-ID"), whether the CN-ID
//!   is there;
//! - the twin SRV-ID (imap ↔ imaps, …) that -03…-05 §4 open issue 1 lets a CA consider ("it can
//!   include SRV-ID for the other port, if it can verify that both are running");
//! - whether a dNSName, valid for every port of the name, comes with a capability proof made on
//!   a port that is not the service's IANA default (a proof on port 2525 then vouches for 25);
//! - keyUsage and extKeyUsage: neither RFC 7817 nor any draft version says anything of them.

use x509_parser::asn1_rs::FromDer as _;
use x509_parser::certificate::X509Certificate;
use x509_parser::extensions::{GeneralName, ParsedExtension};

use super::csr::SanName;
use crate::email_tls::{self, Service};
use crate::finding::{Findings, Level};
use crate::requirements::TLS_4;

/// How a service was proved (draft-ietf-acme-email-tls-05 §3.3, §3.4).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Proof {
    /// dns-email-00: a TXT record under the name.
    DnsEmail,
    /// capability-smtp/imap/pop-00: the server on the port advertised the digest.
    Capability,
}

/// A service the order proved for the name.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Validated {
    /// The service.
    pub service: Service,
    /// The port it was proved on.
    pub port: u16,
    /// The challenge that proved it.
    pub proof: Proof,
}

/// What the certificate is judged against.
#[derive(Debug, Clone)]
pub struct Expectation<'a> {
    /// The `dns` identifier of the order.
    pub domain: &'a str,
    /// The services proved for it (empty for a plain dns-01/http-01 order).
    pub validated: &'a [Validated],
}

/// The identifiers and usages read from a certificate.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ServerNames {
    /// dNSName values, lowercase.
    pub dns: Vec<String>,
    /// SRVName values, lowercase.
    pub srv: Vec<String>,
    /// Subject commonName values.
    pub cn: Vec<String>,
    /// Any other kind of subjectAltName, described.
    pub other: Vec<String>,
    /// keyUsage bit names, `None` without the extension.
    pub key_usage: Option<Vec<&'static str>>,
    /// extKeyUsage purposes, `None` without the extension.
    pub ext_key_usage: Option<Vec<String>>,
}

/// Reads the names and usages of a DER certificate.
pub fn server_names(der: &[u8]) -> Result<ServerNames, String> {
    let (rest, cert) = X509Certificate::from_der(der).map_err(|e| e.to_string())?;
    if !rest.is_empty() {
        return Err(format!("{} octets after the certificate", rest.len()));
    }
    let mut names = ServerNames::default();
    for cn in cert.subject().iter_common_name() {
        names.cn.push(
            cn.as_str()
                .map_or_else(|_| "?".into(), str::to_ascii_lowercase),
        );
    }
    for ext in cert.extensions() {
        match ext.parsed_extension() {
            ParsedExtension::SubjectAlternativeName(san) => {
                for name in &san.general_names {
                    match name {
                        GeneralName::DNSName(d) => names.dns.push(d.to_ascii_lowercase()),
                        GeneralName::OtherName(oid, _) => match SanName::from_general_name(name) {
                            SanName::SrvName(srv) => names.srv.push(srv.to_ascii_lowercase()),
                            _ => names.other.push(format!("otherName {oid}")),
                        },
                        other => names.other.push(other.to_string()),
                    }
                }
            }
            ParsedExtension::KeyUsage(ku) => names.key_usage = Some(key_usage_names(ku)),
            ParsedExtension::ExtendedKeyUsage(eku) => {
                names.ext_key_usage = Some(eku_names(eku));
            }
            _ => {}
        }
    }
    Ok(names)
}

/// The bits of a keyUsage extension by name (RFC 5280 §4.2.1.3).
pub fn key_usage_names(ku: &x509_parser::extensions::KeyUsage) -> Vec<&'static str> {
    [
        (ku.digital_signature(), "digitalSignature"),
        (ku.non_repudiation(), "nonRepudiation"),
        (ku.key_encipherment(), "keyEncipherment"),
        (ku.data_encipherment(), "dataEncipherment"),
        (ku.key_agreement(), "keyAgreement"),
        (ku.key_cert_sign(), "keyCertSign"),
        (ku.crl_sign(), "cRLSign"),
        (ku.encipher_only(), "encipherOnly"),
        (ku.decipher_only(), "decipherOnly"),
    ]
    .iter()
    .filter(|b| b.0)
    .map(|b| b.1)
    .collect()
}

/// The purposes of an extKeyUsage extension by name (`serverAuth`, `emailProtection`, …), other
/// OIDs dotted (RFC 5280 §4.2.1.12).
pub fn eku_names(eku: &x509_parser::extensions::ExtendedKeyUsage<'_>) -> Vec<String> {
    let mut purposes: Vec<String> = [
        (eku.any, "anyExtendedKeyUsage"),
        (eku.server_auth, "serverAuth"),
        (eku.client_auth, "clientAuth"),
        (eku.code_signing, "codeSigning"),
        (eku.email_protection, "emailProtection"),
        (eku.time_stamping, "timeStamping"),
        (eku.ocsp_signing, "OCSPSigning"),
    ]
    .iter()
    .filter(|p| p.0)
    .map(|p| p.1.to_owned())
    .collect();
    purposes.extend(eku.other.iter().map(|oid| oid.to_id_string()));
    purposes
}

/// The SRV-ID of `service` for `domain` (RFC 4985 §2, RFC 7817 §6: no `_tcp` label).
pub fn srv_id(service: Service, domain: &str) -> String {
    format!("_{}.{}", service.name(), domain.to_ascii_lowercase())
}

/// The STARTTLS service and its implicit-TLS twin (RFC 8314 §3.3, §7.3).
pub fn twin(service: Service) -> Option<Service> {
    match service {
        Service::Imap => Some(Service::Imaps),
        Service::Imaps => Some(Service::Imap),
        Service::Pop3 => Some(Service::Pop3s),
        Service::Pop3s => Some(Service::Pop3),
        Service::Submission => Some(Service::Submissions),
        Service::Submissions => Some(Service::Submission),
        _ => None,
    }
}

/// Checks a mail server's leaf certificate (DER) against RFC 7817 §4 as described in the
/// module documentation: MUST-level TLS-4 findings for what the texts require, Info-level
/// TLS-4 findings for the CA's own choices.
pub fn check_server_certificate(leaf_der: &[u8], expect: &Expectation<'_>) -> Findings {
    let mut out = Findings::new();
    let names = match server_names(leaf_der) {
        Ok(names) => names,
        Err(e) => {
            out.add(TLS_4, "a certificate that parses", e);
            return out;
        }
    };
    check_names(&names, expect, &mut out);
    out
}

/// [`check_server_certificate`] on names already read.
pub fn check_names(names: &ServerNames, expect: &Expectation<'_>, out: &mut Findings) {
    let domain = expect.domain.to_ascii_lowercase();
    let validated_srv: Vec<String> = expect
        .validated
        .iter()
        .map(|v| srv_id(v.service, &domain))
        .collect();
    let twins: Vec<String> = expect
        .validated
        .iter()
        .filter_map(|v| twin(v.service))
        .map(|s| srv_id(s, &domain))
        .filter(|s| !validated_srv.contains(s))
        .collect();
    let policy = |out: &mut Findings, expected: &str, observed: String| {
        out.add(TLS_4, expected, observed);
        if let Some(last) = out.last_mut() {
            last.level = Level::Info;
        }
    };

    // RFC 7817 §4.1: nothing the CA did not verify.
    for d in names.dns.iter().filter(|d| **d != domain) {
        out.add(
            TLS_4,
            format!("no DNS-ID but the validated {domain} (RFC 7817 §4.1)"),
            format!("dNSName {d}, which the order did not validate"),
        );
    }
    for s in &names.srv {
        if validated_srv.contains(s) {
            continue;
        }
        if twins.contains(s) {
            policy(
                out,
                "policy: only the validated services' SRV-IDs (acmeproof's CA adds a twin only under knob twin_srv_id)",
                format!(
                    "SRV-ID {s}, the twin of a validated service (draft-ietf-acme-email-tls-03…-05 §4 open issue 1)"
                ),
            );
        } else {
            out.add(
                TLS_4,
                "no SRV-ID but those of the validated services (RFC 7817 §4.1)",
                format!("SRV-ID {s}, whose service the order did not validate"),
            );
        }
    }
    for o in &names.other {
        out.add(
            TLS_4,
            "only DNS-IDs and SRV-IDs of what was validated (RFC 7817 §4.1)",
            format!("subjectAltName {o}"),
        );
    }
    for cn in names.cn.iter().filter(|cn| **cn != domain) {
        out.add(
            TLS_4,
            format!("a CN-ID, if any, naming the validated {domain} (RFC 7817 §4.1)"),
            format!("commonName {cn}"),
        );
    }

    // RFC 7817 §4: a requested, validated DNS-ID or SRV-ID can be issued.
    let dns_id = names.dns.contains(&domain) || names.cn.contains(&domain);
    let srv_ids: Vec<&String> = names
        .srv
        .iter()
        .filter(|s| validated_srv.contains(s))
        .collect();
    if !dns_id && srv_ids.is_empty() {
        out.add(
            TLS_4,
            format!(
                "a DNS-ID for {domain}{} (RFC 7817 §4: \"CAs MUST support issuance\")",
                if validated_srv.is_empty() {
                    String::new()
                } else {
                    format!(" or an SRV-ID among {}", validated_srv.join(", "))
                }
            ),
            describe(names),
        );
        return;
    }

    // Policy: acmeproof's own profile.
    if !names.dns.contains(&domain) {
        policy(
            out,
            "policy: acmeproof's CA issues the dNSName with the SRV-IDs",
            format!("no dNSName {domain}: {}", describe(names)),
        );
    }
    for s in validated_srv.iter().filter(|s| !names.srv.contains(s)) {
        policy(
            out,
            "policy: acmeproof's CA issues an SRV-ID per validated service",
            format!("no SRV-ID {s}: {}", describe(names)),
        );
    }
    if names.dns.contains(&domain) {
        for v in expect.validated.iter().filter(|v| {
            v.proof == Proof::Capability && !email_tls::port_matches_default(v.service, v.port)
        }) {
            policy(
                out,
                "policy: a dNSName vouches for every port of the name",
                format!(
                    "dNSName {domain} after a capability proof of {} on port {} (not its IANA port)",
                    v.service, v.port
                ),
            );
        }
    }
    match &names.ext_key_usage {
        Some(p) if p.iter().any(|p| p == "serverAuth") => {}
        other => policy(
            out,
            "policy: acmeproof's CA sets extKeyUsage serverAuth (no text asks for it)",
            format!("extKeyUsage {other:?}"),
        ),
    }
    if names.key_usage.as_deref() != Some(&["digitalSignature"][..])
        && names.key_usage.as_deref() != Some(&["digitalSignature", "keyEncipherment"][..])
    {
        policy(
            out,
            "policy: acmeproof's CA sets keyUsage digitalSignature (+ keyEncipherment for RSA); no text asks for it",
            format!("keyUsage {:?}", names.key_usage),
        );
    }
}

fn describe(names: &ServerNames) -> String {
    let mut all: Vec<String> = names.dns.iter().map(|d| format!("dns:{d}")).collect();
    all.extend(names.srv.iter().map(|s| format!("srv:{s}")));
    all.extend(names.cn.iter().map(|c| format!("CN={c}")));
    all.extend(names.other.iter().cloned());
    if all.is_empty() {
        "no identifier at all".into()
    } else {
        format!("the certificate names {}", all.join(", "))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The server-profile findings on `der`, ordered for DOMAIN and validated as `validated`.
    fn check(der: &[u8], validated: &[Validated]) -> Findings {
        check_server_certificate(
            der,
            &Expectation {
                domain: DOMAIN,
                validated,
            },
        )
    }

    const DOMAIN: &str = "mail.example.test";

    /// DER of a GeneralNames holding dNSNames and SRVNames (RFC 5280 §4.2.1.6, RFC 4985 §2).
    fn san_der(dns: &[&str], srv: &[&str]) -> Vec<u8> {
        fn tlv(tag: u8, body: &[u8]) -> Vec<u8> {
            assert!(body.len() < 128, "short form only in this test helper");
            let mut v = vec![tag, body.len() as u8];
            v.extend_from_slice(body);
            v
        }
        let mut names = Vec::new();
        for d in dns {
            names.extend(tlv(0x82, d.as_bytes()));
        }
        for s in srv {
            let oid = [0x06, 0x08, 0x2b, 0x06, 0x01, 0x05, 0x05, 0x07, 0x08, 0x07];
            let value = tlv(0xa0, &tlv(0x16, s.as_bytes()));
            let mut body = oid.to_vec();
            body.extend(value);
            names.extend(tlv(0xa0, &body));
        }
        tlv(0x30, &names)
    }

    fn cert(
        dns: &[&str],
        srv: &[&str],
        cn: Option<&str>,
        ku: &[rcgen::KeyUsagePurpose],
    ) -> Vec<u8> {
        let key = rcgen::KeyPair::generate().expect("key");
        let mut params = rcgen::CertificateParams::default();
        params.distinguished_name = rcgen::DistinguishedName::new();
        if let Some(cn) = cn {
            params
                .distinguished_name
                .push(rcgen::DnType::CommonName, cn);
        }
        params
            .custom_extensions
            .push(rcgen::CustomExtension::from_oid_content(
                &[2, 5, 29, 17],
                san_der(dns, srv),
            ));
        params.key_usages = ku.to_vec();
        params.extended_key_usages = vec![rcgen::ExtendedKeyUsagePurpose::ServerAuth];
        params.self_signed(&key).expect("cert").der().to_vec()
    }

    fn imaps(port: u16, proof: Proof) -> Validated {
        Validated {
            service: Service::Imaps,
            port,
            proof,
        }
    }

    fn levels(f: &Findings) -> Vec<Level> {
        f.as_slice().iter().map(|f| f.level).collect()
    }

    const DS: rcgen::KeyUsagePurpose = rcgen::KeyUsagePurpose::DigitalSignature;

    #[test]
    fn acmeproof_profile_is_quiet() {
        let der = cert(
            &[DOMAIN],
            &["_imaps.mail.example.test"],
            Some(DOMAIN),
            &[DS],
        );
        let v = [imaps(993, Proof::Capability)];
        let f = check(&der, &v);
        assert!(f.is_empty(), "{f:?}");
    }

    #[test]
    fn srv_only_with_another_key_usage_is_policy_not_violation() {
        let der = cert(
            &[],
            &["_imaps.mail.example.test"],
            None,
            &[DS, rcgen::KeyUsagePurpose::KeyAgreement],
        );
        let v = [imaps(993, Proof::Capability)];
        let f = check(&der, &v);
        assert!(!f.has_must(), "{f:?}");
        assert_eq!(levels(&f), [Level::Info, Level::Info], "{f:?}");
        assert!(f.as_slice()[0].observed.contains("no dNSName"));
        assert!(f.as_slice()[1].observed.contains("keyAgreement"));
    }

    #[test]
    fn unvalidated_names_are_must_violations() {
        let der = cert(
            &[DOMAIN, "www.example.test"],
            &["_imaps.mail.example.test", "_smtp.mail.example.test"],
            Some(DOMAIN),
            &[DS],
        );
        let v = [imaps(993, Proof::DnsEmail)];
        let f = check(&der, &v);
        assert_eq!(levels(&f), [Level::Must, Level::Must], "{f:?}");
        assert!(f.as_slice()[0].observed.contains("www.example.test"));
        assert!(f.as_slice()[1].observed.contains("_smtp"));
    }

    #[test]
    fn no_validated_identifier_at_all_fails() {
        let der = cert(&[], &["_smtp.mail.example.test"], None, &[DS]);
        let v = [imaps(993, Proof::DnsEmail)];
        let f = check(&der, &v);
        assert_eq!(f.ids(), ["TLS-4", "TLS-4"]);
        assert!(f.has_must());
        assert!(
            f.as_slice()[1]
                .expected
                .contains("_imaps.mail.example.test")
        );
        let garbage = check(b"\x30\x00", &v);
        assert!(garbage.has_must());
    }

    #[test]
    fn twin_and_non_default_port_are_policy_notes() {
        let der = cert(
            &[DOMAIN],
            &["_imap.mail.example.test", "_imaps.mail.example.test"],
            Some(DOMAIN),
            &[DS],
        );
        let v = [Validated {
            service: Service::Imap,
            port: 1143,
            proof: Proof::Capability,
        }];
        let f = check(&der, &v);
        assert_eq!(levels(&f), [Level::Info, Level::Info], "{f:?}");
        assert!(f.as_slice()[0].observed.contains("twin"));
        assert!(f.as_slice()[1].observed.contains("port 1143"));
    }

    #[test]
    fn names_are_read_back() {
        let der = cert(
            &["Mail.Example.TEST"],
            &["_IMAPS.mail.example.test"],
            Some(DOMAIN),
            &[DS],
        );
        let n = server_names(&der).unwrap();
        assert_eq!(n.dns, [DOMAIN]);
        assert_eq!(n.srv, ["_imaps.mail.example.test"]);
        assert_eq!(n.cn, [DOMAIN]);
        assert_eq!(n.key_usage, Some(vec!["digitalSignature"]));
        assert_eq!(n.ext_key_usage, Some(vec!["serverAuth".to_owned()]));
        assert_eq!(
            srv_id(Service::Imaps, "Mail.Example.Test"),
            "_imaps.mail.example.test"
        );
        assert_eq!(twin(Service::Smtp), None);
    }
}
