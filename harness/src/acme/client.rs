//! The ACME transport: one account key, one CA.

use std::sync::Mutex;
use std::time::{Duration, Instant};

use acmeproof_mocks::account_key::{AccountKey, SignWith};
use acmeproof_mocks::clock::Clock;
use reqwest::header::{self, HeaderMap};
use serde::Deserialize;
use serde_json::{Value, json};

/// The problem type of an error answer that carries no problem document.
pub const NO_PROBLEM_DOCUMENT: &str = "(no problem document)";

/// The User-Agent sent with every request (RFC 8555 §6.1, ACME-34).
pub const USER_AGENT: &str = concat!("acmeproof/", env!("CARGO_PKG_VERSION"));

/// Why a request failed.
#[derive(Debug, thiserror::Error)]
pub enum AcmeError {
    /// The connection or the HTTP exchange failed.
    #[error("HTTP: {}", one_line(.0))]
    Http(#[from] reqwest::Error),
    /// The server answered with a problem document.
    #[error("{status} {kind}: {detail}")]
    Problem {
        /// HTTP status.
        status: u16,
        /// The problem type (the URN's last part, or the whole type if not an ACME URN).
        kind: String,
        /// The detail.
        detail: String,
        /// The whole document.
        document: Value,
    },
    /// The server answered something RFC 8555 does not allow.
    #[error("protocol: {0}")]
    Protocol(String),
    /// The key could not sign.
    #[error("key: {0}")]
    Key(String),
    /// A poll did not reach a final state in time.
    #[error("timed out after {0:?} waiting for {1}")]
    Timeout(Duration, String),
}

/// The most of one answer's body the client reads: a certificate chain or an order is a few
/// KiB; a server sending more is cut off, not buffered without bound.
pub const MAX_ANSWER_OCTETS: usize = 1024 * 1024;

/// `answer`'s body, refused past [`MAX_ANSWER_OCTETS`].
/// A rustls client configuration trusting `root_pem`'s certificates, with ring named here:
/// reqwest is built without a TLS provider, and installing one process-wide would change what
/// every other TLS user in the process gets.
fn tls_config(root_pem: &str, alpn: &[&[u8]]) -> Result<rustls::ClientConfig, AcmeError> {
    use rustls::pki_types::{CertificateDer, pem::PemObject};
    let bad = |e: &dyn std::fmt::Display| AcmeError::Protocol(format!("root certificates: {e}"));
    let mut roots = rustls::RootCertStore::empty();
    for cert in CertificateDer::pem_slice_iter(root_pem.as_bytes()) {
        roots.add(cert.map_err(|e| bad(&e))?).map_err(|e| bad(&e))?;
    }
    let mut config = rustls::ClientConfig::builder_with_provider(std::sync::Arc::new(
        rustls::crypto::ring::default_provider(),
    ))
    .with_safe_default_protocol_versions()
    .map_err(|e| bad(&e))?
    .with_root_certificates(roots)
    .with_no_client_auth();
    // RFC 7301 ALPN: only the protocols asked for, so the server cannot pick another.
    config.alpn_protocols = alpn.iter().map(|p| p.to_vec()).collect();
    Ok(config)
}

pub(crate) async fn read_bounded(mut answer: reqwest::Response) -> Result<Vec<u8>, AcmeError> {
    let mut body = Vec::new();
    while let Some(chunk) = answer.chunk().await? {
        if body.len() + chunk.len() > MAX_ANSWER_OCTETS {
            return Err(AcmeError::Protocol(format!(
                "a {} answer longer than {MAX_ANSWER_OCTETS} octets",
                answer.status().as_u16()
            )));
        }
        body.extend_from_slice(&chunk);
    }
    Ok(body)
}

/// An error and its causes on one line (reqwest's own text leaves out why: "timed out",
/// "connection refused").
fn one_line(e: &(dyn std::error::Error + 'static)) -> String {
    let mut text = e.to_string();
    let mut source = e.source();
    while let Some(cause) = source {
        let more = cause.to_string();
        if !text.contains(&more) {
            text.push_str(": ");
            text.push_str(&more);
        }
        source = cause.source();
    }
    text.replace(['\n', '\r'], " ")
}

impl AcmeError {
    /// The problem type's short name (`badNonce`), if this is a problem document.
    pub fn problem_kind(&self) -> Option<&str> {
        match self {
            AcmeError::Problem { kind, .. } => Some(kind),
            _ => None,
        }
    }
}

/// RFC 8555 §7.1.1 directory.
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Directory {
    /// newNonce.
    pub new_nonce: String,
    /// newAccount.
    pub new_account: String,
    /// newOrder.
    pub new_order: String,
    /// revokeCert.
    pub revoke_cert: String,
    /// keyChange.
    pub key_change: String,
    /// meta.
    #[serde(default)]
    pub meta: Value,
}

/// A successful answer.
#[derive(Debug, Clone)]
pub struct Response {
    /// Status.
    pub status: u16,
    /// Headers.
    pub headers: HeaderMap,
    /// Body.
    pub body: Vec<u8>,
}

impl Response {
    /// The body as JSON.
    pub fn json(&self) -> Result<Value, AcmeError> {
        serde_json::from_slice(&self.body).map_err(|e| {
            let kind = header_str(&self.headers, header::CONTENT_TYPE).unwrap_or_default();
            let start: String = String::from_utf8_lossy(&self.body)
                .chars()
                .take(60)
                .map(|c| if c.is_control() { ' ' } else { c })
                .collect();
            AcmeError::Protocol(format!(
                "a {} answer ({kind}) is not JSON: {e}; it begins {start:?}",
                self.status
            ))
        })
    }

    /// The `Location` header.
    pub fn location(&self) -> Option<String> {
        header_str(&self.headers, header::LOCATION)
    }

    /// `Retry-After` in seconds.
    pub fn retry_after(&self) -> Option<u64> {
        header_str(&self.headers, header::RETRY_AFTER).and_then(|v| v.trim().parse().ok())
    }
}

fn header_str(headers: &HeaderMap, name: header::HeaderName) -> Option<String> {
    headers
        .get(name)
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned)
}

/// The HTTP version the client speaks to the CA (RFC 8555 asks for HTTPS, not for a version).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum HttpVersion {
    /// HTTP/1.1 with keep-alive: the default, as certbot's HTTP stack (Python's requests)
    /// speaks it.
    ///
    /// Why not HTTP/2 by default: hyper's HTTP/2 client sends a request's HEADERS and its DATA
    /// in two TLS records and two writes (the DATA waits for the stream's send window, which
    /// the connection task assigns after it has flushed HEADERS), and adds HPACK and a task per
    /// stream, while the client waits for each answer before its next request, so HTTP/2's
    /// multiplexing buys it nothing. Measured with `acmeproof bench dns01 --inline` on 2 cores,
    /// two alternating runs: HTTP/2 808 and 851 issuances a second at 2.14 and 2.03 ms of CPU
    /// each, HTTP/1.1 991 and 1037 at 1.74 and 1.66 ms.
    #[default]
    Http1,
    /// HTTP/2 (RFC 9113), negotiated with ALPN `h2`.
    Http2,
}

