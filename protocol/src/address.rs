//! E-mail addresses: parsing, IDNA conversion, comparison and certificate SAN form.
//!
//! Implements:
//! - RFC 5321 §4.1.2 `Mailbox` (addr-spec) syntax, extended by RFC 6531 §3.3 for UTF-8
//!   (`atext =/ UTF8-non-ascii`, `qtextSMTP =/ UTF8-non-ascii`, `sub-domain =/ U-label`), and the
//!   RFC 5321 §4.5.3.1 size limits (local part 64 octets, domain 255 octets, label 63 octets).
//! - RFC 8823 §3: an `email` identifier "MUST NOT have a wildcard ("*") character in its value".
//! - RFC 5890/5891 (IDNA2008) A-label ↔ U-label conversion, via the `idna` crate's UTS #46
//!   processing (non-transitional, STD3 ASCII rules).
//! - RFC 8398 §5 address comparison, with the RFC 8550 §3 option of ASCII case-insensitive local
//!   parts.
//! - RFC 8398 §3 / RFC 8550 §4.4.3 (Table 1): which subjectAltName form carries an address.
//!
//! Parsing is syntactic plus IDNA validity of the domain: an [`EmailAddress`] always has a domain
//! that converts to A-labels and U-labels. The local part is stored exactly as written (including
//! the quotes of a quoted-string), because RFC 8398 §5 compares it octet for octet.

use std::fmt;
use std::str::FromStr;

use idna::uts46::{AsciiDenyList, DnsLength, Hyphens, Uts46};
use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// RFC 5321 §4.5.3.1.1: "The maximum total length of a user name or other local-part is 64
/// octets."
pub const MAX_LOCAL_PART_OCTETS: usize = 64;
/// RFC 5321 §4.5.3.1.2: "The maximum total length of a domain name or number is 255 octets."
pub const MAX_DOMAIN_OCTETS: usize = 255;
/// RFC 1035 §2.3.4 / RFC 5890 §2.3.2.1: a label (in its ASCII form) is at most 63 octets.
pub const MAX_LABEL_OCTETS: usize = 63;

/// Why a string is not an acceptable e-mail address or domain.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum AddressError {
    /// The input (after removing optional angle brackets) is empty.
    #[error("empty address")]
    Empty,
    /// A `<` without a matching final `>` or the other way round.
    #[error("unbalanced angle brackets")]
    UnbalancedAngleBrackets,
    /// No unquoted `@` separates local part and domain.
    #[error("missing '@'")]
    MissingAt,
    /// More than one unquoted `@`.
    #[error("more than one unquoted '@'")]
    MultipleAt,
    /// Nothing before the `@` (or an empty quoted-string `""`).
    #[error("empty local part")]
    EmptyLocalPart,
    /// Nothing after the `@`.
    #[error("empty domain")]
    EmptyDomain,
    /// RFC 8823 §3: an `email` identifier must not contain a wildcard (`*`).
    #[error("wildcard '*' is not allowed in an email identifier (RFC 8823 §3)")]
    Wildcard,
    /// A control character (C0, DEL or C1) at this byte offset of the input.
    #[error("control character at byte {at}")]
    ControlCharacter {
        /// Byte offset in the input as given.
        at: usize,
    },
    /// White space outside a quoted-string, at this byte offset of the input.
    #[error("white space outside quotes at byte {at}")]
    Whitespace {
        /// Byte offset in the input as given.
        at: usize,
    },
    /// The local part is neither a dot-string nor a quoted-string.
    #[error("invalid local part: {reason}")]
    InvalidLocalPart {
        /// What is wrong.
        reason: &'static str,
    },
    /// The local part is longer than 64 octets (RFC 5321 §4.5.3.1.1).
    #[error("local part is {len} octets, more than 64")]
    LocalPartTooLong {
        /// Octets in the local part as written.
        len: usize,
    },
    /// The domain is longer than 255 octets (RFC 5321 §4.5.3.1.2).
    #[error("domain is {len} octets, more than 255")]
    DomainTooLong {
        /// Octets in the domain (as written, or in A-label form).
        len: usize,
    },
    /// The domain has an empty label (leading, trailing or doubled dot).
    #[error("empty domain label")]
    EmptyLabel,
    /// A label is longer than 63 octets (in its ASCII / A-label form).
    #[error("domain label {label:?} is {len} octets, more than 63")]
    LabelTooLong {
        /// The label.
        label: String,
        /// Its length in octets.
        len: usize,
    },
    /// A label is not LDH / not a sub-domain per RFC 5321 §4.1.2.
    #[error("invalid domain label {label:?}: {reason}")]
    InvalidLabel {
        /// The label as written.
        label: String,
        /// What is wrong.
        reason: &'static str,
    },
    /// An RFC 5321 address-literal (`[192.0.2.1]`) — meaningless for an ACME `email` identifier.
    #[error("address literals are not supported")]
    AddressLiteral,
    /// The domain fails IDNA processing (invalid A-label, disallowed code point, ...).
    #[error("domain {domain:?} is not IDNA-valid: {reason}")]
    Idna {
        /// The domain as given.
        domain: String,
        /// What is wrong.
        reason: &'static str,
    },
}

