//! draft-ietf-acme-email-tls on the CA side: which `dns` identifiers of an order ask for a mail
//! service (`service`/`port`), the challenges they get, and the challenge POST's check.
//! Validation itself is in [`super::validate_tls`].
//!
//! ```text
//!  the draft (every version's Figure 1), knob service_field = challenge | both:
//!  newOrder (plain dns) ─► authz offers http-01, dns-01, dns-email-00, capability-*-00
//!  challenge POST ─► challenge_target(): service/port from the protected header (-00…-04) or
//!                    the payload (-05), per knob draft; bound to the challenge and authz
//!  acmeproof's proposal, knob service_field = new-order | both:
//!  newOrder ─► targets(): service/port (or -05 open issue's services/ports arrays) in the
//!              identifier objects or the newOrder protected header; lmtp, TLS-5 port check
//!           ─► check_order(): one_cert_tls_and_starttls
//!           ─► authz with dns-email-00 + capability-<proto>-00 (service, port on each)
//!  challenge POST ─► check_challenge_post(): a repeated service/port must match
//!  then ─► validate_tls: TXT _<port>._<service>._acme-challenge.<domain>, or connect and read
//!          EHLO/CAPABILITY/CAPA
//!  finalize ─► order_targets() ─► certificate_profile(): SRV-ID `_<service>.<domain>` per
//!              target (RFC 7817 §4, RFC 4985), as knob tls_profile says
//! ```

use serde::Serialize;
use serde_json::{Map, Value};

use super::knobs::{Draft, Knobs, Lmtp, OneCertTlsAndStarttls, ServiceField, TlsProfile};
use super::model::{ChallengeKind, Order};
use super::pki::{CsrInfo, Identifier, Profile, SanName};
use super::problem::{Problem, ProblemType};
use super::state::Store;
use crate::protocol::email_tls::{self, EmailTlsError, Service};

/// The mail service an authorization is for: draft-ietf-acme-email-tls-05 §3.1 `service`
/// and §3.2 `port` (resolved: the IANA default when absent, TLS-2).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
pub struct MailTarget {
    /// The IANA service name.
    pub service: Service,
    /// The TCP port the service runs on.
    pub port: u16,
}

impl MailTarget {
    /// The SRV-ID for `domain` (RFC 4985 §2 `_Service.Name`; RFC 7817 §6: no `_tcp`).
    pub fn srv_id(&self, domain: &str) -> String {
        format!("_{}.{domain}", self.service.name())
    }

    /// The challenges an authorization for this target offers (-05 §3.3, §3.4): dns-email-00,
    /// then the capability challenge of the service's protocol.
    pub fn challenge_kinds(&self, wildcard: bool) -> Vec<ChallengeKind> {
        let mut kinds = vec![ChallengeKind::DnsEmail00];
        if !wildcard {
            kinds.push(ChallengeKind::capability_for(self.service));
        }
        kinds
    }
}

use crate::protocol::pki::server_profile::twin;

/// `service`/`port` members found in one place.
#[derive(Debug, Clone, Copy, PartialEq)]
struct Fields<'a> {
    service: Option<&'a Value>,
    port: Option<&'a Value>,
}

