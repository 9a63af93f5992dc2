//! The world's mail plane: users and their mail store, LMTP, the users' MX, Submission (with
//! STARTTLS and implicit TLS), IMAP and POP3 (each with STARTTLS/STLS and implicit TLS), the
//! relay chain, and the CA's own MX, with the DNS records that
//! tie them together (MX, A, DKIM keys, SPF, DMARC).
//!
//! ```text
//!  CA ─► relay 1 ─► … ─► relay n ─► MX lookup ─► users' MX ─► LMTP ─► mail store
//!  user ─► Submission (DKIM-signs) ─► relay 1 ─► … ─► MX lookup ─► CA's MX ─► CA inbox
//! ```

use std::net::SocketAddr;
use std::sync::Arc;

use serde::{Deserialize, Serialize};

use crate::ca::Ca;
use crate::ca::email::{CaInbox, CaMail};
use crate::clock::Clock;
use crate::dkim::{DkimAlgorithm, DkimKey};
use crate::dns::{DnsServer, RecordSpec, WorldResolver};
use crate::imap::{ImapConfig, ImapServer};
use crate::mail::acme::AcmeAdvert;
use crate::mail::{Envelope, Incoming, MailSink, Reply, Session};
use crate::mailstore::{MailStore, StoreSink};
use crate::pop3::{Pop3Config, Pop3Server};
use crate::protocol::email_tls::Service;
use crate::relay::{
    DkimKeys, MailRoutes, NextHop, RelayBehaviour, RelayContext, RelaySink, RetryPolicy,
    SessionPool, SharedRelay,
};
use crate::seed::Seed;
use crate::smtp::{Role, SmtpConfig, SmtpServer};

use super::smarthost::{Smarthost, SmarthostAuth, SmarthostConfig};

/// The port a capability-smtp-00 validation of service `lmtp` reaches the world's LMTP on.
pub const LMTP_PORT: u16 = 24;

pub use super::user_spec::UserSpec;

/// One relay of the chain.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RelaySpec {
    /// Its name; the host name is `<name>.relay.acmeproof.test`.
    pub name: String,
    /// What it does to mail.
    #[serde(default)]
    pub behaviour: RelayBehaviour,
}

/// The `[mail]` table of a world config.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct MailConfig {
    /// Start the mail plane.
    pub enabled: bool,
    /// Mailbox owners; their domains get zones, MX records and DKIM keys.
    pub users: Vec<UserSpec>,
    /// The DKIM algorithm of the world's keys.
    pub dkim_algorithm: DkimAlgorithm,
    /// The DKIM selector of every domain.
    pub dkim_selector: String,
    /// The relay chain between senders and MX; the CA and Submission hand mail to the first.
    pub relays: Vec<RelaySpec>,
    /// Delivery attempts of every sender in the world (RFC 5321 §4.5.4 retries).
    pub retry_attempts: u32,
    /// Milliseconds between attempts.
    pub retry_delay_ms: u64,
    /// Mail hosts outside the world, by name (`"mx.served.test" = "127.0.0.1:2525"`): an MX
    /// record of the world naming one sends the world's mail there. A CA served as a server
    /// under test gets its replies so.
    pub routes: std::collections::BTreeMap<String, SocketAddr>,
    /// The IMAP server (port 143 style) advertises LOGINDISABLED and refuses LOGIN and
    /// AUTHENTICATE until STARTTLS (RFC 3501 §6.2.3, §7.2.1); off by default.
    pub imap_login_disabled_before_tls: bool,
    /// The mailbox of an ACME server under test (`run --server-url`): a user of the store like
    /// any other, so replies sent to the challenge's From reach it (RFC 8823 §3: the response
    /// is a reply to the challenge) and the server reads them over IMAP or POP3.
    pub ca_mailbox: Option<CaMailboxSpec>,
    /// The smarthost for a server under test's outgoing mail (`[mail.smarthost]`); none by
    /// default.
    pub smarthost: Option<SmarthostConfig>,
    /// Fixed listen addresses (`[mail.listen]`), so a server under test's configuration can be
    /// written once; each server not named listens on 127.0.0.1, port chosen by the system.
    pub listen: MailListen,
}

