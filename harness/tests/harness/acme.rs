//! The built-in client against a world's CA over HTTPS: issuance by dns-01 and http-01, CAA,
//! accounts, key rollover, revocation, knobs, bad input, and the JWS negative matrix.

use acmeproof::acme::client::HttpVersion;
use acmeproof::acme::probe::{Fault, probe};
use acmeproof::acme::{AcmeClient, AcmeError, flow};
use acmeproof_mocks::account_key::{KeyAlg, SignWith};
use acmeproof_mocks::ca::pki::verify_chain;
use acmeproof_mocks::dns::RecordSpec;
use acmeproof_protocol::b64url;
use acmeproof_protocol::pki::CertSummary;
use serde_json::{Value, json};

use crate::support::*;

fn problem(result: Result<impl std::fmt::Debug, AcmeError>) -> (u16, String) {
    match result {
        Err(AcmeError::Problem { status, kind, .. }) => (status, kind),
        other => panic!("expected a problem document, got {other:?}"),
    }
}

fn record(name: &str, rtype: &str, value: &str) -> RecordSpec {
    serde_json::from_value(json!({ "name": name, "type": rtype, "value": value }))
        .expect("record spec")
}

/// The client speaks HTTP/1.1 by default; the CA serves HTTP/2 too (ALPN `h2`), and a whole
/// issuance goes through over it. A client that asked for HTTP/2 and was answered in HTTP/1.x
/// is refused, and one that asked for HTTP/1.1 never speaks HTTP/2 (reqwest's `http1_only`),
/// so each run below really spoke the version it names.
#[tokio::test]
async fn dns01_issuance_over_http_1_1_and_http_2() {
    let world = world().await;
    for (label, version) in [("h1", HttpVersion::Http1), ("h2", HttpVersion::Http2)] {
        let client = AcmeClient::connect_over(
            &world.ca.directory_url(),
            world.pki.root_pem(),
            key(KeyAlg::Es256, label),
            WAIT,
            version,
        )
        .await
        .unwrap_or_else(|e| panic!("{version:?}: directory: {e}"));
        client.new_account(&[]).await.expect("newAccount");
        let name = format!("{label}.example.test");
        let issued = flow::issue_dns01(&client, &world.dns, &[&name], WAIT)
            .await
            .unwrap_or_else(|e| panic!("{version:?}: {e}"));
        let chain = pem_chain(&issued.chain_pem);
        verify_chain(&chain[0], &chain[1], world.pki.root_der()).expect("chain verifies");
    }
    world.shutdown().await;
}

#[tokio::test]
async fn dns01_issuance_chains_to_the_world_root() {
    let world = world().await;
    let client = client(&world, "dns01").await;
    let issued = flow::issue_dns01(&client, &world.dns, &["www.example.test"], WAIT)
        .await
        .expect("issued");
    let chain = pem_chain(&issued.chain_pem);
    assert_eq!(chain.len(), 2, "leaf then intermediate");
    verify_chain(&chain[0], &chain[1], world.pki.root_der()).expect("chain verifies");
    let leaf = CertSummary::from_der(&chain[0]).expect("leaf parses");
    assert!(leaf.has_san("dns:www.example.test"), "{leaf:?}");
    // RFC 8555 §7.4: the CSR names exactly the order's identifiers, so no subject CN (rcgen's
    // default would be "rcgen self signed cert").
    let finalize = world
        .ca
        .shared()
        .history()
        .into_iter()
        .find(|r| r.path.ends_with("/finalize"))
        .expect("a finalize request");
    let csr_b64 = finalize.payload.expect("payload")["csr"]
        .as_str()
        .expect("csr")
        .to_owned();
    let csr = acmeproof_protocol::pki::parse_csr(&b64url::decode_strict(&csr_b64).expect("b64"))
        .expect("csr parses");
    assert!(csr.subject_cns.is_empty(), "{:?}", csr.subject_cns);
    // The served root is the one in the bundle `serve` writes.
    assert!(world.pki.root_pem().contains("BEGIN CERTIFICATE"));
    world.shutdown().await;
}

