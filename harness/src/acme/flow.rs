//! Whole issuances over [`AcmeClient`].

use std::time::Duration;

use acmeproof_mocks::dns::DnsServer;
use serde_json::{Value, json};

use super::alpn::AlpnResponder;
use super::client::{AcmeClient, AcmeError};

/// A certificate obtained by a flow.
#[derive(Debug, Clone)]
pub struct Issued {
    /// The order URL.
    pub order_url: String,
    /// The chain as downloaded (leaf first).
    pub chain_pem: String,
    /// The certificate key, PKCS#8 PEM.
    pub key_pem: String,
}

/// Why a flow stopped.
#[derive(Debug, thiserror::Error)]
pub enum FlowError {
    /// A request failed.
    #[error(transparent)]
    Acme(#[from] AcmeError),
    /// The CA answered with something the flow cannot continue from.
    #[error("{0}")]
    Unexpected(String),
    /// The DNS could not be changed.
    #[error("DNS: {0}")]
    Dns(String),
    /// The CSR could not be made.
    #[error("CSR: {0}")]
    Csr(String),
    /// The mailbox could not be read over IMAP.
    #[error("IMAP: {0}")]
    Imap(String),
    /// Mail could not be sent.
    #[error("{0}")]
    Smtp(String),
    /// Something awaited did not happen in time.
    #[error("timed out: {0}")]
    Timeout(String),
    /// The authorization ended `invalid`; the authorization object says why.
    #[error("the authorization ended invalid: {}", invalid_reason(.0))]
    Invalid(serde_json::Value),
    /// The issued certificate is not what was asked for.
    #[error("certificate: {0}")]
    Certificate(String),
    /// The challenge mail arrived, but an RFC 8823 MUA ignores it (a MUST broken); `raw` is
    /// the mail as delivered, for a judge to name each defect.
    #[error("an RFC 8823 MUA ignores this challenge: {reason}")]
    Ignored {
        /// The mail as delivered.
        raw: Vec<u8>,
        /// Why the MUA ignores it.
        reason: String,
    },
}

/// `type: detail` of the challenge that failed (else of the first), for messages.
fn invalid_reason(authz: &Value) -> String {
    let challenges = authz["challenges"].as_array().cloned().unwrap_or_default();
    let failed = challenges
        .iter()
        .find(|c| c["status"] == "invalid")
        .or(challenges.first())
        .map(|c| c["error"].clone())
        .unwrap_or_default();
    let kind =
        acmeproof_protocol::problem::short_type(failed["type"].as_str().unwrap_or("no error type"));
    match failed["detail"].as_str() {
        Some(detail) => format!("{kind}: {detail}"),
        None => format!("{kind} ({failed})"),
    }
}

fn str_at<'a>(v: &'a Value, key: &str) -> Result<&'a str, FlowError> {
    v.get(key)
        .and_then(|s| s.as_str())
        .ok_or_else(|| FlowError::Unexpected(format!("no \"{key}\" in {v}")))
}

/// How a flow proves control of each name.
#[derive(Debug, Clone, Copy)]
pub enum Proof<'a> {
    /// dns-01: the TXT records go into the world's DNS directly (the in-process equivalent of
    /// an RFC 2136 UPDATE).
    Dns01(&'a DnsServer),
    /// tls-alpn-01: the responder answers (the CA's `tls_alpn01_port` must be its port).
    TlsAlpn01(&'a AlpnResponder),
}

impl Proof<'_> {
    fn challenge_type(&self) -> &'static str {
        match self {
            Proof::Dns01(_) => "dns-01",
            Proof::TlsAlpn01(_) => "tls-alpn-01",
        }
    }
}

/// Orders a certificate for `names` and proves each by dns-01, publishing the TXT records in
/// the world's DNS directly (the in-process equivalent of an RFC 2136 UPDATE).
pub async fn issue_dns01(
    client: &AcmeClient,
    dns: &DnsServer,
    names: &[&str],
    timeout: Duration,
) -> Result<Issued, FlowError> {
    issue(client, names, Proof::Dns01(dns), &Value::Null, timeout).await
}

