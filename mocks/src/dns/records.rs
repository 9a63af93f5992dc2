//! Records as a scenario writes them (`{ name, type, value, ttl }`, values in zone-file
//! presentation format) and their conversion to and from hickory-proto records.

use std::str::FromStr;

use hickory_proto::rr::rdata::TXT;
use hickory_proto::rr::{Name, RData, Record, RecordType};
use serde::{Deserialize, Serialize};

/// Default TTL of a [`RecordSpec`] when the scenario gives none.
pub const DEFAULT_TTL: u32 = 60;

/// RFC 1035 §3.3: a `<character-string>` holds at most 255 octets.
const MAX_CHARACTER_STRING: usize = 255;

/// One resource record as configuration or a management API writes it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RecordSpec {
    /// Owner name; IDN U-labels are accepted, a missing trailing dot is added.
    pub name: String,
    /// Record type mnemonic (`A`, `TXT`, `CAA`, ...), case-insensitive.
    #[serde(rename = "type")]
    pub rtype: String,
    /// Record data in presentation format, except TXT: the text itself (no quotes, no escapes;
    /// split at 255 octets), or a list of its character-strings.
    pub value: RecordValue,
    /// Time to live in seconds.
    #[serde(default = "default_ttl")]
    pub ttl: u32,
}

fn default_ttl() -> u32 {
    DEFAULT_TTL
}

/// The `value` of a [`RecordSpec`]: one string, or (TXT only) several character-strings.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum RecordValue {
    /// Presentation format (`10 mx.example.test.`), or the raw text of a TXT record.
    One(String),
    /// TXT only: the character-strings of one record, each split again if over 255 octets.
    Many(Vec<String>),
}

impl From<&str> for RecordValue {
    fn from(s: &str) -> Self {
        RecordValue::One(s.to_owned())
    }
}

/// Why a [`RecordSpec`] (or a name) could not be turned into a record.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RecordParseError {
    /// The owner name (or a zone apex) is not a valid domain name.
    #[error("record {record}: field `name`: {reason}")]
    Name {
        /// The record as written, for the message.
        record: String,
        /// What is wrong.
        reason: String,
    },
    /// The type mnemonic is unknown or cannot be served.
    #[error("record {record}: field `type`: {reason}")]
    Type {
        /// The record as written, for the message.
        record: String,
        /// What is wrong.
        reason: String,
    },
    /// The value does not parse for that type.
    #[error("record {record}: field `value`: {reason}")]
    Value {
        /// The record as written, for the message.
        record: String,
        /// What is wrong.
        reason: String,
    },
}

impl RecordSpec {
    /// A record with the default TTL.
    pub fn new(name: &str, rtype: &str, value: impl Into<RecordValue>) -> Self {
        RecordSpec {
            name: name.to_owned(),
            rtype: rtype.to_owned(),
            value: value.into(),
            ttl: DEFAULT_TTL,
        }
    }

    /// A TXT record from its character-strings.
    pub fn txt(name: &str, strings: Vec<String>) -> Self {
        RecordSpec {
            name: name.to_owned(),
            rtype: "TXT".to_owned(),
            value: RecordValue::Many(strings),
            ttl: DEFAULT_TTL,
        }
    }

    fn label(&self) -> String {
        format!("{} {}", self.name, self.rtype)
    }

    /// The record type this spec names.
    pub fn record_type(&self) -> Result<RecordType, RecordParseError> {
        let rtype = RecordType::from_str(&self.rtype.to_ascii_uppercase()).map_err(|e| {
            RecordParseError::Type {
                record: self.label(),
                reason: e.to_string(),
            }
        })?;
        match rtype {
            RecordType::A
            | RecordType::AAAA
            | RecordType::MX
            | RecordType::TXT
            | RecordType::CNAME
            | RecordType::SRV
            | RecordType::TLSA
            | RecordType::CAA
            | RecordType::NS
            | RecordType::PTR => Ok(rtype),
            other => Err(RecordParseError::Type {
                record: self.label(),
                reason: format!("{other} is not a type the mock DNS serves"),
            }),
        }
    }

    /// Converts to a hickory record (class IN).
    pub fn to_record(&self) -> Result<Record, RecordParseError> {
        let name = parse_name(&self.name).map_err(|reason| RecordParseError::Name {
            record: self.label(),
            reason,
        })?;
        let rtype = self.record_type()?;
        let value_err = |reason: String| RecordParseError::Value {
            record: self.label(),
            reason,
        };
        let rdata = match (rtype, &self.value) {
            (RecordType::TXT, RecordValue::One(s)) => RData::TXT(TXT::new(split_txt(s))),
            (RecordType::TXT, RecordValue::Many(list)) => {
                RData::TXT(TXT::new(list.iter().flat_map(|s| split_txt(s)).collect()))
            }
            (_, RecordValue::Many(_)) => {
                return Err(value_err(
                    "a list of strings is only allowed for TXT".into(),
                ));
            }
            (rtype, RecordValue::One(s)) => {
                let rdata = RData::try_from_str(rtype, s).map_err(|e| value_err(e.to_string()))?;
                absolutize(rdata)
            }
        };
        Ok(Record::from_rdata(name, self.ttl, rdata))
    }

