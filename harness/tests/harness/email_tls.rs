//! draft-ietf-acme-email-tls end to end: the reference mail-server operator against the mock
//! CA and the world's mail servers — each challenge type, the certificate profile (RFC 7817 §4,
//! RFC 4985 SRVName), the CA's refusals and the open-issue knobs, and the capability lines as
//! swaks and curl see them on the wire.

use acmeproof::acme::AcmeError;
use acmeproof::acme::email_tls::{
    EmailTlsIssued, Operator, OperatorOptions, Proof, ServiceField, ServiceRequest,
    check_server_certificate, validated,
};
use acmeproof::acme::flow::FlowError;
use acmeproof_mocks::account_key::KeyAlg;
use acmeproof_mocks::ca::knobs::{
    CapabilityPhase, Draft, Knobs, Lmtp, OneCertTlsAndStarttls, ServiceField as CaServiceField,
    ServicePortInHash, TlsProfile,
};
use acmeproof_mocks::mail::acme::AdvertPhase;
use acmeproof_mocks::world::World;
use acmeproof_protocol::email_tls::Service;
use acmeproof_protocol::pki::server_profile::{Proof as Proved, Validated};
use acmeproof_protocol::{Findings, Level};
use serde_json::Value;
use x509_parser::asn1_rs::{Any, FromDer as _, Tag, TaggedExplicit};
use x509_parser::prelude::*;

use crate::support::*;

/// The name every test certifies: the example world's MX host (A 127.0.0.1).
const HOST: &str = "mx.example.test";
/// id-on-dnsSRV (RFC 4985 §2).
const OID_SRV_NAME: &str = "1.3.6.1.5.5.7.8.7";

fn set_knobs(world: &World, f: impl FnOnce(&mut Knobs)) {
    let mut k = world.ca.shared().knobs();
    f(&mut k);
    world.ca.shared().set_knobs(k);
}

fn operator<'a>(
    world: &'a World,
    client: &'a acmeproof::acme::AcmeClient,
    options: OperatorOptions,
) -> Operator<'a> {
    Operator {
        client,
        dns: &world.dns,
        mail: world.mail.as_ref(),
        options: OperatorOptions {
            timeout: WAIT,
            ..options
        },
    }
}

fn opts(service: Service, port: Option<u16>, proof: Proof) -> OperatorOptions {
    OperatorOptions {
        proof,
        ..OperatorOptions::new(service, port)
    }
}

/// What the leaf says, read with x509-parser.
#[derive(Debug, Default)]
struct Leaf {
    dns: Vec<String>,
    /// (OID, IA5String value) of each otherName.
    other: Vec<(String, String)>,
    server_auth: bool,
    digital_signature: bool,
    key_encipherment: bool,
}

fn leaf(issued: &EmailTlsIssued) -> Leaf {
    let chain = pem_chain(&issued.issued.chain_pem);
    let (_, cert) = X509Certificate::from_der(&chain[0]).expect("leaf parses");
    let mut out = Leaf::default();
    let san = cert
        .subject_alternative_name()
        .expect("one SAN extension")
        .expect("a SAN");
    for name in &san.value.general_names {
        match name {
            GeneralName::DNSName(d) => out.dns.push(d.to_string()),
            GeneralName::OtherName(oid, raw) => {
                // x509-parser leaves the otherName value inside its [0] EXPLICIT wrapper.
                let (_, inner) =
                    TaggedExplicit::<Any, x509_parser::asn1_rs::Error, 0>::from_der(raw)
                        .expect("[0] EXPLICIT");
                let inner = inner.into_inner();
                assert_eq!(
                    inner.header.tag(),
                    Tag::Ia5String,
                    "SRVName is an IA5String"
                );
                out.other.push((
                    oid.to_id_string(),
                    String::from_utf8(inner.data.to_vec()).expect("ASCII"),
                ));
            }
            other => panic!("unexpected SAN {other:?}"),
        }
    }
    let eku = cert.extended_key_usage().expect("EKU").expect("an EKU");
    out.server_auth = eku.value.server_auth;
    let ku = cert.key_usage().expect("KU").expect("a KU");
    out.digital_signature = ku.value.digital_signature();
    out.key_encipherment = ku.value.key_encipherment();
    out
}

fn srv(value: &str) -> (String, String) {
    (OID_SRV_NAME.to_owned(), value.to_owned())
}

/// The problem on the challenge that ended invalid.
fn challenge_problem<T: std::fmt::Debug>(result: Result<T, FlowError>) -> (String, String) {
    let authz = match result {
        Err(FlowError::Invalid(authz)) => authz,
        other => panic!("expected an invalid authorization, got {other:?}"),
    };
    let error = authz["challenges"]
        .as_array()
        .and_then(|cs| cs.iter().find(|c| c["status"] == "invalid"))
        .map(|c| c["error"].clone())
        .unwrap_or(Value::Null);
    (
        error["type"].as_str().unwrap_or("").to_owned(),
        error["detail"].as_str().unwrap_or("").to_owned(),
    )
}

