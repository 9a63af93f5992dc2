//! The management API: JSON over plain HTTP on its own loopback port, for tests, scripts and
//! the harness. It reads and changes the world; it is not part of any protocol under test.
//!
//! | method | path | what |
//! |---|---|---|
//! | GET | `/` | this index |
//! | GET | `/roots` | root and intermediate PEM |
//! | GET | `/roots/0` | the root PEM alone (as Pebble serves it) |
//! | GET | `/certs/{serial}` | status of a certificate by serial (hex) |
//! | GET, PATCH | `/knobs` | the CA knobs; PATCH merges a JSON object |
//! | GET, DELETE | `/history` | the CA's request history |
//! | GET, POST, DELETE | `/dns/records` | `?name=` lists; POST a record; DELETE `?name=&type=` |
//! | GET, DELETE | `/dns/history` | DNS queries seen |
//! | PUT, DELETE | `/dns/faults` | PUT `{"name", "fault"}`; DELETE `?name=` |
//! | POST | `/clock/advance` | `{"seconds": n}` moves the world clock (422 past 9999-12-31T23:59:59Z) |
//! | GET | `/mail/messages?address=` | a user's INBOX: uid, size, date, flags, From, Subject |
//! | GET | `/mail/message?address=&uid=` | one message, raw (`message/rfc822`) |
//! | GET | `/mail/relays` | what each relay passed on: envelope, size, outcome |
//! | GET, PUT, DELETE | `/mail/acme/{service}` | the `ACME` capability of a service's server (draft-ietf-acme-email-tls-05 §3.4): PUT `{"digest", "phase"?}`, phase `always` \| `before-tls` \| `after-tls` |

use std::collections::HashMap;
use std::sync::Arc;

use axum::Json;
use axum::Router;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use serde::Deserialize;
use serde_json::{Value, json};

use crate::ca::CaShared;
use crate::ca::pki::Pki;
use crate::clock::{Clock, rfc3339};
use crate::dns::{DnsServer, Fault, RecordSpec};
use crate::https::{self, Served};
// The mail routes need the world's mail plane (feature `mailbox`).
#[cfg(feature = "mailbox")]
use crate::mail::acme::{AcmeAdvert, AdvertPhase};
#[cfg(feature = "mailbox")]
use crate::protocol::email_tls::Service;

/// What the API reaches.
#[derive(Debug, Clone)]
pub struct Management {
    /// The DNS.
    pub dns: Arc<DnsServer>,
    /// The PKI.
    pub pki: Arc<Pki>,
    /// The CA's shared state.
    pub ca: Arc<CaShared>,
    /// The world clock.
    pub clock: Clock,
    /// The mail plane, when the world has one.
    #[cfg(feature = "mailbox")]
    pub mail: Option<MailView>,
}

/// What the API reads of the mail plane.
#[cfg(feature = "mailbox")]
#[derive(Debug, Clone)]
pub struct MailView {
    /// The mailboxes.
    pub store: crate::mailstore::MailStore,
    /// The relays, in chain order.
    pub relays: Vec<(String, Arc<crate::relay::RelaySink>)>,
    /// The `ACME` capability handle of each service's server.
    pub acme: Vec<(Service, AcmeAdvert)>,
}

/// Starts the API on 127.0.0.1 (a port chosen by the system).
pub async fn start(state: Management) -> std::io::Result<Served> {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    https::serve(listener, None, router(state))
}

/// The API's routes.
pub fn router(state: Management) -> Router {
    // The routes are the same in every world: matched paths are parsed once per process, and
    // each world only hands its state to a copy.
    static ROUTES: std::sync::OnceLock<Router<Management>> = std::sync::OnceLock::new();
    ROUTES.get_or_init(routes).clone().with_state(state)
}

fn routes() -> Router<Management> {
    let router = Router::new()
        .route("/", get(index))
        .route("/roots", get(roots))
        .route("/roots/0", get(root_pem))
        .route("/certs/{serial}", get(cert_status))
        .route("/knobs", get(get_knobs).patch(patch_knobs))
        .route("/history", get(history).delete(clear_history))
        .route(
            "/dns/records",
            get(dns_records).post(dns_add).delete(dns_remove),
        )
        .route("/dns/history", get(dns_history).delete(dns_clear_history))
        .route(
            "/dns/faults",
            axum::routing::put(dns_fault).delete(dns_clear_fault),
        )
        .route("/clock/advance", post(advance_clock));
    #[cfg(feature = "mailbox")]
    let router = router
        .route("/mail/messages", get(mail_messages))
        .route("/mail/message", get(mail_message))
        .route("/mail/relays", get(mail_relays))
        .route(
            "/mail/acme/{service}",
            get(acme_get).put(acme_put).delete(acme_delete),
        );
    router.layer(axum::middleware::from_fn(bounded_body))
}

