//! `mocks::dkim` against a real `DnsServer`: keys published as TXT records, signatures made and
//! verified by mail-auth through the world's resolver.

use acmeproof_mocks::dkim::{
    Canonicalization, DkimAlgorithm, DkimError, DkimKey, DkimVerdict, DkimVerifier,
    MAX_DKIM_MESSAGE_OCTETS, authentication_results, passes_for_domain,
};
use acmeproof_mocks::dns::{DnsConfig, DnsServer, WorldResolver};
use acmeproof_mocks::protocol::smime::check_challenge;
use acmeproof_mocks::protocol::smime::{
    CHALLENGE_DKIM_MUST_SIGN, ChallengeContext, ChallengeEmail, DKIM_SHOULD_SIGN,
    RESPONSE_DKIM_MUST_SIGN,
};
use acmeproof_mocks::seed::Seed;

pub const PLAIN: &[u8] = b"From: Alice <alice@example.test>\r\n\
To: bob@example.net\r\n\
Subject: Quarterly numbers for the board meeting next week\r\n\
Date: Sat, 5 Dec 2020 10:08:55 +0100\r\n\
Message-ID: <m1@example.test>\r\n\
MIME-Version: 1.0\r\n\
Content-Type: text/plain; charset=utf-8\r\n\
\r\n\
Hello Bob,\r\n\
\r\n\
the numbers are attached.\r\n";

pub async fn world() -> (DnsServer, DkimVerifier) {
    let dns = DnsServer::start(DnsConfig {
        zones: vec!["example.test".into(), "other.test".into()],
        ..Default::default()
    })
    .await
    .expect("dns starts");
    let resolver = WorldResolver::new(dns.addr()).expect("resolver");
    let verifier = DkimVerifier::new(&resolver);
    (dns, verifier)
}

pub async fn published(
    dns: &DnsServer,
    domain: &str,
    alg: DkimAlgorithm,
    canon: Canonicalization,
) -> DkimKey {
    let key = DkimKey::generate(domain, "sel1", alg, &Seed(11).stream(domain))
        .expect("key")
        .with_canonicalization(canon, canon);
    key.publish(dns).await.expect("publish");
    key
}

fn replace(raw: &[u8], from: &str, to: &str) -> Vec<u8> {
    let s = String::from_utf8(raw.to_vec()).expect("utf-8");
    assert!(s.contains(from), "{from:?} not in message");
    s.replacen(from, to, 1).into_bytes()
}

const HEADERS: &[&str] = &[
    "From",
    "To",
    "Subject",
    "Date",
    "Message-ID",
    "Content-Type",
];

#[tokio::test]
async fn ed25519_and_rsa_signatures_pass_with_the_right_domain() {
    let (dns, verifier) = world().await;
    for alg in [DkimAlgorithm::Ed25519Sha256, DkimAlgorithm::RsaSha256] {
        let key = published(&dns, "example.test", alg, Canonicalization::Relaxed).await;
        let signed = key.sign(PLAIN, HEADERS).expect("sign");
        assert!(signed.starts_with(b"DKIM-Signature: "));
        let head = String::from_utf8_lossy(&signed[..200]).to_string();
        assert!(head.contains(&format!("a={}", alg.name())), "{head}");
        let out = verifier.verify(&signed).await;
        assert_eq!(out.len(), 1, "{out:?}");
        assert_eq!(out[0].result, DkimVerdict::Pass, "{alg:?}: {out:?}");
        assert_eq!(out[0].domain, "example.test");
        assert_eq!(out[0].selector, "sel1");
        assert_eq!(out[0].canonicalization, "relaxed/relaxed");
        assert!(out[0].headers_signed.iter().any(|h| h == "Subject"));
        assert!(passes_for_domain(&out, "example.test"));
        assert!(passes_for_domain(&out, "EXAMPLE.test."));
        assert!(!passes_for_domain(&out, "other.test"));
    }
}

#[tokio::test]
async fn rsa_record_is_spki_split_into_character_strings() {
    let (dns, _) = world().await;
    let key = published(
        &dns,
        "example.test",
        DkimAlgorithm::RsaSha256,
        Canonicalization::Relaxed,
    )
    .await;
    let value = key.txt_record_value();
    assert!(value.starts_with("v=DKIM1; k=rsa; p=MII"), "{value}");
    assert!(value.len() > 255);
    let records = dns.records(&key.dns_name()).await.expect("records");
    let strings: Vec<String> = records
        .iter()
        .flat_map(|r| match &r.value {
            acmeproof_mocks::dns::RecordValue::Many(v) => v.clone(),
            acmeproof_mocks::dns::RecordValue::One(s) => vec![s.clone()],
        })
        .collect();
    assert!(strings.len() >= 2, "{strings:?}");
    assert!(strings.iter().all(|s| s.len() <= 255));
    assert_eq!(strings.concat(), value);
}

