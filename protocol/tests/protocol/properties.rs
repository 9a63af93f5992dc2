//! Properties: build → check round trips, tolerated transformations, and no panics.

use acmeproof_protocol::smime::{
    ChallengeBody, ChallengeContext, ChallengeEmail, ExpectedDigest, ResponseBody, ResponseContext,
    ResponseEmail, check_challenge, check_response, extract_digest,
};
use acmeproof_protocol::token::{self, Join};
use acmeproof_protocol::{address, b64url};
use base64::Engine as _;
use proptest::prelude::*;

const H: &str = "From:Sender:Reply-To:To:CC:Subject:Date:In-Reply-To:References:Message-ID:Auto-Submitted:\
Content-Type:Content-Transfer-Encoding:Resent-Date:Resent-From:Resent-To:Resent-Cc:List-Id:List-Help:\
List-Unsubscribe:List-Subscribe:List-Post:List-Owner:List-Archive:List-Unsubscribe-Post";

fn signed(mail: Vec<u8>, from: &str) -> Vec<u8> {
    let domain = address::parse_address(from).unwrap().domain().to_string();
    let domain = address::domain_to_a_labels(&domain).unwrap();
    let header =
        format!("DKIM-Signature: v=1; a=rsa-sha256; d={domain}; s=s; h={H}; bh=AA; b=BB\r\n");
    [header.into_bytes(), mail].concat()
}

fn token_part() -> impl Strategy<Value = String> {
    proptest::collection::vec(any::<u8>(), 16..48).prop_map(b64url::encode)
}

fn label() -> impl Strategy<Value = String> {
    prop_oneof!["[a-z][a-z0-9]{0,10}", "[a-z]{0,3}[äöüé大学]{1,3}[a-z]{0,3}",]
}

fn address() -> impl Strategy<Value = String> {
    let local = prop_oneof!["[a-z][a-z0-9._+-]{0,12}[a-z0-9]", "[a-z]{0,3}[老師äé]{1,3}"];
    (local, label(), label())
        .prop_map(|(l, d1, d2)| format!("{l}@{d1}.{d2}"))
        .prop_filter("dot-atom", |a| !a.contains("..") && !a.contains(".@"))
}

fn challenge_body() -> impl Strategy<Value = ChallengeBody> {
    prop_oneof![
        Just(ChallengeBody::TextPlain),
        Just(ChallengeBody::MultipartAlternative),
        Just(ChallengeBody::TextHtml)
    ]
}

fn response_body() -> impl Strategy<Value = ResponseBody> {
    prop_oneof![
        Just(ResponseBody::TextPlain),
        Just(ResponseBody::MultipartAlternative)
    ]
}

