//! The RFC 8823 example mails, and every challenge/response check shown firing on a bad input
//! and silent on a good one.

use acmeproof_protocol::Level;
use acmeproof_protocol::smime::{
    ChallengeContext, ChallengeEmail, ChallengeInfo, ExpectedDigest, ResponseBody, ResponseContext,
    ResponseEmail, check_challenge, check_response, extract_digest,
};
use acmeproof_protocol::token::{self, Join};

use crate::support::read;

const TP1: &str = "LgYemJLy3F1LDkiJrdIGbEzyFJyOyf6vBdyZ1TG3sME";
const TP2: &str = "DGyRejmCefe7v4NfDGDKfA";
const THUMB: &str = "1_nKJnlH9boVxdoO63T8zP7O2w42qZL4d6xj35Hy5aI";
const CA: &str = "acme-generator@example.org";
const USER: &str = "alexey@example.com";
const ALL_SIGNED: &str = "From:Sender:Reply-To:To:CC:Subject:Date:In-Reply-To:References:Message-ID:\
Auto-Submitted:Content-Type:Content-Transfer-Encoding:Resent-Date:Resent-From:Resent-To:Resent-Cc:\
List-Id:List-Help:List-Unsubscribe:List-Subscribe:List-Post:List-Owner:List-Archive:List-Unsubscribe-Post";

fn dkim(domain: &str, h: &str) -> String {
    format!(
        "DKIM-Signature: v=1; a=rsa-sha256; c=relaxed/relaxed; d={domain}; s=sel;\r\n\th={h};\r\n\tbh=AAAA; b=BBBB\r\n"
    )
}

fn with_header(mail: &[u8], header: &str) -> Vec<u8> {
    [header.as_bytes(), mail].concat()
}

fn replace(mail: &[u8], from: &str, to: &str) -> Vec<u8> {
    let text = String::from_utf8(mail.to_vec()).unwrap();
    assert!(text.contains(from), "{from:?} not in mail:\n{text}");
    text.replacen(from, to, 1).into_bytes()
}

fn challenge() -> ChallengeEmail {
    ChallengeEmail::new(CA, USER, TP1, "A2299BB.FF7788@example.org", 1_607_159_335)
}

fn good_challenge() -> Vec<u8> {
    with_header(&challenge().build(), &dkim("example.org", ALL_SIGNED))
}

fn challenge_ctx() -> ChallengeContext {
    ChallengeContext {
        expected_from: Some(CA.into()),
        expected_to: Some(USER.into()),
        ..Default::default()
    }
}

fn challenge_ids(mail: &[u8]) -> Vec<&'static str> {
    check_challenge(mail, &challenge_ctx())
        .unwrap()
        .findings
        .ids()
}

#[test]
fn figure1_lacks_only_the_signature() {
    let report = check_challenge(&read("mail/rfc8823-figure1.eml"), &challenge_ctx()).unwrap();
    let musts: Vec<_> = report
        .findings
        .as_slice()
        .iter()
        .filter(|f| f.level == Level::Must)
        .map(|f| f.req)
        .collect();
    assert_eq!(musts, ["SMIME-28"]);
    assert!(report.ignored);
    assert_eq!(
        report.info.token_part1.as_deref(),
        Some("LgYemJLy3F1LDkiJrdIGbEzyFJyOyf6vBdyZ1TG3sME=")
    );
}

#[test]
fn figure1_without_auto_submitted_adds_smime25() {
    let report = check_challenge(
        &read("mail/rfc8823-figure1-no-auto-submitted.eml"),
        &challenge_ctx(),
    )
    .unwrap();
    let ids = report.findings.ids();
    assert!(
        ids.contains(&"SMIME-25") && ids.contains(&"SMIME-28"),
        "{ids:?}"
    );
}

#[test]
fn encoded_subject_with_spaces_yields_the_token() {
    let report = check_challenge(
        &read("mail/acme4j-challenge-encoded-subject.eml"),
        &challenge_ctx(),
    )
    .unwrap();
    assert_eq!(
        report.info.token_part1.as_deref(),
        Some("LgYemJLy3F1LDkiJrdIGbEzyFJyOyf6vBdyZ1TG3sME=")
    );
    assert_eq!(
        report.info.reply_address(),
        Some("acme-validator@example.org")
    );
    // UTF-8 is allowed but US-ASCII is what SHOULD be used.
    assert!(report.findings.contains("SMIME-21"));
    assert!(!report.findings.contains("SMIME-20"));
}