/// The largest request body the API reads (a knob patch or a DNS record is far smaller).
pub const MAX_BODY_OCTETS: usize = 64 * 1024;

/// Reads every request body within [`MAX_BODY_OCTETS`] and [`https::BODY_TIMEOUT`] before a
/// route sees it: 413 at once for a larger `Content-Length`, 408 for a body that stalls, and
/// the connection closed after either.
async fn bounded_body(request: axum::extract::Request, next: axum::middleware::Next) -> Response {
    let (parts, body) = request.into_parts();
    match https::read_body(&parts.headers, body, MAX_BODY_OCTETS, https::BODY_TIMEOUT).await {
        Ok(body) => {
            next.run(axum::extract::Request::from_parts(parts, body.into()))
                .await
        }
        Err(e) => {
            let status = StatusCode::from_u16(e.status()).unwrap_or(StatusCode::BAD_REQUEST);
            let mut response = error(status, e.to_string());
            // The body was not read to its end: the connection closes (`https::BodyError`).
            response.headers_mut().insert(
                axum::http::header::CONNECTION,
                axum::http::HeaderValue::from_static("close"),
            );
            response
        }
    }
}

fn error(status: StatusCode, message: impl Into<String>) -> Response {
    (status, Json(json!({ "error": message.into() }))).into_response()
}

async fn index(State(m): State<Management>) -> Json<Value> {
    Json(json!({
        "directory": m.ca.urls.directory(),
        "dns": m.dns.addr().to_string(),
        "now": rfc3339(m.clock.now()),
        "routes": [
            "GET /roots", "GET /roots/0", "GET /certs/{serial}", "GET|PATCH /knobs",
            "GET|DELETE /history", "GET|POST|DELETE /dns/records", "GET|DELETE /dns/history",
            "PUT|DELETE /dns/faults", "POST /clock/advance", "GET /mail/messages",
            "GET /mail/message", "GET /mail/relays", "GET|PUT|DELETE /mail/acme/{service}"
        ],
    }))
}

async fn roots(State(m): State<Management>) -> Json<Value> {
    Json(json!({ "root": m.pki.root_pem(), "intermediate": m.pki.intermediate_pem() }))
}

async fn root_pem(State(m): State<Management>) -> Response {
    (
        [(axum::http::header::CONTENT_TYPE, "application/x-pem-file")],
        m.pki.root_pem().to_owned(),
    )
        .into_response()
}

async fn cert_status(State(m): State<Management>, Path(serial): Path<String>) -> Response {
    let serial = serial.to_ascii_lowercase().replace(':', "");
    let store = m.ca.store();
    match store
        .certs_by_serial
        .get(&serial)
        .and_then(|id| store.certs.get(id))
    {
        Some(cert) => Json(cert.status_json()).into_response(),
        None => error(
            StatusCode::NOT_FOUND,
            format!("no certificate with serial {serial}"),
        ),
    }
}

async fn get_knobs(State(m): State<Management>) -> Json<Value> {
    Json(serde_json::to_value(m.ca.knobs()).unwrap_or(Value::Null))
}

async fn patch_knobs(State(m): State<Management>, body: axum::body::Bytes) -> Response {
    let patch: Value = match serde_json::from_slice(&body) {
        Ok(v) => v,
        Err(e) => return error(StatusCode::BAD_REQUEST, format!("not JSON: {e}")),
    };
    match m.ca.knobs().merged(&patch) {
        Ok(knobs) => {
            m.ca.set_knobs(knobs.clone());
            Json(serde_json::to_value(knobs).unwrap_or(Value::Null)).into_response()
        }
        Err(e) => error(StatusCode::BAD_REQUEST, e),
    }
}

async fn history(State(m): State<Management>) -> Json<Value> {
    Json(serde_json::to_value(m.ca.history()).unwrap_or(Value::Null))
}

async fn clear_history(State(m): State<Management>) -> StatusCode {
    m.ca.clear_history();
    StatusCode::NO_CONTENT
}

async fn dns_records(
    State(m): State<Management>,
    Query(q): Query<HashMap<String, String>>,
) -> Response {
    let Some(name) = q.get("name") else {
        return error(StatusCode::BAD_REQUEST, "?name= is required");
    };
    match m.dns.records(name).await {
        Ok(records) => Json(serde_json::to_value(records).unwrap_or(Value::Null)).into_response(),
        Err(e) => error(StatusCode::BAD_REQUEST, e.to_string()),
    }
}

