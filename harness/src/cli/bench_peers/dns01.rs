//! dns-01 issuance: `concurrency` ACME clients, each with its own account, each issuing one
//! certificate after another for a new name: newOrder, the authorization, the TXT record set
//! through the DNS server's management API, the challenge answered, the authorization and
//! then the order polled every `poll` (RFC 8555 §7.5.1), finalize, download. The client is the
//! harness's [`AcmeClient`] (josekit JWS over reqwest).

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use acmeproof_mocks::account_key::{AccountKey, KeyAlg};
use acmeproof_mocks::seed::Seed;
use serde_json::{Value, json};

use super::{Measured, Stopwatch};
use crate::acme::AcmeClient;

/// An issuance slower than this is a hung server, not a figure.
const ISSUANCE_TIMEOUT: Duration = Duration::from_secs(60);
/// One request slower than this is a hung request (Pebble has left one unanswered under this
/// load): the issuance is counted as failed and the run goes on.
const REQUEST_TIMEOUT: Duration = Duration::from_secs(10);

/// How the TXT record of a challenge gets into the CA's DNS.
#[derive(Debug, Clone)]
pub enum TxtApi {
    /// acmeproof's management API: `POST /dns/records`, `DELETE /dns/records?name=&type=TXT`.
    Served(String),
    /// pebble-challtestsrv's: `POST /set-txt`, `POST /clear-txt` (`{"host", "value"}`).
    Challtestsrv(String),
}

impl TxtApi {
    async fn set(&self, http: &reqwest::Client, name: &str, value: &str) -> Result<(), String> {
        let request = match self {
            TxtApi::Served(base) => http
                .post(format!("{base}/dns/records"))
                .json(&json!({ "name": name, "type": "TXT", "value": value })),
            TxtApi::Challtestsrv(base) => http
                .post(format!("{base}/set-txt"))
                .json(&json!({ "host": format!("{name}."), "value": value })),
        };
        check(request.send().await, "set the TXT record")
    }

    async fn clear(&self, http: &reqwest::Client, name: &str) -> Result<(), String> {
        let request = match self {
            TxtApi::Served(base) => http
                // The names are the bench's own (letters, digits, '-', '_', '.'): no escaping.
                .delete(format!("{base}/dns/records?name={name}&type=TXT")),
            TxtApi::Challtestsrv(base) => http
                .post(format!("{base}/clear-txt"))
                .json(&json!({ "host": format!("{name}.") })),
        };
        check(request.send().await, "clear the TXT record")
    }
}

fn check(answer: reqwest::Result<reqwest::Response>, what: &str) -> Result<(), String> {
    let answer = answer.map_err(|e| format!("{what}: {e}"))?;
    if !answer.status().is_success() {
        return Err(format!("{what}: HTTP {}", answer.status()));
    }
    Ok(())
}

/// One client of the run: its account, the key its CSRs are signed with.
struct Worker {
    client: AcmeClient,
    csr_key: rcgen::KeyPair,
}

/// Runs `issuances` issuances for names `{prefix}-N.example.test` against `directory_url`.
#[allow(clippy::too_many_arguments)]
pub async fn drive(
    directory_url: &str,
    root_pem: &str,
    txt: TxtApi,
    concurrency: usize,
    issuances: usize,
    poll: Duration,
    prefix: &str,
    pids: &[u32],
) -> Result<Measured, String> {
    let rng = Seed(1).stream("bench.peers.keys");
    let http = reqwest::Client::builder()
        .no_proxy()
        .timeout(Duration::from_secs(30))
        .build()
        .map_err(|e| e.to_string())?;
    let mut workers = Vec::with_capacity(concurrency);
    for _ in 0..concurrency {
        let key = AccountKey::generate(KeyAlg::Es256, &rng).map_err(|e| e.to_string())?;
        let client = AcmeClient::connect(directory_url, root_pem, key)
            .await
            .map_err(|e| format!("directory: {e}"))?;
        client
            .new_account(&[])
            .await
            .map_err(|e| format!("newAccount: {e}"))?;
        client.set_request_timeout(REQUEST_TIMEOUT);
        let csr_key = rcgen::KeyPair::generate().map_err(|e| e.to_string())?;
        workers.push(Arc::new(Worker { client, csr_key }));
    }
    let next = Arc::new(AtomicUsize::new(0));
    let failed = Arc::new(AtomicUsize::new(0));
    let first_failure = Arc::new(std::sync::Mutex::new(None::<String>));
    // More failures than this and the run has no figure: the server is broken, not slow.
    let max_failed = issuances / 10;
    let watch = Stopwatch::start(pids);
    let mut tasks = tokio::task::JoinSet::new();
    for worker in workers {
        let (next, failed, first_failure, txt, http, prefix) = (
            Arc::clone(&next),
            Arc::clone(&failed),
            Arc::clone(&first_failure),
            txt.clone(),
            http.clone(),
            prefix.to_owned(),
        );
        tasks.spawn(async move {
            loop {
                let i = next.fetch_add(1, Ordering::Relaxed);
                if i >= issuances {
                    return Ok::<_, String>(());
                }
                let name = format!("{prefix}-{i}.example.test");
                let outcome = tokio::time::timeout(
                    ISSUANCE_TIMEOUT,
                    issue(&worker, &txt, &http, &name, poll),
                )
                .await
                .map_err(|_| format!("{name}: no certificate in time"))
                .and_then(|r| r.map_err(|e| format!("{name}: {e}")));
                if let Err(why) = outcome {
                    if failed.fetch_add(1, Ordering::Relaxed) >= max_failed {
                        return Err(why);
                    }
                    first_failure
                        .lock()
                        .unwrap_or_else(std::sync::PoisonError::into_inner)
                        .get_or_insert(why);
                }
            }
        });
    }
    while let Some(done) = tasks.join_next().await {
        done.map_err(|e| e.to_string())??;
    }
    let failed = failed.load(Ordering::Relaxed);
    let mut measured = watch.stop(issuances - failed);
    measured.failed = failed;
    measured.first_failure = first_failure
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
        .take();
    Ok(measured)
}