#[tokio::test]
async fn wildcard_orders_get_only_dns01_and_issue() {
    let world = world().await;
    let client = client(&world, "wildcard").await;
    let (_, order) = client
        .new_order(&[json!({"type": "dns", "value": "*.example.test"})])
        .await
        .unwrap();
    let authz = client
        .get(order["authorizations"][0].as_str().unwrap())
        .await
        .unwrap();
    assert_eq!(authz["wildcard"], true);
    assert_eq!(authz["identifier"]["value"], "example.test");
    let types: Vec<&str> = authz["challenges"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["type"].as_str().unwrap())
        .collect();
    assert_eq!(types, ["dns-01"]);
    let issued = flow::issue_dns01(&client, &world.dns, &["*.example.test"], WAIT)
        .await
        .expect("wildcard issued");
    let leaf = CertSummary::from_der(&pem_chain(&issued.chain_pem)[0]).unwrap();
    assert!(leaf.has_san("dns:*.example.test"), "{leaf:?}");
    world.shutdown().await;
}

/// How the test's web server answers the http-01 request.
#[derive(Clone, Copy)]
enum Http01Answer {
    KeyAuthorization,
    Wrong,
    /// A redirect to another path on the same name, which has the key authorization.
    RedirectSameName,
    /// A redirect to another name (whose address only a resolver outside the world would know).
    RedirectOtherName,
}

/// Serves the http-01 path on 127.0.0.1:0 and returns the port.
async fn http01_responder(token: &str, key_authorization: String, answer: Http01Answer) -> u16 {
    use axum::response::{IntoResponse, Redirect};
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    let path = format!("/.well-known/acme-challenge/{token}");
    let moved = format!("/moved/{token}");
    let first = match answer {
        Http01Answer::KeyAuthorization => key_authorization.clone().into_response(),
        Http01Answer::Wrong => "not the key authorization".into_response(),
        Http01Answer::RedirectSameName => Redirect::to(&moved).into_response(),
        Http01Answer::RedirectOtherName => {
            Redirect::to(&format!("http://elsewhere.invalid:{port}{moved}")).into_response()
        }
    };
    let first = std::sync::Arc::new(std::sync::Mutex::new(Some(first)));
    let app = axum::Router::new()
        .route(
            &path,
            axum::routing::get(move || {
                let first = first.clone();
                async move {
                    first
                        .lock()
                        .unwrap()
                        .take()
                        .unwrap_or_else(|| "asked twice".into_response())
                }
            }),
        )
        .route(
            &moved,
            axum::routing::get(move || async move { key_authorization }),
        );
    tokio::spawn(async move { axum::serve(listener, app).await });
    port
}

async fn http01_attempt(answer: Http01Answer) -> (Value, Value) {
    let world = world().await;
    let client = client(&world, "http01").await;
    let (order_url, order) = client
        .new_order(&[json!({"type": "dns", "value": "www.example.test"})])
        .await
        .unwrap();
    let authz_url = order["authorizations"][0].as_str().unwrap().to_owned();
    let authz = client.get(&authz_url).await.unwrap();
    let challenge = authz["challenges"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["type"] == "http-01")
        .unwrap()
        .clone();
    let token = challenge["token"].as_str().unwrap();
    let key_authorization = format!("{token}.{}\n", client.key().thumbprint());
    let port = http01_responder(token, key_authorization, answer).await;
    let mut knobs = world.ca.shared().knobs();
    knobs.http01_port = port;
    world.ca.shared().set_knobs(knobs);
    client
        .respond(challenge["url"].as_str().unwrap())
        .await
        .unwrap();
    let authz = client.poll(&authz_url, &["pending"], WAIT).await.unwrap();
    let order = client.poll(&order_url, &["pending"], WAIT).await.unwrap();
    world.shutdown().await;
    (authz, order)
}

fn http01_of(authz: &Value) -> &Value {
    authz["challenges"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["type"] == "http-01")
        .unwrap()
}

#[tokio::test]
async fn http01_follows_a_redirect_on_the_same_name_only() {
    let (authz, _) = http01_attempt(Http01Answer::RedirectSameName).await;
    assert_eq!(authz["status"], "valid", "{authz}");
    let (authz, _) = http01_attempt(Http01Answer::RedirectOtherName).await;
    assert_eq!(authz["status"], "invalid", "{authz}");
    let detail = http01_of(&authz)["error"]["detail"].as_str().unwrap();
    assert!(
        detail.contains("HTTP 303"),
        "the redirect was not followed: {detail}"
    );
}