/// An HTTP client trusting `root_pem`, offering `alpn` (HTTP/1.x only when it does not offer
/// `h2`), each request bounded by `timeout`.
fn http_client(
    root_pem: &str,
    alpn: &[&[u8]],
    timeout: Duration,
) -> Result<reqwest::Client, AcmeError> {
    let builder = reqwest::Client::builder()
        .user_agent(USER_AGENT)
        .tls_backend_preconfigured(tls_config(root_pem, alpn)?)
        .no_proxy()
        .timeout(timeout)
        .pool_max_idle_per_host(64)
        // A kept-alive connection idle this long is closed rather than reused: a server may
        // be closing it at the very moment the next request goes out (the HTTP/1.1 keep-alive
        // race, and a JWS POST is not idempotent, so it is not sent again: RFC 9112 §9.3.1).
        // Servers keep idle connections open longer than this (this CA 10 s, gunicorn 2 s,
        // Apache 5 s).
        .pool_idle_timeout(KEEP_ALIVE_REUSE);
    let builder = if alpn.contains(&&b"h2"[..]) {
        builder
    } else {
        builder.http1_only()
    };
    Ok(builder.build()?)
}

/// How long an idle kept-alive connection may be reused (see [`http_client`]).
const KEEP_ALIVE_REUSE: Duration = Duration::from_secs(1);