impl<'a> Fields<'a> {
    fn of(map: Option<&'a Map<String, Value>>) -> Fields<'a> {
        Fields {
            service: map.and_then(|m| m.get("service")),
            port: map.and_then(|m| m.get("port")),
        }
    }

    fn present(&self) -> bool {
        self.service.is_some() || self.port.is_some()
    }
}

/// Reads `service` and `port` (`where_` names the place for error details) into a target,
/// under the knobs' `lmtp` and `require_default_port`.
fn parse_target(fields: Fields<'_>, where_: &str, knobs: &Knobs) -> Result<MailTarget, Problem> {
    let Some(service) = fields.service else {
        // -05 §3 item 1: ""service" ... MUST be included".
        return Err(Problem::malformed(format!(
            "{where_} has \"port\" but no \"service\" (draft-ietf-acme-email-tls-05 §3: \"service\" MUST be included, TLS-1)"
        )));
    };
    let Some(name) = service.as_str() else {
        return Err(Problem::malformed(format!(
            "{where_}: \"service\" must be a string (an IANA service name), got {service}"
        )));
    };
    let service: Service = name.parse().map_err(|_| {
        Problem::new(
            ProblemType::UnsupportedIdentifier,
            format!(
                "{where_}: service {name:?} is not a mail service this CA validates (smtp, submission, submissions, imap, imaps, pop3, pop3s{})",
                if knobs.lmtp == Lmtp::On { ", lmtp" } else { "" }
            ),
        )
    })?;
    if service == Service::Lmtp && knobs.lmtp == Lmtp::Off {
        // -05 §4 open issue 2 "Add support for LMTP (RFC 2033)?", knob lmtp = off.
        return Err(Problem::new(
            ProblemType::UnsupportedIdentifier,
            format!(
                "{where_}: service \"lmtp\" is not supported by this CA (knob lmtp = off; LMTP is an open issue of draft-ietf-acme-email-tls, and \"lmtp\" is not an IANA service name)"
            ),
        ));
    }
    let port = match fields.port {
        None => None,
        Some(v) => match v.as_u64().and_then(|p| u16::try_from(p).ok()) {
            Some(p) => Some(p),
            None => {
                return Err(Problem::malformed(format!(
                    "{where_}: \"port\" must be a TCP port number 1-65535, got {v}"
                )));
            }
        },
    };
    let port = email_tls::resolve_port(service, port).map_err(|e| match e {
        EmailTlsError::PortRequired { .. } => Problem::malformed(format!(
            "{where_}: service {service} has no IANA default port, so \"port\" is required (draft-ietf-acme-email-tls-05 §3 item 2)"
        )),
        other => Problem::malformed(format!("{where_}: {other}")),
    })?;
    if service == Service::Lmtp && port == 25 && !knobs.lmtp_port_25 {
        // RFC 2033 §4: "The LMTP protocol MUST NOT be used on the TCP port 25."
        return Err(Problem::new(
            ProblemType::RejectedIdentifier,
            format!(
                "{where_}: lmtp on port 25 is refused: RFC 2033 §4 says LMTP \"MUST NOT be used on the TCP port 25\" (knob lmtp_port_25 = false)"
            ),
        ));
    }
    if knobs.require_default_port && !email_tls::port_matches_default(service, port) {
        // -05 §3.2 (TLS-5): "ACME server MAY check that the TCP port corresponds to the
        // requested "service"".
        return Err(Problem::new(
            ProblemType::RejectedIdentifier,
            format!(
                "{where_}: port {port} is not the IANA port of service {service} ({}); this CA requires it (knob require_default_port, draft-ietf-acme-email-tls-05 §3.2, TLS-5)",
                service
                    .default_port()
                    .map_or_else(|| "none".to_owned(), |p| p.to_string())
            ),
        ));
    }
    Ok(MailTarget { service, port })
}

fn knob_text(value: impl Serialize) -> String {
    serde_json::to_value(value)
        .ok()
        .and_then(|v| v.as_str().map(str::to_owned))
        .unwrap_or_default()
}

/// `service`/`port` at newOrder on a CA that follows the draft (knob service_field =
/// challenge).
fn not_at_new_order(knobs: &Knobs, found_in: &str) -> Problem {
    Problem::malformed(format!(
        "\"service\"/\"port\" found in {found_in}, but this CA follows the draft, which carries them in the challenge POST (draft-ietf-acme-email-tls-00…-05 Figure 1: -00…-04 in its JWS protected header, -05 in its payload); order the plain dns identifier (knob service_field = {})",
        knob_text(knobs.service_field)
    ))
}

/// `service`/`port` in the challenge POST where knob `draft` says the CA does not read them.
fn not_in_this_place(knobs: &Knobs, found_in: &str) -> Problem {
    let reads = match knobs.draft {
        Draft::V02 => {
            "JWS protected header (draft-ietf-acme-email-tls-00…-04 §3: \"service\" JWS header parameter)"
        }
        _ => "payload (draft-ietf-acme-email-tls-05 §3.1: \"service\" field in JSON payload)",
    };
    Problem::malformed(format!(
        "\"service\"/\"port\" found in {found_in}, but this CA reads them from the challenge POST's {reads} (knob draft = {})",
        knob_text(knobs.draft)
    ))
}

/// -05 §4 open issue 1 (knob `service_arrays`): a `dns` identifier object with `services` (and
/// `ports`) becomes one object per service with `service`/`port`, so the rest of newOrder sees
/// the one-service form. Without the knob `services`/`ports` are refused. Any other value is
/// returned as it came.
pub fn expand_service_arrays(
    knobs: &Knobs,
    identifiers: Option<&Value>,
) -> Result<Option<Value>, Problem> {
    let Some(list) = identifiers.and_then(|v| v.as_array()) else {
        return Ok(identifiers.cloned());
    };
    let mut out = Vec::with_capacity(list.len());
    for entry in list {
        let Some(obj) = entry.as_object() else {
            out.push(entry.clone());
            continue;
        };
        if obj.get("type").and_then(|t| t.as_str()) == Some(SERVICE_IDENTIFIER_TYPE) {
            out.push(service_identifier(knobs, entry)?);
            continue;
        }
        if !obj.contains_key("services") && !obj.contains_key("ports") {
            out.push(entry.clone());
            continue;
        }
        if !knobs.service_arrays {
            return Err(Problem::malformed(format!(
                "\"services\"/\"ports\" arrays are only a proposal of draft-ietf-acme-email-tls-05 §4 open issue 1; this CA does not take them (knob service_arrays = false): {entry}"
            )));
        }
        if obj.contains_key("service") || obj.contains_key("port") {
            return Err(Problem::malformed(format!(
                "an identifier has \"services\" or \"service\", not both: {entry}"
            )));
        }
        let services = obj
            .get("services")
            .and_then(|v| v.as_array())
            .filter(|a| !a.is_empty());
        let Some(services) = services else {
            return Err(Problem::malformed(format!(
                "\"services\" must be a non-empty array of service names: {entry}"
            )));
        };
        let ports = match obj.get("ports") {
            None => None,
            Some(v) => match v.as_array() {
                Some(p) if p.len() == services.len() => Some(p),
                _ => {
                    return Err(Problem::malformed(format!(
                        "\"ports\" must be an array as long as \"services\": {entry}"
                    )));
                }
            },
        };
        for (i, service) in services.iter().enumerate() {
            let mut one = obj.clone();
            one.remove("services");
            one.remove("ports");
            one.insert("service".into(), service.clone());
            if let Some(port) = ports.and_then(|p| p.get(i)) {
                one.insert("port".into(), port.clone());
            }
            out.push(Value::Object(one));
        }
    }
    Ok(Some(Value::Array(out)))
}

/// The identifier type of melnikov-00, ietf-00…-02 §4 open issue ("define a new Identifier
/// Type that specifies service@domain"); the drafts never named it, `service` is acmeproof's.
pub const SERVICE_IDENTIFIER_TYPE: &str = "service";

/// Knob service_identifier: `{"type": "service", "value": "imaps@mail.example.test", "port":
/// 993}` (port optional) becomes the `dns` identifier with that service, so the order proves
/// the same thing as the one-service forms; the order shows the `dns` form.
fn service_identifier(knobs: &Knobs, entry: &Value) -> Result<Value, Problem> {
    if !knobs.service_identifier {
        return Err(Problem::new(
            ProblemType::UnsupportedIdentifier,
            format!(
                "identifier type \"service\" (service@domain, an open issue of draft-melnikov-acme-email-tls-00 and draft-ietf-acme-email-tls-00…-02) is not taken by this CA (knob service_identifier = false): {entry}"
            ),
        ));
    }
    let value = entry
        .get("value")
        .and_then(|v| v.as_str())
        .unwrap_or_default();
    let Some((service, domain)) = value
        .split_once('@')
        .filter(|(s, d)| !s.is_empty() && !d.is_empty())
    else {
        return Err(Problem::new(
            ProblemType::RejectedIdentifier,
            format!("a \"service\" identifier is service@domain, not {value:?}"),
        ));
    };
    let mut dns = Map::new();
    dns.insert("type".into(), Value::from("dns"));
    dns.insert("value".into(), Value::from(domain));
    dns.insert("service".into(), Value::from(service));
    if let Some(port) = entry.get("port") {
        dns.insert("port".into(), port.clone());
    }
    Ok(Value::Object(dns))
}

/// The mail target of each entry of a newOrder `identifiers` array (same order; `None` for
/// entries that ask for no service), read from `protected` (the request's JWS protected
/// header) and/or the entries. On a CA that follows the draft (knob service_field = challenge)
/// any `service`/`port` here is refused. An `identifiers` value that is not an array gives an
/// empty list (the identifier check reports it).
pub fn targets(
    knobs: &Knobs,
    protected: &Map<String, Value>,
    identifiers: Option<&Value>,
) -> Result<Vec<Option<MailTarget>>, Problem> {
    let Some(list) = identifiers.and_then(|v| v.as_array()) else {
        return Ok(Vec::new());
    };
    let header = Fields::of(Some(protected));
    let in_payload = |entry: &Value| Fields::of(entry.as_object()).present();
    if knobs.service_field == ServiceField::Challenge {
        if header.present() {
            return Err(not_at_new_order(knobs, "the newOrder protected header"));
        }
        if list.iter().any(in_payload) {
            return Err(not_at_new_order(knobs, "the newOrder identifier objects"));
        }
        return Ok(vec![None; list.len()]);
    }
    let header_target = if header.present() {
        Some(parse_target(
            header,
            "the newOrder protected header",
            knobs,
        )?)
    } else {
        None
    };
    let mut out = Vec::with_capacity(list.len());
    for entry in list {
        let own = Fields::of(entry.as_object());
        let is_dns = entry.get("type").and_then(|t| t.as_str()) == Some("dns");
        let target = if own.present() {
            let value = entry.get("value").and_then(|v| v.as_str()).unwrap_or("?");
            Some(parse_target(own, &format!("identifier {value}"), knobs)?)
        } else if is_dns {
            header_target
        } else {
            None
        };
        if target.is_some() && !is_dns {
            // -05 §5: the challenges are "used with Identifier Type "dns"" (TLS-6).
            return Err(Problem::malformed(format!(
                "\"service\" applies to dns identifiers only (draft-ietf-acme-email-tls-05 §5), not {entry}"
            )));
        }
        out.push(target);
    }
    Ok(out)
}

/// The challenges of a plain `dns` authorization (no service named at newOrder): RFC 8555's
/// http-01 and dns-01, plus, on a CA that follows the draft (knob service_field = challenge or
/// both), dns-email-00 and the three capability challenges, whose POST names the service
/// (every draft version's Figure 1). A wildcard gets dns-01 only (RFC 8555 §7.1.3; an SRV-ID
/// cannot hold a wildcard, RFC 4985 §2).
pub fn plain_dns_kinds(knobs: &Knobs, wildcard: bool) -> Vec<ChallengeKind> {
    if wildcard {
        return vec![ChallengeKind::Dns01];
    }
    // RFC 8737 §3 registers tls-alpn-01 for `dns` identifiers.
    let mut kinds = vec![
        ChallengeKind::Http01,
        ChallengeKind::Dns01,
        ChallengeKind::TlsAlpn01,
    ];
    if knobs.service_field != ServiceField::NewOrder {
        kinds.extend([
            ChallengeKind::DnsEmail00,
            ChallengeKind::CapabilityImap00,
            ChallengeKind::CapabilityPop00,
            ChallengeKind::CapabilitySmtp00,
        ]);
    }
    kinds
}
/// Order-level rules on the checked identifiers and their targets (`(domain, target)` pairs):
/// knob `one_cert_tls_and_starttls` (-05 §4 open issue 1).
pub fn check_order(knobs: &Knobs, requested: &[(String, MailTarget)]) -> Result<(), Problem> {
    if knobs.one_cert_tls_and_starttls == OneCertTlsAndStarttls::Allow {
        return Ok(());
    }
    for (domain, target) in requested {
        let Some(other) = twin(target.service) else {
            continue;
        };
        if let Some((_, clash)) = requested
            .iter()
            .find(|(d, t)| d == domain && t.service == other)
        {
            return Err(Problem::new(
                ProblemType::RejectedIdentifier,
                format!(
                    "one certificate for {domain} cannot cover both {}/{} and {}/{} on this CA (knob one_cert_tls_and_starttls = refuse; draft-ietf-acme-email-tls-05 §4 open issue 1: \"Should the same certificate be allowed to be used on both IMAP (143) and IMAPS (993) ports?\"); order them separately",
                    target.service, target.port, clash.service, clash.port
                ),
            ));
        }
    }
    Ok(())
}

/// `csr` without the SRVName SANs that name a validated target of the order (RFC 7817 §5: CSR
/// tools "MUST include" an SRV-ID per service), so the RFC 8555 §7.4 identifier check sees
/// only ACME identifiers. SRV-IDs are compared case-insensitively (RFC 4985 §2); any other
/// SRVName stays, and the check refuses it.
pub fn without_validated_srv_ids(csr: &CsrInfo, targets: &[(String, MailTarget)]) -> CsrInfo {
    let mut checked = csr.clone();
    checked.sans.retain(|san| match san {
        SanName::SrvName(v) => !targets
            .iter()
            .any(|(domain, t)| t.srv_id(domain).eq_ignore_ascii_case(v)),
        _ => true,
    });
    checked
}

/// The places of a challenge POST that may carry `service`/`port` (every draft version's
/// Figure 1), and which value of knob `draft` reads each.
fn challenge_places<'a>(
    protected: &'a Map<String, Value>,
    payload: &'a Map<String, Value>,
) -> [(Fields<'a>, &'static str, Draft); 2] {
    [
        (
            Fields::of(Some(protected)),
            "the challenge POST's protected header",
            Draft::V02,
        ),
        (
            Fields::of(Some(payload)),
            "the challenge POST's payload",
            Draft::V05,
        ),
    ]
}