#[test]
fn a_good_challenge_has_no_findings() {
    let report = check_challenge(&good_challenge(), &challenge_ctx()).unwrap();
    assert!(report.findings.is_empty(), "{:#?}", report.findings);
    assert!(!report.ignored);
}

#[test]
fn challenge_checks_fire_on_bad_input() {
    let good = good_challenge();
    let subject = format!("Subject: ACME: {TP1}");
    let cases: Vec<(&str, Vec<u8>, &str)> = vec![
        (
            "no Auto-Submitted",
            replace(&good, "Auto-Submitted: auto-generated; type=acme\r\n", ""),
            "SMIME-25",
        ),
        (
            "Auto-Submitted: no",
            replace(&good, "auto-generated; type=acme", "no"),
            "SMIME-25",
        ),
        (
            "no type=acme",
            replace(&good, "auto-generated; type=acme", "auto-generated"),
            "SMIME-26",
        ),
        (
            "two Auto-Submitted",
            with_header(&good, "Auto-Submitted: auto-generated\r\n"),
            "MAIL-3",
        ),
        (
            "Re: subject",
            replace(&good, &subject, &format!("Subject: Re: ACME: {TP1}")),
            "SMIME-17",
        ),
        (
            "no label",
            replace(&good, &subject, "Subject: hello"),
            "SMIME-17",
        ),
        (
            "text before the label",
            replace(&good, &subject, &format!("Subject: Hello ACME: {TP1}")),
            "SMIME-17",
        ),
        (
            "no FWS",
            replace(&good, &subject, &format!("Subject: ACME:{TP1}")),
            "SMIME-17",
        ),
        (
            "not base64url",
            replace(&good, &subject, "Subject: ACME: abc+def/ghi"),
            "SMIME-17",
        ),
        (
            "short token",
            replace(&good, &subject, "Subject: ACME: AAAAAAAAAAA"),
            "SMIME-6",
        ),
        (
            "latin-1 word",
            replace(
                &good,
                &subject,
                &format!("Subject: =?ISO-8859-1?Q?ACME:_{TP1}?="),
            ),
            "SMIME-20",
        ),
        (
            "utf-8 word",
            replace(
                &good,
                &subject,
                &format!("Subject: =?UTF-8?Q?ACME:_{TP1}?="),
            ),
            "SMIME-21",
        ),
        (
            "wrong From",
            replace(&good, "From: <acme-generator@", "From: <other@"),
            "SMIME-22",
        ),
        (
            "two From addresses",
            replace(
                &good,
                "From: <acme-generator@example.org>",
                "From: <acme-generator@example.org>, <x@example.org>",
            ),
            "SMIME-22",
        ),
        (
            "wrong To",
            replace(&good, "To: <alexey@", "To: <bob@"),
            "SMIME-23",
        ),
        ("no DKIM", challenge().build(), "SMIME-28"),
        (
            "unreadable DKIM",
            with_header(&challenge().build(), "DKIM-Signature: v=1; d\r\n"),
            "SMIME-28",
        ),
        (
            "h= lacks Auto-Submitted",
            with_header(
                &challenge().build(),
                &dkim("example.org", &ALL_SIGNED.replace("Auto-Submitted:", "")),
            ),
            "SMIME-29",
        ),
        (
            "h= lacks List-Id",
            with_header(
                &challenge().build(),
                &dkim("example.org", &ALL_SIGNED.replace("List-Id:", "")),
            ),
            "SMIME-30",
        ),
        (
            "d= other domain",
            with_header(&challenge().build(), &dkim("mail.example.org", ALL_SIGNED)),
            "SMIME-31",
        ),
        (
            "two Date fields",
            with_header(&good, "Date: Sat, 5 Dec 2020 10:08:55 +0100\r\n"),
            "MAIL-1",
        ),
        (
            "two Subject fields",
            with_header(&good, "Subject: ACME: x\r\n"),
            "MAIL-2",
        ),
        (
            "overlong line",
            replace(&good, "your ACME client.", &"x".repeat(1200)),
            "MAIL-5",
        ),
    ];
    for (name, mail, id) in cases {
        let ids = challenge_ids(&mail);
        assert!(ids.contains(&id), "{name}: expected {id}, got {ids:?}");
    }
}

