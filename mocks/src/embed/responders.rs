//! The challenge responders a client test needs: dns-01 TXT records in the world's DNS and an
//! http-01 server where the CA fetches from.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, PoisonError};

use axum::Router;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::routing::get;
use hickory_proto::rr::RecordType;
use tokio::net::TcpListener;

use crate::dns::{DnsError, DnsServer};
use crate::https::{self, Served};

/// Publishes and clears the TXT record of a dns-01 challenge (RFC 8555 §8.4) in the world's
/// DNS: `_acme-challenge.<domain>`.
#[derive(Debug, Clone)]
pub struct Dns01Responder {
    dns: Arc<DnsServer>,
}

impl Dns01Responder {
    pub(crate) fn new(dns: Arc<DnsServer>) -> Self {
        Dns01Responder { dns }
    }

    /// The owner name of `domain`'s challenge record (a wildcard's base name is used, RFC 8555
    /// §8.4: "the domain name ... without the wildcard prefix").
    pub fn record_name(domain: &str) -> String {
        format!("_acme-challenge.{}", domain.trim_start_matches("*."))
    }

    /// Publishes `value` (the base64url SHA-256 of the key authorization) for `domain`,
    /// replacing what was there.
    pub async fn publish(&self, domain: &str, value: &str) -> Result<(), DnsError> {
        self.dns
            .set_txt(&Self::record_name(domain), vec![value.to_owned()])
            .await
    }

    /// Removes `domain`'s challenge record; whether there was one.
    pub async fn clear(&self, domain: &str) -> Result<bool, DnsError> {
        self.dns
            .remove(&Self::record_name(domain), Some(RecordType::TXT))
            .await
    }
}

type Tokens = Arc<Mutex<HashMap<String, String>>>;

/// Serves `/.well-known/acme-challenge/<token>` (RFC 8555 §8.3) on a loopback port; the world
/// points its CA's http-01 port there, and its names resolve to 127.0.0.1.
#[derive(Debug)]
pub struct Http01Responder {
    tokens: Tokens,
    served: Served,
}

impl Http01Responder {
    pub(crate) async fn start() -> std::io::Result<Http01Responder> {
        let tokens = Tokens::default();
        let listener = TcpListener::bind("127.0.0.1:0").await?;
        let router = Router::new()
            .route("/.well-known/acme-challenge/{token}", get(answer))
            .with_state(Arc::clone(&tokens));
        let served = https::serve(listener, None, router)?;
        Ok(Http01Responder { tokens, served })
    }

    /// The port it listens on.
    pub fn port(&self) -> u16 {
        self.served.addr().port()
    }

    /// Answers `key_authorization` for `token` from now on.
    pub fn publish(&self, token: &str, key_authorization: &str) {
        self.lock()
            .insert(token.to_owned(), key_authorization.to_owned());
    }

    /// Stops answering for `token`; whether it was served.
    pub fn clear(&self, token: &str) -> bool {
        self.lock().remove(token).is_some()
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<String, String>> {
        self.tokens.lock().unwrap_or_else(PoisonError::into_inner)
    }

    pub(crate) async fn shutdown(self) {
        self.served.shutdown().await;
    }
}

async fn answer(State(tokens): State<Tokens>, Path(token): Path<String>) -> (StatusCode, String) {
    let tokens = tokens.lock().unwrap_or_else(PoisonError::into_inner);
    match tokens.get(&token) {
        Some(key_authorization) => (StatusCode::OK, key_authorization.clone()),
        None => (
            StatusCode::NOT_FOUND,
            format!("no key authorization for {token}"),
        ),
    }
}