fn join() -> impl Strategy<Value = Join> {
    prop_oneof![Just(Join::String), Just(Join::Binary)]
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(96))]

    #[test]
    fn build_then_check_is_clean(
        tp1 in token_part(), tp2 in token_part(), ca in address(), user in address(),
        cbody in challenge_body(), rbody in response_body(), join in join(),
        wrap in proptest::option::of(1usize..80), date in 0i64..4_000_000_000,
    ) {
        let mut challenge = ChallengeEmail::new(&ca, &user, &tp1, "m1@ca.example", date);
        challenge.body = cbody;
        let cctx = ChallengeContext { expected_from: Some(ca.clone()), expected_to: Some(user.clone()), ..Default::default() };
        let creport = check_challenge(&signed(challenge.build(), &ca), &cctx).unwrap();
        prop_assert!(creport.findings.is_empty(), "{:#?}", creport.findings);
        prop_assert_eq!(creport.info.token_part1.as_deref(), Some(tp1.as_str()));

        let thumb = "1_nKJnlH9boVxdoO63T8zP7O2w42qZL4d6xj35Hy5aI";
        let digest = token::reply_digest(&tp1, &tp2, thumb, join).unwrap().digest;
        let mut response = ResponseEmail::reply_to(&creport.info, &user, &digest, "m2@user.example", date + 60).unwrap();
        response.wrap = wrap;
        response.body = rbody;
        let rctx = ResponseContext {
            identifier: Some(user.clone()),
            challenge: Some(creport.info.clone()),
            expected: ExpectedDigest::Tokens { part1: Some(tp1.clone()), part2: tp2.clone(), thumbprint: thumb.into(), accept: vec![join] },
            ..Default::default()
        };
        let rreport = check_response(&signed(response.build(), &user), &rctx).unwrap();
        prop_assert!(rreport.findings.is_empty(), "{:#?}", rreport.findings);
        prop_assert_eq!(rreport.digest_matches, Some(true));
        prop_assert_eq!(rreport.block.map(|b| b.digest), Some(digest));
    }

    #[test]
    fn folded_and_encoded_subjects_yield_the_token(tp1 in token_part(), cut in 0usize..40, q in any::<bool>()) {
        let base = ChallengeEmail::new("ca@example.org", "u@example.com", &tp1, "m@example.org", 0).build();
        let text = String::from_utf8(base).unwrap();
        let original = format!("Subject: ACME: {tp1}");
        let cut = cut.min(tp1.len());
        let folded = format!("Subject: ACME: {}\r\n {}", &tp1[..cut], &tp1[cut..]);
        let plain = format!("ACME: {tp1}");
        let encoded = if q {
            format!("Subject: =?UTF-8?Q?{}?=", plain.replace('_', "=5F").replace(' ', "_"))
        } else {
            format!("Subject: =?us-ascii?B?{}?=", base64::engine::general_purpose::STANDARD.encode(&plain))
        };
        for subject in [folded, encoded] {
            let mail = text.replacen(&original, &subject, 1);
            let report = check_challenge(mail.as_bytes(), &ChallengeContext::default()).unwrap();
            prop_assert_eq!(report.info.token_part1.as_deref(), Some(tp1.as_str()), "{}", subject);
        }
    }

    #[test]
    fn digest_survives_wrapping_and_quoting(digest in token_part(), breaks in proptest::collection::vec(1usize..20, 0..6), quote in any::<bool>()) {
        let mut lines = Vec::new();
        let mut rest = digest.as_str();
        for b in breaks {
            let b = b.min(rest.len());
            let (head, tail) = rest.split_at(b);
            lines.push(head.to_string());
            rest = tail;
        }
        lines.push(rest.to_string());
        let prefix = if quote { "> " } else { "" };
        let mut body = format!("Some text\r\n{prefix}-----BEGIN ACME RESPONSE-----\r\n");
        for l in &lines {
            body.push_str(&format!("{prefix}{l}\r\n"));
        }
        body.push_str(&format!("{prefix}-----END ACME RESPONSE-----\r\ntrailer\r\n"));
        let block = extract_digest(&body).unwrap();
        prop_assert_eq!(block.digest, digest);
        prop_assert_eq!(block.quoted, quote);
    }

    #[test]
    fn checkers_never_panic_on_arbitrary_bytes(bytes in proptest::collection::vec(any::<u8>(), 0..1500)) {
        let _ = check_challenge(&bytes, &ChallengeContext::default());
        let _ = check_response(&bytes, &ResponseContext::default());
        let _ = extract_digest(&String::from_utf8_lossy(&bytes));
    }

    #[test]
    fn checkers_never_panic_on_mutated_mails(flips in proptest::collection::vec((any::<prop::sample::Index>(), any::<u8>()), 1..20)) {
        let mut mail = ChallengeEmail::new("ca@example.org", "u@example.com", "LgYemJLy3F1LDkiJrdIGbEzyFJyOyf6vBdyZ1TG3sME", "m@example.org", 0).build();
        for (at, byte) in flips {
            let i = at.index(mail.len());
            mail[i] = byte;
        }
        let _ = check_challenge(&mail, &ChallengeContext { expected_from: Some("ca@example.org".into()), expected_to: Some("u@example.com".into()), ..Default::default() });
        let _ = check_response(&mail, &ResponseContext { identifier: Some("u@example.com".into()), ..Default::default() });
    }
}
