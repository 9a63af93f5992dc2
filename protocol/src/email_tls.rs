//! draft-ietf-acme-email-tls-05: services, ports, the dns-email-00 TXT name and the
//! capability-smtp-00 / capability-imap-00 / capability-pop-00 capability lines.
//!
//! Implements:
//! - -05 §3 items 1–2 and §3.1–§3.2: the `service` (IANA service name) and `port` fields; "If
//!   this ... parameter is not included, the default assigned IANA port for the corresponding
//!   "service" is assumed." (TLS-1, TLS-2, TLS-3, TLS-5).
//! - -05 §3.3 dns-email-00: "The TXT record used to validate this challenge is
//!   _<port>._<service>._acme-challenge.<domain>" (TLS-7).
//! - -05 §3.4 capability-smtp-00 (EHLO keyword `ACME <digest>`, RFC 5321 §4.1.1.1 ehlo-line),
//!   capability-imap-00 (capability atom `ACME=<digest>`, RFC 3501 §9 `capability`) and
//!   capability-pop-00 (CAPA line `ACME <digest>`, RFC 2449 §5) (TLS-9, TLS-10, TLS-11, TLS-12).
//!
//! The digest itself (base64url SHA-256 of the key authorization) is computed elsewhere; this
//! module only builds and finds the text that carries it, and compares it in constant time.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

use crate::address::{AddressError, domain_to_a_labels};

/// RFC 1035 §3.1 / RFC 2181 §11: a DNS name is at most 255 octets on the wire, 253 characters
/// in text form without the trailing dot.
pub const MAX_DNS_NAME_CHARS: usize = 253;

/// Errors of this module.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum EmailTlsError {
    /// The service name is not one this draft covers.
    #[error("unknown service name {name:?}")]
    UnknownService {
        /// The name as given.
        name: String,
    },
    /// The service has no IANA default port (LMTP), so `port` must be given.
    #[error("service {service} has no IANA default port; \"port\" is required")]
    PortRequired {
        /// The service.
        service: Service,
    },
    /// Port 0 is not a port a service can run on.
    #[error("port 0 is not a valid service port")]
    InvalidPort,
    /// The domain is not a valid (IDNA) domain name.
    #[error("invalid domain: {0}")]
    Domain(#[from] AddressError),
    /// The TXT owner name would exceed the DNS limit.
    #[error("TXT name is {len} characters, more than 253")]
    NameTooLong {
        /// Its length in characters (= octets, it is ASCII).
        len: usize,
    },
}

/// A mail service covered by draft-ietf-acme-email-tls-05 (plus LMTP, its open issue 2).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Service {
    /// SMTP relay, RFC 5321 (`smtp`, 25).
    Smtp,
    /// Message submission, RFC 6409 (`submission`, 587).
    Submission,
    /// Submission over implicit TLS, RFC 8314 (`submissions`, 465).
    Submissions,
    /// IMAP, RFC 3501 (`imap`, 143).
    Imap,
    /// IMAP over implicit TLS, RFC 8314 (`imaps`, 993).
    Imaps,
    /// POP3, RFC 1939 (`pop3`, 110).
    Pop3,
    /// POP3 over implicit TLS, RFC 8314 (`pop3s`, 995).
    Pop3s,
    /// LMTP, RFC 2033 (`lmtp`, no IANA port).
    Lmtp,
}

impl Service {
    /// Every service, in declaration order.
    pub const ALL: [Service; 8] = [
        Service::Smtp,
        Service::Submission,
        Service::Submissions,
        Service::Imap,
        Service::Imaps,
        Service::Pop3,
        Service::Pop3s,
        Service::Lmtp,
    ];

    /// The IANA service name (-05 §3.1: "Valid values come from "Service Names and Transport
    /// Protocol Port Numbers" IANA registry").
    pub fn name(self) -> &'static str {
        match self {
            Service::Smtp => "smtp",
            Service::Submission => "submission",
            Service::Submissions => "submissions",
            Service::Imap => "imap",
            Service::Imaps => "imaps",
            Service::Pop3 => "pop3",
            Service::Pop3s => "pop3s",
            // Not in the IANA registry (IETF 100 minutes); the name the draft's open issue uses.
            Service::Lmtp => "lmtp",
        }
    }

    /// The IANA default port; `None` for LMTP, which has none (RFC 2033: "MUST NOT be used on
    /// TCP port 25"; IETF 100 minutes: "doesn't have registered port number").
    pub fn default_port(self) -> Option<u16> {
        match self {
            Service::Smtp => Some(25),
            Service::Submission => Some(587),
            Service::Submissions => Some(465),
            Service::Imap => Some(143),
            Service::Imaps => Some(993),
            Service::Pop3 => Some(110),
            Service::Pop3s => Some(995),
            Service::Lmtp => None,
        }
    }

    /// True for the implicit-TLS services (RFC 8314: 465, 993, 995): TLS starts at connect,
    /// without STARTTLS/STLS.
    pub fn implicit_tls(self) -> bool {
        matches!(self, Service::Submissions | Service::Imaps | Service::Pop3s)
    }

    /// The capability challenge type that validates this service (-05 §3.4, §5).
    ///
    /// LMTP's LHLO "has identical semantics to the EHLO command" (RFC 2033 §4.1), so it gets
    /// `capability-smtp-00`.
    pub fn capability_challenge(self) -> Option<&'static str> {
        match self {
            Service::Smtp | Service::Submission | Service::Submissions | Service::Lmtp => {
                Some("capability-smtp-00")
            }
            Service::Imap | Service::Imaps => Some("capability-imap-00"),
            Service::Pop3 | Service::Pop3s => Some("capability-pop-00"),
        }
    }
}

