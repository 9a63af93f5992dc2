//! The CA's objects (RFC 8555 §7.1.2–§7.1.6) and their JSON forms.
//!
//! The structs hold what the server knows; `to_json` renders what a client may see. Status
//! enums serialize to the RFC's lower-case strings.

use serde::Serialize;
use serde_json::{Value, json};
use time::OffsetDateTime;

use super::pki::Identifier;
use super::urls::Urls;
use crate::clock::rfc3339;

/// RFC 8555 §7.1.2 account status.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
#[allow(missing_docs)]
pub enum AccountStatus {
    Valid,
    Deactivated,
    Revoked,
}

/// RFC 8555 §7.1.3 order status.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
#[allow(missing_docs)]
pub enum OrderStatus {
    Pending,
    Ready,
    Processing,
    Valid,
    Invalid,
}

/// RFC 8555 §7.1.4 authorization status.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
#[allow(missing_docs)]
pub enum AuthzStatus {
    Pending,
    Valid,
    Invalid,
    Deactivated,
    Expired,
    Revoked,
}

/// RFC 8555 §7.1.6 challenge status.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
#[allow(missing_docs)]
pub enum ChallengeStatus {
    Pending,
    Processing,
    Valid,
    Invalid,
}

/// The challenge types this CA offers.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub enum ChallengeKind {
    /// RFC 8555 §8.3.
    #[serde(rename = "http-01")]
    Http01,
    /// RFC 8555 §8.4.
    #[serde(rename = "dns-01")]
    Dns01,
    /// RFC 8737: a TLS handshake with ALPN `acme-tls/1` presenting the validation certificate.
    #[serde(rename = "tls-alpn-01")]
    TlsAlpn01,
    /// RFC 8823 §3: the challenge mail arrives with the mail plane; until then it stays pending.
    #[serde(rename = "email-reply-00")]
    EmailReply00,
    /// draft-ietf-acme-email-tls-05 §3.3: TXT at `_<port>._<service>._acme-challenge.<domain>`.
    #[serde(rename = "dns-email-00")]
    DnsEmail00,
    /// draft-ietf-acme-email-tls-05 §3.4: EHLO keyword `ACME <digest>` (also LHLO).
    #[serde(rename = "capability-smtp-00")]
    CapabilitySmtp00,
    /// draft-ietf-acme-email-tls-05 §3.4: IMAP capability `ACME=<digest>`.
    #[serde(rename = "capability-imap-00")]
    CapabilityImap00,
    /// draft-ietf-acme-email-tls-04/-05 §3.4: CAPA line `ACME <digest>`.
    #[serde(rename = "capability-pop-00")]
    CapabilityPop00,
}

impl ChallengeKind {
    /// The registry name.
    pub fn name(self) -> &'static str {
        match self {
            ChallengeKind::Http01 => "http-01",
            ChallengeKind::Dns01 => "dns-01",
            ChallengeKind::TlsAlpn01 => "tls-alpn-01",
            ChallengeKind::EmailReply00 => "email-reply-00",
            ChallengeKind::DnsEmail00 => "dns-email-00",
            ChallengeKind::CapabilitySmtp00 => "capability-smtp-00",
            ChallengeKind::CapabilityImap00 => "capability-imap-00",
            ChallengeKind::CapabilityPop00 => "capability-pop-00",
        }
    }

    /// The draft-ietf-acme-email-tls requirement an email-tls challenge of this type tests:
    /// the TXT record of dns-email-00 (§3.3, TLS-8) or the capability listing of
    /// capability-smtp/imap/pop-00 (§3.4, TLS-9/10/11). `None` for the other types.
    pub fn email_tls_requirement(self) -> Option<&'static str> {
        use acmeproof_protocol::requirements as req;
        match self {
            ChallengeKind::DnsEmail00 => Some(req::TLS_8),
            ChallengeKind::CapabilitySmtp00 => Some(req::TLS_9),
            ChallengeKind::CapabilityImap00 => Some(req::TLS_10),
            ChallengeKind::CapabilityPop00 => Some(req::TLS_11),
            _ => None,
        }
    }

    /// The capability challenge that validates `service` (-05 §3.4; LMTP's LHLO is EHLO,
    /// RFC 2033 §4.1).
    pub fn capability_for(service: acmeproof_protocol::email_tls::Service) -> ChallengeKind {
        use acmeproof_protocol::email_tls::Service;
        match service {
            Service::Imap | Service::Imaps => ChallengeKind::CapabilityImap00,
            Service::Pop3 | Service::Pop3s => ChallengeKind::CapabilityPop00,
            _ => ChallengeKind::CapabilitySmtp00,
        }
    }

    /// One of the draft-ietf-acme-email-tls challenges.
    pub fn is_email_tls(self) -> bool {
        matches!(
            self,
            ChallengeKind::DnsEmail00
                | ChallengeKind::CapabilitySmtp00
                | ChallengeKind::CapabilityImap00
                | ChallengeKind::CapabilityPop00
        )
    }
}

