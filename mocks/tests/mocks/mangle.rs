//! `mocks::mangle`: what relays do to messages, and which DKIM canonicalizations survive it —
//! every claim of `Mangle::expected_to_survive` checked against mail-auth through a real
//! `DnsServer`.

use acmeproof_mocks::dkim::{Canonicalization, DkimAlgorithm, DkimVerdict, passes_for_domain};
use acmeproof_mocks::mangle::{MAX_MANGLE_OCTETS, Mangle, MangleError, apply, apply_all};
use acmeproof_mocks::protocol::smime::{CHALLENGE_DKIM_MUST_SIGN, DKIM_SHOULD_SIGN};
use mail_parser::{MessageParser, MimeHeaders};
use proptest::prelude::*;

use crate::dkim::{published, world};

/// 8-bit UTF-8 text (so re-encoding changes the octets), a Subject long enough to refold.
const SINGLE: &str = "From: Alice <alice@example.test>\r\n\
To: Bob <bob@example.net>\r\n\
Subject: Quarterly numbers for the board meeting next week, final\r\n\
Date: Sat, 5 Dec 2020 10:08:55 +0100\r\n\
Message-ID: <m1@example.test>\r\n\
MIME-Version: 1.0\r\n\
Content-Type: text/plain; charset=utf-8\r\n\
Content-Transfer-Encoding: 8bit\r\n\
\r\n\
Hello Bob,\r\n\
\r\n\
the numbers are attached. Grüße, Alice\r\n";

const MULTI: &str = "From: Alice <alice@example.test>\r\n\
To: bob@example.net\r\n\
Subject: Both kinds\r\n\
MIME-Version: 1.0\r\n\
Content-Type: multipart/alternative; boundary=\"b1\"\r\n\
\r\n\
preamble\r\n\
--b1\r\n\
Content-Type: text/plain; charset=utf-8\r\n\
Content-Transfer-Encoding: quoted-printable\r\n\
\r\n\
Gr=C3=BC=C3=9Fe aus dem Text.\r\n\
Zweite Zeile.\r\n\
--b1\r\n\
Content-Type: text/html; charset=utf-8\r\n\
\r\n\
<p>Grüße aus HTML</p>\r\n\
--b1--\r\n";

const FOOTER: &str = "--\nScanned by relay.example.net";

fn mangles() -> Vec<Mangle> {
    vec![
        Mangle::SubjectTag("[EXT] ".into()),
        Mangle::Footer(FOOTER.into()),
        Mangle::ReencodeQuotedPrintable,
        Mangle::ReencodeBase64,
        Mangle::RefoldHeaders,
        Mangle::LfLineEndings,
        Mangle::AddHeader("List-Id".into(), "<acme.lists.example.net>".into()),
        Mangle::AddHeader("X-Spam-Status".into(), "No, score=-0.1".into()),
    ]
}

fn signed_headers() -> Vec<&'static str> {
    CHALLENGE_DKIM_MUST_SIGN
        .iter()
        .chain(DKIM_SHOULD_SIGN)
        .copied()
        .collect()
}

fn parse(raw: &[u8]) -> mail_parser::Message<'_> {
    MessageParser::default().parse(raw).expect("parses")
}

fn text(raw: &[u8], i: usize) -> String {
    parse(raw).body_text(i).expect("text part").into_owned()
}

const CANONS: [(Canonicalization, Canonicalization); 4] = [
    (Canonicalization::Relaxed, Canonicalization::Relaxed),
    (Canonicalization::Simple, Canonicalization::Simple),
    (Canonicalization::Relaxed, Canonicalization::Simple),
    (Canonicalization::Simple, Canonicalization::Relaxed),
];

/// The table the module documentation states, row per mangle, columns in `CANONS` order.
const EXPECTED_TABLE: &str = "\
subject-tag: break break break break
footer: break break break break
reencode-quoted-printable: break break break break
reencode-base64: break break break break
refold-headers: pass break pass break
lf-line-endings: pass break pass break
add-header List-Id: break break break break
add-header X-Spam-Status: pass pass pass pass
";