#[test]
fn challenge_subject_folding_and_idna_are_tolerated() {
    let folded = replace(
        &good_challenge(),
        &format!("Subject: ACME: {TP1}"),
        "Subject: ACME: LgYemJLy3F1LDkiJrdIG\r\n bEzyFJyOyf6vBdyZ1TG3sME",
    );
    let report = check_challenge(&folded, &challenge_ctx()).unwrap();
    assert_eq!(report.info.token_part1.as_deref(), Some(TP1));
    assert!(report.findings.is_empty(), "{:#?}", report.findings);

    // RFC 8398 §5: an A-label domain equals its U-label form.
    let ctx = ChallengeContext {
        expected_to: Some("alexey@bücher.example".into()),
        ..challenge_ctx()
    };
    let idn = replace(
        &good_challenge(),
        "To: <alexey@example.com>",
        "To: <alexey@xn--bcher-kva.example>",
    );
    assert!(
        !check_challenge(&idn, &ctx)
            .unwrap()
            .findings
            .contains("SMIME-23")
    );
}

#[test]
fn smime_signed_challenge_needs_no_dkim() {
    let signed = replace(
        &challenge().build(),
        "Content-Type: text/plain; charset=\"utf-8\"",
        "Content-Type: multipart/signed; protocol=\"application/pkcs7-signature\"; micalg=sha-256; boundary=\"b\"",
    );
    let report = check_challenge(&signed, &challenge_ctx()).unwrap();
    assert!(report.smime_signed);
    assert!(
        !report.findings.contains("SMIME-28"),
        "{:#?}",
        report.findings
    );
}

fn challenge_info() -> ChallengeInfo {
    check_challenge(&good_challenge(), &challenge_ctx())
        .unwrap()
        .info
}

fn response(join: Join) -> ResponseEmail {
    let digest = token::reply_digest(TP1, TP2, THUMB, join).unwrap().digest;
    let mut r = ResponseEmail::reply_to(
        &challenge_info(),
        USER,
        digest,
        "111-22222@example.com",
        1_607_166_105,
    )
    .unwrap();
    r.wrap = Some(35);
    r
}

fn good_response() -> Vec<u8> {
    with_header(
        &response(Join::String).build(),
        &dkim(
            "example.com",
            ALL_SIGNED.replace("Auto-Submitted:", "").as_str(),
        ),
    )
}

fn response_ctx(accept: Vec<Join>) -> ResponseContext {
    ResponseContext {
        identifier: Some(USER.into()),
        challenge: Some(challenge_info()),
        expected: ExpectedDigest::Tokens {
            part1: Some(TP1.into()),
            part2: TP2.into(),
            thumbprint: THUMB.into(),
            accept,
        },
        ..Default::default()
    }
}

fn response_ids(mail: &[u8]) -> Vec<&'static str> {
    check_response(mail, &response_ctx(vec![Join::String]))
        .unwrap()
        .findings
        .ids()
}

#[test]
fn figure2_digest_split_over_two_lines() {
    let report = check_response(
        &read("mail/rfc8823-figure2.eml"),
        &ResponseContext::default(),
    )
    .unwrap();
    let block = report.block.unwrap();
    assert_eq!(block.digest, "LoqXcYV8q5ONbJQxbmR7SCTNo3tiAXDfowyjxAjEuX0=");
    assert_eq!(block.lines, 2);
    assert_eq!(
        report.token_part1.as_deref(),
        Some("LgYemJLy3F1LDkiJrdIGbEzyFJyOyf6vBdyZ1TG3sME=")
    );
    assert_eq!(report.findings.ids(), ["SMIME-51"]);
}

#[test]
fn a_good_response_has_no_findings_and_names_its_join() {
    let report = check_response(&good_response(), &response_ctx(vec![Join::String])).unwrap();
    assert!(report.findings.is_empty(), "{:#?}", report.findings);
    assert_eq!(report.digest_matches, Some(true));
    assert_eq!(report.joins, [Join::String]);
    assert_eq!(report.block.unwrap().lines, 2);

    let mut alt = response(Join::Binary);
    alt.body = ResponseBody::MultipartAlternative;
    let alt = with_header(
        &alt.build(),
        &dkim(
            "example.com",
            ALL_SIGNED.replace("Auto-Submitted:", "").as_str(),
        ),
    );
    let report = check_response(&alt, &response_ctx(vec![Join::Binary])).unwrap();
    assert!(report.findings.is_empty(), "{:#?}", report.findings);
    assert_eq!(report.joins, [Join::Binary]);
}

#[test]
fn a_digest_of_the_other_join_is_named() {
    let report = check_response(&good_response(), &response_ctx(vec![Join::Binary])).unwrap();
    assert_eq!(report.digest_matches, Some(false));
    assert_eq!(report.joins, [Join::String]);
    let f = &report.findings.as_slice()[0];
    assert_eq!(f.req, "SMIME-10");
    assert!(
        f.expected.contains("matches the string join"),
        "{}",
        f.expected
    );
}