/// The service and port a challenge POST names, read where knob `draft` says (both places
/// under `any`, where they must agree); `None` when it names none.
fn posted_target(
    knobs: &Knobs,
    protected: &Map<String, Value>,
    payload: &Map<String, Value>,
) -> Result<Option<MailTarget>, Problem> {
    let mut found: Option<(MailTarget, &str)> = None;
    // -05 §3 item 1 still says '"service" JWS header parameter MUST be included' while its
    // §3.1 and Figure 1 put it in the payload: a -05 CA reads the payload and tolerates the
    // header next to it (the two must agree, below), never the header alone.
    let in_payload = Fields::of(Some(payload)).present();
    for (fields, where_, place) in challenge_places(protected, payload) {
        if !fields.present() {
            continue;
        }
        let tolerated = knobs.draft == Draft::V05 && place == Draft::V02 && in_payload;
        if knobs.draft != Draft::Any && knobs.draft != place && !tolerated {
            return Err(not_in_this_place(knobs, where_));
        }
        let target = parse_target(fields, where_, knobs)?;
        if let Some((other, other_where)) = found
            && other != target
        {
            return Err(Problem::malformed(format!(
                "{other_where} names {}/{}, but {where_} names {}/{}",
                other.service, other.port, target.service, target.port
            )));
        }
        found = Some((target, where_));
    }
    Ok(found.map(|(t, _)| t))
}

