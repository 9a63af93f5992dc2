//! draft-ietf-acme-email-tls on the CA side: which `dns` identifiers of an order ask for a mail
//! service (`service`/`port`), the challenges they get, and the challenge POST's check.
//! Validation itself is in [`super::validate_tls`].
//!
//! ```text
//!  newOrder ─► targets(): service/port from the protected header (-00…-04) or the payload's
//!              identifier objects (-05), per knob service_field; lmtp, TLS-5 port check
//!           ─► check_order(): one_cert_tls_and_starttls
//!           ─► authz with dns-email-00 + capability-<proto>-00 (service, port on each)
//!  challenge POST ─► check_challenge_post(): a repeated service/port must match
//!           ─► validate_tls: TXT _<port>._<service>._acme-challenge.<domain>, or connect and read
//!              EHLO/CAPABILITY/CAPA
//!  finalize ─► SRV-ID `_<service>.<domain>` per target (RFC 7817 §4, RFC 4985)
//! ```

use serde::Serialize;
use serde_json::{Map, Value};

use super::knobs::{Knobs, Lmtp, OneCertTlsAndStarttls, ServiceField};
use super::model::ChallengeKind;
use super::pki::{CsrInfo, SanName};
use super::problem::{Problem, ProblemType};
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

/// The STARTTLS service and its implicit-TLS twin (RFC 8314 §3.3, §7.3).
fn twin(service: Service) -> Option<Service> {
    match service {
        Service::Imap => Some(Service::Imaps),
        Service::Imaps => Some(Service::Imap),
        Service::Pop3 => Some(Service::Pop3s),
        Service::Pop3s => Some(Service::Pop3),
        Service::Submission => Some(Service::Submissions),
        Service::Submissions => Some(Service::Submission),
        _ => None,
    }
}

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

fn wrong_place(knobs: &Knobs, found_in: &str) -> Problem {
    let (reads, text) = match knobs.service_field {
        ServiceField::JwsHeader => (
            "the JWS protected header",
            "draft-ietf-acme-email-tls-00…-04 §3: \"service\" JWS header parameter",
        ),
        _ => (
            "the identifier objects of the newOrder payload",
            "draft-ietf-acme-email-tls-05 §3.1: \"service\" field in JSON payload",
        ),
    };
    Problem::malformed(format!(
        "\"service\"/\"port\" found in {found_in}, but this CA reads them from {reads} ({text}; knob service_field = {})",
        serde_json::to_value(knobs.service_field)
            .ok()
            .and_then(|v| v.as_str().map(str::to_owned))
            .unwrap_or_default()
    ))
}

/// The mail target of each entry of a newOrder `identifiers` array (same order; `None` for
/// entries that ask for no service), read from `protected` (the request's JWS protected
/// header) and/or the entries, as the knob `service_field` says. An `identifiers` value that is
/// not an array gives an empty list (the identifier check reports it).
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
    match knobs.service_field {
        ServiceField::JwsHeader if list.iter().any(in_payload) => {
            return Err(wrong_place(knobs, "the newOrder payload"));
        }
        ServiceField::Payload if header.present() => {
            return Err(wrong_place(knobs, "the JWS protected header"));
        }
        _ => {}
    }
    let header_target = if header.present() && knobs.service_field != ServiceField::Payload {
        Some(parse_target(header, "the JWS protected header", knobs)?)
    } else {
        None
    };
    let mut out = Vec::with_capacity(list.len());
    for entry in list {
        let own = Fields::of(entry.as_object());
        let is_dns = entry.get("type").and_then(|t| t.as_str()) == Some("dns");
        let target = if own.present() && knobs.service_field != ServiceField::JwsHeader {
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

/// The challenge POST (-05 Figure 1 carries `service`/`port` there; -00…-04 in its protected
/// header): if they are repeated they must name the authorization's target.
pub fn check_challenge_post(
    knobs: &Knobs,
    protected: &Map<String, Value>,
    payload: &Map<String, Value>,
    target: MailTarget,
) -> Result<(), Problem> {
    let places = [
        (
            Fields::of(Some(protected)),
            "the challenge POST's protected header",
            ServiceField::JwsHeader,
        ),
        (
            Fields::of(Some(payload)),
            "the challenge POST's payload",
            ServiceField::Payload,
        ),
    ];
    for (fields, where_, place) in places {
        if !fields.present() {
            continue;
        }
        if knobs.service_field != ServiceField::Either && knobs.service_field != place {
            return Err(wrong_place(knobs, where_));
        }
        let repeated = parse_target(fields, where_, knobs)?;
        if repeated != target {
            return Err(Problem::malformed(format!(
                "{where_} names {}/{}, but the authorization is for {}/{}",
                repeated.service, repeated.port, target.service, target.port
            )));
        }
    }
    Ok(())
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
    fn header_and_payload_placement() {
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
        // Strict placements refuse the other place, naming the knob.
        let e = targets(
            &knobs(|k| k.service_field = ServiceField::JwsHeader),
            &Map::new(),
            Some(&ids5),
        )
        .unwrap_err();
        assert_eq!(e.kind, ProblemType::Malformed);
        assert!(e.detail.contains("service_field = jws-header"), "{e}");
        let e = targets(
            &knobs(|k| k.service_field = ServiceField::Payload),
            &hdr,
            Some(&ids),
        )
        .unwrap_err();
        assert!(e.detail.contains("protected header"), "{e}");
        // Plain dns orders stay plain.
        assert_eq!(
            targets(&Knobs::default(), &Map::new(), Some(&ids)).unwrap(),
            vec![None]
        );
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
            key: super::super::pki::KeyAlgorithm::EcP256,
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
        let hdr_only = knobs(|k| k.service_field = ServiceField::JwsHeader);
        assert!(check_challenge_post(&hdr_only, &Map::new(), &same, target).is_err());
    }
}
