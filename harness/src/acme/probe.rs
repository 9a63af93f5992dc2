//! Deliberately broken requests (RFC 8555 §6): a signed POST-as-GET to the account URL, with one
//! fault put in, sent raw so nothing on our side repairs it. What the server answers is
//! returned as it came; judging it is the caller's business (a test, a scenario).

use std::str::FromStr;

use acmeproof_mocks::account_key::SignWith;
use acmeproof_protocol::b64url;
use serde_json::{Value, json};

use super::client::{AcmeClient, AcmeError};

/// The fault a probe carries.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Fault {
    /// None: the request is conformant (the control case).
    None,
    /// The same JWS twice: the second reuses its nonce (§6.5).
    ReusedNonce,
    /// A nonce the server never issued.
    UnknownNonce,
    /// `alg: none` and an empty signature (§6.2).
    AlgNone,
    /// A MAC algorithm (§6.2 forbids them).
    Hs256,
    /// Both `jwk` and `kid` in the protected header (§6.2).
    JwkAndKid,
    /// A protected `url` other than the request's (§6.4).
    UrlMismatch,
    /// base64url with `=` padding (§6.1: RFC 7515 §2 forbids it).
    PaddedBase64,
    /// One bit of the signature flipped.
    BadSignature,
    /// An unknown `crit` extension (RFC 7515 §4.1.11).
    UnknownCrit,
    /// `Content-Type: application/json` instead of `application/jose+json` (§6.2).
    WrongContentType,
    /// A plain GET on a resource that only takes POST (§6.3).
    GetOnPostResource,
    /// Bytes that are not JSON.
    Garbage,
    /// An empty body.
    Empty,
    /// A JWS cut in half.
    Truncated,
    /// A 1 MiB body.
    Huge,
}

/// Every fault with its name in scenario files.
const FAULT_NAMES: [(Fault, &str); 16] = [
    (Fault::None, "none"),
    (Fault::ReusedNonce, "reused-nonce"),
    (Fault::UnknownNonce, "unknown-nonce"),
    (Fault::AlgNone, "alg-none"),
    (Fault::Hs256, "hs256"),
    (Fault::JwkAndKid, "jwk-and-kid"),
    (Fault::UrlMismatch, "url-mismatch"),
    (Fault::PaddedBase64, "padded-base64"),
    (Fault::BadSignature, "bad-signature"),
    (Fault::UnknownCrit, "unknown-crit"),
    (Fault::WrongContentType, "wrong-content-type"),
    (Fault::GetOnPostResource, "get-on-post-resource"),
    (Fault::Garbage, "garbage"),
    (Fault::Empty, "empty"),
    (Fault::Truncated, "truncated"),
    (Fault::Huge, "huge"),
];

impl FromStr for Fault {
    type Err = String;

    fn from_str(name: &str) -> Result<Self, String> {
        FAULT_NAMES
            .iter()
            .find(|(_, n)| *n == name)
            .map(|(fault, _)| *fault)
            .ok_or_else(|| {
                let all: Vec<&str> = FAULT_NAMES.iter().map(|(_, n)| *n).collect();
                format!("unknown fault {name:?}: one of {}", all.join(", "))
            })
    }
}

impl std::fmt::Display for Fault {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let name = FAULT_NAMES
            .iter()
            .find(|(fault, _)| fault == self)
            .map_or("?", |(_, n)| *n);
        f.write_str(name)
    }
}

/// What the server answered.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProbeAnswer {
    /// The HTTP status.
    pub status: u16,
    /// The problem type's last part (`badNonce`), empty when the answer is not a problem.
    pub problem: String,
    /// Whether a `Replay-Nonce` came with it.
    pub nonce: bool,
    /// The `Content-Type`.
    pub content_type: Option<String>,
}

