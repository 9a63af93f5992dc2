//! The CA's HTTP face: routing, the headers every answer carries, chaos, and the request
//! history. The resources themselves live in [`super::accounts`], [`super::orders`] and
//! [`super::authz`].

use std::collections::VecDeque;
use std::sync::{Arc, Mutex, RwLock};

use axum::Router;
use axum::body::{Body, Bytes};
use axum::extract::{Request, State};
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode, header};
use axum::response::Response;
use serde::Serialize;
use serde_json::Value;

use super::config::CaConfig;
use super::knobs::Knobs;
use super::nonce::NonceStore;
use super::pki::Pki;
use super::problem::{Problem, ProblemType};
use super::state::Store;
use super::urls::{Urls, paths};
use crate::clock::{Clock, rfc3339};
use crate::dns::WorldResolver;
use crate::seed::{Seed, SeededRng};

/// The largest request body read (RFC 8555 requests are small; a CSR is a few KiB).
pub const MAX_BODY_OCTETS: usize = 64 * 1024;
/// How many requests the history keeps.
pub const HISTORY_LIMIT: usize = 10_000;
/// How many received mails the CA's inbox keeps.
pub const INBOX_LIMIT: usize = 1_000;

/// Everything a request handler can reach.
#[derive(Debug)]
pub struct CaShared {
    /// The URL space.
    pub urls: Urls,
    /// The world clock.
    pub clock: Clock,
    /// Root, intermediate and issuance.
    pub pki: Arc<Pki>,
    /// Lookups in the world's DNS (dns-01, http-01 addresses, CAA).
    pub resolver: WorldResolver,
    /// Static configuration.
    pub config: CaConfig,
    /// Nonces.
    pub nonces: NonceStore,
    /// Knobs, changeable at runtime.
    pub knobs: RwLock<Knobs>,
    /// Accounts, orders, authorizations, challenges, certificates.
    pub store: Mutex<Store>,
    /// Ids of new objects.
    pub ids: SeededRng,
    /// Challenge tokens.
    pub tokens: SeededRng,
    /// Knob draws (nonce rejection, chaos).
    pub dice: SeededRng,
    /// The seed, for components that need their own streams.
    pub seed: Seed,
    /// Requests seen, oldest first.
    pub history: Mutex<VecDeque<RequestRecord>>,
    /// Sequence number of the next request.
    pub next_seq: std::sync::atomic::AtomicU64,
    /// Wakes waiters when a validation finishes.
    pub validations: tokio::sync::broadcast::Sender<String>,
    /// The mail plane, once the world has one (RFC 8823 challenges stay pending without it).
    pub mail: std::sync::OnceLock<super::email::CaMail>,
    /// Every mail the CA's MX accepted, oldest first (at most [`INBOX_LIMIT`]): what a judge
    /// of an external client reads its replies from, whatever way they came.
    pub inbox: Mutex<VecDeque<Arc<[u8]>>>,
    /// Where a capability-*-00 validation of port P really connects (the world's mail servers
    /// listen on loopback ports chosen by the system, not on 25/993/…); unmapped ports are
    /// used as they are. See [`CaShared::map_port`].
    pub connect_ports: RwLock<std::collections::BTreeMap<u16, u16>>,
    /// The last CRL number issued (RFC 5280 §5.2.3: monotonically increasing).
    pub crl_number: std::sync::atomic::AtomicU64,
}

/// One request as the management API shows it.
#[derive(Debug, Clone, Serialize)]
pub struct RequestRecord {
    /// Arrival order.
    pub seq: u64,
    /// World time.
    pub at: String,
    /// HTTP method.
    pub method: String,
    /// Path.
    pub path: String,
    /// The answer's status.
    pub status: u16,
    /// The problem type of an error answer.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub problem: Option<String>,
    /// The problem document's `detail`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub detail: Option<String>,
    /// The requirement the request broke, as the CA decided it (a catalogue id).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub violates: Option<String>,
    /// The JWS protected header, when the request carried one that parsed.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub protected: Option<Value>,
    /// The JWS payload (`""` for POST-as-GET), when it parsed.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub payload: Option<Value>,
    /// The User-Agent sent.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub user_agent: Option<String>,
    /// The answer's Replay-Nonce: after a badNonce, the one the client must retry with (RFC
    /// 8555 §6.5, ACME-5).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub replay_nonce: Option<String>,
}

