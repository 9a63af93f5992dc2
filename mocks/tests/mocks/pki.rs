//! The world PKI, end to end: CSRs built with rcgen (or OpenSSL where rcgen/ring cannot),
//! certificates read back with x509-parser through `CertSummary`.

use std::sync::OnceLock;

use acmeproof_mocks::ca::pki::{
    Pki, PkiError, Profile, Purpose, TrustAnchors, csr_problem_type, validate_path, verify_chain,
};
use acmeproof_mocks::ca::problem::ProblemType;
use acmeproof_mocks::clock::Clock;
use acmeproof_mocks::seed::Seed;
use acmeproof_protocol::pki::{
    CertSummary, CsrError, Identifier, IdentifierKind, KeyAlgorithm, KeyUsageBits, SmimeUsage,
    check_csr_identifiers, identifiers_of, parse_csr, same_identifier_set,
};
use rcgen::{
    CertificateParams, DistinguishedName, DnType, KeyPair, KeyUsagePurpose, OtherNameValue, SanType,
};
use rustls_pki_types::pem::PemObject as _;
use rustls_pki_types::{CertificateDer, ServerName};
use time::{Duration, OffsetDateTime};

const DS: KeyUsageBits = KeyUsageBits::DIGITAL_SIGNATURE;
const NR: KeyUsageBits = KeyUsageBits::NON_REPUDIATION;
const KE: KeyUsageBits = KeyUsageBits::KEY_ENCIPHERMENT;
const KA: KeyUsageBits = KeyUsageBits::KEY_AGREEMENT;

/// 2026-01-01T00:00:00Z.
fn epoch() -> OffsetDateTime {
    OffsetDateTime::from_unix_timestamp(1_767_225_600).unwrap()
}

fn world() -> (Pki, Clock) {
    let clock = Clock::frozen(epoch());
    let pki = Pki::generate(Seed(42), &clock, "Acmeproof Test").unwrap();
    (pki, clock)
}

fn ec_key() -> KeyPair {
    KeyPair::generate().unwrap()
}

/// One RSA-2048 key per test run (generation is slow), from OpenSSL through josekit, since
/// ring cannot generate RSA.
fn rsa_key() -> KeyPair {
    static DER: OnceLock<Vec<u8>> = OnceLock::new();
    let der = DER.get_or_init(|| {
        use josekit::jwk::KeyPair as _;
        josekit::jws::RS256
            .generate_key_pair(2048)
            .unwrap()
            .to_der_private_key()
    });
    KeyPair::try_from(der.as_slice()).unwrap()
}

/// A CSR with an empty subject (or `cn`), the given SANs and requested key usage.
fn csr(key: &KeyPair, cn: Option<&str>, sans: Vec<SanType>, ku: &[KeyUsagePurpose]) -> Vec<u8> {
    let mut params = CertificateParams::default();
    // rcgen's default subject is "CN=rcgen self signed cert".
    params.distinguished_name = DistinguishedName::new();
    if let Some(cn) = cn {
        params.distinguished_name.push(DnType::CommonName, cn);
    }
    params.subject_alt_names = sans;
    params.key_usages = ku.to_vec();
    params.serialize_request(key).unwrap().der().to_vec()
}

fn rfc822(v: &str) -> SanType {
    SanType::Rfc822Name(v.try_into().unwrap())
}

fn dns(v: &str) -> SanType {
    SanType::DnsName(v.try_into().unwrap())
}

fn smtputf8(v: &str) -> SanType {
    SanType::OtherName((
        vec![1, 3, 6, 1, 5, 5, 7, 8, 9],
        OtherNameValue::Utf8String(v.into()),
    ))
}

fn smime(email: &str, usage: SmimeUsage) -> Profile {
    Profile::Smime {
        email: email.into(),
        usage,
    }
}

fn both() -> SmimeUsage {
    SmimeUsage::Both {
        non_repudiation: false,
    }
}

fn tls(dns_names: &[&str], srv_names: &[&str]) -> Profile {
    Profile::TlsServer {
        dns_names: dns_names.iter().map(|s| s.to_string()).collect(),
        srv_names: srv_names.iter().map(|s| s.to_string()).collect(),
    }
}

fn summary(der: &[u8]) -> CertSummary {
    CertSummary::from_der(der).unwrap()
}

// ---------------------------------------------------------------- the CA itself

#[test]
fn pki_can_be_shared_between_tasks() {
    fn shared<T: Send + Sync + 'static>() {}
    shared::<Pki>();
}