/// The problem a request was refused with.
fn refused(result: Result<impl std::fmt::Debug, FlowError>) -> (String, String) {
    match result {
        Err(FlowError::Acme(AcmeError::Problem { kind, detail, .. })) => (kind, detail),
        other => panic!("expected a refusal, got {other:?}"),
    }
}

async fn issue(world: &World, label: &str, options: OperatorOptions) -> EmailTlsIssued {
    let client = client(world, label).await;
    operator(world, &client, options)
        .issue(HOST)
        .await
        .expect("issued")
}

#[tokio::test]
async fn dns_email_smtp_25_gives_dns_id_and_srv_id() {
    let world = world().await;
    let issued = issue(
        &world,
        "dns-email",
        opts(Service::Smtp, None, Proof::DnsEmail),
    )
    .await;
    assert_eq!(issued.challenges[0].kind, "dns-email-00");
    assert_eq!(
        issued.challenges[0].txt_name.as_deref(),
        Some("_25._smtp._acme-challenge.mx.example.test")
    );
    let ec = leaf(&issued);
    assert_eq!(ec.dns, [HOST]);
    assert_eq!(ec.other, [srv("_smtp.mx.example.test")]);
    // RFC 7817 §4 profile: serverAuth; an EC key only signs.
    assert!(ec.server_auth && ec.digital_signature && !ec.key_encipherment);
    // So does an Ed25519 key (RFC 8410 §5).
    let mut o = opts(Service::Smtp, None, Proof::DnsEmail);
    o.csr_key = KeyAlg::EdDsa;
    let ed = leaf(&issue(&world, "dns-email-ed25519", o).await);
    assert!(ed.server_auth && ed.digital_signature && !ed.key_encipherment);
    assert_eq!(ed.other, [srv("_smtp.mx.example.test")]);
    world.shutdown().await;
}

fn musts(f: &Findings) -> Vec<String> {
    f.as_slice()
        .iter()
        .filter(|f| f.level == Level::Must)
        .map(|f| f.observed.clone())
        .collect()
}

#[tokio::test]
async fn the_rfc_7817_certificate_check_fires_on_each_wrong_part() {
    let world = world().await;
    let issued = issue(
        &world,
        "check",
        opts(Service::Imaps, None, Proof::Capability),
    )
    .await;
    let chain = &issued.issued.chain_pem;
    let root = world.pki.root_der();
    let proved = validated(&issued.challenges);
    assert_eq!(
        check_server_certificate(chain, HOST, &proved, Some(root)),
        Findings::new()
    );
    // Names compare without case (RFC 4343).
    assert!(check_server_certificate(chain, &HOST.to_uppercase(), &proved, Some(root)).is_empty());
    // Another name: the dNSName and the SRV-ID were never validated for it (RFC 7817 §4.1).
    let other_name = check_server_certificate(chain, "www.example.test", &proved, Some(root));
    assert!(
        musts(&other_name)
            .iter()
            .any(|p| p.contains("dNSName mx.example.test")),
        "{other_name:?}"
    );
    // Another service proved: _imaps was not validated.
    let imap = [Validated {
        service: Service::Imap,
        port: 143,
        proof: Proved::Capability,
    }];
    let other_service = check_server_certificate(chain, HOST, &imap, Some(root));
    assert!(
        other_service
            .as_slice()
            .iter()
            .any(|f| f.observed.contains("_imaps.") && f.level == Level::Info),
        "the twin of a proved service is a policy note: {other_service:?}"
    );
    let smtp = [Validated {
        service: Service::Smtp,
        port: 25,
        proof: Proved::DnsEmail,
    }];
    let unproved = check_server_certificate(chain, HOST, &smtp, Some(root));
    assert!(
        musts(&unproved).iter().any(|p| p.contains("_imaps.")),
        "{unproved:?}"
    );
    // Another seed, so another root (the PKI comes from the seed).
    let other_world = crate::support::world_with(|c| c.seed = c.seed.wrapping_add(1)).await;
    let wrong_root =
        check_server_certificate(chain, HOST, &proved, Some(other_world.pki.root_der()));
    assert!(
        musts(&wrong_root)
            .iter()
            .any(|p| p.to_lowercase().contains("signature")),
        "{wrong_root:?}"
    );
    other_world.shutdown().await;
    // A leaf for clients, able to sign certificates: EKU and keyUsage are acmeproof's choices
    // no text makes, so both are policy notes, never a MUST.
    let key = rcgen::KeyPair::generate().expect("key");
    let mut params = rcgen::CertificateParams::new(vec![HOST.to_owned()]).expect("params");
    params.distinguished_name = rcgen::DistinguishedName::new();
    params.extended_key_usages = vec![rcgen::ExtendedKeyUsagePurpose::ClientAuth];
    params.key_usages = vec![rcgen::KeyUsagePurpose::KeyCertSign];
    let pem = params.self_signed(&key).expect("cert").pem();
    let chain = format!("{pem}{pem}");
    let notes = check_server_certificate(&chain, HOST, &[], None);
    assert!(!notes.has_must(), "{notes:?}");
    assert!(
        notes
            .as_slice()
            .iter()
            .any(|f| f.observed.contains("ClientAuth") || f.observed.contains("clientAuth")),
        "{notes:?}"
    );
    assert!(
        notes
            .as_slice()
            .iter()
            .any(|f| f.observed.starts_with("keyUsage")),
        "{notes:?}"
    );
    world.shutdown().await;
}