    /// Converts a served record back to a spec (names absolute, TXT as its character-strings).
    pub fn from_record(record: &Record) -> Self {
        let value = match &record.data {
            RData::TXT(txt) => {
                let strings: Vec<String> = txt
                    .txt_data
                    .iter()
                    .map(|b| String::from_utf8_lossy(b).into_owned())
                    .collect();
                match <[String; 1]>::try_from(strings) {
                    Ok([one]) => RecordValue::One(one),
                    Err(many) => RecordValue::Many(many),
                }
            }
            other => RecordValue::One(other.to_string()),
        };
        RecordSpec {
            name: record.name.to_ascii(),
            rtype: record.record_type().to_string(),
            value,
            ttl: record.ttl,
        }
    }
}

/// Parses a domain name as the mock takes it: IDN U-labels become A-labels
/// (`idna::domain_to_ascii`), and a name without a trailing dot is absolute anyway.
pub fn parse_name(input: &str) -> Result<Name, String> {
    let trimmed = input.trim();
    if trimmed.is_empty() {
        return Err("empty name".into());
    }
    if trimmed == "." {
        return Ok(Name::root());
    }
    let bare = trimmed.strip_suffix('.').unwrap_or(trimmed);
    // Underscore labels (`_acme-challenge`) are not IDNA; convert label by label so that they
    // pass through untouched while U-labels still become A-labels.
    let mut labels = Vec::new();
    for label in bare.split('.') {
        if label.is_ascii() {
            labels.push(label.to_ascii_lowercase());
        } else {
            let ascii = idna::domain_to_ascii(label).map_err(|e| format!("IDNA: {e}"))?;
            labels.push(ascii);
        }
    }
    let mut name = Name::from_ascii(labels.join(".")).map_err(|e| e.to_string())?;
    name.set_fqdn(true);
    Ok(name)
}

/// RFC 1035 §3.3.14 / RFC 7208 §3.3: a long TXT value is carried as several
/// character-strings of at most 255 octets each; split on UTF-8 character boundaries.
pub fn split_txt(s: &str) -> Vec<String> {
    if s.is_empty() {
        return vec![String::new()];
    }
    let mut out = Vec::new();
    let mut current = String::new();
    for c in s.chars() {
        if current.len() + c.len_utf8() > MAX_CHARACTER_STRING {
            out.push(std::mem::take(&mut current));
        }
        current.push(c);
    }
    if !current.is_empty() {
        out.push(current);
    }
    out
}