#[test]
fn root_and_intermediate_have_the_ca_profile() {
    let (pki, _) = world();
    let root = summary(pki.root_der());
    assert_eq!(root.subject, "O=Acmeproof Test, CN=Acmeproof Test Root");
    assert_eq!(root.issuer, root.subject);
    let bc = root.basic_constraints.as_ref().unwrap();
    assert!(bc.critical && bc.value.ca && bc.value.path_len.is_none());
    let ku = root.key_usage.as_ref().unwrap();
    assert!(ku.critical);
    assert_eq!(
        ku.value,
        KeyUsageBits::KEY_CERT_SIGN | KeyUsageBits::CRL_SIGN
    );
    assert_eq!(root.key, Ok(KeyAlgorithm::EcP256));
    assert_eq!(root.not_before, epoch() - Duration::hours(1));
    assert!(root.not_after - root.not_before > Duration::days(3650));
    assert!(root.subject_key_id.is_some());

    let int = summary(pki.intermediate_der());
    assert_eq!(
        int.subject,
        "O=Acmeproof Test, CN=Acmeproof Test Intermediate"
    );
    assert_eq!(int.issuer, root.subject);
    assert_eq!(int.basic_constraints.unwrap().value.path_len, Some(0));
    assert_eq!(int.authority_key_id, root.subject_key_id);
    assert!(int.key_usage.unwrap().critical);
    assert_ne!(int.serial_hex, root.serial_hex);
}

#[test]
fn keys_and_serials_follow_the_seed() {
    let clock = Clock::frozen(epoch());
    let a = Pki::generate(Seed(7), &clock, "W").unwrap();
    let b = Pki::generate(Seed(7), &clock, "W").unwrap();
    let c = Pki::generate(Seed(8), &clock, "W").unwrap();
    let (sa, sb, sc) = (
        summary(a.root_der()),
        summary(b.root_der()),
        summary(c.root_der()),
    );
    // ECDSA signatures are randomized, so the DER differs; keys and serials do not.
    assert_eq!(sa.subject_key_id, sb.subject_key_id);
    assert_eq!(sa.serial_hex, sb.serial_hex);
    assert_ne!(sa.subject_key_id, sc.subject_key_id);
    assert_ne!(sa.serial_hex, sc.serial_hex);
    let key = ec_key();
    let info = parse_csr(&csr(&key, None, vec![rfc822("a@example.test")], &[])).unwrap();
    let ia = a
        .issue(&info, &smime("a@example.test", both()), Duration::days(1))
        .unwrap();
    let ib = b
        .issue(&info, &smime("a@example.test", both()), Duration::days(1))
        .unwrap();
    assert_eq!(ia.serial_hex, ib.serial_hex);
    assert_eq!(ia.serial_hex.len(), 32);
}

#[test]
fn bundle_is_the_root_pem() {
    let (pki, _) = world();
    let path = std::env::temp_dir().join(format!("acmeproof-pki-{}.pem", std::process::id()));
    pki.write_bundle(&path).unwrap();
    let pem = std::fs::read(&path).unwrap();
    let _ = std::fs::remove_file(&path);
    let certs: Vec<CertificateDer<'_>> = CertificateDer::pem_slice_iter(&pem)
        .collect::<Result<_, _>>()
        .unwrap();
    assert_eq!(certs.len(), 1);
    assert_eq!(certs[0].as_ref(), pki.root_der());
    let missing = std::env::temp_dir().join("acmeproof-no-such-dir/x/bundle.pem");
    assert!(matches!(
        pki.write_bundle(&missing),
        Err(PkiError::Io { .. })
    ));
}

// ---------------------------------------------------------------- S/MIME profile

#[test]
fn smime_ascii_address_is_a_critical_rfc822_name_with_empty_subject() {
    let (pki, _) = world();
    let key = ec_key();
    let info = parse_csr(&csr(&key, None, vec![rfc822("alice@example.test")], &[])).unwrap();
    assert_eq!(info.key, KeyAlgorithm::EcP256);
    assert_eq!(info.key_usage, None);
    let usage = SmimeUsage::from_csr_key_usage(info.key_usage).unwrap();
    let issued = pki
        .issue(
            &info,
            &smime("alice@example.test", usage),
            Duration::days(90),
        )
        .unwrap();
    let s = summary(&issued.der);

    assert!(s.subject_empty, "subject {:?}", s.subject);
    assert_eq!(s.sans, ["email:alice@example.test"]);
    // RFC 5280 §4.2.1.6: empty subject ⇒ SAN critical.
    assert_eq!(s.san_critical, Some(true));
    assert_eq!(s.san_extensions, 1);
    // RFC 8550 §4.4.2: KU critical; absent KU in the CSR ⇒ both (EC: keyAgreement).
    let ku = s.key_usage.as_ref().unwrap();
    assert!(ku.critical);
    assert_eq!(ku.value, DS | KA);
    assert_eq!(
        s.extended_key_usage.as_ref().unwrap().value,
        ["emailProtection"]
    );
    let bc = s.basic_constraints.unwrap().value;
    assert!(!bc.ca);
    assert_eq!(
        s.authority_key_id,
        summary(pki.intermediate_der()).subject_key_id
    );
    assert!(s.subject_key_id.is_some());
    assert_eq!(s.serial_hex, issued.serial_hex);
    assert_eq!(s.not_before, epoch() - Duration::hours(1));
    assert_eq!(s.not_after, epoch() + Duration::days(90));
    assert_eq!(
        (issued.not_before, issued.not_after),
        (s.not_before, s.not_after)
    );
    assert_eq!(s.issuer, summary(pki.intermediate_der()).subject);
    verify_chain(&issued.der, pki.intermediate_der(), pki.root_der()).unwrap();
}

