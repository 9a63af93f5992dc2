//! `--server-url DIRECTORY`: an external ACME server. The harness is the ACME client and the
//! mailbox owner; one world (DNS, relays, mailboxes) serves every scenario, because the server
//! is configured once to use it.

use std::sync::Arc;
use std::time::{Duration, Instant};

use acmeproof_mocks::account_key::{AccountKey, KeyAlg};
use acmeproof_mocks::seed::Seed;
use acmeproof_mocks::world::mail::CaMailboxSpec;
use acmeproof_mocks::world::smarthost::SmarthostConfig;
use acmeproof_mocks::world::{World, WorldConfig};
use serde_json::{Value, json};

use crate::acme::AcmeClient;

/// An external ACME server and the world it was told to use.
#[derive(Debug)]
pub struct ServerTarget {
    /// Its directory URL.
    pub directory_url: String,
    /// PEM roots for its HTTPS certificate.
    pub root_pem: String,
    /// The roots (DER) its issued certificates must chain to; empty: each chain is checked up
    /// to its own top certificate.
    pub issuing_roots: Vec<Vec<u8>>,
    /// The `contact` of every account the harness creates: a `mailto:` URL of a world mailbox
    /// by default (many CAs require one; RFC 8555 §7.3), empty with `--no-contact`.
    pub contact: Vec<String>,
    /// The world it uses for DNS and mail.
    pub world: World,
    /// A strict MUA (`--strict-mua`): a challenge mail that breaks a MUST of RFC 8823 §3.1 is
    /// ignored, as a conformant MUA does, and the scenario stops there. Default (lenient): it
    /// is answered all the same, each defect a finding, so one defect does not hide the rest.
    pub strict_mua: bool,
    /// `Err(why)` when it does not do RFC 8823: email scenarios are then `unimplemented`.
    pub email: Result<(), String>,
    /// `Err(why)` when it offers no draft-ietf-acme-email-tls challenge: email-tls scenarios
    /// are then `unimplemented`.
    pub email_tls: Result<(), String>,
    /// The bound on each request to it (`--client-timeout`): a server that accepts and never
    /// answers ends the step there.
    pub request_timeout: Duration,
}

/// How a run meets its server under test (the `run --server-*` options).
#[derive(Debug, Clone)]
pub struct ServerSetup<'a> {
    /// Its directory URL.
    pub directory_url: &'a str,
    /// PEM roots for its HTTPS certificate.
    pub root_pem: String,
    /// The roots (DER) its certificates must chain to; empty: each chain's own top.
    pub issuing_roots: Vec<Vec<u8>>,
    /// Whether accounts carry a `mailto:` contact.
    pub with_contact: bool,
    /// See [`ServerTarget::strict_mua`].
    pub strict_mua: bool,
    /// Where to write the wiring as JSON, before the wait.
    pub wiring_file: Option<&'a std::path::Path>,
    /// The shared world's configuration (`--server-world FILE` over the example world; e.g.
    /// `[dns] listen` where the server expects its resolver).
    pub world: WorldConfig,
    /// The world's seed.
    pub seed: u64,
    /// How long to wait for the directory to answer.
    pub wait: Duration,
    /// The server's own mailbox (`--ca-mailbox`); `None`: the world config's `[mail]
    /// ca_mailbox`, else [`DEFAULT_CA_MAILBOX`] with a password from the seed.
    pub ca_mailbox: Option<CaMailboxSpec>,
    /// The smarthost DKIM-signs like a provider's MSA (`--smarthost-dkim`).
    pub smarthost_dkim: bool,
    /// The bound on each request once the run is under way.
    pub request_timeout: Duration,
}

/// The CA mailbox's address when neither `--ca-mailbox` nor the world config names one.
pub const DEFAULT_CA_MAILBOX: &str = "acme-ca@ca.example.test";

/// The world a server under test needs on top of `config`: a CA mailbox and a smarthost.
fn server_world(
    mut config: WorldConfig,
    ca_mailbox: Option<CaMailboxSpec>,
    smarthost_dkim: bool,
) -> WorldConfig {
    let mail = &mut config.mail;
    if let Some(spec) = ca_mailbox {
        mail.ca_mailbox = Some(spec);
    } else if mail.ca_mailbox.is_none() {
        mail.ca_mailbox = Some(CaMailboxSpec {
            address: DEFAULT_CA_MAILBOX.into(),
            password: None,
        });
    }
    let smarthost = mail.smarthost.get_or_insert_with(SmarthostConfig::default);
    smarthost.dkim_sign |= smarthost_dkim;
    config
}