/// The draft's own placement: the target a challenge POST binds a plain `dns` authorization
/// to. -00…-05 §3: "\"service\" … MUST be included" (TLS-1), so a POST without it is
/// `malformed`; the challenge type must be the one of the service's protocol (-05 §3.4), and
/// knob service_field = new-order refuses the placement.
pub fn challenge_target(
    knobs: &Knobs,
    protected: &Map<String, Value>,
    payload: &Map<String, Value>,
    kind: ChallengeKind,
) -> Result<MailTarget, Problem> {
    if knobs.service_field == ServiceField::NewOrder {
        return Err(Problem::malformed(format!(
            "this authorization names no service: this CA takes \"service\"/\"port\" at newOrder only (acmeproof's proposal; knob service_field = new-order), not in the {} POST",
            kind.name()
        )));
    }
    let Some(target) = posted_target(knobs, protected, payload)? else {
        let place = match knobs.draft {
            Draft::V02 => "its JWS protected header (-00…-04 §3 item 1)",
            Draft::V05 => "its payload (-05 §3 item 1, §3.1)",
            Draft::Any => "its JWS protected header (-00…-04) or its payload (-05)",
        };
        return Err(Problem::malformed(format!(
            "the {} POST names no service: draft-ietf-acme-email-tls §3: \"service\" MUST be included (TLS-1), in {place}",
            kind.name()
        )));
    };
    let fits =
        kind == ChallengeKind::DnsEmail00 || ChallengeKind::capability_for(target.service) == kind;
    if !fits {
        return Err(Problem::malformed(format!(
            "{} cannot prove service {} (draft-ietf-acme-email-tls-05 §3.4: its challenge is {})",
            kind.name(),
            target.service,
            ChallengeKind::capability_for(target.service).name()
        )));
    }
    Ok(target)
}

