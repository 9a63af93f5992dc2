//! RFC 8823 step by step over the mail plane: the CA's challenge mail goes
//! CA → relay → MX → LMTP → store; the test client reads it from the store, checks it (DKIM
//! included) and replies through Submission → relay → the CA's MX, tampering on the way. Each
//! negative case must leave the challenge not valid with a clear error. (The whole issuance
//! over IMAP by the reference MUA is in `mua.rs`.)

use acmeproof::acme::email::{self, Exchange, ReplyStyle};
use acmeproof_mocks::mangle::Mangle;
use acmeproof_mocks::relay::RelayBehaviour;
use acmeproof_mocks::world::World;
use acmeproof_mocks::world::mail::RelaySpec;
use acmeproof_protocol::token::Join;
use serde_json::Value;

use crate::support::*;

const ALICE: &str = "alice@example.test";
const ALICE_PASSWORD: &str = "alice-password";
const EAI: &str = "δοκιμή@παράδειγμα.δοκιμή";

/// Starts an exchange for alice and returns it with its client.
async fn begin(world: &World, label: &str) -> (acmeproof::acme::AcmeClient, Exchange) {
    let client = client(world, label).await;
    let exchange = email::start(&client, world, ALICE, WAIT)
        .await
        .expect("challenge mail");
    (client, exchange)
}

/// Alice's conformant reply (string join), unsigned.
fn alice_reply(client: &acmeproof::acme::AcmeClient, exchange: &Exchange) -> Vec<u8> {
    email::response(client, exchange, ALICE, &ReplyStyle::plain(Join::String), 0).unwrap()
}

/// POSTs the challenge and returns the final authorization and the challenge's error.
async fn verdict(client: &acmeproof::acme::AcmeClient, exchange: &Exchange) -> (Value, Value) {
    let authz = email::answer_and_wait(client, exchange, WAIT)
        .await
        .unwrap();
    let challenge = authz["challenges"][0].clone();
    (authz, challenge)
}

fn assert_refused(authz: &Value, challenge: &Value, kind: &str, detail_has: &str) {
    assert_eq!(authz["status"], "invalid", "{authz}");
    assert_eq!(challenge["status"], "invalid", "{challenge}");
    assert_eq!(
        challenge["error"]["type"],
        format!("urn:ietf:params:acme:error:{kind}"),
        "{challenge}"
    );
    let detail = challenge["error"]["detail"].as_str().unwrap_or_default();
    assert!(
        detail.contains(detail_has),
        "{detail:?} should mention {detail_has:?}"
    );
}

fn to_ca(exchange: &Exchange) -> String {
    exchange.info.reply_address().unwrap().to_owned()
}

/// Sends `data` as alice through Submission, to the challenge's reply address.
async fn reply_as_alice(world: &World, exchange: &Exchange, data: &[u8]) {
    email::submit(
        world,
        ALICE,
        ALICE_PASSWORD,
        &email::envelope(ALICE, &to_ca(exchange)),
        data,
    )
    .await
    .unwrap();
}

#[tokio::test]
async fn a_wrong_digest_is_an_incorrect_response() {
    let world = world().await;
    let (client, exchange) = begin(&world, "wrong-digest").await;
    let mut reply = alice_reply(&client, &exchange);
    let text = String::from_utf8(reply.clone()).unwrap();
    let start = text.find("-----BEGIN ACME RESPONSE-----\r\n").unwrap() + 31;
    reply[start] = if reply[start] == b'A' { b'B' } else { b'A' };
    reply_as_alice(&world, &exchange, &reply).await;
    let (authz, challenge) = verdict(&client, &exchange).await;
    assert_refused(&authz, &challenge, "incorrectResponse", "digest");
    world.shutdown().await;
}

