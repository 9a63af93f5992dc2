//! The world's authoritative DNS server: hickory-server in-memory zones behind a handler that
//! adds RFC 2136 UPDATE (optionally TSIG-signed, RFC 8945), per-name faults and a query history;
//! plus [`WorldResolver`], the client the rest of acmeproof uses to ask it.
//!
//! ```text
//!   TCP 127.0.0.1:PORT ─► hickory Server ─┐
//!   UDP 127.0.0.1:PORT ─► udp.rs receivers ┴─► Handler ─┬─ UPDATE ─► update.rs ─► zones
//!                                                       ├─ fault (servfail / no-answer / TC)
//!                                                       └─ query ──► Catalog ──► zones
//!                                                          (TSIG-verified: signed.rs signs it)
//!                                             every request ─► history
//!   (UDP: an unsigned, fault-free query seen before is answered from answer_cache.rs while
//!    nothing has changed since)
//! ```
//!
//! History times come from the [`Clock`] given to [`DnsServer::start_with_clock`]
//! ([`Clock::system`] for [`DnsServer::start`]).

mod answer_cache;
pub mod bench;
mod faults;
mod handler;
mod history;
mod records;
mod resolver;
mod signed;
mod tsig;
mod udp;
mod update;
mod zones;

use std::collections::HashMap;
use std::net::{Ipv4Addr, SocketAddr};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use hickory_proto::rr::{LowerName, RecordType};
use hickory_server::Server;
use serde::{Deserialize, Deserializer, Serialize};
use tokio::net::{TcpListener, UdpSocket};

pub use faults::Fault;
pub use history::{QueryRecord, Transport};
pub use records::{DEFAULT_TTL, RecordParseError, RecordSpec, RecordValue, parse_name, split_txt};
pub use resolver::{CaaRecord, LookupError, WorldResolver};
pub use tsig::{TsigAlgorithmSpec, TsigConfigError, TsigKeySpec};

use crate::clock::Clock;
use handler::{Handler, Shared};

/// Largest TCP response hickory buffers per connection (RFC 1035 §4.2.2: 16-bit length).
const TCP_RESPONSE_BUFFER: usize = 65_535;
/// How long [`DnsServer::shutdown`] waits for hickory's tasks.
const SHUTDOWN_BOUND: Duration = Duration::from_secs(5);

/// The `[dns]` table of a scenario.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(default, deny_unknown_fields)]
pub struct DnsConfig {
    /// Zone apexes served (U-labels accepted, stored as A-labels).
    pub zones: Vec<String>,
    /// Records loaded at start; each must lie inside one of `zones`.
    pub records: Vec<RecordSpec>,
    /// TSIG key for UPDATE (and signed queries).
    pub tsig: Option<TsigKeySpec>,
    /// Whether unsigned UPDATE is accepted. `None` means: yes without a TSIG key, no with one.
    pub allow_unsigned_update: Option<bool>,
    /// How long an idle TCP client is kept (seconds in TOML; default 5).
    #[serde(deserialize_with = "de_secs", serialize_with = "ser_secs")]
    pub tcp_idle_timeout: Duration,
    /// Where to listen (UDP and TCP on the same port). `None`: a free port on 127.0.0.1. A
    /// server under test that only takes a resolver on port 53 gets, say, 127.0.0.53:53 (when
    /// the process may bind it).
    pub listen: Option<std::net::SocketAddr>,
}

fn ser_secs<S: serde::Serializer>(d: &Duration, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_f64(d.as_secs_f64())
}

fn de_secs<'de, D: Deserializer<'de>>(d: D) -> Result<Duration, D::Error> {
    let secs = f64::deserialize(d)?;
    Duration::try_from_secs_f64(secs).map_err(serde::de::Error::custom)
}

impl Default for DnsConfig {
    fn default() -> Self {
        DnsConfig {
            zones: Vec::new(),
            records: Vec::new(),
            tsig: None,
            allow_unsigned_update: None,
            tcp_idle_timeout: Duration::from_secs(5),
            listen: None,
        }
    }
}

