//! The reference "mail server operator": a TLS certificate for an SMTP / Submission / IMAP /
//! POP3 (/ LMTP) server through draft-ietf-acme-email-tls, step by step.
//!
//! ```text
//!  order()   newOrder for dns:<domain>: plain, as every draft version's Figure 1 has it, or
//!            with service/port (acmeproof's proposal: identifier objects or protected header)
//!            → one authorization per service; pick dns-email-00 or capability-<proto>-00
//!  publish() TXT _<port>._<service>._acme-challenge.<domain> in the world's DNS, or the
//!            `ACME` capability on the world's server for the service
//!  respond() POST each challenge (service/port in its protected header, -00…-04, or its
//!            payload, -05, under the draft's placement), poll each authorization
//!  finalize() CSR (seeded key, dNSName) → certificate with DNS-ID + SRV-ID (RFC 7817 §4)
//!  cleanup() remove the TXT / clear the capability
//! ```
//!
//! Each client-side variant is an option, so a matrix can cross them with the CA's knobs:
//! [`ServiceField`] (where `service`/`port` go) and `service_port_in_hash` (which digest).

use std::time::Duration;

use acmeproof_mocks::account_key::{AccountKey, KeyAlg};
use acmeproof_mocks::ca::pki::subject_alt_name_der;
use acmeproof_mocks::dns::DnsServer;
use acmeproof_mocks::mail::acme::AdvertPhase;
use acmeproof_mocks::seed::Seed;
use acmeproof_mocks::world::mail::MailPlane;
use acmeproof_protocol::email_tls::{self, Service};
use acmeproof_protocol::keyauth;
use acmeproof_protocol::pki::{SanName, server_profile};
use acmeproof_protocol::{Findings, requirements as req};
use serde_json::{Map, Value, json};

use super::client::AcmeClient;
use super::flow::{FlowError, Issued};

/// Where the operator puts `service` and `port`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum ServiceField {
    /// The draft, -00…-04 Figure 1: protected header parameters of the challenge POST; the
    /// order is a plain `dns` order. One service per order.
    ChallengeHeader,
    /// The draft, -05 Figure 1: members of the challenge POST's payload; the order is a plain
    /// `dns` order. One service per order.
    #[default]
    ChallengePayload,
    /// acmeproof's proposal: members of the `dns` identifier objects of the newOrder payload.
    /// Several services per order.
    NewOrder,
    /// acmeproof's proposal: protected header parameters of the newOrder request. One service.
    NewOrderHeader,
    /// -05 §4 open issue 1's proposal: one `dns` identifier object with `services` and `ports`
    /// arrays (CA knob service_arrays).
    NewOrderArrays,
    /// The service@domain identifier type of the -00…-02 open issue (CA knob
    /// service_identifier): one `{"type": "service", "value": "imaps@domain", "port": 993}` per
    /// service.
    ServiceIdentifier,
}

impl ServiceField {
    /// Whether this is the draft's own placement (the challenge POST).
    pub fn at_challenge(self) -> bool {
        matches!(
            self,
            ServiceField::ChallengeHeader | ServiceField::ChallengePayload
        )
    }

    /// The name used in scenario files and matrices.
    pub fn name(self) -> &'static str {
        match self {
            ServiceField::ChallengeHeader => "challenge-header",
            ServiceField::ChallengePayload => "challenge-payload",
            ServiceField::NewOrder => "new-order",
            ServiceField::NewOrderHeader => "new-order-header",
            ServiceField::NewOrderArrays => "new-order-arrays",
            ServiceField::ServiceIdentifier => "service-identifier",
        }
    }
}

/// Which challenge the operator answers.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Proof {
    /// dns-email-00 (-05 §3.3).
    DnsEmail,
    /// capability-smtp-00 / capability-imap-00 / capability-pop-00, by service (-05 §3.4).
    #[default]
    Capability,
}