#[tokio::test]
async fn ed25519_keys_replay_from_the_seed_and_rsa_keys_are_one_per_name_in_a_process() {
    let gen_ = |alg| {
        DkimKey::generate("example.test", "s", alg, &Seed(5).stream("dkim"))
            .expect("key")
            .txt_record_value()
    };
    let ed = gen_(DkimAlgorithm::Ed25519Sha256);
    assert_eq!(ed, gen_(DkimAlgorithm::Ed25519Sha256));
    assert!(ed.starts_with("v=DKIM1; k=ed25519; p="));
    // RFC 8463 §4.2: the raw 32-octet key, 44 base64 characters.
    assert_eq!(ed.len(), "v=DKIM1; k=ed25519; p=".len() + 44);
    // RSA does not come from the seed; a process makes one key per algorithm, domain and
    // selector, so every world naming them again shares it, and another selector has its own.
    let rsa = gen_(DkimAlgorithm::RsaSha256);
    assert_eq!(rsa, gen_(DkimAlgorithm::RsaSha256));
    let other_selector = |selector| {
        DkimKey::generate(
            "example.test",
            selector,
            DkimAlgorithm::RsaSha256,
            &Seed(5).stream("dkim"),
        )
        .expect("key")
        .txt_record_value()
    };
    assert_ne!(rsa, other_selector("s2"));
    assert_eq!(other_selector("s2"), other_selector("S2"));
    // A world's n-th domain shares the n-th slot's key, whatever its name; slots differ.
    let slot = |domain, slot| {
        DkimKey::generate_in_slot(
            domain,
            "s",
            DkimAlgorithm::RsaSha256,
            slot,
            &Seed(5).stream("dkim"),
        )
        .expect("key")
        .txt_record_value()
    };
    assert_eq!(slot("a.test", 0), slot("b.test", 0));
    assert_ne!(slot("a.test", 0), slot("a.test", 1));
    assert_ne!(slot("a.test", 0), rsa);
    let other = DkimKey::generate(
        "example.test",
        "s",
        DkimAlgorithm::Ed25519Sha256,
        &Seed(6).stream("dkim"),
    )
    .expect("key");
    assert_ne!(ed, other.txt_record_value());
}

#[test]
fn bad_domains_and_selectors_are_refused() {
    let rng = Seed(1).stream("x");
    let alg = DkimAlgorithm::Ed25519Sha256;
    assert!(DkimKey::generate("example.test", "s-1.x", alg, &rng).is_ok());
    assert!(DkimKey::generate("exa mple.test", "s", alg, &rng).is_err());
    assert!(DkimKey::generate("example.test", "", alg, &rng).is_err());
    assert!(DkimKey::generate("example.test", "a_b", alg, &rng).is_err());
    assert!(DkimKey::generate("example.test", "a..b", alg, &rng).is_err());
    let k = DkimKey::generate("Bücher.Example", "s", alg, &rng).expect("idn");
    assert_eq!(k.domain(), "xn--bcher-kva.example");
    assert_eq!(k.dns_name(), "s._domainkey.xn--bcher-kva.example");
}

#[tokio::test]
async fn tampered_body_is_not_pass() {
    let (dns, verifier) = world().await;
    let key = published(
        &dns,
        "example.test",
        DkimAlgorithm::Ed25519Sha256,
        Canonicalization::Relaxed,
    )
    .await;
    let signed = key.sign(PLAIN, HEADERS).expect("sign");
    let bad = replace(&signed, "numbers are attached", "numbers are wrong!!");
    let out = verifier.verify(&bad).await;
    assert!(matches!(out[0].result, DkimVerdict::Neutral(_)), "{out:?}");
    assert!(!passes_for_domain(&out, "example.test"));
}

#[tokio::test]
async fn tampered_signed_header_is_not_pass_and_unsigned_header_is() {
    let (dns, verifier) = world().await;
    let key = published(
        &dns,
        "example.test",
        DkimAlgorithm::RsaSha256,
        Canonicalization::Relaxed,
    )
    .await;
    let signed = key.sign(PLAIN, HEADERS).expect("sign");
    let bad = replace(&signed, "To: bob@example.net", "To: eve@example.net");
    let out = verifier.verify(&bad).await;
    assert!(matches!(out[0].result, DkimVerdict::Fail(_)), "{out:?}");
    assert!(!passes_for_domain(&out, "example.test"));
    // A header outside h= may change freely.
    let fine = replace(&signed, "MIME-Version: 1.0", "MIME-Version: 1.0 (changed)");
    assert!(passes_for_domain(
        &verifier.verify(&fine).await,
        "example.test"
    ));
}