#[tokio::test]
async fn mangle_by_canonicalization_matrix_matches_the_documentation() {
    let (dns, verifier) = world().await;
    let headers = signed_headers();
    let mut table = String::new();
    let mut rows: Vec<(String, Vec<&str>)> = Vec::new();
    let mut mismatches = Vec::new();
    for m in mangles() {
        let label = match &m {
            Mangle::AddHeader(n, _) => format!("add-header {n}"),
            other => other.name().to_owned(),
        };
        rows.push((label, Vec::new()));
    }
    for (h, b) in CANONS {
        // One key per canonicalization; the record is replaced each time.
        let key = published(&dns, "example.test", DkimAlgorithm::Ed25519Sha256, h).await;
        let key = key.with_canonicalization(h, b);
        let signed = key.sign(SINGLE.as_bytes(), &headers).expect("sign");
        assert!(
            passes_for_domain(&verifier.verify(&signed).await, "example.test"),
            "unmangled must pass ({h:?}/{b:?})"
        );
        for (i, m) in mangles().iter().enumerate() {
            let mangled = apply(&signed, m).expect("mangle applies");
            assert_ne!(mangled, signed, "{m:?} changed nothing");
            let out = verifier.verify(&mangled).await;
            let passed = passes_for_domain(&out, "example.test");
            if passed != m.expected_to_survive(h, b, &headers) {
                mismatches.push(format!("{m:?} under {}/{}: {out:?}", h.name(), b.name()));
            }
            rows[i].1.push(if passed { "pass" } else { "break" });
        }
    }
    for (label, cells) in rows {
        table.push_str(&format!("{label}: {}\n", cells.join(" ")));
    }
    assert!(mismatches.is_empty(), "{table}\n{mismatches:#?}");
    assert_eq!(table, EXPECTED_TABLE);
}

#[tokio::test]
async fn refold_breaks_simple_only_when_a_refolded_field_is_signed() {
    let (dns, verifier) = world().await;
    let key = published(
        &dns,
        "example.test",
        DkimAlgorithm::RsaSha256,
        Canonicalization::Simple,
    )
    .await;
    // An h= without any refolded field (and so without From, which RFC 6376 §5.4 requires:
    // this only isolates the mechanism) survives simple refolding; the RFC 8823 list does not.
    let narrow = ["Date", "Message-ID"];
    let signed = key.sign(SINGLE.as_bytes(), &narrow).expect("sign");
    let mangled = apply(&signed, &Mangle::RefoldHeaders).expect("refold");
    assert_ne!(mangled, signed);
    assert!(Mangle::RefoldHeaders.expected_to_survive(
        Canonicalization::Simple,
        Canonicalization::Simple,
        &narrow
    ));
    assert!(passes_for_domain(
        &verifier.verify(&mangled).await,
        "example.test"
    ));
    let full = key
        .sign(SINGLE.as_bytes(), &signed_headers())
        .expect("sign");
    let mangled = apply(&full, &Mangle::RefoldHeaders).expect("refold");
    assert!(!passes_for_domain(
        &verifier.verify(&mangled).await,
        "example.test"
    ));
}

#[tokio::test]
async fn lf_endings_restored_to_crlf_verify_again() {
    let (dns, verifier) = world().await;
    for (h, b) in CANONS {
        let key = published(&dns, "example.test", DkimAlgorithm::Ed25519Sha256, h)
            .await
            .with_canonicalization(h, b);
        let signed = key
            .sign(SINGLE.as_bytes(), &signed_headers())
            .expect("sign");
        let lf = apply(&signed, &Mangle::LfLineEndings).expect("lf");
        assert!(!lf.windows(2).any(|w| w == b"\r\n"));
        let back = String::from_utf8(lf).expect("utf-8").replace('\n', "\r\n");
        assert_eq!(back.as_bytes(), &signed[..]);
        assert!(passes_for_domain(
            &verifier.verify(back.as_bytes()).await,
            "example.test"
        ));
    }
}