#[tokio::test]
async fn http01_validates_against_the_address_in_the_world_dns() {
    let (authz, order) = http01_attempt(Http01Answer::KeyAuthorization).await;
    assert_eq!(authz["status"], "valid", "{authz}");
    assert!(authz["expires"].is_string());
    let http = authz["challenges"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["type"] == "http-01")
        .unwrap();
    assert_eq!(http["status"], "valid");
    assert!(http["validated"].is_string());
    assert_eq!(order["status"], "ready");
}

#[tokio::test]
async fn http01_wrong_answer_makes_the_challenge_authz_and_order_invalid() {
    let (authz, order) = http01_attempt(Http01Answer::Wrong).await;
    assert_eq!(authz["status"], "invalid", "{authz}");
    let http = authz["challenges"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["type"] == "http-01")
        .unwrap();
    assert_eq!(
        http["error"]["type"],
        "urn:ietf:params:acme:error:incorrectResponse"
    );
    assert_eq!(order["status"], "invalid");
}

async fn dns01_outcome(world: &acmeproof_mocks::world::World, name: &str) -> Value {
    let client = client(world, name).await;
    match flow::issue_dns01(&client, &world.dns, &[name], WAIT).await {
        Ok(_) => json!({"status": "issued"}),
        // The authorization ended invalid: its challenges say why.
        Err(flow::FlowError::Invalid(authz)) => {
            json!({ "status": "failed", "text": authz.to_string() })
        }
        Err(e) => panic!("{e}"),
    }
}

#[tokio::test]
async fn caa_naming_another_ca_refuses_and_naming_this_one_allows() {
    let world = world().await;
    world
        .dns
        .add(record("other.example.test", "CAA", "0 issue \"other.ca\""))
        .await
        .unwrap();
    world
        .dns
        .add(record(
            "ours.example.test",
            "CAA",
            "0 issue \"acmeproof.test\"",
        ))
        .await
        .unwrap();
    let refused = dns01_outcome(&world, "other.example.test").await;
    assert_eq!(refused["status"], "failed");
    assert!(
        refused["text"].as_str().unwrap().contains("caa"),
        "{refused}"
    );
    // A subdomain inherits the CAA of its parent (RFC 8659 §3 tree climbing).
    let child = dns01_outcome(&world, "a.other.example.test").await;
    assert_eq!(child["status"], "failed", "{child}");
    assert_eq!(
        dns01_outcome(&world, "ours.example.test").await["status"],
        "issued"
    );
    world.shutdown().await;
}

#[tokio::test]
async fn a_servfail_on_the_txt_name_is_a_dns_problem() {
    let world = world().await;
    world
        .dns
        .set_fault(
            "_acme-challenge.broken.example.test",
            acmeproof_mocks::dns::Fault::ServFail,
        )
        .unwrap();
    let outcome = dns01_outcome(&world, "broken.example.test").await;
    assert_eq!(outcome["status"], "failed");
    assert!(
        outcome["text"]
            .as_str()
            .unwrap()
            .contains("urn:ietf:params:acme:error:dns"),
        "{outcome}"
    );
    world.shutdown().await;
}

fn csr_for(names: &[&str]) -> Vec<u8> {
    let key = rcgen::KeyPair::generate().unwrap();
    let params =
        rcgen::CertificateParams::new(names.iter().map(|n| n.to_string()).collect::<Vec<_>>())
            .unwrap();
    params.serialize_request(&key).unwrap().der().to_vec()
}

