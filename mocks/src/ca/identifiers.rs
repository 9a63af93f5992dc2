//! Which identifiers an order may hold (RFC 8555 §7.1.4, §7.4; RFC 8823 §3).

use super::email_tls::MailTarget;
use super::pki::{Identifier, IdentifierKind};
use super::problem::{Problem, ProblemType, Subproblem};
use crate::protocol::address::parse_address;

/// The most identifiers one order may hold.
pub const MAX_IDENTIFIERS: usize = 100;

/// One requested identifier, checked: what the authorization is for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Requested {
    /// As it appears in the order (lower-cased for dns).
    pub identifier: Identifier,
    /// The authorization's identifier: a wildcard without its `*.` (RFC 8555 §7.1.4).
    pub authz_identifier: Identifier,
    /// Whether it was a `*.` name.
    pub wildcard: bool,
    /// draft-ietf-acme-email-tls: the mail service asked for (see [`super::email_tls::targets`]).
    pub mail: Option<MailTarget>,
}

/// Checks a newOrder `identifiers` array. Every bad entry is reported, as a compound problem
/// with one subproblem each when there are several (RFC 8555 §6.7.1).
pub fn check(value: Option<&serde_json::Value>) -> Result<Vec<Requested>, Problem> {
    check_with_targets(value, &[])
}

/// [`check`], with the mail target of each entry (by index; missing entries have none). One
/// name may then appear once per distinct target (draft-ietf-acme-email-tls-05 §4 open issue 1:
/// imap/143 and imaps/993 on one certificate), each with its own authorization.
pub fn check_with_targets(
    value: Option<&serde_json::Value>,
    targets: &[Option<MailTarget>],
) -> Result<Vec<Requested>, Problem> {
    let Some(list) = value.and_then(|v| v.as_array()) else {
        return Err(Problem::malformed(
            "newOrder needs an \"identifiers\" array (RFC 8555 §7.4)",
        ));
    };
    if list.is_empty() {
        return Err(Problem::malformed("\"identifiers\" is empty"));
    }
    if list.len() > MAX_IDENTIFIERS {
        return Err(Problem::new(
            ProblemType::RejectedIdentifier,
            format!("at most {MAX_IDENTIFIERS} identifiers per order"),
        ));
    }
    let mut ok = Vec::new();
    let mut bad = Vec::new();
    for (i, entry) in list.iter().enumerate() {
        match check_one(entry) {
            Ok(mut r) => {
                r.mail = targets.get(i).copied().flatten();
                if r.mail.is_some() && r.wildcard {
                    // RFC 4985 §2: an SRVName's Name is a domain name; `_imaps.*.example` is
                    // no SRV-ID, and there is no host to connect to.
                    bad.push((
                        ProblemType::RejectedIdentifier,
                        format!(
                            "{}: a wildcard cannot be ordered for a mail service",
                            r.identifier
                        ),
                        entry.clone(),
                    ));
                    continue;
                }
                if ok
                    .iter()
                    .any(|o: &Requested| o.identifier == r.identifier && o.mail == r.mail)
                {
                    bad.push((
                        ProblemType::Malformed,
                        format!("{} is listed twice", r.identifier),
                        entry.clone(),
                    ));
                } else {
                    ok.push(r);
                }
            }
            Err((kind, detail)) => bad.push((kind, detail, entry.clone())),
        }
    }
    if bad.is_empty() {
        let emails = ok
            .iter()
            .filter(|r| r.identifier.kind == IdentifierKind::Email)
            .count();
        if emails > 0 && ok.len() > 1 {
            // One S/MIME certificate per address (RFC 8823 §3: the CSR carries the one address
            // the response mail came from); mixing with dns names has no certificate profile.
            return Err(Problem::new(
                ProblemType::RejectedIdentifier,
                "an order with an email identifier must hold exactly that one identifier",
            ));
        }
        return Ok(ok);
    }
    // RFC 8823 §3 (SMIME-1): the one identifier rule a client can break here by itself.
    let wildcard_email = list.iter().any(|e| {
        e.get("type").and_then(|t| t.as_str()) == Some("email")
            && e.get("value")
                .and_then(|v| v.as_str())
                .is_some_and(|v| v.contains('*'))
    });
    let tag = |p: Problem| {
        if wildcard_email {
            p.violates(crate::protocol::requirements::SMIME_1)
        } else {
            p
        }
    };
    if bad.len() == 1 {
        let (kind, detail, _) = bad.remove(0);
        return Err(tag(Problem::new(kind, detail)));
    }
    let mut problem = Problem::new(
        ProblemType::Compound,
        format!("{} identifiers cannot be ordered", bad.len()),
    );
    problem.subproblems = bad
        .into_iter()
        .map(|(kind, detail, identifier)| Subproblem {
            kind: kind.urn(),
            detail,
            identifier: Some(identifier),
        })
        .collect();
    Err(tag(problem))
}

