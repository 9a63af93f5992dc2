//! Header-level reading of DKIM-Signature fields (RFC 6376 §3.5) for RFC 8823's rules on `h=`
//! and `d=` (§3.1 item 6, §3.2 item 9).
//!
//! Only the tag-list (RFC 6376 §3.2) is read here: no canonicalisation, no hashing, no key
//! lookup. Cryptographic verification is mail-auth's job in the mail plane. mail-auth is not
//! used for this reading because it cannot be built without its DNS resolver (and so tokio),
//! which `acmeproof-protocol` must not depend on.

use crate::address;

/// The tags of one DKIM-Signature field that RFC 8823 judges.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct DkimTags {
    /// `a=`: the signing algorithm, e.g. `rsa-sha256`.
    pub algorithm: Option<String>,
    /// `d=`: the signing domain.
    pub domain: Option<String>,
    /// `s=`: the selector.
    pub selector: Option<String>,
    /// `h=`: the signed header field names, as written.
    pub signed_headers: Vec<String>,
    /// `l=`: the body length limit, if any.
    pub body_length: Option<String>,
}

impl DkimTags {
    /// Whether `name` is among the signed header fields (names are case-insensitive,
    /// RFC 6376 §3.5 `h=`).
    pub fn signs(&self, name: &str) -> bool {
        self.signed_headers
            .iter()
            .any(|h| h.eq_ignore_ascii_case(name))
    }

    /// The names of `required` that `h=` does not cover.
    pub fn unsigned<'a>(&self, required: &[&'a str]) -> Vec<&'a str> {
        required
            .iter()
            .copied()
            .filter(|name| !self.signs(name))
            .collect()
    }

    /// Whether `d=` equals `domain` (RFC 8823: "MUST be the same as the domain from the From
    /// header field"). DNS names compare case-insensitively, and A-labels equal their U-labels
    /// (RFC 8616 §4: `d=` may be written either way).
    pub fn domain_is(&self, domain: &str) -> bool {
        let Some(d) = &self.domain else { return false };
        match (
            address::domain_to_a_labels(d),
            address::domain_to_a_labels(domain),
        ) {
            (Ok(a), Ok(b)) => a.trim_end_matches('.') == b.trim_end_matches('.'),
            _ => d.eq_ignore_ascii_case(domain),
        }
    }
}

/// Why a DKIM-Signature value is not a tag-list.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum TagListError {
    /// RFC 6376 §3.2: a tag-spec without `=`.
    #[error("tag-spec {0:?} has no '='")]
    NoEquals(String),
    /// RFC 6376 §3.2: "Tags with duplicate names MUST NOT occur within a single tag-list".
    #[error("tag {0:?} occurs more than once")]
    Duplicate(String),
    /// RFC 6376 §3.5: v=, a=, b=, bh=, d=, h= and s= are required.
    #[error("required tag {0:?} is missing")]
    Missing(&'static str),
}

/// Reads the tags of a DKIM-Signature field value (RFC 6376 §3.2 tag-list).
pub fn parse_dkim_signature(value: &str) -> Result<DkimTags, TagListError> {
    let mut seen: Vec<String> = Vec::new();
    let mut tags = DkimTags::default();
    for spec in value.split(';') {
        if spec.trim().is_empty() {
            continue; // a trailing ';' is allowed
        }
        let (name, val) = spec
            .split_once('=')
            .ok_or_else(|| TagListError::NoEquals(spec.trim().into()))?;
        let name = name.trim().to_string();
        if seen.contains(&name) {
            return Err(TagListError::Duplicate(name));
        }
        // FWS may appear inside values (b=, bh=, h=); it is not part of them.
        let compact: String = val.chars().filter(|c| !c.is_whitespace()).collect();
        match name.as_str() {
            "a" => tags.algorithm = Some(compact),
            "d" => tags.domain = Some(compact),
            "s" => tags.selector = Some(compact),
            "l" => tags.body_length = Some(compact),
            "h" => {
                tags.signed_headers = compact
                    .split(':')
                    .filter(|h| !h.is_empty())
                    .map(str::to_string)
                    .collect()
            }
            _ => {}
        }
        seen.push(name);
    }
    for required in ["v", "a", "b", "bh", "d", "h", "s"] {
        if !seen.iter().any(|s| s == required) {
            return Err(TagListError::Missing(required));
        }
    }
    Ok(tags)
}

#[cfg(test)]
mod tests {
    use super::*;

    const SIG: &str = " v=1; a=rsa-sha256; c=relaxed/relaxed; d=Example.ORG; s=sel;\r\n\th=From:To : Subject:\r\n Date; bh=abc=; b=de\r\n f=";

    #[test]
    fn reads_tags_with_fws() {
        let t = parse_dkim_signature(SIG).unwrap();
        assert_eq!(t.algorithm.as_deref(), Some("rsa-sha256"));
        assert_eq!(t.signed_headers, ["From", "To", "Subject", "Date"]);
        assert!(t.signs("subject"));
        assert_eq!(t.unsigned(&["From", "CC"]), ["CC"]);
        assert!(t.domain_is("example.org"));
        assert!(!t.domain_is("mail.example.org"));
    }

    #[test]
    fn rejects_bad_tag_lists() {
        assert_eq!(
            parse_dkim_signature("v=1; d"),
            Err(TagListError::NoEquals("d".into()))
        );
        assert_eq!(
            parse_dkim_signature("v=1; d=a; d=b"),
            Err(TagListError::Duplicate("d".into()))
        );
        assert_eq!(
            parse_dkim_signature("v=1; a=rsa-sha256; b=x; bh=y; d=a; s=s"),
            Err(TagListError::Missing("h"))
        );
    }
}