#[tokio::test]
async fn the_other_join_fails_under_a_strict_join_setting_and_passes_under_either() {
    for (policy, expect_valid) in [("string", false), ("either", true)] {
        let world = world_with(|c| {
            c.ca.knobs.email_join = serde_json::from_value(Value::String(policy.into())).unwrap();
        })
        .await;
        let (client, exchange) = begin(&world, &format!("join-{policy}")).await;
        let reply = email::response(
            &client,
            &exchange,
            ALICE,
            &ReplyStyle::plain(Join::Binary),
            0,
        )
        .unwrap();
        reply_as_alice(&world, &exchange, &reply).await;
        let (authz, challenge) = verdict(&client, &exchange).await;
        if expect_valid {
            assert_eq!(authz["status"], "valid", "{policy}: {authz}");
        } else {
            assert_refused(&authz, &challenge, "incorrectResponse", "String");
        }
        world.shutdown().await;
    }
}

#[tokio::test]
async fn a_reply_from_another_address_is_refused() {
    let world = world_with(|c| {
        c.mail.users.push(acmeproof_mocks::world::mail::UserSpec {
            address: "bob@example.test".into(),
            password: "bob-password".into(),
        });
    })
    .await;
    let (client, exchange) = begin(&world, "other-from").await;
    let reply = email::response(
        &client,
        &exchange,
        "bob@example.test",
        &ReplyStyle::plain(Join::String),
        0,
    )
    .unwrap();
    email::submit(
        &world,
        "bob@example.test",
        "bob-password",
        &email::envelope("bob@example.test", &to_ca(&exchange)),
        &reply,
    )
    .await
    .unwrap();
    let (authz, challenge) = verdict(&client, &exchange).await;
    assert_refused(&authz, &challenge, "unauthorized", "SMIME-40");
    world.shutdown().await;
}

/// Sends `data` straight to the CA's MX, bypassing Submission (and so its DKIM signing).
async fn inject_to_ca(world: &World, exchange: &Exchange, data: &[u8]) {
    let envelope = email::envelope(ALICE, &to_ca(exchange));
    email::inject_to_ca(world, &envelope, data)
        .await
        .expect("the CA's MX accepts the reply");
}

#[tokio::test]
async fn a_reply_without_dkim_is_refused() {
    let world = world().await;
    let (client, exchange) = begin(&world, "no-dkim").await;
    let reply = alice_reply(&client, &exchange);
    inject_to_ca(&world, &exchange, &reply).await;
    let (authz, challenge) = verdict(&client, &exchange).await;
    assert_refused(&authz, &challenge, "unauthorized", "DKIM");
    world.shutdown().await;
}

#[tokio::test]
async fn a_reply_signed_by_another_domain_is_refused() {
    let world = world().await;
    let (client, exchange) = begin(&world, "other-d").await;
    let reply = alice_reply(&client, &exchange);
    let other = world
        .mail
        .as_ref()
        .unwrap()
        .keys
        .get("παράδειγμα.δοκιμή")
        .expect("the EAI domain's key");
    let signed = other
        .sign(&reply, acmeproof_protocol::smime::RESPONSE_DKIM_MUST_SIGN)
        .unwrap();
    inject_to_ca(&world, &exchange, &signed).await;
    let (authz, challenge) = verdict(&client, &exchange).await;
    // RFC 8823 §3.2 item 9 (SMIME-54): d= is the From domain.
    assert_refused(&authz, &challenge, "unauthorized", "SMIME-54");
    assert_refused(
        &authz,
        &challenge,
        "unauthorized",
        "From domain example.test",
    );
    world.shutdown().await;
}

#[tokio::test]
async fn a_relay_that_adds_a_footer_breaks_dkim_and_the_reply_is_refused() {
    let world = world_with(|c| {
        c.mail.relays = vec![RelaySpec {
            name: "listserv".into(),
            behaviour: RelayBehaviour {
                mangle: vec![Mangle::Footer("-- \r\nsent through listserv\r\n".into())],
                ..RelayBehaviour::default()
            },
        }];
    })
    .await;
    let (client, exchange) = begin(&world, "mangled").await;
    // The same relay mangled the challenge: the client sees its DKIM fail, and goes on anyway
    // to show what the CA does with the reply.
    assert!(
        !exchange.challenge_dkim_pass,
        "the footer broke the challenge's DKIM too"
    );
    let reply = alice_reply(&client, &exchange);
    reply_as_alice(&world, &exchange, &reply).await;
    let (authz, challenge) = verdict(&client, &exchange).await;
    assert_refused(&authz, &challenge, "unauthorized", "DKIM");
    world.shutdown().await;
}