/// An e-mail address (RFC 5321 `Mailbox`, RFC 6531 for UTF-8), as written.
///
/// Equality (`==`) is structural (exact octets of both parts); use [`addresses_match`] for the
/// RFC 8398 §5 comparison.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct EmailAddress {
    local: String,
    domain: String,
}

impl EmailAddress {
    /// The local part, exactly as written (a quoted-string keeps its quotes and backslashes).
    pub fn local(&self) -> &str {
        &self.local
    }

    /// The domain, exactly as written (LDH labels, A-labels, U-labels or a mix).
    pub fn domain(&self) -> &str {
        &self.domain
    }

    /// True if the local part is all ASCII (RFC 8398 Table 1, first column).
    pub fn is_ascii_local(&self) -> bool {
        self.local.is_ascii()
    }

    /// The same address with the domain as lowercase A-labels (RFC 5890 §2.3.2.1).
    pub fn with_a_label_domain(&self) -> Result<EmailAddress, AddressError> {
        Ok(EmailAddress {
            local: self.local.clone(),
            domain: domain_to_a_labels(&self.domain)?,
        })
    }

    /// The same address with the domain as U-labels (NFC), ASCII labels lowercased.
    pub fn with_u_label_domain(&self) -> Result<EmailAddress, AddressError> {
        Ok(EmailAddress {
            local: self.local.clone(),
            domain: domain_to_u_labels(&self.domain)?,
        })
    }
}

impl fmt::Display for EmailAddress {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}@{}", self.local, self.domain)
    }
}

impl FromStr for EmailAddress {
    type Err = AddressError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        parse_address(s)
    }
}

impl Serialize for EmailAddress {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for EmailAddress {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let s = String::deserialize(deserializer)?;
        parse_address(&s).map_err(serde::de::Error::custom)
    }
}

/// How local parts are compared by [`addresses_match`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum CaseRule {
    /// RFC 8398 §5: the local part is compared octet for octet.
    #[default]
    Exact,
    /// RFC 8550 §3: an all-ASCII local part SHOULD be compared case-insensitively. Local parts
    /// with any non-ASCII character are still compared octet for octet.
    AsciiCaseInsensitive,
}

/// The subjectAltName form that carries an address in a certificate (RFC 8398 §3, Table 1).
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize)]
pub enum SanForm {
    /// `rfc822Name` (IA5String): ASCII local part, domain in lowercase A-labels.
    Rfc822Name(String),
    /// `otherName` id-on-SmtpUTF8Mailbox (UTF8String): non-ASCII local part, domain in U-labels
    /// with ASCII labels lowercased.
    SmtpUtf8Mailbox(String),
}

impl SanForm {
    /// The address string stored in the SAN.
    pub fn value(&self) -> &str {
        match self {
            SanForm::Rfc822Name(s) | SanForm::SmtpUtf8Mailbox(s) => s,
        }
    }
}

/// Parses a bare addr-spec (RFC 5321 `Mailbox`, RFC 6531 for UTF-8), optionally inside `<...>`.
///
/// Accepts a dot-string or quoted-string local part and a domain of LDH labels, A-labels and
/// U-labels. Rejects wildcards (RFC 8823 §3), control characters, white space outside quotes,
/// address literals, over-long parts and domains that fail IDNA.
pub fn parse_address(s: &str) -> Result<EmailAddress, AddressError> {
    parse_with(s, true)
}

/// Checks an RFC 5321 §4.1.2 `Mailbox` as an SMTP server receives it in `MAIL FROM` or
/// `RCPT TO` (RFC 6531 §3.3 for UTF-8). The local part follows the rules of [`parse_address`]
/// (Dot-string or Quoted-string, 64 octets), except that `*` is ordinary atext: the wildcard ban
/// is RFC 8823 §3's, for `email` identifiers. The domain is checked only as far as a receiving
/// server needs to route it: at most 255 octets, an address literal (`[192.0.2.1]`, RFC 5321
/// §4.1.3) or non-empty labels of letters, digits and hyphens (any script). Whether it is
/// IDNA-valid is the next hop's business, not a syntax error of the command.
pub fn check_mailbox(s: &str) -> Result<(), AddressError> {
    parse_with(s, false).map(|_| ())
}

/// The domain of a received mailbox (see [`check_mailbox`]).
fn check_receiving_domain(domain: &str) -> Result<(), AddressError> {
    if domain.is_empty() {
        return Err(AddressError::EmptyDomain);
    }
    if domain.len() > MAX_DOMAIN_OCTETS {
        return Err(AddressError::DomainTooLong { len: domain.len() });
    }
    if domain.starts_with('[') {
        return if domain.ends_with(']') {
            Ok(())
        } else {
            Err(AddressError::InvalidLabel {
                label: domain.to_owned(),
                reason: "an address literal ends with ']'",
            })
        };
    }
    for label in domain.split('.') {
        if label.is_empty() {
            return Err(AddressError::EmptyLabel);
        }
        if !label.chars().all(|c| c.is_alphanumeric() || c == '-') {
            return Err(AddressError::InvalidLabel {
                label: label.to_owned(),
                reason: "only letters, digits and hyphens",
            });
        }
    }
    Ok(())
}