impl fmt::Display for Service {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl FromStr for Service {
    type Err = EmailTlsError;

    /// Case-insensitive, as service names are when used in SRV-IDs (RFC 4985 §2).
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Service::ALL
            .into_iter()
            .find(|svc| svc.name().eq_ignore_ascii_case(s))
            .ok_or_else(|| EmailTlsError::UnknownService { name: s.to_owned() })
    }
}

impl Serialize for Service {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(self.name())
    }
}

impl<'de> Deserialize<'de> for Service {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let s = String::deserialize(deserializer)?;
        s.parse().map_err(serde::de::Error::custom)
    }
}

/// The port a challenge is about (-05 §3 item 2).
///
/// "If this ... parameter is not included, the default assigned IANA port for the
/// corresponding "service" is assumed." LMTP has no such port, so an absent port is
/// [`EmailTlsError::PortRequired`]. Port 0 is [`EmailTlsError::InvalidPort`].
pub fn resolve_port(service: Service, port: Option<u16>) -> Result<u16, EmailTlsError> {
    match port {
        Some(0) => Err(EmailTlsError::InvalidPort),
        Some(p) => Ok(p),
        None => service
            .default_port()
            .ok_or(EmailTlsError::PortRequired { service }),
    }
}

/// True if `port` is the IANA default port of `service` — the check -05 §3.2 allows: "ACME
/// server MAY check that the TCP port corresponds to the requested "service"" (TLS-5). Always
/// false for LMTP.
pub fn port_matches_default(service: Service, port: u16) -> bool {
    service.default_port() == Some(port)
}

/// The dns-email-00 TXT owner name `_<port>._<service>._acme-challenge.<domain>` (-05 §3.3).
///
/// The domain is written in lowercase A-labels (DNS lookups use A-labels, RFC 5891 §5), with no
/// trailing dot.
pub fn txt_name(port: u16, service: Service, domain: &str) -> Result<String, EmailTlsError> {
    if port == 0 {
        return Err(EmailTlsError::InvalidPort);
    }
    let domain = domain_to_a_labels(domain)?;
    let name = format!("_{port}._{}._acme-challenge.{domain}", service.name());
    if name.len() > MAX_DNS_NAME_CHARS {
        return Err(EmailTlsError::NameTooLong { len: name.len() });
    }
    Ok(name)
}

/// The EHLO keyword (-05 §3.4.1 item 2).
pub const ACME_KEYWORD: &str = "ACME";

/// The ehlo-line `ACME <digest>` (capability-smtp-00), without the `250-` prefix or CRLF.
pub fn ehlo_capability(digest: &str) -> String {
    format!("{ACME_KEYWORD} {digest}")
}

/// The CAPA line `ACME <digest>` (capability-pop-00), without CRLF.
pub fn pop3_capability(digest: &str) -> String {
    format!("{ACME_KEYWORD} {digest}")
}

/// The IMAP capability atom `ACME=<digest>` (capability-imap-00).
pub fn imap_capability(digest: &str) -> String {
    format!("{ACME_KEYWORD}={digest}")
}

/// What a capability listing says about the `ACME` capability.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize)]
pub enum AcmeCapability {
    /// No `ACME` capability.
    Absent,
    /// `ACME` with exactly one base64url parameter (the digest, as sent).
    Present(String),
    /// `ACME` with one parameter that is base64url with `=` padding: the digest (padding
    /// removed). -05 §3.4.1 item 3 asks for "a base64url encoded SHA-256 hash, which is 44
    /// octets in length", which only the padded form is (unpadded it is 43); RFC 8555 §6.1
    /// writes base64url without padding. An erratum of the draft: see [`PADDING_ERRATUM`].
    Padded(String),
    /// `ACME` is there but unusable; the string says why.
    Malformed(String),
}

impl AcmeCapability {
    /// The digest, if present and well-formed.
    pub fn digest(&self) -> Option<&str> {
        match self {
            AcmeCapability::Present(d) => Some(d),
            _ => None,
        }
    }
}

