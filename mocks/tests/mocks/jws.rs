//! The CA's JWS request authenticator (`ca::jws`) against requests made by the client signer
//! (`account_key`), at the function level: the negative matrix of RFC 8555 §6.2–§6.5, the
//! round trips for every supported algorithm, the RFC 7515 A.3 vector, EAB (§7.3.4) and
//! keyChange (§7.3.5). The HTTP-level matrix belongs to the CA's own tests.

// The helpers return `Problem` by value, as the API under test does.
#![allow(clippy::result_large_err)]

use acmeproof_mocks::account_key::{AccountKey, KeyAlg, SignWith, mac_sign_eab};
use acmeproof_mocks::ca::jws::{
    FlattenedJws, KeyRef, MAX_BODY_BYTES, ParsedJws, Payload, check_content_type, check_public_key,
    parse, supported_algorithms, verify_external_account_binding, verify_key_change,
};
use acmeproof_mocks::ca::problem::{Problem, ProblemType};
use acmeproof_mocks::protocol::b64url;
use acmeproof_mocks::seed::Seed;
use josekit::jws::{HS256, HS384, HS512, JwsSigner as _};
use proptest::prelude::*;
use serde_json::{Map, Value, json};

const URL: &str = "https://ca.test/acme/new-order";
const ACCOUNT: &str = "https://ca.test/acme/acct/1";
const KEY_CHANGE: &str = "https://ca.test/acme/key-change";
const NEW_ACCOUNT: &str = "https://ca.test/acme/new-account";
const NONCE: &str = "bm9uY2UtMQ";

fn key(alg: KeyAlg, label: &str) -> AccountKey {
    AccountKey::generate(alg, &Seed(42).stream(label)).expect("key")
}

fn es256() -> AccountKey {
    key(KeyAlg::Es256, "es256")
}

fn bytes(v: &Value) -> Vec<u8> {
    serde_json::to_vec(v).expect("json")
}

fn obj(v: Value) -> Map<String, Value> {
    match v {
        Value::Object(m) => m,
        _ => panic!("not an object"),
    }
}

fn b64_json(v: &Value) -> String {
    b64url::encode(bytes(v))
}

#[track_caller]
fn expect_problem<T: std::fmt::Debug>(r: Result<T, Problem>, kind: ProblemType, status: u16) {
    match r {
        Err(p) => assert_eq!((p.kind, p.status), (kind, status), "{p}"),
        Ok(v) => panic!("expected {kind:?} {status}, got Ok({v:?})"),
    }
}

/// Like [`expect_problem`], and the detail names the check that fired.
#[track_caller]
fn expect_detail<T: std::fmt::Debug>(
    r: Result<T, Problem>,
    kind: ProblemType,
    status: u16,
    needle: &str,
) {
    match r {
        Err(p) => {
            assert_eq!((p.kind, p.status), (kind, status), "{p}");
            assert!(
                p.detail.contains(needle),
                "{needle:?} not in {:?}",
                p.detail
            );
        }
        Ok(v) => panic!("expected {kind:?} {status}, got Ok({v:?})"),
    }
}

/// Everything the CA does with a JWS for a `jwk`-signed request or a `kid` one whose stored key
/// is `account_jwk`.
fn authenticate(body: &[u8], url: &str, account_jwk: &Value) -> Result<ParsedJws, Problem> {
    check_content_type(Some("application/jose+json"))?;
    let req = parse(body)?;
    req.check_url(url)?;
    let jwk = match req.key() {
        KeyRef::Jwk(jwk) => jwk.clone(),
        KeyRef::Kid(_) => account_jwk.clone(),
    };
    check_public_key(&jwk, req.alg())?;
    req.verify(&jwk)?;
    Ok(req)
}

fn good_kid_request(k: &AccountKey) -> Value {
    k.sign_request(
        SignWith::Kid(ACCOUNT.into()),
        NONCE,
        URL,
        Some(&json!({"identifiers": [{"type": "email", "value": "a@example.com"}]})),
    )
    .expect("sign")
}

fn header(alg: &str) -> Map<String, Value> {
    obj(json!({"alg": alg, "kid": ACCOUNT, "nonce": NONCE, "url": URL}))
}

// ---------------------------------------------------------------------------------------------
// Positive: round trips

#[test]
fn every_algorithm_round_trips_post_as_get_and_json() {
    for alg in [
        KeyAlg::Es256,
        KeyAlg::Es384,
        KeyAlg::Es512,
        KeyAlg::Rs256,
        KeyAlg::EdDsa,
    ] {
        let k = key(alg, alg.name());
        for payload in [None, Some(json!({"termsOfServiceAgreed": true}))] {
            for with in [SignWith::Jwk, SignWith::Kid(ACCOUNT.into())] {
                let body = k
                    .sign_request(with.clone(), NONCE, URL, payload.as_ref())
                    .expect("sign");
                let req = authenticate(&bytes(&body), URL, &k.public_jwk())
                    .unwrap_or_else(|p| panic!("{alg:?} {with:?}: {p}"));
                assert_eq!(req.alg(), alg.name());
                assert_eq!(req.nonce(), NONCE);
                assert_eq!(req.url(), URL);
                match (&with, req.key()) {
                    (SignWith::Jwk, KeyRef::Jwk(j)) => assert_eq!(j, &k.public_jwk()),
                    (SignWith::Kid(a), KeyRef::Kid(b)) => assert_eq!(a, b),
                    other => panic!("key ref {other:?}"),
                }
                match (&payload, req.payload()) {
                    (None, Payload::PostAsGet) => assert_eq!(body["payload"], ""),
                    (Some(p), Payload::Json(q)) => assert_eq!(p, q),
                    other => panic!("payload {other:?}"),
                }
                // The protected header is exactly {alg, jwk|kid, nonce, url}: no stray kid
                // from josekit, nonce not re-encoded.
                let keys: Vec<&str> = req.protected().keys().map(String::as_str).collect();
                let member = if matches!(with, SignWith::Jwk) {
                    "jwk"
                } else {
                    "kid"
                };
                assert_eq!(keys, ["alg", member, "nonce", "url"]);
                assert_eq!(req.jws().to_json(), body);
            }
        }
    }
}

