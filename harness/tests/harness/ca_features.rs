//! The CA next to Pebble and beyond (issue 17): revocation through authorizations, badCSR for a
//! refused CSR key, `status` in embedded problems, ES512 accounts, tls-alpn-01, the order list
//! without invalid orders, ARI (RFC 9773) and the CRL. Each check is shown refusing what it
//! must refuse and accepting what it must accept.

use acmeproof::acme::alpn::AlpnResponder;
use acmeproof::acme::flow::{self, Proof};
use acmeproof::acme::{AcmeClient, AcmeError};
use acmeproof_mocks::account_key::KeyAlg;
use acmeproof_mocks::world::World;
use acmeproof_protocol::b64url;
use serde_json::{Value, json};

use crate::support::*;

fn problem(result: Result<impl std::fmt::Debug, AcmeError>) -> (u16, String, Value) {
    match result {
        Err(AcmeError::Problem {
            status,
            kind,
            document,
            ..
        }) => (status, kind, document),
        other => panic!("expected a problem document, got {other:?}"),
    }
}

fn leaf_b64(issued: &flow::Issued) -> String {
    b64url::encode(pem_chain(&issued.chain_pem).remove(0))
}

async fn revoke(client: &AcmeClient, cert: &str) -> Result<acmeproof::acme::Response, AcmeError> {
    let url = client.directory().revoke_cert.clone();
    client
        .post(&url, Some(&json!({ "certificate": cert })))
        .await
}

/// Valid authorizations for `names` in `client`'s account, without a certificate; returns the
/// order, ready.
async fn authorize(world: &World, client: &AcmeClient, names: &[&str]) -> (String, Value) {
    let identifiers: Vec<Value> = names
        .iter()
        .map(|n| json!({"type": "dns", "value": n}))
        .collect();
    let (order_url, order) = client.new_order(&identifiers).await.expect("order");
    for authz_url in order["authorizations"].as_array().expect("authzs") {
        let authz_url = authz_url.as_str().expect("url");
        let authz = client.get(authz_url).await.expect("authz");
        let challenge = authz["challenges"]
            .as_array()
            .expect("challenges")
            .iter()
            .find(|c| c["type"] == "dns-01")
            .expect("dns-01")
            .clone();
        let domain = authz["identifier"]["value"].as_str().expect("name");
        let value = acmeproof_protocol::keyauth::dns01_txt_value(
            challenge["token"].as_str().expect("token"),
            &client.key().thumbprint(),
        );
        world
            .dns
            .set_txt(&format!("_acme-challenge.{domain}"), vec![value])
            .await
            .expect("txt");
        client
            .respond(challenge["url"].as_str().expect("url"))
            .await
            .expect("respond");
        let done = client
            .poll(authz_url, &["pending"], WAIT)
            .await
            .expect("poll");
        assert_eq!(done["status"], "valid", "{done}");
    }
    let order = client.poll(&order_url, &["pending"], WAIT).await.unwrap();
    assert_eq!(order["status"], "ready");
    (order_url, order)
}

#[tokio::test]
async fn another_account_revokes_through_authorizations_for_every_name() {
    let world = world().await;
    let owner = client(&world, "owner").await;
    let issued = flow::issue_dns01(
        &owner,
        &world.dns,
        &["a.example.test", "b.example.test"],
        WAIT,
    )
    .await
    .expect("issued");
    let cert = leaf_b64(&issued);
    // An account with no authorization, or with one for only one of the names, is refused.
    let other = client(&world, "other").await;
    let (status, kind, doc) = problem(revoke(&other, &cert).await);
    assert_eq!((status, kind.as_str()), (403, "unauthorized"), "{doc}");
    authorize(&world, &other, &["a.example.test"]).await;
    let (status, kind, _) = problem(revoke(&other, &cert).await);
    assert_eq!((status, kind.as_str()), (403, "unauthorized"));
    // With valid authorizations for both names it may revoke (RFC 8555 §7.6, ACME-35).
    authorize(&world, &other, &["b.example.test"]).await;
    let answer = revoke(&other, &cert).await.expect("revoked");
    assert_eq!(answer.status, 200);
    let (_, kind, _) = problem(revoke(&owner, &cert).await);
    assert_eq!(kind, "alreadyRevoked");
    // Authorizations that expired no longer count.
    let again = flow::issue_dns01(&owner, &world.dns, &["a.example.test"], WAIT)
        .await
        .expect("issued");
    world.clock.advance(time::Duration::days(8));
    let (status, kind, _) = problem(revoke(&other, &leaf_b64(&again)).await);
    assert_eq!((status, kind.as_str()), (403, "unauthorized"));
    world.shutdown().await;
}