/// Where the mail servers listen; `None`: 127.0.0.1 port 0. The relays are internal hops
/// between senders and MX, which nothing outside the world connects to: they always take
/// port 0.
#[derive(Debug, Clone, Copy, PartialEq, Default, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct MailListen {
    /// The users' MX (SMTP).
    pub mx: Option<SocketAddr>,
    /// Submission with STARTTLS.
    pub submission: Option<SocketAddr>,
    /// Submission with implicit TLS.
    pub submissions: Option<SocketAddr>,
    /// LMTP into the store.
    pub lmtp: Option<SocketAddr>,
    /// IMAP (plain or STARTTLS).
    pub imap: Option<SocketAddr>,
    /// IMAP with implicit TLS.
    pub imaps: Option<SocketAddr>,
    /// POP3 (plain or STLS).
    pub pop3: Option<SocketAddr>,
    /// POP3 with implicit TLS.
    pub pop3s: Option<SocketAddr>,
    /// The world CA's own MX.
    pub ca_mx: Option<SocketAddr>,
    /// The smarthost with STARTTLS.
    pub smarthost: Option<SocketAddr>,
    /// The smarthost with implicit TLS.
    pub smarthost_tls: Option<SocketAddr>,
}

/// `fixed`, else 127.0.0.1 port 0.
fn listen_on(fixed: Option<SocketAddr>) -> SocketAddr {
    fixed.unwrap_or_else(|| SocketAddr::from(([127, 0, 0, 1], 0)))
}

/// The CA mailbox of a world config: its address, and its password (drawn from the world
/// seed when not given).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CaMailboxSpec {
    /// The address, e.g. `acme-ca@ca.example.test`.
    pub address: String,
    /// The password for IMAP and POP3.
    #[serde(default)]
    pub password: Option<String>,
}

impl Default for MailConfig {
    fn default() -> Self {
        MailConfig {
            enabled: true,
            users: Vec::new(),
            dkim_algorithm: DkimAlgorithm::Ed25519Sha256,
            dkim_selector: "acmeproof".into(),
            relays: vec![RelaySpec {
                name: "relay1".into(),
                behaviour: RelayBehaviour {
                    dkim_verify: true,
                    ..RelayBehaviour::default()
                },
            }],
            retry_attempts: 5,
            retry_delay_ms: 200,
            routes: Default::default(),
            imap_login_disabled_before_tls: false,
            ca_mailbox: None,
            smarthost: None,
            listen: MailListen::default(),
        }
    }
}

/// Why the mail plane could not start.
#[derive(Debug, thiserror::Error)]
pub enum MailPlaneError {
    /// A user is malformed or repeated.
    #[error("mail user {0}: {1}")]
    User(String, String),
    /// A server failed to start.
    #[error("{0}: {1}")]
    Server(&'static str, String),
    /// DNS records could not be added.
    #[error("DNS for {0}: {1}")]
    Dns(String, String),
    /// A DKIM key could not be made.
    #[error("DKIM key for {0}: {1}")]
    Dkim(String, String),
}

/// The running mail plane.
#[derive(Debug)]
pub struct MailPlane {
    /// The mailboxes.
    pub store: MailStore,
    /// Host names to ports.
    pub routes: MailRoutes,
    /// The world's DKIM keys.
    pub keys: DkimKeys,
    /// LMTP into the store.
    pub lmtp: SmtpServer,
    /// The users' MX.
    pub mx: SmtpServer,
    /// The MX's sessions with LMTP.
    pub mx_lmtp: Arc<SessionPool>,
    /// Submission with STARTTLS (port 587 style).
    pub submission: SmtpServer,
    /// Submission with implicit TLS (port 465 style, RFC 8314).
    pub submissions: SmtpServer,
    /// The sink of both submission servers (the MSA that signs and passes mail on).
    pub msa: Arc<RelaySink>,
    /// The relay chain, in order, with their sinks (what each passed on).
    pub relays: Vec<(String, SmtpServer, Arc<RelaySink>)>,
    /// The CA's own MX.
    pub ca_mx: SmtpServer,
    /// IMAP with STARTTLS (port 143 style).
    pub imap: ImapServer,
    /// IMAP with implicit TLS (port 993 style).
    pub imaps: ImapServer,
    /// POP3 with STLS (port 110 style).
    pub pop3: Pop3Server,
    /// POP3 with implicit TLS (port 995 style).
    pub pop3s: Pop3Server,
    /// The users.
    pub users: Vec<UserSpec>,
    /// The CA mailbox (also one of the store's users), with its password.
    pub ca_mailbox: Option<UserSpec>,
    /// The smarthost for a server under test.
    pub smarthost: Option<Smarthost>,
}

/// The users' MX hands each message to LMTP (RFC 2033 final delivery), over persistent
/// sessions.
struct MxSink {
    /// Recipients are the store's users: the MX asks the same question LMTP will.
    store: StoreSink,
    lmtp: Arc<SessionPool>,
    hostname: String,
}

#[async_trait::async_trait]
impl MailSink for MxSink {
    async fn check_recipient(&self, rcpt: &str, session: &Session) -> Result<(), Reply> {
        self.store.check_recipient(rcpt, session).await
    }