#[tokio::test]
async fn srv_only_profile_issues_the_validated_srv_id_and_passes_the_must_checks() {
    let world = world().await;
    set_knobs(&world, |k| k.tls_profile = TlsProfile::SrvOnly);
    let issued = issue(
        &world,
        "srv-only",
        opts(Service::Imaps, None, Proof::Capability),
    )
    .await;
    let chain = pem_chain(&issued.issued.chain_pem);
    let (_, cert) = X509Certificate::from_der(&chain[0]).expect("leaf parses");
    let san = cert
        .subject_alternative_name()
        .expect("SAN")
        .expect("a SAN");
    // RFC 5280 §4.2.1.6: an empty subject makes the SAN critical.
    assert!(san.critical);
    assert_eq!(san.value.general_names.len(), 1);
    assert!(cert.subject().iter_common_name().next().is_none());
    let findings = check_server_certificate(
        &issued.issued.chain_pem,
        HOST,
        &validated(&issued.challenges),
        Some(world.pki.root_der()),
    );
    assert!(!findings.has_must(), "{findings:?}");
    assert!(
        findings.as_slice().iter().all(|f| f.level == Level::Info) && !findings.is_empty(),
        "{findings:?}"
    );
    world.shutdown().await;
}

#[tokio::test]
async fn capability_smtp_on_submission_587_before_and_after_starttls() {
    let world = world().await;
    // Default capability_phase = before-starttls: the EHLO before STARTTLS.
    let issued = issue(
        &world,
        "cap-587",
        opts(Service::Submission, Some(587), Proof::Capability),
    )
    .await;
    assert_eq!(issued.challenges[0].kind, "capability-smtp-00");
    assert_eq!(leaf(&issued).other, [srv("_submission.mx.example.test")]);

    // A server that lists ACME only after STARTTLS fails a before-starttls CA…
    let mut o = opts(Service::Submission, Some(587), Proof::Capability);
    o.advert_phase = AdvertPhase::AfterTls;
    let client = client(&world, "cap-587-after").await;
    let (kind, detail) = challenge_problem(operator(&world, &client, o.clone()).issue(HOST).await);
    assert_eq!(kind, "urn:ietf:params:acme:error:incorrectResponse");
    assert!(
        detail.contains("no ACME capability") && detail.contains("before STARTTLS"),
        "{detail}"
    );
    // …and passes one that upgrades first; RSA key: digitalSignature + keyEncipherment.
    set_knobs(&world, |k| {
        k.capability_phase = CapabilityPhase::AfterStarttls
    });
    o.csr_key = KeyAlg::Rs256;
    let issued = operator(&world, &client, o)
        .issue(HOST)
        .await
        .expect("issued after STARTTLS");
    let leaf = leaf(&issued);
    assert!(leaf.server_auth && leaf.digital_signature && leaf.key_encipherment);
    world.shutdown().await;
}

#[tokio::test]
async fn capability_imap_on_imaps_993_and_imap_143() {
    let world = world().await;
    let issued = issue(
        &world,
        "imaps",
        opts(Service::Imaps, None, Proof::Capability),
    )
    .await;
    assert_eq!(issued.challenges[0].kind, "capability-imap-00");
    assert_eq!(issued.challenges[0].port, 993);
    let l = leaf(&issued);
    assert_eq!(l.dns, [HOST]);
    assert_eq!(l.other, [srv("_imaps.mx.example.test")]);
    // RFC 7817 §5: a CSR that carries the validated SRV-ID too gets the same certificate.
    let mut o = opts(Service::Imaps, None, Proof::Capability);
    o.csr_srv_ids = true;
    let issued = issue(&world, "imaps-csr-srv", o).await;
    let (_, csr) = X509CertificationRequest::from_der(&issued.csr_der).expect("CSR parses");
    let csr_has_srv =
        csr.requested_extensions().into_iter().flatten().any(|ext| {
            match ext {
            ParsedExtension::SubjectAlternativeName(san) => san.general_names.iter().any(|n| {
                matches!(n, GeneralName::OtherName(oid, _) if oid.to_id_string() == OID_SRV_NAME)
            }),
            _ => false,
        }
        });
    assert!(csr_has_srv, "the CSR carries the SRV-ID");
    let l = leaf(&issued);
    assert_eq!(l.dns, [HOST]);
    assert_eq!(l.other, [srv("_imaps.mx.example.test")]);
    let issued = issue(
        &world,
        "imap",
        opts(Service::Imap, Some(143), Proof::Capability),
    )
    .await;
    assert_eq!(leaf(&issued).other, [srv("_imap.mx.example.test")]);
    // After STARTTLS too (CAPABILITY re-read under TLS, RFC 3501 §6.2.1).
    set_knobs(&world, |k| {
        k.capability_phase = CapabilityPhase::AfterStarttls
    });
    let mut o = opts(Service::Imap, Some(143), Proof::Capability);
    o.advert_phase = AdvertPhase::AfterTls;
    issue(&world, "imap-after", o).await;
    world.shutdown().await;
}