#[test]
fn rfc7515_a3_es256_vector_verifies_at_the_flattened_layer() {
    let text = include_str!("../../../fixtures/keys/rfc7515-a3-p256.jwk");
    let jwk: Value = serde_json::from_str(text).expect("fixture");
    let compact = "eyJhbGciOiJFUzI1NiJ9.eyJpc3MiOiJqb2UiLA0KICJleHAiOjEzMDA4MTkzODAsDQogImh0dHA6Ly9leGFtcGxlLmNvbS9pc19yb290Ijp0cnVlfQ.DtEhU3ljbEg8L38VWAfUAqOyKAM6-Xx-F4GawxaepmXFCgfTjDxw5djxLa8ISlSApmWQxfKTUJqPP3-Kg6NU1Q";
    let parts: Vec<&str> = compact.split('.').collect();
    let flattened = json!({"protected": parts[0], "payload": parts[1], "signature": parts[2]});
    let jws = FlattenedJws::from_value(&flattened).expect("structure");
    assert_eq!(jws.alg(), "ES256");
    // The fixture JWK holds `d`: verify uses the public members only.
    assert_eq!(jws.verify(&jwk), Ok(()));
    // It is no ACME request (no nonce, url, jwk/kid), so the request layer refuses it.
    assert!(ParsedJws::from_value(&flattened).is_err());
    // And the vector's signature is really checked.
    let mut sig = b64url::decode_strict(parts[2]).expect("sig");
    sig[10] ^= 1;
    let tampered =
        json!({"protected": parts[0], "payload": parts[1], "signature": b64url::encode(&sig)});
    let p = FlattenedJws::from_value(&tampered)
        .expect("structure")
        .verify(&jwk)
        .unwrap_err();
    assert_eq!(p.kind, ProblemType::Malformed);
    assert_eq!(p.detail, "JWS signature does not verify");
}

#[test]
fn seeded_keys_are_reproducible() {
    for alg in [KeyAlg::Es256, KeyAlg::Es384, KeyAlg::EdDsa] {
        let a = AccountKey::generate(alg, &Seed(5).stream("acct"))
            .expect("a")
            .public_jwk();
        let b = AccountKey::generate(alg, &Seed(5).stream("acct"))
            .expect("b")
            .public_jwk();
        let c = AccountKey::generate(alg, &Seed(6).stream("acct"))
            .expect("c")
            .public_jwk();
        assert_eq!(a, b);
        assert_ne!(a, c);
        assert_eq!(check_public_key(&a, alg.name()), Ok(()));
    }
}

#[test]
fn fixture_pem_keys_load_and_sign() {
    for (file, alg) in [
        ("rfc7515-a3-p256.pkcs8.pem", "ES256"),
        ("rfc7515-a3-p256.sec1.pem", "ES256"),
        ("rfc8037-ed25519.pkcs8.pem", "EdDSA"),
    ] {
        let path = format!("{}/../fixtures/keys/{file}", env!("CARGO_MANIFEST_DIR"));
        let pem = std::fs::read_to_string(&path).expect("fixture");
        let k = AccountKey::from_pem(&pem).expect(file);
        assert_eq!(k.alg(), alg);
        let body = k
            .sign_request(SignWith::Jwk, NONCE, URL, None)
            .expect("sign");
        assert!(
            authenticate(&bytes(&body), URL, &Value::Null).is_ok(),
            "{file}"
        );
    }
    // The RFC 8037 A.1 key has the RFC 8037 A.3 thumbprint.
    let path = format!(
        "{}/../fixtures/keys/rfc8037-ed25519.pkcs8.pem",
        env!("CARGO_MANIFEST_DIR")
    );
    let k = AccountKey::from_pem(&std::fs::read_to_string(path).expect("fixture")).expect("key");
    assert_eq!(
        k.thumbprint(),
        "kPrK_qmxVWaYVA9wwBF6Iuo3vVzz7TxHCTwXBygrS4k"
    );
}

// ---------------------------------------------------------------------------------------------
// Negative matrix (each with its passing twin)

#[test]
fn content_type_other_than_jose_json_is_415() {
    assert_eq!(check_content_type(Some("application/jose+json")), Ok(()));
    expect_problem(
        check_content_type(Some("application/json")),
        ProblemType::Malformed,
        415,
    );
    expect_problem(check_content_type(None), ProblemType::Malformed, 415);
}

#[test]
fn alg_none_is_bad_signature_algorithm_with_the_list() {
    let mut h = header("none");
    let body =
        json!({"protected": b64_json(&Value::Object(h.clone())), "payload": "", "signature": ""});
    let p = parse(&bytes(&body)).unwrap_err();
    assert_eq!(
        (p.kind, p.status),
        (ProblemType::BadSignatureAlgorithm, 400)
    );
    let listed: Vec<&str> = p.algorithms.iter().flatten().map(String::as_str).collect();
    assert_eq!(listed, supported_algorithms());
    assert_eq!(p.body()["algorithms"], json!(supported_algorithms()));
    // Twin: the same header with ES256, signed.
    h.insert("alg".into(), json!("ES256"));
    let k = es256();
    let body = k.sign_raw(&h, "").expect("sign");
    assert!(authenticate(&bytes(&body), URL, &k.public_jwk()).is_ok());
}

#[test]
fn outer_mac_is_bad_signature_algorithm() {
    let h = header("HS256");
    let signer = HS256.signer_from_bytes([7u8; 32]).expect("hmac");
    let protected = b64_json(&Value::Object(h));
    let sig = signer
        .sign(format!("{protected}.").as_bytes())
        .expect("mac");
    let body = json!({"protected": protected, "payload": "", "signature": b64url::encode(sig)});
    expect_problem(
        parse(&bytes(&body)),
        ProblemType::BadSignatureAlgorithm,
        400,
    );
}

