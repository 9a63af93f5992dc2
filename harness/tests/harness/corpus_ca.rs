//! The CA's bad-input corpus for HTTP and JWS: every case in `tests/corpus/ca.toml` is sent
//! over HTTPS to a fresh world's CA and must get exactly its expected status and problem type
//! (RFC 8555 §6.7, RFC 7807 `application/problem+json`). One control case per endpoint shows
//! the same construction succeeding, so a case fails only by what it changes.
//!
//! A case is built from a correct request, then changed:
//! - `method`, `path` (`newOrder` by default; `newAccount`, `newNonce`, `directory`,
//!   `revokeCert`, `keyChange`, `account`, or a literal path), `content_type` (`""`: none);
//! - `body` (raw, placeholders replaced), or `body_hex`, times `repeat`;
//! - otherwise a flattened JWS: the default protected header (`alg`, `kid` — `jwk` for
//!   newAccount —, `nonce`, `url`) with `header_set` (a JSON object, members set; `null`
//!   removes one), `payload` (text, base64url-encoded; `""` is POST-as-GET) or
//!   `payload_b64`, `protected_b64` (raw), `signature` (raw; default: signed by the account
//!   key, or with `signer = "other"` by a key without an account), and `extra` (JSON members
//!   added to the JWS object).
//!
//! Placeholders: `{nonce}` (fresh), `{url}` (the target), `{kid}`, `{jwk}` (the account key's
//! public JWK), `{p256_jwk}` (another key's), `{directory}`.

use std::time::Duration;

use acmeproof::acme::AcmeClient;
use acmeproof_mocks::account_key::{AccountKey, KeyAlg};
use acmeproof_protocol::b64url;
use serde::Deserialize;
use serde_json::{Map, Value};

use crate::support::*;

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct Corpus {
    case: Vec<Case>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct Case {
    name: String,
    #[serde(default = "post")]
    method: String,
    #[serde(default = "new_order")]
    path: String,
    content_type: Option<String>,
    body: Option<String>,
    body_hex: Option<String>,
    #[serde(default = "one")]
    repeat: usize,
    header_set: Option<String>,
    payload: Option<String>,
    payload_b64: Option<String>,
    protected_b64: Option<String>,
    signature: Option<String>,
    extra: Option<String>,
    /// `"other"`: signed by a key with no account (newAccount then creates one).
    signer: Option<String>,
    status: u16,
    /// The problem type's last segment (`malformed`), or `""` for a success.
    #[serde(rename = "type")]
    kind: String,
}

fn post() -> String {
    "POST".into()
}
fn new_order() -> String {
    "newOrder".into()
}
fn one() -> usize {
    1
}

const CORPUS: &str = include_str!("../corpus/ca.toml");

struct Target<'a> {
    client: &'a AcmeClient,
    base: String,
    other: AccountKey,
}