/// The erratum in -05 §3.4.1 item 3, as recorded by acmeproof (TLS-12): "The EHLO keyword has a
/// single required parameter which is a base64url encoded SHA-256 hash, which is 44 octets in
/// length." A SHA-256 hash is 32 octets; base64url without padding (RFC 8555 §6.1, and every
/// other ACME digest) gives 43 characters, with padding 44. The sentence therefore asks for the
/// padded form while the challenge text around it ("the base64url encoding of this digest")
/// and dns-01 use the unpadded one. acmeproof's CA takes both, and under its strict knob
/// refuses the padded form with a SHOULD-level TLS-12 finding.
pub const PADDING_ERRATUM: &str = "draft-ietf-acme-email-tls-05 §3.4.1 item 3 says the parameter is \"44 octets in length\", which only padded base64url is (unpadded SHA-256 is 43); RFC 8555 §6.1 writes base64url without padding";

/// RFC 4648 §5 base64url alphabet, without padding (RFC 8555 §6.1 strips `=`).
fn is_base64url(s: &str) -> bool {
    s.bytes()
        .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
}

fn strip_line_end(line: &str) -> &str {
    line.trim_end_matches(['\r', '\n'])
}

/// Judges the parameters of the single `ACME` occurrence.
fn judge_params(params: &[&str]) -> AcmeCapability {
    match params {
        [] => AcmeCapability::Malformed("ACME has no parameter".into()),
        // -05 §3.4.1 item 3: "The EHLO keyword has a single required parameter which is a
        // base64url encoded SHA-256 hash".
        [""] => AcmeCapability::Malformed("ACME has an empty parameter".into()),
        [p] if p.ends_with('=')
            && !p.trim_end_matches('=').is_empty()
            && p.len() - p.trim_end_matches('=').len() <= 2
            && is_base64url(p.trim_end_matches('=')) =>
        {
            AcmeCapability::Padded(p.trim_end_matches('=').to_owned())
        }
        [p] if !is_base64url(p) => AcmeCapability::Malformed(format!(
            "ACME parameter {p:?} is not in the base64url alphabet"
        )),
        [p] => AcmeCapability::Present((*p).to_owned()),
        _ => AcmeCapability::Malformed(format!(
            "ACME has {} parameters, exactly one is required",
            params.len()
        )),
    }
}

/// Finds the `ACME` keyword among `(keyword, params)` entries; duplicates are malformed.
fn find_keyword<'a>(entries: impl Iterator<Item = (&'a str, Vec<&'a str>)>) -> AcmeCapability {
    let mut found: Option<Vec<&str>> = None;
    let mut count = 0usize;
    for (keyword, params) in entries {
        if keyword.eq_ignore_ascii_case(ACME_KEYWORD) {
            count += 1;
            if found.is_none() {
                found = Some(params);
            }
        }
    }
    match (count, found) {
        (0, _) | (_, None) => AcmeCapability::Absent,
        (1, Some(params)) => judge_params(&params),
        (n, Some(_)) => AcmeCapability::Malformed(format!("ACME is advertised {n} times")),
    }
}

/// Splits a keyword line (`ACME digest`) into keyword and parameters.
fn split_keyword_line(line: &str) -> Option<(&str, Vec<&str>)> {
    // RFC 5321 ehlo-line = ehlo-keyword *( SP ehlo-param ); RFC 2449 capability = capa-tag
    // *(SP param). Runs of spaces are tolerated.
    let mut words = line.split(' ').filter(|w| !w.is_empty());
    let keyword = words.next()?;
    Some((keyword, words.collect()))
}

/// Finds `ACME <digest>` in an EHLO reply (capability-smtp-00, -05 §3.4).
///
/// `lines` are the reply lines as received (`250-smtp.example.com`, `250-ACME xyz`, ...,
/// `250 ENHANCEDSTATUSCODES`); a trailing CRLF is tolerated, as are lines already stripped of
/// the `250-`/`250 ` prefix. The first line (the domain and greeting) is skipped. The keyword
/// is matched case-insensitively (RFC 5321 §2.4: extension name keywords are not case
/// sensitive).
pub fn find_acme_in_ehlo(lines: &[&str]) -> AcmeCapability {
    let entries = lines.iter().skip(1).filter_map(|line| {
        let line = strip_line_end(line);
        // RFC 5321 §4.1.1.1: "250-" ehlo-line / "250" SP ehlo-line.
        let line = line
            .strip_prefix("250-")
            .or_else(|| line.strip_prefix("250 "))
            .unwrap_or(line);
        split_keyword_line(line)
    });
    find_keyword(entries)
}