impl DnsConfig {
    /// The effective unsigned-UPDATE policy (see [`DnsConfig::allow_unsigned_update`]).
    pub fn allows_unsigned_update(&self) -> bool {
        self.allow_unsigned_update.unwrap_or(self.tsig.is_none())
    }
}

/// Why the server could not start or a change was rejected.
#[derive(Debug, thiserror::Error)]
pub enum DnsError {
    /// Binding or configuring a socket failed.
    #[error("dns: socket: {0}")]
    Io(#[from] std::io::Error),
    /// A zone apex is not a valid name.
    #[error("dns: zone {0:?}: {1}")]
    Zone(String, String),
    /// A record does not parse.
    #[error("dns: {0}")]
    Record(#[from] RecordParseError),
    /// A record's name lies in none of the zones.
    #[error("dns: {0} is not inside any configured zone")]
    OutsideZones(String),
    /// hickory refused the record (e.g. a CNAME next to other data).
    #[error("dns: record {0} refused by the zone (CNAME conflict?)")]
    Refused(String),
    /// The TSIG key is unusable.
    #[error("dns: {0}")]
    Tsig(#[from] TsigConfigError),
}

/// A running DNS server. Dropping it aborts the server's tasks; [`DnsServer::shutdown`] stops
/// it gracefully within a bound.
pub struct DnsServer {
    addr: SocketAddr,
    shared: Arc<Shared>,
    tsig: Option<TsigKeySpec>,
    server: Option<Server<Handler>>,
    udp: Option<udp::UdpReceivers>,
}

impl std::fmt::Debug for DnsServer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DnsServer")
            .field("addr", &self.addr)
            .finish_non_exhaustive()
    }
}

impl DnsServer {
    /// Starts the server on 127.0.0.1 (UDP and TCP on one port), history on the wall clock.
    pub async fn start(config: DnsConfig) -> Result<DnsServer, DnsError> {
        Self::start_with_clock(config, Clock::system()).await
    }

    /// Like [`DnsServer::start`], with history times read from `clock`.
    pub async fn start_with_clock(config: DnsConfig, clock: Clock) -> Result<DnsServer, DnsError> {
        let signer = config.tsig.as_ref().map(TsigKeySpec::signer).transpose()?;
        let shared = Arc::new(Shared {
            zones: zones::Zones::new(),
            faults: Mutex::new(HashMap::new()),
            history: history::History::new(),
            clock,
            signer,
            allow_unsigned_update: config.allows_unsigned_update(),
        });
        for apex in &config.zones {
            add_zone(&shared, apex).await?;
        }
        for spec in &config.records {
            add_record(&shared, spec).await?;
        }

        let (udp, tcp) = match config.listen {
            Some(addr) => bind_at(addr).await?,
            None => bind_pair().await?,
        };
        let addr = udp.local_addr()?;
        let mut server = Server::new(Handler(shared.clone()));
        // UDP is read by our own receivers (udp.rs), TCP by hickory's server: one handler.
        let udp = udp::UdpReceivers::start(udp, Arc::new(Handler(shared.clone())));
        server.register_listener(tcp, config.tcp_idle_timeout, TCP_RESPONSE_BUFFER);
        tracing::info!(%addr, zones = ?config.zones, "dns server listening");
        Ok(DnsServer {
            addr,
            shared,
            tsig: config.tsig,
            server: Some(server),
            udp: Some(udp),
        })
    }

    /// The address of both the UDP socket and the TCP listener.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// The zone apexes served, as A-labels with a trailing dot.
    pub async fn zones(&self) -> Vec<String> {
        self.shared.zones.apexes().await
    }

    /// The configured TSIG key, for clients (nsupdate `-y`, certbot, lego).
    pub fn tsig_key(&self) -> Option<&TsigKeySpec> {
        self.tsig.as_ref()
    }

    /// Adds a record (appended to its RRset); visible to the next query. Bumps the SOA serial.
    pub async fn add(&self, spec: RecordSpec) -> Result<(), DnsError> {
        add_record(&self.shared, &spec).await
    }

