//! The mock ACME CA (RFC 8555 over HTTPS), with RFC 8823 `email` identifiers.
//!
//! ```text
//!  https request ─► server (route, chaos, headers, history)
//!                     └─► resources::authenticate (jws: shape, nonce, url, key, signature)
//!                           └─► accounts │ orders (identifiers, finalize → pki) │ authz
//!                                                                               └─► validate
//!                                                       (dns-01, http-01, CAA via the world DNS)
//! ```
//!
//! - [`problem`]: problem documents and the error-type registry;
//! - [`jws`]: request authentication (flattened JWS, keys, `crit`, EAB, keyChange);
//! - [`pki`]: the world's root and intermediate, CSRs, certificate profiles;
//! - [`state`], [`model`]: the objects and their transitions; [`knobs`]: behaviour switches.

pub mod accounts;
mod any_certificate;
pub mod authz;
pub mod config;
pub mod crl;
#[cfg_attr(not(feature = "mail"), path = "email_off.rs")]
pub mod email;
pub mod email_tls;
pub mod identifiers;
pub mod jws;
pub mod knobs;
pub mod model;
pub mod nonce;
pub mod orders;
pub mod pki;
pub mod problem;
pub mod renewal_info;
pub mod resources;
pub mod revoke;
pub mod server;
pub mod state;
pub mod urls;
pub mod validate;
pub mod validate_alpn;
#[cfg_attr(not(feature = "email-tls"), path = "validate_tls_off.rs")]
pub mod validate_tls;

use std::collections::VecDeque;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex, RwLock};
use std::time::Duration;

use tokio::net::TcpListener;

pub use config::{CaConfig, EabConfig};
pub use knobs::Knobs;
pub use problem::{Problem, ProblemType};

use crate::clock::Clock;
use crate::dns::WorldResolver;
use crate::https::{self, Served};
use crate::seed::Seed;

/// What the CA shares with the rest of the world.
#[derive(Debug, Clone)]
pub struct CaContext {
    /// The world's seed.
    pub seed: Seed,
    /// The world's clock.
    pub clock: Clock,
    /// The world's PKI.
    pub pki: Arc<pki::Pki>,
    /// The world's DNS, for validation.
    pub resolver: WorldResolver,
}

/// Why the CA could not start.
#[derive(Debug, thiserror::Error)]
pub enum CaError {
    /// Binding or serving failed.
    #[error("CA socket: {0}")]
    Io(#[from] std::io::Error),
    /// A knob is out of range.
    #[error(transparent)]
    Knob(#[from] knobs::KnobError),
    /// The TLS certificate could not be made.
    #[error("CA TLS certificate: {0}")]
    Tls(String),
}

/// A running CA.
#[derive(Debug)]
pub struct Ca {
    shared: Arc<CaShared>,
    served: Served,
}

pub use server::CaShared;

impl Ca {
    /// Starts the CA on 127.0.0.1 (a port chosen by the system), over HTTPS under the world
    /// PKI.
    pub async fn start(config: CaConfig, ctx: CaContext) -> Result<Ca, CaError> {
        config.knobs.validate()?;
        let listener = TcpListener::bind("127.0.0.1:0").await?;
        let addr = listener.local_addr()?;
        let tls = ctx
            .pki
            .tls_server_config(&["127.0.0.1", "localhost"])
            .map_err(|e| CaError::Tls(e.to_string()))?;
        let (validations, _) = tokio::sync::broadcast::channel(1024);
        let shared = Arc::new(CaShared {
            urls: urls::Urls::new(format!("https://{addr}")),
            clock: ctx.clock,
            pki: ctx.pki,
            resolver: ctx.resolver,
            nonces: nonce::NonceStore::new(ctx.seed.stream("ca.nonce")),
            knobs: RwLock::new(config.knobs.clone()),
            config,
            store: Mutex::new(state::Store::default()),
            ids: ctx.seed.stream("ca.id"),
            tokens: ctx.seed.stream("ca.token"),
            dice: ctx.seed.stream("ca.dice"),
            seed: ctx.seed,
            history: Mutex::new(VecDeque::new()),
            next_seq: std::sync::atomic::AtomicU64::new(0),
            validations,
            mail: std::sync::OnceLock::new(),
            inbox: Mutex::new(VecDeque::new()),
            connect_ports: RwLock::new(Default::default()),
            crl_number: std::sync::atomic::AtomicU64::new(0),
        });
        let served = https::serve(listener, Some(tls), server::router(Arc::clone(&shared)))?;
        tracing::info!(%addr, "ACME CA listening");
        Ok(Ca { shared, served })
    }

    /// The directory URL, e.g. `https://127.0.0.1:40123/directory`.
    pub fn directory_url(&self) -> String {
        self.shared.urls.directory()
    }

    /// The bound address.
    pub fn addr(&self) -> SocketAddr {
        self.served.addr()
    }

    /// The HTTPS server's bounds and open connections.
    pub fn served(&self) -> &Served {
        &self.served
    }

    /// The state the handlers share (knobs, store, history).
    pub fn shared(&self) -> &Arc<CaShared> {
        &self.shared
    }

    /// Waits until `check` holds for the CA's store, or `timeout` passes; re-checked whenever a
    /// validation finishes, a reply is judged or a challenge mail goes out. Returns whether it
    /// held.
    pub async fn wait_until(
        &self,
        check: impl Fn(&state::Store) -> bool,
        timeout: Duration,
    ) -> bool {
        let mut events = self.shared.validations.subscribe();
        if check(&self.shared.store()) {
            return true;
        }
        let wait = async {
            loop {
                match events.recv().await {
                    Ok(_) | Err(tokio::sync::broadcast::error::RecvError::Lagged(_)) => {
                        if check(&self.shared.store()) {
                            return true;
                        }
                    }
                    Err(tokio::sync::broadcast::error::RecvError::Closed) => return false,
                }
            }
        };
        tokio::time::timeout(timeout, wait).await.unwrap_or(false)
    }

    /// Waits until the validation of challenge `challenge` (its URL or id) finishes.
    pub async fn wait_for_validation(&self, challenge: &str, timeout: Duration) -> bool {
        let id = challenge.rsplit('/').next().unwrap_or(challenge);
        self.wait_until(
            |store| {
                store.challenges.get(id).is_some_and(|c| {
                    matches!(
                        c.status,
                        model::ChallengeStatus::Valid | model::ChallengeStatus::Invalid
                    )
                })
            },
            timeout,
        )
        .await
    }

    /// Waits until a reply to challenge `challenge` (URL or id) was ignored (send-once).
    pub async fn wait_for_ignored_reply(&self, challenge: &str, timeout: Duration) -> bool {
        let id = challenge.rsplit('/').next().unwrap_or(challenge);
        self.wait_until(
            |store| store.email.get(id).is_some_and(|e| e.ignored_replies > 0),
            timeout,
        )
        .await
    }

    /// Connects the CA to the world's mail plane (once): challenge mails can go out.
    pub fn set_mail(&self, mail: email::CaMail) {
        let _ = self.shared.mail.set(mail);
    }

    /// Stops serving.
    pub async fn shutdown(self) {
        self.served.shutdown().await;
    }
}