impl CaShared {
    /// A snapshot of the knobs.
    pub fn knobs(&self) -> Knobs {
        self.knobs.read().unwrap_or_else(|p| p.into_inner()).clone()
    }

    /// Replaces the knobs.
    pub fn set_knobs(&self, knobs: Knobs) {
        *self.knobs.write().unwrap_or_else(|p| p.into_inner()) = knobs;
    }

    /// Makes capability validations of `port` connect to `actual` instead (the in-process
    /// equivalent of a port forward; http-01 has the `http01_port` knob for the same reason).
    pub fn map_port(&self, port: u16, actual: u16) {
        self.connect_ports
            .write()
            .unwrap_or_else(|p| p.into_inner())
            .insert(port, actual);
    }

    /// The port a capability validation of `port` connects to.
    pub fn connect_port(&self, port: u16) -> u16 {
        self.connect_ports
            .read()
            .unwrap_or_else(|p| p.into_inner())
            .get(&port)
            .copied()
            .unwrap_or(port)
    }

    /// Locks the store.
    pub fn store(&self) -> std::sync::MutexGuard<'_, Store> {
        self.store.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// A new object id.
    pub fn new_id(&self) -> String {
        self.ids.token(9)
    }

    /// A copy of the request history.
    pub fn history(&self) -> Vec<RequestRecord> {
        self.history
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .iter()
            .cloned()
            .collect()
    }

    /// A copy of the mails the CA's MX accepted, oldest first.
    pub fn inbox(&self) -> Vec<Arc<[u8]>> {
        self.inbox
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .iter()
            .cloned()
            .collect()
    }

    /// Keeps a mail the CA's MX accepted.
    pub fn keep_mail(&self, raw: &[u8]) {
        let mut inbox = self.inbox.lock().unwrap_or_else(|p| p.into_inner());
        if inbox.len() >= INBOX_LIMIT {
            inbox.pop_front();
        }
        inbox.push_back(Arc::from(raw));
    }

    /// Forgets the request history.
    pub fn clear_history(&self) {
        self.history
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .clear();
    }

    fn record(&self, record: RequestRecord) {
        let mut history = self.history.lock().unwrap_or_else(|p| p.into_inner());
        if history.len() >= HISTORY_LIMIT {
            history.pop_front();
        }
        history.push_back(record);
    }
}

/// What a handler answers on success.
#[derive(Debug)]
pub struct Reply {
    /// Status.
    pub status: StatusCode,
    /// Extra headers (Location, Link, Retry-After).
    pub headers: Vec<(header::HeaderName, String)>,
    /// Content type and body.
    pub body: Option<(&'static str, Vec<u8>)>,
}

impl Reply {
    /// A JSON answer.
    pub fn json(status: StatusCode, value: &Value) -> Self {
        Reply {
            status,
            headers: Vec::new(),
            body: Some(("application/json", value.to_string().into_bytes())),
        }
    }

    /// An empty answer.
    pub fn empty(status: StatusCode) -> Self {
        Reply {
            status,
            headers: Vec::new(),
            body: None,
        }
    }

    /// Adds a header.
    pub fn with(mut self, name: header::HeaderName, value: impl Into<String>) -> Self {
        self.headers.push((name, value.into()));
        self
    }

    /// Adds a `Location`.
    pub fn location(self, url: impl Into<String>) -> Self {
        self.with(header::LOCATION, url)
    }