#[tokio::test]
async fn a_reply_carrying_list_id_is_refused() {
    let world = world().await;
    let (client, exchange) = begin(&world, "list-id").await;
    let reply = alice_reply(&client, &exchange);
    let mut with_list = b"List-Id: <acme.lists.example.test>\r\n".to_vec();
    with_list.extend_from_slice(&reply);
    reply_as_alice(&world, &exchange, &with_list).await;
    let (authz, challenge) = verdict(&client, &exchange).await;
    assert_refused(&authz, &challenge, "unauthorized", "SMIME-44");
    world.shutdown().await;
}

#[tokio::test]
async fn only_the_first_reply_counts() {
    let world = world().await;
    let (client, exchange) = begin(&world, "send-once").await;
    let good = alice_reply(&client, &exchange);
    let bad = email::response(
        &client,
        &exchange,
        ALICE,
        &ReplyStyle::plain(Join::Binary),
        0,
    )
    .unwrap();
    let envelope = email::envelope(ALICE, &to_ca(&exchange));
    // Strict string join: the binary reply is wrong, and it arrives first.
    let mut knobs = world.ca.shared().knobs();
    knobs.email_join = serde_json::from_value(Value::String("string".into())).unwrap();
    world.ca.shared().set_knobs(knobs);
    email::submit(&world, ALICE, ALICE_PASSWORD, &envelope, &bad)
        .await
        .unwrap();
    let (authz, challenge) = verdict(&client, &exchange).await;
    assert_refused(&authz, &challenge, "incorrectResponse", "digest");
    email::submit(&world, ALICE, ALICE_PASSWORD, &envelope, &good)
        .await
        .unwrap();
    let ignored = world
        .ca
        .wait_for_ignored_reply(exchange.challenge_url(), WAIT)
        .await;
    assert!(ignored, "the second reply reached the CA and was ignored");
    let authz = client.get(&exchange.authz_url).await.unwrap();
    assert_eq!(authz["status"], "invalid", "{authz}");
    world.shutdown().await;
}

#[tokio::test]
async fn an_eai_challenge_through_a_hop_without_smtputf8_bounces() {
    let world = world_with(|c| {
        c.mail.relays.push(RelaySpec {
            name: "legacy".into(),
            behaviour: RelayBehaviour {
                smtputf8: false,
                ..RelayBehaviour::default()
            },
        });
    })
    .await;
    let client = client(&world, "no-smtputf8").await;
    let (_, order) = client
        .new_order(&[serde_json::json!({"type": "email", "value": EAI})])
        .await
        .unwrap();
    let authz_url = order["authorizations"][0].as_str().unwrap();
    let authz = client.get(authz_url).await.unwrap();
    let challenge_url = authz["challenges"][0]["url"].as_str().unwrap();
    client.respond(challenge_url).await.unwrap();
    let authz = client.poll(authz_url, &["pending"], WAIT).await.unwrap();
    assert_refused(&authz, &authz["challenges"][0], "connection", "");
    let detail = authz["challenges"][0]["error"]["detail"].as_str().unwrap();
    assert!(
        detail.contains("5.6.7") || detail.contains("SMTPUTF8"),
        "{detail}"
    );
    world.shutdown().await;
}

#[tokio::test]
async fn a_reply_after_the_validity_window_is_refused() {
    let world = world().await;
    let (client, exchange) = begin(&world, "late-reply").await;
    let window = world.ca.shared().knobs().email_reply_window_secs;
    world
        .clock
        .advance(time::Duration::seconds(window as i64 + 60));
    let reply = alice_reply(&client, &exchange);
    reply_as_alice(&world, &exchange, &reply).await;
    let (authz, challenge) = verdict(&client, &exchange).await;
    assert_refused(&authz, &challenge, "unauthorized", "valid for");
    world.shutdown().await;
}