#[tokio::test]
async fn a_wildcard_certificate_needs_a_wildcard_authorization_to_be_revoked() {
    let world = world().await;
    let owner = client(&world, "wild-owner").await;
    let issued = flow::issue_dns01(&owner, &world.dns, &["*.example.test"], WAIT)
        .await
        .expect("issued");
    let cert = leaf_b64(&issued);
    let other = client(&world, "wild-other").await;
    // example.test itself does not cover *.example.test.
    authorize(&world, &other, &["example.test"]).await;
    let (status, kind, _) = problem(revoke(&other, &cert).await);
    assert_eq!((status, kind.as_str()), (403, "unauthorized"));
    authorize(&world, &other, &["*.example.test"]).await;
    revoke(&other, &cert).await.expect("revoked");
    world.shutdown().await;
}

#[tokio::test]
async fn a_csr_with_a_refused_key_is_bad_csr_and_the_order_stays_ready() {
    let world = world().await;
    let client = client(&world, "csr-key").await;
    let (order_url, order) = authorize(&world, &client, &["www.example.test"]).await;
    // RSA-1024, made by OpenSSL (ring cannot make RSA keys), in a CSR for the right name.
    let pkey = openssl::pkey::PKey::from_rsa(openssl::rsa::Rsa::generate(1024).unwrap()).unwrap();
    let mut name = openssl::x509::X509NameBuilder::new().unwrap();
    name.append_entry_by_text("CN", "www.example.test").unwrap();
    let mut req = openssl::x509::X509ReqBuilder::new().unwrap();
    req.set_subject_name(&name.build()).unwrap();
    req.set_pubkey(&pkey).unwrap();
    req.sign(&pkey, openssl::hash::MessageDigest::sha256())
        .unwrap();
    let csr = req.build().to_der().unwrap();
    let (status, kind, doc) = problem(
        client
            .finalize(order["finalize"].as_str().expect("finalize"), &csr)
            .await,
    );
    assert_eq!((status, kind.as_str()), (400, "badCSR"), "{doc}");
    assert!(doc["detail"].as_str().unwrap().contains("1024"), "{doc}");
    assert_eq!(client.get(&order_url).await.unwrap()["status"], "ready");
    world.shutdown().await;
}

#[tokio::test]
async fn problems_inside_challenges_and_orders_carry_status() {
    let world = world().await;
    let client = client(&world, "status").await;
    let (order_url, order) = client
        .new_order(&[json!({"type": "dns", "value": "nothing.example.test"})])
        .await
        .expect("order");
    let authz_url = order["authorizations"][0].as_str().unwrap();
    let authz = client.get(authz_url).await.unwrap();
    let dns01 = authz["challenges"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["type"] == "dns-01")
        .unwrap()
        .clone();
    // A TXT record with another value: the validation fails with incorrectResponse (403).
    world
        .dns
        .set_txt("_acme-challenge.nothing.example.test", vec!["wrong".into()])
        .await
        .unwrap();
    client
        .respond(dns01["url"].as_str().unwrap())
        .await
        .unwrap();
    let authz = client.poll(authz_url, &["pending"], WAIT).await.unwrap();
    let failed = authz["challenges"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["type"] == "dns-01")
        .unwrap()
        .clone();
    assert_eq!(
        failed["error"]["type"],
        "urn:ietf:params:acme:error:incorrectResponse"
    );
    assert_eq!(failed["error"]["status"], 403, "{failed}");
    let order = client.get(&order_url).await.unwrap();
    assert_eq!(order["status"], "invalid");
    assert_eq!(order["error"]["status"], 403, "{order}");
    world.shutdown().await;
}

