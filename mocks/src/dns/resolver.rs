//! `WorldResolver`: a client that asks only the world's DNS server, never the system resolver.

use std::net::{IpAddr, SocketAddr};
use std::time::Duration;

use hickory_net::{DnsError as NetDnsError, NetError};
use hickory_proto::op::ResponseCode;
use hickory_proto::rr::{Name, RData, RecordType};
use hickory_resolver::TokioResolver;
use hickory_resolver::config::{NameServerConfig, ResolveHosts, ResolverConfig, ResolverOpts};
use hickory_resolver::net::runtime::TokioRuntimeProvider;
use serde::Serialize;

/// Why a lookup gave no data.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum LookupError {
    /// RCODE NXDOMAIN: the name does not exist.
    #[error("NXDOMAIN")]
    NxDomain,
    /// The name exists but has no records of that type (NODATA).
    #[error("no records")]
    NoRecords,
    /// RCODE SERVFAIL.
    #[error("SERVFAIL")]
    ServFail,
    /// RCODE REFUSED: the server does not serve that name (it is above or beside our zones).
    #[error("REFUSED")]
    Refused,
    /// No answer within the timeout.
    #[error("timed out")]
    Timeout,
    /// The name given is not a domain name.
    #[error("bad name: {0}")]
    BadName(String),
    /// Any other failure (another RCODE, I/O, protocol).
    #[error("{0}")]
    Other(String),
}

impl From<NetError> for LookupError {
    fn from(e: NetError) -> Self {
        match &e {
            NetError::Timeout => LookupError::Timeout,
            NetError::Dns(NetDnsError::NoRecordsFound(nr)) => match nr.response_code {
                ResponseCode::NXDomain => LookupError::NxDomain,
                ResponseCode::ServFail => LookupError::ServFail,
                _ => LookupError::NoRecords,
            },
            NetError::Dns(NetDnsError::ResponseCode(ResponseCode::ServFail)) => {
                LookupError::ServFail
            }
            NetError::Dns(NetDnsError::ResponseCode(ResponseCode::NXDomain)) => {
                LookupError::NxDomain
            }
            NetError::Dns(NetDnsError::ResponseCode(ResponseCode::Refused)) => LookupError::Refused,
            _ => {
                // The name-server pool folds per-server failures into one message; a timed-out
                // server shows up as a message mentioning the timeout.
                let text = e.to_string();
                if text.contains("timed out") || text.contains("timeout") {
                    LookupError::Timeout
                } else if text.contains("ServFail") || text.contains("SERVFAIL") {
                    LookupError::ServFail
                } else {
                    LookupError::Other(text)
                }
            }
        }
    }
}

/// One CAA record as RFC 8659 §4.1 describes it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct CaaRecord {
    /// The flags octet (128 = issuer critical).
    pub flags: u8,
    /// The property tag (`issue`, `issuewild`, `iodef`, `issuemail`, ...).
    pub tag: String,
    /// The raw property value (without the zone-file quotes).
    pub value: String,
}

/// A resolver bound to one server address, with no cache so changes are seen at once.
#[derive(Clone)]
pub struct WorldResolver {
    inner: TokioResolver,
}

impl std::fmt::Debug for WorldResolver {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("WorldResolver").finish_non_exhaustive()
    }
}

impl WorldResolver {
    /// A resolver for `addr` with a 2 s timeout and one attempt.
    pub fn new(addr: SocketAddr) -> Result<Self, LookupError> {
        Self::with_timeout(addr, Duration::from_secs(2), 1)
    }

    /// A resolver for `addr` with the given per-attempt timeout and number of attempts.
    pub fn with_timeout(
        addr: SocketAddr,
        timeout: Duration,
        attempts: usize,
    ) -> Result<Self, LookupError> {
        let mut ns = NameServerConfig::udp_and_tcp(addr.ip());
        for c in &mut ns.connections {
            c.port = addr.port();
        }
        let config = ResolverConfig::from_parts(None, vec![], vec![ns]);
        let mut opts = ResolverOpts::default();
        opts.cache_size = 0;
        opts.timeout = timeout;
        opts.attempts = attempts;
        // Our server is authoritative and not recursive; RD is harmless but misleading.
        opts.recursion_desired = false;
        opts.ndots = 0;
        // World names resolve in the world's DNS only: an entry in the machine's hosts file
        // must not win over a world record (nor be read from disk for every new resolver).
        opts.use_hosts_file = ResolveHosts::Never;
        // The world's DNS speaks UDP and TCP only. Without a TLS configuration of its own the
        // builder makes one for DNS over TLS, loading the system's CA certificates from disk
        // (rustls-platform-verifier): a fifth of a whole scenario run's CPU, for nothing.
        let unused_tls = rustls::ClientConfig::builder_with_provider(crate::ring_provider())
            .with_safe_default_protocol_versions()
            .map_err(|e| LookupError::Other(e.to_string()))?
            .with_root_certificates(rustls::RootCertStore::empty())
            .with_no_client_auth();
        let mut builder =
            TokioResolver::builder_with_config(config, TokioRuntimeProvider::default())
                .with_tls_config(unused_tls);
        *builder.options_mut() = opts;
        let inner = builder
            .build()
            .map_err(|e| LookupError::Other(e.to_string()))?;
        Ok(WorldResolver { inner })
    }