/// What the probe's client offers (see [`AcmeClient::probe_http`]).
const PROBE_ALPN: [&[u8]; 2] = [b"h2", b"http/1.1"];

impl HttpVersion {
    fn alpn(self) -> &'static [u8] {
        match self {
            HttpVersion::Http1 => b"http/1.1",
            HttpVersion::Http2 => b"h2",
        }
    }
}

/// A client bound to one CA and one account key.
#[derive(Debug)]
pub struct AcmeClient {
    http: reqwest::Client,
    /// The probe's client, built on first use (see [`AcmeClient::probe_http`]).
    probe_http: std::sync::OnceLock<reqwest::Client>,
    /// The roots `http` trusts, for `probe_http`.
    root_pem: String,
    directory: Directory,
    key: AccountKey,
    kid: Mutex<Option<String>>,
    nonces: Mutex<Vec<String>>,
    /// Every exchange, once [`AcmeClient::record`] was called.
    wire: super::wire::HttpLog,
    /// The bound on each request after the directory (a hung server is given up on).
    request_timeout: Mutex<Duration>,
    /// The world clock of an in-process CA: its Retry-After intervals pass in world time.
    world_clock: Mutex<Option<Clock>>,
}

/// The bound on each request unless [`AcmeClient::set_request_timeout`] says otherwise.
pub const REQUEST_TIMEOUT: Duration = Duration::from_secs(30);

impl AcmeClient {
    /// Reads the directory of `directory_url`, trusting only `root_pem` for TLS.
    pub async fn connect(
        directory_url: &str,
        root_pem: &str,
        key: AccountKey,
    ) -> Result<AcmeClient, AcmeError> {
        AcmeClient::connect_bounded(directory_url, root_pem, key, REQUEST_TIMEOUT).await
    }

    /// [`AcmeClient::connect`] with every request, the directory's first, bounded by
    /// `timeout`.
    pub async fn connect_bounded(
        directory_url: &str,
        root_pem: &str,
        key: AccountKey,
        timeout: Duration,
    ) -> Result<AcmeClient, AcmeError> {
        AcmeClient::connect_over(directory_url, root_pem, key, timeout, HttpVersion::Http1).await
    }

    /// [`AcmeClient::connect_bounded`] speaking `version`; with HTTP/2, an error when the
    /// directory's answer came in another version (a server that cannot speak it).
    pub async fn connect_over(
        directory_url: &str,
        root_pem: &str,
        key: AccountKey,
        timeout: Duration,
        version: HttpVersion,
    ) -> Result<AcmeClient, AcmeError> {
        let http = http_client(root_pem, &[version.alpn()], timeout)?;
        let answer = http.get(directory_url).send().await?;
        if !answer.status().is_success() {
            return Err(AcmeError::Protocol(format!(
                "GET {directory_url} answered {}",
                answer.status()
            )));
        }
        // HTTP/1.1 asked may be answered in HTTP/1.0 (Python's http.server, acme2certifier's
        // development server, does): both are HTTP/1.x, which `http1_only` keeps to.
        if version == HttpVersion::Http2 && answer.version() != reqwest::Version::HTTP_2 {
            return Err(AcmeError::Protocol(format!(
                "GET {directory_url} came in {:?}, not HTTP/2",
                answer.version(),
            )));
        }
        let body = read_bounded(answer).await?;
        let directory: Directory = serde_json::from_slice(&body).map_err(|e| {
            AcmeError::Protocol(format!(
                "GET {directory_url}: the answer is not a directory object (error decoding it: \
                 {e})"
            ))
        })?;
        Ok(AcmeClient {
            http,
            probe_http: std::sync::OnceLock::new(),
            root_pem: root_pem.to_owned(),
            directory,
            key,
            kid: Mutex::new(None),
            nonces: Mutex::new(Vec::new()),
            wire: super::wire::HttpLog::default(),
            request_timeout: Mutex::new(timeout),
            world_clock: Mutex::new(None),
        })
    }

    /// Bounds each later request (nonce, POST) by `timeout`: a server that accepts and never
    /// answers costs at most that.
    pub fn set_request_timeout(&self, timeout: Duration) {
        *self
            .request_timeout
            .lock()
            .unwrap_or_else(|p| p.into_inner()) = timeout;
    }