/// Finds `ACME <digest>` in a POP3 CAPA response (capability-pop-00, -05 §3.4).
///
/// `lines` may include the `+OK ...` status line (skipped) and the terminating `.` (the list
/// ends there); a `-ERR` status means no capabilities. The tag is matched case-insensitively,
/// like POP3 keywords (RFC 1939 §3) — [DERIVED], RFC 2449 §5 does not restate it.
pub fn find_acme_in_capa(lines: &[&str]) -> AcmeCapability {
    let mut lines = lines.iter().map(|l| strip_line_end(l)).peekable();
    if let Some(first) = lines.peek() {
        if starts_with_ignore_case(first, "-ERR") {
            return AcmeCapability::Absent;
        }
        if starts_with_ignore_case(first, "+OK") {
            lines.next();
        }
    }
    // RFC 1939 §3: a multi-line response ends with a line holding a single ".".
    let entries = lines
        .take_while(|l| *l != ".")
        .filter_map(split_keyword_line);
    find_keyword(entries)
}

/// Finds `ACME=<digest>` among IMAP capability atoms (capability-imap-00, -05 §3.4).
///
/// `caps` are the atoms, e.g. from [`imap_capabilities_from_line`]. The prefix `ACME=` is
/// matched case-insensitively (RFC 3501 §9: "all alphabetic characters are case-insensitive");
/// a bare `ACME` atom counts as an occurrence without a parameter.
pub fn find_acme_in_imap_capabilities(caps: &[&str]) -> AcmeCapability {
    let entries = caps.iter().map(|cap| {
        let cap = strip_line_end(cap);
        match cap.split_once('=') {
            Some((name, value)) => (name, vec![value]),
            None => (cap, Vec::new()),
        }
    });
    find_keyword(entries)
}

fn starts_with_ignore_case(s: &str, prefix: &str) -> bool {
    s.get(..prefix.len())
        .is_some_and(|head| head.eq_ignore_ascii_case(prefix))
}

/// If `s` starts with `keyword` (case-insensitive) followed by a space or the end, the rest.
fn strip_keyword<'a>(s: &'a str, keyword: &str) -> Option<&'a str> {
    if !starts_with_ignore_case(s, keyword) {
        return None;
    }
    let rest = s.get(keyword.len()..)?;
    if rest.is_empty() || rest.starts_with(' ') {
        Some(rest)
    } else {
        None
    }
}

fn split_atoms(s: &str) -> Vec<&str> {
    s.split(' ').filter(|a| !a.is_empty()).collect()
}

/// Extracts the capability atoms from an IMAP line: an untagged `* CAPABILITY a b c`
/// (RFC 3501 §7.2.1), or a status response carrying a `[CAPABILITY a b c]` response code
/// (RFC 3501 §7.1), such as the greeting `* OK [CAPABILITY a b c] text` or a tagged OK.
///
/// Any other line gives no atoms.
pub fn imap_capabilities_from_line(line: &str) -> Vec<&str> {
    let line = strip_line_end(line);
    let Some((tag, rest)) = line.split_once(' ') else {
        return Vec::new();
    };
    if tag == "*" {
        // RFC 3501 §7.2.1: capability-data = "CAPABILITY" *(SP capability) ...
        if let Some(list) = strip_keyword(rest, "CAPABILITY") {
            return split_atoms(list);
        }
    }
    // RFC 3501 §7.1: resp-cond-state / resp-cond-auth / resp-cond-bye with resp-text-code.
    let Some((status, text)) = rest.split_once(' ') else {
        return Vec::new();
    };
    if !["OK", "NO", "BAD", "PREAUTH", "BYE"]
        .iter()
        .any(|s| status.eq_ignore_ascii_case(s))
    {
        return Vec::new();
    }
    let Some(code) = text.strip_prefix('[') else {
        return Vec::new();
    };
    let Some((code, _)) = code.split_once(']') else {
        return Vec::new();
    };
    strip_keyword(code, "CAPABILITY").map_or_else(Vec::new, split_atoms)
}

/// A **proposal** for the open issue of draft-ietf-acme-email-tls-00…-04:
/// "[[OPEN ISSUE: Should service name and port number be incorporated into the hash?]]"
/// (-00…-02), "[[TODO: Make sure that both service name and port number are incorporated into
/// the hash]]" (-03/-04); -05 dropped the item and no version ever gave a formula. This one is
/// acmeproof's, stated so that a client and a CA can agree on it:
///
/// ```text
/// digest = base64url(SHA-256(keyAuthorization || "." || service || "." || port))
/// ```
///
/// where `service` is the lowercase IANA service name ([`Service::name`]) and `port` the decimal
/// port without leading zeros, all ASCII. The `.` separators cannot occur in a service name and
/// follow RFC 8555 §8.1's own `token || '.' || thumbprint`, so the input is unambiguous.
pub fn service_bound_digest(key_authorization: &str, service: Service, port: u16) -> String {
    crate::keyauth::digest(&format!("{key_authorization}.{}.{port}", service.name()))
}