    async fn deliver(&self, message: Incoming) -> Vec<Result<(), Reply>> {
        let n = message.envelope.rcpt_to.len();
        // RFC 5321 §4.4: the MX adds its trace field before handing the message on (sent
        // ahead of the message, not joined to a copy of it).
        let trace = message.received_field(&self.hostname, None);
        match self
            .lmtp
            .send_parts(&message.envelope, &[trace.as_bytes(), &message.data])
            .await
        {
            Ok(replies) if replies.len() == n => replies
                .into_iter()
                .map(|r| if r.is_positive() { Ok(()) } else { Err(r) })
                .collect(),
            Ok(replies) => vec![
                Err(Reply::try_later(format!(
                    "LMTP answered {} replies for {n} recipients",
                    replies.len()
                )));
                n
            ],
            Err(e) => vec![Err(e.reply()); n],
        }
    }
}

fn domain_of(address: &str) -> String {
    let domain = crate::protocol::address::domain_of(address).unwrap_or(address);
    crate::protocol::address::domain_key(domain)
}

fn record(name: &str, rtype: &str, value: &str) -> RecordSpec {
    RecordSpec::new(name, rtype, value)
}

impl MailPlane {
    /// Starts the mail plane for `ca` in a world whose DNS is `dns`.
    pub async fn start(
        config: &MailConfig,
        seed: Seed,
        clock: &Clock,
        dns: &DnsServer,
        pki: &crate::ca::pki::Pki,
        ca: &Ca,
    ) -> Result<MailPlane, MailPlaneError> {
        let resolver = WorldResolver::new(dns.addr())
            .map_err(|e| MailPlaneError::Dns("resolver".into(), e.to_string()))?;
        let store = MailStore::with_seed(&seed.stream("mail.store"));
        let ca_mailbox = config.ca_mailbox.as_ref().map(|spec| UserSpec {
            address: spec.address.clone(),
            password: spec
                .password
                .clone()
                .unwrap_or_else(|| seed.stream("mail.ca-mailbox").token(12)),
        });
        let mailboxes: Vec<&UserSpec> = config.users.iter().chain(&ca_mailbox).collect();
        for user in &mailboxes {
            store
                .add_user(&user.address, &user.password)
                .map_err(|e| MailPlaneError::User(user.address.clone(), e.to_string()))?;
        }
        let ca_domain = domain_of(&ca.shared().config.challenge_from);
        let mut domains: Vec<String> = mailboxes.iter().map(|u| domain_of(&u.address)).collect();
        domains.push(ca_domain.clone());
        domains.sort();
        domains.dedup();

        // DKIM keys, published in the world's DNS, and the domains' mail records.
        let key_rng = seed.stream("mail.dkim");
        let mut keys = Vec::new();
        let zones = dns.zones().await;
        for (slot, domain) in domains.iter().enumerate() {
            let in_zone = zones
                .iter()
                .any(|z| domain == z || domain.ends_with(&format!(".{z}")));
            if !in_zone {
                dns.add_zone(domain)
                    .await
                    .map_err(|e| MailPlaneError::Dns(domain.clone(), e.to_string()))?;
            }
            let key = DkimKey::generate_in_slot(
                domain,
                &config.dkim_selector,
                config.dkim_algorithm,
                slot,
                &key_rng,
            )
            .map_err(|e| MailPlaneError::Dkim(domain.clone(), e.to_string()))?;
            key.publish(dns)
                .await
                .map_err(|e| MailPlaneError::Dkim(domain.clone(), e.to_string()))?;
            let mx_host = format!("mx.{domain}");
            for spec in [
                record(domain, "MX", &format!("10 {mx_host}.")),
                record(&mx_host, "A", "127.0.0.1"),
                // RFC 7208 and RFC 7489: the world's senders are all on loopback.
                record(domain, "TXT", "v=spf1 ip4:127.0.0.1 -all"),
                record(
                    &format!("_dmarc.{domain}"),
                    "TXT",
                    "v=DMARC1; p=reject; adkim=s",
                ),
            ] {
                dns.add(spec)
                    .await
                    .map_err(|e| MailPlaneError::Dns(domain.clone(), e.to_string()))?;
            }
            keys.push(key);
        }
        let keys = DkimKeys::new(keys);
        let routes = MailRoutes::default();
        for (host, addr) in &config.routes {
            routes.insert(host, *addr);
        }
        let retry = RetryPolicy {
            attempts: config.retry_attempts.max(1),
            delay: std::time::Duration::from_millis(config.retry_delay_ms),
        };
        let relay_ctx = RelayContext {
            routes: routes.clone(),
            resolver: resolver.clone(),
            keys: keys.clone(),
            clock: clock.clone(),
            retry,
        };
        let tls = pki
            .tls_server_config_with_alpn(&["localhost", "127.0.0.1", "mail.acmeproof.test"], &[])
            .map_err(|e| MailPlaneError::Server("TLS", e.to_string()))?;
        let start = |name: &'static str, config: SmtpConfig| async move {
            SmtpServer::start(config)
                .await
                .map_err(|e| MailPlaneError::Server(name, e.to_string()))
        };