#[tokio::test]
async fn body_length_signatures_do_not_rescue_a_footer_with_mail_auth() {
    let (dns, verifier) = world().await;
    let key = published(
        &dns,
        "example.test",
        DkimAlgorithm::Ed25519Sha256,
        Canonicalization::Relaxed,
    )
    .await
    .with_body_length(true);
    let signed = key
        .sign(SINGLE.as_bytes(), &signed_headers())
        .expect("sign");
    assert!(String::from_utf8_lossy(&signed[..400]).contains(" l="));
    // RFC 6376 §8.2: l= lets appended content through; mail-auth refuses l= outright, so an
    // l= signature is not Pass even before any footer.
    for raw in [
        signed.clone(),
        apply(&signed, &Mangle::Footer(FOOTER.into())).expect("footer"),
    ] {
        let out = verifier.verify(&raw).await;
        assert!(
            matches!(&out[0].result, DkimVerdict::Neutral(r) if r.contains("l=")),
            "{out:?}"
        );
        assert!(!passes_for_domain(&out, "example.test"));
    }
}

#[test]
fn subject_tag_prefixes_once_and_adds_a_missing_subject() {
    let tagged = apply(SINGLE.as_bytes(), &Mangle::SubjectTag("[EXT] ".into())).expect("tag");
    let subject = parse(&tagged).subject().expect("subject").to_owned();
    assert_eq!(
        subject,
        "[EXT] Quarterly numbers for the board meeting next week, final"
    );
    let again = apply(&tagged, &Mangle::SubjectTag("[EXT] ".into())).expect("tag");
    assert_eq!(again, tagged);
    let no_subject = b"From: a@example.test\r\n\r\nhi\r\n";
    let out = apply(no_subject, &Mangle::SubjectTag("[EXT]".into())).expect("tag");
    assert_eq!(parse(&out).subject(), Some("[EXT]"));
    // An encoded-word subject stays decodable after the tag.
    let ew = b"From: a@example.test\r\nSubject: =?utf-8?q?Gr=C3=BC=C3=9Fe?=\r\n\r\nhi\r\n";
    let out = apply(ew, &Mangle::SubjectTag("[EXT] ".into())).expect("tag");
    assert_eq!(parse(&out).subject(), Some("[EXT] Grüße"));
    assert!(matches!(
        apply(ew, &Mangle::SubjectTag("x\r\nBcc: evil".into())),
        Err(MangleError::BadHeaderValue(_))
    ));
}

#[test]
fn footer_lands_in_the_text_part_and_keeps_the_text() {
    let out = apply(SINGLE.as_bytes(), &Mangle::Footer(FOOTER.into())).expect("footer");
    let body = text(&out, 0);
    assert!(body.starts_with("Hello Bob,\r\n\r\nthe numbers are attached. Grüße, Alice\r\n"));
    assert!(
        body.contains("--\r\nScanned by relay.example.net"),
        "{body:?}"
    );

    // multipart/alternative: into the QP text/plain part, the HTML part untouched.
    let out = apply(MULTI.as_bytes(), &Mangle::Footer(FOOTER.into())).expect("footer");
    let msg = parse(&out);
    let plain = msg.body_text(0).expect("text").into_owned();
    assert!(
        plain.starts_with("Grüße aus dem Text.\r\nZweite Zeile.\r\n"),
        "{plain:?}"
    );
    assert!(plain.contains("Scanned by relay.example.net"), "{plain:?}");
    assert_eq!(msg.body_html(0), parse(MULTI.as_bytes()).body_html(0));
    assert_eq!(
        msg.text_part(0).and_then(|p| p.content_transfer_encoding()),
        Some("quoted-printable")
    );
    assert!(String::from_utf8_lossy(&out).ends_with("--b1--\r\n"));

    // Refusals.
    let binary = b"From: a@example.test\r\nContent-Type: application/octet-stream\r\n\r\nxx\r\n";
    assert_eq!(
        apply(binary, &Mangle::Footer("x".into())),
        Err(MangleError::NoTextPart)
    );
    let ascii = b"From: a@example.test\r\nContent-Type: text/plain; charset=us-ascii\r\n\r\nhi\r\n";
    assert!(matches!(
        apply(ascii, &Mangle::Footer("Grüße".into())),
        Err(MangleError::FooterCharset(_))
    ));
    assert!(apply(ascii, &Mangle::Footer("plain".into())).is_ok());
}