/// [`parse_address`] (`identifier`), or the looser mailbox of [`check_mailbox`].
fn parse_with(s: &str, identifier: bool) -> Result<EmailAddress, AddressError> {
    // Byte offset of `inner` within `s`, for error positions.
    let (inner, base) = match (s.strip_prefix('<'), s.ends_with('>')) {
        (Some(rest), true) => match rest.strip_suffix('>') {
            Some(inner) => (inner, 1),
            None => return Err(AddressError::UnbalancedAngleBrackets),
        },
        (None, false) => (s, 0),
        _ => return Err(AddressError::UnbalancedAngleBrackets),
    };
    if inner.is_empty() {
        return Err(AddressError::Empty);
    }
    // RFC 8823 §3: "Any identifier of type "email" in a newOrder request MUST NOT have a
    // wildcard ("*") character in its value." — anywhere, quoted or not.
    if identifier && inner.contains('*') {
        return Err(AddressError::Wildcard);
    }
    if let Some((at, _)) = inner.char_indices().find(|(_, c)| c.is_control()) {
        return Err(AddressError::ControlCharacter { at: base + at });
    }

    let (local, domain, domain_offset) = if inner.starts_with('"') {
        let end = quoted_string_end(inner)?;
        let (local, rest) = inner.split_at(end);
        match rest.strip_prefix('@') {
            Some(domain) => (local, domain, end + 1),
            None if rest.is_empty() => return Err(AddressError::MissingAt),
            None => {
                return Err(AddressError::InvalidLocalPart {
                    reason: "characters after the closing quote",
                });
            }
        }
    } else {
        let Some(at) = inner.find('@') else {
            return Err(AddressError::MissingAt);
        };
        let local = &inner[..at];
        if let Some(ws) = local.char_indices().find(|(_, c)| c.is_whitespace()) {
            return Err(AddressError::Whitespace { at: base + ws.0 });
        }
        (local, &inner[at + 1..], at + 1)
    };
    if domain.contains('@') {
        return Err(AddressError::MultipleAt);
    }
    if let Some((at, _)) = domain.char_indices().find(|(_, c)| c.is_whitespace()) {
        return Err(AddressError::Whitespace {
            at: base + domain_offset + at,
        });
    }

    check_local_part(local)?;
    if identifier {
        check_domain(domain)?;
    } else {
        check_receiving_domain(domain)?;
    }
    Ok(EmailAddress {
        local: local.to_owned(),
        domain: domain.to_owned(),
    })
}

/// Given `s` starting with `"`, returns the byte index just past the closing quote.
fn quoted_string_end(s: &str) -> Result<usize, AddressError> {
    let mut chars = s.char_indices().skip(1);
    while let Some((i, c)) = chars.next() {
        match c {
            '"' => return Ok(i + 1),
            // RFC 5321 §4.1.2: quoted-pairSMTP = %d92 %d32-126
            '\\' => match chars.next() {
                Some((_, q)) if (' '..='~').contains(&q) => {}
                _ => {
                    return Err(AddressError::InvalidLocalPart {
                        reason: "backslash must quote a printable ASCII character",
                    });
                }
            },
            // RFC 5321 §4.1.2: qtextSMTP = %d32-33 / %d35-91 / %d93-126;
            // RFC 6531 §3.3: qtextSMTP =/ UTF8-non-ascii. Controls were rejected earlier.
            _ => {}
        }
    }
    Err(AddressError::InvalidLocalPart {
        reason: "unterminated quoted-string",
    })
}

/// RFC 5321 §4.1.2 atext, extended by RFC 6531 §3.3 with UTF8-non-ascii.
fn is_atext(c: char) -> bool {
    c.is_ascii_alphanumeric() || "!#$%&'*+-/=?^_`{|}~".contains(c) || !c.is_ascii()
}

fn check_local_part(local: &str) -> Result<(), AddressError> {
    if local.is_empty() || local == "\"\"" {
        return Err(AddressError::EmptyLocalPart);
    }
    // RFC 5321 §4.5.3.1.1: 64 octets, counted as written (RFC 6531: UTF-8 octets).
    if local.len() > MAX_LOCAL_PART_OCTETS {
        return Err(AddressError::LocalPartTooLong { len: local.len() });
    }
    if local.starts_with('"') {
        // Already validated by quoted_string_end.
        return Ok(());
    }
    // RFC 5321 §4.1.2: Dot-string = Atom *("." Atom), Atom = 1*atext
    for atom in local.split('.') {
        if atom.is_empty() {
            return Err(AddressError::InvalidLocalPart {
                reason: "empty atom (leading, trailing or doubled dot)",
            });
        }
        if !atom.chars().all(is_atext) {
            return Err(AddressError::InvalidLocalPart {
                reason: "character not allowed in a dot-string (quote it)",
            });
        }
    }
    Ok(())
}