#[test]
fn unsupported_algorithms_are_bad_signature_algorithm() {
    let k = es256();
    for alg in ["RS512", "PS256", "RS384", "ES256K", "EdDSA25519", "es512"] {
        let body = k.sign_raw(&header(alg), "").expect("sign");
        expect_problem(
            parse(&bytes(&body)),
            ProblemType::BadSignatureAlgorithm,
            400,
        );
    }
    for alg in supported_algorithms() {
        let body = k.sign_raw(&header(alg), "").expect("sign");
        assert!(parse(&bytes(&body)).is_ok(), "{alg}");
    }
}

#[test]
fn jwk_and_kid_exactly_one() {
    let k = es256();
    let mut both = header("ES256");
    both.insert("jwk".into(), k.public_jwk());
    expect_detail(
        parse(&bytes(&k.sign_raw(&both, "").expect("sign"))),
        ProblemType::Malformed,
        400,
        "both",
    );
    let mut neither = header("ES256");
    neither.remove("kid");
    expect_detail(
        parse(&bytes(&k.sign_raw(&neither, "").expect("sign"))),
        ProblemType::Malformed,
        400,
        "neither",
    );
    let mut jwk_only = neither.clone();
    jwk_only.insert("jwk".into(), k.public_jwk());
    assert!(
        authenticate(
            &bytes(&k.sign_raw(&jwk_only, "").expect("sign")),
            URL,
            &Value::Null
        )
        .is_ok()
    );
    // The signer itself never emits both.
    let mut extra = Map::new();
    extra.insert("jwk".into(), k.public_jwk());
    extra.insert("kid".into(), json!(ACCOUNT));
    assert!(k.sign(extra, None).is_err());
}

#[test]
fn url_mismatch_is_unauthorized() {
    let k = es256();
    let body = bytes(&good_kid_request(&k));
    expect_detail(
        authenticate(&body, "https://ca.test/acme/new-order/", &k.public_jwk()),
        ProblemType::Unauthorized,
        403,
        "request URL",
    );
    expect_detail(
        authenticate(&body, "https://CA.test/acme/new-order", &k.public_jwk()),
        ProblemType::Unauthorized,
        403,
        "request URL",
    );
    assert!(authenticate(&body, URL, &k.public_jwk()).is_ok());
}

#[test]
fn padded_base64url_is_malformed_in_every_member() {
    let k = es256();
    let good = good_kid_request(&k);
    assert!(authenticate(&bytes(&good), URL, &k.public_jwk()).is_ok());
    for member in ["protected", "payload", "signature"] {
        let mut bad = good.clone();
        let text = bad[member].as_str().expect("string").to_owned();
        // Pad to a multiple of 4 (at least one '='), as a standard base64 encoder would.
        let pads = match text.len() % 4 {
            0 => 4,
            n => 4 - n,
        };
        bad[member] = json!(format!("{text}{}", "=".repeat(pads.min(2))));
        expect_detail(
            parse(&bytes(&bad)),
            ProblemType::Malformed,
            400,
            "base64url",
        );
        // Non-alphabet (standard base64) too.
        let mut bad = good.clone();
        bad[member] = json!(text.replace('-', "+").replace('_', "/") + "+");
        expect_detail(
            parse(&bytes(&bad)),
            ProblemType::Malformed,
            400,
            "base64url",
        );
    }
}

#[test]
fn flipped_signature_byte_does_not_verify() {
    for alg in [
        KeyAlg::Es256,
        KeyAlg::Es384,
        KeyAlg::Es512,
        KeyAlg::Rs256,
        KeyAlg::EdDsa,
    ] {
        let k = key(alg, alg.name());
        let good = good_kid_request(&k);
        assert!(authenticate(&bytes(&good), URL, &k.public_jwk()).is_ok());
        let mut sig = b64url::decode_strict(good["signature"].as_str().expect("sig")).expect("b64");
        sig[0] ^= 0x01;
        let mut bad = good.clone();
        bad["signature"] = json!(b64url::encode(&sig));
        let p = authenticate(&bytes(&bad), URL, &k.public_jwk()).unwrap_err();
        assert_eq!((p.kind, p.status), (ProblemType::Malformed, 400), "{alg:?}");
        assert_eq!(p.detail, "JWS signature does not verify");
        // A tampered payload with the original signature fails the same way.
        let mut bad = good.clone();
        bad["payload"] = json!(b64_json(&json!({"identifiers": []})));
        expect_problem(
            authenticate(&bytes(&bad), URL, &k.public_jwk()),
            ProblemType::Malformed,
            400,
        );
        // And the right signature under another key of the same type.
        let other = key(alg, "other");
        assert_ne!(other.public_jwk(), k.public_jwk());
        expect_detail(
            authenticate(&bytes(&good), URL, &other.public_jwk()),
            ProblemType::Malformed,
            400,
            "does not verify",
        );
    }
}

#[test]
fn unknown_crit_is_malformed_although_josekit_accepts_it() {
    let k = es256();
    let mut h = header("ES256");
    h.insert("crit".into(), json!(["urn:example:critical"]));
    h.insert("urn:example:critical".into(), json!(true));
    let body = k.sign_raw(&h, &b64_json(&json!({}))).expect("sign");
    let text = serde_json::to_string(&body).expect("json");
    // josekit 0.10.3 alone: the JSON path looks for "critical", not "crit", and accepts it.
    let jwk = josekit::jwk::Jwk::from_map(obj(k.public_jwk())).expect("jwk");
    let verifier = josekit::jws::ES256
        .verifier_from_jwk(&jwk)
        .expect("verifier");
    let (payload, josekit_header) =
        josekit::jws::deserialize_json(&text, &verifier).expect("josekit accepts unknown crit");
    assert_eq!(payload, b"{}");
    assert!(josekit_header.claim("crit").is_some());
    // Ours refuses (RFC 7515 §4.1.11).
    let p = parse(text.as_bytes()).unwrap_err();
    assert_eq!((p.kind, p.status), (ProblemType::Malformed, 400));
    assert!(p.detail.contains("crit"), "{}", p.detail);
    // Twin: without crit it passes.
    h.remove("crit");
    let body = k.sign_raw(&h, &b64_json(&json!({}))).expect("sign");
    assert!(authenticate(&bytes(&body), URL, &k.public_jwk()).is_ok());
}