#[test]
fn reencoding_changes_the_encoding_not_the_text() {
    for (m, cte) in [
        (Mangle::ReencodeQuotedPrintable, "quoted-printable"),
        (Mangle::ReencodeBase64, "base64"),
    ] {
        let out = apply(SINGLE.as_bytes(), &m).expect("reencode");
        assert_eq!(parse(&out).content_transfer_encoding(), Some(cte));
        assert_eq!(text(&out, 0), text(SINGLE.as_bytes(), 0), "{m:?}");
        assert!(out.is_ascii(), "{m:?} left 8-bit octets");

        let out = apply(MULTI.as_bytes(), &m).expect("reencode multipart");
        let msg = parse(&out);
        let before = parse(MULTI.as_bytes());
        assert_eq!(msg.body_text(0), before.body_text(0), "{m:?}");
        assert_eq!(msg.body_html(0), before.body_html(0), "{m:?}");
        assert_eq!(
            msg.text_part(0).and_then(|p| p.content_transfer_encoding()),
            Some(cte)
        );
        assert_eq!(
            msg.html_part(0).and_then(|p| p.content_transfer_encoding()),
            Some(cte)
        );
        // Applied twice, the text is still the same.
        let twice = apply(&out, &m).expect("again");
        assert_eq!(parse(&twice).body_text(0), before.body_text(0));
    }
    // A footer on a base64 body keeps it base64 and decodable.
    let b64 = apply(SINGLE.as_bytes(), &Mangle::ReencodeBase64).expect("b64");
    let out = apply(&b64, &Mangle::Footer(FOOTER.into())).expect("footer");
    assert!(text(&out, 0).contains("Scanned by relay.example.net"));
    assert!(text(&out, 0).starts_with("Hello Bob,"));
}

#[test]
fn refold_and_lf_keep_the_values() {
    let out = apply(SINGLE.as_bytes(), &Mangle::RefoldHeaders).expect("refold");
    let s = String::from_utf8(out.clone()).expect("utf-8");
    assert!(
        s.contains("Subject: Quarterly numbers for the board\r\n meeting"),
        "{s}"
    );
    let (a, b) = (parse(&out), parse(SINGLE.as_bytes()));
    assert_eq!(a.subject(), b.subject());
    assert_eq!(a.from(), b.from());
    assert_eq!(a.to(), b.to());
    assert_eq!(a.body_text(0), b.body_text(0));
    // Idempotent once folded at the new column.
    assert_eq!(apply(&out, &Mangle::RefoldHeaders).expect("refold"), out);

    let lf = apply(SINGLE.as_bytes(), &Mangle::LfLineEndings).expect("lf");
    assert_eq!(parse(&lf).subject(), b.subject());
    assert_eq!(
        text(&lf, 0).replace('\n', "\r\n"),
        text(SINGLE.as_bytes(), 0)
    );
    // Mangles on an LF message keep LF.
    let tagged = apply_all(
        &lf,
        &[
            Mangle::AddHeader("X-Spam".into(), "no".into()),
            Mangle::RefoldHeaders,
            Mangle::ReencodeQuotedPrintable,
            Mangle::Footer(FOOTER.into()),
        ],
    )
    .expect("all");
    assert!(
        !tagged.contains(&b'\r'),
        "{}",
        String::from_utf8_lossy(&tagged)
    );
    assert!(text(&tagged, 0).contains("Scanned by"));
}