fn check_one(entry: &serde_json::Value) -> Result<Requested, (ProblemType, String)> {
    let kind = entry.get("type").and_then(|v| v.as_str());
    let value = entry.get("value").and_then(|v| v.as_str());
    let (Some(kind), Some(value)) = (kind, value) else {
        return Err((
            ProblemType::Malformed,
            format!("an identifier needs string \"type\" and \"value\": {entry}"),
        ));
    };
    match kind {
        "dns" => check_dns(value),
        "email" => {
            // RFC 8823 §3: the value is an addr-spec; a non-ASCII local part is allowed.
            parse_address(value)
                .map_err(|e| (ProblemType::RejectedIdentifier, format!("{value}: {e}")))?;
            let identifier = Identifier::email(value);
            Ok(Requested {
                authz_identifier: identifier.clone(),
                identifier,
                wildcard: false,
                mail: None,
            })
        }
        other => Err((
            ProblemType::UnsupportedIdentifier,
            format!("identifier type {other:?} is not supported (dns, email)"),
        )),
    }
}

fn check_dns(value: &str) -> Result<Requested, (ProblemType, String)> {
    let lower = value.to_ascii_lowercase();
    let (wildcard, base) = match lower.strip_prefix("*.") {
        Some(rest) => (true, rest),
        None => (false, lower.as_str()),
    };
    let reject = |why: &str| (ProblemType::RejectedIdentifier, format!("{value}: {why}"));
    if !base.is_ascii() {
        return Err(reject(
            "dns identifiers are A-labels (RFC 8555 §7.1.4); convert U-labels with IDNA",
        ));
    }
    if base.parse::<std::net::IpAddr>().is_ok() {
        return Err(reject("an IP address is not a dns identifier"));
    }
    if base.len() > 253 || base.ends_with('.') {
        return Err(reject("not a fully qualified name without a trailing dot"));
    }
    let labels: Vec<&str> = base.split('.').collect();
    if labels.len() < 2 {
        return Err(reject("a single label is not a domain this CA issues for"));
    }
    for label in &labels {
        let ldh = label
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-');
        if label.is_empty()
            || label.len() > 63
            || !ldh
            || label.starts_with('-')
            || label.ends_with('-')
        {
            return Err(reject(&format!(
                "label {label:?} is not a letter-digit-hyphen label (wildcards only as the whole leftmost label)"
            )));
        }
    }
    // An A-label must decode (RFC 5891 §5.4); idna's UTS #46 processing rejects bad punycode.
    if labels.iter().any(|l| l.starts_with("xn--")) && idna::domain_to_unicode(base).1.is_err() {
        return Err(reject("an xn-- label is not valid punycode"));
    }
    Ok(Requested {
        identifier: Identifier::dns(&lower),
        authz_identifier: Identifier::dns(base),
        wildcard,
        mail: None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn one(t: &str, v: &str) -> Result<Vec<Requested>, Problem> {
        check(Some(&json!([{ "type": t, "value": v }])))
    }

    #[test]
    fn accepts_names_wildcards_and_addresses() {
        let r = one("dns", "WWW.Example.test").unwrap();
        assert_eq!(r[0].identifier, Identifier::dns("www.example.test"));
        let r = one("dns", "*.example.test").unwrap();
        assert!(r[0].wildcard);
        assert_eq!(r[0].authz_identifier, Identifier::dns("example.test"));
        assert!(one("dns", "xn--bcher-kva.example").is_ok());
        assert!(one("email", "alice@example.test").is_ok());
        assert!(one("email", "δοκιμή@example.test").is_ok());
    }

    #[test]
    fn refuses_what_rfc_8555_does_not_allow() {
        for (t, v, kind) in [
            ("dns", "a.*.example.test", ProblemType::RejectedIdentifier),
            ("dns", "*.*.example.test", ProblemType::RejectedIdentifier),
            ("dns", "127.0.0.1", ProblemType::RejectedIdentifier),
            ("dns", "localhost", ProblemType::RejectedIdentifier),
            ("dns", "bücher.example", ProblemType::RejectedIdentifier),
            ("dns", "-a.example.test", ProblemType::RejectedIdentifier),
            ("dns", "example.test.", ProblemType::RejectedIdentifier),
            ("dns", "xn--zz.example", ProblemType::RejectedIdentifier),
            ("ip", "127.0.0.1", ProblemType::UnsupportedIdentifier),
            ("email", "not an address", ProblemType::RejectedIdentifier),
        ] {
            let err = one(t, v).unwrap_err();
            assert_eq!(err.kind, kind, "{t}:{v} → {err}");
        }
    }

    #[test]
    fn several_bad_entries_make_a_compound_problem() {
        let err = check(Some(&json!([
            {"type": "dns", "value": "ok.example.test"},
            {"type": "ip", "value": "10.0.0.1"},
            {"type": "dns", "value": "bad_name.example"},
        ])))
        .unwrap_err();
        assert_eq!(err.kind, ProblemType::Compound);
        assert_eq!(err.subproblems.len(), 2);
        assert!(err.subproblems[0].identifier.is_some());
    }

    #[test]
    fn an_email_order_holds_one_identifier() {
        let err = check(Some(&json!([
            {"type": "email", "value": "a@example.test"},
            {"type": "dns", "value": "example.test"},
        ])))
        .unwrap_err();
        assert_eq!(err.kind, ProblemType::RejectedIdentifier);
        assert!(check(Some(&json!([]))).is_err());
        assert!(check(None).is_err());
        let dup = check(Some(&json!([
            {"type": "dns", "value": "a.example.test"},
            {"type": "dns", "value": "A.example.test"},
        ])))
        .unwrap_err();
        assert_eq!(dup.kind, ProblemType::Malformed);
    }
}