#[tokio::test]
async fn key_not_in_dns_is_an_error_not_pass() {
    let (_dns, verifier) = world().await;
    let key = DkimKey::generate(
        "example.test",
        "missing",
        DkimAlgorithm::Ed25519Sha256,
        &Seed(2).stream("k"),
    )
    .expect("key");
    let out = verifier
        .verify(&key.sign(PLAIN, HEADERS).expect("sign"))
        .await;
    assert!(
        matches!(
            out[0].result,
            DkimVerdict::PermError(_) | DkimVerdict::TempError(_)
        ),
        "{out:?}"
    );
    assert!(!passes_for_domain(&out, "example.test"));
}

#[tokio::test]
async fn a_record_for_another_key_is_fail() {
    let (dns, verifier) = world().await;
    let published_key = published(
        &dns,
        "example.test",
        DkimAlgorithm::Ed25519Sha256,
        Canonicalization::Relaxed,
    )
    .await;
    // Same name, different key: the record in DNS does not match the signer.
    let impostor = DkimKey::generate(
        "example.test",
        published_key.selector(),
        DkimAlgorithm::Ed25519Sha256,
        &Seed(99).stream("impostor"),
    )
    .expect("key");
    let out = verifier
        .verify(&impostor.sign(PLAIN, HEADERS).expect("sign"))
        .await;
    assert!(matches!(out[0].result, DkimVerdict::Fail(_)), "{out:?}");
}

#[tokio::test]
async fn pass_for_another_domain_does_not_count() {
    let (dns, verifier) = world().await;
    let key = published(
        &dns,
        "other.test",
        DkimAlgorithm::Ed25519Sha256,
        Canonicalization::Relaxed,
    )
    .await;
    // From is alice@example.test, signature by other.test: a valid third-party signature.
    let out = verifier
        .verify(&key.sign(PLAIN, HEADERS).expect("sign"))
        .await;
    assert_eq!(out[0].result, DkimVerdict::Pass);
    assert_eq!(out[0].domain, "other.test");
    assert!(!passes_for_domain(&out, "example.test"));
    assert!(passes_for_domain(&out, "other.test"));
}

#[tokio::test]
async fn unsigned_and_garbage_input_never_pass() {
    let (_dns, verifier) = world().await;
    let huge = vec![b'a'; MAX_DKIM_MESSAGE_OCTETS + 1];
    let key = DkimKey::generate(
        "example.test",
        "s",
        DkimAlgorithm::Ed25519Sha256,
        &Seed(1).stream("k"),
    )
    .expect("key");
    assert!(matches!(
        key.sign(&huge, HEADERS),
        Err(DkimError::TooLarge(_))
    ));
    assert!(matches!(
        verifier.verify(&huge).await[0].result,
        DkimVerdict::PermError(_)
    ));
    let out = verifier.verify(PLAIN).await;
    assert_eq!(out.len(), 1);
    assert_eq!(out[0].result, DkimVerdict::None);
    assert!(!passes_for_domain(&out, "example.test"));
    for junk in [
        &b""[..],
        b"\xff\xfe\x00",
        b"DKIM-Signature: v=1; a=\r\n\r\n",
    ] {
        let out = verifier.verify(junk).await;
        assert!(!out.is_empty());
        assert!(out.iter().all(|o| !o.result.is_pass()), "{out:?}");
    }
}