#[test]
fn b64_false_is_malformed() {
    let k = es256();
    for with_crit in [false, true] {
        let mut h = header("ES256");
        h.insert("b64".into(), json!(false));
        if with_crit {
            h.insert("crit".into(), json!(["b64"]));
        }
        let body = k.sign_raw(&h, "").expect("sign");
        let p = parse(&bytes(&body)).unwrap_err();
        assert_eq!((p.kind, p.status), (ProblemType::Malformed, 400));
        if !with_crit {
            assert!(p.detail.contains("RFC 7797"), "{}", p.detail);
        }
    }
}

#[test]
fn general_serialization_is_malformed() {
    let k = es256();
    let good = good_kid_request(&k);
    let general = json!({
        "payload": good["payload"],
        "signatures": [{"protected": good["protected"], "signature": good["signature"]}],
    });
    expect_detail(
        parse(&bytes(&general)),
        ProblemType::Malformed,
        400,
        "general",
    );
    // Even alongside the flattened members.
    let mut both = good.clone();
    both["signatures"] = json!([]);
    expect_detail(parse(&bytes(&both)), ProblemType::Malformed, 400, "general");
    assert!(parse(&bytes(&good)).is_ok());
}

#[test]
fn unprotected_header_is_malformed() {
    let k = es256();
    let good = good_kid_request(&k);
    let mut bad = good.clone();
    bad["header"] = json!({"x-note": "hello"});
    expect_detail(
        parse(&bytes(&bad)),
        ProblemType::Malformed,
        400,
        "unprotected",
    );
    // Unknown top-level members are ignored (RFC 7515 §7.2.1).
    let mut extra = good.clone();
    extra["x-note"] = json!("ignored");
    assert!(authenticate(&bytes(&extra), URL, &k.public_jwk()).is_ok());
}

#[test]
fn detached_or_non_string_members_are_malformed() {
    let good = good_kid_request(&es256());
    for member in ["protected", "payload", "signature"] {
        let mut bad = good.clone();
        bad.as_object_mut().expect("object").remove(member);
        expect_problem(parse(&bytes(&bad)), ProblemType::Malformed, 400);
        let mut bad = good.clone();
        bad[member] = json!(null);
        expect_problem(parse(&bytes(&bad)), ProblemType::Malformed, 400);
    }
}

#[test]
fn missing_or_malformed_nonce_is_bad_nonce() {
    let k = es256();
    let mut h = header("ES256");
    h.remove("nonce");
    expect_detail(
        parse(&bytes(&k.sign_raw(&h, "").expect("sign"))),
        ProblemType::BadNonce,
        400,
        "nonce",
    );
    for bad in [
        json!("not a nonce!"),
        json!("bm9u=="),
        json!(""),
        json!(12),
        json!(null),
    ] {
        h.insert("nonce".into(), bad.clone());
        let body = k.sign_raw(&h, "").expect("sign");
        expect_detail(parse(&bytes(&body)), ProblemType::BadNonce, 400, "nonce");
    }
    h.insert("nonce".into(), json!(NONCE));
    assert!(parse(&bytes(&k.sign_raw(&h, "").expect("sign"))).is_ok());
}

fn rsa_jwk(bits: u32) -> Value {
    let rsa = openssl::rsa::Rsa::generate(bits).expect("rsa");
    json!({"kty": "RSA", "n": b64url::encode(rsa.n().to_vec()), "e": b64url::encode(rsa.e().to_vec())})
}

#[test]
fn rsa_1024_is_bad_public_key() {
    expect_detail(
        check_public_key(&rsa_jwk(1024), "RS256"),
        ProblemType::BadPublicKey,
        400,
        "1024 bits",
    );
    assert_eq!(check_public_key(&rsa_jwk(2048), "RS256"), Ok(()));
    // A leading zero octet does not add bits (nor rescue a short key).
    let mut padded = rsa_jwk(1024);
    let mut n = vec![0u8; 129];
    n[1..].copy_from_slice(&b64url::decode_strict(padded["n"].as_str().expect("n")).expect("n"));
    padded["n"] = json!(b64url::encode(n));
    expect_detail(
        check_public_key(&padded, "RS256"),
        ProblemType::BadPublicKey,
        400,
        "1024 bits",
    );
}

#[test]
fn ec_key_with_the_wrong_alg_is_bad_public_key() {
    let p384 = key(KeyAlg::Es384, "p384").public_jwk();
    expect_detail(
        check_public_key(&p384, "ES256"),
        ProblemType::BadPublicKey,
        400,
        "P-256",
    );
    assert_eq!(check_public_key(&p384, "ES384"), Ok(()));
    let p256 = es256().public_jwk();
    expect_detail(
        check_public_key(&p256, "ES384"),
        ProblemType::BadPublicKey,
        400,
        "P-384",
    );
    expect_detail(
        check_public_key(&p256, "EdDSA"),
        ProblemType::BadPublicKey,
        400,
        "OKP",
    );
    expect_detail(
        check_public_key(&p256, "RS256"),
        ProblemType::BadPublicKey,
        400,
        "RSA",
    );
    // End to end: a P-384 key claiming ES256 in a jwk request.
    let k = key(KeyAlg::Es384, "p384");
    let mut h = header("ES256");
    h.remove("kid");
    h.insert("jwk".into(), k.public_jwk());
    let body = k.sign_raw(&h, "").expect("sign");
    expect_detail(
        authenticate(&bytes(&body), URL, &Value::Null),
        ProblemType::BadPublicKey,
        400,
        "P-256",
    );
}