    /// Adds a `Link` with relation `rel`.
    pub fn link(self, url: &str, rel: &str) -> Self {
        self.with(header::LINK, format!("<{url}>;rel=\"{rel}\""))
    }
}

/// What a handler gets: the shared state and the request, body already read.
#[derive(Debug)]
pub struct Incoming {
    /// Method.
    pub method: Method,
    /// Path (no query).
    pub path: String,
    /// The full URL the JWS `url` must equal (ACME-12).
    pub url: String,
    /// Headers.
    pub headers: HeaderMap,
    /// Body.
    pub body: Bytes,
}

/// Filled by handlers for the history: what the JWS said.
#[derive(Debug, Default)]
pub struct Observed {
    /// Protected header.
    pub protected: Option<Value>,
    /// Payload.
    pub payload: Option<Value>,
}

/// The routes of RFC 8555 §7.1, parsed from a path.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Route {
    /// `/directory`.
    Directory,
    /// `/terms`.
    Terms,
    /// newNonce.
    NewNonce,
    /// newAccount.
    NewAccount,
    /// An account.
    Account(String),
    /// An account's orders.
    AccountOrders(String),
    /// keyChange.
    KeyChange,
    /// newOrder.
    NewOrder,
    /// An order.
    Order(String),
    /// An order's finalize.
    Finalize(String),
    /// An authorization.
    Authz(String),
    /// A challenge.
    Challenge(String),
    /// A certificate.
    Cert(String),
    /// revokeCert.
    RevokeCert,
    /// ARI renewal information for a certificate identifier (RFC 9773 §4).
    RenewalInfo(String),
    /// The CRL.
    Crl,
}

impl Route {
    /// Parses a path; `None` is a 404.
    pub fn parse(path: &str) -> Option<Route> {
        let fixed = [
            (paths::DIRECTORY, Route::Directory),
            (paths::TERMS, Route::Terms),
            (paths::NEW_NONCE, Route::NewNonce),
            (paths::NEW_ACCOUNT, Route::NewAccount),
            (paths::KEY_CHANGE, Route::KeyChange),
            (paths::NEW_ORDER, Route::NewOrder),
            (paths::REVOKE_CERT, Route::RevokeCert),
            (paths::CRL, Route::Crl),
        ];
        if let Some((_, route)) = fixed.iter().find(|(p, _)| *p == path) {
            return Some(route.clone());
        }
        // RFC 9773 §4.1: base64url, a period, base64url (checked when answered); bounded.
        if let Some(cert_id) = path
            .strip_prefix(paths::RENEWAL_INFO)
            .and_then(|rest| rest.strip_prefix('/'))
        {
            let plausible = (1..=512).contains(&cert_id.len())
                && cert_id
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b"-_.=".contains(&b));
            return plausible.then(|| Route::RenewalInfo(cert_id.to_owned()));
        }
        let segments: Vec<&str> = path.trim_start_matches('/').split('/').collect();
        let id = |s: &str| {
            (!s.is_empty()
                && s.bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_'))
            .then(|| s.to_owned())
        };
        match segments.as_slice() {
            ["acme", "acct", a] => id(a).map(Route::Account),
            ["acme", "acct", a, "orders"] => id(a).map(Route::AccountOrders),
            ["acme", "order", o] => id(o).map(Route::Order),
            ["acme", "order", o, "finalize"] => id(o).map(Route::Finalize),
            ["acme", "authz", a] => id(a).map(Route::Authz),
            ["acme", "chall", c] => id(c).map(Route::Challenge),
            ["acme", "cert", c] => id(c).map(Route::Cert),
            _ => None,
        }
    }

