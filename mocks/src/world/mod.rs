//! A world: the DNS, the PKI, the CA and the mail plane (MX, Submission, relays, LMTP, the
//! mailstore, IMAP and POP3, the smarthost of a server under test), started together on
//! loopback, configured from one TOML document, with a management API beside them.

use std::net::SocketAddr;
use std::path::Path;
use std::sync::Arc;

use serde::{Deserialize, Serialize};

use crate::ca::{Ca, CaConfig, CaContext, pki::Pki};
use crate::clock::Clock;
use crate::dns::{DnsConfig, DnsServer, WorldResolver};
use crate::https::Served;
use crate::seed::Seed;

pub mod closed_port;
// Without `mailbox` the world has no mail plane: `mail_off.rs` refuses `[mail] enabled`.
#[cfg_attr(not(feature = "mailbox"), path = "mail_off.rs")]
pub mod mail;
pub mod management;
#[cfg(feature = "mailbox")]
pub mod smarthost;
mod user_spec;

/// The world `acmeproof serve` starts without a config: one zone with a host, a mail exchanger and a CAA
/// record naming this CA, and unsigned RFC 2136 updates allowed.
pub const EXAMPLE_WORLD: &str = r#"
[dns]
zones = ["example.test"]
records = [
  { name = "example.test", type = "A", value = "127.0.0.1" },
  { name = "www.example.test", type = "A", value = "127.0.0.1" },
  { name = "mail.example.test", type = "A", value = "127.0.0.1" },
  { name = "example.test", type = "MX", value = "10 mail.example.test." },
  { name = "example.test", type = "CAA", value = "0 issue \"acmeproof.test\"" },
  { name = "example.test", type = "CAA", value = "0 issuemail \"acmeproof.test\"" },
]

[mail]
users = [
  { address = "alice@example.test", password = "alice-password" },
  { address = "δοκιμή@παράδειγμα.δοκιμή", password = "eai-password" },
]
"#;

impl WorldConfig {
    /// [`EXAMPLE_WORLD`], parsed.
    pub fn example() -> WorldConfig {
        // The constant is part of the crate and covered by a test; it always parses.
        Self::from_toml(EXAMPLE_WORLD).unwrap_or_default()
    }
}

/// The whole world's configuration (`acmeproof serve --config world.toml`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct WorldConfig {
    /// The seed every random value comes from.
    pub seed: u64,
    /// Freeze the world clock at this RFC 3339 instant (default: the wall clock).
    pub clock: Option<String>,
    /// The world's own delays (relay holds, retry intervals, late validation) take real time
    /// instead of world time: for a scenario about real time. Off by default.
    pub real_time_waits: bool,
    /// Zones, records, TSIG.
    pub dns: DnsConfig,
    /// The CA.
    pub ca: CaConfig,
    /// Users, relays and DKIM.
    pub mail: mail::MailConfig,
}

impl Default for WorldConfig {
    fn default() -> Self {
        WorldConfig {
            seed: Seed::default().0,
            clock: None,
            real_time_waits: false,
            dns: DnsConfig::default(),
            ca: CaConfig::default(),
            mail: mail::MailConfig::default(),
        }
    }
}

impl WorldConfig {
    /// Parses a TOML world config; the error names the line and the field.
    pub fn from_toml(text: &str) -> Result<WorldConfig, WorldError> {
        toml::from_str(text).map_err(|e| WorldError::Config(one_line(text, &e)))
    }

    /// [`EXAMPLE_WORLD`] with `overrides` merged in: tables merge key by key, anything else
    /// (arrays included) replaces. A scenario's `[world]` is such an override.
    pub fn example_with(overrides: &toml::Table) -> Result<WorldConfig, WorldError> {
        let mut base: toml::Table = toml::from_str(EXAMPLE_WORLD)
            .map_err(|e| WorldError::Config(one_line(EXAMPLE_WORLD, &e)))?;
        merge_tables(&mut base, overrides);
        WorldConfig::deserialize(toml::Value::Table(base))
            .map_err(|e| WorldError::Config(e.message().trim().replace('\n', " ")))
    }
}