#[tokio::test]
async fn challenge_signed_over_the_rfc8823_lists_verifies() {
    let (dns, verifier) = world().await;
    let key = published(
        &dns,
        "example.test",
        DkimAlgorithm::Ed25519Sha256,
        Canonicalization::Relaxed,
    )
    .await;
    let mail = ChallengeEmail::new(
        "acme-generator@example.test",
        "alexey@example.net",
        "LgYemJLy3F1LDkiJrdIGbEzyFJyOyf6vBdyZ1TG3sME",
        "A2299BB.FF7788@example.test",
        1_607_159_335,
    )
    .build();
    let headers: Vec<&str> = CHALLENGE_DKIM_MUST_SIGN
        .iter()
        .chain(DKIM_SHOULD_SIGN)
        .copied()
        .collect();
    let signed = key.sign(&mail, &headers).expect("sign");
    let out = verifier.verify(&signed).await;
    assert!(passes_for_domain(&out, "example.test"), "{out:?}");
    for must in CHALLENGE_DKIM_MUST_SIGN {
        assert!(
            out[0]
                .headers_signed
                .iter()
                .any(|h| h.eq_ignore_ascii_case(must)),
            "{must} not in h="
        );
    }
    // The protocol's header-level checker finds nothing wrong with the signed challenge
    // (SMIME-28 signed, SMIME-29/30 h= lists, SMIME-31 d= = From domain) and flags the
    // unsigned one.
    let dkim_reqs = ["SMIME-28", "SMIME-29", "SMIME-30", "SMIME-31"];
    let report = check_challenge(&signed, &ChallengeContext::default()).expect("checks");
    assert!(
        !report.findings.0.iter().any(|f| dkim_reqs.contains(&f.req)),
        "{:?}",
        report.findings
    );
    assert!(!report.ignored, "{:?}", report.findings);
    let unsigned = check_challenge(&mail, &ChallengeContext::default()).expect("checks");
    assert!(unsigned.findings.0.iter().any(|f| f.req == "SMIME-28"));
    // The challenge list is a superset of the response list (RFC 8823 §3.2 item 9).
    for must in RESPONSE_DKIM_MUST_SIGN {
        assert!(headers.contains(must));
    }
    // Signing List-Id as absent (DKIM_SHOULD_SIGN) means a list adding it breaks the signature.
    let listed = [&b"List-Id: <acme.example.test>\r\n"[..], &signed].concat();
    assert!(!passes_for_domain(
        &verifier.verify(&listed).await,
        "example.test"
    ));
}

#[tokio::test]
async fn eai_domain_is_signed_in_a_labels_and_matches_u_labels() {
    let dns = DnsServer::start(DnsConfig {
        zones: vec!["παράδειγμα.δοκιμή".into()],
        ..Default::default()
    })
    .await
    .expect("dns");
    let verifier = DkimVerifier::new(&WorldResolver::new(dns.addr()).expect("resolver"));
    let key = published(
        &dns,
        "παράδειγμα.δοκιμή",
        DkimAlgorithm::Ed25519Sha256,
        Canonicalization::Relaxed,
    )
    .await;
    let msg = "From: δοκιμή@παράδειγμα.δοκιμή\r\nTo: a@example.test\r\nSubject: hi\r\n\r\nbody\r\n";
    let out = verifier
        .verify(&key.sign(msg.as_bytes(), HEADERS).expect("sign"))
        .await;
    assert!(out[0].result.is_pass(), "{out:?}");
    assert!(passes_for_domain(&out, "παράδειγμα.δοκιμή"));
    assert!(passes_for_domain(&out, key.domain()));
    assert!(key.domain().starts_with("xn--"));
}

#[tokio::test]
async fn authentication_results_names_result_domain_and_selector() {
    let (dns, verifier) = world().await;
    let key = published(
        &dns,
        "example.test",
        DkimAlgorithm::Ed25519Sha256,
        Canonicalization::Relaxed,
    )
    .await;
    let signed = key.sign(PLAIN, HEADERS).expect("sign");
    let ar = authentication_results("mx.example.net", &verifier.verify(&signed).await);
    assert!(ar.starts_with("mx.example.net;"), "{ar}");
    assert!(ar.contains("dkim=pass"), "{ar}");
    assert!(ar.contains("header.d=example.test"), "{ar}");
    assert!(ar.contains("header.s=sel1"), "{ar}");
    let bad = replace(&signed, "numbers are attached", "numbers are wrong!!");
    let ar = authentication_results("mx.example.net", &verifier.verify(&bad).await);
    assert!(ar.contains("dkim=neutral"), "{ar}");
    let ar = authentication_results("mx.example.net", &verifier.verify(PLAIN).await);
    assert_eq!(ar, "mx.example.net; none");
}

#[tokio::test]
async fn simple_canonicalization_is_recorded_and_verifies() {
    let (dns, verifier) = world().await;
    let key = published(
        &dns,
        "example.test",
        DkimAlgorithm::RsaSha256,
        Canonicalization::Simple,
    )
    .await;
    let out = verifier
        .verify(&key.sign(PLAIN, HEADERS).expect("sign"))
        .await;
    assert!(out[0].result.is_pass(), "{out:?}");
    assert_eq!(out[0].canonicalization, "simple/simple");
}

/// A reply-shaped mail for the RFC 8823 §3.2 rule.
const REPLY: &[u8] = b"From: alice@example.test\r\n\
To: acme-challenge@ca.example.net\r\n\
Subject: Re: ACME: abc\r\n\
Date: Sat, 5 Dec 2020 10:08:55 +0100\r\n\
Message-ID: <r1@example.test>\r\n\
Content-Type: text/plain\r\n\
\r\n\
-----BEGIN ACME RESPONSE-----\r\n\
x\r\n\
-----END ACME RESPONSE-----\r\n";

