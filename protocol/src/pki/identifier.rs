//! ACME identifiers (RFC 8555 §9.7.7 `dns`, RFC 8823 §3 `email`, RFC 8738 `ip`) and the
//! RFC 8555 §7.4 rule that a CSR names exactly the identifiers of its order.
//!
//! RFC 8555 §7.4: "The CSR MUST indicate the exact same set of requested identifiers as the
//! initial newOrder request. Identifiers of type "dns" MUST appear either in the commonName
//! portion of the requested subject name or in an extensionRequest attribute \[RFC2985\]
//! requesting a subjectAltName extension, or both." A mismatch is answered with `badCSR`, and
//! the order stays `ready` (ACME-21).

use std::collections::BTreeSet;
use std::fmt;

use crate::address::{domain_to_a_labels, parse_address};

use super::csr::{CsrInfo, SanName};

/// The type of an ACME identifier.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, serde::Serialize, serde::Deserialize,
)]
#[serde(rename_all = "lowercase")]
pub enum IdentifierKind {
    /// `dns` (RFC 8555 §9.7.7): a domain name.
    Dns,
    /// `email` (RFC 8823 §3): an e-mail address.
    Email,
    /// `ip` (RFC 8738 §3): an IP address. Read from CSR iPAddress SANs so a CSR that asks for
    /// one fails the same-set check; orders of this CA never contain it.
    Ip,
}

impl IdentifierKind {
    /// The RFC 8555 `type` string.
    pub fn as_str(self) -> &'static str {
        match self {
            IdentifierKind::Dns => "dns",
            IdentifierKind::Email => "email",
            IdentifierKind::Ip => "ip",
        }
    }
}

/// An ACME identifier object, `{"type": "dns", "value": "example.test"}` (RFC 8555 §7.1.3).
#[derive(
    Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, serde::Serialize, serde::Deserialize,
)]
pub struct Identifier {
    /// `type`.
    #[serde(rename = "type")]
    pub kind: IdentifierKind,
    /// `value`, as sent (compare with [`Identifier::comparison_key`], not `==`).
    pub value: String,
}

impl Identifier {
    /// A `dns` identifier.
    pub fn dns(value: impl Into<String>) -> Identifier {
        Identifier {
            kind: IdentifierKind::Dns,
            value: value.into(),
        }
    }

    /// An `email` identifier.
    pub fn email(value: impl Into<String>) -> Identifier {
        Identifier {
            kind: IdentifierKind::Email,
            value: value.into(),
        }
    }

    /// An `ip` identifier (RFC 8738).
    pub fn ip(value: impl Into<String>) -> Identifier {
        Identifier {
            kind: IdentifierKind::Ip,
            value: value.into(),
        }
    }

    /// The form two identifiers are compared in:
    /// - `dns`: lowercase A-labels (RFC 5890 §2.3.2.1; RFC 4343 case-insensitivity), a leading
    ///   `*.` kept;
    /// - `email`: local part exactly (RFC 8398 §5: "MUST NOT be case-folded"), domain in
    ///   lowercase A-labels (RFC 8550 §3: domains compare case-insensitively; A-labels and
    ///   U-labels of one domain are the same domain);
    /// - `ip`: the parsed address.
    ///
    /// A value that does not parse is compared as written (lowercased for `dns`), so it can
    /// only ever equal itself.
    pub fn comparison_key(&self) -> (IdentifierKind, String) {
        let value = match self.kind {
            IdentifierKind::Dns => dns_key(&self.value),
            IdentifierKind::Email => parse_address(&self.value)
                .and_then(|addr| addr.comparison_key())
                .unwrap_or_else(|_| self.value.clone()),
            IdentifierKind::Ip => match self.value.parse::<std::net::IpAddr>() {
                Ok(ip) => ip.to_string(),
                Err(_) => self.value.clone(),
            },
        };
        (self.kind, value)
    }
}

fn dns_key(value: &str) -> String {
    let (wild, rest) = match value.strip_prefix("*.") {
        Some(rest) => ("*.", rest),
        None => ("", value),
    };
    match domain_to_a_labels(rest.trim_end_matches('.')) {
        Ok(a) => format!("{wild}{a}"),
        Err(_) => value.to_lowercase(),
    }
}

impl fmt::Display for Identifier {
    /// `dns:example.test`, `email:alice@example.test`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}", self.kind.as_str(), self.value)
    }
}

