//! The world's "port 25": every mail host of a world listens on 127.0.0.1 with its own port, so
//! next-hop selection is an MX lookup in the world's DNS (RFC 5321 §5.1) followed by a lookup of
//! the exchange's host name in this table.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::{Arc, RwLock};

use crate::dns::{LookupError, WorldResolver};

/// Host name → the address its SMTP server listens on.
#[derive(Debug, Clone, Default)]
pub struct MailRoutes {
    hosts: Arc<RwLock<HashMap<String, SocketAddr>>>,
}

/// Why no next hop was found.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RouteError {
    /// The domain has neither MX nor address records (RFC 5321 §5.1: no implicit MX).
    #[error("no MX or address record for {0}")]
    NoRoute(String),
    /// The DNS failed (SERVFAIL, timeout): a transient failure.
    #[error("DNS lookup for {0} failed: {1}")]
    Dns(String, String),
    /// The exchange is not a host of this world.
    #[error("{0} is not a mail host of this world")]
    UnknownHost(String),
}

impl RouteError {
    /// Whether a later retry might succeed (RFC 5321 §4.5.4: transient failures are retried).
    pub fn is_transient(&self) -> bool {
        matches!(self, RouteError::Dns(..))
    }
}

fn key(host: &str) -> String {
    host.trim_end_matches('.').to_ascii_lowercase()
}

impl MailRoutes {
    /// Registers `host` (e.g. `mx.example.test`) at `addr`.
    pub fn insert(&self, host: &str, addr: SocketAddr) {
        self.hosts
            .write()
            .unwrap_or_else(|p| p.into_inner())
            .insert(key(host), addr);
    }

    /// The address of `host`, if it is one of the world's.
    pub fn get(&self, host: &str) -> Option<SocketAddr> {
        self.hosts
            .read()
            .unwrap_or_else(|p| p.into_inner())
            .get(&key(host))
            .copied()
    }

    /// Every host, sorted (for `serve` to print).
    pub fn all(&self) -> Vec<(String, SocketAddr)> {
        let mut all: Vec<_> = self
            .hosts
            .read()
            .unwrap_or_else(|p| p.into_inner())
            .iter()
            .map(|(h, a)| (h.clone(), *a))
            .collect();
        all.sort();
        all
    }

    /// The next hop for mail to `domain`: the most preferred MX that is a world host, or the
    /// domain itself when it has no MX but an address (the implicit MX of RFC 5321 §5.1).
    pub async fn next_hop(
        &self,
        resolver: &WorldResolver,
        domain: &str,
    ) -> Result<(String, SocketAddr), RouteError> {
        let domain = crate::protocol::address::domain_to_a_labels(domain)
            .unwrap_or_else(|_| domain.to_ascii_lowercase());
        match resolver.mx(&domain).await {
            Ok(mut exchanges) => {
                exchanges.sort();
                for (_, host) in &exchanges {
                    if let Some(addr) = self.get(host) {
                        return Ok((key(host), addr));
                    }
                }
                Err(RouteError::UnknownHost(
                    exchanges
                        .first()
                        .map(|(_, h)| key(h))
                        .unwrap_or_else(|| domain.clone()),
                ))
            }
            Err(LookupError::NxDomain) => Err(RouteError::NoRoute(domain)),
            Err(LookupError::NoRecords) => match resolver.ips(&domain).await {
                Ok(ips) if !ips.is_empty() => self
                    .get(&domain)
                    .map(|addr| (domain.clone(), addr))
                    .ok_or(RouteError::UnknownHost(domain)),
                _ => Err(RouteError::NoRoute(domain)),
            },
            Err(e) => Err(RouteError::Dns(domain, e.to_string())),
        }
    }
}