#[test]
fn smime_non_ascii_local_part_is_an_smtp_utf8_mailbox_with_u_labels() {
    let (pki, _) = world();
    let key = ec_key();
    let addr = "δοκιμή@παράδειγμα.δοκιμή";
    let info = parse_csr(&csr(&key, None, vec![smtputf8(addr)], &[])).unwrap();
    assert_eq!(identifiers_of(&info), [Identifier::email(addr)]);
    let issued = pki
        .issue(&info, &smime(addr, both()), Duration::days(1))
        .unwrap();
    let s = summary(&issued.der);
    // RFC 8398 §3: SmtpUTF8Mailbox, non-ASCII domain labels as U-labels; the exact octets.
    assert_eq!(s.sans, [format!("smtputf8:{addr}")]);
    assert_eq!(s.san_critical, Some(true));
    assert!(s.key_usage.unwrap().critical);

    // The same address with an A-label domain in the order is still written with U-labels.
    let a_label = "δοκιμή@xn--hxajbheg2az3al.xn--jxalpdlp";
    let issued = pki
        .issue(&info, &smime(a_label, both()), Duration::days(1))
        .unwrap();
    assert_eq!(summary(&issued.der).sans, [format!("smtputf8:{addr}")]);
    assert!(same_identifier_set(&[Identifier::email(a_label)], &identifiers_of(&info)).is_ok());
}

#[test]
fn smime_ascii_local_part_at_a_u_label_domain_is_rfc822_with_a_labels() {
    let (pki, _) = world();
    let key = ec_key();
    let info = parse_csr(&csr(
        &key,
        None,
        vec![rfc822("alice@xn--hxajbheg2az3al.xn--jxalpdlp")],
        &[],
    ))
    .unwrap();
    let issued = pki
        .issue(
            &info,
            &smime("alice@παράδειγμα.δοκιμή", both()),
            Duration::days(1),
        )
        .unwrap();
    // RFC 8398 Table 1: ASCII local part, non-ASCII domain ⇒ rfc822Name with A-labels.
    assert_eq!(
        summary(&issued.der).sans,
        ["email:alice@xn--hxajbheg2az3al.xn--jxalpdlp"]
    );
}

/// RFC 8823 §3.3 for one key: what the CSR asks for → what the certificate gets.
fn key_usage_matrix(key: &KeyPair, expected_algorithm: KeyAlgorithm, encryption_bit: KeyUsageBits) {
    use KeyUsagePurpose::{ContentCommitment, DigitalSignature, KeyAgreement, KeyEncipherment};
    let (pki, _) = world();
    let cases: [(&str, &[KeyUsagePurpose], KeyUsageBits); 6] = [
        ("signing-only", &[DigitalSignature], DS),
        (
            "signing-only + nonRepudiation",
            &[DigitalSignature, ContentCommitment],
            DS | NR,
        ),
        (
            "encryption-only (keyEncipherment)",
            &[KeyEncipherment],
            encryption_bit,
        ),
        (
            "encryption-only (keyAgreement)",
            &[KeyAgreement],
            encryption_bit,
        ),
        (
            "both",
            &[DigitalSignature, KeyEncipherment],
            DS | encryption_bit,
        ),
        ("KU absent", &[], DS | encryption_bit),
    ];
    for (what, requested, expected) in cases {
        let info = parse_csr(&csr(key, None, vec![rfc822("bob@example.test")], requested)).unwrap();
        assert_eq!(info.key, expected_algorithm);
        assert_eq!(info.key_usage.is_none(), requested.is_empty(), "{what}");
        let usage = SmimeUsage::from_csr_key_usage(info.key_usage).unwrap();
        let issued = pki
            .issue(&info, &smime("bob@example.test", usage), Duration::days(1))
            .unwrap();
        let ku = summary(&issued.der).key_usage.unwrap();
        assert!(ku.critical, "{what}");
        assert_eq!(ku.value, expected, "{what}: got {}", ku.value);
        verify_chain(&issued.der, pki.intermediate_der(), pki.root_der()).unwrap();
    }
}

#[test]
fn key_usage_choices_for_an_ec_key() {
    key_usage_matrix(&ec_key(), KeyAlgorithm::EcP256, KA);
}

#[test]
fn key_usage_choices_for_an_rsa_2048_key() {
    key_usage_matrix(&rsa_key(), KeyAlgorithm::Rsa { bits: 2048 }, KE);
}

#[test]
fn key_usage_outside_rfc8823_sets_is_refused() {
    let key = ec_key();
    for extra in [
        KeyUsagePurpose::DataEncipherment,
        KeyUsagePurpose::KeyCertSign,
        KeyUsagePurpose::CrlSign,
    ] {
        let info = parse_csr(&csr(
            &key,
            None,
            vec![rfc822("bob@example.test")],
            &[KeyUsagePurpose::DigitalSignature, extra],
        ))
        .unwrap();
        let err = SmimeUsage::from_csr_key_usage(info.key_usage).unwrap_err();
        assert!(matches!(err, CsrError::KeyUsageNotAllowed { .. }), "{err}");
        assert_eq!(csr_problem_type(&err), ProblemType::BadCsr);
        assert!(err.to_string().contains("RFC 8823 §3.3"), "{err}");
    }
}