#[tokio::test]
async fn with_send_on_challenge_post_the_mail_waits_for_the_post_and_a_reply_before_it_counts() {
    let world = world_with(|c| {
        c.ca.knobs.email_send_on =
            serde_json::from_value(Value::String("challenge-post".into())).unwrap();
    })
    .await;
    let client = client(&world, "send-on-post").await;
    let (_, order) = client
        .new_order(&[serde_json::json!({"type": "email", "value": ALICE})])
        .await
        .unwrap();
    let authz_url = order["authorizations"][0].as_str().unwrap().to_owned();
    client.get(&authz_url).await.unwrap();
    let store = world.mail.as_ref().unwrap().store.clone();
    // A bounded wait for a mail that must not come before the POST.
    let early = store
        .wait_for_message(ALICE, |_| true, std::time::Duration::from_millis(500))
        .await;
    assert!(
        early.is_none(),
        "no challenge mail before the challenge POST"
    );
    // `start` POSTs nothing itself; the POST comes from answer_and_wait below, so POST first
    // by hand, then read the mail and reply; the verdict applies on arrival.
    let authz = client.get(&authz_url).await.unwrap();
    let challenge_url = authz["challenges"][0]["url"].as_str().unwrap().to_owned();
    let posted = client.respond(&challenge_url).await.unwrap();
    assert_eq!(posted["status"], "processing");
    let mail = store
        .wait_for_message(ALICE, |_| true, WAIT)
        .await
        .expect("the challenge mail after the POST");
    let report =
        acmeproof_protocol::smime::check_challenge(&mail.raw, &Default::default()).unwrap();
    let exchange = Exchange {
        order_url: String::new(),
        order: Value::Null,
        authz_url: authz_url.clone(),
        challenge: authz["challenges"][0].clone(),
        challenge_mail: mail.raw.to_vec(),
        info: report.info,
        challenge_dkim_pass: true,
    };
    let reply = alice_reply(&client, &exchange);
    reply_as_alice(&world, &exchange, &reply).await;
    let authz = client.poll(&authz_url, &["pending"], WAIT).await.unwrap();
    assert_eq!(authz["status"], "valid", "{authz}");
    world.shutdown().await;
}

/// POSTs `{"tokenPart1": value}` to the challenge (the read-only proof variant).
async fn post_token_part1(
    client: &acmeproof::acme::AcmeClient,
    exchange: &Exchange,
    value: &str,
) -> Result<acmeproof::acme::Response, acmeproof::acme::AcmeError> {
    client
        .post(
            exchange.challenge_url(),
            Some(&serde_json::json!({ "tokenPart1": value })),
        )
        .await
}

/// A world with knob `proof` set, and alice's exchange in it (one per world: the exchange
/// reads the first challenge mail in alice's INBOX).
async fn read_only_world(
    proof: acmeproof_mocks::ca::knobs::Proof,
    label: &str,
) -> (World, acmeproof::acme::AcmeClient, Exchange, String) {
    let world = world_with(|c| c.ca.knobs.proof = proof).await;
    let (client, exchange) = begin(&world, label).await;
    let tp1 = exchange.info.token_part1.clone().expect("token-part1");
    (world, client, exchange, tp1)
}

#[tokio::test]
async fn the_read_only_proof_knob_takes_token_part1_over_https_instead_of_a_reply() {
    use acmeproof_mocks::ca::knobs::Proof;
    // proof = reply (default, RFC 8823 §3): a tokenPart1 in the POST is refused.
    let (world, client, exchange, tp1) = read_only_world(Proof::Reply, "read-only-off").await;
    match post_token_part1(&client, &exchange, &tp1).await {
        Err(acmeproof::acme::AcmeError::Problem { kind, detail, .. }) => {
            assert_eq!(kind, "malformed");
            assert!(detail.contains("proof = reply"), "{detail}");
        }
        other => panic!("expected malformed, got {other:?}"),
    }
    world.shutdown().await;
    // A token-part1 that is not the mail's: invalid, incorrectResponse.
    let (world, client, exchange, tp1) = read_only_world(Proof::ReadOnly, "read-only-bad").await;
    let wrong = match tp1.strip_prefix('A') {
        Some(rest) => format!("B{rest}"),
        None => format!("A{}", &tp1[1..]),
    };
    post_token_part1(&client, &exchange, &wrong)
        .await
        .expect("POST accepted");
    let authz = client
        .poll(&exchange.authz_url, &["pending"], WAIT)
        .await
        .unwrap();
    assert_refused(
        &authz,
        &authz["challenges"][0],
        "incorrectResponse",
        "is not the token-part1",
    );
    world.shutdown().await;
    // The mail's token-part1, read from the mailbox and POSTed back: valid, no reply sent.
    let (world, client, exchange, tp1) = read_only_world(Proof::ReadOnly, "read-only").await;
    post_token_part1(&client, &exchange, &tp1)
        .await
        .expect("POST accepted");
    let authz = client
        .poll(&exchange.authz_url, &["pending"], WAIT)
        .await
        .unwrap();
    assert_eq!(authz["status"], "valid", "{authz}");
    world.shutdown().await;
}

