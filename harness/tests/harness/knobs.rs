//! CA options and knobs through the built-in client: external account binding, strict mode,
//! Retry-After, and bounded validation attempts.

use acmeproof::acme::AcmeError;
use acmeproof_mocks::account_key::{KeyAlg, SignWith, mac_sign_eab};
use acmeproof_mocks::ca::EabConfig;
use acmeproof_protocol::b64url;
use serde_json::json;

use crate::support::*;

const EAB_KEY: &[u8] = b"acmeproof-eab-hmac-key-32-octets";

fn kind(result: Result<impl std::fmt::Debug, AcmeError>) -> String {
    match result {
        Err(AcmeError::Problem { kind, .. }) => kind,
        other => panic!("expected a problem document, got {other:?}"),
    }
}

#[tokio::test]
async fn external_account_binding_is_required_and_checked() {
    let world = world_with(|c| {
        c.ca.eab = Some(EabConfig {
            required: true,
            keys: [("kid-1".to_owned(), b64url::encode(EAB_KEY))].into(),
        });
    })
    .await;
    let client = unregistered(&world, key(KeyAlg::Es256, "eab")).await;
    assert_eq!(client.directory().meta["externalAccountRequired"], true);
    let url = client.directory().new_account.clone();
    let jwk = client.key().public_jwk();
    let without = client
        .post_with(
            &url,
            Some(&json!({"termsOfServiceAgreed": true})),
            SignWith::Jwk,
        )
        .await;
    assert_eq!(kind(without), "externalAccountRequired");
    for (label, mac_key, kid) in [
        (
            "wrong key",
            &b"another-hmac-key-of-32-octets-xx"[..],
            "kid-1",
        ),
        ("unknown kid", EAB_KEY, "kid-2"),
    ] {
        let eab = mac_sign_eab(mac_key, kid, &url, &jwk).unwrap();
        let answer = client
            .post_with(
                &url,
                Some(&json!({"termsOfServiceAgreed": true, "externalAccountBinding": eab})),
                SignWith::Jwk,
            )
            .await;
        assert_eq!(kind(answer), "unauthorized", "{label}");
    }
    let eab = mac_sign_eab(EAB_KEY, "kid-1", &url, &jwk).unwrap();
    let created = client
        .post_with(
            &url,
            Some(&json!({"termsOfServiceAgreed": true, "externalAccountBinding": eab})),
            SignWith::Jwk,
        )
        .await
        .expect("bound account");
    assert_eq!(created.status, 201);
    assert_eq!(
        created.json().unwrap()["externalAccountBinding"]["kid"],
        "kid-1"
    );
    world.shutdown().await;
}

#[tokio::test]
async fn strict_mode_wants_a_user_agent_and_an_empty_challenge_response() {
    let world = world_with(|c| c.ca.knobs.strict = true).await;
    let client = client(&world, "strict").await;
    // Our client sends a User-Agent; a bare request does not (ACME-34).
    let _ = rustls::crypto::ring::default_provider().install_default();
    let bare = reqwest::Client::builder()
        .tls_certs_only([reqwest::Certificate::from_pem(world.pki.root_pem().as_bytes()).unwrap()])
        .no_proxy()
        .build()
        .unwrap();
    let answer = bare.get(world.ca.directory_url()).send().await.unwrap();
    assert_eq!(answer.status().as_u16(), 400);
    let (_, order) = client
        .new_order(&[json!({"type": "dns", "value": "www.example.test"})])
        .await
        .unwrap();
    let authz = client
        .get(order["authorizations"][0].as_str().unwrap())
        .await
        .unwrap();
    let challenge = authz["challenges"][0]["url"].as_str().unwrap();
    let extra = client
        .post(challenge, Some(&json!({"keyAuthorization": "x"})))
        .await;
    assert_eq!(kind(extra), "malformed", "ACME-24: the response is {{}}");
    world.shutdown().await;
}

#[tokio::test]
async fn retry_after_knob_is_sent_on_pending_objects() {
    let world = world_with(|c| c.ca.knobs.retry_after_secs = Some(3)).await;
    let client = client(&world, "retry-after").await;
    let (order_url, order) = client
        .new_order(&[json!({"type": "dns", "value": "www.example.test"})])
        .await
        .unwrap();
    for url in [
        order_url.as_str(),
        order["authorizations"][0].as_str().unwrap(),
    ] {
        let answer = client.post(url, None).await.unwrap();
        assert_eq!(answer.retry_after(), Some(3), "{url}");
    }
    world.shutdown().await;
}

#[tokio::test]
async fn a_later_attempt_validates_when_the_record_appears_in_time() {
    let world = world_with(|c| {
        c.ca.knobs.validation_attempts = 5;
        c.ca.knobs.validation_retry_delay_ms = 300;
    })
    .await;
    let client = client(&world, "attempts").await;
    let (order_url, order) = client
        .new_order(&[json!({"type": "dns", "value": "late.example.test"})])
        .await
        .unwrap();
    let authz_url = order["authorizations"][0].as_str().unwrap().to_owned();
    let authz = client.get(&authz_url).await.unwrap();
    let challenge = authz["challenges"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["type"] == "dns-01")
        .unwrap()
        .clone();
    let name = "_acme-challenge.late.example.test";
    client
        .respond(challenge["url"].as_str().unwrap())
        .await
        .unwrap();
    // The first attempt finds nothing; publish only after the CA has looked once.
    let first = world
        .dns
        .wait_for_query(|q| q.name.trim_end_matches('.') == name, WAIT)
        .await;
    assert!(first.is_some(), "the CA looked up {name}");
    let value = acmeproof_protocol::keyauth::dns01_txt_value(
        challenge["token"].as_str().unwrap(),
        &client.key().thumbprint(),
    );
    world.dns.set_txt(name, vec![value]).await.unwrap();
    let authz = client.poll(&authz_url, &["pending"], WAIT).await.unwrap();
    assert_eq!(authz["status"], "valid", "{authz}");
    let lookups = world
        .dns
        .history()
        .iter()
        .filter(|q| q.name.trim_end_matches('.') == name)
        .count();
    assert!(lookups >= 2, "validated on a retry ({lookups} lookups)");
    assert_eq!(client.get(&order_url).await.unwrap()["status"], "ready");
    world.shutdown().await;
}