#[test]
fn ed25519_and_p384_keys() {
    let (pki, _) = world();
    let ed = KeyPair::generate_for(&rcgen::PKCS_ED25519).unwrap();
    let info = parse_csr(&csr(&ed, None, vec![rfc822("e@example.test")], &[])).unwrap();
    assert_eq!(info.key, KeyAlgorithm::Ed25519);
    let issued = pki
        .issue(&info, &smime("e@example.test", both()), Duration::days(1))
        .unwrap();
    // RFC 8410 §5: no encryption bit for Ed25519.
    assert_eq!(summary(&issued.der).key_usage.unwrap().value, DS);
    assert!(matches!(
        pki.issue(
            &info,
            &smime("e@example.test", SmimeUsage::EncryptionOnly),
            Duration::days(1)
        ),
        Err(PkiError::Profile(_))
    ));

    let p384 = KeyPair::generate_for(&rcgen::PKCS_ECDSA_P384_SHA384).unwrap();
    let info = parse_csr(&csr(&p384, None, vec![dns("p.example.test")], &[])).unwrap();
    assert_eq!(info.key, KeyAlgorithm::EcP384);
    let issued = pki
        .issue(&info, &tls(&["p.example.test"], &[]), Duration::days(1))
        .unwrap();
    assert_eq!(summary(&issued.der).key, Ok(KeyAlgorithm::EcP384));
    verify_chain(&issued.der, pki.intermediate_der(), pki.root_der()).unwrap();
}

// ---------------------------------------------------------------- TLS server profile

#[test]
fn tls_server_without_srv_name() {
    let (pki, _) = world();
    let key = ec_key();
    let info = parse_csr(&csr(
        &key,
        Some("mail.example.test"),
        vec![dns("mail.example.test")],
        &[],
    ))
    .unwrap();
    let issued = pki
        .issue(&info, &tls(&["mail.example.test"], &[]), Duration::days(90))
        .unwrap();
    let s = summary(&issued.der);
    assert_eq!(s.subject, "CN=mail.example.test");
    assert_eq!(s.sans, ["dns:mail.example.test"]);
    // Non-empty subject ⇒ SAN non-critical.
    assert_eq!(s.san_critical, Some(false));
    assert_eq!(s.san_extensions, 1);
    let ku = s.key_usage.unwrap();
    assert!(ku.critical);
    assert_eq!(ku.value, DS);
    assert_eq!(s.extended_key_usage.unwrap().value, ["serverAuth"]);
    verify_chain(&issued.der, pki.intermediate_der(), pki.root_der()).unwrap();

    // RSA keys also get keyEncipherment.
    let rsa = rsa_key();
    let info = parse_csr(&csr(&rsa, None, vec![dns("mail.example.test")], &[])).unwrap();
    let issued = pki
        .issue(&info, &tls(&["mail.example.test"], &[]), Duration::days(90))
        .unwrap();
    assert_eq!(summary(&issued.der).key_usage.unwrap().value, DS | KE);
}

#[test]
fn tls_server_with_srv_name_has_one_san_extension_with_both_names() {
    let (pki, _) = world();
    let key = ec_key();
    let info = parse_csr(&csr(&key, None, vec![dns("mail.example.test")], &[])).unwrap();
    let issued = pki
        .issue(
            &info,
            &tls(
                &["mail.example.test"],
                &["_imaps.mail.example.test", "_submissions.mail.example.test"],
            ),
            Duration::days(90),
        )
        .unwrap();
    let s = summary(&issued.der);
    assert_eq!(
        s.sans,
        [
            "dns:mail.example.test",
            "srv:_imaps.mail.example.test",
            "srv:_submissions.mail.example.test"
        ]
    );
    assert_eq!(s.san_extensions, 1);
    assert_eq!(s.san_critical, Some(false));
    assert_eq!(s.subject, "CN=mail.example.test");
    assert_eq!(s.extended_key_usage.unwrap().value, ["serverAuth"]);
    verify_chain(&issued.der, pki.intermediate_der(), pki.root_der()).unwrap();

    // A first DNS name longer than ub-common-name (64) cannot be the CN: empty subject, and
    // the hand-built SAN is then critical.
    let long = format!("{}.example.test", "a".repeat(60));
    let issued = pki
        .issue(
            &info,
            &tls(&[long.as_str()], &["_imaps.example.test"]),
            Duration::days(1),
        )
        .unwrap();
    let s = summary(&issued.der);
    assert!(s.subject_empty);
    assert_eq!(s.san_critical, Some(true));
    assert!(s.has_san("srv:_imaps.example.test") && s.has_san(&format!("dns:{long}")));
}