#[test]
fn add_header_prepends_and_refuses_bad_input() {
    let out = apply(
        SINGLE.as_bytes(),
        &Mangle::AddHeader("List-Id".into(), "<l.example.net>".into()),
    )
    .expect("add");
    assert!(out.starts_with(b"List-Id: <l.example.net>\r\nFrom: "));
    assert_eq!(
        parse(&out).header_raw("List-Id").map(str::trim),
        Some("<l.example.net>")
    );
    for (n, v) in [
        ("", "x"),
        ("Bad Name", "x"),
        ("Bad:Name", "x"),
        ("Ok", "a\r\nBcc: evil@example.net"),
        ("Ok", "a\nb"),
    ] {
        assert!(
            apply(SINGLE.as_bytes(), &Mangle::AddHeader(n.into(), v.into())).is_err(),
            "{n:?}: {v:?}"
        );
    }
}

#[test]
fn mangles_serialize_with_kebab_case_tags() {
    let json = serde_json::to_string(&mangles()).expect("json");
    assert_eq!(
        json,
        r#"[{"subject-tag":"[EXT] "},{"footer":"--\nScanned by relay.example.net"},"reencode-quoted-printable","reencode-base64","refold-headers","lf-line-endings",{"add-header":["List-Id","<acme.lists.example.net>"]},{"add-header":["X-Spam-Status","No, score=-0.1"]}]"#
    );
    let back: Vec<Mangle> = serde_json::from_str(&json).expect("back");
    assert_eq!(back, mangles());
}

#[test]
fn oversized_and_non_messages_are_refused() {
    let huge = vec![b'a'; MAX_MANGLE_OCTETS + 1];
    for m in mangles() {
        assert_eq!(
            apply(&huge, &m),
            Err(MangleError::TooLarge(huge.len())),
            "{m:?}"
        );
    }
    assert!(apply(b"", &Mangle::Footer("x".into())).is_err());
    assert!(apply(b"", &Mangle::ReencodeBase64).is_err());
}

fn any_mangle() -> impl Strategy<Value = Mangle> {
    prop_oneof![
        ".{0,12}".prop_map(Mangle::SubjectTag),
        ".{0,40}".prop_map(Mangle::Footer),
        Just(Mangle::ReencodeQuotedPrintable),
        Just(Mangle::ReencodeBase64),
        Just(Mangle::RefoldHeaders),
        Just(Mangle::LfLineEndings),
        (".{0,10}", ".{0,20}").prop_map(|(n, v)| Mangle::AddHeader(n, v)),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    #[test]
    fn apply_never_panics_on_arbitrary_bytes(
        raw in proptest::collection::vec(any::<u8>(), 0..1024),
        m in any_mangle(),
    ) {
        let _ = apply(&raw, &m);
    }

    #[test]
    fn apply_never_panics_on_message_shaped_input(
        head in "(([A-Za-z-]{1,12}: [ -~]{0,60}\r?\n)|( [ -~]{0,30}\r?\n)){0,6}",
        ctype in prop_oneof![
            Just(String::new()),
            Just("Content-Type: text/plain\r\n".to_owned()),
            Just("Content-Transfer-Encoding: base64\r\n".to_owned()),
            Just("Content-Transfer-Encoding: quoted-printable\r\n".to_owned()),
            Just("Content-Type: multipart/mixed; boundary=x\r\n".to_owned()),
        ],
        body in proptest::collection::vec(any::<u8>(), 0..512),
        boundary in prop_oneof![Just(""), Just("--x\r\n\r\n"), Just("--x\r\nContent-Type: text/plain\r\n\r\n"), Just("\r\n--x--\r\n")],
        m in any_mangle(),
    ) {
        let mut raw = head.into_bytes();
        raw.extend_from_slice(ctype.as_bytes());
        raw.extend_from_slice(b"\r\n");
        raw.extend_from_slice(boundary.as_bytes());
        raw.extend_from_slice(&body);
        raw.extend_from_slice(boundary.as_bytes());
        let _ = apply(&raw, &m);
    }
}