#[tokio::test]
async fn finalize_checks_readiness_and_the_csr_and_keeps_the_order_ready() {
    let world = world().await;
    let client = client(&world, "finalize").await;
    let (order_url, order) = client
        .new_order(&[json!({"type": "dns", "value": "www.example.test"})])
        .await
        .unwrap();
    let finalize = order["finalize"].as_str().unwrap().to_owned();
    // ACME-20: not ready yet.
    let (status, kind) = problem(
        client
            .finalize(&finalize, &csr_for(&["www.example.test"]))
            .await,
    );
    assert_eq!((status, kind.as_str()), (403, "orderNotReady"));
    // Make it ready through a reused authorization from a full issuance.
    flow::issue_dns01(&client, &world.dns, &["www.example.test"], WAIT)
        .await
        .unwrap();
    let mut knobs = world.ca.shared().knobs();
    knobs.reuse_authorizations = true;
    world.ca.shared().set_knobs(knobs);
    let (order_url2, order2) = client
        .new_order(&[json!({"type": "dns", "value": "www.example.test"})])
        .await
        .unwrap();
    assert_eq!(order2["status"], "ready", "authorization reuse: {order2}");
    let finalize2 = order2["finalize"].as_str().unwrap();
    // ACME-21: other names in the CSR → badCSR, and the order stays ready.
    for bad in [
        csr_for(&["other.example.test"]),
        csr_for(&["www.example.test", "extra.example.test"]),
    ] {
        let (status, kind) = problem(client.finalize(finalize2, &bad).await);
        assert_eq!((status, kind.as_str()), (400, "badCSR"));
        assert_eq!(client.get(&order_url2).await.unwrap()["status"], "ready");
    }
    let mut garbage = csr_for(&["www.example.test"]);
    let last = garbage.len() - 1;
    garbage[last] ^= 0xff;
    let (_, kind) = problem(client.finalize(finalize2, &garbage).await);
    assert_eq!(kind, "badCSR");
    let done = client
        .finalize(finalize2, &csr_for(&["www.example.test"]))
        .await
        .unwrap();
    assert_eq!(done["status"], "valid");
    assert!(done["certificate"].is_string());
    // The first order was never finalized and is still pending on its own authorization.
    assert_eq!(client.get(&order_url).await.unwrap()["status"], "pending");
    world.shutdown().await;
}

#[tokio::test]
async fn accounts_existing_key_only_return_existing_terms_contacts_and_deactivation() {
    let world = world().await;
    let key = key(KeyAlg::EdDsa, "accounts");
    let fresh = unregistered(&world, key.clone()).await;
    let url = fresh.directory().new_account.clone();
    let (status, kind) = problem(
        fresh
            .post_with(
                &url,
                Some(&json!({"onlyReturnExisting": true})),
                SignWith::Jwk,
            )
            .await,
    );
    assert_eq!((status, kind.as_str()), (400, "accountDoesNotExist"));
    let (_, kind) = problem(
        fresh
            .post_with(&url, Some(&json!({"contact": []})), SignWith::Jwk)
            .await,
    );
    assert_eq!(kind, "malformed", "terms of service must be agreed to");
    let (_, kind) = problem(
        fresh
            .post_with(
                &url,
                Some(&json!({"termsOfServiceAgreed": true, "contact": ["tel:+1555"]})),
                SignWith::Jwk,
            )
            .await,
    );
    assert_eq!(kind, "unsupportedContact");
    let (_, kind) = problem(
        fresh
            .post_with(
                &url,
                Some(&json!({"termsOfServiceAgreed": true, "contact": ["mailto:a@b.test?subject=x"]})),
                SignWith::Jwk,
            )
            .await,
    );
    assert_eq!(kind, "invalidContact");
    let created = fresh
        .post_with(
            &url,
            Some(&json!({"termsOfServiceAgreed": true})),
            SignWith::Jwk,
        )
        .await
        .unwrap();
    assert_eq!(created.status, 201);
    let account_url = created.location().unwrap();
    let again = fresh
        .post_with(
            &url,
            Some(&json!({"termsOfServiceAgreed": true})),
            SignWith::Jwk,
        )
        .await
        .unwrap();
    assert_eq!(again.status, 200);
    assert_eq!(again.location().unwrap(), account_url);
    fresh.set_account_url(account_url.clone());
    let orders = fresh.get(&format!("{account_url}/orders")).await.unwrap();
    assert_eq!(orders["orders"], json!([]));
    let deactivated = fresh
        .post(&account_url, Some(&json!({"status": "deactivated"})))
        .await
        .unwrap()
        .json()
        .unwrap();
    assert_eq!(deactivated["status"], "deactivated");
    // ACME-17: every later request is 401 unauthorized.
    let (status, kind) = problem(fresh.get(&account_url).await);
    assert_eq!((status, kind.as_str()), (401, "unauthorized"));
    world.shutdown().await;
}

