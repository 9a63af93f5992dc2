//! DKIM for RFC 8823: reading DKIM-Signature fields (RFC 6376 §3.5) and the one rule that
//! decides whether a mail's DKIM "passes for domain D" ([`judge_dkim`]).
//!
//! ```text
//!   DKIM-Signature fields ─► parse_dkim_signature ─► DkimTags ─┐
//!   mail-auth (mocks::dkim), per signature: verified? key size ─┴► SignatureResult
//!   [SignatureResult] + From domain + DkimRules ─► judge_dkim ─► DkimJudgement { passing, findings }
//! ```
//!
//! Cryptographic verification needs DNS and keys, so it is mail-auth's job in the mail plane;
//! mail-auth is not a dependency here because it cannot be built without its DNS resolver (and
//! so tokio), which `acmeproof-protocol` must not depend on. What this module owns is the
//! policy over its per-signature results. A mail passes for domain D when ONE signature:
//! - verifies (RFC 6376 §6);
//! - has `d=` equal to D (RFC 8823 §3.1 item 6 and §3.2 item 9);
//! - does not use `rsa-sha1` (RFC 8301 §3.1: "rsa-sha1 MUST NOT be used for signing or
//!   verifying") and, for RSA, has a key of at least 1024 bits (RFC 8301 §3.2: "Signers MUST
//!   use RSA keys of at least 1024 bits");
//! - and names in its own `h=` every field the message kind requires (RFC 8823 SMIME-29 for a
//!   challenge, SMIME-52 for a response).
//!
//! Each condition on the same signature: a short `h=` on the signature that verifies is not
//! mended by a second, full-`h=` signature that does not.

use crate::address;
use crate::finding::{Finding, Findings};
use crate::requirements as req;

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

/// How a DKIM library judged one signature's cryptography (RFC 6376 §6.1).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Verification {
    /// The body hash and the signature verify with the key from DNS.
    Verified,
    /// It does not verify, with the library's reason (no key, bad signature, body changed…).
    Failed(String),
    /// Not checked: a header-level reading (no DNS at hand). Judged as if it verified, so only
    /// what the header fields themselves show is reported.
    NotChecked,
}

/// One DKIM-Signature field: its tags and how it verified.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SignatureResult {
    /// The tags (`a=`, `d=`, `h=` …); `None` when the field is not a valid tag-list.
    pub tags: Option<DkimTags>,
    /// The cryptographic verdict.
    pub verification: Verification,
    /// For an `rsa-*` signature, the modulus size of the key record's key, when it was read.
    pub rsa_key_bits: Option<u32>,
}

impl SignatureResult {
    /// A signature read from its header field only ([`Verification::NotChecked`]).
    pub fn unchecked(field_value: &str) -> Self {
        SignatureResult {
            tags: parse_dkim_signature(field_value).ok(),
            verification: Verification::NotChecked,
            rsa_key_bits: None,
        }
    }

    /// Whether RFC 8301 lets this signature count at all: `Err` names the rule it breaks.
    pub fn acceptable(&self) -> Result<(), Finding> {
        let algorithm = self
            .tags
            .as_ref()
            .and_then(|t| t.algorithm.as_deref())
            .unwrap_or_default();
        // RFC 8301 §3.1: "rsa-sha1 MUST NOT be used for signing or verifying."
        if algorithm.eq_ignore_ascii_case("rsa-sha1") {
            return Err(Finding::new(
                req::MAIL_7,
                "a=rsa-sha256 or a=ed25519-sha256",
                "a=rsa-sha1",
            ));
        }
        // RFC 8301 §3.2: "Signers MUST use RSA keys of at least 1024 bits for all keys."
        if let Some(bits) = self.rsa_key_bits
            && bits < MIN_RSA_KEY_BITS
        {
            return Err(Finding::new(
                req::MAIL_8,
                format!("an RSA key of at least {MIN_RSA_KEY_BITS} bits"),
                format!("a {bits}-bit RSA key"),
            ));
        }
        Ok(())
    }

    fn domain(&self) -> &str {
        self.tags
            .as_ref()
            .and_then(|t| t.domain.as_deref())
            .unwrap_or("(none)")
    }
}

/// RFC 8301 §3.2: the smallest RSA key a signer may use.
pub const MIN_RSA_KEY_BITS: u32 = 1024;