    /// The hickory resolver underneath (for mail-auth and other hickory users).
    pub fn tokio_resolver(&self) -> &TokioResolver {
        &self.inner
    }

    async fn rdata(&self, name: &str, rtype: RecordType) -> Result<Vec<RData>, LookupError> {
        let name = super::records::parse_name(name).map_err(LookupError::BadName)?;
        self.rdata_name(name, rtype).await
    }

    async fn rdata_name(&self, name: Name, rtype: RecordType) -> Result<Vec<RData>, LookupError> {
        let lookup = self.inner.lookup(name, rtype).await?;
        let out: Vec<RData> = lookup
            .answers()
            .iter()
            .filter(|r| r.record_type() == rtype)
            .map(|r| r.data.clone())
            .collect();
        if out.is_empty() {
            return Err(LookupError::NoRecords);
        }
        Ok(out)
    }

    /// TXT records at `name`: the character-strings of each record concatenated, one `String`
    /// per record (RFC 7208 §3.3 / RFC 6376 §3.6.2.2 do the same).
    pub async fn txt(&self, name: &str) -> Result<Vec<String>, LookupError> {
        Ok(self
            .rdata(name, RecordType::TXT)
            .await?
            .into_iter()
            .filter_map(|d| match d {
                RData::TXT(t) => Some(
                    t.txt_data
                        .iter()
                        .map(|s| String::from_utf8_lossy(s).into_owned())
                        .collect(),
                ),
                _ => None,
            })
            .collect())
    }

    /// A and AAAA addresses of `name` (A first). Fails only when both fail; the first error wins.
    pub async fn ips(&self, name: &str) -> Result<Vec<IpAddr>, LookupError> {
        let a = self.rdata(name, RecordType::A).await;
        let aaaa = self.rdata(name, RecordType::AAAA).await;
        let mut out = Vec::new();
        let mut first_err = None;
        for r in [a, aaaa] {
            match r {
                Ok(v) => out.extend(v.into_iter().filter_map(|d| match d {
                    RData::A(a) => Some(IpAddr::V4(a.0)),
                    RData::AAAA(a) => Some(IpAddr::V6(a.0)),
                    _ => None,
                })),
                Err(e) => {
                    first_err.get_or_insert(e);
                }
            }
        }
        match (out.is_empty(), first_err) {
            (true, Some(e)) => Err(e),
            _ => Ok(out),
        }
    }

    /// MX records of `domain` as `(preference, exchange)`, sorted by preference.
    pub async fn mx(&self, domain: &str) -> Result<Vec<(u16, String)>, LookupError> {
        let mut out: Vec<(u16, String)> = self
            .rdata(domain, RecordType::MX)
            .await?
            .into_iter()
            .filter_map(|d| match d {
                RData::MX(mx) => Some((mx.preference, mx.exchange.to_ascii())),
                _ => None,
            })
            .collect();
        out.sort();
        Ok(out)
    }

    /// RFC 8659 §3: the relevant CAA RRset is the first non-empty one found from `domain` up
    /// to (not including) the root. Returns an empty list when there is none. NXDOMAIN, NODATA
    /// and REFUSED (a name above our zones: in this closed world nobody serves it, so it has
    /// no CAA) move up one label; any other failure is an error (RFC 8659 §5.4: a CA must not
    /// issue when the lookup fails).
    pub async fn caa(&self, domain: &str) -> Result<Vec<CaaRecord>, LookupError> {
        let mut name = super::records::parse_name(domain).map_err(LookupError::BadName)?;
        while !name.is_root() {
            match self.rdata_name(name.clone(), RecordType::CAA).await {
                Ok(rdata) => {
                    let set: Vec<CaaRecord> = rdata
                        .into_iter()
                        .filter_map(|d| match d {
                            RData::CAA(c) => Some(CaaRecord {
                                flags: c.flags(),
                                tag: c.tag.clone(),
                                value: String::from_utf8_lossy(&c.value).into_owned(),
                            }),
                            _ => None,
                        })
                        .collect();
                    if !set.is_empty() {
                        return Ok(set);
                    }
                }
                Err(LookupError::NxDomain | LookupError::NoRecords | LookupError::Refused) => {}
                Err(e) => return Err(e),
            }
            name = name.base_name();
        }
        Ok(Vec::new())
    }
}