#[tokio::test]
async fn key_change_moves_the_account_and_refuses_a_key_in_use() {
    let world = world().await;
    let other = client(&world, "rollover-taken").await;
    let client = client(&world, "rollover-old").await;
    let account_url = client.account_url().unwrap();
    let new_key = key(KeyAlg::Es384, "rollover-new");
    let key_change = client.directory().key_change.clone();
    let inner = new_key
        .sign_inner(
            &key_change,
            &json!({"account": account_url, "oldKey": client.key().public_jwk()}),
        )
        .unwrap();
    client
        .post(&key_change, Some(&inner))
        .await
        .expect("keyChange");
    // The new key now finds the account; the old one does not.
    let rolled = unregistered(&world, new_key.clone()).await;
    let found = rolled
        .post_with(
            &rolled.directory().new_account.clone(),
            Some(&json!({"onlyReturnExisting": true})),
            SignWith::Jwk,
        )
        .await
        .unwrap();
    assert_eq!(found.location().unwrap(), account_url);
    let (_, kind) = problem(client.get(&account_url).await);
    assert_eq!(kind, "malformed", "the old key no longer verifies");
    // RFC 8555 §7.3.5: a key that belongs to another account → 409 with its URL.
    rolled.set_account_url(account_url.clone());
    let taken = other.key().clone();
    let inner = taken
        .sign_inner(
            &key_change,
            &json!({"account": account_url, "oldKey": new_key.public_jwk()}),
        )
        .unwrap();
    let (status, _) = problem(rolled.post(&key_change, Some(&inner)).await);
    assert_eq!(status, 409);
    world.shutdown().await;
}

#[tokio::test]
async fn revocation_by_account_and_by_certificate_key() {
    let world = world().await;
    let client = client(&world, "revoke").await;
    let revoke_url = client.directory().revoke_cert.clone();
    let first = flow::issue_dns01(&client, &world.dns, &["www.example.test"], WAIT)
        .await
        .unwrap();
    let der = pem_chain(&first.chain_pem).remove(0);
    let cert = b64url::encode(&der);
    let (_, kind) = problem(
        client
            .post(
                &revoke_url,
                Some(&json!({"certificate": cert, "reason": 7})),
            )
            .await,
    );
    assert_eq!(kind, "badRevocationReason");
    client
        .post(
            &revoke_url,
            Some(&json!({"certificate": cert, "reason": 1})),
        )
        .await
        .expect("revoked by the account");
    let (_, kind) = problem(
        client
            .post(&revoke_url, Some(&json!({"certificate": cert})))
            .await,
    );
    assert_eq!(kind, "alreadyRevoked");
    let serial = CertSummary::from_der(&der).unwrap().serial_hex;
    let status = world
        .ca
        .shared()
        .store()
        .certs_by_serial
        .contains_key(&serial.to_ascii_lowercase().replace(':', ""));
    assert!(status, "serial {serial} is indexed");
    // By the certificate's own key (jwk), for a second certificate.
    let second = flow::issue_dns01(&client, &world.dns, &["www.example.test"], WAIT)
        .await
        .unwrap();
    let cert_key = acmeproof_mocks::account_key::AccountKey::from_pem(&second.key_pem).unwrap();
    let by_cert_key = unregistered(&world, cert_key).await;
    let cert2 = b64url::encode(pem_chain(&second.chain_pem).remove(0));
    by_cert_key
        .post_with(
            &revoke_url,
            Some(&json!({"certificate": cert2})),
            SignWith::Jwk,
        )
        .await
        .expect("revoked by the certificate key");
    // Some other key cannot.
    let third = flow::issue_dns01(&client, &world.dns, &["www.example.test"], WAIT)
        .await
        .unwrap();
    let stranger = unregistered(&world, key(KeyAlg::Es256, "stranger")).await;
    let cert3 = b64url::encode(pem_chain(&third.chain_pem).remove(0));
    let (status, kind) = problem(
        stranger
            .post_with(
                &revoke_url,
                Some(&json!({"certificate": cert3})),
                SignWith::Jwk,
            )
            .await,
    );
    assert_eq!((status, kind.as_str()), (403, "unauthorized"));
    world.shutdown().await;
}