#[tokio::test]
async fn the_order_list_leaves_invalid_orders_out() {
    let world = world().await;
    let client = client(&world, "orders-list").await;
    let (kept, _) = client
        .new_order(&[json!({"type": "dns", "value": "kept.example.test"})])
        .await
        .unwrap();
    let (dropped, order) = client
        .new_order(&[json!({"type": "dns", "value": "dropped.example.test"})])
        .await
        .unwrap();
    let list_url = client.get(&client.account_url().unwrap()).await.unwrap()["orders"]
        .as_str()
        .unwrap()
        .to_owned();
    let listed = |v: Value| -> Vec<String> {
        v["orders"]
            .as_array()
            .unwrap()
            .iter()
            .map(|o| o.as_str().unwrap().to_owned())
            .collect()
    };
    assert_eq!(
        listed(client.get(&list_url).await.unwrap()),
        [kept.clone(), dropped.clone()],
        "pending orders are listed"
    );
    // Deactivating its authorization makes the second order invalid.
    client
        .post(
            order["authorizations"][0].as_str().unwrap(),
            Some(&json!({"status": "deactivated"})),
        )
        .await
        .unwrap();
    assert_eq!(client.get(&dropped).await.unwrap()["status"], "invalid");
    assert_eq!(
        listed(client.get(&list_url).await.unwrap()),
        std::slice::from_ref(&kept)
    );
    // An order that expires is invalid too.
    world.clock.advance(time::Duration::days(8));
    assert!(listed(client.get(&list_url).await.unwrap()).is_empty());
    world.shutdown().await;
}

#[tokio::test]
async fn an_es512_account_registers_orders_and_is_issued_a_certificate() {
    let world = world().await;
    let client = unregistered(&world, key(KeyAlg::Es512, "p521")).await;
    assert_eq!(client.key().alg(), "ES512");
    client
        .new_account(&[])
        .await
        .expect("newAccount with ES512");
    let issued = flow::issue_dns01(&client, &world.dns, &["p521.example.test"], WAIT)
        .await
        .expect("issued");
    assert_eq!(pem_chain(&issued.chain_pem).len(), 2);
    // The registered key is the P-521 JWK.
    let account = client.get(&client.account_url().unwrap()).await.unwrap();
    assert_eq!(account["key"]["crv"], "P-521");
    world.shutdown().await;
}

/// A world whose CA connects tls-alpn-01 to `responder`.
fn point_alpn_at(world: &World, responder: &AlpnResponder) {
    let shared = world.ca.shared();
    let mut knobs = shared.knobs();
    knobs.tls_alpn01_port = responder.port();
    shared.set_knobs(knobs);
}

#[tokio::test]
async fn tls_alpn_01_issues_through_the_reference_responder() {
    let world = world().await;
    let responder = AlpnResponder::start().await.expect("responder");
    point_alpn_at(&world, &responder);
    let client = client(&world, "alpn").await;
    let issued = flow::issue(
        &client,
        &["www.example.test"],
        Proof::TlsAlpn01(&responder),
        &Value::Null,
        WAIT,
    )
    .await
    .expect("issued by tls-alpn-01");
    assert_eq!(pem_chain(&issued.chain_pem).len(), 2);
    world.shutdown().await;
}

/// The authorization's tls-alpn-01 challenge after the CA tried it.
async fn alpn_attempt(client: &AcmeClient, serve: impl FnOnce(&str, &str)) -> Value {
    let (_, order) = client
        .new_order(&[json!({"type": "dns", "value": "www.example.test"})])
        .await
        .unwrap();
    let authz_url = order["authorizations"][0].as_str().unwrap().to_owned();
    let authz = client.get(&authz_url).await.unwrap();
    let challenge = authz["challenges"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["type"] == "tls-alpn-01")
        .expect("tls-alpn-01 offered for a plain name")
        .clone();
    serve("www.example.test", challenge["token"].as_str().unwrap());
    client
        .respond(challenge["url"].as_str().unwrap())
        .await
        .unwrap();
    let authz = client.poll(&authz_url, &["pending"], WAIT).await.unwrap();
    authz["challenges"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["type"] == "tls-alpn-01")
        .unwrap()
        .clone()
}