#[tokio::test]
async fn capability_pop_on_pop3s_995_and_pop3_110() {
    let world = world().await;
    let issued = issue(
        &world,
        "pop3s",
        opts(Service::Pop3s, None, Proof::Capability),
    )
    .await;
    assert_eq!(issued.challenges[0].kind, "capability-pop-00");
    assert_eq!(leaf(&issued).other, [srv("_pop3s.mx.example.test")]);
    let issued = issue(&world, "pop3", opts(Service::Pop3, None, Proof::Capability)).await;
    assert_eq!(leaf(&issued).other, [srv("_pop3.mx.example.test")]);
    world.shutdown().await;
}

#[tokio::test]
async fn a_wrong_digest_is_incorrect_response() {
    let world = world().await;
    let client = client(&world, "wrong").await;
    for service in [Service::Smtp, Service::Imaps, Service::Pop3] {
        let op = operator(&world, &client, opts(service, None, Proof::Capability));
        let pending = op.order(HOST).await.expect("order");
        // The right digest is what publish() would set; advertise another one instead.
        let wrong = "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA";
        assert_ne!(pending.challenges[0].digest, wrong);
        let mail = world.mail.as_ref().expect("mail plane");
        mail.acme_capability(service).set(wrong).expect("set");
        let result = op.respond(&pending).await;
        mail.acme_capability(service).clear();
        let (kind, detail) = challenge_problem(result);
        assert_eq!(
            kind, "urn:ietf:params:acme:error:incorrectResponse",
            "{service}"
        );
        assert!(
            detail.contains("digest mismatch")
                && detail.contains(wrong)
                && detail.contains(&pending.challenges[0].digest),
            "{detail}"
        );
    }
    // Nothing advertised at all.
    let op = operator(
        &world,
        &client,
        opts(Service::Smtp, None, Proof::Capability),
    );
    let pending = op.order(HOST).await.expect("order");
    let (kind, detail) = challenge_problem(op.respond(&pending).await);
    assert_eq!(kind, "urn:ietf:params:acme:error:incorrectResponse");
    assert!(
        detail.contains("no ACME capability in the EHLO reply"),
        "{detail}"
    );
    // dns-email-00: a wrong TXT value is incorrectResponse…
    let op = operator(&world, &client, opts(Service::Smtp, None, Proof::DnsEmail));
    let pending = op.order(HOST).await.expect("order");
    let name = "_25._smtp._acme-challenge.mx.example.test";
    world
        .dns
        .set_txt(name, vec!["not-the-digest".into()])
        .await
        .expect("TXT");
    let (kind, detail) = challenge_problem(op.respond(&pending).await);
    assert_eq!(kind, "urn:ietf:params:acme:error:incorrectResponse");
    assert!(
        detail.contains(name) && detail.contains("digest mismatch: found not-the-digest"),
        "{detail}"
    );
    // …and no record at all is a DNS problem (NXDOMAIN), as dns-01 here and Boulder report it.
    op.cleanup(&pending).await;
    let pending = op.order(HOST).await.expect("order");
    let (kind, detail) = challenge_problem(op.respond(&pending).await);
    assert_eq!(kind, "urn:ietf:params:acme:error:dns");
    assert!(detail.contains(name), "{detail}");
    world.shutdown().await;
}

#[tokio::test]
async fn nothing_listening_is_connection_and_no_address_is_dns() {
    let world = world().await;
    let client = client(&world, "connect").await;
    // The world's certainly-closed port (held bound, never listening).
    let free = world.closed_port();
    let op = operator(
        &world,
        &client,
        opts(Service::Smtp, Some(free), Proof::Capability),
    );
    let (kind, detail) = challenge_problem(op.issue(HOST).await);
    assert_eq!(kind, "urn:ietf:params:acme:error:connection");
    assert!(detail.contains(&format!("port {free}")), "{detail}");
    // A name without A/AAAA.
    let op = operator(
        &world,
        &client,
        opts(Service::Smtp, None, Proof::Capability),
    );
    let (kind, detail) = challenge_problem(op.issue("nohost.example.test").await);
    assert_eq!(kind, "urn:ietf:params:acme:error:dns");
    assert!(detail.contains("nohost.example.test"), "{detail}");
    world.shutdown().await;
}