async fn dns_add(State(m): State<Management>, body: axum::body::Bytes) -> Response {
    let spec: RecordSpec = match serde_json::from_slice(&body) {
        Ok(s) => s,
        Err(e) => return error(StatusCode::BAD_REQUEST, format!("not a record: {e}")),
    };
    match m.dns.add(spec).await {
        Ok(()) => StatusCode::CREATED.into_response(),
        Err(e) => error(StatusCode::BAD_REQUEST, e.to_string()),
    }
}

async fn dns_remove(
    State(m): State<Management>,
    Query(q): Query<HashMap<String, String>>,
) -> Response {
    let Some(name) = q.get("name") else {
        return error(StatusCode::BAD_REQUEST, "?name= is required");
    };
    let rtype = match q.get("type").map(|t| t.to_ascii_uppercase().parse()) {
        None => None,
        Some(Ok(t)) => Some(t),
        Some(Err(_)) => return error(StatusCode::BAD_REQUEST, "unknown record type"),
    };
    match m.dns.remove(name, rtype).await {
        Ok(true) => StatusCode::NO_CONTENT.into_response(),
        Ok(false) => error(StatusCode::NOT_FOUND, format!("no such records at {name}")),
        Err(e) => error(StatusCode::BAD_REQUEST, e.to_string()),
    }
}

async fn dns_history(State(m): State<Management>) -> Json<Value> {
    Json(serde_json::to_value(m.dns.history()).unwrap_or(Value::Null))
}

async fn dns_clear_history(State(m): State<Management>) -> StatusCode {
    m.dns.clear_history();
    StatusCode::NO_CONTENT
}

#[derive(Debug, Deserialize)]
struct FaultRequest {
    name: String,
    fault: Fault,
}

async fn dns_fault(State(m): State<Management>, body: axum::body::Bytes) -> Response {
    match serde_json::from_slice::<FaultRequest>(&body) {
        Ok(req) => match m.dns.set_fault(&req.name, req.fault) {
            Ok(()) => StatusCode::NO_CONTENT.into_response(),
            Err(e) => error(StatusCode::BAD_REQUEST, e.to_string()),
        },
        Err(e) => error(
            StatusCode::BAD_REQUEST,
            format!("expected {{\"name\", \"fault\"}}: {e}"),
        ),
    }
}

async fn dns_clear_fault(
    State(m): State<Management>,
    Query(q): Query<HashMap<String, String>>,
) -> Response {
    let Some(name) = q.get("name") else {
        return error(StatusCode::BAD_REQUEST, "?name= is required");
    };
    match m.dns.clear_fault(name) {
        Ok(()) => StatusCode::NO_CONTENT.into_response(),
        Err(e) => error(StatusCode::BAD_REQUEST, e.to_string()),
    }
}

#[derive(Debug, Deserialize)]
struct Advance {
    seconds: i64,
}

async fn advance_clock(State(m): State<Management>, body: axum::body::Bytes) -> Response {
    match serde_json::from_slice::<Advance>(&body) {
        // The world's times are written as RFC 3339 and X.509 times: four-digit years only.
        Ok(a) => match m.clock.try_advance(time::Duration::seconds(a.seconds)) {
            Ok(now) => Json(json!({ "now": rfc3339(now) })).into_response(),
            Err(e) => error(StatusCode::UNPROCESSABLE_ENTITY, e.to_string()),
        },
        Err(e) => error(
            StatusCode::BAD_REQUEST,
            format!("expected {{\"seconds\": n}}: {e}"),
        ),
    }
}

#[cfg(feature = "mailbox")]
fn mail_view(m: &Management) -> Result<&MailView, Response> {
    m.mail
        .as_ref()
        .ok_or_else(|| error(StatusCode::NOT_FOUND, "this world has no mail plane"))
}