#[tokio::test]
async fn tls_alpn_01_refuses_another_keys_digest_and_a_server_without_acme_tls() {
    let world = world().await;
    let responder = AlpnResponder::start().await.expect("responder");
    point_alpn_at(&world, &responder);
    let client = client(&world, "alpn-bad").await;
    // The digest of another account key's key authorization.
    let failed = alpn_attempt(&client, |name, token| {
        responder.serve(name, token, "not-the-thumbprint").unwrap()
    })
    .await;
    assert_eq!(failed["status"], "invalid");
    assert_eq!(
        failed["error"]["type"], "urn:ietf:params:acme:error:incorrectResponse",
        "{failed}"
    );
    assert!(
        failed["error"]["detail"]
            .as_str()
            .unwrap()
            .contains("acmeIdentifier"),
        "{failed}"
    );
    // The world's own HTTPS server (the CA) does not speak acme-tls/1: the handshake fails.
    let mut knobs = world.ca.shared().knobs();
    knobs.tls_alpn01_port = world.ca.addr().port();
    world.ca.shared().set_knobs(knobs);
    let failed = alpn_attempt(&client, |_, _| {}).await;
    assert_eq!(failed["status"], "invalid");
    assert_eq!(
        failed["error"]["type"], "urn:ietf:params:acme:error:tls",
        "{failed}"
    );
    // Wildcards get no tls-alpn-01 challenge.
    let (_, order) = client
        .new_order(&[json!({"type": "dns", "value": "*.example.test"})])
        .await
        .unwrap();
    let authz = client
        .get(order["authorizations"][0].as_str().unwrap())
        .await
        .unwrap();
    let types: Vec<&str> = authz["challenges"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["type"].as_str().unwrap())
        .collect();
    assert_eq!(types, ["dns-01"]);
    world.shutdown().await;
}

/// RFC 9773 §4.1: the certificate identifier of a DER certificate, built independently of the
/// CA (x509-parser reads the AKI and the serial's DER content octets).
fn cert_id(der: &[u8]) -> String {
    use x509_parser::prelude::{FromDer, ParsedExtension, X509Certificate};
    let (_, cert) = X509Certificate::from_der(der).expect("a certificate");
    let aki = cert
        .extensions()
        .iter()
        .find_map(|e| match e.parsed_extension() {
            ParsedExtension::AuthorityKeyIdentifier(a) => a.key_identifier.as_ref(),
            _ => None,
        })
        .expect("an AKI keyIdentifier");
    format!(
        "{}.{}",
        b64url::encode(aki.0),
        b64url::encode(cert.raw_serial())
    )
}

/// GET renewalInfo/`id`: status, Retry-After, body.
async fn renewal_info(client: &AcmeClient, base: &str, id: &str) -> (u16, Option<u64>, Value) {
    let answer = client
        .http()
        .get(format!("{base}/{id}"))
        .send()
        .await
        .expect("an answer");
    let status = answer.status().as_u16();
    let retry_after = answer
        .headers()
        .get("retry-after")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse().ok());
    (
        status,
        retry_after,
        answer.json().await.unwrap_or(Value::Null),
    )
}

fn rfc3339(v: &Value) -> time::OffsetDateTime {
    time::OffsetDateTime::parse(
        v.as_str().expect("a time"),
        &time::format_description::well_known::Rfc3339,
    )
    .expect("RFC 3339")
}

#[tokio::test]
async fn renewal_info_suggests_a_window_in_world_time_and_now_for_a_revoked_certificate() {
    let world = world().await;
    let client = client(&world, "ari").await;
    let directory: Value = client
        .http()
        .get(world.ca.directory_url())
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let base = directory["renewalInfo"]
        .as_str()
        .expect("renewalInfo in the directory (ACME-40)")
        .to_owned();
    let issued = flow::issue_dns01(&client, &world.dns, &["ari.example.test"], WAIT)
        .await
        .expect("issued");
    let der = pem_chain(&issued.chain_pem).remove(0);
    let id = cert_id(&der);
    let (status, retry_after, info) = renewal_info(&client, &base, &id).await;
    assert_eq!(status, 200, "{info}");
    assert_eq!(retry_after, Some(6 * 3600));
    let (start, end) = (
        rfc3339(&info["suggestedWindow"]["start"]),
        rfc3339(&info["suggestedWindow"]["end"]),
    );
    // 90-day validity: days 60 to 75 after notBefore (notBefore is backdated).
    let summary = acmeproof_protocol::pki::CertSummary::from_der(&der).unwrap();
    let validity = summary.not_after - summary.not_before;
    assert_eq!(start, summary.not_after - validity / 3);
    assert_eq!(end, summary.not_after - validity / 6);
    assert!(start > world.clock.now() && start < end);
    // Malformed and unknown identifiers, and a POST.
    let serial_only = id.split('.').nth(1).unwrap().to_owned();
    for (bad, want) in [
        (serial_only.clone(), 400),
        (format!("{serial_only}.AQID"), 404),
        (format!("{}=", id), 400),
    ] {
        let (status, _, doc) = renewal_info(&client, &base, &bad).await;
        assert_eq!(status, want, "{bad}: {doc}");
        assert_eq!(doc["type"], "urn:ietf:params:acme:error:malformed", "{bad}");
    }
    let post = client
        .http()
        .post(format!("{base}/{id}"))
        .send()
        .await
        .unwrap();
    assert_eq!(post.status().as_u16(), 405);
    // Revoked: the window has begun.
    revoke(&client, &b64url::encode(&der))
        .await
        .expect("revoked");
    let (_, _, info) = renewal_info(&client, &base, &id).await;
    let now = world.clock.now();
    assert!(rfc3339(&info["suggestedWindow"]["start"]) < now, "{info}");
    assert!(rfc3339(&info["suggestedWindow"]["end"]) <= now, "{info}");
    world.shutdown().await;
}