#[tokio::test]
async fn require_default_port_refuses_a_mismatch() {
    let world = world().await;
    let client = client(&world, "port").await;
    // Off (default): port 2525 for smtp is ordered (the TXT name carries it).
    let o = opts(Service::Smtp, Some(2525), Proof::DnsEmail);
    let issued = operator(&world, &client, o.clone())
        .issue(HOST)
        .await
        .expect("off: issued");
    assert_eq!(
        issued.challenges[0].txt_name.as_deref(),
        Some("_2525._smtp._acme-challenge.mx.example.test")
    );
    set_knobs(&world, |k| k.require_default_port = true);
    // The draft's placement: the challenge POST names the port, and is refused.
    let (kind, detail) = refused(operator(&world, &client, o).issue(HOST).await);
    assert_eq!(kind, "rejectedIdentifier");
    assert!(
        detail.contains("port 2525") && detail.contains("smtp"),
        "{detail}"
    );
    // The default port still passes.
    operator(
        &world,
        &client,
        opts(Service::Smtp, Some(25), Proof::DnsEmail),
    )
    .issue(HOST)
    .await
    .expect("on: port 25 issued");
    world.shutdown().await;
}

#[tokio::test]
async fn lmtp_is_refused_unless_the_knob_is_on() {
    let world = world().await;
    let client = client(&world, "lmtp").await;
    let mut o = opts(Service::Lmtp, Some(24), Proof::Capability);
    o.field = ServiceField::NewOrder;
    let (kind, detail) = refused(operator(&world, &client, o.clone()).order(HOST).await);
    assert_eq!(kind, "unsupportedIdentifier");
    assert!(detail.contains("lmtp = off"), "{detail}");
    set_knobs(&world, |k| k.lmtp = Lmtp::On);
    // No IANA port: without one the CA asks for it.
    let mut no_port = opts(Service::Lmtp, None, Proof::Capability);
    no_port.field = ServiceField::NewOrder;
    let (kind, detail) = refused(operator(&world, &client, no_port).order(HOST).await);
    assert_eq!(kind, "malformed");
    assert!(detail.contains("\"port\" is required"), "{detail}");
    // Port 24 reaches the world's LMTP server; LHLO carries `ACME <digest>`.
    let mail = world.mail.as_ref().expect("mail plane");
    world
        .ca
        .shared()
        .map_port(24, mail.service_addr(Service::Lmtp).port());
    let issued = operator(&world, &client, o)
        .issue(HOST)
        .await
        .expect("lmtp issued");
    assert_eq!(issued.challenges[0].kind, "capability-smtp-00");
    assert_eq!(leaf(&issued).other, [srv("_lmtp.mx.example.test")]);
    world.shutdown().await;
}

#[tokio::test]
async fn service_field_placement_under_each_knob_value() {
    let world = world().await;
    let client = client(&world, "field").await;
    let with = |field| {
        let mut o = opts(Service::Smtp, None, Proof::DnsEmail);
        o.field = field;
        o
    };
    let all = [
        ServiceField::ChallengeHeader,
        ServiceField::ChallengePayload,
        ServiceField::NewOrder,
        ServiceField::NewOrderHeader,
    ];
    // both (default): every placement works.
    for field in all {
        operator(&world, &client, with(field))
            .issue(HOST)
            .await
            .unwrap_or_else(|e| panic!("{field:?}: {e}"));
    }
    // The draft as written: service/port at newOrder are refused, naming the knob.
    set_knobs(&world, |k| k.service_field = CaServiceField::Challenge);
    for bad in [ServiceField::NewOrder, ServiceField::NewOrderHeader] {
        let (kind, detail) = refused(operator(&world, &client, with(bad)).order(HOST).await);
        assert_eq!(kind, "malformed", "{bad:?}");
        assert!(detail.contains("service_field = challenge"), "{detail}");
    }
    // The proposal alone: a plain dns order has no email-tls challenge to answer.
    set_knobs(&world, |k| k.service_field = CaServiceField::NewOrder);
    for bad in [
        ServiceField::ChallengeHeader,
        ServiceField::ChallengePayload,
    ] {
        match operator(&world, &client, with(bad)).order(HOST).await {
            Err(FlowError::Unexpected(why)) => assert!(why.contains("no dns-email-00"), "{why}"),
            other => panic!("{bad:?}: {other:?}"),
        }
    }
    let mut repeat = with(ServiceField::NewOrder);
    repeat.repeat_in_challenge = true;
    operator(&world, &client, repeat)
        .issue(HOST)
        .await
        .expect("a matching repeat in the challenge POST is accepted");
    // Knob draft: -00…-04 read the protected header, -05 the payload.
    for (draft, good, bad) in [
        (
            Draft::V02,
            ServiceField::ChallengeHeader,
            ServiceField::ChallengePayload,
        ),
        (
            Draft::V05,
            ServiceField::ChallengePayload,
            ServiceField::ChallengeHeader,
        ),
    ] {
        set_knobs(&world, |k| {
            k.service_field = CaServiceField::Challenge;
            k.draft = draft;
        });
        let (kind, detail) = refused(operator(&world, &client, with(bad)).issue(HOST).await);
        assert_eq!(kind, "malformed", "{draft:?}");
        assert!(detail.contains("knob draft"), "{detail}");
        operator(&world, &client, with(good))
            .issue(HOST)
            .await
            .unwrap_or_else(|e| panic!("{draft:?}: {e}"));
    }
    world.shutdown().await;
}