    /// Removes the RRset of `rtype` at `name`, or every RRset there when `rtype` is `None`
    /// (the apex SOA and NS stay). Returns whether anything was removed.
    pub async fn remove(&self, name: &str, rtype: Option<RecordType>) -> Result<bool, DnsError> {
        let (zone, lower, apex) = self.zone_of(name).await?;
        let _edit = self.shared.zones.edit().await;
        let at_apex = lower == apex;
        let changed = zones::retain(&zone, &lower, |r| {
            let t = r.record_type();
            rtype.is_none_or(|want| want == t)
                && !(at_apex && matches!(t, RecordType::SOA | RecordType::NS))
        })
        .await;
        if changed {
            zones::bump_serial(&zone).await;
        }
        Ok(changed)
    }

    /// Replaces the TXT RRset at `name` by one record per string (each split at 255 octets).
    pub async fn set_txt(&self, name: &str, values: Vec<String>) -> Result<(), DnsError> {
        let specs: Vec<RecordSpec> = values
            .into_iter()
            .map(|v| RecordSpec::new(name, "TXT", v.as_str()))
            .collect();
        let records = specs
            .iter()
            .map(RecordSpec::to_record)
            .collect::<Result<Vec<_>, _>>()?;
        let (zone, lower, _) = self.zone_of(name).await?;
        let _edit = self.shared.zones.edit().await;
        zones::retain(&zone, &lower, |r| r.record_type() == RecordType::TXT).await;
        for r in records {
            zones::add(&zone, r).await;
        }
        zones::bump_serial(&zone).await;
        Ok(())
    }

    /// The records stored at `name` (all types), for a management API.
    pub async fn records(&self, name: &str) -> Result<Vec<RecordSpec>, DnsError> {
        let (zone, lower, _) = self.zone_of(name).await?;
        Ok(zones::records_at(&zone, &lower)
            .await
            .iter()
            .map(RecordSpec::from_record)
            .collect())
    }

    /// Adds a zone (with synthesised SOA and NS); an existing apex is left as it is.
    pub async fn add_zone(&self, apex: &str) -> Result<(), DnsError> {
        add_zone(&self.shared, apex).await
    }

    /// Makes every query for exactly `name` misbehave as `fault` (replacing any earlier one).
    pub fn set_fault(&self, name: &str, fault: Fault) -> Result<(), DnsError> {
        let lower = lower_name(name)?;
        self.shared
            .faults
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .insert(lower, fault);
        self.shared.zones.changed();
        Ok(())
    }

    /// Removes the fault on `name`, if any.
    pub fn clear_fault(&self, name: &str) -> Result<(), DnsError> {
        let lower = lower_name(name)?;
        self.shared
            .faults
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .remove(&lower);
        self.shared.zones.changed();
        Ok(())
    }

    /// Every request handled so far, oldest first.
    pub fn history(&self) -> Vec<QueryRecord> {
        self.shared.history.snapshot()
    }

    /// Forgets the history.
    pub fn clear_history(&self) {
        self.shared.history.clear();
    }

    /// The first history record (past or future) matching `pred`, or `None` after `timeout`.
    pub async fn wait_for_query(
        &self,
        pred: impl Fn(&QueryRecord) -> bool,
        timeout: Duration,
    ) -> Option<QueryRecord> {
        self.shared.history.wait_for(pred, timeout).await
    }

    /// Stops accepting requests and waits (at most a few seconds) for hickory's tasks to end.
    pub async fn shutdown(mut self) {
        if let Some(udp) = self.udp.take() {
            udp.stop().await;
        }
        if let Some(mut server) = self.server.take() {
            match tokio::time::timeout(SHUTDOWN_BOUND, server.shutdown_gracefully()).await {
                Ok(Ok(())) => tracing::debug!(addr = %self.addr, "dns server stopped"),
                Ok(Err(error)) => tracing::warn!(%error, "dns server stopped with an error"),
                // Dropping `server` below aborts whatever is left.
                Err(_) => tracing::warn!("dns server did not stop in time; aborting its tasks"),
            }
        }
    }