/// The identifiers a CSR asks for (RFC 8555 §7.4), without duplicates, in first-seen order.
///
/// - dNSName SANs → `dns`, lowercased;
/// - a subject commonName that is a domain name with at least two labels → `dns`, lowercased
///   (RFC 8555 §7.4: "in the commonName portion … or in … a subjectAltName"). Other CNs
///   (display names such as `Alice`) name no identifier;
/// - rfc822Name → `email` (RFC 8823 §3.3 step 8);
/// - SmtpUTF8Mailbox otherName → `email` with its UTF-8 value (RFC 8398 §3);
/// - iPAddress → `ip` (RFC 8738 §3).
///
/// SRVName and other names are not identifiers: see [`check_csr_identifiers`].
pub fn identifiers_of(csr: &CsrInfo) -> Vec<Identifier> {
    let mut out: Vec<Identifier> = Vec::new();
    let mut seen = BTreeSet::new();
    let mut push = |id: Identifier| {
        if seen.insert(id.comparison_key()) {
            out.push(id);
        }
    };
    for cn in &csr.subject_cns {
        if cn_is_dns_name(cn) {
            push(Identifier::dns(cn.to_lowercase()));
        }
    }
    for san in &csr.sans {
        match san {
            SanName::Dns(v) => push(Identifier::dns(v.to_lowercase())),
            SanName::Rfc822(v) | SanName::SmtpUtf8Mailbox(v) => push(Identifier::email(v.clone())),
            SanName::Ip(ip) => push(Identifier::ip(ip.to_string())),
            SanName::SrvName(_) | SanName::Other(_) => {}
        }
    }
    out
}

fn cn_is_dns_name(cn: &str) -> bool {
    let name = cn.strip_prefix("*.").unwrap_or(cn);
    !name.contains('@')
        && name.contains('.')
        && name.parse::<std::net::IpAddr>().is_err()
        && domain_to_a_labels(name).is_ok()
}

/// RFC 8555 §7.4 "the exact same set": compares the two lists as sets under
/// [`Identifier::comparison_key`]. The error text lists what the CSR lacks and what it adds,
/// ready for a `badCSR` detail.
pub fn same_identifier_set(order: &[Identifier], csr: &[Identifier]) -> Result<(), String> {
    let keyed = |ids: &[Identifier]| -> Vec<((IdentifierKind, String), String)> {
        ids.iter()
            .map(|id| (id.comparison_key(), id.to_string()))
            .collect()
    };
    let order = keyed(order);
    let csr = keyed(csr);
    let order_keys: BTreeSet<_> = order.iter().map(|(k, _)| k.clone()).collect();
    let csr_keys: BTreeSet<_> = csr.iter().map(|(k, _)| k.clone()).collect();
    let missing: Vec<&str> = unique(order.iter().filter(|(k, _)| !csr_keys.contains(k)));
    let extra: Vec<&str> = unique(csr.iter().filter(|(k, _)| !order_keys.contains(k)));
    if missing.is_empty() && extra.is_empty() {
        return Ok(());
    }
    let mut parts = Vec::new();
    if !missing.is_empty() {
        parts.push(format!("missing from the CSR: {}", missing.join(", ")));
    }
    if !extra.is_empty() {
        parts.push(format!(
            "in the CSR but not in the order: {}",
            extra.join(", ")
        ));
    }
    Err(format!(
        "CSR identifiers differ from the order's (RFC 8555 §7.4): {}",
        parts.join("; ")
    ))
}

fn unique<'a>(items: impl Iterator<Item = &'a ((IdentifierKind, String), String)>) -> Vec<&'a str> {
    let mut seen = BTreeSet::new();
    items
        .filter(|(k, _)| seen.insert(k.clone()))
        .map(|(_, shown)| shown.as_str())
        .collect()
}