/// A challenge POST on an authorization whose service was named at newOrder (acmeproof's
/// proposal): if the POST repeats `service`/`port` (where Figure 1 puts them), they must name
/// the authorization's.
pub fn check_challenge_post(
    knobs: &Knobs,
    protected: &Map<String, Value>,
    payload: &Map<String, Value>,
    target: MailTarget,
) -> Result<(), Problem> {
    if let Some(repeated) = posted_target(knobs, protected, payload)?
        && repeated != target
    {
        return Err(Problem::malformed(format!(
            "the challenge POST names {}/{}, but the authorization is for {}/{}",
            repeated.service, repeated.port, target.service, target.port
        )));
    }
    Ok(())
}

/// Every (name, service) an order proved: those named at newOrder, and those its challenge
/// POSTs bound its plain `dns` authorizations to (the draft's placement).
pub fn order_targets(store: &Store, order: &Order) -> Vec<(String, MailTarget)> {
    let mut out = order.mail_targets.clone();
    for authz in order.authzs.iter().filter_map(|id| store.authzs.get(id)) {
        if let Some(target) = authz.mail {
            let pair = (authz.identifier.value.clone(), target);
            if !out.contains(&pair) {
                out.push(pair);
            }
        }
    }
    out.extend(
        order
            .authzs
            .iter()
            .filter_map(|id| store.twins.get(id))
            .flat_map(|t| t.iter().cloned())
            .filter(|p| !order.mail_targets.contains(p)),
    );
    out.dedup();
    out
}