#[tokio::test]
async fn service_port_in_hash_variants_must_agree() {
    let world = world().await;
    let client = client(&world, "hash").await;
    for proof in [Proof::Capability, Proof::DnsEmail] {
        for (ca, client_binds) in [
            (ServicePortInHash::No, true),
            (ServicePortInHash::Yes, false),
        ] {
            set_knobs(&world, |k| k.service_port_in_hash = ca);
            let mut o = opts(Service::Imaps, None, proof);
            o.service_port_in_hash = client_binds;
            let (kind, detail) =
                challenge_problem(operator(&world, &client, o.clone()).issue(HOST).await);
            assert_eq!(kind, "urn:ietf:params:acme:error:incorrectResponse");
            assert!(
                detail.contains("digest mismatch") && detail.contains("service_port_in_hash"),
                "{detail}"
            );
            // Agreeing variants issue.
            o.service_port_in_hash = !client_binds;
            operator(&world, &client, o)
                .issue(HOST)
                .await
                .expect("agreeing variants issue");
        }
    }
    world.shutdown().await;
}

#[tokio::test]
async fn one_certificate_for_imap_and_imaps_per_knob() {
    let world = world().await;
    let client = client(&world, "twins").await;
    let mut o = opts(Service::Imap, Some(143), Proof::Capability);
    o.field = ServiceField::NewOrder;
    o.services
        .push(ServiceRequest::new(Service::Imaps, Some(993)));
    let issued = operator(&world, &client, o.clone())
        .issue(HOST)
        .await
        .expect("allow: issued");
    // Two authorizations, each proved on its own port.
    assert_eq!(issued.authorizations.len(), 2);
    let l = leaf(&issued);
    assert_eq!(l.dns, [HOST]);
    assert_eq!(
        l.other,
        [srv("_imap.mx.example.test"), srv("_imaps.mx.example.test")]
    );
    set_knobs(&world, |k| {
        k.one_cert_tls_and_starttls = OneCertTlsAndStarttls::Refuse
    });
    let (kind, detail) = refused(operator(&world, &client, o).order(HOST).await);
    assert_eq!(kind, "rejectedIdentifier");
    assert!(
        detail.contains("imap/143") && detail.contains("imaps/993"),
        "{detail}"
    );
    world.shutdown().await;
}