#[test]
fn ed448_is_bad_public_key() {
    let ed448 = json!({"kty": "OKP", "crv": "Ed448", "x": b64url::encode([9u8; 57])});
    expect_detail(
        check_public_key(&ed448, "EdDSA"),
        ProblemType::BadPublicKey,
        400,
        "Ed448",
    );
    let ed25519 = key(KeyAlg::EdDsa, "ed").public_jwk();
    assert_eq!(check_public_key(&ed25519, "EdDSA"), Ok(()));
}

#[test]
fn private_members_are_bad_public_key() {
    let text = include_str!("../../../fixtures/keys/rfc7515-a3-p256.jwk");
    let private: Value = serde_json::from_str(text).expect("fixture");
    expect_detail(
        check_public_key(&private, "ES256"),
        ProblemType::BadPublicKey,
        400,
        "\"d\"",
    );
    let mut public = private.clone();
    public.as_object_mut().expect("object").remove("d");
    assert_eq!(check_public_key(&public, "ES256"), Ok(()));
}

#[test]
fn garbage_truncated_and_huge_bodies_are_malformed() {
    let good = bytes(&good_kid_request(&es256()));
    let cases: Vec<Vec<u8>> = vec![
        vec![],
        b"\xff\xfe\x00garbage".to_vec(),
        b"null".to_vec(),
        b"[]".to_vec(),
        b"\"protected\"".to_vec(),
        good[..good.len() / 2].to_vec(),
        good[..good.len() - 1].to_vec(),
    ];
    for body in &cases {
        expect_problem(parse(body), ProblemType::Malformed, 400);
    }
    let mut huge = good.clone();
    huge.resize(MAX_BODY_BYTES + 1, b' ');
    expect_problem(parse(&huge), ProblemType::Malformed, 413);
    // Trailing whitespace within the bound is still the same JSON.
    let mut spaced = good.clone();
    spaced.resize(MAX_BODY_BYTES, b' ');
    assert!(parse(&spaced).is_ok());
    // A protected header that decodes to non-JSON or a JSON array.
    for protected in [b64url::encode(b"not json"), b64url::encode(b"[1,2]")] {
        let body = json!({"protected": protected, "payload": "", "signature": ""});
        expect_problem(parse(&bytes(&body)), ProblemType::Malformed, 400);
    }
}

// ---------------------------------------------------------------------------------------------
// External account binding (RFC 8555 §7.3.4)

const EAB_KID: &str = "eab-kid-1";
const EAB_KEY: [u8; 32] = [0x5a; 32];

fn eab_lookup(kid: &str) -> Option<Vec<u8>> {
    (kid == EAB_KID).then(|| EAB_KEY.to_vec())
}

fn mac_raw(key: &[u8], protected: &Value, payload: &Value) -> Value {
    let signer: Box<dyn josekit::jws::JwsSigner> = match protected["alg"].as_str() {
        Some("HS384") => Box::new(HS384.signer_from_bytes(key).expect("hmac")),
        Some("HS512") => Box::new(HS512.signer_from_bytes(key).expect("hmac")),
        _ => Box::new(HS256.signer_from_bytes(key).expect("hmac")),
    };
    let protected = b64_json(protected);
    let payload = b64_json(payload);
    let sig = signer
        .sign(format!("{protected}.{payload}").as_bytes())
        .expect("mac");
    json!({"protected": protected, "payload": payload, "signature": b64url::encode(sig)})
}

#[test]
fn eab_good_binding_passes() {
    let k = es256();
    let eab = mac_sign_eab(&EAB_KEY, EAB_KID, NEW_ACCOUNT, &k.public_jwk()).expect("eab");
    // Carried inside a real newAccount request.
    let body = k
        .sign_request(
            SignWith::Jwk,
            NONCE,
            NEW_ACCOUNT,
            Some(&json!({"termsOfServiceAgreed": true, "externalAccountBinding": eab})),
        )
        .expect("sign");
    let req = authenticate(&bytes(&body), NEW_ACCOUNT, &Value::Null).expect("outer");
    let (KeyRef::Jwk(jwk), Payload::Json(payload)) = (req.key(), req.payload()) else {
        panic!("shape");
    };
    let kid = verify_external_account_binding(
        &payload["externalAccountBinding"],
        req.url(),
        jwk,
        eab_lookup,
    );
    assert_eq!(kid, Ok(EAB_KID.to_owned()));
    // Hand-made with HS384 and HS512 too (keys as long as the hash, RFC 7518 §3.2).
    let long_key = [0x33u8; 64];
    for alg in ["HS256", "HS384", "HS512"] {
        let hdr = json!({"alg": alg, "kid": "long", "url": NEW_ACCOUNT});
        let by_hand = mac_raw(&long_key, &hdr, &k.public_jwk());
        let lookup = |kid: &str| (kid == "long").then(|| long_key.to_vec());
        assert_eq!(
            verify_external_account_binding(&by_hand, NEW_ACCOUNT, &k.public_jwk(), lookup),
            Ok("long".to_owned()),
            "{alg}"
        );
        let wrong = mac_raw(&[0x44u8; 64], &hdr, &k.public_jwk());
        expect_detail(
            verify_external_account_binding(&wrong, NEW_ACCOUNT, &k.public_jwk(), lookup),
            ProblemType::Unauthorized,
            403,
            "MAC",
        );
    }
}