#[test]
fn bad_profiles_are_errors() {
    let (pki, _) = world();
    let key = ec_key();
    let info = parse_csr(&csr(&key, None, vec![dns("a.example.test")], &[])).unwrap();
    for profile in [
        tls(&[], &[]),
        tls(&["a..example"], &[]),
        tls(&["a.example.test"], &["imaps.a.example.test"]),
        smime("not an address", both()),
    ] {
        assert!(
            matches!(
                pki.issue(&info, &profile, Duration::days(1)),
                Err(PkiError::Profile(_))
            ),
            "{profile:?}"
        );
    }
    assert!(
        pki.issue(&info, &tls(&["a.example.test"], &[]), Duration::ZERO)
            .is_err()
    );
}

// ---------------------------------------------------------------- chains

#[test]
fn chain_verification_fires_on_wrong_links() {
    let (pki, _) = world();
    let key = ec_key();
    let info = parse_csr(&csr(&key, None, vec![dns("a.example.test")], &[])).unwrap();
    let issued = pki
        .issue(&info, &tls(&["a.example.test"], &[]), Duration::days(1))
        .unwrap();
    verify_chain(&issued.der, pki.intermediate_der(), pki.root_der()).unwrap();

    // Wrong order.
    assert!(verify_chain(&issued.der, pki.root_der(), pki.intermediate_der()).is_err());
    // Another world's CA with the same names: names match, signatures do not.
    let other = Pki::generate(Seed(43), &Clock::frozen(epoch()), "Acmeproof Test").unwrap();
    let err = verify_chain(&issued.der, other.intermediate_der(), other.root_der()).unwrap_err();
    assert!(err.to_string().contains("signature"), "{err}");
    // A leaf whose signature was altered.
    let mut tampered = issued.der.clone();
    let last = tampered.len() - 1;
    tampered[last] ^= 0x01;
    assert!(verify_chain(&tampered, pki.intermediate_der(), pki.root_der()).is_err());
    // A leaf cannot stand in for the intermediate (not a CA).
    let err = verify_chain(&issued.der, &issued.der, pki.root_der()).unwrap_err();
    assert!(err.to_string().contains("chain"), "{err}");
}

#[test]
fn chain_pem_is_leaf_then_intermediate_with_nothing_between() {
    let (pki, _) = world();
    let key = ec_key();
    let info = parse_csr(&csr(&key, None, vec![dns("a.example.test")], &[])).unwrap();
    let issued = pki
        .issue(&info, &tls(&["a.example.test"], &[]), Duration::days(1))
        .unwrap();
    let certs: Vec<CertificateDer<'_>> =
        CertificateDer::pem_slice_iter(issued.chain_pem.as_bytes())
            .collect::<Result<_, _>>()
            .unwrap();
    assert_eq!(certs.len(), 2);
    assert_eq!(certs[0].as_ref(), issued.der.as_slice());
    assert_eq!(certs[1].as_ref(), pki.intermediate_der());
    // RFC 8555 §9.1 / RFC 7468 §5.1: nothing but the blocks (and the line breaks that end them).
    assert!(issued.chain_pem.starts_with("-----BEGIN CERTIFICATE-----"));
    let between: Vec<&str> = issued
        .chain_pem
        .split("-----END CERTIFICATE-----")
        .skip(1)
        .map(|rest| {
            rest.split("-----BEGIN CERTIFICATE-----")
                .next()
                .unwrap_or("")
        })
        .collect();
    assert!(between.iter().all(|t| t.trim().is_empty()), "{between:?}");
}

// ---------------------------------------------------------------- CSR refusals

#[test]
fn a_corrupted_csr_signature_is_refused() {
    let key = ec_key();
    let good = csr(
        &key,
        Some("alice.example.test"),
        vec![dns("alice.example.test")],
        &[],
    );
    assert!(parse_csr(&good).is_ok());

    // Alter the last octet of the signature value.
    let mut bad = good.clone();
    let last = bad.len() - 1;
    bad[last] ^= 0x01;
    let err = parse_csr(&bad).unwrap_err();
    assert!(matches!(err, CsrError::BadSignature(_)), "{err}");
    assert_eq!(csr_problem_type(&err), ProblemType::BadCsr);

    // Alter the signed content (the requested name) instead.
    let at = good
        .windows(5)
        .position(|w| w == b"alice")
        .expect("name in the CSR");
    let mut bad = good.clone();
    bad[at] = b'm';
    assert!(matches!(parse_csr(&bad), Err(CsrError::BadSignature(_))));

    // Trailing garbage is malformed, not ignored.
    let mut long = good.clone();
    long.push(0);
    assert!(matches!(parse_csr(&long), Err(CsrError::Malformed(_))));
}

/// A CSR signed by OpenSSL, for keys ring refuses to sign with.
fn openssl_rsa_csr(bits: u32) -> Vec<u8> {
    use openssl::hash::MessageDigest;
    use openssl::pkey::PKey;
    use openssl::rsa::Rsa;
    use openssl::x509::{X509NameBuilder, X509ReqBuilder};
    let key = PKey::from_rsa(Rsa::generate(bits).unwrap()).unwrap();
    let mut name = X509NameBuilder::new().unwrap();
    name.append_entry_by_text("CN", "weak.example.test")
        .unwrap();
    let mut req = X509ReqBuilder::new().unwrap();
    req.set_subject_name(&name.build()).unwrap();
    req.set_pubkey(&key).unwrap();
    req.sign(&key, MessageDigest::sha256()).unwrap();
    req.build().to_der().unwrap()
}