        let listen = &config.listen;
        let mut lmtp_config = SmtpConfig::new(
            Role::Lmtp,
            "lmtp.acmeproof.test",
            Arc::new(StoreSink::new(store.clone())),
            clock.clone(),
        );
        lmtp_config.listen = listen_on(listen.lmtp);
        let lmtp = start("LMTP", lmtp_config).await?;
        let mx_name = "mx.acmeproof.test";
        let mx_lmtp = Arc::new(SessionPool::new("lmtp", lmtp.addr(), mx_name, true));
        let mut mx_config = SmtpConfig::new(
            Role::Mx,
            mx_name,
            Arc::new(MxSink {
                store: StoreSink::new(store.clone()),
                lmtp: Arc::clone(&mx_lmtp),
                hostname: mx_name.into(),
            }),
            clock.clone(),
        );
        mx_config.tls = Some(Arc::clone(&tls));
        mx_config.listen = listen_on(listen.mx);
        let mx = start("MX", mx_config).await?;
        for domain in &domains {
            if *domain != ca_domain {
                routes.insert(&format!("mx.{domain}"), mx.addr());
            }
        }

        // The relay chain, last first, so each knows the next.
        let relay_host = |name: &str| format!("{name}.relay.acmeproof.test");
        let mut relays = Vec::new();
        let mut next = NextHop::Mx;
        for (i, spec) in config.relays.iter().enumerate().rev() {
            let host = relay_host(&spec.name);
            let sink = Arc::new(RelaySink::new(
                host.clone(),
                spec.behaviour.clone(),
                next.clone(),
                relay_ctx.clone(),
                seed.stream(&format!("mail.relay.{i}")),
            ));
            let mut relay_config = SmtpConfig::new(
                Role::Relay,
                host.clone(),
                Arc::new(SharedRelay(Arc::clone(&sink))),
                clock.clone(),
            );
            relay_config.smtputf8 = spec.behaviour.smtputf8;
            relay_config.tls = Some(Arc::clone(&tls));
            let server = start("relay", relay_config).await?;
            routes.insert(&host, server.addr());
            next = NextHop::Relay(host.clone());
            relays.push((host, server, sink));
        }
        relays.reverse();
        let first_relay = relays.first().map(|(h, s, _)| (h.clone(), s.addr()));