#[tokio::test]
async fn an_order_replaces_one_certificate_of_its_account_once() {
    let world = world().await;
    let client = client(&world, "replaces").await;
    let issued = flow::issue_dns01(&client, &world.dns, &["old.example.test"], WAIT)
        .await
        .expect("issued");
    let id = cert_id(&pem_chain(&issued.chain_pem)[0]);
    let order = |replaces: &str, name: &str| {
        json!({
            "identifiers": [{"type": "dns", "value": name}],
            "replaces": replaces,
        })
    };
    // Another account may not replace it, nor may an order sharing no name, nor a bad id.
    let other = crate::support::client(&world, "replaces-other").await;
    let (status, kind, doc) = problem(
        other
            .new_order_with(&order(&id, "old.example.test"), &Default::default())
            .await,
    );
    assert_eq!((status, kind.as_str()), (400, "malformed"), "{doc}");
    for (replaces, name) in [
        (id.as_str(), "new.example.test"),
        ("AQID", "old.example.test"),
    ] {
        let (status, kind, doc) = problem(
            client
                .new_order_with(&order(replaces, name), &Default::default())
                .await,
        );
        assert_eq!((status, kind.as_str()), (400, "malformed"), "{doc}");
    }
    // The renewal: the order says what it replaces (ACME-41) and is issued.
    let renewed = flow::issue(
        &client,
        &["old.example.test"],
        Proof::Dns01(&world.dns),
        &json!({ "replaces": id }),
        WAIT,
    )
    .await
    .expect("renewed");
    assert_eq!(
        client.get(&renewed.order_url).await.unwrap()["replaces"],
        id
    );
    // A second replacement of the same certificate is 409 alreadyReplaced.
    let (status, kind, doc) = problem(
        client
            .new_order_with(&order(&id, "old.example.test"), &Default::default())
            .await,
    );
    assert_eq!((status, kind.as_str()), (409, "alreadyReplaced"), "{doc}");
    world.shutdown().await;
}

/// GET the CA's CRL: status, content type, DER.
async fn fetch_crl(client: &AcmeClient, url: &str) -> (u16, String, Vec<u8>) {
    let answer = client.http().get(url).send().await.expect("an answer");
    let status = answer.status().as_u16();
    let content_type = answer
        .headers()
        .get("content-type")
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
        .to_owned();
    (status, content_type, answer.bytes().await.unwrap().to_vec())
}

/// The CRL's number, its entries as (serial hex, reason), after checking its signature and
/// issuer against `intermediate` with x509-parser.
fn read_crl(der: &[u8], intermediate: &[u8]) -> (u64, Vec<(String, Option<u8>)>) {
    use x509_parser::prelude::{CertificateRevocationList, FromDer, X509Certificate};
    let (_, issuer) = X509Certificate::from_der(intermediate).unwrap();
    let (rest, crl) = CertificateRevocationList::from_der(der).expect("a DER CRL");
    assert!(rest.is_empty());
    crl.verify_signature(issuer.public_key())
        .expect("signed by the intermediate");
    assert_eq!(crl.issuer(), issuer.subject());
    let next = crl.next_update().expect("nextUpdate").timestamp();
    assert!(next > crl.last_update().timestamp());
    let number = crl
        .crl_number()
        .and_then(|n| n.to_u64_digits().first().copied())
        .unwrap_or(0);
    let entries = crl
        .iter_revoked_certificates()
        .map(|r| {
            let serial: String = r.raw_serial().iter().map(|b| format!("{b:02x}")).collect();
            (serial, r.reason_code().map(|(_, c)| c.0))
        })
        .collect();
    (number, entries)
}