#[test]
fn rsa_1024_is_refused_as_a_bad_csr() {
    let err = parse_csr(&openssl_rsa_csr(1024)).unwrap_err();
    assert_eq!(err, CsrError::RsaKeySize { bits: 1024 });
    assert_eq!(csr_problem_type(&err), ProblemType::BadCsr);
    assert!(err.to_string().contains("1024"), "{err}");
    // The same path with a 2048-bit key passes.
    let info = parse_csr(&openssl_rsa_csr(2048)).unwrap();
    assert_eq!(info.key, KeyAlgorithm::Rsa { bits: 2048 });
    assert_eq!(info.subject_cns, ["weak.example.test"]);
}

// ---------------------------------------------------------------- identifiers

#[test]
fn csr_identifiers_against_order_identifiers() {
    let key = ec_key();
    let info = parse_csr(&csr(
        &key,
        Some("Mail.Example.test"),
        vec![dns("mail.example.test"), dns("Example.test")],
        &[],
    ))
    .unwrap();
    // The CN is a DNS name and counts (RFC 8555 §7.4); names are lower-cased; no duplicates.
    assert_eq!(
        identifiers_of(&info),
        [
            Identifier::dns("mail.example.test"),
            Identifier::dns("example.test")
        ]
    );
    let order = [
        Identifier::dns("example.test"),
        Identifier::dns("mail.example.test"),
    ];
    assert!(check_csr_identifiers(&order, &info).is_ok());

    // Missing from the CSR.
    let err = same_identifier_set(
        &[
            order[0].clone(),
            order[1].clone(),
            Identifier::dns("www.example.test"),
        ],
        &identifiers_of(&info),
    )
    .unwrap_err();
    assert!(
        err.contains("missing from the CSR: dns:www.example.test"),
        "{err}"
    );
    // Extra in the CSR.
    let err = check_csr_identifiers(&order[..1], &info).unwrap_err();
    assert!(
        err.contains("not in the order: dns:mail.example.test"),
        "{err}"
    );
    // Different.
    let err = same_identifier_set(
        &[Identifier::email("alice@example.test")],
        &identifiers_of(&info),
    )
    .unwrap_err();
    assert!(
        err.contains("missing from the CSR: email:alice@example.test"),
        "{err}"
    );
    assert!(
        err.contains("not in the order: dns:mail.example.test, dns:example.test"),
        "{err}"
    );

    // A CN that is a display name is no identifier; an rfc822Name is an email identifier.
    let info = parse_csr(&csr(
        &key,
        Some("Alice Example"),
        vec![rfc822("alice@example.test")],
        &[],
    ))
    .unwrap();
    assert_eq!(
        identifiers_of(&info),
        [Identifier::email("alice@example.test")]
    );
    assert!(check_csr_identifiers(&[Identifier::email("alice@EXAMPLE.test")], &info).is_ok());
}

#[test]
fn sans_that_are_not_identifiers_are_refused() {
    let key = ec_key();
    let info = parse_csr(&csr(
        &key,
        None,
        vec![
            dns("a.example.test"),
            SanType::URI("https://a.example.test/".try_into().unwrap()),
            SanType::IpAddress("192.0.2.1".parse().unwrap()),
        ],
        &[],
    ))
    .unwrap();
    let ids = identifiers_of(&info);
    assert_eq!(ids.len(), 2);
    assert_eq!(ids[1].kind, IdentifierKind::Ip);
    let err = check_csr_identifiers(&[Identifier::dns("a.example.test")], &info).unwrap_err();
    assert!(err.contains("ip:192.0.2.1"), "{err}");
    assert!(err.contains("other:uri:https://a.example.test/"), "{err}");
}

#[test]
fn an_ascii_smtp_utf8_mailbox_is_refused() {
    let key = ec_key();
    let order = [Identifier::email("bob@example.test")];
    let info = parse_csr(&csr(&key, None, vec![smtputf8("bob@example.test")], &[])).unwrap();
    let err = check_csr_identifiers(&order, &info).unwrap_err();
    assert!(err.contains("RFC 8398 §3"), "{err}");
    // The same address as an rfc822Name passes.
    let info = parse_csr(&csr(&key, None, vec![rfc822("bob@example.test")], &[])).unwrap();
    assert!(check_csr_identifiers(&order, &info).is_ok());
}

// ---------------------------------------------------------------- TLS configs

/// What the client saw: the reply and the server's certificate chain.
struct Seen {
    reply: Vec<u8>,
    chain: Vec<Vec<u8>>,
}