impl Target<'_> {
    fn url(&self, path: &str) -> String {
        let dir = self.client.directory();
        match path {
            "newOrder" => dir.new_order.clone(),
            "newAccount" => dir.new_account.clone(),
            "newNonce" => dir.new_nonce.clone(),
            "revokeCert" => dir.revoke_cert.clone(),
            "keyChange" => dir.key_change.clone(),
            "directory" => format!("{}/directory", self.base),
            "account" => self.client.account_url().expect("an account"),
            literal => format!("{}{literal}", self.base),
        }
    }

    fn fill(&self, text: &str, nonce: &str, url: &str) -> String {
        text.replace("{nonce}", nonce)
            .replace("{url}", url)
            .replace("{kid}", &self.client.account_url().unwrap_or_default())
            .replace("{jwk}", &self.client.key().public_jwk().to_string())
            .replace("{p256_jwk}", &self.other.public_jwk().to_string())
            .replace("{directory}", &format!("{}/directory", self.base))
    }

    fn default_payload(path: &str) -> &'static str {
        match path {
            "newOrder" => r#"{"identifiers":[{"type":"dns","value":"www.example.test"}]}"#,
            "newAccount" => r#"{"termsOfServiceAgreed":true}"#,
            _ => "",
        }
    }

    async fn body(&self, case: &Case, url: &str) -> Vec<u8> {
        let nonce = self.client.nonce().await.expect("a nonce");
        if let Some(hex) = &case.body_hex {
            return (0..hex.len())
                .step_by(2)
                .map(|i| u8::from_str_radix(&hex[i..i + 2], 16).expect("hex"))
                .collect::<Vec<u8>>()
                .repeat(case.repeat);
        }
        if let Some(body) = &case.body {
            return self
                .fill(body, &nonce, url)
                .repeat(case.repeat)
                .into_bytes();
        }
        let key = match case.signer.as_deref() {
            Some("other") => &self.other,
            None => self.client.key(),
            Some(other) => panic!("{}: signer {other:?}", case.name),
        };
        let mut protected = Map::new();
        protected.insert("alg".into(), key.alg().into());
        if case.path == "newAccount" {
            protected.insert("jwk".into(), key.public_jwk());
        } else {
            protected.insert(
                "kid".into(),
                self.client.account_url().expect("an account").into(),
            );
        }
        protected.insert("nonce".into(), nonce.clone().into());
        protected.insert("url".into(), url.into());
        if let Some(set) = &case.header_set {
            let set: Value = serde_json::from_str(&self.fill(set, &nonce, url))
                .unwrap_or_else(|e| panic!("{}: header_set: {e}", case.name));
            for (name, value) in set.as_object().expect("header_set is an object") {
                match value {
                    Value::Null => protected.remove(name),
                    v => protected.insert(name.clone(), v.clone()),
                };
            }
        }
        let payload_b64 = match (&case.payload_b64, &case.payload) {
            (Some(raw), _) => raw.clone(),
            (None, Some(text)) => b64url::encode(self.fill(text, &nonce, url)),
            (None, None) => b64url::encode(Self::default_payload(&case.path)),
        };
        let mut jws = key.sign_raw(&protected, &payload_b64).expect("signs");
        let object = jws.as_object_mut().expect("an object");
        if let Some(raw) = &case.protected_b64 {
            object.insert("protected".into(), raw.clone().into());
        }
        if let Some(raw) = &case.signature {
            object.insert("signature".into(), raw.clone().into());
        }
        if let Some(extra) = &case.extra {
            let extra: Value = serde_json::from_str(&self.fill(extra, &nonce, url))
                .unwrap_or_else(|e| panic!("{}: extra: {e}", case.name));
            for (name, value) in extra.as_object().expect("extra is an object") {
                match value {
                    Value::Null => object.remove(name),
                    v => object.insert(name.clone(), v.clone()),
                };
            }
        }
        jws.to_string().repeat(case.repeat).into_bytes()
    }

    /// Sends `case`; returns (status, problem type's last segment or "", content type).
    async fn send(&self, case: &Case) -> (u16, String, String) {
        let url = self.url(&case.path);
        let body = self.body(case, &url).await;
        let method = reqwest::Method::from_bytes(case.method.as_bytes()).expect("a method");
        // The ordinary client, HTTP/1.1: a refusal that closes the connection (a body over the
        // limit) says `Connection: close`, so no dead connection is pooled for the next request,
        // and the CA reads the rest of the body before it closes (`mocks/src/https/linger.rs`),
        // so this client, still writing it, reads the 413 instead of a broken pipe.
        let mut request = self.client.http().request(method, &url).body(body);
        match case.content_type.as_deref() {
            None => request = request.header("content-type", "application/jose+json"),
            Some("") => {}
            Some(ct) => request = request.header("content-type", ct),
        }
        let answer = request.send().await.expect("an answer");
        let status = answer.status().as_u16();
        let content_type = answer
            .headers()
            .get("content-type")
            .and_then(|v| v.to_str().ok())
            .unwrap_or("")
            .to_owned();
        let document: Value = answer
            .bytes()
            .await
            .ok()
            .and_then(|b| serde_json::from_slice(&b).ok())
            .unwrap_or(Value::Null);
        let kind = if status < 400 {
            String::new()
        } else {
            document["type"]
                .as_str()
                .and_then(|t| t.strip_prefix("urn:ietf:params:acme:error:"))
                .unwrap_or("(no ACME problem type)")
                .to_owned()
        };
        (status, kind, content_type)
    }
}

#[test]
fn the_corpus_is_large_and_its_names_unique() {
    let corpus: Corpus = toml::from_str(CORPUS).expect("the corpus parses");
    assert!(corpus.case.len() >= 80, "{} cases", corpus.case.len());
    let mut names: Vec<&str> = corpus.case.iter().map(|c| c.name.as_str()).collect();
    names.sort_unstable();
    names.dedup();
    assert_eq!(names.len(), corpus.case.len(), "case names are unique");
}

#[tokio::test]
async fn every_bad_input_gets_its_exact_problem() {
    let corpus: Corpus = toml::from_str(CORPUS).expect("the corpus parses");
    let world = world().await;
    let client = client(&world, "corpus").await;
    let target = Target {
        client: &client,
        base: world
            .ca
            .directory_url()
            .trim_end_matches("/directory")
            .to_owned(),
        other: key(KeyAlg::Es256, "corpus-other"),
    };
    let mut wrong = Vec::new();
    for case in &corpus.case {
        let (status, kind, content_type) =
            tokio::time::timeout(Duration::from_secs(20), target.send(case))
                .await
                .unwrap_or_else(|_| panic!("{}: no answer within 20 s", case.name));
        let problem_json = status < 400 || content_type == "application/problem+json";
        if (status, kind.as_str()) != (case.status, case.kind.as_str()) || !problem_json {
            wrong.push(format!(
                "{}: expected {} {:?}, got {status} {kind:?} ({content_type})",
                case.name, case.status, case.kind
            ));
        }
    }
    assert!(
        wrong.is_empty(),
        "{} of {} cases:\n{}",
        wrong.len(),
        corpus.case.len(),
        wrong.join("\n")
    );
    // Still serving after the whole corpus.
    acmeproof::acme::flow::issue_dns01(&client, &world.dns, &["www.example.test"], WAIT)
        .await
        .expect("the CA survived the corpus");
    world.shutdown().await;
}