#[cfg(feature = "mailbox")]
async fn mail_messages(
    State(m): State<Management>,
    Query(q): Query<HashMap<String, String>>,
) -> Response {
    let view = match mail_view(&m) {
        Ok(v) => v,
        Err(r) => return r,
    };
    let Some(address) = q.get("address") else {
        return error(StatusCode::BAD_REQUEST, "?address= is required");
    };
    match view.store.messages(address, crate::mailstore::INBOX) {
        Ok(messages) => {
            let list: Vec<Value> = messages
                .iter()
                .map(|msg| {
                    let parsed = mail_parser::MessageParser::default().parse_headers(&msg.raw);
                    json!({
                        "uid": msg.uid,
                        "size": msg.size,
                        "internal_date": rfc3339(msg.internal_date),
                        "flags": msg.flags,
                        "from": parsed.as_ref().and_then(|p| p.from()).and_then(|f| f.first()).and_then(|a| a.address()).map(str::to_owned),
                        "subject": parsed.as_ref().and_then(|p| p.subject()).map(str::to_owned),
                    })
                })
                .collect();
            Json(Value::Array(list)).into_response()
        }
        Err(e) => error(StatusCode::NOT_FOUND, e.to_string()),
    }
}

#[cfg(feature = "mailbox")]
async fn mail_message(
    State(m): State<Management>,
    Query(q): Query<HashMap<String, String>>,
) -> Response {
    let view = match mail_view(&m) {
        Ok(v) => v,
        Err(r) => return r,
    };
    let (Some(address), Some(uid)) = (q.get("address"), q.get("uid").and_then(|u| u.parse().ok()))
    else {
        return error(
            StatusCode::BAD_REQUEST,
            "?address= and a numeric ?uid= are required",
        );
    };
    match view.store.message(address, crate::mailstore::INBOX, uid) {
        Some(msg) => (
            [(axum::http::header::CONTENT_TYPE, "message/rfc822")],
            msg.raw.to_vec(),
        )
            .into_response(),
        None => error(
            StatusCode::NOT_FOUND,
            format!("no message {uid} for {address}"),
        ),
    }
}

#[cfg(feature = "mailbox")]
async fn mail_relays(State(m): State<Management>) -> Response {
    let view = match mail_view(&m) {
        Ok(v) => v,
        Err(r) => return r,
    };
    let relays: Vec<Value> = view
        .relays
        .iter()
        .map(|(host, sink)| {
            json!({
                "host": host,
                "behaviour": sink.behaviour(),
                "forwarded": sink.forwarded().iter().map(|f| json!({
                    "mail_from": f.envelope.mail_from,
                    "rcpt_to": f.envelope.rcpt_to,
                    "size": f.data.len(),
                    "outcome": match &f.outcome { Ok(()) => "delivered".to_owned(), Err(e) => e.clone() },
                })).collect::<Vec<_>>(),
            })
        })
        .collect();
    Json(Value::Array(relays)).into_response()
}

#[cfg(feature = "mailbox")]
fn acme_handle(m: &Management, service: &str) -> Result<(Service, AcmeAdvert), Response> {
    let view = mail_view(m)?;
    let service: Service =
        service
            .parse()
            .map_err(|e: crate::protocol::email_tls::EmailTlsError| {
                error(StatusCode::NOT_FOUND, e.to_string())
            })?;
    view.acme
        .iter()
        .find(|(s, _)| *s == service)
        .cloned()
        .ok_or_else(|| error(StatusCode::NOT_FOUND, format!("no server for {service}")))
}

#[cfg(feature = "mailbox")]
async fn acme_get(State(m): State<Management>, Path(service): Path<String>) -> Response {
    match acme_handle(&m, &service) {
        Ok((service, handle)) => {
            Json(json!({ "service": service, "digest": handle.get() })).into_response()
        }
        Err(r) => r,
    }
}

#[cfg(feature = "mailbox")]
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct AcmePut {
    digest: String,
    #[serde(default)]
    phase: AdvertPhase,
}

#[cfg(feature = "mailbox")]
async fn acme_put(
    State(m): State<Management>,
    Path(service): Path<String>,
    body: axum::body::Bytes,
) -> Response {
    let (service, handle) = match acme_handle(&m, &service) {
        Ok(h) => h,
        Err(r) => return r,
    };
    let put: AcmePut = match serde_json::from_slice(&body) {
        Ok(p) => p,
        Err(e) => {
            return error(
                StatusCode::BAD_REQUEST,
                format!("expected {{\"digest\": \"...\", \"phase\"?: \"always\"}}: {e}"),
            );
        }
    };
    match handle.set_in(&put.digest, put.phase) {
        Ok(()) => Json(json!({ "service": service, "digest": put.digest })).into_response(),
        Err(e) => error(StatusCode::BAD_REQUEST, e.to_string()),
    }
}

#[cfg(feature = "mailbox")]
async fn acme_delete(State(m): State<Management>, Path(service): Path<String>) -> Response {
    match acme_handle(&m, &service) {
        Ok((_, handle)) => {
            handle.clear();
            StatusCode::NO_CONTENT.into_response()
        }
        Err(r) => r,
    }
}