    /// The endpoint name used by chaos knobs.
    pub fn endpoint(&self) -> &'static str {
        match self {
            Route::Directory | Route::Terms => "directory",
            Route::NewNonce => "new-nonce",
            Route::NewAccount => "new-account",
            Route::Account(_) => "account",
            Route::AccountOrders(_) => "orders",
            Route::KeyChange => "key-change",
            Route::NewOrder => "new-order",
            Route::Order(_) => "order",
            Route::Finalize(_) => "finalize",
            Route::Authz(_) => "authz",
            Route::Challenge(_) => "challenge",
            Route::Cert(_) => "certificate",
            Route::RevokeCert => "revoke-cert",
            Route::RenewalInfo(_) => "renewal-info",
            Route::Crl => "crl",
        }
    }
}

/// The CA's axum router: one fallback that routes by hand, so that 404, 405, chaos and the
/// common headers are decided in one place.
pub fn router(shared: Arc<CaShared>) -> Router {
    Router::new().fallback(handle).with_state(shared)
}

async fn handle(State(ca): State<Arc<CaShared>>, request: Request) -> Response {
    let (parts, body) = request.into_parts();
    let path = parts.uri.path().to_owned();
    let user_agent = parts
        .headers
        .get(header::USER_AGENT)
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned);
    let route = Route::parse(&path);
    let mut observed = Observed::default();
    let mut close = false;
    let result = match crate::https::read_body(
        &parts.headers,
        body,
        MAX_BODY_OCTETS,
        crate::https::BODY_TIMEOUT,
    )
    .await
    {
        Err(error) => {
            // RFC 8555 names no status for these; 413 and 408 are RFC 9110's, with the
            // problem type for a request that could not be read. The body was not read to
            // its end, so the connection closes (`https::BodyError`).
            close = true;
            Err(Problem::malformed(error.to_string()).with_status(error.status()))
        }
        Ok(body) => {
            let incoming = Incoming {
                method: parts.method.clone(),
                url: ca.urls.at(&path),
                path: path.clone(),
                headers: parts.headers,
                body,
            };
            dispatch(&ca, route.as_ref(), &incoming, &mut observed).await
        }
    };
    let is_directory = route == Some(Route::Directory);
    let is_nonce = route == Some(Route::NewNonce);
    let (response, status, problem, detail, violates) = match result {
        Ok(reply) => {
            let status = reply.status.as_u16();
            (build(reply), status, None, None, None)
        }
        Err(problem) => {
            let status = problem.status;
            let kind = problem.kind.name().to_owned();
            let violates = problem.violates.map(str::to_owned);
            let detail = Some(problem.detail.clone());
            (
                problem_response(&problem),
                status,
                Some(kind),
                detail,
                violates,
            )
        }
    };
    let mut response = finish(&ca, response, is_directory, is_nonce);
    if close {
        // RFC 9112 §9.6: the rest of a late body must not be read as the next request.
        response
            .headers_mut()
            .insert(header::CONNECTION, HeaderValue::from_static("close"));
    }
    ca.record(RequestRecord {
        seq: ca
            .next_seq
            .fetch_add(1, std::sync::atomic::Ordering::Relaxed),
        at: rfc3339(ca.clock.now()),
        method: parts.method.to_string(),
        path,
        status,
        problem,
        detail,
        violates,
        protected: observed.protected,
        payload: observed.payload,
        user_agent,
        replay_nonce: response
            .headers()
            .get("replay-nonce")
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned),
    });
    response
}