#[tokio::test]
async fn nonce_rejection_knob_is_retried_once_by_the_client() {
    let world = world().await;
    let client = client(&world, "nonce-knob").await;
    let mut knobs = world.ca.shared().knobs();
    knobs.nonce_reject_percent = 100;
    world.ca.shared().set_knobs(knobs);
    world.ca.shared().clear_history();
    let account = client.account_url().unwrap();
    let (status, kind) = problem(client.get(&account).await);
    assert_eq!((status, kind.as_str()), (400, "badNonce"));
    let history = world.ca.shared().history();
    let bad: Vec<_> = history
        .iter()
        .filter(|r| r.problem.as_deref() == Some("badNonce"))
        .collect();
    assert_eq!(bad.len(), 2, "one try and one retry (ACME-5): {history:?}");
    world.shutdown().await;
}

#[tokio::test]
async fn chaos_knob_answers_429_with_retry_after() {
    let world = world().await;
    let client = client(&world, "chaos").await;
    let knobs = world
        .ca
        .shared()
        .knobs()
        .merged(&json!({"chaos": {"new-order": {"rate_limited": 100, "retry_after_secs": 7}}}))
        .unwrap();
    world.ca.shared().set_knobs(knobs);
    let url = client.directory().new_order.clone();
    let answer = client
        .http()
        .post(&url)
        .header("content-type", "application/jose+json")
        .body("{}")
        .send()
        .await
        .unwrap();
    assert_eq!(answer.status().as_u16(), 429);
    assert_eq!(answer.headers()["retry-after"], "7");
    let doc: Value = answer.json().await.unwrap();
    assert_eq!(doc["type"], "urn:ietf:params:acme:error:rateLimited");
    world.shutdown().await;
}

#[tokio::test]
async fn advancing_the_clock_expires_a_pending_order() {
    let world = world().await;
    let client = client(&world, "expiry").await;
    let (order_url, order) = client
        .new_order(&[json!({"type": "dns", "value": "www.example.test"})])
        .await
        .unwrap();
    assert_eq!(order["status"], "pending");
    let lifetime = world.ca.shared().knobs().order_lifetime_secs;
    world
        .clock
        .advance(time::Duration::seconds(lifetime as i64 + 1));
    let order = client.get(&order_url).await.unwrap();
    assert_eq!(order["status"], "invalid", "{order}");
    let authz = client
        .get(order["authorizations"][0].as_str().unwrap())
        .await
        .unwrap();
    assert_eq!(authz["status"], "expired");
    world.shutdown().await;
}

#[tokio::test]
async fn email_identifiers_get_an_email_reply_challenge_that_waits_for_the_reply() {
    let world = world().await;
    let client = client(&world, "email").await;
    let (_, order) = client
        .new_order(&[json!({"type": "email", "value": "alice@example.test"})])
        .await
        .unwrap();
    let authz_url = order["authorizations"][0].as_str().unwrap();
    let authz = client.get(authz_url).await.unwrap();
    let challenge = &authz["challenges"][0];
    assert_eq!(challenge["type"], "email-reply-00");
    assert!(challenge["from"].as_str().unwrap().contains('@'));
    assert!(
        challenge["token"].as_str().unwrap().len() >= 22,
        "≥128 bits"
    );
    let after = client
        .respond(challenge["url"].as_str().unwrap())
        .await
        .unwrap();
    // RFC 8555 §7.5.1: the POST starts validation, which for RFC 8823 means waiting for the
    // reply mail.
    assert_eq!(after["status"], "processing");
    let (_, kind) = problem(
        client
            .new_order(&[
                json!({"type": "email", "value": "alice@example.test"}),
                json!({"type": "dns", "value": "www.example.test"}),
            ])
            .await,
    );
    assert_eq!(kind, "rejectedIdentifier");
    world.shutdown().await;
}