    /// The CA runs in the world of `clock`: a Retry-After it sends moves that clock instead of
    /// being slept (the polls between still wait a short real back-off for the CA's work).
    pub fn wait_in_world_time(&self, clock: Clock) {
        *self.world_clock.lock().unwrap_or_else(|p| p.into_inner()) = Some(clock);
    }

    fn request_timeout(&self) -> Duration {
        *self
            .request_timeout
            .lock()
            .unwrap_or_else(|p| p.into_inner())
    }

    /// Keeps every exchange from now on, for [`AcmeClient::take_observed`] and
    /// [`AcmeClient::take_wire`] (bounded: see [`super::wire`]).
    pub fn record(&self) {
        self.wire.enable();
    }

    /// The successful answers since the last call, oldest first, and how many exchanges were
    /// dropped past the bound meanwhile.
    pub fn take_observed(&self) -> (Vec<super::wire::Observed>, usize) {
        self.wire.take_observed()
    }

    /// The directory.
    pub fn directory(&self) -> &Directory {
        &self.directory
    }

    /// The account key.
    pub fn key(&self) -> &AccountKey {
        &self.key
    }

    /// The account URL once registered.
    pub fn account_url(&self) -> Option<String> {
        self.kid.lock().unwrap_or_else(|p| p.into_inner()).clone()
    }

    /// Uses an existing account URL as `kid`.
    pub fn set_account_url(&self, url: String) {
        *self.kid.lock().unwrap_or_else(|p| p.into_inner()) = Some(url);
    }

    /// Every exchange since the last call, for a transcript, and how many were dropped past the
    /// bound meanwhile.
    pub fn take_wire(&self) -> (Vec<super::wire::HttpExchange>, usize) {
        self.wire.take_wire()
    }

    /// The underlying HTTP client (for raw requests in tests).
    pub fn http(&self) -> &reqwest::Client {
        &self.http
    }

    /// The client of deliberately broken requests (`probe`): it offers HTTP/2 and HTTP/1.1,
    /// HTTP/2 first. Over HTTP/1.1 a server that refuses a huge body by its `Content-Length`
    /// and closes at once (as this CA does) leaves the client a reset connection instead of
    /// its answer (RFC 9112 §9.6); over HTTP/2 the refusal arrives on its stream. Against a
    /// server without HTTP/2 this is HTTP/1.1 as usual.
    pub fn probe_http(&self) -> Result<&reqwest::Client, AcmeError> {
        if let Some(http) = self.probe_http.get() {
            return Ok(http);
        }
        let timeout = *self
            .request_timeout
            .lock()
            .unwrap_or_else(|p| p.into_inner());
        let http = http_client(&self.root_pem, &PROBE_ALPN, timeout)?;
        Ok(self.probe_http.get_or_init(|| http))
    }

    /// A nonce: one saved from an earlier answer, or a fresh one from newNonce.
    pub async fn nonce(&self) -> Result<String, AcmeError> {
        if let Some(n) = self.nonces.lock().unwrap_or_else(|p| p.into_inner()).pop() {
            return Ok(n);
        }
        let answer = self
            .http
            .head(&self.directory.new_nonce)
            .timeout(self.request_timeout())
            .send()
            .await?;
        self.keep_nonce(answer.headers());
        self.nonces
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .pop()
            .ok_or_else(|| AcmeError::Protocol("newNonce gave no Replay-Nonce".into()))
    }

    fn keep_nonce(&self, headers: &HeaderMap) {
        if let Some(n) = header_str(headers, header::HeaderName::from_static("replay-nonce"))
            // RFC 8555 §6.5.1: clients MUST ignore invalid Replay-Nonce values.
            && !n.is_empty()
            && acmeproof_protocol::b64url::is_alphabet(&n)
        {
            let mut nonces = self.nonces.lock().unwrap_or_else(|p| p.into_inner());
            if nonces.len() < 16 {
                nonces.push(n);
            }
        }
    }