/// Names in record data written without a trailing dot are taken as absolute.
fn absolutize(rdata: RData) -> RData {
    fn fqdn(mut n: Name) -> Name {
        n.set_fqdn(true);
        n
    }
    match rdata {
        RData::MX(mut mx) => {
            mx.exchange = fqdn(mx.exchange);
            RData::MX(mx)
        }
        RData::CNAME(c) => RData::CNAME(hickory_proto::rr::rdata::CNAME(fqdn(c.0))),
        RData::NS(n) => RData::NS(hickory_proto::rr::rdata::NS(fqdn(n.0))),
        RData::PTR(p) => RData::PTR(hickory_proto::rr::rdata::PTR(fqdn(p.0))),
        RData::SRV(mut srv) => {
            srv.target = fqdn(srv.target);
            RData::SRV(srv)
        }
        other => other,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rec(name: &str, t: &str, v: &str) -> Result<Record, RecordParseError> {
        RecordSpec::new(name, t, v).to_record()
    }

    #[test]
    fn parses_each_type() {
        let a = rec("www.example.test", "A", "127.0.0.1").unwrap();
        assert_eq!(a.name.to_ascii(), "www.example.test.");
        assert_eq!(a.ttl, 60);
        assert_eq!(a.data.to_string(), "127.0.0.1");

        let aaaa = rec("www.example.test.", "aaaa", "::1").unwrap();
        assert_eq!(aaaa.record_type(), RecordType::AAAA);

        let mx = rec("example.test", "MX", "10 mx.example.test").unwrap();
        assert_eq!(mx.data.to_string(), "10 mx.example.test.");

        let cname = rec("alias.example.test", "CNAME", "www.example.test").unwrap();
        assert_eq!(cname.data.to_string(), "www.example.test.");

        let srv = rec(
            "_imaps._tcp.example.test",
            "SRV",
            "0 1 993 imap.example.test.",
        )
        .unwrap();
        assert_eq!(srv.data.to_string(), "0 1 993 imap.example.test.");

        let tlsa = rec("_25._tcp.mx.example.test", "TLSA", "3 1 1 ABCDEF0123").unwrap();
        let RData::TLSA(t) = &tlsa.data else {
            panic!("not TLSA")
        };
        assert_eq!(t.cert_data, vec![0xab, 0xcd, 0xef, 0x01, 0x23]);
    }

    #[test]
    fn caa_tags_round_trip_including_issuemail() {
        for (value, tag, raw) in [
            (r#"0 issue "acmeproof.test""#, "issue", "acmeproof.test"),
            (r#"0 issuewild ";""#, "issuewild", ";"),
            (
                r#"0 issuemail "acmeproof.test""#,
                "issuemail",
                "acmeproof.test",
            ),
            (r#"128 tbs "x""#, "tbs", "x"),
        ] {
            let r = rec("example.test", "CAA", value).unwrap();
            let RData::CAA(caa) = &r.data else {
                panic!("not CAA")
            };
            assert_eq!(caa.tag, tag);
            assert_eq!(caa.value, raw.as_bytes());
            let back = RecordSpec::from_record(&r);
            assert_eq!(back.value, RecordValue::One(value.to_owned()));
            assert_eq!(back.to_record().unwrap(), r);
        }
    }

    #[test]
    fn txt_one_string_list_and_long_split() {
        let r = rec("t.example.test", "TXT", "hello world").unwrap();
        let RData::TXT(t) = &r.data else { panic!() };
        assert_eq!(t.txt_data.len(), 1);

        let list = RecordSpec::txt("t.example.test", vec!["a".into(), "b".into()]);
        let RData::TXT(t) = list.to_record().unwrap().data else {
            panic!()
        };
        assert_eq!(t.txt_data.len(), 2);

        let long = "x".repeat(600);
        let r = rec("t.example.test", "TXT", &long).unwrap();
        let RData::TXT(t) = &r.data else { panic!() };
        let lens: Vec<usize> = t.txt_data.iter().map(|s| s.len()).collect();
        assert_eq!(lens, vec![255, 255, 90]);

        // Multi-byte characters are never cut in half.
        let parts = split_txt(&"é".repeat(200));
        assert!(parts.iter().all(|p| p.len() <= 255));
        assert_eq!(parts.concat(), "é".repeat(200));
    }

    #[test]
    fn idn_names_become_a_labels() {
        let n = parse_name("bücher.example").unwrap();
        assert_eq!(n.to_ascii(), "xn--bcher-kva.example.");
        let n = parse_name("_acme-challenge.Example.TEST").unwrap();
        assert_eq!(n.to_ascii(), "_acme-challenge.example.test.");
    }

    #[test]
    fn errors_name_the_record_and_field() {
        let e = rec("www.example.test", "A", "not-an-ip").unwrap_err();
        assert!(matches!(e, RecordParseError::Value { .. }), "{e}");
        assert!(e.to_string().contains("www.example.test A"), "{e}");
        assert!(e.to_string().contains("`value`"), "{e}");

        let e = rec("www.example.test", "BOGUS", "x").unwrap_err();
        assert!(matches!(e, RecordParseError::Type { .. }), "{e}");

        let e = rec("www.example.test", "SOA", "x").unwrap_err();
        assert!(matches!(e, RecordParseError::Type { .. }), "{e}");

        let e = rec("bad..name", "A", "127.0.0.1").unwrap_err();
        assert!(matches!(e, RecordParseError::Name { .. }), "{e}");

        let e = rec("m.example.test", "MX", "mx.example.test").unwrap_err();
        assert!(matches!(e, RecordParseError::Value { .. }), "{e}");

        let e = RecordSpec {
            value: RecordValue::Many(vec!["1.2.3.4".into()]),
            ..RecordSpec::new("a.example.test", "A", "")
        }
        .to_record()
        .unwrap_err();
        assert!(matches!(e, RecordParseError::Value { .. }), "{e}");
    }

    #[test]
    fn serde_from_toml() {
        #[derive(Deserialize)]
        struct T {
            records: Vec<RecordSpec>,
        }
        let t: T = toml::from_str(
            r#"
            [[records]]
            name = "example.test"
            type = "TXT"
            value = ["v=spf1", "-all"]
            [[records]]
            name = "example.test"
            type = "A"
            value = "127.0.0.1"
            ttl = 5
            "#,
        )
        .unwrap();
        assert_eq!(t.records[0].ttl, 60);
        assert_eq!(t.records[1].ttl, 5);
        assert!(matches!(t.records[0].value, RecordValue::Many(_)));
    }
}