// --- The JWS negative matrix over HTTPS (issue acceptance: status, error URN, fresh nonce) ---

/// Probes with `fault` and checks the answer: status, problem type, a fresh nonce, and a
/// problem document's media type (RFC 7807) on every error.
async fn expect_probe(client: &acmeproof::acme::AcmeClient, fault: Fault, status: u16, kind: &str) {
    let r = probe(client, fault).await.unwrap();
    assert_eq!((r.status, r.problem.as_str()), (status, kind), "{fault:?}");
    assert!(r.nonce, "{fault:?}: every answer carries a fresh nonce");
    if status >= 400 {
        assert_eq!(
            r.content_type.as_deref(),
            Some("application/problem+json"),
            "{fault:?}"
        );
    }
}

#[tokio::test]
async fn jws_negative_matrix() {
    let world = world().await;
    let client = client(&world, "matrix").await;
    expect_probe(&client, Fault::None, 200, "").await;
    for (fault, status, kind) in [
        (Fault::ReusedNonce, 400, "badNonce"),
        (Fault::AlgNone, 400, "badSignatureAlgorithm"),
        (Fault::Hs256, 400, "badSignatureAlgorithm"),
        (Fault::JwkAndKid, 400, "malformed"),
        (Fault::UrlMismatch, 403, "unauthorized"),
        (Fault::UnknownNonce, 400, "badNonce"),
        (Fault::PaddedBase64, 400, "malformed"),
        (Fault::BadSignature, 400, "malformed"),
        // josekit alone accepts an unknown crit (see mocks' jws tests); the CA does not.
        (Fault::UnknownCrit, 400, "malformed"),
        // ACME-6 and ACME-14.
        (Fault::WrongContentType, 415, "malformed"),
        (Fault::GetOnPostResource, 405, "malformed"),
    ] {
        expect_probe(&client, fault, status, kind).await;
    }
    world.shutdown().await;
}

#[tokio::test]
async fn garbage_huge_and_truncated_bodies_get_problem_documents_and_the_ca_keeps_serving() {
    let world = world().await;
    let client = client(&world, "garbage").await;
    for (fault, status) in [
        (Fault::Garbage, 400),
        (Fault::Empty, 400),
        (Fault::Truncated, 400),
        (Fault::Huge, 413),
    ] {
        expect_probe(&client, fault, status, "malformed").await;
    }
    let jose = "application/jose+json";
    for url in [
        client.directory().new_order.clone(),
        format!(
            "{}/acme/nowhere",
            world.ca.directory_url().trim_end_matches("/directory")
        ),
    ] {
        let answer = client
            .http()
            .post(&url)
            .header("content-type", jose)
            .body("{")
            .send()
            .await
            .unwrap();
        let status = answer.status().as_u16();
        let doc: Value = answer.json().await.unwrap_or(Value::Null);
        assert!(
            status >= 400 && doc["type"].is_string(),
            "{url}: {status} {doc}"
        );
    }
    // Still serving: a full issuance works.
    flow::issue_dns01(&client, &world.dns, &["www.example.test"], WAIT)
        .await
        .expect("the CA survived");
    world.shutdown().await;
}

#[tokio::test]
async fn new_nonce_directory_and_index_links() {
    let world = world().await;
    let client = client(&world, "nonce").await;
    let http = client.http();
    let url = client.directory().new_nonce.clone();
    let head = http.head(&url).send().await.unwrap();
    assert_eq!(head.status().as_u16(), 200);
    let get = http.get(&url).send().await.unwrap();
    assert_eq!(get.status().as_u16(), 204);
    for answer in [&head, &get] {
        assert!(answer.headers().contains_key("replay-nonce"));
        assert_eq!(answer.headers()["cache-control"], "no-store");
        let link = answer.headers()["link"].to_str().unwrap();
        assert!(link.contains("rel=\"index\""), "{link}");
    }
    let dir: Value = http
        .get(world.ca.directory_url())
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert!(
        dir.get("newAuthz").is_none(),
        "no pre-authorization (ACME-1)"
    );
    assert!(dir["meta"]["termsOfService"].is_string());
    world.shutdown().await;
}