        // Submission: the MSA signs with the sender's domain key (RFC 6376 §2.1 signers) and
        // hands the mail to the first relay.
        let msa_host = "submission.acmeproof.test";
        let msa = Arc::new(RelaySink::new(
            msa_host,
            RelayBehaviour {
                dkim_sign: true,
                ..RelayBehaviour::default()
            },
            match &first_relay {
                Some((host, _)) => NextHop::Relay(host.clone()),
                None => NextHop::Mx,
            },
            relay_ctx.clone(),
            seed.stream("mail.submission"),
        ));
        let submission_config = |implicit: bool| {
            let mut c = SmtpConfig::new(
                Role::Submission,
                msa_host,
                Arc::new(SharedRelay(Arc::clone(&msa))),
                clock.clone(),
            );
            c.tls = Some(Arc::clone(&tls));
            c.implicit_tls = implicit;
            c.auth = Some(Arc::new(store.clone()));
            c.listen = listen_on(if implicit {
                listen.submissions
            } else {
                listen.submission
            });
            c
        };
        let submission = start("Submission", submission_config(false)).await?;
        let submissions = start("Submissions", submission_config(true)).await?;

        // The smarthost of a server under test: Submission's protocol (STARTTLS, AUTH) with a
        // sink that signs only when configured to.
        let smarthost = match &config.smarthost {
            None => None,
            Some(smarthost) => {
                let host = "smarthost.acmeproof.test";
                let sink = Arc::new(RelaySink::new(
                    host,
                    smarthost.behaviour(),
                    match &first_relay {
                        Some((host, _)) => NextHop::Relay(host.clone()),
                        None => NextHop::Mx,
                    },
                    relay_ctx.clone(),
                    seed.stream("mail.smarthost"),
                ));
                let auth = Arc::new(SmarthostAuth::new(smarthost.users.clone()));
                let server_config = |implicit: bool| {
                    let mut c = SmtpConfig::new(
                        Role::Submission,
                        host,
                        Arc::new(SharedRelay(Arc::clone(&sink))),
                        clock.clone(),
                    );
                    c.tls = Some(Arc::clone(&tls));
                    c.implicit_tls = implicit;
                    c.auth = Some(auth.clone());
                    c.listen = listen_on(if implicit {
                        listen.smarthost_tls
                    } else {
                        listen.smarthost
                    });
                    c
                };
                Some(Smarthost {
                    starttls: start("smarthost", server_config(false)).await?,
                    implicit_tls: start("smarthost (TLS)", server_config(true)).await?,
                    sink,
                    config: smarthost.clone(),
                })
            }
        };

        // Mailbox access for MUAs and real mail clients.
        let imap_config = |implicit: bool| {
            let mut c = ImapConfig::new("imap.acmeproof.test", store.clone(), clock.clone());
            c.tls = Some(Arc::clone(&tls));
            c.implicit_tls = implicit;
            c.require_tls_for_login = config.imap_login_disabled_before_tls;
            c.listen = listen_on(if implicit { listen.imaps } else { listen.imap });
            c
        };
        let imap = ImapServer::start(imap_config(false))
            .await
            .map_err(|e| MailPlaneError::Server("IMAP", e.to_string()))?;
        let imaps = ImapServer::start(imap_config(true))
            .await
            .map_err(|e| MailPlaneError::Server("IMAPS", e.to_string()))?;
        let pop3_config = |implicit: bool| {
            let mut c = Pop3Config::new("pop3.acmeproof.test", store.clone(), clock.clone());
            c.tls = Some(Arc::clone(&tls));
            c.implicit_tls = implicit;
            c.listen = listen_on(if implicit { listen.pop3s } else { listen.pop3 });
            c
        };
        let pop3 = Pop3Server::start(pop3_config(false))
            .await
            .map_err(|e| MailPlaneError::Server("POP3", e.to_string()))?;
        let pop3s = Pop3Server::start(pop3_config(true))
            .await
            .map_err(|e| MailPlaneError::Server("POP3S", e.to_string()))?;

