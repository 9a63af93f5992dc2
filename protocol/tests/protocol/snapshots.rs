//! Snapshots of the mails the builders write. Every random part (token, Message-ID, date,
//! boundary) is an input, fixed here, so nothing needs redacting.

use acmeproof_protocol::smime::{
    ChallengeBody, ChallengeEmail, ChallengeInfo, ResponseBody, ResponseEmail,
};
use acmeproof_protocol::token::{self, Join};

fn challenge(body: ChallengeBody) -> ChallengeEmail {
    let mut c = ChallengeEmail::new(
        "acme-generator@example.org",
        "alexey@example.com",
        "LgYemJLy3F1LDkiJrdIGbEzyFJyOyf6vBdyZ1TG3sME",
        "A2299BB.FF7788@example.org",
        1_607_159_335,
    );
    c.reply_to = Some("acme-validator@example.org".into());
    c.body = body;
    c
}

fn text(bytes: Vec<u8>) -> String {
    String::from_utf8(bytes).unwrap().replace("\r\n", "⏎\n")
}

#[test]
fn challenge_mails() {
    insta::assert_snapshot!(
        "challenge_text_plain",
        text(challenge(ChallengeBody::TextPlain).build())
    );
    insta::assert_snapshot!(
        "challenge_multipart_alternative",
        text(challenge(ChallengeBody::MultipartAlternative).build())
    );
    insta::assert_snapshot!(
        "challenge_text_html",
        text(challenge(ChallengeBody::TextHtml).build())
    );
}

#[test]
fn response_mails() {
    let info = ChallengeInfo {
        from: Some("acme-generator@example.org".into()),
        reply_to: Some("acme-validator@example.org".into()),
        message_id: Some("A2299BB.FF7788@example.org".into()),
        token_part1: Some("LgYemJLy3F1LDkiJrdIGbEzyFJyOyf6vBdyZ1TG3sME=".into()),
        ..Default::default()
    };
    let digest = token::reply_digest(
        "LgYemJLy3F1LDkiJrdIGbEzyFJyOyf6vBdyZ1TG3sME=",
        "DGyRejmCefe7v4NfDGDKfA",
        "1_nKJnlH9boVxdoO63T8zP7O2w42qZL4d6xj35Hy5aI",
        Join::String,
    )
    .unwrap()
    .digest;
    let mut r = ResponseEmail::reply_to(
        &info,
        "alexey@example.com",
        digest,
        "111-22222-3333333@example.com",
        1_607_166_105,
    )
    .unwrap();
    insta::assert_snapshot!("response_text_plain", text(r.build()));
    r.wrap = Some(20);
    r.body = ResponseBody::MultipartAlternative;
    insta::assert_snapshot!("response_multipart_wrapped", text(r.build()));
}