fn check_domain(domain: &str) -> Result<(), AddressError> {
    if domain.is_empty() {
        return Err(AddressError::EmptyDomain);
    }
    if domain.starts_with('[') {
        return Err(AddressError::AddressLiteral);
    }
    if domain.len() > MAX_DOMAIN_OCTETS {
        return Err(AddressError::DomainTooLong { len: domain.len() });
    }
    for label in domain.split('.') {
        check_label(label)?;
    }
    // RFC 6531 §3.3: sub-domain =/ U-label — the domain must be IDNA-valid ...
    let u_domain = domain_to_u_labels(domain)?;
    // ... and a non-ASCII label must already be a U-label (RFC 5890 §2.3.2.1: NFC, IDNA-valid,
    // no UTS #46 mapping such as full-width letters or uppercase non-ASCII), apart from the
    // case of its ASCII letters. domain_to_a_labels guarantees equal label counts.
    for (written, canonical) in domain.split('.').zip(u_domain.split('.')) {
        if !written.is_ascii() && written.to_ascii_lowercase() != canonical {
            return Err(AddressError::InvalidLabel {
                label: written.to_owned(),
                reason: "not a U-label: not NFC or needs IDNA mapping",
            });
        }
    }
    Ok(())
}

/// RFC 5321 §4.1.2: sub-domain = Let-dig [Ldh-str]; RFC 6531 adds U-labels, whose own
/// validity (and 63-octet A-label length) is left to IDNA.
fn check_label(label: &str) -> Result<(), AddressError> {
    if label.is_empty() {
        return Err(AddressError::EmptyLabel);
    }
    let ascii = label.is_ascii();
    if ascii && label.len() > MAX_LABEL_OCTETS {
        return Err(AddressError::LabelTooLong {
            label: label.to_owned(),
            len: label.len(),
        });
    }
    let invalid = |reason| AddressError::InvalidLabel {
        label: label.to_owned(),
        reason,
    };
    if !label
        .chars()
        .all(|c| c.is_ascii_alphanumeric() || c == '-' || !c.is_ascii())
    {
        return Err(invalid("only letters, digits and hyphens are allowed"));
    }
    if label.starts_with('-') || label.ends_with('-') {
        return Err(invalid("a label must not start or end with a hyphen"));
    }
    Ok(())
}

/// Converts a domain to lowercase A-labels (RFC 5890 §2.3.2.1; RFC 5891 §4).
///
/// Accepts LDH labels, A-labels and U-labels in any mix. Invalid A-labels (`xn--zz`),
/// disallowed code points, empty labels and over-long labels (63 octets) or domains
/// (255 octets) are errors.
pub fn domain_to_a_labels(domain: &str) -> Result<String, AddressError> {
    if domain.is_empty() {
        return Err(AddressError::EmptyDomain);
    }
    if domain.contains('*') {
        return Err(AddressError::Wildcard);
    }
    let ascii = Uts46::new()
        .to_ascii(
            domain.as_bytes(),
            AsciiDenyList::STD3,
            // RFC 5321 Ldh-str forbids leading/trailing hyphens; "--" in positions 3–4 (R-LDH
            // labels) is reserved, not forbidden, so it is not rejected here.
            Hyphens::CheckFirstLast,
            // Length limits are checked below against RFC 5321 (255), not DNS (253).
            DnsLength::Ignore,
        )
        .map_err(|_| AddressError::Idna {
            domain: domain.to_owned(),
            reason: "IDNA ToASCII failed (invalid A-label, disallowed code point or bad hyphen)",
        })?
        .into_owned();
    // UTS #46 maps some characters (e.g. U+3002 IDEOGRAPHIC FULL STOP) to ".": a label
    // separator the writer did not type is not accepted.
    if ascii.split('.').count() != domain.split('.').count() {
        return Err(AddressError::Idna {
            domain: domain.to_owned(),
            reason: "a character maps to a label separator",
        });
    }
    if ascii.len() > MAX_DOMAIN_OCTETS {
        return Err(AddressError::DomainTooLong { len: ascii.len() });
    }
    for label in ascii.split('.') {
        if label.is_empty() {
            return Err(AddressError::EmptyLabel);
        }
        if label.len() > MAX_LABEL_OCTETS {
            return Err(AddressError::LabelTooLong {
                label: label.to_owned(),
                len: label.len(),
            });
        }
    }
    Ok(ascii)
}

/// Converts a domain to U-labels (NFC, RFC 5890 §2.3.2.1), with ASCII labels lowercased.
///
/// The domain is first validated through [`domain_to_a_labels`], so the result always
/// round-trips to the same A-labels (RFC 5891 §5.5).
pub fn domain_to_u_labels(domain: &str) -> Result<String, AddressError> {
    let ascii = domain_to_a_labels(domain)?;
    let (unicode, result) = Uts46::new().to_unicode(
        ascii.as_bytes(),
        AsciiDenyList::STD3,
        Hyphens::CheckFirstLast,
    );
    result.map_err(|_| AddressError::Idna {
        domain: domain.to_owned(),
        reason: "IDNA ToUnicode failed",
    })?;
    Ok(unicode.into_owned())
}

/// Domain in the RFC 8398 §5 comparison form: "1. If the domain contains A-labels, transform
/// them to U-labels. 2. If the domain contains ASCII NR-LDH labels, lowercase them."
fn comparison_domain(domain: &str) -> Option<String> {
    domain_to_u_labels(domain).ok()
}