        // The CA's MX and the CA's sender.
        let ca_mx_host = format!("mx.{ca_domain}");
        let mut ca_mx_config = SmtpConfig::new(
            Role::Mx,
            ca_mx_host.clone(),
            Arc::new(CaInbox(Arc::clone(ca.shared()))),
            clock.clone(),
        );
        ca_mx_config.tls = Some(Arc::clone(&tls));
        ca_mx_config.listen = listen_on(listen.ca_mx);
        let ca_mx = start("CA MX", ca_mx_config).await?;
        routes.insert(&ca_mx_host, ca_mx.addr());
        let ca_key = keys
            .get(&ca_domain)
            .ok_or_else(|| MailPlaneError::Dkim(ca_domain.clone(), "no key".into()))?;
        ca.set_mail(CaMail {
            from: ca.shared().config.challenge_from.clone(),
            smarthost: match ca.shared().config.smarthost {
                Some(addr) => Some(("smarthost".to_owned(), addr)),
                None => first_relay,
            },
            key: ca_key,
            routes: routes.clone(),
            resolver,
            retry,
            hostname: ca_domain.clone(),
        });
        let plane = MailPlane {
            store,
            routes,
            keys,
            lmtp,
            mx,
            mx_lmtp,
            submission,
            submissions,
            msa,
            relays,
            ca_mx,
            imap,
            imaps,
            pop3,
            pop3s,
            users: config.users.clone(),
            ca_mailbox,
            smarthost,
        };
        // draft-ietf-acme-email-tls capability validations of port 25, 587, … reach the
        // world's servers, which listen on system-chosen loopback ports.
        for service in Service::ALL {
            if let Some(port) = service.default_port() {
                ca.shared()
                    .map_port(port, plane.service_addr(service).port());
            }
        }
        // LMTP has no IANA port (the `lmtp` open issue); the world's LMTP answers on 24, the
        // "any private mail system" port deployments commonly use for it.
        ca.shared()
            .map_port(LMTP_PORT, plane.service_addr(Service::Lmtp).port());
        Ok(plane)
    }

    /// The world's server for a draft-ietf-acme-email-tls service: smtp → the users' MX,
    /// submission/submissions → Submission with STARTTLS / implicit TLS, imap/imaps, pop3/pop3s,
    /// lmtp → LMTP. Its address (always 127.0.0.1 and a system-chosen port).
    pub fn service_addr(&self, service: Service) -> SocketAddr {
        match service {
            Service::Smtp => self.mx.addr(),
            Service::Submission => self.submission.addr(),
            Service::Submissions => self.submissions.addr(),
            Service::Imap => self.imap.addr(),
            Service::Imaps => self.imaps.addr(),
            Service::Pop3 => self.pop3.addr(),
            Service::Pop3s => self.pop3s.addr(),
            Service::Lmtp => self.lmtp.addr(),
        }
    }

    /// The runtime handle of the `ACME` capability that `service`'s server advertises
    /// (draft-ietf-acme-email-tls-05 §3.4): set it while a capability challenge is pending,
    /// clear it after. Each listener has its own.
    pub fn acme_capability(&self, service: Service) -> AcmeAdvert {
        match service {
            Service::Smtp => self.mx.acme_capability(),
            Service::Submission => self.submission.acme_capability(),
            Service::Submissions => self.submissions.acme_capability(),
            Service::Imap => self.imap.acme_capability(),
            Service::Imaps => self.imaps.acme_capability(),
            Service::Pop3 => self.pop3.acme_capability(),
            Service::Pop3s => self.pop3s.acme_capability(),
            Service::Lmtp => self.lmtp.acme_capability(),
        }
    }

    /// Stops every mail server, then abandons the mail the MSA and the relays still hold.
    pub async fn shutdown(&self) {
        self.submission.shutdown().await;
        self.submissions.shutdown().await;
        for (_, server, _) in &self.relays {
            server.shutdown().await;
        }
        self.msa.shutdown().await;
        if let Some(smarthost) = &self.smarthost {
            smarthost.shutdown().await;
        }
        for (_, _, sink) in &self.relays {
            sink.shutdown().await;
        }
        self.ca_mx.shutdown().await;
        self.imap.shutdown().await;
        self.imaps.shutdown().await;
        self.pop3.shutdown().await;
        self.pop3s.shutdown().await;
        self.mx.shutdown().await;
        // The MX's idle sessions end first, so LMTP's shutdown has none to wait for.
        self.mx_lmtp.close().await;
        self.lmtp.shutdown().await;
    }
}

/// Submits `data` as `user` through a Submission server (the test clients' path).
pub fn envelope_for(from: &str, to: &str) -> Envelope {
    Envelope {
        mail_from: from.to_owned(),
        rcpt_to: vec![to.to_owned()],
        smtputf8: !from.is_ascii() || !to.is_ascii(),
        body_8bit: false,
    }
}