impl ServerTarget {
    /// Starts the shared world, tells `say` how to configure the server (and writes it to the
    /// wiring file), waits (at most `wait`) until the directory answers, and asks once whether
    /// the server takes `email` identifiers with an `email-reply-00` challenge.
    pub async fn start(
        setup: ServerSetup<'_>,
        say: &mut (dyn FnMut(String) + Send),
    ) -> Result<ServerTarget, String> {
        let ServerSetup {
            directory_url,
            root_pem,
            issuing_roots,
            with_contact,
            strict_mua,
            wiring_file,
            world: config,
            seed,
            wait,
            ca_mailbox,
            smarthost_dkim,
            request_timeout,
        } = setup;
        let config = server_world(WorldConfig { seed, ..config }, ca_mailbox, smarthost_dkim);
        let world = World::start(config)
            .await
            .map_err(|e| format!("the world did not start: {e}"))?;
        for line in configuration(&world) {
            say(line);
        }
        let contact = if with_contact {
            vec![format!("mailto:{}", contact_address(&world))]
        } else {
            Vec::new()
        };
        if let Some(path) = wiring_file {
            let text = serde_json::to_string_pretty(&wiring(&world, directory_url, &contact))
                .unwrap_or_default();
            if let Err(e) = std::fs::write(path, text + "\n") {
                world.shutdown().await;
                return Err(format!("cannot write {}: {e}", path.display()));
            }
            say(format!("the wiring is in {}", path.display()));
        }
        let key = |label: &str| {
            AccountKey::generate(KeyAlg::Es256, &Seed(seed).stream(label))
                .map_err(|e| format!("key: {e}"))
        };
        let started = Instant::now();
        let mut last_answer: Option<String> = None;
        let client = loop {
            // Each attempt is bounded by what is left of the wait: a server that accepts the
            // connection and never answers cannot hold the run past `--server-wait`.
            let left = wait.saturating_sub(started.elapsed());
            let attempt = tokio::time::timeout(
                left,
                AcmeClient::connect(directory_url, &root_pem, key("email-support")?),
            )
            .await;
            match attempt {
                Ok(Ok(client)) => break client,
                // What the server said beats an attempt the wait cut short.
                Ok(Err(e)) => last_answer = Some(e.to_string()),
                Err(_) => {}
            }
            if started.elapsed() >= wait {
                world.shutdown().await;
                let error = last_answer.unwrap_or_else(|| {
                    "no answer (the connection was accepted, nothing came back)".to_owned()
                });
                return Err(format!(
                    "{directory_url} did not answer as an ACME directory within {} s: {error}",
                    wait.as_secs()
                ));
            }
            // An external server starting up: nothing in this process to await, so poll.
            tokio::time::sleep(Duration::from_millis(200)).await;
        };
        say(format!("{directory_url} answers"));
        say(match contact.first() {
            Some(url) => format!("accounts are created with contact {url} (--no-contact: none)"),
            None => "accounts are created without a contact (--no-contact)".into(),
        });
        say(match issuing_roots.len() {
            0 => "issued certificates are checked up to their chain's own top certificate (no \
                  --server-root: the top itself is not trusted)"
                .to_owned(),
            n => format!("issued certificates must chain to the {n} root(s) of --server-root"),
        });
        say(if strict_mua {
            "the MUA is strict (--strict-mua): a challenge mail that breaks a MUST of RFC 8823 \
             §3.1 is ignored, and its scenario stops there"
                .to_owned()
        } else {
            "the MUA is lenient: a challenge mail that breaks a MUST of RFC 8823 §3.1 is \
             answered all the same, each defect a finding (--strict-mua: ignore it, as a \
             conformant MUA does)"
                .to_owned()
        });
        let email = email_support(&client, &world, &contact).await;
        match &email {
            Ok(()) => say("it offers email-reply-00 for email identifiers".into()),
            Err(why) => say(format!(
                "no RFC 8823 support ({why}): email scenarios will be unimplemented"
            )),
        }
        let email_tls = email_tls_support(&client).await;
        match &email_tls {
            Ok(()) => say("it offers draft-ietf-acme-email-tls challenges".into()),
            Err(why) => say(format!(
                "no draft-ietf-acme-email-tls support ({why}): email-tls scenarios will be \
                 unimplemented"
            )),
        }
        Ok(ServerTarget {
            directory_url: directory_url.to_owned(),
            root_pem,
            issuing_roots,
            contact,
            world,
            strict_mua,
            email,
            email_tls,
            request_timeout,
        })
    }