async fn sized(
    dns: &DnsServer,
    domain: &str,
    selector: &str,
    alg: DkimAlgorithm,
    bits: u32,
) -> DkimKey {
    let key = DkimKey::generate_sized(domain, selector, alg, bits, &Seed(3).stream(selector))
        .expect("key");
    key.publish(dns).await.expect("publish");
    key
}

fn judged(
    results: &[acmeproof_mocks::protocol::smime::dkim::SignatureResult],
) -> Vec<&'static str> {
    use acmeproof_mocks::protocol::smime::dkim::{RESPONSE_RULES, judge_dkim};
    judge_dkim(results, Some("example.test"), &RESPONSE_RULES)
        .findings
        .as_slice()
        .iter()
        .filter(|f| f.level == acmeproof_mocks::protocol::Level::Must)
        .map(|f| f.req)
        .collect()
}

// The one DKIM rule over real mail-auth signatures (protocol::smime::dkim::judge_dkim): it fires
// on each way a reply's DKIM can fall short, and stays quiet on the two good algorithms.
#[tokio::test]
async fn the_dkim_rule_over_real_signatures() {
    let (dns, verifier) = world().await;
    // Passing: ed25519-sha256 and rsa-sha256 (2048 bits) with the full h=.
    for alg in [DkimAlgorithm::Ed25519Sha256, DkimAlgorithm::RsaSha256] {
        let key = sized(&dns, "example.test", alg.key_type(), alg, 2048).await;
        let signed = key.sign(REPLY, RESPONSE_DKIM_MUST_SIGN).expect("sign");
        let results = verifier.check(&signed).await;
        assert!(judged(&results).is_empty(), "{alg:?}: {results:?}");
        assert!(passes_for_domain(
            &verifier.verify(&signed).await,
            "example.test"
        ));
    }

    // rsa-sha1 only: mail-auth verifies it, RFC 8301 §3.1 does not let it count.
    let sha1 = sized(&dns, "example.test", "sha1", DkimAlgorithm::RsaSha1, 2048).await;
    let signed = sha1.sign(REPLY, RESPONSE_DKIM_MUST_SIGN).expect("sign");
    let out = verifier.verify(&signed).await;
    assert_eq!(
        out[0].result,
        DkimVerdict::Pass,
        "mail-auth verifies rsa-sha1: {out:?}"
    );
    assert_eq!(judged(&verifier.check(&signed).await), ["MAIL-7"]);
    assert!(!passes_for_domain(&out, "example.test"));
    // …and a relay does not report it as a pass.
    let ar = authentication_results("mx.example.net", &out);
    assert!(ar.contains("dkim=permerror"), "{ar}");

    // A 768-bit key: RFC 8301 §3.2.
    let small = sized(&dns, "example.test", "small", DkimAlgorithm::RsaSha256, 768).await;
    let signed = small.sign(REPLY, RESPONSE_DKIM_MUST_SIGN).expect("sign");
    let results = verifier.check(&signed).await;
    assert_eq!(results[0].rsa_key_bits, Some(768), "{results:?}");
    assert_eq!(judged(&results), ["MAIL-8"]);

    // A short h= that verifies, plus a full-h= decoy that does not.
    let good = sized(
        &dns,
        "example.test",
        "good",
        DkimAlgorithm::Ed25519Sha256,
        0,
    )
    .await;
    let short = good.sign(REPLY, &["From", "To", "Subject"]).expect("sign");
    let decoy_key = DkimKey::generate(
        "example.test",
        "decoy",
        DkimAlgorithm::Ed25519Sha256,
        &Seed(4).stream("unpublished"),
    )
    .expect("key");
    // The decoy's selector has no key record: it cannot verify.
    let both = decoy_key
        .sign(&short, RESPONSE_DKIM_MUST_SIGN)
        .expect("sign");
    let results = verifier.check(&both).await;
    assert_eq!(results.len(), 2, "{results:?}");
    assert_eq!(judged(&results), ["SMIME-52"]);

    // A valid signature of another domain.
    let other = sized(&dns, "other.test", "other", DkimAlgorithm::Ed25519Sha256, 0).await;
    let signed = other.sign(REPLY, RESPONSE_DKIM_MUST_SIGN).expect("sign");
    assert_eq!(judged(&verifier.check(&signed).await), ["SMIME-54"]);

    // No signature.
    assert_eq!(judged(&verifier.check(REPLY).await), ["SMIME-51"]);
}