async fn handshake(
    server: std::sync::Arc<rustls::ServerConfig>,
    client: std::sync::Arc<rustls::ClientConfig>,
    server_name: ServerName<'static>,
) -> Result<Seen, std::io::Error> {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let addr = listener.local_addr()?;
    let acceptor = tokio_rustls::TlsAcceptor::from(server);
    let server_task = tokio::spawn(async move {
        let (tcp, _) = listener.accept().await?;
        let mut tls = acceptor.accept(tcp).await?;
        let mut buf = [0u8; 4];
        tls.read_exact(&mut buf).await?;
        tls.write_all(b"pong").await?;
        tls.shutdown().await?;
        Ok::<_, std::io::Error>(buf)
    });
    let connector = tokio_rustls::TlsConnector::from(client);
    let tcp = tokio::net::TcpStream::connect(addr).await?;
    let result = async {
        let mut tls = connector.connect(server_name, tcp).await?;
        let chain = tls
            .get_ref()
            .1
            .peer_certificates()
            .unwrap_or_default()
            .iter()
            .map(|c| c.to_vec())
            .collect();
        tls.write_all(b"ping").await?;
        let mut reply = Vec::new();
        tls.read_to_end(&mut reply).await?;
        Ok::<_, std::io::Error>(Seen { reply, chain })
    }
    .await;
    let served = server_task.await.map_err(std::io::Error::other);
    if result.is_ok() {
        assert_eq!(&served??, b"ping");
    }
    result
}

fn server(pki: &Pki) -> std::sync::Arc<rustls::ServerConfig> {
    pki.tls_server_config(&["localhost", "ca.acmeproof.test", "127.0.0.1"])
        .unwrap()
}

#[tokio::test]
async fn tls_server_config_serves_localhost_and_127_0_0_1() {
    let (pki, _) = world();
    let by_name = ServerName::try_from("localhost").unwrap();
    let seen = handshake(server(&pki), pki.client_config(), by_name)
        .await
        .unwrap();
    assert_eq!(seen.reply, b"pong");
    let by_ip = ServerName::IpAddress("127.0.0.1".parse::<std::net::IpAddr>().unwrap().into());
    let seen = handshake(server(&pki), pki.client_config(), by_ip)
        .await
        .unwrap();
    assert_eq!(seen.reply, b"pong");

    // The served chain is leaf + intermediate; the leaf names every host and the IP.
    assert_eq!(seen.chain.len(), 2);
    assert_eq!(seen.chain[1], pki.intermediate_der());
    verify_chain(&seen.chain[0], &seen.chain[1], pki.root_der()).unwrap();
    let leaf = summary(&seen.chain[0]);
    assert_eq!(
        leaf.sans,
        ["dns:localhost", "dns:ca.acmeproof.test", "ip:127.0.0.1"]
    );
    assert_eq!(leaf.subject, "CN=localhost");
    assert_eq!(leaf.extended_key_usage.unwrap().value, ["serverAuth"]);
    assert!(leaf.key_usage.unwrap().critical);
}

#[tokio::test]
async fn tls_client_refuses_wrong_name_other_root_and_expired_world() {
    let (pki, clock) = world();
    let localhost = ServerName::try_from("localhost").unwrap();
    // Control: the same setup succeeds.
    assert!(
        handshake(server(&pki), pki.client_config(), localhost.clone())
            .await
            .is_ok()
    );

    let wrong = ServerName::try_from("www.acmeproof.test").unwrap();
    assert!(
        handshake(server(&pki), pki.client_config(), wrong)
            .await
            .is_err()
    );

    let other = Pki::generate(Seed(43), &Clock::frozen(epoch()), "Other").unwrap();
    assert!(
        handshake(server(&pki), other.client_config(), localhost.clone())
            .await
            .is_err()
    );

    // The client judges validity by the world clock: two years on, a leaf made now has expired.
    let config = server(&pki);
    clock.advance(Duration::days(730));
    assert!(
        handshake(config, pki.client_config(), localhost)
            .await
            .is_err()
    );
}

#[tokio::test]
async fn server_leaves_are_drawn_at_once_and_the_same_whichever_handshakes_first() {
    // The leaves are built at the first handshake, but their key and serial were drawn when
    // the configuration was made: two worlds of one seed present the same two leaves even
    // when their first handshakes come in opposite orders.
    let by_ip = || ServerName::IpAddress("127.0.0.1".parse::<std::net::IpAddr>().unwrap().into());
    let leaves = |pki: &Pki| {
        (
            pki.tls_server_config(&["127.0.0.1"]).unwrap(),
            pki.tls_server_config_with_alpn(&["127.0.0.1"], &[])
                .unwrap(),
        )
    };
    let (one, _) = world();
    let (two, _) = world();
    let (ca_one, mail_one) = leaves(&one);
    let (ca_two, mail_two) = leaves(&two);
    let ca_first = handshake(ca_one, one.client_config(), by_ip())
        .await
        .unwrap();
    let mail_second = handshake(mail_one, one.client_config(), by_ip())
        .await
        .unwrap();
    let mail_first = handshake(mail_two, two.client_config(), by_ip())
        .await
        .unwrap();
    let ca_second = handshake(ca_two, two.client_config(), by_ip())
        .await
        .unwrap();
    // ECDSA signatures are randomized: what is drawn from the seed is the key and the serial.
    let drawn = |seen: &Seen| {
        let (_, leaf) = x509_parser::parse_x509_certificate(&seen.chain[0]).unwrap();
        (
            leaf.tbs_certificate.subject_pki.raw.to_vec(),
            leaf.tbs_certificate.raw_serial().to_vec(),
        )
    };
    assert_eq!(drawn(&ca_first), drawn(&ca_second));
    assert_eq!(drawn(&mail_first), drawn(&mail_second));
    // Two leaves, not one twice: each has its own key and serial.
    let (ca, mail) = (drawn(&ca_first), drawn(&mail_first));
    assert!(ca.0 != mail.0 && ca.1 != mail.1);
}