#[tokio::test]
async fn certificates_name_the_crl_that_lists_them_once_revoked() {
    use x509_parser::prelude::{DistributionPointName, FromDer, GeneralName, ParsedExtension};
    let world = world().await;
    let client = client(&world, "crl").await;
    let kept = flow::issue_dns01(&client, &world.dns, &["kept.example.test"], WAIT)
        .await
        .expect("issued");
    let gone = flow::issue_dns01(&client, &world.dns, &["gone.example.test"], WAIT)
        .await
        .expect("issued");
    let chain = pem_chain(&gone.chain_pem);
    let (leaf, intermediate) = (&chain[0], &chain[1]);
    // The CRL distribution point (RFC 5280 §4.2.1.13): one URI, this CA's /crl.
    let (_, cert) = x509_parser::prelude::X509Certificate::from_der(leaf).unwrap();
    let uris: Vec<String> = cert
        .extensions()
        .iter()
        .filter_map(|e| match e.parsed_extension() {
            ParsedExtension::CRLDistributionPoints(points) => Some(points),
            _ => None,
        })
        .flat_map(|points| points.iter())
        .filter_map(|p| match &p.distribution_point {
            Some(DistributionPointName::FullName(names)) => Some(names),
            _ => None,
        })
        .flatten()
        .filter_map(|n| match n {
            GeneralName::URI(uri) => Some((*uri).to_owned()),
            _ => None,
        })
        .collect();
    let crl_url = world.ca.directory_url().replace("/directory", "/crl");
    assert_eq!(uris, std::slice::from_ref(&crl_url));
    // Nothing revoked: an empty, signed CRL.
    let (status, content_type, der) = fetch_crl(&client, &crl_url).await;
    assert_eq!(
        (status, content_type.as_str()),
        (200, "application/pkix-crl")
    );
    let (first, entries) = read_crl(&der, intermediate);
    assert!(entries.is_empty(), "{entries:?}");
    // Revoked with reason 4 (superseded): listed with its reason; the other is not listed.
    let url = client.directory().revoke_cert.clone();
    client
        .post(
            &url,
            Some(&json!({ "certificate": b64url::encode(leaf), "reason": 4 })),
        )
        .await
        .expect("revoked");
    let (_, _, der) = fetch_crl(&client, &crl_url).await;
    let (second, entries) = read_crl(&der, intermediate);
    assert!(
        second > first,
        "CRL numbers increase: {first} then {second}"
    );
    let serial = |pem: &str| {
        acmeproof_protocol::pki::CertSummary::from_der(&pem_chain(pem)[0])
            .unwrap()
            .serial_hex
    };
    assert_eq!(entries, [(serial(&gone.chain_pem), Some(4))]);
    assert!(!entries.iter().any(|(s, _)| *s == serial(&kept.chain_pem)));
    // openssl agrees, when installed.
    if let Some(openssl) = acmeproof_testkit::require_tool("openssl") {
        let dir = std::env::temp_dir().join(format!("acmeproof-crl-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::write(dir.join("crl.der"), &der).unwrap();
        let inter_pem = gone
            .chain_pem
            .split_inclusive("-----END CERTIFICATE-----\n")
            .nth(1);
        std::fs::write(dir.join("ca.pem"), inter_pem.expect("intermediate PEM")).unwrap();
        let output = std::process::Command::new(openssl)
            .args(["crl", "-inform", "DER", "-in"])
            .arg(dir.join("crl.der"))
            .arg("-CAfile")
            .arg(dir.join("ca.pem"))
            .args(["-noout", "-text"])
            .output()
            .unwrap();
        let _ = std::fs::remove_dir_all(&dir);
        let text = format!(
            "{}{}",
            String::from_utf8_lossy(&output.stdout),
            String::from_utf8_lossy(&output.stderr)
        );
        assert!(output.status.success(), "{text}");
        assert!(text.contains("verify OK"), "{text}");
        assert!(
            text.to_ascii_lowercase()
                .contains(&serial(&gone.chain_pem).to_ascii_lowercase()),
            "{text}"
        );
        assert!(text.contains("Superseded"), "{text}");
    }
    world.shutdown().await;
}