/// Sends a POST-as-GET to `client`'s account URL carrying `fault`.
pub async fn probe(client: &AcmeClient, fault: Fault) -> Result<ProbeAnswer, AcmeError> {
    let url = client
        .account_url()
        .ok_or_else(|| AcmeError::Protocol("probe needs an account".into()))?;
    let jose = "application/jose+json";
    let (method, content_type, body) = match fault {
        Fault::None => (
            reqwest::Method::POST,
            jose,
            body(&signed(client, &url).await?),
        ),
        Fault::ReusedNonce => {
            let jws = body(&signed(client, &url).await?);
            send(client, reqwest::Method::POST, &url, jose, jws.clone()).await?;
            (reqwest::Method::POST, jose, jws)
        }
        Fault::WrongContentType => (
            reqwest::Method::POST,
            "application/json",
            body(&signed(client, &url).await?),
        ),
        Fault::GetOnPostResource => (reqwest::Method::GET, jose, Vec::new()),
        Fault::Garbage => (
            reqwest::Method::POST,
            jose,
            b"\x00\xff not json at all".to_vec(),
        ),
        Fault::Empty => (reqwest::Method::POST, jose, Vec::new()),
        Fault::Truncated => {
            let jws = body(&signed(client, &url).await?);
            (reqwest::Method::POST, jose, jws[..jws.len() / 2].to_vec())
        }
        Fault::Huge => (reqwest::Method::POST, jose, vec![b'{'; 1 << 20]),
        header_fault => {
            let mut jws = signed(client, &url).await?;
            let jwk = client.key().public_jwk();
            mutate(&mut jws, header_fault, jwk)?;
            (reqwest::Method::POST, jose, body(&jws))
        }
    };
    send(client, method, &url, content_type, body).await
}

/// A conformant POST-as-GET JWS for `url`.
async fn signed(client: &AcmeClient, url: &str) -> Result<Value, AcmeError> {
    let nonce = client.nonce().await?;
    client
        .key()
        .sign_request(SignWith::Kid(url.to_owned()), &nonce, url, None)
        .map_err(|e| AcmeError::Key(e.to_string()))
}

fn body(jws: &Value) -> Vec<u8> {
    jws.to_string().into_bytes()
}

fn mutate(jws: &mut Value, fault: Fault, jwk: Value) -> Result<(), AcmeError> {
    let header = |jws: &mut Value, name: &str, value: Value| set_protected(jws, name, value);
    match fault {
        Fault::UnknownNonce => header(jws, "nonce", json!("bm90LWlzc3VlZA"))?,
        Fault::AlgNone => {
            header(jws, "alg", json!("none"))?;
            jws["signature"] = json!("");
        }
        Fault::Hs256 => header(jws, "alg", json!("HS256"))?,
        Fault::JwkAndKid => header(jws, "jwk", jwk)?,
        Fault::UrlMismatch => header(jws, "url", json!("https://127.0.0.1:1/acme/acct/x"))?,
        Fault::UnknownCrit => {
            header(jws, "crit", json!(["acmeproof-unknown"]))?;
            header(jws, "acmeproof-unknown", json!(true))?;
        }
        Fault::PaddedBase64 => {
            let protected = jws["protected"].as_str().unwrap_or_default().to_owned();
            jws["protected"] = json!(format!("{protected}="));
        }
        Fault::BadSignature => {
            let mut sig = b64url::decode_strict(jws["signature"].as_str().unwrap_or_default())
                .map_err(|e| AcmeError::Protocol(e.to_string()))?;
            if let Some(octet) = sig.get_mut(5) {
                *octet ^= 0x01;
            }
            jws["signature"] = json!(b64url::encode(sig));
        }
        _ => {}
    }
    Ok(())
}

fn set_protected(jws: &mut Value, name: &str, value: Value) -> Result<(), AcmeError> {
    let bad = |e: &dyn std::fmt::Display| AcmeError::Protocol(format!("our own JWS: {e}"));
    let raw = b64url::decode_strict(jws["protected"].as_str().unwrap_or_default())
        .map_err(|e| bad(&e))?;
    let mut header: Value = serde_json::from_slice(&raw).map_err(|e| bad(&e))?;
    if let Some(map) = header.as_object_mut() {
        map.insert(name.into(), value);
    }
    jws["protected"] = Value::String(b64url::encode(header.to_string()));
    Ok(())
}

async fn send(
    client: &AcmeClient,
    method: reqwest::Method,
    url: &str,
    content_type: &str,
    body: Vec<u8>,
) -> Result<ProbeAnswer, AcmeError> {
    let answer = client
        .probe_http()?
        .request(method, url)
        .header("content-type", content_type)
        .body(body)
        .send()
        .await?;
    let status = answer.status().as_u16();
    let nonce = answer.headers().contains_key("replay-nonce");
    let content_type = answer
        .headers()
        .get("content-type")
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned);
    let doc: Value = answer.json().await.unwrap_or(Value::Null);
    Ok(ProbeAnswer {
        status,
        problem: acmeproof_protocol::problem::short_type(doc["type"].as_str().unwrap_or_default())
            .to_owned(),
        nonce,
        content_type,
    })
}