#[test]
fn response_checks_fire_on_bad_input() {
    let good = good_response();
    let subject = format!("Subject: Re: ACME: {TP1}");
    let unsigned = response(Join::String).build();
    let h_resp = ALL_SIGNED.replace("Auto-Submitted:", "");
    let cases: Vec<(&str, Vec<u8>, &str)> = vec![
        (
            "no BEGIN",
            replace(&good, "-----BEGIN ACME RESPONSE-----", "BEGIN"),
            "SMIME-46",
        ),
        (
            "no END",
            replace(&good, "-----END ACME RESPONSE-----", "END"),
            "SMIME-46",
        ),
        ("empty block", empty_block(), "SMIME-46"),
        (
            "not a digest",
            replace(&good, &digest()[..35], "not+a/digest"),
            "SMIME-46",
        ),
        (
            "bare LF inside base64",
            base64_body_with_bare_lf(&good),
            "SMIME-47",
        ),
        (
            "non-ASCII reply prefix",
            replace(&good, &subject, &format!("Subject: Antwört: ACME: {TP1}")),
            "SMIME-38",
        ),
        ("wrong digest", check_replace_digest(&good), "SMIME-10"),
        (
            "List-Id",
            with_header(&good, "List-Id: <acme.example.com>\r\n"),
            "SMIME-44",
        ),
        (
            "bare LF",
            replace(
                &good,
                "-----END ACME RESPONSE-----\r\n",
                "-----END ACME RESPONSE-----\n",
            ),
            "SMIME-47",
        ),
        (
            "quoted-printable",
            replace(
                &good,
                "Content-Transfer-Encoding: 7bit",
                "Content-Transfer-Encoding: quoted-printable",
            ),
            "SMIME-50",
        ),
        (
            "text/html only",
            replace(&good, "Content-Type: text/plain", "Content-Type: text/html"),
            "SMIME-45",
        ),
        (
            "From not the identifier",
            replace(&good, "From: <alexey@", "From: <mallory@"),
            "SMIME-40",
        ),
        (
            "To not the challenge's",
            replace(&good, "To: <acme-generator@", "To: <other@"),
            "SMIME-41",
        ),
        (
            "no In-Reply-To",
            replace(&good, "In-Reply-To: <A2299BB.FF7788@example.org>\r\n", ""),
            "SMIME-43",
        ),
        (
            "other In-Reply-To",
            replace(&good, "In-Reply-To: <A2299BB", "In-Reply-To: <B"),
            "SMIME-43",
        ),
        (
            "no ACME label",
            replace(&good, &subject, "Subject: Re: hello"),
            "SMIME-38",
        ),
        (
            "other token",
            replace(&good, &subject, "Subject: Re: ACME: AAAAAAAAAAAAAAAAAAAAAA"),
            "SMIME-38",
        ),
        (
            "latin-1 subject",
            replace(
                &good,
                &subject,
                &format!("Subject: =?ISO-8859-1?Q?Re:_ACME:_{TP1}?="),
            ),
            "SMIME-38",
        ),
        (
            "auto-generated",
            with_header(&good, "Auto-Submitted: auto-generated\r\n"),
            "MAIL-4",
        ),
        ("unsigned", unsigned.clone(), "SMIME-51"),
        (
            "h= lacks Subject",
            with_header(
                &unsigned,
                &dkim("example.com", &h_resp.replace("Subject:", "")),
            ),
            "SMIME-52",
        ),
        (
            "h= lacks List-Post",
            with_header(
                &unsigned,
                &dkim("example.com", &h_resp.replace("List-Post:", "")),
            ),
            "SMIME-53",
        ),
        (
            "d= other domain",
            with_header(&unsigned, &dkim("example.org", &h_resp)),
            "SMIME-54",
        ),
    ];
    for (name, mail, id) in cases {
        let ids = response_ids(&mail);
        assert!(ids.contains(&id), "{name}: expected {id}, got {ids:?}");
    }
}

#[test]
fn bare_lf_hidden_by_base64_is_found_in_the_decoded_text() {
    let mail = base64_body_with_bare_lf(&good_response());
    assert!(
        !String::from_utf8_lossy(&mail)
            .replace("\r\n", "")
            .contains('\n')
    );
    let report = check_response(&mail, &response_ctx(vec![Join::String])).unwrap();
    let f = report
        .findings
        .as_slice()
        .iter()
        .find(|f| f.req == "SMIME-47")
        .unwrap();
    assert!(f.observed.contains("decoded"), "{}", f.observed);
    // The digest is still read, and it is still right.
    assert_eq!(report.digest_matches, Some(true));
}