#[test]
fn eab_wrong_mac_is_unauthorized() {
    let k = es256();
    let eab = mac_sign_eab(&[0x11; 32], EAB_KID, NEW_ACCOUNT, &k.public_jwk()).expect("eab");
    expect_detail(
        verify_external_account_binding(&eab, NEW_ACCOUNT, &k.public_jwk(), eab_lookup),
        ProblemType::Unauthorized,
        403,
        "MAC",
    );
    let mut flipped = mac_sign_eab(&EAB_KEY, EAB_KID, NEW_ACCOUNT, &k.public_jwk()).expect("eab");
    let mut sig = b64url::decode_strict(flipped["signature"].as_str().expect("s")).expect("b64");
    sig[3] ^= 0x80;
    flipped["signature"] = json!(b64url::encode(sig));
    expect_detail(
        verify_external_account_binding(&flipped, NEW_ACCOUNT, &k.public_jwk(), eab_lookup),
        ProblemType::Unauthorized,
        403,
        "MAC",
    );
    // Unknown kid.
    let eab = mac_sign_eab(&EAB_KEY, "who", NEW_ACCOUNT, &k.public_jwk()).expect("eab");
    expect_detail(
        verify_external_account_binding(&eab, NEW_ACCOUNT, &k.public_jwk(), eab_lookup),
        ProblemType::Unauthorized,
        403,
        "unknown",
    );
}

#[test]
fn eab_with_nonce_is_malformed() {
    let k = es256();
    let hdr = json!({"alg": "HS256", "kid": EAB_KID, "url": NEW_ACCOUNT, "nonce": NONCE});
    let eab = mac_raw(&EAB_KEY, &hdr, &k.public_jwk());
    expect_detail(
        verify_external_account_binding(&eab, NEW_ACCOUNT, &k.public_jwk(), eab_lookup),
        ProblemType::Malformed,
        400,
        "nonce",
    );
}

#[test]
fn eab_url_mismatch_is_unauthorized() {
    let k = es256();
    let eab = mac_sign_eab(&EAB_KEY, EAB_KID, URL, &k.public_jwk()).expect("eab");
    expect_detail(
        verify_external_account_binding(&eab, NEW_ACCOUNT, &k.public_jwk(), eab_lookup),
        ProblemType::Unauthorized,
        403,
        "url",
    );
}

#[test]
fn eab_payload_other_than_the_account_key_is_unauthorized() {
    let k = es256();
    let other = key(KeyAlg::EdDsa, "other");
    let eab = mac_sign_eab(&EAB_KEY, EAB_KID, NEW_ACCOUNT, &other.public_jwk()).expect("eab");
    expect_detail(
        verify_external_account_binding(&eab, NEW_ACCOUNT, &k.public_jwk(), eab_lookup),
        ProblemType::Unauthorized,
        403,
        "payload",
    );
    // A payload that is no JWK at all.
    let hdr = json!({"alg": "HS256", "kid": EAB_KID, "url": NEW_ACCOUNT});
    let eab = mac_raw(&EAB_KEY, &hdr, &json!({"hello": 1}));
    expect_detail(
        verify_external_account_binding(&eab, NEW_ACCOUNT, &k.public_jwk(), eab_lookup),
        ProblemType::Unauthorized,
        403,
        "payload",
    );
}

#[test]
fn eab_needs_a_mac_alg_a_kid_and_a_flattened_jws() {
    let k = es256();
    // Signed with the account key (ES256) instead of a MAC.
    let not_mac = k
        .sign(
            obj(json!({"kid": EAB_KID, "url": NEW_ACCOUNT})),
            Some(&k.public_jwk()),
        )
        .expect("sign");
    expect_detail(
        verify_external_account_binding(&not_mac, NEW_ACCOUNT, &k.public_jwk(), eab_lookup),
        ProblemType::Malformed,
        400,
        "MAC algorithm",
    );
    let no_kid = mac_raw(
        &EAB_KEY,
        &json!({"alg": "HS256", "url": NEW_ACCOUNT}),
        &k.public_jwk(),
    );
    expect_detail(
        verify_external_account_binding(&no_kid, NEW_ACCOUNT, &k.public_jwk(), eab_lookup),
        ProblemType::Malformed,
        400,
        "no kid",
    );
    let mut general = mac_sign_eab(&EAB_KEY, EAB_KID, NEW_ACCOUNT, &k.public_jwk()).expect("eab");
    general["signatures"] = json!([]);
    expect_detail(
        verify_external_account_binding(&general, NEW_ACCOUNT, &k.public_jwk(), eab_lookup),
        ProblemType::Malformed,
        400,
        "general",
    );
    expect_detail(
        verify_external_account_binding(&json!("eab"), NEW_ACCOUNT, &k.public_jwk(), eab_lookup),
        ProblemType::Malformed,
        400,
        "not a JSON object",
    );
}

// ---------------------------------------------------------------------------------------------
// keyChange (RFC 8555 §7.3.5)

struct Rollover {
    old: AccountKey,
    new: AccountKey,
}

impl Rollover {
    fn new() -> Self {
        Rollover {
            old: key(KeyAlg::Es256, "old"),
            new: key(KeyAlg::EdDsa, "new"),
        }
    }

    fn key_change_object(&self) -> Value {
        json!({"account": ACCOUNT, "oldKey": self.old.public_jwk()})
    }

    fn inner(&self) -> Value {
        self.new
            .sign_inner(KEY_CHANGE, &self.key_change_object())
            .expect("inner")
    }

    fn check(&self, inner: &Value) -> Result<Value, Problem> {
        verify_key_change(inner, KEY_CHANGE, ACCOUNT, &self.old.public_jwk())
    }

    /// A raw inner JWS by the new key with a custom protected header and payload.
    fn raw(&self, protected: Value, payload: &Value) -> Value {
        self.new
            .sign_raw(&obj(protected), &b64_json(payload))
            .expect("sign")
    }
}