fn field<'a>(v: &'a Value, name: &str) -> Result<&'a str, String> {
    v.get(name)
        .and_then(Value::as_str)
        .ok_or_else(|| format!("no {name} in {v}"))
}

/// One issuance for `name`.
async fn issue(
    worker: &Worker,
    txt: &TxtApi,
    http: &reqwest::Client,
    name: &str,
    poll: Duration,
) -> Result<(), String> {
    let client = &worker.client;
    let e = |e: crate::acme::AcmeError| e.to_string();
    let (order_url, order) = client
        .new_order(&[json!({ "type": "dns", "value": name })])
        .await
        .map_err(e)?;
    let authz_url = order["authorizations"][0]
        .as_str()
        .ok_or("an order without authorizations")?
        .to_owned();
    let authz = client.get(&authz_url).await.map_err(e)?;
    let challenge = authz["challenges"]
        .as_array()
        .and_then(|c| c.iter().find(|c| c["type"] == "dns-01"))
        .ok_or("no dns-01 challenge")?;
    let value = acmeproof_protocol::keyauth::dns01_txt_value(
        field(challenge, "token")?,
        &client.key().thumbprint(),
    );
    let txt_name = format!("_acme-challenge.{name}");
    txt.set(http, &txt_name, &value).await?;
    client.respond(field(challenge, "url")?).await.map_err(e)?;
    let authz = poll_until(client, &authz_url, "pending", poll).await?;
    txt.clear(http, &txt_name).await?;
    if authz["status"] != "valid" {
        return Err(format!("the authorization ended {}", authz["status"]));
    }
    let mut params =
        rcgen::CertificateParams::new(vec![name.to_owned()]).map_err(|e| e.to_string())?;
    // RFC 8555 §7.4: "The CSR MUST indicate the exact same set of requested identifiers as the
    // initial newOrder request": the name goes in the SAN only.
    params.distinguished_name = rcgen::DistinguishedName::new();
    let csr = params
        .serialize_request(&worker.csr_key)
        .map_err(|e| e.to_string())?;
    let order = client
        .finalize(field(&order, "finalize")?, csr.der())
        .await
        .map_err(e)?;
    let order = if order["status"] == "valid" {
        order
    } else {
        poll_until(client, &order_url, "processing", poll).await?
    };
    if order["status"] != "valid" {
        return Err(format!("the order ended {}", order["status"]));
    }
    let chain = client
        .download(field(&order, "certificate")?)
        .await
        .map_err(e)?;
    if !chain.contains("-----BEGIN CERTIFICATE-----") {
        return Err("the download is no certificate chain".into());
    }
    Ok(())
}

/// POST-as-GET `url` every `poll` while its status is `waiting` (or `ready` for an order
/// still being finalized: some CAs show it until they start).
async fn poll_until(
    client: &AcmeClient,
    url: &str,
    waiting: &str,
    poll: Duration,
) -> Result<Value, String> {
    let started = Instant::now();
    loop {
        tokio::time::sleep(poll).await;
        let v = client.get(url).await.map_err(|e| e.to_string())?;
        let status = v["status"].as_str().unwrap_or_default();
        if status != waiting && !(waiting == "processing" && status == "ready") {
            return Ok(v);
        }
        if started.elapsed() > ISSUANCE_TIMEOUT {
            return Err(format!("{url} stayed {status}"));
        }
    }
}