/// An account.
#[derive(Debug, Clone)]
pub struct Account {
    /// Id in URLs.
    pub id: String,
    /// The public JWK.
    pub jwk: Value,
    /// Its RFC 7638 thumbprint (accounts are found by key).
    pub thumbprint: String,
    /// Status.
    pub status: AccountStatus,
    /// `mailto:` URLs.
    pub contact: Vec<String>,
    /// Whether the client agreed to the terms.
    pub terms_agreed: bool,
    /// The EAB key id that bound this account, if any.
    pub eab_kid: Option<String>,
    /// Order ids, oldest first.
    pub orders: Vec<String>,
}

impl Account {
    /// RFC 8555 §7.1.2 JSON.
    pub fn to_json(&self, urls: &Urls) -> Value {
        let mut v = json!({
            "status": self.status,
            "contact": self.contact,
            "termsOfServiceAgreed": self.terms_agreed,
            "orders": urls.account_orders(&self.id),
            "key": self.jwk,
        });
        if let (Some(kid), Some(map)) = (&self.eab_kid, v.as_object_mut()) {
            map.insert("externalAccountBinding".into(), json!({ "kid": kid }));
        }
        v
    }
}

/// An order.
#[derive(Debug, Clone)]
pub struct Order {
    /// Id in URLs.
    pub id: String,
    /// Owning account id.
    pub account: String,
    /// Status.
    pub status: OrderStatus,
    /// When a not-yet-valid order expires.
    pub expires: OffsetDateTime,
    /// The identifiers, as requested (immutable, ACME-19).
    pub identifiers: Vec<Identifier>,
    /// Requested notBefore, echoed.
    pub not_before: Option<String>,
    /// Requested notAfter, echoed.
    pub not_after: Option<String>,
    /// Authorization ids, one per identifier (immutable, ACME-19).
    pub authzs: Vec<String>,
    /// draft-ietf-acme-email-tls: the mail services asked for, as (domain, target); each gives
    /// the certificate an SRV-ID (RFC 7817 §4).
    pub mail_targets: Vec<(String, super::email_tls::MailTarget)>,
    /// Why the order is invalid.
    pub error: Option<Value>,
    /// The certificate id once valid.
    pub certificate: Option<String>,
    /// RFC 9773 §5: the certificate identifier this order replaces.
    pub replaces: Option<String>,
}

impl Order {
    /// RFC 8555 §7.1.3 JSON.
    pub fn to_json(&self, urls: &Urls) -> Value {
        let mut v = json!({
            "status": self.status,
            "expires": rfc3339(self.expires),
            "identifiers": self.identifiers,
            "authorizations": self.authzs.iter().map(|a| urls.authz(a)).collect::<Vec<_>>(),
            "finalize": urls.finalize(&self.id),
        });
        if let Some(map) = v.as_object_mut() {
            if let Some(nb) = &self.not_before {
                map.insert("notBefore".into(), json!(nb));
            }
            if let Some(na) = &self.not_after {
                map.insert("notAfter".into(), json!(na));
            }
            if let Some(err) = &self.error {
                map.insert("error".into(), err.clone());
            }
            if let Some(cert) = &self.certificate {
                map.insert("certificate".into(), json!(urls.cert(cert)));
            }
            if let Some(replaces) = &self.replaces {
                map.insert("replaces".into(), json!(replaces));
            }
        }
        v
    }
}