#[test]
fn key_change_good_request_passes_end_to_end() {
    let r = Rollover::new();
    let outer = r
        .old
        .sign_request(
            SignWith::Kid(ACCOUNT.into()),
            NONCE,
            KEY_CHANGE,
            Some(&r.inner()),
        )
        .expect("outer");
    let req = authenticate(&bytes(&outer), KEY_CHANGE, &r.old.public_jwk()).expect("outer ok");
    let Payload::Json(inner) = req.payload() else {
        panic!("payload");
    };
    let new_jwk = verify_key_change(inner, req.url(), ACCOUNT, &r.old.public_jwk());
    assert_eq!(new_jwk, Ok(r.new.public_jwk()));
}

#[test]
fn key_change_1_inner_must_be_a_flattened_jws() {
    let r = Rollover::new();
    let mut general = r.inner();
    general["signatures"] = json!([]);
    expect_detail(r.check(&general), ProblemType::Malformed, 400, "general");
    expect_detail(
        r.check(&json!({"account": ACCOUNT})),
        ProblemType::Malformed,
        400,
        "\"protected\"",
    );
    assert!(r.check(&r.inner()).is_ok());
}

#[test]
fn key_change_2_inner_must_carry_jwk_not_kid() {
    let r = Rollover::new();
    let kid = r.raw(
        json!({"alg": "EdDSA", "kid": ACCOUNT, "url": KEY_CHANGE}),
        &r.key_change_object(),
    );
    expect_detail(r.check(&kid), ProblemType::Malformed, 400, "not \"kid\"");
    let both = r.raw(
        json!({"alg": "EdDSA", "jwk": r.new.public_jwk(), "kid": ACCOUNT, "url": KEY_CHANGE}),
        &r.key_change_object(),
    );
    expect_detail(r.check(&both), ProblemType::Malformed, 400, "both");
    let good = r.raw(
        json!({"alg": "EdDSA", "jwk": r.new.public_jwk(), "url": KEY_CHANGE}),
        &r.key_change_object(),
    );
    assert!(r.check(&good).is_ok());
}

#[test]
fn key_change_3_inner_signature_must_verify_with_its_jwk() {
    let r = Rollover::new();
    let mut bad = r.inner();
    let mut sig = b64url::decode_strict(bad["signature"].as_str().expect("s")).expect("b64");
    sig[5] ^= 0x04;
    bad["signature"] = json!(b64url::encode(sig));
    expect_detail(
        r.check(&bad),
        ProblemType::Malformed,
        400,
        "does not verify",
    );
    // Signed by the old key while claiming the new one.
    let forged = r
        .old
        .sign_raw(
            &obj(json!({"alg": "ES256", "jwk": key(KeyAlg::Es256, "third").public_jwk(), "url": KEY_CHANGE})),
            &b64_json(&r.key_change_object()),
        )
        .expect("sign");
    expect_detail(
        r.check(&forged),
        ProblemType::Malformed,
        400,
        "does not verify",
    );
}

#[test]
fn key_change_4_inner_url_must_equal_outer_url() {
    let r = Rollover::new();
    let inner = r
        .new
        .sign_inner(URL, &r.key_change_object())
        .expect("inner");
    expect_detail(
        r.check(&inner),
        ProblemType::Malformed,
        400,
        "differs from the outer url",
    );
    let no_url = r.raw(
        json!({"alg": "EdDSA", "jwk": r.new.public_jwk()}),
        &r.key_change_object(),
    );
    expect_detail(r.check(&no_url), ProblemType::Malformed, 400, "no \"url\"");
}

#[test]
fn key_change_5_inner_nonce_is_malformed() {
    let r = Rollover::new();
    let with_nonce = r
        .new
        .sign(
            obj(json!({"jwk": r.new.public_jwk(), "nonce": NONCE, "url": KEY_CHANGE})),
            Some(&r.key_change_object()),
        )
        .expect("sign");
    let p = r.check(&with_nonce).unwrap_err();
    assert_eq!((p.kind, p.status), (ProblemType::Malformed, 400));
    assert!(p.detail.contains("nonce"), "{}", p.detail);
}

#[test]
fn key_change_6_account_must_be_the_signing_account() {
    let r = Rollover::new();
    let payload = json!({"account": "https://ca.test/acme/acct/2", "oldKey": r.old.public_jwk()});
    let inner = r.new.sign_inner(KEY_CHANGE, &payload).expect("inner");
    expect_detail(
        r.check(&inner),
        ProblemType::Unauthorized,
        403,
        "\"account\"",
    );
}

#[test]
fn key_change_7_old_key_must_be_the_current_key() {
    let r = Rollover::new();
    let payload = json!({"account": ACCOUNT, "oldKey": key(KeyAlg::Es256, "third").public_jwk()});
    let inner = r.new.sign_inner(KEY_CHANGE, &payload).expect("inner");
    expect_detail(r.check(&inner), ProblemType::Unauthorized, 403, "oldKey");
    // Member order and extra members do not matter (RFC 7638 comparison).
    let mut reordered = Map::new();
    let old = r.old.public_jwk();
    for name in ["y", "x", "kty", "crv"] {
        reordered.insert(name.into(), old[name].clone());
    }
    reordered.insert("kid".into(), json!("ignored"));
    let payload = json!({"account": ACCOUNT, "oldKey": reordered});
    let inner = r.new.sign_inner(KEY_CHANGE, &payload).expect("inner");
    assert!(r.check(&inner).is_ok());
}