/// The whole RFC 8555 §7.4 check for a CSR: [`identifiers_of`] against the order with
/// [`same_identifier_set`], plus two refusals:
/// - a subjectAltName that is not an identifier (SRVName, URI, …) could not have been
///   authorized, so it is refused rather than dropped;
/// - RFC 8398 §3: "SmtpUTF8Mailbox subjectAltName MUST NOT be used unless the local-part of
///   the email address contains non-ASCII characters."
pub fn check_csr_identifiers(order: &[Identifier], csr: &CsrInfo) -> Result<(), String> {
    let mut problems = Vec::new();
    if let Err(e) = same_identifier_set(order, &identifiers_of(csr)) {
        problems.push(e);
    }
    let unauthorizable: Vec<String> = csr
        .sans
        .iter()
        .filter(|s| matches!(s, SanName::SrvName(_) | SanName::Other(_)))
        .map(SanName::tagged)
        .collect();
    if !unauthorizable.is_empty() {
        problems.push(format!(
            "CSR requests subjectAltNames that are not ACME identifiers: {}",
            unauthorizable.join(", ")
        ));
    }
    let ascii_smtputf8: Vec<String> = csr
        .sans
        .iter()
        .filter(|s| match s {
            SanName::SmtpUtf8Mailbox(v) => parse_address(v).is_ok_and(|a| a.is_ascii_local()),
            _ => false,
        })
        .map(SanName::tagged)
        .collect();
    if !ascii_smtputf8.is_empty() {
        problems.push(format!(
            "SmtpUTF8Mailbox with an ASCII local part must be an rfc822Name (RFC 8398 §3): {}",
            ascii_smtputf8.join(", ")
        ));
    }
    if problems.is_empty() {
        Ok(())
    } else {
        Err(problems.join("; "))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn display_and_json_shape() {
        let id = Identifier::dns("example.test");
        assert_eq!(id.to_string(), "dns:example.test");
        assert_eq!(
            serde_json::to_string(&id).unwrap(),
            r#"{"type":"dns","value":"example.test"}"#
        );
        let back: Identifier =
            serde_json::from_str(r#"{"type":"email","value":"a@b.test"}"#).unwrap();
        assert_eq!(back, Identifier::email("a@b.test"));
        assert!(serde_json::from_str::<Identifier>(r#"{"type":"x","value":"v"}"#).is_err());
    }

    #[test]
    fn comparison_normalises_case_and_labels_but_not_local_parts() {
        assert!(
            same_identifier_set(
                &[
                    Identifier::dns("Example.TEST"),
                    Identifier::email("alice@EXAMPLE.test")
                ],
                &[
                    Identifier::email("alice@example.test"),
                    Identifier::dns("example.test")
                ],
            )
            .is_ok()
        );
        assert!(
            same_identifier_set(
                &[Identifier::email("δοκιμή@παράδειγμα.δοκιμή")],
                &[Identifier::email("δοκιμή@xn--hxajbheg2az3al.xn--jxalpdlp")],
            )
            .is_ok()
        );
        assert!(
            same_identifier_set(
                &[Identifier::email("Alice@example.test")],
                &[Identifier::email("alice@example.test")],
            )
            .is_err()
        );
        assert!(
            same_identifier_set(
                &[Identifier::dns("bücher.example")],
                &[Identifier::dns("xn--bcher-kva.example")],
            )
            .is_ok()
        );
    }

    #[test]
    fn kinds_are_not_interchangeable() {
        let e = same_identifier_set(
            &[Identifier::dns("a.test")],
            &[Identifier::email("x@a.test")],
        )
        .unwrap_err();
        assert!(e.contains("missing from the CSR: dns:a.test"), "{e}");
        assert!(e.contains("not in the order: email:x@a.test"), "{e}");
    }

    #[test]
    fn duplicates_do_not_matter() {
        assert!(
            same_identifier_set(
                &[Identifier::dns("a.test")],
                &[Identifier::dns("a.test"), Identifier::dns("A.test")],
            )
            .is_ok()
        );
    }

    #[test]
    fn cn_rule() {
        assert!(cn_is_dns_name("mail.example.test"));
        assert!(cn_is_dns_name("*.example.test"));
        assert!(!cn_is_dns_name("Alice Example"));
        assert!(!cn_is_dns_name("alice"));
        assert!(!cn_is_dns_name("alice@example.test"));
        assert!(!cn_is_dns_name("127.0.0.1"));
    }

    fn csr(cns: &[&str], sans: Vec<SanName>) -> CsrInfo {
        CsrInfo {
            spki_der: Vec::new(),
            key: crate::pki::KeyAlgorithm::EcP256,
            subject_cns: cns.iter().map(|c| (*c).to_owned()).collect(),
            subject: String::new(),
            sans,
            key_usage: None,
        }
    }

    #[test]
    fn csr_check_is_quiet_on_the_order_names() {
        let order = [Identifier::email("alice@example.test")];
        let ok = csr(&[], vec![SanName::Rfc822("alice@EXAMPLE.test".into())]);
        assert_eq!(check_csr_identifiers(&order, &ok), Ok(()));
        let order = [Identifier::dns("mail.example.test")];
        let cn_only = csr(&["mail.example.test"], Vec::new());
        assert_eq!(check_csr_identifiers(&order, &cn_only), Ok(()));
        let eai = [Identifier::email("δοκιμή@example.test")];
        let utf8 = csr(
            &[],
            vec![SanName::SmtpUtf8Mailbox("δοκιμή@example.test".into())],
        );
        assert_eq!(check_csr_identifiers(&eai, &utf8), Ok(()));
    }

    #[test]
    fn csr_check_fires_on_other_names() {
        let order = [Identifier::email("alice@example.test")];
        let other_address = csr(&[], vec![SanName::Rfc822("bob@example.test".into())]);
        let e = check_csr_identifiers(&order, &other_address).unwrap_err();
        assert!(
            e.contains("missing from the CSR: email:alice@example.test"),
            "{e}"
        );
        let extra_dns = csr(
            &["mail.example.test"],
            vec![SanName::Rfc822("alice@example.test".into())],
        );
        let e = check_csr_identifiers(&order, &extra_dns).unwrap_err();
        assert!(e.contains("not in the order: dns:mail.example.test"), "{e}");
        let srv = csr(
            &[],
            vec![
                SanName::Rfc822("alice@example.test".into()),
                SanName::SrvName("_imaps.example.test".into()),
            ],
        );
        let e = check_csr_identifiers(&order, &srv).unwrap_err();
        assert!(
            e.contains("not ACME identifiers: srv:_imaps.example.test"),
            "{e}"
        );
        let ascii_utf8 = csr(
            &[],
            vec![SanName::SmtpUtf8Mailbox("alice@example.test".into())],
        );
        let e = check_csr_identifiers(&order, &ascii_utf8).unwrap_err();
        assert!(e.contains("RFC 8398 §3"), "{e}");
    }
}