/// One service to certify.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ServiceRequest {
    /// The service.
    pub service: Service,
    /// The port; `None` leaves it out (-05 §3 item 2: the IANA default is assumed).
    pub port: Option<u16>,
}

impl ServiceRequest {
    /// `service` on `port`.
    pub fn new(service: Service, port: Option<u16>) -> ServiceRequest {
        ServiceRequest { service, port }
    }
}

/// The operator's choices.
#[derive(Debug, Clone)]
pub struct OperatorOptions {
    /// The services (usually one; more than one needs [`ServiceField::NewOrder`]).
    pub services: Vec<ServiceRequest>,
    /// Which challenge to answer.
    pub proof: Proof,
    /// Where `service`/`port` go.
    pub field: ServiceField,
    /// Publish `service_bound_digest` (the open-issue proposal) instead of the -05 digest.
    pub service_port_in_hash: bool,
    /// Under the proposal's placements, repeat `service`/`port` in the challenge POST (in the
    /// payload for [`ServiceField::NewOrder`], in the protected header for
    /// [`ServiceField::NewOrderHeader`]).
    pub repeat_in_challenge: bool,
    /// When the world's server shows the capability.
    pub advert_phase: AdvertPhase,
    /// Put the SRV-IDs of the services in the CSR next to the dNSName (RFC 7817 §5: CSR tools
    /// "MUST include" an SRV-ID per service). Off by default: they are not ACME identifiers,
    /// and a CA applying RFC 8555 §7.4 literally refuses them (this CA accepts validated ones).
    pub csr_srv_ids: bool,
    /// The CSR key's algorithm; the key comes from `seed`.
    pub csr_key: KeyAlg,
    /// Where the CSR key is drawn from.
    pub seed: Seed,
    /// Bound on each wait.
    pub timeout: Duration,
}

impl OperatorOptions {
    /// One service, the -05 defaults (challenge POST payload, plain digest, capability proof).
    pub fn new(service: Service, port: Option<u16>) -> OperatorOptions {
        OperatorOptions {
            services: vec![ServiceRequest::new(service, port)],
            proof: Proof::Capability,
            field: ServiceField::ChallengePayload,
            service_port_in_hash: false,
            repeat_in_challenge: false,
            advert_phase: AdvertPhase::Always,
            csr_srv_ids: false,
            csr_key: KeyAlg::Es256,
            seed: Seed(1),
            timeout: Duration::from_secs(20),
        }
    }
}

/// One challenge the operator answers.
#[derive(Debug, Clone)]
pub struct PendingChallenge {
    /// The authorization URL.
    pub authz_url: String,
    /// The challenge URL.
    pub challenge_url: String,
    /// The challenge type (`dns-email-00`, `capability-imap-00`, …).
    pub kind: String,
    /// The service.
    pub service: Service,
    /// The port (resolved).
    pub port: u16,
    /// The digest published.
    pub digest: String,
    /// dns-email-00: the TXT owner name.
    pub txt_name: Option<String>,
}

/// An order on its way.
#[derive(Debug, Clone)]
pub struct PendingOrder {
    /// The order URL.
    pub order_url: String,
    /// The order as created.
    pub order: Value,
    /// The name.
    pub domain: String,
    /// One per service.
    pub challenges: Vec<PendingChallenge>,
}

/// A finished issuance and what was seen on the way.
#[derive(Debug, Clone)]
pub struct EmailTlsIssued {
    /// The certificate.
    pub issued: Issued,
    /// The order as finally read.
    pub order: Value,
    /// The authorizations as finally read.
    pub authorizations: Vec<Value>,
    /// What was answered.
    pub challenges: Vec<PendingChallenge>,
    /// The CSR sent, DER.
    pub csr_der: Vec<u8>,
}