async fn dispatch(
    ca: &Arc<CaShared>,
    route: Option<&Route>,
    req: &Incoming,
    observed: &mut Observed,
) -> Result<Reply, Problem> {
    let Some(route) = route else {
        return Err(Problem::malformed(format!("no resource at {}", req.path)).with_status(404));
    };
    if let Some(broken) = chaos(ca, route).await? {
        return Ok(broken);
    }
    if ca.knobs().strict && !req.headers.contains_key(header::USER_AGENT) {
        // RFC 8555 §6.1 (ACME-34): "ACME clients MUST send a User-Agent header field".
        return Err(Problem::malformed(
            "strict mode: RFC 8555 §6.1 requires a User-Agent header",
        ));
    }
    match (route, &req.method) {
        (Route::Directory, &Method::GET | &Method::HEAD) => Ok(directory(ca)),
        (Route::Terms, &Method::GET | &Method::HEAD) => Ok(Reply {
            status: StatusCode::OK,
            headers: Vec::new(),
            body: Some((
                "text/plain; charset=utf-8",
                super::config::TERMS_TEXT.as_bytes().to_vec(),
            )),
        }),
        // RFC 8555 §7.2: HEAD → 200, GET → 204, both with a nonce (added by `finish`).
        (Route::NewNonce, &Method::HEAD) => Ok(Reply::empty(StatusCode::OK)),
        (Route::NewNonce, &Method::GET) => Ok(Reply::empty(StatusCode::NO_CONTENT)),
        // RFC 9773 §4.2: renewalInfo is read with an unauthenticated GET.
        (Route::RenewalInfo(id), &Method::GET | &Method::HEAD) => super::renewal_info::get(ca, id),
        // RFC 5280 §4.2.1.13: the distribution point serves "a single DER encoded CRL".
        (Route::Crl, &Method::GET | &Method::HEAD) => super::crl::get(ca),
        (
            Route::Directory | Route::Terms | Route::NewNonce | Route::RenewalInfo(_) | Route::Crl,
            _,
        ) => Err(method_not_allowed(
            "GET, HEAD",
            "this resource is read with GET",
        )),
        (_, &Method::POST) => super::resources::post(ca, route, req, observed).await,
        // RFC 8555 §6.3 (ACME-14): everything else is POST or POST-as-GET only.
        _ => Err(method_not_allowed(
            "POST",
            "use POST-as-GET (RFC 8555 §6.3): plain GET is only for the directory and newNonce",
        )),
    }
}

fn method_not_allowed(allow: &str, detail: &str) -> Problem {
    let mut problem = Problem::malformed(detail).with_status(405);
    problem.links.clear();
    problem.allow = Some(allow.to_owned());
    problem
}

/// How long a `hang` holds a request: past any client's bound; the CA's shutdown drops it.
const HANG: std::time::Duration = std::time::Duration::from_secs(3600);

/// The knob chaos on `route`: a problem, an answer no ACME server may give, or nothing.
async fn chaos(ca: &CaShared, route: &Route) -> Result<Option<Reply>, Problem> {
    let knobs = ca.knobs();
    let Some(chaos) = knobs.chaos.get(route.endpoint()) else {
        return Ok(None);
    };
    let retry_after = chaos.retry_after_secs.unwrap_or(1);
    if ca.dice.chance(chaos.rate_limited) {
        let mut p = Problem::new(ProblemType::RateLimited, "rate limited (knob chaos)");
        p.retry_after = Some(retry_after);
        return Err(p);
    }
    if ca.dice.chance(chaos.unavailable) {
        let mut p = Problem::internal("service unavailable (knob chaos)").with_status(503);
        p.retry_after = Some(retry_after);
        return Err(p);
    }
    if ca.dice.chance(chaos.internal) {
        return Err(Problem::internal("internal error (knob chaos)"));
    }
    let body = |status: StatusCode, kind: &'static str, text: &str| Reply {
        status,
        headers: Vec::new(),
        body: Some((kind, text.as_bytes().to_vec())),
    };
    if ca.dice.chance(chaos.garbage) {
        return Ok(Some(body(
            StatusCode::OK,
            "application/json",
            "{\"status\": \"valid\", <- not JSON (knob chaos)",
        )));
    }
    if ca.dice.chance(chaos.html) {
        return Ok(Some(body(
            StatusCode::OK,
            "text/html; charset=utf-8",
            "<!DOCTYPE html><html><body><h1>Welcome</h1></body></html>",
        )));
    }
    if ca.dice.chance(chaos.wrong_status) {
        return Ok(Some(body(
            StatusCode::IM_A_TEAPOT,
            "text/plain; charset=utf-8",
            "I'm a teapot (knob chaos)",
        )));
    }
    if ca.dice.chance(chaos.hang) {
        tokio::time::sleep(HANG).await;
    }
    Ok(None)
}