/// A reply of the corpus (`send = "direct"` and its kin): signed by the harness, handed to the
/// MX the world's DNS names for the recipient's domain, and read there exactly as signed: by
/// the built-in CA (its address's MX is the CA's) and in a world mailbox (an external CA whose
/// address is a world user's reads it there).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_corpus_reply_reaches_the_mx_of_its_recipient_exactly_as_signed() {
    use acmeproof::scenario::deliver::{self, Signer};
    use acmeproof::scenario::model::{DkimKey, ReplyChanges, SendVia};
    use acmeproof_mocks::dkim::DkimVerifier;
    use acmeproof_mocks::dns::WorldResolver;
    use acmeproof_mocks::seed::Seed;
    use acmeproof_protocol::smime::dkim::Verification;

    let world = world().await;
    let ca_address = world.ca.shared().config.challenge_from.clone();
    let reply = |to: &str| {
        format!(
            "From: {ALICE}\r\nTo: {to}\r\nSubject: Re: ACME: corpus\r\nDate: Mon, 7 Dec 2026 \
             10:00:00 +0000\r\nMessage-ID: <corpus@example.test>\r\n\r\nhello {to}\r\n"
        )
        .into_bytes()
    };
    let verifier = DkimVerifier::new(&WorldResolver::new(world.dns.addr()).expect("resolver"));
    let plain = ReplyChanges::default();
    let sha1 = ReplyChanges {
        dkim_key: Some(DkimKey::RsaSha1),
        send: Some(SendVia::Direct),
        ..ReplyChanges::default()
    };
    for (to, changes) in [(ca_address.as_str(), &plain), (EAI, &sha1)] {
        let signer = deliver::signer(
            &ReplyChanges {
                send: Some(SendVia::Direct),
                ..changes.clone()
            },
            ALICE,
        )
        .expect("signer");
        let signed = deliver::sign(&world, Seed(3), &signer, changes, &reply(to))
            .await
            .expect("signed");
        deliver::to_mx(&world, &email::envelope(ALICE, to), &signed)
            .await
            .expect("the MX takes it");
        let got: Vec<u8> = if to == ca_address {
            world
                .ca
                .shared()
                .inbox()
                .last()
                .expect("the CA's MX got it")
                .to_vec()
        } else {
            world
                .mail
                .as_ref()
                .expect("mail")
                .store
                .messages(to, "INBOX")
                .expect("the INBOX")
                .last()
                .expect("delivered")
                .raw
                .to_vec()
        };
        // The MX puts its Received field in front (RFC 5321 §4.4); nothing else changes.
        assert!(got.ends_with(&signed), "{}", String::from_utf8_lossy(&got));
        let results = verifier.check(&got).await;
        assert_eq!(results.len(), 1, "{results:?}");
        assert_eq!(
            results[0].verification,
            Verification::Verified,
            "{results:?}"
        );
        let algorithm = results[0].tags.as_ref().and_then(|t| t.algorithm.clone());
        let want = if changes.dkim_key.is_some() {
            "rsa-sha1"
        } else {
            "ed25519-sha256"
        };
        assert_eq!(algorithm.as_deref(), Some(want));
        assert!(matches!(signer, Signer::Domain(_) | Signer::Hostile { .. }));
    }
    world.shutdown().await;
}