/// The operator: an ACME client, the world's DNS and mail servers.
#[derive(Debug)]
pub struct Operator<'a> {
    /// The ACME client (with an account).
    pub client: &'a AcmeClient,
    /// The world's DNS (dns-email-00).
    pub dns: &'a DnsServer,
    /// The world's mail servers (capability-*-00).
    pub mail: Option<&'a MailPlane>,
    /// The choices.
    pub options: OperatorOptions,
}

fn unexpected(what: impl Into<String>) -> FlowError {
    FlowError::Unexpected(what.into())
}

fn str_at<'v>(v: &'v Value, key: &str) -> Result<&'v str, FlowError> {
    v.get(key)
        .and_then(|s| s.as_str())
        .ok_or_else(|| unexpected(format!("no \"{key}\" in {v}")))
}

fn fields(service: Service, port: Option<u16>) -> Map<String, Value> {
    let mut m = Map::new();
    m.insert("service".into(), json!(service));
    if let Some(p) = port {
        m.insert("port".into(), json!(p));
    }
    m
}

impl Operator<'_> {
    /// newOrder with `service`/`port` placed per [`ServiceField`], and the challenge to answer
    /// for each service, with its digest.
    pub async fn order(&self, domain: &str) -> Result<PendingOrder, FlowError> {
        let o = &self.options;
        let one = || match o.services.as_slice() {
            [only] => Ok(*only),
            many => Err(unexpected(format!(
                "{} names one service per order ({} given): use ServiceField::NewOrder for several",
                o.field.name(),
                many.len()
            ))),
        };
        let plain = json!({ "identifiers": [{ "type": "dns", "value": domain }] });
        let (payload, header) = match o.field {
            ServiceField::NewOrder => {
                let ids: Vec<Value> = o
                    .services
                    .iter()
                    .map(|s| {
                        let mut id = fields(s.service, s.port);
                        id.insert("type".into(), json!("dns"));
                        id.insert("value".into(), json!(domain));
                        Value::Object(id)
                    })
                    .collect();
                (json!({ "identifiers": ids }), Map::new())
            }
            ServiceField::NewOrderHeader => {
                let only = one()?;
                (plain, fields(only.service, only.port))
            }
            ServiceField::NewOrderArrays => {
                let services: Vec<&str> = o.services.iter().map(|s| s.service.name()).collect();
                let mut id = json!({ "type": "dns", "value": domain, "services": services });
                if o.services.iter().all(|s| s.port.is_some()) {
                    let ports: Vec<Option<u16>> = o.services.iter().map(|s| s.port).collect();
                    id["ports"] = json!(ports);
                }
                (json!({ "identifiers": [id] }), Map::new())
            }
            ServiceField::ServiceIdentifier => {
                let ids: Vec<Value> = o
                    .services
                    .iter()
                    .map(|s| {
                        let mut id = json!({
                            "type": "service",
                            "value": format!("{}@{domain}", s.service.name()),
                        });
                        if let Some(port) = s.port {
                            id["port"] = json!(port);
                        }
                        id
                    })
                    .collect();
                (json!({ "identifiers": ids }), Map::new())
            }
            ServiceField::ChallengeHeader | ServiceField::ChallengePayload => {
                one()?;
                (plain, Map::new())
            }
        };
        let (order_url, order) = self.client.new_order_with(&payload, &header).await?;
        let authz_urls: Vec<String> = order
            .get("authorizations")
            .and_then(|a| a.as_array())
            .ok_or_else(|| unexpected("order without authorizations"))?
            .iter()
            .filter_map(|u| u.as_str().map(str::to_owned))
            .collect();
        let mut authzs = Vec::new();
        for url in &authz_urls {
            authzs.push((url.clone(), self.client.get(url).await?));
        }
        let thumbprint = self.client.key().thumbprint();
        let mut challenges = Vec::new();
        for (i, request) in o.services.iter().enumerate() {
            let port = email_tls::resolve_port(request.service, request.port)
                .map_err(|e| unexpected(e.to_string()))?;
            let wanted = match o.proof {
                Proof::DnsEmail => "dns-email-00",
                Proof::Capability => request
                    .service
                    .capability_challenge()
                    .unwrap_or("capability-smtp-00"),
            };
            // This CA shows service/port on each challenge; otherwise the authorizations are
            // taken in the order of the identifiers.
            let names_target = |c: &Value| {
                c.get("service").and_then(|s| s.as_str()) == Some(request.service.name())
                    && c.get("port").and_then(|p| p.as_u64()) == Some(u64::from(port))
            };
            let found = authzs
                .iter()
                .find_map(|(url, a)| {
                    let cs = a.get("challenges")?.as_array()?;
                    let c = cs.iter().find(|c| {
                        c.get("type").and_then(|t| t.as_str()) == Some(wanted) && names_target(c)
                    })?;
                    Some((url.clone(), c.clone()))
                })
                .or_else(|| {
                    let (url, a) = authzs.get(i)?;
                    let c = a
                        .get("challenges")?
                        .as_array()?
                        .iter()
                        .find(|c| c.get("type").and_then(|t| t.as_str()) == Some(wanted))?;
                    Some((url.clone(), c.clone()))
                });
            let Some((authz_url, challenge)) = found else {
                let mut offered: Vec<&str> = authzs
                    .iter()
                    .filter_map(|(_, a)| a.get("challenges")?.as_array())
                    .flatten()
                    .filter_map(|c| c.get("type")?.as_str())
                    .collect();
                offered.sort_unstable();
                offered.dedup();
                let why = if o.field.at_challenge() {
                    ": this CA offers no email-tls challenge for a plain dns order, as a CA that reads service/port only at newOrder (acmeproof's proposal) does"
                } else {
                    ""
                };
                return Err(unexpected(format!(
                    "no {wanted} challenge for {}/{port} among {} authorization(s), which offer {}{why}",
                    request.service,
                    authzs.len(),
                    offered.join(", ")
                )));
            };
            let ka = keyauth::key_authorization(str_at(&challenge, "token")?, &thumbprint);
            let digest =
                email_tls::challenge_digest(&ka, request.service, port, o.service_port_in_hash);
            let txt_name = (o.proof == Proof::DnsEmail)
                .then(|| email_tls::txt_name(port, request.service, domain))
                .transpose()
                .map_err(|e| unexpected(e.to_string()))?;
            challenges.push(PendingChallenge {
                authz_url,
                challenge_url: str_at(&challenge, "url")?.to_owned(),
                kind: wanted.to_owned(),
                service: request.service,
                port,
                digest,
                txt_name,
            });
        }
        Ok(PendingOrder {
            order_url,
            order,
            domain: domain.to_owned(),
            challenges,
        })
    }

    /// Publishes every digest: the TXT record (dns-email-00), or the capability on the world's
    /// server for the service (capability-*-00).
    pub async fn publish(&self, pending: &PendingOrder) -> Result<(), FlowError> {
        for c in &pending.challenges {
            match &c.txt_name {
                Some(name) => {
                    // Several services never share a TXT name (it holds port and service).
                    self.dns
                        .set_txt(name, vec![c.digest.clone()])
                        .await
                        .map_err(|e| FlowError::Dns(e.to_string()))?;
                }
                None => {
                    let mail = self
                        .mail
                        .ok_or_else(|| unexpected("capability proof without a mail plane"))?;
                    mail.acme_capability(c.service)
                        .set_in(&c.digest, self.options.advert_phase)
                        .map_err(|e| unexpected(e.to_string()))?;
                }
            }
        }
        Ok(())
    }

    /// POSTs every challenge and polls its authorization to the end. An authorization that
    /// ends `invalid` is [`FlowError::Invalid`] with the authorization object.
    pub async fn respond(&self, pending: &PendingOrder) -> Result<Vec<Value>, FlowError> {
        let o = &self.options;
        for c in &pending.challenges {
            // As ordered: the port is left out when the request left it out (-05 §3 item 2).
            let asked = o
                .services
                .iter()
                .find(|s| s.service == c.service)
                .and_then(|s| s.port);
            let named = fields(c.service, asked);
            let repeat = fields(c.service, Some(c.port));
            let (payload, header) = match (o.field, o.repeat_in_challenge) {
                (ServiceField::ChallengeHeader, _) => (json!({}), named),
                (ServiceField::ChallengePayload, _) => (Value::Object(named), Map::new()),
                (_, false) => (json!({}), Map::new()),
                (ServiceField::NewOrder, true) => (Value::Object(repeat), Map::new()),
                (ServiceField::NewOrderHeader, true) => (json!({}), repeat),
                (_, true) => (Value::Object(repeat), Map::new()),
            };
            self.client
                .post_with_protected(&c.challenge_url, Some(&payload), &header)
                .await?;
        }
        let mut authzs = Vec::new();
        for c in &pending.challenges {
            let authz = self
                .client
                .poll(&c.authz_url, &["pending"], o.timeout)
                .await?;
            if str_at(&authz, "status")? != "valid" {
                return Err(FlowError::Invalid(authz));
            }
            authzs.push(authz);
        }
        Ok(authzs)
    }

    /// A CSR for the name (dNSName; the SRV-IDs too with `csr_srv_ids`, otherwise the CA adds
    /// those it validated), with a key drawn from the options' seed.
    pub async fn finalize(
        &self,
        pending: &PendingOrder,
    ) -> Result<(Issued, Value, Vec<u8>), FlowError> {
        let o = &self.options;
        let order = self
            .client
            .poll(&pending.order_url, &["pending"], o.timeout)
            .await?;
        if str_at(&order, "status")? != "ready" {
            return Err(unexpected(format!("order is not ready: {order}")));
        }
        let key = match o.csr_key {
            // An RSA key is not derived from the seed: one per process serves every order, not
            // tens of milliseconds of generation each time. Nothing in RFC 8555 or the draft
            // asks a certificate key to be new, and the CSR check is the same either way.
            KeyAlg::Rs256 => AccountKey::shared_rsa("email-tls csr key"),
            alg => AccountKey::generate(alg, &o.seed.stream("email-tls.csr-key")),
        }
        .map_err(|e| FlowError::Csr(e.to_string()))?;
        let key_pair =
            rcgen::KeyPair::try_from(key.pkcs8_der()).map_err(|e| FlowError::Csr(e.to_string()))?;
        let mut params = rcgen::CertificateParams::new(vec![pending.domain.clone()])
            .map_err(|e| FlowError::Csr(e.to_string()))?;
        // rcgen's default subject is "CN=rcgen self signed cert", which names no identifier.
        params.distinguished_name = rcgen::DistinguishedName::new();
        if o.csr_srv_ids {
            // rcgen cannot write an otherName holding an IA5String (SRVName): the whole SAN
            // is one custom extension, and rcgen's own list stays empty.
            let mut names = vec![SanName::Dns(pending.domain.clone())];
            for c in &pending.challenges {
                let srv = format!("_{}.{}", c.service.name(), pending.domain);
                if !names.contains(&SanName::SrvName(srv.clone())) {
                    names.push(SanName::SrvName(srv));
                }
            }
            let der = subject_alt_name_der(&names).map_err(|e| FlowError::Csr(e.to_string()))?;
            params.subject_alt_names.clear();
            params
                .custom_extensions
                .push(rcgen::CustomExtension::from_oid_content(
                    &[2, 5, 29, 17],
                    der,
                ));
        }
        let csr = params
            .serialize_request(&key_pair)
            .map_err(|e| FlowError::Csr(e.to_string()))?;
        let order = self
            .client
            .finalize(str_at(&order, "finalize")?, csr.der())
            .await?;
        let order = if str_at(&order, "status")? == "valid" {
            order
        } else {
            self.client
                .poll(&pending.order_url, &["ready", "processing"], o.timeout)
                .await?
        };
        let chain_pem = self.client.download(str_at(&order, "certificate")?).await?;
        Ok((
            Issued {
                order_url: pending.order_url.clone(),
                chain_pem,
                key_pem: key_pair.serialize_pem(),
            },
            order,
            csr.der().to_vec(),
        ))
    }

    /// Removes what [`Operator::publish`] put up.
    pub async fn cleanup(&self, pending: &PendingOrder) {
        for c in &pending.challenges {
            match &c.txt_name {
                Some(name) => {
                    let _ = self
                        .dns
                        .remove(name, Some(hickory_proto::rr::RecordType::TXT))
                        .await;
                }
                None => {
                    if let Some(mail) = self.mail {
                        mail.acme_capability(c.service).clear();
                    }
                }
            }
        }
    }

    /// The whole issuance: order, publish, respond, finalize; cleaned up whatever happens.
    pub async fn issue(&self, domain: &str) -> Result<EmailTlsIssued, FlowError> {
        let pending = self.order(domain).await?;
        self.publish(&pending).await?;
        let result = async {
            let authorizations = self.respond(&pending).await?;
            let (issued, order, csr_der) = self.finalize(&pending).await?;
            Ok(EmailTlsIssued {
                issued,
                order,
                csr_der,
                authorizations,
                challenges: pending.challenges.clone(),
            })
        }
        .await;
        self.cleanup(&pending).await;
        result
    }
}