fn directory(ca: &CaShared) -> Reply {
    let urls = &ca.urls;
    let mut meta = serde_json::Map::new();
    if ca.config.terms_of_service {
        meta.insert("termsOfService".into(), urls.at(paths::TERMS).into());
    }
    meta.insert(
        "website".into(),
        Value::String("https://example.invalid/acmeproof".into()),
    );
    meta.insert(
        "caaIdentities".into(),
        serde_json::json!(ca.config.caa_identities),
    );
    meta.insert(
        "externalAccountRequired".into(),
        Value::Bool(ca.config.eab.as_ref().is_some_and(|e| e.required)),
    );
    // RFC 8555 §7.1.1: no pre-authorization, so no newAuthz (ACME-1).
    let dir = serde_json::json!({
        "newNonce": urls.at(paths::NEW_NONCE),
        "newAccount": urls.at(paths::NEW_ACCOUNT),
        "newOrder": urls.at(paths::NEW_ORDER),
        "revokeCert": urls.at(paths::REVOKE_CERT),
        "keyChange": urls.at(paths::KEY_CHANGE),
        // RFC 9773 §3 (ACME-40).
        "renewalInfo": urls.at(paths::RENEWAL_INFO),
        "meta": meta,
    });
    Reply::json(StatusCode::OK, &dir)
}

fn build(reply: Reply) -> Response {
    let mut builder = Response::builder().status(reply.status);
    for (name, value) in reply.headers {
        if let Ok(value) = HeaderValue::from_str(&value) {
            builder = builder.header(name, value);
        }
    }
    let body = match reply.body {
        Some((content_type, bytes)) => {
            builder = builder.header(header::CONTENT_TYPE, content_type);
            Body::from(bytes)
        }
        None => Body::empty(),
    };
    builder
        .body(body)
        .unwrap_or_else(|_| Response::new(Body::empty()))
}

/// The HTTP answer for a problem (RFC 7807 `application/problem+json`, ACME-30).
pub fn problem_response(problem: &Problem) -> Response {
    let mut builder = Response::builder()
        .status(StatusCode::from_u16(problem.status).unwrap_or(StatusCode::BAD_REQUEST))
        .header(header::CONTENT_TYPE, "application/problem+json");
    if let Some(secs) = problem.retry_after {
        builder = builder.header(header::RETRY_AFTER, secs.to_string());
    }
    if let Some(location) = &problem.location {
        builder = builder.header(header::LOCATION, location.as_str());
    }
    if let Some(allow) = &problem.allow {
        builder = builder.header(header::ALLOW, allow.as_str());
    }
    for link in &problem.links {
        builder = builder.header(header::LINK, link.as_str());
    }
    builder
        .body(Body::from(problem.body().to_string()))
        .unwrap_or_else(|_| Response::new(Body::empty()))
}

/// The headers every answer carries: a fresh nonce (ACME-3/4; RFC 8555 §6.5 wants one on
/// every successful POST answer and on badNonce errors, and allows it everywhere), the index
/// link (ACME-31), CORS (§6.1 SHOULD) and `no-store` on newNonce (ACME-2).
fn finish(ca: &CaShared, mut response: Response, is_directory: bool, is_nonce: bool) -> Response {
    let headers = response.headers_mut();
    if let Ok(nonce) = HeaderValue::from_str(&ca.nonces.issue()) {
        headers.insert("replay-nonce", nonce);
    }
    if !is_directory
        && let Ok(link) = HeaderValue::from_str(&format!("<{}>;rel=\"index\"", ca.urls.directory()))
    {
        headers.append(header::LINK, link);
    }
    if is_nonce {
        headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    }
    headers.insert(
        header::ACCESS_CONTROL_ALLOW_ORIGIN,
        HeaderValue::from_static("*"),
    );
    response
}