/// The digest a challenge publishes: the -05 digest (base64url SHA-256 of the key
/// authorization, TLS-8/TLS-9) or, with `bind_service_port`, [`service_bound_digest`].
pub fn challenge_digest(
    key_authorization: &str,
    service: Service,
    port: u16,
    bind_service_port: bool,
) -> String {
    if bind_service_port {
        service_bound_digest(key_authorization, service, port)
    } else {
        crate::keyauth::digest(key_authorization)
    }
}

/// Compares a digest found on the wire with the expected one in constant time. Unlike a mail
/// body, a capability carries no padding: a trailing `=` never matches.
pub fn digest_matches(found: &str, expected: &str) -> bool {
    !found.ends_with('=') && crate::keyauth::digests_match(found, expected)
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    const DIGEST: &str = "ZTRx1Ckl1-tM05o5zaizTTA0yUy5AGereMgSNWC6Ll8";

    fn ehlo_example() -> Vec<String> {
        // -05 §3.4 example, with the digest computed for the RFC 8555 §8.4 token.
        [
            "250-smtp.example.com",
            "250-SIZE",
            "250-8BITMIME",
            "250-BINARYMIME",
            "250-PIPELINING",
            "250-HELP",
            "250-DSN",
            "250-CHUNKING",
            "250-AUTH SCRAM-SHA-1",
            "250-AUTH=SCRAM-SHA-1",
            "250-STARTTLS",
            &format!("250-ACME {DIGEST}"),
            "250-MT-PRIORITY",
            "250 ENHANCEDSTATUSCODES",
        ]
        .iter()
        .map(|s| s.to_string())
        .collect()
    }

    fn refs(v: &[String]) -> Vec<&str> {
        v.iter().map(String::as_str).collect()
    }

    #[test]
    fn service_bound_digest_vectors() {
        // RFC 8555 §8.4 token and the RFC 7638 §3.1 key's thumbprint; values
        // computed independently with Python's hashlib.
        let ka = crate::keyauth::key_authorization(
            "evaGxfADs6pSRb2LAv9IZf17Dt3juxGJ-PCt92wr-oA",
            "NzbLsXh8uDCcd-6MNwXF4W_7noWXFZAfHkxZsRGC9Xs",
        );
        assert_eq!(
            challenge_digest(&ka, Service::Imaps, 993, false),
            DIGEST,
            "-05: the key authorization alone"
        );
        assert_eq!(
            service_bound_digest(&ka, Service::Imaps, 993),
            "Ro29Z8IjjxtZs3h938Hdkd6qflPGDm33pPU3bbaVurs"
        );
        assert_eq!(
            challenge_digest(&ka, Service::Smtp, 25, true),
            "dzPE7ySJF8c5xBmy8BGU-Rd8JummToSiCg9tMld_HQg"
        );
        // Service and port each change the value.
        assert_ne!(
            service_bound_digest(&ka, Service::Imap, 993),
            service_bound_digest(&ka, Service::Imaps, 993)
        );
        assert_ne!(
            service_bound_digest(&ka, Service::Imaps, 143),
            service_bound_digest(&ka, Service::Imaps, 993)
        );
    }

    #[test]
    fn txt_name_vectors() {
        assert_eq!(
            txt_name(993, Service::Imaps, "example.com").as_deref(),
            Ok("_993._imaps._acme-challenge.example.com")
        );
        // -05 prints "example.next" (typo); the rule gives example.net.
        assert_eq!(
            txt_name(143, Service::Imap, "example.net").as_deref(),
            Ok("_143._imap._acme-challenge.example.net")
        );
        assert_eq!(
            txt_name(25, Service::Smtp, "bücher.example").as_deref(),
            Ok("_25._smtp._acme-challenge.xn--bcher-kva.example")
        );
        assert_eq!(
            txt_name(25, Service::Smtp, "Mail.EXAMPLE.com").as_deref(),
            Ok("_25._smtp._acme-challenge.mail.example.com")
        );
        assert_eq!(
            txt_name(0, Service::Smtp, "example.com"),
            Err(EmailTlsError::InvalidPort)
        );
        assert!(matches!(
            txt_name(25, Service::Smtp, "xn--zz.example"),
            Err(EmailTlsError::Domain(_))
        ));
        assert!(matches!(
            txt_name(25, Service::Smtp, "*.example.com"),
            Err(EmailTlsError::Domain(AddressError::Wildcard))
        ));
        let long = vec!["a".repeat(63); 4].join(".");
        assert!(matches!(
            txt_name(25, Service::Smtp, &long[..250]),
            Err(EmailTlsError::NameTooLong { .. })
        ));
    }

    #[test]
    fn services() {
        let table = [
            (Service::Smtp, "smtp", Some(25), false, "capability-smtp-00"),
            (
                Service::Submission,
                "submission",
                Some(587),
                false,
                "capability-smtp-00",
            ),
            (
                Service::Submissions,
                "submissions",
                Some(465),
                true,
                "capability-smtp-00",
            ),
            (
                Service::Imap,
                "imap",
                Some(143),
                false,
                "capability-imap-00",
            ),
            (
                Service::Imaps,
                "imaps",
                Some(993),
                true,
                "capability-imap-00",
            ),
            (Service::Pop3, "pop3", Some(110), false, "capability-pop-00"),
            (
                Service::Pop3s,
                "pop3s",
                Some(995),
                true,
                "capability-pop-00",
            ),
            (Service::Lmtp, "lmtp", None, false, "capability-smtp-00"),
        ];
        assert_eq!(table.len(), Service::ALL.len());
        for (svc, name, port, tls, chall) in table {
            assert_eq!(svc.name(), name);
            assert_eq!(svc.to_string(), name);
            assert_eq!(svc.default_port(), port);
            assert_eq!(svc.implicit_tls(), tls, "{name}");
            assert_eq!(svc.capability_challenge(), Some(chall));
            assert_eq!(name.parse::<Service>(), Ok(svc));
            assert_eq!(name.to_ascii_uppercase().parse::<Service>(), Ok(svc));
            assert_eq!(
                serde_json::to_string(&svc).ok(),
                Some(format!("\"{name}\""))
            );
            assert_eq!(
                serde_json::from_str::<Service>(&format!("\"{name}\"")).ok(),
                Some(svc)
            );
            // -05 §3 item 2: absent port → IANA default.
            match port {
                Some(p) => {
                    assert_eq!(resolve_port(svc, None), Ok(p));
                    assert!(port_matches_default(svc, p));
                }
                None => assert_eq!(
                    resolve_port(svc, None),
                    Err(EmailTlsError::PortRequired { service: svc })
                ),
            }
            assert_eq!(resolve_port(svc, Some(2525)), Ok(2525));
            assert_eq!(resolve_port(svc, Some(0)), Err(EmailTlsError::InvalidPort));
            assert!(!port_matches_default(svc, 2525));
        }
        assert!(matches!(
            "sieve".parse::<Service>(),
            Err(EmailTlsError::UnknownService { .. })
        ));
        assert!("".parse::<Service>().is_err());
        assert!(serde_json::from_str::<Service>("\"http\"").is_err());
    }

    #[test]
    fn lmtp_port() {
        assert_eq!(
            resolve_port(Service::Lmtp, None),
            Err(EmailTlsError::PortRequired {
                service: Service::Lmtp
            })
        );
        assert_eq!(resolve_port(Service::Lmtp, Some(24)), Ok(24));
        assert!(!port_matches_default(Service::Lmtp, 24));
        assert_eq!(
            txt_name(24, Service::Lmtp, "example.com").as_deref(),
            Ok("_24._lmtp._acme-challenge.example.com")
        );
    }

    #[test]
    fn builders() {
        assert_eq!(ehlo_capability(DIGEST), format!("ACME {DIGEST}"));
        assert_eq!(pop3_capability(DIGEST), format!("ACME {DIGEST}"));
        assert_eq!(imap_capability(DIGEST), format!("ACME={DIGEST}"));
    }

    #[test]
    fn ehlo_example_found() {
        let lines = ehlo_example();
        let found = find_acme_in_ehlo(&refs(&lines));
        assert_eq!(found, AcmeCapability::Present(DIGEST.into()));
        assert_eq!(found.digest(), Some(DIGEST));
        // With CRLF as received.
        let crlf: Vec<String> = lines.iter().map(|l| format!("{l}\r\n")).collect();
        assert_eq!(
            find_acme_in_ehlo(&refs(&crlf)),
            AcmeCapability::Present(DIGEST.into())
        );
        // Last line of the reply ("250 ").
        let last = ["250-mx.example.com", &format!("250 acme {DIGEST}")];
        assert_eq!(
            find_acme_in_ehlo(&last),
            AcmeCapability::Present(DIGEST.into())
        );
    }

    #[test]
    fn ehlo_absent_and_malformed() {
        let lines = ehlo_example();
        let without: Vec<&str> = refs(&lines)
            .into_iter()
            .filter(|l| !l.contains("ACME"))
            .collect();
        assert_eq!(find_acme_in_ehlo(&without), AcmeCapability::Absent);
        assert_eq!(find_acme_in_ehlo(&[]), AcmeCapability::Absent);
        // The first line is the domain, never a keyword.
        assert_eq!(
            find_acme_in_ehlo(&[&format!("250 ACME {DIGEST}")]),
            AcmeCapability::Absent
        );
        let malformed = |ehlo_line: &str| {
            let lines = ["250-smtp.example.com", ehlo_line, "250 ENHANCEDSTATUSCODES"];
            find_acme_in_ehlo(&lines)
        };
        assert!(matches!(
            malformed("250-ACME"),
            AcmeCapability::Malformed(_)
        ));
        assert!(matches!(
            malformed(&format!("250-ACME {DIGEST} {DIGEST}")),
            AcmeCapability::Malformed(_)
        ));
        assert!(matches!(
            malformed("250-ACME gfj9Xq...Rg85nM"),
            AcmeCapability::Malformed(_)
        ));
        // -05 §3.4.1's "44 octets": the padded form is recognised, not malformed.
        assert_eq!(
            malformed(&format!("250-ACME {DIGEST}=")),
            AcmeCapability::Padded(DIGEST.into())
        );
        assert!(matches!(
            malformed(&format!("250-ACME {DIGEST}===")),
            AcmeCapability::Malformed(_)
        ));
        assert!(matches!(
            malformed("250-ACME =="),
            AcmeCapability::Malformed(_)
        ));
        assert!(matches!(
            malformed("250-ACME ZTRx1Ckl1+tM05o5/aizTTA0yUy5AGereMgSNWC6Ll8"),
            AcmeCapability::Malformed(_)
        ));
        let dup = [
            "250-smtp.example.com",
            &format!("250-ACME {DIGEST}"),
            &format!("250 Acme {DIGEST}"),
        ];
        assert!(matches!(
            find_acme_in_ehlo(&dup),
            AcmeCapability::Malformed(_)
        ));
        // Lowercase keyword accepted.
        assert_eq!(
            malformed(&format!("250-acme {DIGEST}")),
            AcmeCapability::Present(DIGEST.into())
        );
        // A keyword that merely starts with ACME is something else.
        assert_eq!(
            malformed(&format!("250-ACMEX {DIGEST}")),
            AcmeCapability::Absent
        );
    }

    #[test]
    fn imap_example_found() {
        // -05 §3.4 examples, with the digest computed for the RFC 8555 §8.4 token.
        let greeting = format!(
            "* OK [CAPABILITY IMAP4rev1 LOGINDISABLED LITERAL+ ENABLE STARTTLS ACME={DIGEST}] \
             Example IMAP4rev1 server ready"
        );
        let capability =
            format!("* CAPABILITY IMAP4rev1 LOGINDISABLED LITERAL+ ENABLE STARTTLS ACME={DIGEST}");
        for line in [&greeting, &capability] {
            let caps = imap_capabilities_from_line(line);
            assert_eq!(
                caps,
                vec![
                    "IMAP4rev1",
                    "LOGINDISABLED",
                    "LITERAL+",
                    "ENABLE",
                    "STARTTLS",
                    &format!("ACME={DIGEST}")
                ]
            );
            assert_eq!(
                find_acme_in_imap_capabilities(&caps),
                AcmeCapability::Present(DIGEST.into())
            );
        }
        let tagged = format!("a1 OK [CAPABILITY IMAP4rev1 acme={DIGEST}] done\r\n");
        assert_eq!(
            find_acme_in_imap_capabilities(&imap_capabilities_from_line(&tagged)),
            AcmeCapability::Present(DIGEST.into())
        );
        assert_eq!(
            imap_capabilities_from_line("* capability IMAP4rev1 STARTTLS\r\n"),
            vec!["IMAP4rev1", "STARTTLS"]
        );
    }

    #[test]
    fn imap_lines_without_capabilities() {
        for line in [
            "",
            "*",
            "* OK Example IMAP4rev1 server ready",
            "* OK [ALERT] hello",
            "* OK [CAPABILITY IMAP4rev1",
            "* 3 EXISTS",
            "* CAPABILITYX IMAP4rev1",
            "a1 CAPABILITY IMAP4rev1",
            "+ go ahead",
        ] {
            assert!(imap_capabilities_from_line(line).is_empty(), "{line:?}");
        }
    }

    #[test]
    fn imap_absent_and_malformed() {
        assert_eq!(
            find_acme_in_imap_capabilities(&["IMAP4rev1", "STARTTLS", "AUTH=PLAIN"]),
            AcmeCapability::Absent
        );
        assert_eq!(find_acme_in_imap_capabilities(&[]), AcmeCapability::Absent);
        for caps in [
            &["IMAP4rev1", "ACME"][..],
            &["IMAP4rev1", "ACME="],
            &["ACME=gfj9Xq...Rg85nM"],
            &["ACME=abc", "ACME=abc"],
            &["ACME=abc", "acme=def"],
            &["ACME=abc==="],
        ] {
            assert!(
                matches!(
                    find_acme_in_imap_capabilities(caps),
                    AcmeCapability::Malformed(_)
                ),
                "{caps:?}"
            );
        }
        assert_eq!(
            find_acme_in_imap_capabilities(&["IMAP4rev1", &format!("acme={DIGEST}")]),
            AcmeCapability::Present(DIGEST.into())
        );
    }

    #[test]
    fn capa_example_found() {
        // -05 §3.4 example (without the "S: " transcript markers).
        let acme = format!("ACME {DIGEST}");
        let lines = [
            "+OK Capability list follows",
            "TOP",
            "SASL CRAM-MD5 KERBEROS_V4",
            "UIDL",
            &acme,
            "IMPLEMENTATION Shlemazle-Plotz-v915",
            ".",
        ];
        assert_eq!(
            find_acme_in_capa(&lines),
            AcmeCapability::Present(DIGEST.into())
        );
        // Without status and terminator lines.
        assert_eq!(
            find_acme_in_capa(&lines[1..6]),
            AcmeCapability::Present(DIGEST.into())
        );
        // Lowercase tag.
        let lower = format!("acme {DIGEST}");
        assert_eq!(
            find_acme_in_capa(&["+OK", "TOP", &lower, "."]),
            AcmeCapability::Present(DIGEST.into())
        );
    }

    #[test]
    fn capa_absent_and_malformed() {
        assert_eq!(
            find_acme_in_capa(&["+OK", "TOP", "UIDL", "."]),
            AcmeCapability::Absent
        );
        assert_eq!(
            find_acme_in_capa(&["-ERR no CAPA", &format!("ACME {DIGEST}")]),
            AcmeCapability::Absent
        );
        // After the terminator nothing counts.
        assert_eq!(
            find_acme_in_capa(&["+OK", ".", &format!("ACME {DIGEST}")]),
            AcmeCapability::Absent
        );
        let bad_lists: [Vec<String>; 4] = [
            vec!["+OK".into(), "ACME".into(), ".".into()],
            vec!["+OK".into(), format!("ACME {DIGEST} extra"), ".".into()],
            vec!["+OK".into(), "ACME gfj9Xq...Rg85nM".into(), ".".into()],
            vec![
                "+OK".into(),
                format!("ACME {DIGEST}"),
                format!("acme {DIGEST}"),
                ".".into(),
            ],
        ];
        for bad in &bad_lists {
            assert!(
                matches!(find_acme_in_capa(&refs(bad)), AcmeCapability::Malformed(_)),
                "{bad:?}"
            );
        }
    }

    #[test]
    fn digest_comparison() {
        assert!(digest_matches(DIGEST, DIGEST));
        assert!(!digest_matches(
            DIGEST,
            "ZaJgFtIV4WA0t2MzN7kbSk0sfRd2GZjaxRqaSTAK6lI"
        ));
        assert!(!digest_matches(DIGEST, &DIGEST[..42]));
        assert!(!digest_matches("", DIGEST));
        assert!(digest_matches("", ""));
    }

    proptest! {
        #[test]
        fn build_find_round_trip(digest in "[A-Za-z0-9_-]{43}") {
            let present = AcmeCapability::Present(digest.clone());
            let ehlo = [
                "250-smtp.example.com".to_owned(),
                format!("250-{}", ehlo_capability(&digest)),
                "250 ENHANCEDSTATUSCODES".to_owned(),
            ];
            prop_assert_eq!(find_acme_in_ehlo(&refs(&ehlo)), present.clone());

            let capa = [
                "+OK".to_owned(),
                "TOP".to_owned(),
                pop3_capability(&digest),
                ".".to_owned(),
            ];
            prop_assert_eq!(find_acme_in_capa(&refs(&capa)), present.clone());

            let greeting = format!(
                "* OK [CAPABILITY IMAP4rev1 STARTTLS {}] ready",
                imap_capability(&digest)
            );
            let caps = imap_capabilities_from_line(&greeting);
            prop_assert_eq!(find_acme_in_imap_capabilities(&caps), present.clone());

            let line = format!("* CAPABILITY IMAP4rev1 {}", imap_capability(&digest));
            let caps = imap_capabilities_from_line(&line);
            prop_assert_eq!(find_acme_in_imap_capabilities(&caps), present);
            prop_assert!(digest_matches(&digest, &digest));
        }

        #[test]
        fn finders_never_panic(lines in prop::collection::vec(any::<String>(), 0..8)) {
            let lines: Vec<&str> = lines.iter().map(String::as_str).collect();
            let _ = find_acme_in_ehlo(&lines);
            let _ = find_acme_in_capa(&lines);
            let _ = find_acme_in_imap_capabilities(&lines);
            for line in &lines {
                let caps = imap_capabilities_from_line(line);
                let _ = find_acme_in_imap_capabilities(&caps);
            }
        }

        #[test]
        fn finders_never_panic_wireish(
            lines in prop::collection::vec(
                "[* \\[\\]=+.A-Za-z0-9-]{0,30}\
                 |(250[- ]|\\* OK \\[|\\+OK ?)(ACME|acme|CAPABILITY)?[ =\\]a-zA-Z0-9.=-]{0,20}",
                0..8,
            )
        ) {
            let lines: Vec<&str> = lines.iter().map(String::as_str).collect();
            let _ = find_acme_in_ehlo(&lines);
            let _ = find_acme_in_capa(&lines);
            for line in &lines {
                let caps = imap_capabilities_from_line(line);
                let _ = find_acme_in_imap_capabilities(&caps);
            }
        }
    }
}