/// The certificate profile of an order of `dns` identifiers, `targets` its validated mail
/// services (RFC 7817 §4; knob tls_profile).
pub fn certificate_profile(
    knobs: &Knobs,
    ids: &[Identifier],
    targets: &[(String, MailTarget)],
) -> Profile {
    let mut dns_names: Vec<String> = Vec::new();
    for id in ids {
        // One name may be listed once per mail service; it is one DNS-ID.
        if !dns_names.contains(&id.value) {
            dns_names.push(id.value.clone());
        }
    }
    // RFC 7817 §4: "CAs MUST support issuance of server certificates with SRV-ID identifier
    // type for each type of email service"; -02…-05 §3.1: ACME servers "MUST support
    // [RFC7817]".
    let mut srv_names: Vec<String> = Vec::new();
    for (domain, target) in targets {
        let srv = target.srv_id(domain);
        if !srv_names.contains(&srv) {
            srv_names.push(srv);
        }
    }
    if knobs.tls_profile == TlsProfile::SrvOnly && !srv_names.is_empty() {
        return Profile::SrvOnly { srv_names };
    }
    Profile::TlsServer {
        dns_names,
        srv_names,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn map(v: Value) -> Map<String, Value> {
        v.as_object().cloned().unwrap_or_default()
    }

    fn knobs(f: impl FnOnce(&mut Knobs)) -> Knobs {
        let mut k = Knobs::default();
        f(&mut k);
        k
    }

    #[test]
    fn new_order_placement() {
        let ids = json!([{"type": "dns", "value": "mx.example.test"}]);
        let hdr = map(json!({"service": "imaps"}));
        let t = targets(&Knobs::default(), &hdr, Some(&ids)).unwrap();
        assert_eq!(
            t,
            vec![Some(MailTarget {
                service: Service::Imaps,
                port: 993
            })]
        );
        let ids5 =
            json!([{"type": "dns", "value": "mx.example.test", "service": "smtp", "port": 2525}]);
        let t = targets(&Knobs::default(), &Map::new(), Some(&ids5)).unwrap();
        assert_eq!(t[0].map(|t| t.port), Some(2525));
        // The draft as written: nothing at newOrder, naming the knob and Figure 1.
        let draft = knobs(|k| k.service_field = ServiceField::Challenge);
        for (hdr, ids) in [(&Map::new(), &ids5), (&hdr, &ids)] {
            let e = targets(&draft, hdr, Some(ids)).unwrap_err();
            assert_eq!(e.kind, ProblemType::Malformed);
            assert!(e.detail.contains("service_field = challenge"), "{e}");
            assert!(e.detail.contains("Figure 1"), "{e}");
        }
        // Plain dns orders stay plain.
        assert_eq!(
            targets(&draft, &Map::new(), Some(&ids)).unwrap(),
            vec![None]
        );
        assert_eq!(
            targets(&Knobs::default(), &Map::new(), Some(&ids)).unwrap(),
            vec![None]
        );
    }

    #[test]
    fn plain_dns_orders_offer_the_drafts_challenges_unless_new_order_only() {
        let all = plain_dns_kinds(&Knobs::default(), false);
        assert_eq!(all.len(), 7);
        assert!(all.contains(&ChallengeKind::DnsEmail00));
        assert!(all.contains(&ChallengeKind::CapabilityPop00));
        let proposal = knobs(|k| k.service_field = ServiceField::NewOrder);
        assert_eq!(
            plain_dns_kinds(&proposal, false),
            [
                ChallengeKind::Http01,
                ChallengeKind::Dns01,
                ChallengeKind::TlsAlpn01
            ]
        );
        assert_eq!(
            plain_dns_kinds(&Knobs::default(), true),
            [ChallengeKind::Dns01]
        );
    }

    #[test]
    fn the_challenge_post_binds_the_service_as_figure_1_places_it() {
        let d = Knobs::default();
        let none = Map::new();
        let imap = map(json!({"service": "imap", "port": 143}));
        let target = |hdr: &Map<String, Value>, pl: &Map<String, Value>, k: &Knobs, kind| {
            challenge_target(k, hdr, pl, kind)
        };
        // -00…-04: protected header; -05: payload; `any` takes either.
        let want = MailTarget {
            service: Service::Imap,
            port: 143,
        };
        assert_eq!(
            target(&imap, &none, &d, ChallengeKind::CapabilityImap00),
            Ok(want)
        );
        assert_eq!(
            target(&none, &imap, &d, ChallengeKind::DnsEmail00),
            Ok(want)
        );
        assert_eq!(
            target(&imap, &imap, &d, ChallengeKind::DnsEmail00),
            Ok(want)
        );
        let v02 = knobs(|k| k.draft = Draft::V02);
        let e = target(&none, &imap, &v02, ChallengeKind::DnsEmail00).unwrap_err();
        assert!(e.detail.contains("knob draft = 02"), "{e}");
        let v05 = knobs(|k| k.draft = Draft::V05);
        assert!(target(&imap, &none, &v05, ChallengeKind::DnsEmail00).is_err());
        // -05 §3 item 1's header next to the payload: tolerated when both agree.
        assert_eq!(
            target(&imap, &imap, &v05, ChallengeKind::DnsEmail00),
            Ok(want)
        );
        let imaps_header = map(json!({"service": "imaps"}));
        assert!(target(&imaps_header, &imap, &v05, ChallengeKind::DnsEmail00).is_err());
        // TLS-1: the service MUST be there.
        let e = target(&none, &none, &d, ChallengeKind::DnsEmail00).unwrap_err();
        assert!(e.detail.contains("TLS-1"), "{e}");
        // The two places disagree; the challenge type does not fit the service.
        let imaps = map(json!({"service": "imaps"}));
        assert!(target(&imap, &imaps, &d, ChallengeKind::DnsEmail00).is_err());
        let e = target(&imap, &none, &d, ChallengeKind::CapabilitySmtp00).unwrap_err();
        assert!(e.detail.contains("capability-imap-00"), "{e}");
        // The proposal alone refuses the placement.
        let proposal = knobs(|k| k.service_field = ServiceField::NewOrder);
        assert!(target(&imap, &none, &proposal, ChallengeKind::DnsEmail00).is_err());
    }

    #[test]
    fn service_arrays_expand_only_with_the_knob() {
        let ids = json!([{"type": "dns", "value": "mx.example.test",
                          "services": ["imap", "imaps"], "ports": [143, 993]}]);
        let e = expand_service_arrays(&Knobs::default(), Some(&ids)).unwrap_err();
        assert!(e.detail.contains("service_arrays = false"), "{e}");
        let on = knobs(|k| k.service_arrays = true);
        let out = expand_service_arrays(&on, Some(&ids)).unwrap().unwrap();
        assert_eq!(
            out,
            json!([
                {"type": "dns", "value": "mx.example.test", "service": "imap", "port": 143},
                {"type": "dns", "value": "mx.example.test", "service": "imaps", "port": 993}
            ])
        );
        let t = targets(&on, &Map::new(), Some(&out)).unwrap();
        assert_eq!(t.iter().flatten().count(), 2);
        for bad in [
            json!([{"type": "dns", "value": "a.test", "services": []}]),
            json!([{"type": "dns", "value": "a.test", "services": ["imap"], "ports": [1, 2]}]),
            json!([{"type": "dns", "value": "a.test", "services": ["imap"], "service": "imap"}]),
        ] {
            assert!(expand_service_arrays(&on, Some(&bad)).is_err(), "{bad}");
        }
        // service@domain (knob service_identifier).
        let svc = json!([{"type": "service", "value": "imaps@mx.example.test", "port": 993}]);
        let e = expand_service_arrays(&Knobs::default(), Some(&svc)).unwrap_err();
        assert_eq!(e.kind, ProblemType::UnsupportedIdentifier);
        let on = knobs(|k| k.service_identifier = true);
        assert_eq!(
            expand_service_arrays(&on, Some(&svc)).unwrap(),
            Some(
                json!([{"type": "dns", "value": "mx.example.test", "service": "imaps", "port": 993}])
            )
        );
        let bad = json!([{"type": "service", "value": "mx.example.test"}]);
        assert!(expand_service_arrays(&on, Some(&bad)).is_err());
        let plain = json!([{"type": "dns", "value": "a.test"}]);
        assert_eq!(
            expand_service_arrays(&Knobs::default(), Some(&plain)).unwrap(),
            Some(plain)
        );
    }

    #[test]
    fn lmtp_on_port_25_is_refused_by_default() {
        let on = knobs(|k| k.lmtp = Lmtp::On);
        let ids =
            json!([{"type": "dns", "value": "mx.example.test", "service": "lmtp", "port": 25}]);
        let e = targets(&on, &Map::new(), Some(&ids)).unwrap_err();
        assert_eq!(e.kind, ProblemType::RejectedIdentifier);
        assert!(e.detail.contains("RFC 2033 §4"), "{e}");
        let allowed = knobs(|k| {
            k.lmtp = Lmtp::On;
            k.lmtp_port_25 = true;
        });
        assert!(targets(&allowed, &Map::new(), Some(&ids)).is_ok());
    }

    #[test]
    fn the_profile_follows_knob_tls_profile() {
        let ids = [Identifier::dns("mx.example.test")];
        let targets = [(
            "mx.example.test".to_owned(),
            MailTarget {
                service: Service::Imaps,
                port: 993,
            },
        )];
        assert_eq!(
            certificate_profile(&Knobs::default(), &ids, &targets),
            Profile::TlsServer {
                dns_names: vec!["mx.example.test".into()],
                srv_names: vec!["_imaps.mx.example.test".into()],
            }
        );
        let srv_only = knobs(|k| k.tls_profile = TlsProfile::SrvOnly);
        assert_eq!(
            certificate_profile(&srv_only, &ids, &targets),
            Profile::SrvOnly {
                srv_names: vec!["_imaps.mx.example.test".into()],
            }
        );
        // A plain dns-01 order keeps its dNSName.
        assert!(matches!(
            certificate_profile(&srv_only, &ids, &[]),
            Profile::TlsServer { .. }
        ));
    }

    #[test]
    fn bad_services_and_ports() {
        let one = |k: &Knobs, svc: Value, port: Option<u16>| {
            let mut id = json!({"type": "dns", "value": "mx.example.test", "service": svc});
            if let Some(p) = port {
                id["port"] = json!(p);
            }
            targets(k, &Map::new(), Some(&json!([id])))
        };
        let d = Knobs::default();
        assert_eq!(
            one(&d, json!("http"), None).unwrap_err().kind,
            ProblemType::UnsupportedIdentifier
        );
        assert_eq!(
            one(&d, json!(5), None).unwrap_err().kind,
            ProblemType::Malformed
        );
        let e = one(&d, json!("lmtp"), Some(24)).unwrap_err();
        assert_eq!(e.kind, ProblemType::UnsupportedIdentifier);
        assert!(e.detail.contains("lmtp = off"), "{e}");
        let on = knobs(|k| k.lmtp = Lmtp::On);
        assert!(one(&on, json!("lmtp"), Some(24)).is_ok());
        assert!(
            one(&on, json!("lmtp"), None)
                .unwrap_err()
                .detail
                .contains("\"port\" is required")
        );
        assert!(one(&d, json!("smtp"), Some(2525)).is_ok());
        let strict = knobs(|k| k.require_default_port = true);
        let e = one(&strict, json!("smtp"), Some(2525)).unwrap_err();
        assert_eq!(e.kind, ProblemType::RejectedIdentifier);
        assert!(e.detail.contains("port 2525"), "{e}");
        assert!(one(&strict, json!("smtp"), Some(25)).is_ok());
        assert!(one(&strict, json!("smtp"), None).is_ok());
        // email identifiers take no service.
        let e = targets(
            &d,
            &Map::new(),
            Some(&json!([{"type": "email", "value": "a@example.test", "service": "smtp"}])),
        )
        .unwrap_err();
        assert!(e.detail.contains("dns identifiers only"), "{e}");
    }

    #[test]
    fn tls_and_starttls_twins() {
        let t = |service, port| MailTarget { service, port };
        let both = vec![
            ("mx.example.test".to_owned(), t(Service::Imap, 143)),
            ("mx.example.test".to_owned(), t(Service::Imaps, 993)),
        ];
        assert!(check_order(&Knobs::default(), &both).is_ok());
        let refuse = knobs(|k| k.one_cert_tls_and_starttls = OneCertTlsAndStarttls::Refuse);
        let e = check_order(&refuse, &both).unwrap_err();
        assert_eq!(e.kind, ProblemType::RejectedIdentifier);
        assert!(e.detail.contains("imap/143") && e.detail.contains("imaps/993"));
        // Different names, or services that are not twins, are fine.
        let other = vec![
            ("a.example.test".to_owned(), t(Service::Imap, 143)),
            ("b.example.test".to_owned(), t(Service::Imaps, 993)),
            ("a.example.test".to_owned(), t(Service::Smtp, 25)),
        ];
        assert!(check_order(&refuse, &other).is_ok());
    }

    #[test]
    fn validated_srv_ids_may_be_in_the_csr() {
        let csr = CsrInfo {
            spki_der: Vec::new(),
            key: acmeproof_protocol::pki::KeyAlgorithm::EcP256,
            subject_cns: Vec::new(),
            subject: String::new(),
            sans: vec![
                SanName::Dns("mx.example.test".into()),
                SanName::SrvName("_IMAPS.mx.example.test".into()),
                SanName::SrvName("_smtp.mx.example.test".into()),
            ],
            key_usage: None,
        };
        let targets = vec![(
            "mx.example.test".to_owned(),
            MailTarget {
                service: Service::Imaps,
                port: 993,
            },
        )];
        let order = [super::super::pki::Identifier::dns("mx.example.test")];
        let checked = without_validated_srv_ids(&csr, &targets);
        // The validated one goes; the unvalidated _smtp stays and is refused.
        assert_eq!(checked.sans.len(), 2);
        let err = super::super::pki::check_csr_identifiers(&order, &checked).unwrap_err();
        assert!(err.contains("_smtp.mx.example.test"), "{err}");
        // Without it the CSR passes.
        let mut good = csr.clone();
        good.sans.pop();
        let checked = without_validated_srv_ids(&good, &targets);
        assert!(super::super::pki::check_csr_identifiers(&order, &checked).is_ok());
        // With no targets nothing is removed (a plain dns order refuses SRVNames as before).
        assert!(
            super::super::pki::check_csr_identifiers(
                &order,
                &without_validated_srv_ids(&good, &[])
            )
            .is_err()
        );
    }

    #[test]
    fn challenge_post_repeats_must_match() {
        let target = MailTarget {
            service: Service::Smtp,
            port: 25,
        };
        let d = Knobs::default();
        assert!(check_challenge_post(&d, &Map::new(), &Map::new(), target).is_ok());
        let same = map(json!({"service": "smtp", "port": 25}));
        assert!(check_challenge_post(&d, &Map::new(), &same, target).is_ok());
        assert!(check_challenge_post(&d, &same, &Map::new(), target).is_ok());
        let other = map(json!({"service": "submission", "port": 587}));
        let e = check_challenge_post(&d, &Map::new(), &other, target).unwrap_err();
        assert!(e.detail.contains("submission/587"), "{e}");
        let header_only = knobs(|k| k.draft = Draft::V02);
        assert!(check_challenge_post(&header_only, &Map::new(), &same, target).is_err());
    }
}