/// Runs a tool without blocking the world's runtime; (success, stdout + stderr).
async fn tool(program: &std::path::Path, args: &[String]) -> (bool, String) {
    let out = tokio::time::timeout(
        WAIT,
        tokio::process::Command::new(program)
            .args(args)
            .kill_on_drop(true)
            .output(),
    )
    .await
    .expect("tool finished in time")
    .expect("tool ran");
    (
        out.status.success(),
        format!(
            "{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        ),
    )
}

#[tokio::test]
async fn swaks_and_curl_see_the_capability_while_the_challenge_is_pending() {
    let Some(tools) = acmeproof_testkit::require_tools(&["swaks", "curl"]) else {
        return;
    };
    let (swaks, curl) = (&tools[0], &tools[1]);
    let world = world().await;
    let client = client(&world, "wire").await;
    let mail = world.mail.as_ref().expect("mail plane");
    let dir = std::env::temp_dir().join(format!("acmeproof-email-tls-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("temp dir");
    let root = dir.join("root.pem");
    std::fs::write(&root, world.pki.root_pem()).expect("root");
    let user = "alice@example.test:alice-password".to_owned();
    for service in [
        Service::Smtp,
        Service::Submission,
        Service::Imap,
        Service::Imaps,
        Service::Pop3,
    ] {
        let op = operator(&world, &client, opts(service, None, Proof::Capability));
        let pending = op.order(HOST).await.expect("order");
        let digest = pending.challenges[0].digest.clone();
        let port = mail.service_addr(service).port();
        // Before publish: nothing on the wire.
        let ask = |port: u16| -> Vec<String> {
            match service {
                Service::Smtp | Service::Submission => vec![
                    "--server".into(),
                    format!("127.0.0.1:{port}"),
                    "--quit-after".into(),
                    "EHLO".into(),
                    "--ehlo".into(),
                    "client.test".into(),
                ],
                Service::Imap => vec![
                    "-sS".into(),
                    "-v".into(),
                    format!("imap://127.0.0.1:{port}/"),
                    "-u".into(),
                    user.clone(),
                    "-X".into(),
                    "CAPABILITY".into(),
                ],
                Service::Imaps => vec![
                    "-sS".into(),
                    "-v".into(),
                    "--cacert".into(),
                    root.display().to_string(),
                    format!("imaps://127.0.0.1:{port}/"),
                    "-u".into(),
                    user.clone(),
                    "-X".into(),
                    "CAPABILITY".into(),
                ],
                _ => vec![
                    "-sS".into(),
                    "-v".into(),
                    format!("pop3://127.0.0.1:{port}/"),
                    "-u".into(),
                    user.clone(),
                    "-X".into(),
                    "CAPA".into(),
                ],
            }
        };
        let program = match service {
            Service::Smtp | Service::Submission => swaks,
            _ => curl,
        };
        let (ok, before) = tool(program, &ask(port)).await;
        assert!(ok, "{service}: {before}");
        assert!(!before.contains(&digest), "{service}: {before}");
        op.publish(&pending).await.expect("publish");
        let (ok, text) = tool(program, &ask(port)).await;
        assert!(ok, "{service}: {text}");
        let wanted = match service {
            // -05 §3.4: `250-ACME gfj9Xq...Rg85nM`.
            Service::Smtp | Service::Submission => format!("250-ACME {digest}"),
            Service::Imap | Service::Imaps => format!("ACME={digest}"),
            _ => format!("ACME {digest}"),
        };
        assert!(text.contains(&wanted), "{service}: {wanted} not in {text}");
        if matches!(service, Service::Imap | Service::Imaps) {
            // In the greeting's CAPABILITY response code and in the CAPABILITY answer.
            assert!(
                text.lines()
                    .any(|l| l.contains("* OK [CAPABILITY") && l.contains(&wanted)),
                "{text}"
            );
            assert!(
                text.lines()
                    .any(|l| l.contains("* CAPABILITY") && l.contains(&wanted)),
                "{text}"
            );
        }
        // The CA sees the same listing and validates.
        op.respond(&pending).await.expect("valid");
        op.cleanup(&pending).await;
        let (_, after) = tool(program, &ask(port)).await;
        assert!(!after.contains(&digest), "{service}: cleared: {after}");
    }
    let _ = std::fs::remove_dir_all(&dir);
    world.shutdown().await;
}

#[tokio::test]
async fn the_management_api_sets_and_clears_a_servers_capability() {
    let world = world().await;
    let _ = rustls::crypto::ring::default_provider().install_default();
    let http = reqwest::Client::builder().no_proxy().build().expect("http");
    let base = format!("{}/mail/acme", world.management_url());
    let handle = world
        .mail
        .as_ref()
        .expect("mail plane")
        .acme_capability(Service::Imaps);
    let put =
        |body: &'static str, service: &str| http.put(format!("{base}/{service}")).body(body).send();
    let r = put(r#"{"digest": "abc-_1", "phase": "after-tls"}"#, "imaps")
        .await
        .expect("PUT");
    assert_eq!(r.status(), 200);
    assert_eq!(handle.visible(true).as_deref(), Some("abc-_1"));
    assert_eq!(handle.visible(false), None, "after-tls only");
    let got: Value = http
        .get(format!("{base}/imaps"))
        .send()
        .await
        .expect("GET")
        .json()
        .await
        .expect("JSON");
    assert_eq!(got["digest"], "abc-_1");
    // A value that would break the framing, and an unknown service, are refused.
    assert_eq!(
        put(r#"{"digest": "a\r\n250 X"}"#, "imaps")
            .await
            .expect("PUT")
            .status(),
        400
    );
    assert_eq!(handle.get().as_deref(), Some("abc-_1"), "unchanged");
    assert_eq!(
        put(r#"{"digest": "x"}"#, "http")
            .await
            .expect("PUT")
            .status(),
        404
    );
    let r = http
        .delete(format!("{base}/imaps"))
        .send()
        .await
        .expect("DELETE");
    assert_eq!(r.status(), 204);
    assert_eq!(handle.get(), None);
    world.shutdown().await;
}

/// A loopback server that answers every connection with `script` and closes.
async fn scripted_server(script: &'static [u8]) -> u16 {
    use tokio::io::AsyncWriteExt as _;
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let port = listener.local_addr().expect("addr").port();
    tokio::spawn(async move {
        while let Ok((mut stream, _)) = listener.accept().await {
            let _ = stream.write_all(script).await;
            let _ = stream.shutdown().await;
        }
    });
    port
}

#[tokio::test]
async fn a_misbehaving_server_gets_a_problem_naming_what_it_did() {
    let world = world().await;
    let client = client(&world, "misbehaving").await;
    for (service, script, kind, said) in [
        (
            Service::Smtp,
            &b"554 5.3.2 not today\r\n"[..],
            "incorrectResponse",
            "SMTP greeting is not 220: 554 5.3.2 not today",
        ),
        (
            Service::Imap,
            &b"* BYE go away\r\n"[..],
            "incorrectResponse",
            "IMAP greeting is not * OK",
        ),
        (
            Service::Pop3,
            &b""[..],
            "connection",
            "closed the connection",
        ),
        // Implicit TLS (submissions) against a server that speaks cleartext.
        (
            Service::Submissions,
            &b"220 cleartext only\r\n"[..],
            "tls",
            "TLS handshake failed",
        ),
    ] {
        let port = scripted_server(script).await;
        let op = operator(
            &world,
            &client,
            opts(service, Some(port), Proof::Capability),
        );
        let (got, detail) = challenge_problem(op.issue(HOST).await);
        assert_eq!(
            got,
            format!("urn:ietf:params:acme:error:{kind}"),
            "{service}: {detail}"
        );
        assert!(detail.contains(said), "{service}: {detail}");
    }
    world.shutdown().await;
}

/// The client variants × CA variants the `matrix` command crosses: placement of
/// `service`/`port` and the digest variant. They interoperate exactly when the CA reads the
/// place the client writes and both hash the same way; otherwise the refusal names why.
#[tokio::test]
async fn client_variants_cross_ca_variants() {
    let world = world().await;
    let client = client(&world, "matrix").await;
    let mut cells = 0;
    for ca_field in [
        CaServiceField::Challenge,
        CaServiceField::NewOrder,
        CaServiceField::Both,
    ] {
        for ca_hash in [ServicePortInHash::No, ServicePortInHash::Yes] {
            set_knobs(&world, |k| {
                k.service_field = ca_field;
                k.service_port_in_hash = ca_hash;
            });
            for field in [ServiceField::ChallengePayload, ServiceField::NewOrder] {
                for binds in [false, true] {
                    let mut o = opts(Service::Imaps, None, Proof::Capability);
                    o.field = field;
                    o.service_port_in_hash = binds;
                    let reads = match ca_field {
                        CaServiceField::Both => true,
                        CaServiceField::Challenge => field.at_challenge(),
                        CaServiceField::NewOrder => !field.at_challenge(),
                    };
                    let same_hash = binds == (ca_hash == ServicePortInHash::Yes);
                    let result = operator(&world, &client, o).issue(HOST).await;
                    let cell = format!("CA {ca_field:?}/{ca_hash:?} × client {field:?}/{binds}");
                    match (reads, same_hash, result) {
                        (true, true, Ok(issued)) => {
                            assert_eq!(leaf(&issued).other, [srv("_imaps.mx.example.test")]);
                        }
                        (
                            false,
                            _,
                            Err(FlowError::Acme(AcmeError::Problem { kind, detail, .. })),
                        ) => {
                            assert_eq!(kind, "malformed", "{cell}");
                            assert!(detail.contains("service_field"), "{cell}: {detail}");
                        }
                        (false, _, Err(FlowError::Unexpected(why))) => {
                            assert!(why.contains("no capability-imap-00"), "{cell}: {why}");
                        }
                        (true, false, Err(FlowError::Invalid(authz))) => {
                            let (kind, detail) =
                                challenge_problem::<()>(Err(FlowError::Invalid(authz)));
                            assert!(kind.ends_with("incorrectResponse"), "{cell}");
                            assert!(detail.contains("service_port_in_hash"), "{cell}: {detail}");
                        }
                        (_, _, other) => panic!("{cell}: unexpected {other:?}"),
                    }
                    cells += 1;
                }
            }
        }
    }
    assert_eq!(cells, 24);
    world.shutdown().await;
}

/// -05 §3.4.1 item 3's "44 octets in length" is the padded base64url form: taken by default,
/// refused under the strict knob with a SHOULD-level TLS-12 detail naming the erratum.
#[tokio::test]
async fn a_padded_capability_is_accepted_unless_strict() {
    let world = world().await;
    let client = client(&world, "padded").await;
    let mail = world.mail.as_ref().expect("mail plane");
    for strict in [false, true] {
        set_knobs(&world, |k| k.strict = strict);
        let op = operator(
            &world,
            &client,
            opts(Service::Imaps, None, Proof::Capability),
        );
        let pending = op.order(HOST).await.expect("order");
        let digest = &pending.challenges[0].digest;
        assert_eq!(digest.len(), 43, "unpadded base64url SHA-256");
        mail.acme_capability(Service::Imaps)
            .set_in(&format!("{digest}="), AdvertPhase::Always)
            .expect("advertise");
        let result = op.respond(&pending).await;
        mail.acme_capability(Service::Imaps).clear();
        if strict {
            let (kind, detail) = challenge_problem(result);
            assert!(kind.ends_with("incorrectResponse"), "{kind}");
            assert!(
                detail.contains("TLS-12") && detail.contains("44 octets"),
                "{detail}"
            );
        } else {
            result.expect("the padded digest is taken");
        }
    }
    world.shutdown().await;
}

/// Knob twin_srv_id: the CA adds _imaps after capability-imap-00 on 143 when a server greets on
/// 993; without the knob it never does.
#[tokio::test]
async fn the_twin_srv_id_comes_only_with_the_knob() {
    let world = world().await;
    let plain = issue(
        &world,
        "twin-off",
        opts(Service::Imap, Some(143), Proof::Capability),
    )
    .await;
    assert_eq!(leaf(&plain).other, [srv("_imap.mx.example.test")]);
    set_knobs(&world, |k| k.twin_srv_id = true);
    let twin = issue(
        &world,
        "twin-on",
        opts(Service::Imap, Some(143), Proof::Capability),
    )
    .await;
    assert_eq!(
        leaf(&twin).other,
        [srv("_imap.mx.example.test"), srv("_imaps.mx.example.test")]
    );
    let findings = check_server_certificate(
        &twin.issued.chain_pem,
        HOST,
        &validated(&twin.challenges),
        Some(world.pki.root_der()),
    );
    assert!(!findings.has_must(), "{findings:?}");
    assert!(
        findings
            .as_slice()
            .iter()
            .any(|f| f.observed.contains("twin")),
        "{findings:?}"
    );
    world.shutdown().await;
}