    /// Stops the world.
    pub async fn shutdown(self: Arc<Self>) {
        if let Ok(target) = Arc::try_unwrap(self) {
            target.world.shutdown().await;
        }
    }
}

/// What the server must be configured with, for a script (`run --wiring FILE`): the DNS
/// resolver, the SMTP smarthost for challenge mail (with its AUTH and signing), the CA mailbox
/// and its credentials and IMAP/POP3 endpoints, the root of the world's TLS, the capability
/// ports (service port → world port), the accounts' contact, and every endpoint of the world
/// (mail servers, users and their passwords, DKIM keys, the management API).
pub fn wiring(world: &World, directory_url: &str, contact: &[String]) -> Value {
    let mail = world.mail.as_ref();
    let smarthost = mail.and_then(|m| m.smarthost.as_ref()).map(|s| {
        json!({
            "address": s.starttls.addr().to_string(),
            "starttls": true,
            "implicit_tls_address": s.implicit_tls.addr().to_string(),
            "auth": if s.config.users.is_empty() { "any" } else { "configured" },
            "users": s.config.users,
            "dkim_sign": s.config.dkim_sign,
            "what_it_does": s.config.describe(),
        })
    });
    let ca_mailbox = mail
        .and_then(|m| Some((m, m.ca_mailbox.as_ref()?)))
        .map(|(m, user)| {
            json!({
                "address": user.address,
                "username": user.address,
                "password": user.password,
                "imap": { "address": m.imap.addr().to_string(), "tls": "none or STARTTLS" },
                "imaps": { "address": m.imaps.addr().to_string(), "tls": "implicit" },
                "pop3": { "address": m.pop3.addr().to_string(), "tls": "none or STLS" },
                "pop3s": { "address": m.pop3s.addr().to_string(), "tls": "implicit" },
            })
        });
    let ports: serde_json::Map<String, Value> = mail
        .map(|m| {
            acmeproof_protocol::email_tls::Service::ALL
                .into_iter()
                .filter_map(|s| Some((s.default_port()?, m.service_addr(s).port())))
                .map(|(port, actual)| (port.to_string(), json!(actual)))
                .collect()
        })
        .unwrap_or_default();
    json!({
        "server_under_test": directory_url,
        "dns_resolver": world.dns.addr().to_string(),
        "smtp_smarthost": smarthost,
        "ca_mailbox": ca_mailbox,
        "tls_root_pem": world.pki.root_pem(),
        "capability_ports": ports,
        "account_contact": contact,
        "world": world.endpoints(None),
    })
}

/// What the server must be configured with, one line each.
pub fn configuration(world: &World) -> Vec<String> {
    let mut lines = vec![format!(
        "configure the server under test with: DNS resolver {} (UDP and TCP; it serves every \
         name the scenarios use)",
        world.dns.addr()
    )];
    if let Some(mail) = &world.mail {
        if let Some(smarthost) = &mail.smarthost {
            let auth = if smarthost.config.users.is_empty() {
                "any user name and password"
            } else {
                "the users of [mail.smarthost]"
            };
            lines.push(format!(
                "  SMTP smarthost for challenge mail: {} (STARTTLS), {} (implicit TLS); AUTH \
                 PLAIN or LOGIN with {auth}; {}",
                smarthost.starttls.addr(),
                smarthost.implicit_tls.addr(),
                smarthost.config.describe()
            ));
        }
        if let Some(user) = &mail.ca_mailbox {
            lines.push(format!(
                "  the CA mailbox (the challenge's From; replies arrive there): {} password {} \
                 over IMAP {} (plain or STARTTLS), IMAPS {}, POP3 {} (plain or STLS), POP3S {}",
                user.address,
                user.password,
                mail.imap.addr(),
                mail.imaps.addr(),
                mail.pop3.addr(),
                mail.pop3s.addr()
            ));
        }
        lines.push(
            "  TLS of every world server: the world's root, in the wiring's tls_root_pem".into(),
        );
        // draft-ietf-acme-email-tls capability challenges: the world's servers listen on
        // loopback ports the system chose, not on 25, 993, …
        let ports: Vec<String> = acmeproof_protocol::email_tls::Service::ALL
            .into_iter()
            .filter_map(|s| Some((s.default_port()?, mail.service_addr(s).port())))
            .map(|(port, actual)| format!("{port}={actual}"))
            .collect();
        lines.push(format!(
            "  capability challenges: connect to 127.0.0.1 port {} (service port=world port)",
            ports.join(" ")
        ));
    }
    lines
}