/// An authorization.
#[derive(Debug, Clone)]
pub struct Authz {
    /// Id in URLs.
    pub id: String,
    /// Owning account id.
    pub account: String,
    /// The identifier (a wildcard's base name, RFC 8555 §7.1.4).
    pub identifier: Identifier,
    /// Status.
    pub status: AuthzStatus,
    /// Expiry.
    pub expires: OffsetDateTime,
    /// Whether this is for a `*.` name.
    pub wildcard: bool,
    /// Challenge ids.
    pub challenges: Vec<String>,
    /// draft-ietf-acme-email-tls: the mail service this authorization proves.
    pub mail: Option<super::email_tls::MailTarget>,
}

/// A challenge.
#[derive(Debug, Clone)]
pub struct Challenge {
    /// Id in URLs.
    pub id: String,
    /// The authorization it belongs to.
    pub authz: String,
    /// Type.
    pub kind: ChallengeKind,
    /// The token (RFC 8555 §8.1; for email-reply-00 this is token-part2, RFC 8823 §3).
    pub token: String,
    /// Status.
    pub status: ChallengeStatus,
    /// When it became valid.
    pub validated: Option<OffsetDateTime>,
    /// Why it is invalid (RFC 8555 §8.2: an entry after each failed attempt).
    pub error: Option<Value>,
    /// RFC 8823 §3: the address the challenge mail comes from.
    pub from: Option<String>,
    /// draft-ietf-acme-email-tls: the service and port, shown as `service`/`port` members so a
    /// client can tell the authorizations of one name apart.
    pub mail: Option<super::email_tls::MailTarget>,
}

impl Challenge {
    /// RFC 8555 §7.1.5 / §8 JSON.
    pub fn to_json(&self, urls: &Urls) -> Value {
        let mut v = json!({
            "type": self.kind,
            "url": urls.challenge(&self.id),
            "status": self.status,
            "token": self.token,
        });
        if let Some(map) = v.as_object_mut() {
            if let Some(at) = self.validated {
                map.insert("validated".into(), json!(rfc3339(at)));
            }
            if let Some(err) = &self.error {
                map.insert("error".into(), err.clone());
            }
            if let Some(from) = &self.from {
                map.insert("from".into(), json!(from));
            }
            if let Some(mail) = &self.mail {
                map.insert("service".into(), json!(mail.service));
                map.insert("port".into(), json!(mail.port));
            }
        }
        v
    }
}

/// An issued certificate.
#[derive(Debug, Clone)]
pub struct CertRecord {
    /// Id in URLs.
    pub id: String,
    /// Serial, lower-case hex.
    pub serial_hex: String,
    /// Issuing account id.
    pub account: String,
    /// The order it was issued for.
    pub order: String,
    /// DER of the leaf.
    pub der: Vec<u8>,
    /// `application/pem-certificate-chain`: leaf, then intermediate.
    pub chain_pem: String,
    /// The identifiers it certifies.
    pub identifiers: Vec<Identifier>,
    /// Validity end.
    pub not_after: OffsetDateTime,
    /// RFC 5280 reason code once revoked.
    pub revoked: Option<u8>,
    /// When it was revoked (world time), for the CRL.
    pub revoked_at: Option<OffsetDateTime>,
}

impl CertRecord {
    /// Management-API JSON (status by serial).
    pub fn status_json(&self) -> Value {
        json!({
            "serial": self.serial_hex,
            "status": if self.revoked.is_some() { "revoked" } else { "valid" },
            "revocationReason": self.revoked,
            "notAfter": rfc3339(self.not_after),
            "identifiers": self.identifiers,
            "account": self.account,
            "order": self.order,
        })
    }
}