#[test]
fn server_config_alpn_and_bad_names() {
    let (pki, _) = world();
    let config = server(&pki);
    assert_eq!(
        config.alpn_protocols,
        [b"h2".to_vec(), b"http/1.1".to_vec()]
    );
    let mail = pki
        .tls_server_config_with_alpn(&["mx.example.test"], &[])
        .unwrap();
    assert!(mail.alpn_protocols.is_empty());
    assert!(matches!(
        pki.tls_server_config(&["bad..name"]),
        Err(PkiError::Profile(_))
    ));
    assert!(matches!(
        pki.tls_server_config(&[]),
        Err(PkiError::Profile(_))
    ));
}

// ---------------------------------------------------------------- path validation

fn smime_chain(pki: &Pki) -> Vec<Vec<u8>> {
    let key = ec_key();
    let info = parse_csr(&csr(&key, None, vec![rfc822("alice@example.test")], &[])).unwrap();
    let issued = pki
        .issue(
            &info,
            &smime("alice@example.test", both()),
            Duration::days(90),
        )
        .unwrap();
    vec![issued.der, pki.intermediate_der().to_vec()]
}

#[test]
fn a_chain_validates_up_to_its_root_and_fires_on_each_broken_part() {
    let (pki, _) = world();
    let chain = smime_chain(&pki);
    let at = epoch() + Duration::days(1);
    let root = TrustAnchors::Root(pki.root_der());
    validate_path(&chain, root, Purpose::EmailProtection, at).expect("the world's chain");
    // Another CA's root: the path ends nowhere.
    let other = Pki::generate(Seed(43), &Clock::frozen(epoch()), "Other").unwrap();
    let err = validate_path(
        &chain,
        TrustAnchors::Root(other.root_der()),
        Purpose::EmailProtection,
        at,
    )
    .unwrap_err();
    assert!(err.contains("UnknownIssuer"), "{err}");
    // Any of several roots will do.
    let roots = vec![other.root_der().to_vec(), pki.root_der().to_vec()];
    validate_path(
        &chain,
        TrustAnchors::Roots(&roots),
        Purpose::EmailProtection,
        at,
    )
    .expect("one of two roots");
    // After notAfter.
    let err = validate_path(
        &chain,
        root,
        Purpose::EmailProtection,
        at + Duration::days(400),
    )
    .unwrap_err();
    assert!(err.contains("Expired"), "{err}");
    // An S/MIME certificate is not for TLS servers (its EKU lacks serverAuth).
    let err = validate_path(&chain, root, Purpose::ServerAuth, at).unwrap_err();
    assert!(err.contains("RequiredEkuNotFound"), "{err}");
    // Without its intermediate the leaf does not reach the root.
    assert!(validate_path(&chain[..1], root, Purpose::EmailProtection, at).is_err());
}

#[test]
fn without_a_root_the_chain_is_checked_up_to_its_own_top() {
    let (pki, _) = world();
    let chain = smime_chain(&pki);
    let at = epoch() + Duration::days(1);
    validate_path(&chain, TrustAnchors::OwnTop, Purpose::EmailProtection, at)
        .expect("leaf signed by the intermediate it came with");
    // A leaf sent with another CA's intermediate: the one link there is does not hold.
    let other = Pki::generate(Seed(43), &Clock::frozen(epoch()), "Other").unwrap();
    let mixed = vec![chain[0].clone(), other.intermediate_der().to_vec()];
    assert!(validate_path(&mixed, TrustAnchors::OwnTop, Purpose::EmailProtection, at).is_err());
    // A leaf alone has nothing above it to check.
    validate_path(
        &chain[..1],
        TrustAnchors::OwnTop,
        Purpose::EmailProtection,
        at,
    )
    .expect("nothing to check");
}

#[test]
fn path_validation_for_any_purpose_leaves_the_eku_to_the_profile() {
    let (pki, _) = world();
    let chain = smime_chain(&pki);
    let at = epoch() + Duration::days(1);
    let root = TrustAnchors::Root(pki.root_der());
    // The S/MIME leaf fails as a TLS server certificate, but passes when no EKU is asked.
    assert!(validate_path(&chain, root, Purpose::ServerAuth, at).is_err());
    validate_path(&chain, root, Purpose::Any, at).expect("no EKU asked");
    // The signatures and validity are still checked.
    let other = Pki::generate(Seed(43), &Clock::frozen(epoch()), "Other").unwrap();
    assert!(
        validate_path(
            &chain,
            TrustAnchors::Root(other.root_der()),
            Purpose::Any,
            at
        )
        .is_err()
    );
}