/// Orders a certificate for `names` (`extra`: more newOrder members, e.g. RFC 9773
/// `replaces`), proves each name by `proof`, finalizes and downloads.
pub async fn issue(
    client: &AcmeClient,
    names: &[&str],
    proof: Proof<'_>,
    extra: &Value,
    timeout: Duration,
) -> Result<Issued, FlowError> {
    let identifiers: Vec<Value> = names
        .iter()
        .map(|n| json!({ "type": "dns", "value": n }))
        .collect();
    let mut payload = json!({ "identifiers": identifiers });
    if let (Some(map), Some(more)) = (payload.as_object_mut(), extra.as_object()) {
        map.extend(more.clone());
    }
    let (order_url, order) = client
        .new_order_with(&payload, &serde_json::Map::new())
        .await?;
    let thumbprint = client.key().thumbprint();
    let mut to_answer = Vec::new();
    let mut published: Vec<(String, Vec<String>)> = Vec::new();
    for authz_url in order
        .get("authorizations")
        .and_then(|a| a.as_array())
        .ok_or_else(|| FlowError::Unexpected("order without authorizations".into()))?
    {
        let authz_url = authz_url
            .as_str()
            .ok_or_else(|| FlowError::Unexpected("authorization URL is not a string".into()))?;
        let authz = client.get(authz_url).await?;
        if str_at(&authz, "status")? == "valid" {
            continue;
        }
        let domain = authz
            .get("identifier")
            .and_then(|i| i.get("value"))
            .and_then(|v| v.as_str())
            .ok_or_else(|| FlowError::Unexpected("authorization without identifier".into()))?;
        let wanted = proof.challenge_type();
        let challenge = authz
            .get("challenges")
            .and_then(|c| c.as_array())
            .and_then(|c| {
                c.iter()
                    .find(|c| c.get("type").and_then(|t| t.as_str()) == Some(wanted))
            })
            .ok_or_else(|| FlowError::Unexpected(format!("no {wanted} challenge for {domain}")))?;
        let token = str_at(challenge, "token")?;
        match proof {
            Proof::Dns01(_) => {
                let name = format!("_acme-challenge.{domain}");
                let value = acmeproof_protocol::keyauth::dns01_txt_value(token, &thumbprint);
                // A name and its wildcard share one TXT name (RFC 8555 §8.4): every value goes in.
                match published.iter_mut().find(|(n, _)| *n == name) {
                    Some((_, values)) => values.push(value),
                    None => published.push((name, vec![value])),
                }
            }
            Proof::TlsAlpn01(responder) => responder
                .serve(domain, token, &thumbprint)
                .map_err(|e| FlowError::Unexpected(e.to_string()))?,
        }
        to_answer.push((authz_url.to_owned(), str_at(challenge, "url")?.to_owned()));
    }
    if let Proof::Dns01(dns) = proof {
        for (name, values) in &published {
            dns.set_txt(name, values.clone())
                .await
                .map_err(|e| FlowError::Dns(e.to_string()))?;
        }
    }
    for (_, challenge_url) in &to_answer {
        client.respond(challenge_url).await?;
    }
    for (authz_url, _) in &to_answer {
        let authz = client.poll(authz_url, &["pending"], timeout).await?;
        if str_at(&authz, "status")? == "invalid" {
            return Err(FlowError::Invalid(authz));
        }
        if str_at(&authz, "status")? != "valid" {
            return Err(FlowError::Unexpected(format!(
                "authorization {authz_url} ended {}",
                authz
            )));
        }
    }
    match proof {
        Proof::Dns01(dns) => {
            for (name, _) in &published {
                let _ = dns
                    .remove(name, Some(hickory_proto::rr::RecordType::TXT))
                    .await;
            }
        }
        Proof::TlsAlpn01(responder) => {
            for name in names {
                responder.forget(name);
            }
        }
    }
    let order = client.poll(&order_url, &["pending"], timeout).await?;
    if str_at(&order, "status")? != "ready" {
        return Err(FlowError::Unexpected(format!(
            "order is not ready: {order}"
        )));
    }
    let key = rcgen::KeyPair::generate().map_err(|e| FlowError::Csr(e.to_string()))?;
    let mut params =
        rcgen::CertificateParams::new(names.iter().map(|n| n.to_string()).collect::<Vec<_>>())
            .map_err(|e| FlowError::Csr(e.to_string()))?;
    // RFC 8555 §7.4: "The CSR MUST indicate the exact same set of requested identifiers as the
    // initial newOrder request." rcgen's default subject, CN=rcgen self signed cert, is no
    // identifier of the order, and a strict CA rightly refuses it: the names go in the SAN only.
    params.distinguished_name = rcgen::DistinguishedName::new();
    let csr = params
        .serialize_request(&key)
        .map_err(|e| FlowError::Csr(e.to_string()))?;
    let order = client
        .finalize(str_at(&order, "finalize")?, csr.der())
        .await?;
    let order = if str_at(&order, "status")? == "valid" {
        order
    } else {
        client
            .poll(&order_url, &["ready", "processing"], timeout)
            .await?
    };
    let cert_url = str_at(&order, "certificate")?;
    let chain_pem = client.download(cert_url).await?;
    Ok(Issued {
        order_url,
        chain_pem,
        key_pem: key.serialize_pem(),
    })
}