    /// Signs and POSTs `payload` (None = POST-as-GET) to `url`, with `kid` once the account
    /// exists or `jwk` before. A badNonce answer is retried once with its fresh nonce
    /// (RFC 8555 §6.5, ACME-5).
    pub async fn post(&self, url: &str, payload: Option<&Value>) -> Result<Response, AcmeError> {
        let with = match self.account_url() {
            Some(kid) => SignWith::Kid(kid),
            None => SignWith::Jwk,
        };
        self.post_with(url, payload, with).await
    }

    /// [`AcmeClient::post`] with an explicit key reference.
    pub async fn post_with(
        &self,
        url: &str,
        payload: Option<&Value>,
        with: SignWith,
    ) -> Result<Response, AcmeError> {
        let mut retried = false;
        loop {
            let nonce = self.nonce().await?;
            let body = self
                .key
                .sign_request(with.clone(), &nonce, url, payload)
                .map_err(|e| AcmeError::Key(e.to_string()))?;
            let answer = self.send_raw(url, body.to_string().into_bytes()).await?;
            match answer {
                Err(e) if e.problem_kind() == Some("badNonce") && !retried => retried = true,
                other => return other,
            }
        }
    }

    /// Like [`AcmeClient::post`] with `kid`, with `extra` members in the protected header (the
    /// draft-ietf-acme-email-tls-00…-04 `service`/`port` JWS header parameters). A badNonce
    /// answer is retried once.
    pub async fn post_with_protected(
        &self,
        url: &str,
        payload: Option<&Value>,
        extra: &serde_json::Map<String, Value>,
    ) -> Result<Response, AcmeError> {
        let kid = self
            .account_url()
            .ok_or_else(|| AcmeError::Protocol("no account yet: call new_account".into()))?;
        let mut retried = false;
        loop {
            let nonce = self.nonce().await?;
            let mut protected = extra.clone();
            protected.insert("kid".into(), json!(kid));
            protected.insert("nonce".into(), json!(nonce));
            protected.insert("url".into(), json!(url));
            let body = self
                .key
                .sign(protected, payload)
                .map_err(|e| AcmeError::Key(e.to_string()))?;
            let answer = self.send_raw(url, body.to_string().into_bytes()).await?;
            match answer {
                Err(e) if e.problem_kind() == Some("badNonce") && !retried => retried = true,
                other => return other,
            }
        }
    }

    /// POSTs raw bytes as `application/jose+json` and sorts the answer into success or problem.
    pub async fn send_raw(
        &self,
        url: &str,
        body: Vec<u8>,
    ) -> Result<Result<Response, AcmeError>, AcmeError> {
        let exchange = self.wire.enabled().then(|| {
            super::wire::HttpExchange::request(time::OffsetDateTime::now_utc(), url, &body)
        });
        let answered = async {
            let answer = self
                .http
                .post(url)
                .header(header::CONTENT_TYPE, "application/jose+json")
                .timeout(self.request_timeout())
                .body(body)
                .send()
                .await?;
            let status = answer.status().as_u16();
            let headers = answer.headers().clone();
            let body = read_bounded(answer).await?;
            Ok::<_, AcmeError>((status, headers, body))
        }
        .await;
        let (status, headers, body) = match answered {
            Ok(answer) => answer,
            Err(e) => {
                if let Some(exchange) = exchange {
                    self.wire.record(exchange.answered(Err(e.to_string())));
                }
                return Err(e);
            }
        };
        if let Some(exchange) = exchange {
            self.wire
                .record(exchange.answered(Ok(super::wire::Received {
                    status,
                    location: header_str(&headers, header::LOCATION),
                    content_type: header_str(&headers, header::CONTENT_TYPE),
                    body: &body,
                })));
        }
        self.keep_nonce(&headers);
        if (200..300).contains(&status) {
            return Ok(Ok(Response {
                status,
                headers,
                body,
            }));
        }
        let document: Value = serde_json::from_slice(&body).unwrap_or(Value::Null);
        let kind = document
            .get("type")
            .and_then(|t| t.as_str())
            .map(|t| acmeproof_protocol::problem::short_type(t).to_owned())
            .unwrap_or_else(|| NO_PROBLEM_DOCUMENT.into());
        let detail = document
            .get("detail")
            .and_then(|d| d.as_str())
            .unwrap_or("")
            .to_owned();
        Ok(Err(AcmeError::Problem {
            status,
            kind,
            detail,
            document,
        }))
    }