/// The challenge types the server offers for `identifier` (a newOrder and its first
/// authorization, which is then deactivated so nothing is left pending: RFC 8555 §7.5.2).
async fn offered_challenges(client: &AcmeClient, identifier: Value) -> Result<Vec<String>, String> {
    let (_, order) = client
        .new_order(&[identifier])
        .await
        .map_err(|e| format!("newOrder: {e}"))?;
    let authz_url = order["authorizations"][0]
        .as_str()
        .ok_or("the order has no authorization")?;
    let authz = client
        .get(authz_url)
        .await
        .map_err(|e| format!("the authorization: {e}"))?;
    let _ = client
        .post(authz_url, Some(&json!({ "status": "deactivated" })))
        .await;
    Ok(authz["challenges"]
        .as_array()
        .map(|cs| {
            cs.iter()
                .filter_map(|c| c["type"].as_str().map(str::to_owned))
                .collect()
        })
        .unwrap_or_default())
}

/// The world mailbox an account's `mailto:` contact names: its first user's.
fn contact_address(world: &World) -> String {
    world
        .mail
        .as_ref()
        .and_then(|m| m.users.first())
        .map(|u| u.address.clone())
        .unwrap_or_else(|| "alice@example.test".into())
}

/// Whether the server takes an `email` identifier and offers `email-reply-00` for it.
async fn email_support(
    client: &AcmeClient,
    world: &World,
    contact: &[String],
) -> Result<(), String> {
    client
        .new_account(contact)
        .await
        .map_err(|e| format!("newAccount: {e}"))?;
    let address = contact_address(world);
    let offered = offered_challenges(client, json!({ "type": "email", "value": address }))
        .await
        .map_err(|e| e.replace("newOrder:", "newOrder for an email identifier:"))?;
    if offered.iter().any(|t| t == "email-reply-00") {
        Ok(())
    } else {
        Err(format!(
            "for an email identifier it offers {} but no email-reply-00",
            offered.join(", ")
        ))
    }
}

/// Whether the server offers a draft-ietf-acme-email-tls challenge for a `dns` identifier that
/// names a mail service (-05 §3.1: `service`/`port` in the identifier object).
async fn email_tls_support(client: &AcmeClient) -> Result<(), String> {
    const TYPES: [&str; 4] = [
        "dns-email-00",
        "capability-smtp-00",
        "capability-imap-00",
        "capability-pop-00",
    ];
    // The draft's own placement first (a plain dns order, the service named in the challenge
    // POST), then acmeproof's newOrder proposal.
    let plain = json!({ "type": "dns", "value": "mail.example.test" });
    let mut offered = offered_challenges(client, plain).await.unwrap_or_default();
    if !offered.iter().any(|t| TYPES.contains(&t.as_str())) {
        let identifier = json!({
            "type": "dns",
            "value": "mail.example.test",
            "service": "imaps",
            "port": 993
        });
        offered = offered_challenges(client, identifier)
            .await
            .map_err(|e| e.replace("newOrder:", "newOrder with a mail service:"))?;
    }
    if offered.iter().any(|t| TYPES.contains(&t.as_str())) {
        Ok(())
    } else {
        Err(format!(
            "for imaps on mail.example.test it offers {} but none of {}",
            offered.join(", "),
            TYPES.join(", ")
        ))
    }
}