/// RFC 8398 §5 comparison of two addresses.
///
/// Domains are normalised (A-labels → U-labels, ASCII lowercased) and compared octet for
/// octet. Local parts are compared octet for octet, or — with
/// [`CaseRule::AsciiCaseInsensitive`] and both local parts all ASCII — ASCII
/// case-insensitively. Non-ASCII local parts are never case-folded or normalised. A domain
/// that fails IDNA never matches.
pub fn addresses_match(a: &EmailAddress, b: &EmailAddress, rule: CaseRule) -> bool {
    let locals = match rule {
        // RFC 8398 §5: the local part MUST NOT be case-folded or normalised.
        CaseRule::Exact => a.local == b.local,
        // RFC 8550 §3: ASCII local parts SHOULD be compared case-insensitively.
        CaseRule::AsciiCaseInsensitive => {
            if a.local.is_ascii() && b.local.is_ascii() {
                a.local.eq_ignore_ascii_case(&b.local)
            } else {
                a.local == b.local
            }
        }
    };
    if !locals {
        return false;
    }
    match (comparison_domain(&a.domain), comparison_domain(&b.domain)) {
        // RFC 8398 §5: "3. Compare strings octet for octet for equivalence."
        (Some(da), Some(db)) => da.as_bytes() == db.as_bytes(),
        _ => false,
    }
}

/// The subjectAltName form for `addr` (RFC 8398 §3, RFC 8550 §4.4.3, RFC 8398 Table 1).
///
/// - ASCII local part → `rfc822Name`, domain in lowercase A-labels.
/// - Non-ASCII local part → `SmtpUTF8Mailbox`, domain in U-labels, ASCII labels lowercased.
pub fn san_form(addr: &EmailAddress) -> Result<SanForm, AddressError> {
    if addr.is_ascii_local() {
        // RFC 8398 §3: "When the local-part is ASCII, rfc822Name subjectAltName MUST be used".
        // rfc822Name is an IA5String, so the domain is written in A-labels.
        let domain = domain_to_a_labels(&addr.domain)?;
        Ok(SanForm::Rfc822Name(format!("{}@{domain}", addr.local)))
    } else {
        // RFC 8398 §3: non-ASCII domain labels MUST be U-labels; ASCII labels lowercase.
        let domain = domain_to_u_labels(&addr.domain)?;
        Ok(SanForm::SmtpUtf8Mailbox(format!("{}@{domain}", addr.local)))
    }
}

/// True if sending to or from `addr` needs the SMTPUTF8 extension (RFC 6531).
///
/// Only a non-ASCII local part does: a domain can always be sent as A-labels, which are not
/// "internationalized" for this purpose (RFC 6531 §3.2).
pub fn needs_smtputf8(addr: &EmailAddress) -> bool {
    !addr.is_ascii_local()
}

/// Splits an address as written into local part and domain at its last `@`, without checking
/// either: for addresses read off the wire (envelopes, headers, configuration) that must be
/// routed or shown even when they are not valid. `None` without an `@`.
///
/// The last `@` is the separator: RFC 5321 §4.1.2 lets a quoted local part contain `@`, a
/// domain never does. Use [`parse_address`] where the address must be valid.
pub fn split(address: &str) -> Option<(&str, &str)> {
    address.rsplit_once('@')
}

/// The domain of an address as written (see [`split`]); `None` without an `@`.
pub fn domain_of(address: &str) -> Option<&str> {
    split(address).map(|(_, domain)| domain)
}

/// A domain in the form domains are compared and looked up in: lowercase A-labels (RFC 5890
/// §2.3.2.1; RFC 4343: DNS names compare case-insensitively), or, for a domain that is not
/// IDNA-valid, the domain as written lowercased, so it can only ever equal itself.
pub fn domain_key(domain: &str) -> String {
    domain_to_a_labels(domain).unwrap_or_else(|_| domain.to_lowercase())
}