#[test]
fn key_change_8_new_key_must_be_acceptable() {
    let r = Rollover::new();
    // A P-384 key claiming ES256.
    let p384 = key(KeyAlg::Es384, "p384");
    let bad = p384
        .sign_raw(
            &obj(json!({"alg": "ES256", "jwk": p384.public_jwk(), "url": KEY_CHANGE})),
            &b64_json(&r.key_change_object()),
        )
        .expect("sign");
    expect_detail(
        r.check(&bad),
        ProblemType::BadPublicKey,
        400,
        "ES256 needs an EC P-256",
    );
    // The new key sent with its private part.
    let mut leaked = r.new.public_jwk();
    leaked["d"] = json!(b64url::encode([1u8; 32]));
    let bad = r.raw(
        json!({"alg": "EdDSA", "jwk": leaked, "url": KEY_CHANGE}),
        &r.key_change_object(),
    );
    expect_detail(
        r.check(&bad),
        ProblemType::BadPublicKey,
        400,
        "private member",
    );
    // An inner alg that is not a request algorithm.
    let bad = r.raw(
        json!({"alg": "none", "jwk": r.new.public_jwk(), "url": KEY_CHANGE}),
        &r.key_change_object(),
    );
    expect_detail(
        r.check(&bad),
        ProblemType::BadSignatureAlgorithm,
        400,
        "\"none\"",
    );
}

#[test]
fn key_change_payload_must_be_a_key_change_object() {
    let r = Rollover::new();
    for payload in [
        json!({"account": ACCOUNT}),
        json!({"oldKey": r.old.public_jwk()}),
        json!([1]),
    ] {
        let inner = r.new.sign_inner(KEY_CHANGE, &payload).expect("inner");
        expect_detail(
            r.check(&inner),
            ProblemType::Malformed,
            400,
            "keyChange object",
        );
    }
}

// ---------------------------------------------------------------------------------------------
// Properties: parse never panics

fn header_value() -> impl Strategy<Value = Value> {
    prop_oneof![
        "[A-Za-z0-9_=+/ -]{0,24}".prop_map(Value::String),
        any::<bool>().prop_map(Value::Bool),
        any::<i64>().prop_map(|n| json!(n)),
        Just(json!(null)),
        Just(json!(["b64", "x"])),
        Just(json!({"kty": "EC", "crv": "P-256", "x": "AA", "y": "AA"})),
        Just(json!({"kty": "RSA", "n": "AQAB", "e": "AQAB"})),
        prop::sample::select(vec!["ES256", "none", "HS256", "EdDSA", "RS512"])
            .prop_map(|s| json!(s)),
    ]
}

fn protected_member() -> impl Strategy<Value = String> {
    let names = prop::sample::select(vec![
        "alg", "nonce", "url", "jwk", "kid", "crit", "b64", "x",
    ]);
    prop_oneof![
        "[A-Za-z0-9_=+/-]{0,64}",
        prop::collection::btree_map(names, header_value(), 0..8).prop_map(|m| {
            let map: Map<String, Value> = m.into_iter().map(|(k, v)| (k.to_owned(), v)).collect();
            b64_json(&Value::Object(map))
        }),
    ]
}

proptest! {
    #[test]
    fn parse_never_panics_on_bytes(body in prop::collection::vec(any::<u8>(), 0..2048)) {
        let _ = parse(&body);
    }

    #[test]
    fn parse_never_panics_on_json_objects(
        protected in protected_member(),
        payload in "[A-Za-z0-9_=+/-]{0,64}",
        signature in "[A-Za-z0-9_=+/-]{0,96}",
        extra in prop::collection::btree_map(
            prop::sample::select(vec!["header", "signatures", "payload", "signature", "x"]),
            "[A-Za-z0-9_=-]{0,16}",
            0..3,
        ),
    ) {
        let mut body = Map::new();
        body.insert("protected".into(), json!(protected));
        body.insert("payload".into(), json!(payload));
        body.insert("signature".into(), json!(signature));
        for (k, v) in extra {
            body.insert(k.to_owned(), json!(v));
        }
        let value = Value::Object(body);
        if let Ok(req) = parse(&bytes(&value)) {
            // Whatever parses must be something the later steps can take without panicking.
            let _ = req.check_url(URL);
            if let KeyRef::Jwk(jwk) = req.key() {
                let _ = check_public_key(jwk, req.alg());
                let _ = req.verify(jwk);
            }
        }
        let _ = verify_key_change(&value, URL, ACCOUNT, &json!({}));
        let _ = verify_external_account_binding(&value, URL, &json!({}), |_| Some(vec![0; 32]));
    }
}

#[test]
fn es512_needs_a_p521_key_with_66_octet_coordinates() {
    let p521 = key(KeyAlg::Es512, "p521");
    let jwk = p521.public_jwk();
    assert_eq!(jwk["crv"], "P-521");
    assert_eq!(check_public_key(&jwk, "ES512"), Ok(()));
    expect_detail(
        check_public_key(&jwk, "ES384"),
        ProblemType::BadPublicKey,
        400,
        "P-384",
    );
    expect_detail(
        check_public_key(&key(KeyAlg::Es384, "p384").public_jwk(), "ES512"),
        ProblemType::BadPublicKey,
        400,
        "P-521",
    );
    // RFC 7518 §6.2.1.2: a coordinate with its leading zero octet stripped is not full length.
    let mut short = jwk.clone();
    let x = b64url::decode_strict(jwk["x"].as_str().expect("x")).expect("x");
    short["x"] = json!(b64url::encode(&x[1..]));
    expect_detail(
        check_public_key(&short, "ES512"),
        ProblemType::BadPublicKey,
        400,
        "66",
    );
    // End to end: signed, parsed and verified as a newAccount (jwk) request.
    let body = p521
        .sign_request(SignWith::Jwk, NONCE, URL, Some(&json!({})))
        .expect("sign");
    let req = authenticate(&bytes(&body), URL, &Value::Null).expect("ES512 verifies");
    assert_eq!(req.alg(), "ES512");
    // A P-521 signature does not verify with another P-521 key.
    let other = key(KeyAlg::Es512, "p521-other").public_jwk();
    let mut h = obj(json!({"alg": "ES512", "nonce": NONCE, "url": URL}));
    h.insert("jwk".into(), other);
    let forged = p521.sign_raw(&h, "").expect("sign");
    expect_detail(
        authenticate(&bytes(&forged), URL, &Value::Null),
        ProblemType::Malformed,
        400,
        "does not verify",
    );
}