pub(crate) fn merge_tables(base: &mut toml::Table, overrides: &toml::Table) {
    for (key, value) in overrides {
        match (base.get_mut(key), value) {
            (Some(toml::Value::Table(b)), toml::Value::Table(o)) => merge_tables(b, o),
            _ => {
                base.insert(key.clone(), value.clone());
            }
        }
    }
}

/// A TOML error on one line: `line N (the line's text): message`. toml's own Display is a
/// multi-line snippet with carets, which does not fit the CLI's one-line errors.
pub fn one_line(text: &str, error: &toml::de::Error) -> String {
    let message = error.message().trim().replace('\n', " ");
    match error.span() {
        Some(span) => {
            let line_no = text[..span.start.min(text.len())].matches('\n').count() + 1;
            let line = text.lines().nth(line_no - 1).unwrap_or("").trim();
            format!("line {line_no} ({line}): {message}")
        }
        None => message,
    }
}

/// Why a world could not start.
#[derive(Debug, thiserror::Error)]
pub enum WorldError {
    /// The config does not parse or holds a bad value.
    #[error("world config: {0}")]
    Config(String),
    /// The DNS failed to start.
    #[error("DNS: {0}")]
    Dns(String),
    /// The PKI failed.
    #[error("PKI: {0}")]
    Pki(String),
    /// The CA failed to start.
    #[error(transparent)]
    Ca(#[from] crate::ca::CaError),
    /// The mail plane failed to start.
    #[error("mail: {0}")]
    Mail(String),
    /// A socket or file failed.
    #[error("{0}")]
    Io(#[from] std::io::Error),
}

/// A running world.
#[derive(Debug)]
pub struct World {
    /// The authoritative DNS.
    pub dns: Arc<DnsServer>,
    /// The PKI (root, intermediate).
    pub pki: Arc<Pki>,
    /// The ACME CA.
    pub ca: Ca,
    /// The world clock.
    pub clock: Clock,
    /// The mail plane (when `[mail] enabled`).
    pub mail: Option<mail::MailPlane>,
    management: Served,
    closed: closed_port::ClosedPort,
}

/// Where everything listens, as `serve --json` prints it.
#[derive(Debug, Clone, Serialize)]
pub struct Endpoints {
    /// The ACME directory URL.
    pub directory_url: String,
    /// The PEM file of the world's root, when one was written.
    pub ca_bundle: Option<String>,
    /// The DNS server (UDP and TCP).
    pub dns: SocketAddr,
    /// The TSIG key for UPDATE, if one is configured.
    pub tsig: Option<TsigEndpoint>,
    /// The management API base URL.
    pub management_url: String,
    /// The seed.
    pub seed: u64,
    /// The mail plane's endpoints.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub mail: Option<MailEndpoints>,
}

/// Where the mail servers listen, and who may use them.
#[derive(Debug, Clone, Serialize)]
pub struct MailEndpoints {
    /// The users' MX (SMTP, STARTTLS).
    pub mx: SocketAddr,
    /// Submission with STARTTLS and AUTH.
    pub submission: SocketAddr,
    /// Submission with implicit TLS.
    pub submissions: SocketAddr,
    /// LMTP into the mail store.
    pub lmtp: SocketAddr,
    /// The CA's MX, where replies go.
    pub ca_mx: SocketAddr,
    /// IMAP with STARTTLS.
    pub imap: SocketAddr,
    /// IMAP with implicit TLS.
    pub imaps: SocketAddr,
    /// POP3 with STLS.
    pub pop3: SocketAddr,
    /// POP3 with implicit TLS.
    pub pop3s: SocketAddr,
    /// The relays, in chain order.
    pub relays: Vec<(String, SocketAddr)>,
    /// Mailbox owners and their passwords.
    pub users: Vec<mail::UserSpec>,
    /// DKIM keys: domain, selector, the TXT name.
    pub dkim: Vec<DkimEndpoint>,
    /// The mailbox of an ACME server under test, with its password (a store user: read it
    /// over `imap`, `imaps`, `pop3` or `pop3s`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub ca_mailbox: Option<mail::UserSpec>,
    /// The smarthost for a server under test's outgoing mail.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub smarthost: Option<SmarthostEndpoint>,
}

/// Where the smarthost listens and what it does.
#[derive(Debug, Clone, Serialize)]
pub struct SmarthostEndpoint {
    /// SMTP with STARTTLS; AUTH (PLAIN, LOGIN) after it.
    pub starttls: SocketAddr,
    /// SMTP with implicit TLS.
    pub implicit_tls: SocketAddr,
    /// Whether it DKIM-signs for the From domain.
    pub dkim_sign: bool,
    /// `"any"` (any user name and password) or `"configured"` (the users of
    /// `[mail.smarthost]`).
    pub auth: &'static str,
}

/// One DKIM key of the world.
#[derive(Debug, Clone, Serialize)]
pub struct DkimEndpoint {
    /// The signing domain.
    pub domain: String,
    /// The selector.
    pub selector: String,
    /// Where the key is published.
    pub txt_name: String,
    /// The TXT record published there (RFC 6376 §3.6.1), for another world that must verify
    /// this world's signatures (a CA served as a server under test).
    pub txt: String,
}

/// A TSIG key as scripts need it (`nsupdate -y ALG:NAME:SECRET`).
#[derive(Debug, Clone, Serialize)]
pub struct TsigEndpoint {
    /// Key name.
    pub name: String,
    /// Algorithm, e.g. `hmac-sha256`.
    pub algorithm: String,
    /// Secret, base64.
    pub secret: String,
}

impl World {
    /// Starts DNS, PKI, CA and the management API.
    pub async fn start(config: WorldConfig) -> Result<World, WorldError> {
        let seed = Seed(config.seed);
        let clock = match &config.clock {
            None => Clock::system(),
            Some(at) => Clock::frozen(
                time::OffsetDateTime::parse(at, &time::format_description::well_known::Rfc3339)
                    .map_err(|e| WorldError::Config(format!("clock = {at:?}: {e}")))?,
            ),
        }
        .with_world_waits(!config.real_time_waits);
        let dns = Arc::new(
            DnsServer::start(config.dns.clone())
                .await
                .map_err(|e| WorldError::Dns(e.to_string()))?,
        );
        let pki = Arc::new(
            Pki::generate(seed, &clock, &config.ca.name)
                .map_err(|e| WorldError::Pki(e.to_string()))?,
        );
        let ca = Ca::start(
            config.ca.clone(),
            CaContext {
                seed,
                clock: clock.clone(),
                pki: Arc::clone(&pki),
                resolver: WorldResolver::new(config.ca.resolver.unwrap_or(dns.addr()))
                    .map_err(|e| WorldError::Dns(e.to_string()))?,
            },
        )
        .await?;
        let mail = if config.mail.enabled {
            Some(
                mail::MailPlane::start(&config.mail, seed, &clock, &dns, &pki, &ca)
                    .await
                    .map_err(|e| WorldError::Mail(e.to_string()))?,
            )
        } else {
            None
        };
        let management = management::start(management::Management {
            dns: Arc::clone(&dns),
            pki: Arc::clone(&pki),
            ca: Arc::clone(ca.shared()),
            clock: clock.clone(),
            #[cfg(feature = "mailbox")]
            mail: mail.as_ref().map(|m| management::MailView {
                store: m.store.clone(),
                relays: m
                    .relays
                    .iter()
                    .map(|(host, _, sink)| (host.clone(), Arc::clone(sink)))
                    .collect(),
                acme: crate::protocol::email_tls::Service::ALL
                    .into_iter()
                    .map(|s| (s, m.acme_capability(s)))
                    .collect(),
            }),
        })
        .await?;
        // A configured port map wins over the world's own mail servers.
        for (port, actual) in &config.ca.connect_ports {
            let port: u16 = port.parse().map_err(|_| {
                WorldError::Config(format!("ca.connect_ports: {port:?} is not a port number"))
            })?;
            ca.shared().map_port(port, *actual);
        }
        let closed = closed_port::ClosedPort::bind()
            .map_err(|e| WorldError::Config(format!("binding the world's closed port: {e}")))?;
        Ok(World {
            dns,
            pki,
            ca,
            clock,
            mail,
            management,
            closed,
        })
    }

    /// A loopback port nothing listens on for the world's lifetime (see [`closed_port`]).
    pub fn closed_port(&self) -> u16 {
        self.closed.port()
    }

    /// The management API base URL.
    pub fn management_url(&self) -> String {
        format!("http://{}", self.management.addr())
    }

    /// The management API's server (its bounds and open connections).
    pub fn management(&self) -> &Served {
        &self.management
    }

    /// Writes the root to `path` (a PEM bundle users can trust).
    pub fn write_bundle(&self, path: &Path) -> Result<(), WorldError> {
        std::fs::write(path, self.pki.root_pem())?;
        Ok(())
    }

    /// Every endpoint, for printing.
    pub fn endpoints(&self, ca_bundle: Option<&Path>) -> Endpoints {
        Endpoints {
            directory_url: self.ca.directory_url(),
            ca_bundle: ca_bundle.map(|p| p.display().to_string()),
            dns: self.dns.addr(),
            tsig: self.dns.tsig_key().map(|k| TsigEndpoint {
                name: k.name.clone(),
                algorithm: k.algorithm.as_str().to_owned(),
                secret: k.secret.clone(),
            }),
            management_url: self.management_url(),
            seed: self.ca.shared().seed.0,
            #[cfg(not(feature = "mailbox"))]
            mail: None,
            #[cfg(feature = "mailbox")]
            mail: self.mail.as_ref().map(|m| MailEndpoints {
                mx: m.mx.addr(),
                submission: m.submission.addr(),
                submissions: m.submissions.addr(),
                lmtp: m.lmtp.addr(),
                ca_mx: m.ca_mx.addr(),
                imap: m.imap.addr(),
                imaps: m.imaps.addr(),
                pop3: m.pop3.addr(),
                pop3s: m.pop3s.addr(),
                relays: m
                    .relays
                    .iter()
                    .map(|(host, server, _)| (host.clone(), server.addr()))
                    .collect(),
                users: m.users.clone(),
                dkim: m
                    .keys
                    .all()
                    .iter()
                    .map(|k| DkimEndpoint {
                        domain: k.domain().to_owned(),
                        selector: k.selector().to_owned(),
                        txt_name: k.dns_name(),
                        txt: k.txt_record_value(),
                    })
                    .collect(),
                ca_mailbox: m.ca_mailbox.clone(),
                smarthost: m.smarthost.as_ref().map(|s| SmarthostEndpoint {
                    starttls: s.starttls.addr(),
                    implicit_tls: s.implicit_tls.addr(),
                    dkim_sign: s.config.dkim_sign,
                    auth: if s.config.users.is_empty() {
                        "any"
                    } else {
                        "configured"
                    },
                }),
            }),
        }
    }

    /// Stops every server.
    pub async fn shutdown(self) {
        self.management.shutdown().await;
        if let Some(mail) = &self.mail {
            mail.shutdown().await;
        }
        self.ca.shutdown().await;
        if let Ok(dns) = Arc::try_unwrap(self.dns) {
            dns.shutdown().await;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_example_world_parses_and_errors_name_the_field() {
        let config = WorldConfig::from_toml(EXAMPLE_WORLD).unwrap();
        assert_eq!(config.dns.zones, vec!["example.test".to_string()]);
        let err = WorldConfig::from_toml("[ca.knobs]\nstirct = true\n").unwrap_err();
        assert!(err.to_string().contains("stirct"), "{err}");
        let err = WorldConfig::from_toml("[ca.knobs]\nnonce_reject_percent = 300\n")
            .unwrap_err()
            .to_string();
        assert!(err.contains("line 2 (nonce_reject_percent = 300)"), "{err}");
        assert_eq!(err.lines().count(), 1, "{err}");
    }
}