    async fn zone_of(
        &self,
        name: &str,
    ) -> Result<
        (
            Arc<hickory_server::store::in_memory::InMemoryZoneHandler>,
            LowerName,
            LowerName,
        ),
        DnsError,
    > {
        let lower = lower_name(name)?;
        let inner = self.shared.zones.read().await;
        let (apex, zone) = inner
            .zone_for(&lower)
            .ok_or_else(|| DnsError::OutsideZones(name.to_owned()))?;
        Ok((zone, lower, apex))
    }
}

fn lower_name(name: &str) -> Result<LowerName, DnsError> {
    let parsed = parse_name(name).map_err(|reason| {
        DnsError::Record(RecordParseError::Name {
            record: name.to_owned(),
            reason,
        })
    })?;
    Ok(LowerName::new(&parsed))
}

async fn add_zone(shared: &Shared, apex: &str) -> Result<(), DnsError> {
    let name = parse_name(apex).map_err(|e| DnsError::Zone(apex.to_owned(), e))?;
    shared
        .zones
        .add_zone(name)
        .await
        .map_err(|e| DnsError::Zone(apex.to_owned(), e))
}

async fn add_record(shared: &Shared, spec: &RecordSpec) -> Result<(), DnsError> {
    let record = spec.to_record()?;
    let lower = LowerName::new(&record.name);
    let zone = {
        let inner = shared.zones.read().await;
        inner
            .zone_for(&lower)
            .map(|(_, z)| z)
            .ok_or_else(|| DnsError::OutsideZones(spec.name.clone()))?
    };
    let _edit = shared.zones.edit().await;
    if !zones::add(&zone, record).await {
        return Err(DnsError::Refused(format!("{} {}", spec.name, spec.rtype)));
    }
    zones::bump_serial(&zone).await;
    Ok(())
}

/// Binds UDP and TCP at `addr` (port 0: a UDP port, then TCP on it).
async fn bind_at(addr: std::net::SocketAddr) -> Result<(UdpSocket, TcpListener), DnsError> {
    let udp = UdpSocket::bind(addr).await?;
    let tcp = TcpListener::bind(udp.local_addr()?).await?;
    Ok((udp, tcp))
}

/// Binds UDP on an ephemeral port, then TCP on the same port; another process may hold that
/// TCP port, so retry with a fresh UDP port a few times.
async fn bind_pair() -> Result<(UdpSocket, TcpListener), DnsError> {
    let mut last = None;
    for _ in 0..10 {
        let udp = UdpSocket::bind((Ipv4Addr::LOCALHOST, 0)).await?;
        let port = udp.local_addr()?.port();
        match TcpListener::bind((Ipv4Addr::LOCALHOST, port)).await {
            Ok(tcp) => return Ok((udp, tcp)),
            Err(e) => last = Some(e),
        }
    }
    Err(DnsError::Io(last.unwrap_or_else(|| {
        std::io::Error::new(std::io::ErrorKind::AddrInUse, "no UDP/TCP port pair")
    })))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn config_from_toml_and_defaults() {
        let c: DnsConfig = toml::from_str(
            r#"
            zones = ["example.test", "bücher.example"]
            tcp_idle_timeout = 2
            [[records]]
            name = "example.test"
            type = "A"
            value = "127.0.0.1"
            [tsig]
            name = "k."
            algorithm = "hmac-sha256"
            secret = "c2VjcmV0c2VjcmV0"
            "#,
        )
        .unwrap();
        assert_eq!(c.tcp_idle_timeout, Duration::from_secs(2));
        assert!(!c.allows_unsigned_update(), "a key makes signing mandatory");
        let d = DnsConfig::default();
        assert!(d.allows_unsigned_update());
        assert!(toml::from_str::<DnsConfig>("bogus = 1").is_err());
    }

    #[tokio::test]
    async fn start_rejects_records_outside_zones_and_bad_keys() {
        let mut c = DnsConfig {
            zones: vec!["example.test".into()],
            ..DnsConfig::default()
        };
        c.records = vec![RecordSpec::new("www.other.test", "A", "127.0.0.1")];
        assert!(matches!(
            DnsServer::start(c.clone()).await,
            Err(DnsError::OutsideZones(_))
        ));
        c.records = vec![];
        c.tsig = Some(TsigKeySpec {
            name: "k".into(),
            algorithm: TsigAlgorithmSpec::HmacSha256,
            secret: "not base64!".into(),
        });
        assert!(matches!(DnsServer::start(c).await, Err(DnsError::Tsig(_))));
    }
}