fn digest() -> String {
    token::reply_digest(TP1, TP2, THUMB, Join::String)
        .unwrap()
        .digest
}

fn check_replace_digest(mail: &[u8]) -> Vec<u8> {
    replace(mail, &digest()[..35], &"A".repeat(35))
}

fn empty_block() -> Vec<u8> {
    let mut r = response(Join::String);
    r.digest = String::new();
    let h = ALL_SIGNED.replace("Auto-Submitted:", "");
    with_header(&r.build(), &dkim("example.com", &h))
}

/// The good response with its body base64-encoded, and bare LFs inside the encoded text: the raw
/// message is all CRLF, so only the decoded-text check can see them.
fn base64_body_with_bare_lf(good: &[u8]) -> Vec<u8> {
    use base64::Engine as _;
    let text = String::from_utf8(good.to_vec()).unwrap();
    let (head, body) = text.split_once("\r\n\r\n").unwrap();
    let encoded = base64::engine::general_purpose::STANDARD.encode(body.replace("\r\n", "\n"));
    let head = head.replace(
        "Content-Transfer-Encoding: 7bit",
        "Content-Transfer-Encoding: base64",
    );
    format!("{head}\r\n\r\n{encoded}\r\n").into_bytes()
}

#[test]
fn quoted_and_surrounded_blocks_are_read() {
    let digest = token::reply_digest(TP1, TP2, THUMB, Join::String)
        .unwrap()
        .digest;
    let text = format!(
        "Hi,\r\n\r\nOn Sat someone wrote:\r\n> -----BEGIN ACME RESPONSE-----\r\n> {}\r\n>  {}\r\n> -----END ACME RESPONSE-----\r\nbye\r\n",
        &digest[..20],
        &digest[20..]
    );
    let block = extract_digest(&text).unwrap();
    assert_eq!(block.digest, digest);
    assert!(block.quoted);
    assert_eq!(block.lines, 2);
    assert!(extract_digest("nothing here").is_err());
}

#[test]
fn not_a_message_is_an_error_not_a_finding() {
    assert!(check_challenge(b"", &ChallengeContext::default()).is_err());
    assert!(check_response(b"", &ResponseContext::default()).is_err());
    let huge = vec![b'a'; acmeproof_protocol::smime::MAX_MESSAGE_OCTETS + 1];
    assert!(check_response(&huge, &ResponseContext::default()).is_err());
}

#[test]
fn the_aligned_signature_among_several_is_judged() {
    // A third-party signature first, the From domain's own second: d= alignment holds.
    let mail = with_header(
        &good_challenge(),
        &dkim("relay.example.net", "From:Subject"),
    );
    let report = check_challenge(&mail, &challenge_ctx()).unwrap();
    assert!(report.findings.is_empty(), "{:#?}", report.findings);
    // With no aligned signature, the first readable one is judged, and d= fires.
    let mail = with_header(&challenge().build(), &dkim("relay.example.net", ALL_SIGNED));
    assert!(challenge_ids(&mail).contains(&"SMIME-31"));
}

#[test]
fn token_part1_defaults_to_the_subject() {
    let ctx = |part1: Option<&str>| ResponseContext {
        expected: ExpectedDigest::Tokens {
            part1: part1.map(str::to_string),
            part2: TP2.into(),
            thumbprint: THUMB.into(),
            accept: vec![Join::String],
        },
        ..Default::default()
    };
    let report = check_response(&good_response(), &ctx(None)).unwrap();
    assert_eq!(report.digest_matches, Some(true));
    // A token-part1 given by the caller wins over the Subject's.
    let report = check_response(&good_response(), &ctx(Some("AAAAAAAAAAAAAAAAAAAAAA"))).unwrap();
    assert_eq!(report.digest_matches, Some(false));
    // No token-part1 anywhere: nothing to judge (SMIME-38 reports the Subject).
    let no_label = replace(
        &good_response(),
        &format!("Subject: Re: ACME: {TP1}"),
        "Subject: Re: hi",
    );
    let report = check_response(&no_label, &ctx(None)).unwrap();
    assert_eq!(report.digest_matches, None);
    assert!(report.findings.contains("SMIME-38"));
}