impl EmailAddress {
    /// The address in the form two addresses are compared in for identity (an ACME `email`
    /// identifier, a CSR's name): the local part exactly (RFC 8398 §5: it "MUST NOT be
    /// case-folded"), the domain in lowercase A-labels (domains compare case-insensitively, and
    /// A-labels and U-labels of one domain are the same domain).
    pub fn comparison_key(&self) -> Result<String, AddressError> {
        self.with_a_label_domain().map(|a| a.to_string())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn addr(s: &str) -> EmailAddress {
        match parse_address(s) {
            Ok(a) => a,
            Err(e) => panic!("{s:?} should parse: {e}"),
        }
    }

    #[test]
    fn accepts_plain_and_bracketed() {
        let a = addr("alexey@example.com");
        assert_eq!(a.local(), "alexey");
        assert_eq!(a.domain(), "example.com");
        assert_eq!(a.to_string(), "alexey@example.com");
        assert_eq!(addr("<alexey@example.com>"), a);
        assert!(a.is_ascii_local());
    }

    #[test]
    fn accepts_quoted_local_part_as_written() {
        let a = addr(r#""john smith@home"@example.com"#);
        assert_eq!(a.local(), r#""john smith@home""#);
        assert_eq!(a.domain(), "example.com");
        let b = addr(r#""a\"b"@example.com"#);
        assert_eq!(b.local(), r#""a\"b""#);
    }

    #[test]
    fn accepts_utf8_and_mixed_domains() {
        let a = addr("老師@大学.example");
        assert!(!a.is_ascii_local());
        addr("user@xn--pss25c.example");
        addr("user@bücher.xn--mnchen-3ya.de");
        addr("user@EXAMPLE.COM");
        addr("first.last+tag@sub-1.example.org");
    }

    #[test]
    fn rejections() {
        use AddressError as E;
        let cases: &[(&str, AddressError)] = &[
            ("", E::Empty),
            ("<>", E::Empty),
            ("<a@example.com", E::UnbalancedAngleBrackets),
            ("a@example.com>", E::UnbalancedAngleBrackets),
            ("alexey.example.com", E::MissingAt),
            (r#""alexey""#, E::MissingAt),
            ("a@b@example.com", E::MultipleAt),
            ("@example.com", E::EmptyLocalPart),
            (r#"""@example.com"#, E::EmptyLocalPart),
            ("alexey@", E::EmptyDomain),
            ("*@example.com", E::Wildcard),
            ("alexey@*.example.com", E::Wildcard),
            (r#""a*b"@example.com"#, E::Wildcard),
            ("ale\u{0}xey@example.com", E::ControlCharacter { at: 3 }),
            ("alexey@exa\tmple.com", E::ControlCharacter { at: 10 }),
            ("ale\u{7f}@example.com", E::ControlCharacter { at: 3 }),
            ("ale xey@example.com", E::Whitespace { at: 3 }),
            ("<a@exa mple.com>", E::Whitespace { at: 6 }),
            ("alexey@example.com\u{3000}", E::Whitespace { at: 18 }),
            (" alexey@example.com", E::Whitespace { at: 0 }),
            (
                "a..b@example.com",
                E::InvalidLocalPart {
                    reason: "empty atom (leading, trailing or doubled dot)",
                },
            ),
            (
                ".a@example.com",
                E::InvalidLocalPart {
                    reason: "empty atom (leading, trailing or doubled dot)",
                },
            ),
            (
                "a(b@example.com",
                E::InvalidLocalPart {
                    reason: "character not allowed in a dot-string (quote it)",
                },
            ),
            (
                r#""abc@example.com"#,
                E::InvalidLocalPart {
                    reason: "unterminated quoted-string",
                },
            ),
            (
                r#""abc"x@example.com"#,
                E::InvalidLocalPart {
                    reason: "characters after the closing quote",
                },
            ),
            ("a@example..com", E::EmptyLabel),
            ("a@example.com.", E::EmptyLabel),
            ("a@[192.0.2.1]", E::AddressLiteral),
        ];
        for (input, expected) in cases {
            assert_eq!(parse_address(input).as_ref(), Err(expected), "{input:?}");
        }
    }

    #[test]
    fn label_rejections() {
        assert!(matches!(
            parse_address("a@exa_mple.com"),
            Err(AddressError::InvalidLabel { .. })
        ));
        assert!(matches!(
            parse_address("a@-example.com"),
            Err(AddressError::InvalidLabel { .. })
        ));
        assert!(matches!(
            parse_address("a@example-.com"),
            Err(AddressError::InvalidLabel { .. })
        ));
        assert!(matches!(
            parse_address("a@xn--zz.example"),
            Err(AddressError::Idna { .. })
        ));
    }

    #[test]
    fn length_limits() {
        let local64 = "a".repeat(64);
        addr(&format!("{local64}@example.com"));
        assert_eq!(
            parse_address(&format!("{local64}a@example.com")),
            Err(AddressError::LocalPartTooLong { len: 65 })
        );
        // 63-octet label is fine, 64 is not.
        let l63 = "b".repeat(63);
        addr(&format!("a@{l63}.example"));
        assert!(matches!(
            parse_address(&format!("a@{l63}b.example")),
            Err(AddressError::LabelTooLong { len: 64, .. })
        ));
        // 4 × 63 + 3 dots = 255 octets is fine; one more label character is not.
        let d255 = [l63.as_str(); 4].join(".");
        assert_eq!(d255.len(), 255);
        addr(&format!("a@{d255}"));
        let d256 = format!("c{d255}");
        assert!(matches!(
            parse_address(&format!("a@{d256}")),
            Err(AddressError::DomainTooLong { len: 256 }) | Err(AddressError::LabelTooLong { .. })
        ));
        let d257 = format!("c.{d255}");
        assert_eq!(
            parse_address(&format!("a@{d257}")),
            Err(AddressError::DomainTooLong { len: 257 })
        );
        // A U-label whose A-label exceeds 63 octets.
        let long_u = "ü".repeat(60);
        assert!(matches!(
            parse_address(&format!("a@{long_u}.example")),
            Err(AddressError::LabelTooLong { .. })
        ));
    }

    #[test]
    fn idna_vectors() {
        // Well-known IDNA2008 A-labels.
        for (u, a) in [
            ("大学", "xn--pss25c"),
            ("bücher", "xn--bcher-kva"),
            ("münchen", "xn--mnchen-3ya"),
        ] {
            assert_eq!(domain_to_a_labels(u).as_deref(), Ok(a));
            assert_eq!(domain_to_u_labels(a).as_deref(), Ok(u));
        }
        assert_eq!(
            domain_to_a_labels("大学.Example.COM").as_deref(),
            Ok("xn--pss25c.example.com")
        );
        assert_eq!(
            domain_to_u_labels("XN--PSS25C.Example").as_deref(),
            Ok("大学.example")
        );
        assert_eq!(
            domain_to_u_labels("bücher.xn--mnchen-3ya.DE").as_deref(),
            Ok("bücher.münchen.de")
        );
        assert!(matches!(
            domain_to_a_labels("xn--zz"),
            Err(AddressError::Idna { .. })
        ));
        assert!(domain_to_u_labels("xn--zz.example").is_err());
        assert!(domain_to_a_labels("").is_err());
        assert!(domain_to_a_labels("a..b").is_err());
        // U+3002 IDEOGRAPHIC FULL STOP is not a label separator here.
        assert!(domain_to_a_labels("大学\u{3002}example").is_err());
        // The conversion functions map like RFC 5891 §5 lookup input (UTS #46) ...
        assert_eq!(
            domain_to_a_labels("BÜCHER.example").as_deref(),
            Ok("xn--bcher-kva.example")
        );
        assert_eq!(
            domain_to_u_labels("e\u{301}.example").as_deref(),
            Ok("\u{e9}.example")
        );
    }

    #[test]
    fn written_labels_must_be_u_labels() {
        // ... but an address must carry real U-labels (RFC 6531 §3.3, RFC 5890 §2.3.2.1).
        for d in [
            "BÜCHER.example",
            "e\u{301}.example",
            "\u{ff41}\u{ff42}\u{ff43}.example",
            "a\u{ad}b.example",
        ] {
            assert!(
                matches!(
                    parse_address(&format!("x@{d}")),
                    Err(AddressError::InvalidLabel { .. })
                ),
                "{d:?}"
            );
        }
        addr("x@Bücher.example");
        addr("x@\u{e9}.example");
    }

    #[test]
    fn with_label_domain() {
        let a = addr("Alexey@Bücher.Example");
        assert_eq!(
            a.with_a_label_domain().map(|x| x.to_string()).as_deref(),
            Ok("Alexey@xn--bcher-kva.example")
        );
        assert_eq!(
            a.with_u_label_domain().map(|x| x.to_string()).as_deref(),
            Ok("Alexey@bücher.example")
        );
    }

    #[test]
    fn matching() {
        let m = |x: &str, y: &str, r| addresses_match(&addr(x), &addr(y), r);
        use CaseRule::*;
        // RFC 8398 §5 step 1/2: A-label vs U-label, domain case.
        assert!(m("alexey@大学.example", "alexey@xn--pss25c.example", Exact));
        assert!(m("alexey@EXAMPLE.com", "alexey@example.COM", Exact));
        assert!(m("老師@XN--PSS25C.example", "老師@大学.EXAMPLE", Exact));
        // RFC 8550 §3: ASCII local parts case-insensitive only on request.
        assert!(!m("Alexey@example.com", "alexey@example.com", Exact));
        assert!(m(
            "Alexey@example.com",
            "alexey@example.com",
            AsciiCaseInsensitive
        ));
        // Non-ASCII local parts never case-folded.
        for r in [Exact, AsciiCaseInsensitive] {
            assert!(!m("Ünal@example.com", "ünal@example.com", r));
            assert!(!m("ÜNAL@example.com", "ÜnAL@example.com", r));
            assert!(m("Ünal@example.com", "Ünal@example.com", r));
            assert!(!m("alexey@example.com", "alexey@example.net", r));
        }
        // Not normalised either: NFC vs NFD.
        assert!(!m("u\u{308}nal@example.com", "ünal@example.com", Exact));
    }

    #[test]
    fn san_form_table_1() {
        // RFC 8398 Table 1, one row each.
        let rows = [
            (
                "alexey@example.com",
                SanForm::Rfc822Name("alexey@example.com".into()),
            ),
            (
                "老師@example.com",
                SanForm::SmtpUtf8Mailbox("老師@example.com".into()),
            ),
            (
                "alexey@大学.example",
                SanForm::Rfc822Name("alexey@xn--pss25c.example".into()),
            ),
            (
                "老師@大学.example",
                SanForm::SmtpUtf8Mailbox("老師@大学.example".into()),
            ),
        ];
        for (input, expected) in rows {
            assert_eq!(san_form(&addr(input)), Ok(expected), "{input}");
        }
        // The SmtpUTF8Mailbox domain is U-labels even if written as A-labels, ASCII lowercased.
        assert_eq!(
            san_form(&addr("老師@XN--PSS25C.Example")),
            Ok(SanForm::SmtpUtf8Mailbox("老師@大学.example".into()))
        );
        assert_eq!(
            san_form(&addr("老師@example.com")).map(|s| s.value().to_owned()),
            Ok("老師@example.com".to_owned())
        );
    }

    #[test]
    fn smtputf8_need() {
        assert!(!needs_smtputf8(&addr("alexey@example.com")));
        assert!(!needs_smtputf8(&addr("alexey@大学.example")));
        assert!(needs_smtputf8(&addr("老師@example.com")));
        assert!(needs_smtputf8(&addr("老師@xn--pss25c.example")));
    }

    #[test]
    fn serde_as_string() {
        let a = addr("老師@大学.example");
        let json = serde_json::to_string(&a).ok();
        assert_eq!(json.as_deref(), Some("\"老師@大学.example\""));
        let back: Result<EmailAddress, _> = serde_json::from_str("\"老師@大学.example\"");
        assert_eq!(back.ok(), Some(a));
        let bad: Result<EmailAddress, _> = serde_json::from_str("\"*@example.com\"");
        assert!(bad.is_err());
    }

    fn dot_atom() -> impl Strategy<Value = String> {
        // RFC 5321 atext without "*" (RFC 8823 §3).
        let atom = "[A-Za-z0-9!#$%&'+/=?^_`{|}~-]{1,10}";
        prop::collection::vec(atom, 1..4)
            .prop_map(|atoms| atoms.join("."))
            .prop_filter("local part ≤ 64 octets", |s| s.len() <= 64)
    }

    fn ldh_domain() -> impl Strategy<Value = String> {
        let label = "[A-Za-z0-9]([A-Za-z0-9-]{0,10}[A-Za-z0-9])?"
            .prop_filter("not an A-label", |l: &String| {
                !l.to_ascii_lowercase().starts_with("xn--")
            });
        prop::collection::vec(label, 1..5).prop_map(|labels| labels.join("."))
    }

    fn u_label_domain() -> impl Strategy<Value = String> {
        let label = "[äöüé大学a-z]{1,8}";
        prop::collection::vec(label, 1..4).prop_map(|labels| labels.join(".") + ".example")
    }

    proptest! {
        #[test]
        fn ascii_round_trip(local in dot_atom(), domain in ldh_domain()) {
            let a = parse_address(&format!("{local}@{domain}"));
            prop_assert!(a.is_ok(), "{:?}", a);
            let a = a.map_err(|e| TestCaseError::fail(e.to_string()))?;
            prop_assert_eq!(a.local(), local.as_str());
            prop_assert_eq!(a.domain(), domain.as_str());
            prop_assert_eq!(parse_address(&a.to_string()), Ok(a.clone()));
            prop_assert_eq!(parse_address(&format!("<{a}>")), Ok(a));
        }

        #[test]
        fn a_u_a_is_stable(domain in u_label_domain()) {
            let a1 = domain_to_a_labels(&domain);
            prop_assert!(a1.is_ok(), "{:?}", a1);
            let a1 = a1.map_err(|e| TestCaseError::fail(e.to_string()))?;
            prop_assert!(a1.is_ascii());
            let u = domain_to_u_labels(&a1).map_err(|e| TestCaseError::fail(e.to_string()))?;
            prop_assert_eq!(&u, &domain);
            prop_assert_eq!(domain_to_a_labels(&u), Ok(a1));
        }

        #[test]
        fn parse_never_panics(s in any::<String>()) {
            let _ = parse_address(&s);
            let _ = domain_to_u_labels(&s);
        }

        #[test]
        fn parse_never_panics_addressish(s in "[\"<>@. a-zA-Z\\\\\u{0}\u{7f}äö大*-]{0,40}") {
            if let Ok(a) = parse_address(&s) {
                let _ = san_form(&a);
                prop_assert_eq!(parse_address(&a.to_string()), Ok(a));
            }
        }
    }

    #[test]
    fn split_takes_the_last_at_and_needs_one() {
        assert_eq!(split("alice@example.test"), Some(("alice", "example.test")));
        assert_eq!(
            split("\"a@b\"@example.test"),
            Some(("\"a@b\"", "example.test"))
        );
        assert_eq!(split("postmaster"), None);
        assert_eq!(domain_of("a@Example.TEST"), Some("Example.TEST"));
        assert_eq!(domain_of(""), None);
    }

    #[test]
    fn domain_key_is_lowercase_a_labels() {
        assert_eq!(domain_key("Bücher.Example"), "xn--bcher-kva.example");
        assert_eq!(domain_key("EXAMPLE.test"), "example.test");
        // Not IDNA-valid: lowercased as written, so it only equals itself.
        assert_eq!(domain_key("A..B"), "a..b");
    }

    #[test]
    fn comparison_key_keeps_the_local_part_and_folds_the_domain() {
        let key = |s: &str| parse_address(s).unwrap().comparison_key().unwrap();
        assert_eq!(key("Alice@Bücher.Example"), "Alice@xn--bcher-kva.example");
        assert_ne!(key("Alice@example.test"), key("alice@example.test"));
        assert_eq!(key("alice@EXAMPLE.test"), key("alice@example.test"));
    }

    #[test]
    fn smtp_mailboxes_allow_star_and_literals_but_not_bad_syntax() {
        assert_eq!(check_mailbox("a*b@example.net"), Ok(()));
        assert_eq!(check_mailbox("a@[192.0.2.1]"), Ok(()));
        assert_eq!(check_mailbox("δ@example.net"), Ok(()));
        assert_eq!(check_mailbox("\"a b\"@example.net"), Ok(()));
        assert_eq!(check_mailbox("a"), Err(AddressError::MissingAt));
        assert!(check_mailbox("a@@example.net").is_err());
        assert!(check_mailbox("a..b@example.net").is_err());
        assert!(check_mailbox("a@exa_mple.net").is_err());
        assert!(check_mailbox("a@example..net").is_err());
        // Routing, not IDNA: a hyphen-edged label is the next hop's problem.
        assert_eq!(check_mailbox("a@-x-.example"), Ok(()));
        assert!(check_mailbox("a@[192.0.2.1").is_err());
        assert!(check_mailbox(&format!("{}@example.net", "a".repeat(65))).is_err());
        // The wildcard ban stays the identifier's.
        assert_eq!(
            parse_address("a*b@example.net"),
            Err(AddressError::Wildcard)
        );
    }
}