/// The requirement ids of the DKIM rules for one kind of message.
#[derive(Debug, Clone, Copy)]
pub struct DkimRules {
    /// "MUST be signed" (and: a signature that verifies).
    pub signed: &'static str,
    /// `h=` MUST cover this list.
    pub must_sign: (&'static str, &'static [&'static str]),
    /// `h=` SHOULD cover this list.
    pub should_sign: (&'static str, &'static [&'static str]),
    /// `d=` MUST equal the From domain.
    pub domain: &'static str,
}

/// RFC 8823 §3.1 item 6: the challenge mail's DKIM rules.
pub const CHALLENGE_RULES: DkimRules = DkimRules {
    signed: req::SMIME_28,
    must_sign: (req::SMIME_29, super::CHALLENGE_DKIM_MUST_SIGN),
    should_sign: (req::SMIME_30, super::DKIM_SHOULD_SIGN),
    domain: req::SMIME_31,
};

/// RFC 8823 §3.2 item 9: the response mail's DKIM rules.
pub const RESPONSE_RULES: DkimRules = DkimRules {
    signed: req::SMIME_51,
    must_sign: (req::SMIME_52, super::RESPONSE_DKIM_MUST_SIGN),
    should_sign: (req::SMIME_53, super::DKIM_SHOULD_SIGN),
    domain: req::SMIME_54,
};

/// Any mail signed by its From domain, with no `h=` list of RFC 8823 (what a relay's
/// `Authentication-Results` or a "DKIM passes for D" question needs).
pub const ANY_MAIL_RULES: DkimRules = DkimRules {
    signed: req::SMIME_51,
    must_sign: (req::SMIME_52, &[]),
    should_sign: (req::SMIME_53, &[]),
    domain: req::SMIME_54,
};

/// The verdict of [`judge_dkim`].
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct DkimJudgement {
    /// The index of the signature that passes, if one does.
    pub passing: Option<usize>,
    /// Why none passes (MUST-level), or SHOULD-level notes on the one that does.
    pub findings: Findings,
}

impl DkimJudgement {
    /// Whether one signature passes every rule.
    pub fn passes(&self) -> bool {
        self.passing.is_some()
    }
}

/// The one DKIM rule (see the module documentation): whether `signatures` hold one that passes
/// for `from_domain` under `rules`, and if none does, why, as findings.
///
/// When none passes, the signature closest to passing is the one explained (a field that does
/// not verify weighs more than a broken RFC 8301 rule, which weighs more than a short `h=`), so a
/// decoy cannot hide the real defect and one defect gives one finding.
pub fn judge_dkim(
    signatures: &[SignatureResult],
    from_domain: Option<&str>,
    rules: &DkimRules,
) -> DkimJudgement {
    let mut out = DkimJudgement::default();
    if signatures.is_empty() {
        out.findings
            .add(rules.signed, "a DKIM-Signature header field", "none");
        return out;
    }
    let (must_id, must_list) = rules.must_sign;
    let mut best: Option<(u32, usize, Vec<Finding>)> = None;
    for (i, sig) in signatures.iter().enumerate() {
        let Some(tags) = &sig.tags else { continue };
        if !from_domain.is_some_and(|d| tags.domain_is(d)) {
            continue;
        }
        let mut weight = 0;
        let mut defects = Vec::new();
        let acceptable = sig.acceptable();
        if let Err(f) = acceptable.clone() {
            weight += 2;
            defects.push(f);
        }
        if let Verification::Failed(why) = &sig.verification {
            weight += 3;
            // A failure an RFC 8301 rule explains (ring refuses keys under 1024 bits) is
            // that rule's finding, not a second one.
            if acceptable.is_ok() {
                defects.push(Finding::new(
                    rules.signed,
                    format!(
                        "a DKIM signature of {} that verifies",
                        tags.domain.as_deref().unwrap_or("")
                    ),
                    format!("d={}: {why}", sig.domain()),
                ));
            }
        }
        let missing = tags.unsigned(must_list);
        if !missing.is_empty() {
            weight += 1;
            defects.push(Finding::new(
                must_id,
                format!("DKIM h= covering {}", must_list.join(":")),
                format!("h= lacks {}", missing.join(", ")),
            ));
        }
        if best.as_ref().is_none_or(|(w, _, _)| weight < *w) {
            best = Some((weight, i, defects));
        }
    }
    match best {
        Some((0, i, _)) => {
            out.passing = Some(i);
            let (should_id, should_list) = rules.should_sign;
            if let Some(tags) = &signatures[i].tags {
                let missing = tags.unsigned(should_list);
                if !missing.is_empty() {
                    out.findings.add(
                        should_id,
                        format!("DKIM h= also covering {}", should_list.join(":")),
                        format!("h= lacks {}", missing.join(", ")),
                    );
                }
            }
        }
        Some((_, _, defects)) => {
            for f in defects {
                out.findings.push(f);
            }
        }
        None => {
            let readable = signatures.iter().filter(|s| s.tags.is_some()).count();
            if readable == 0 {
                out.findings.add(
                    rules.signed,
                    "a DKIM-Signature with a valid tag-list (RFC 6376 §3.5)",
                    format!("{} unreadable DKIM-Signature field(s)", signatures.len()),
                );
            } else {
                let seen: Vec<String> = signatures
                    .iter()
                    .filter(|s| s.tags.is_some())
                    .map(|s| format!("d={}", s.domain()))
                    .collect();
                out.findings.add(
                    rules.domain,
                    format!(
                        "DKIM d= equal to the From domain {}",
                        from_domain.unwrap_or("(unknown)")
                    ),
                    seen.join(", "),
                );
            }
        }
    }
    out
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

#[cfg(test)]
mod judge_tests {
    use super::*;
    use crate::smime::RESPONSE_DKIM_MUST_SIGN;

    fn sig(a: &str, d: &str, h: &[&str], verification: Verification) -> SignatureResult {
        SignatureResult {
            tags: Some(DkimTags {
                algorithm: Some(a.into()),
                domain: Some(d.into()),
                selector: Some("s".into()),
                signed_headers: h.iter().map(|s| s.to_string()).collect(),
                body_length: None,
            }),
            verification,
            rsa_key_bits: a.starts_with("rsa").then_some(2048),
        }
    }

    fn ids(j: &DkimJudgement) -> Vec<&'static str> {
        j.findings.ids()
    }

    const SHORT: &[&str] = &["From", "To", "Subject"];

    #[test]
    fn ed25519_and_rsa_sha256_with_the_full_h_pass() {
        for a in ["ed25519-sha256", "rsa-sha256"] {
            let j = judge_dkim(
                &[sig(
                    a,
                    "example.test",
                    RESPONSE_DKIM_MUST_SIGN,
                    Verification::Verified,
                )],
                Some("example.test"),
                &RESPONSE_RULES,
            );
            assert_eq!(j.passing, Some(0), "{a}");
            // The SHOULD list (Resent-*, List-*) is not signed: a note, not a failure.
            assert_eq!(ids(&j), ["SMIME-53"]);
        }
    }

    #[test]
    fn rsa_sha1_alone_fails_under_rfc_8301() {
        let j = judge_dkim(
            &[sig(
                "rsa-sha1",
                "example.test",
                RESPONSE_DKIM_MUST_SIGN,
                Verification::Verified,
            )],
            Some("example.test"),
            &RESPONSE_RULES,
        );
        assert!(!j.passes());
        assert_eq!(ids(&j), ["MAIL-7"]);
        // Beside a good signature it is harmless: one signature passing is enough.
        let j = judge_dkim(
            &[
                sig(
                    "rsa-sha1",
                    "example.test",
                    RESPONSE_DKIM_MUST_SIGN,
                    Verification::Verified,
                ),
                sig(
                    "ed25519-sha256",
                    "example.test",
                    RESPONSE_DKIM_MUST_SIGN,
                    Verification::Verified,
                ),
            ],
            Some("example.test"),
            &RESPONSE_RULES,
        );
        assert_eq!(j.passing, Some(1));
    }

    #[test]
    fn a_short_h_is_not_mended_by_a_full_h_decoy_that_does_not_verify() {
        let j = judge_dkim(
            &[
                sig(
                    "ed25519-sha256",
                    "example.test",
                    SHORT,
                    Verification::Verified,
                ),
                sig(
                    "ed25519-sha256",
                    "example.test",
                    RESPONSE_DKIM_MUST_SIGN,
                    Verification::Failed("bad signature".into()),
                ),
            ],
            Some("example.test"),
            &RESPONSE_RULES,
        );
        assert!(!j.passes());
        assert_eq!(ids(&j), ["SMIME-52"]);
    }

    #[test]
    fn a_768_bit_key_fails_under_rfc_8301_not_as_a_bad_signature() {
        let mut small = sig(
            "rsa-sha256",
            "example.test",
            RESPONSE_DKIM_MUST_SIGN,
            Verification::Failed("verification failed".into()),
        );
        small.rsa_key_bits = Some(768);
        let j = judge_dkim(&[small], Some("example.test"), &RESPONSE_RULES);
        assert!(!j.passes());
        assert_eq!(ids(&j), ["MAIL-8"]);
    }

    #[test]
    fn a_valid_signature_of_another_domain_fails_on_d() {
        let j = judge_dkim(
            &[sig(
                "ed25519-sha256",
                "other.test",
                RESPONSE_DKIM_MUST_SIGN,
                Verification::Verified,
            )],
            Some("example.test"),
            &RESPONSE_RULES,
        );
        assert!(!j.passes());
        assert_eq!(ids(&j), ["SMIME-54"]);
    }

    #[test]
    fn no_signature_and_a_signature_that_does_not_verify_fail_on_signed() {
        let j = judge_dkim(&[], Some("example.test"), &RESPONSE_RULES);
        assert_eq!(ids(&j), ["SMIME-51"]);
        let j = judge_dkim(
            &[sig(
                "ed25519-sha256",
                "example.test",
                RESPONSE_DKIM_MUST_SIGN,
                Verification::Failed("body hash".into()),
            )],
            Some("example.test"),
            &CHALLENGE_RULES,
        );
        // The challenge list also needs Auto-Submitted: two defects, two findings.
        assert_eq!(ids(&j), ["SMIME-28", "SMIME-29"]);
    }

    #[test]
    fn a_header_level_reading_judges_only_what_the_fields_show() {
        let value = "v=1; a=ed25519-sha256; d=example.test; s=s; h=From:To:Subject; bh=x; b=y";
        let j = judge_dkim(
            &[SignatureResult::unchecked(value)],
            Some("example.test"),
            &RESPONSE_RULES,
        );
        assert_eq!(ids(&j), ["SMIME-52"]);
        let j = judge_dkim(
            &[SignatureResult::unchecked(value)],
            Some("example.test"),
            &ANY_MAIL_RULES,
        );
        assert!(j.passes());
    }
}