/// What the operator proved, for the certificate check.
pub fn validated(challenges: &[PendingChallenge]) -> Vec<server_profile::Validated> {
    challenges
        .iter()
        .map(|c| server_profile::Validated {
            service: c.service,
            port: c.port,
            proof: if c.kind == "dns-email-00" {
                server_profile::Proof::DnsEmail
            } else {
                server_profile::Proof::Capability
            },
        })
        .collect()
}

/// Checks a mail server's certificate chain: the chain verifies to `root_der` (when given: a
/// server under test's root is not known; TLS-4 MUST), and the leaf passes
/// [`server_profile::check_server_certificate`] (RFC 7817 §4: MUST findings for what the texts
/// require, Info-level policy notes for the CA's own choices).
pub fn check_server_certificate<'a>(
    chain_pem: &str,
    domain: &str,
    validated: &[server_profile::Validated],
    anchors: impl Into<acmeproof_mocks::ca::pki::TrustAnchors<'a>>,
) -> Findings {
    use acmeproof_mocks::ca::pki::{Purpose, validate_path};
    use acmeproof_protocol::pki::CertSummary;
    let mut out = Findings::new();
    let chain: Vec<Vec<u8>> = x509_parser::pem::Pem::iter_from_buffer(chain_pem.as_bytes())
        .filter_map(Result::ok)
        .map(|p| p.contents)
        .collect();
    let [leaf, _issuer, ..] = chain.as_slice() else {
        out.add(
            req::TLS_4,
            "a chain of leaf and issuer",
            format!("a chain of {} certificate(s)", chain.len()),
        );
        return out;
    };
    // RFC 5280 §6 up to the anchors, when the leaf became valid (the CA issued it then). EKU
    // is the profile's question (a policy note), not the path's.
    let issued_at = CertSummary::from_der(leaf).map(|s| s.not_before);
    let validation = issued_at
        .map_err(|e| e.to_string())
        .and_then(|at| validate_path(&chain, anchors.into(), Purpose::Any, at));
    if let Err(e) = validation {
        out.add(req::TLS_4, "a chain that validates up to its root", e);
    }
    out.extend(server_profile::check_server_certificate(
        leaf,
        &server_profile::Expectation { domain, validated },
    ));
    out
}