    /// newAccount with `contact` (mailto URLs), agreeing to the terms. Returns the account URL.
    pub async fn new_account(&self, contact: &[String]) -> Result<String, AcmeError> {
        let payload = json!({ "termsOfServiceAgreed": true, "contact": contact });
        let url = self.directory.new_account.clone();
        let answer = self.post_with(&url, Some(&payload), SignWith::Jwk).await?;
        let account = answer
            .location()
            .ok_or_else(|| AcmeError::Protocol("newAccount answered without Location".into()))?;
        self.set_account_url(account.clone());
        Ok(account)
    }

    /// newOrder for `identifiers` (`{"type","value"}` objects). Returns the order URL and body.
    pub async fn new_order(&self, identifiers: &[Value]) -> Result<(String, Value), AcmeError> {
        let url = self.directory.new_order.clone();
        let answer = self
            .post(&url, Some(&json!({ "identifiers": identifiers })))
            .await?;
        let location = answer
            .location()
            .ok_or_else(|| AcmeError::Protocol("newOrder answered without Location".into()))?;
        Ok((location, answer.json()?))
    }

    /// newOrder with `payload` as given and `extra` protected-header members.
    pub async fn new_order_with(
        &self,
        payload: &Value,
        extra: &serde_json::Map<String, Value>,
    ) -> Result<(String, Value), AcmeError> {
        let url = self.directory.new_order.clone();
        let answer = self.post_with_protected(&url, Some(payload), extra).await?;
        let location = answer
            .location()
            .ok_or_else(|| AcmeError::Protocol("newOrder answered without Location".into()))?;
        Ok((location, answer.json()?))
    }

    /// POST-as-GET `url` as JSON.
    pub async fn get(&self, url: &str) -> Result<Value, AcmeError> {
        self.post(url, None).await?.json()
    }

    /// Tells the CA to validate a challenge (`{}`, RFC 8555 §7.5.1).
    pub async fn respond(&self, challenge_url: &str) -> Result<Value, AcmeError> {
        self.post(challenge_url, Some(&json!({}))).await?.json()
    }

    /// Polls `url` until its status is none of `waiting`, honouring Retry-After, within
    /// `timeout`.
    pub async fn poll(
        &self,
        url: &str,
        waiting: &[&str],
        timeout: Duration,
    ) -> Result<Value, AcmeError> {
        let started = Instant::now();
        let mut backoff = Duration::from_millis(2);
        loop {
            let answer = self.post(url, None).await?;
            let body = answer.json()?;
            let status = body.get("status").and_then(|s| s.as_str()).unwrap_or("");
            if !waiting.contains(&status) {
                return Ok(body);
            }
            if started.elapsed() >= timeout {
                return Err(AcmeError::Timeout(
                    timeout,
                    format!("{url} to leave {status}"),
                ));
            }
            // RFC 8555 §7.5.1: clients poll, honouring Retry-After when the server sends it.
            let asked = answer.retry_after().map(Duration::from_secs);
            let world = self
                .world_clock
                .lock()
                .unwrap_or_else(|p| p.into_inner())
                .clone();
            let wait = match (asked, world) {
                // The world's time passes by what the CA asked; the real wait is the back-off.
                (Some(asked), Some(clock)) => {
                    clock.sleep(asked).await;
                    backoff
                }
                (Some(asked), None) => asked,
                (None, _) => backoff,
            };
            tokio::time::sleep(wait.min(timeout.saturating_sub(started.elapsed()))).await;
            backoff = (backoff * 2).min(Duration::from_millis(500));
        }
    }

    /// finalize with a DER CSR; returns the order.
    pub async fn finalize(&self, finalize_url: &str, csr_der: &[u8]) -> Result<Value, AcmeError> {
        let csr = acmeproof_protocol::b64url::encode(csr_der);
        self.post(finalize_url, Some(&json!({ "csr": csr })))
            .await?
            .json()
    }

    /// Downloads a certificate chain (PEM).
    pub async fn download(&self, cert_url: &str) -> Result<String, AcmeError> {
        let answer = self.post(cert_url, None).await?;
        String::from_utf8(answer.body)
            .map_err(|_| AcmeError::Protocol("the certificate chain is not text".into()))
    }
}
