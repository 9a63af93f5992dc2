//! ARI, ACME Renewal Information (RFC 9773): the certificate identifier that names a
//! certificate in a `renewalInfo` URL and in newOrder's `replaces` (ACME-40, ACME-41).
//!
//! RFC 9773 §4.1: "The unique identifier is constructed by concatenating the base64url-encoded
//! [RFC4648] bytes of the keyIdentifier field of the certificate's Authority Key Identifier
//! (AKI) [RFC5280] extension, the period character ".", and the base64url-encoded bytes of the
//! DER encoding of the certificate's Serial Number (without the tag and length bytes). All
//! trailing "=" characters MUST be stripped from both parts of the unique identifier."

use crate::b64url;
use crate::finding::Findings;
use crate::requirements as req;

/// A certificate identifier, decoded.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CertId {
    /// The AKI keyIdentifier octets.
    pub key_identifier: Vec<u8>,
    /// The serial number's DER content octets (big-endian two's complement).
    pub serial: Vec<u8>,
}

/// Why a string is not a certificate identifier.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CertIdError {
    /// Not `<aki>.<serial>`.
    #[error("a certificate identifier is <base64url AKI keyIdentifier>.<base64url serial>")]
    Shape,
    /// A part is empty or not unpadded base64url.
    #[error("the {0} part is not unpadded base64url (RFC 9773 §4.1)")]
    Encoding(&'static str),
    /// The serial is not a minimal DER INTEGER content (X.690 §8.3.2).
    #[error("the serial part is not the DER encoding of a serial number")]
    Serial,
}

impl CertId {
    /// The identifier as RFC 9773 §4.1 writes it.
    pub fn encode(&self) -> String {
        format!(
            "{}.{}",
            b64url::encode(&self.key_identifier),
            b64url::encode(&self.serial)
        )
    }

    /// Parses `<aki>.<serial>`, strictly.
    pub fn parse(text: &str) -> Result<CertId, CertIdError> {
        let (aki, serial) = text.split_once('.').ok_or(CertIdError::Shape)?;
        if serial.contains('.') {
            return Err(CertIdError::Shape);
        }
        let decode = |part: &str, name: &'static str| {
            b64url::decode_strict(part)
                .ok()
                .filter(|octets| !octets.is_empty())
                .ok_or(CertIdError::Encoding(name))
        };
        let key_identifier = decode(aki, "AKI")?;
        let serial = decode(serial, "serial")?;
        // X.690 §8.3.2: the first nine bits of an INTEGER are never all zeros or all ones.
        if let [first, second, ..] = serial.as_slice()
            && ((*first == 0 && second & 0x80 == 0) || (*first == 0xff && second & 0x80 != 0))
        {
            return Err(CertIdError::Serial);
        }
        Ok(CertId {
            key_identifier,
            serial,
        })
    }
}

/// The keyIdentifier of a certificate's Authority Key Identifier extension (RFC 5280
/// §4.2.1.1), the first half of its RFC 9773 §4.1 certificate identifier.
pub fn authority_key_id(cert: &x509_parser::certificate::X509Certificate<'_>) -> Option<Vec<u8>> {
    use x509_parser::prelude::ParsedExtension;
    cert.extensions()
        .iter()
        .find_map(|ext| match ext.parsed_extension() {
            ParsedExtension::AuthorityKeyIdentifier(aki) => {
                aki.key_identifier.as_ref().map(|k| k.0.to_vec())
            }
            _ => None,
        })
}

/// The certificate identifier of a DER certificate (RFC 9773 §4.1): its AKI keyIdentifier and
/// its serial's content octets. `None` for a certificate that does not parse or has no AKI
/// keyIdentifier (RFC 9773 §4.1 needs one).
pub fn cert_id_of(der: &[u8]) -> Option<CertId> {
    use x509_parser::prelude::{FromDer, X509Certificate};
    let (_, cert) = X509Certificate::from_der(der).ok()?;
    let key_identifier = authority_key_id(&cert)?;
    Some(CertId {
        key_identifier,
        serial: cert.tbs_certificate.raw_serial().to_vec(),
    })
}

/// Checks a renewalInfo answer under ACME-40 (RFC 9773 §4.2: "suggestedWindow (object,
/// required): A JSON object with two keys, "start" and "end", whose values are timestamps,
/// encoded in the format specified in [RFC3339] ... The end timestamp MUST be after the start
/// timestamp").
pub fn check_renewal_info(body: &serde_json::Value) -> Findings {
    use time::OffsetDateTime;
    use time::format_description::well_known::Rfc3339;
    let mut out = Findings::new();
    let window = &body["suggestedWindow"];
    let at = |name: &str| {
        window[name]
            .as_str()
            .and_then(|t| OffsetDateTime::parse(t, &Rfc3339).ok())
    };
    match (at("start"), at("end")) {
        (Some(start), Some(end)) if end > start => {}
        (Some(_), Some(_)) => out.add(
            req::ACME_40,
            "a suggestedWindow whose end is after its start (RFC 9773 §4.2)",
            format!("suggestedWindow {window}"),
        ),
        _ => out.add(
            req::ACME_40,
            "a suggestedWindow with RFC 3339 start and end (RFC 9773 §4.2)",
            format!("suggestedWindow {window}"),
        ),
    }
    out
}

/// Checks the order a newOrder with `replaces` created under ACME-41 (RFC 9773 §5: the order
/// object carries "replaces (string, optional): A string uniquely identifying a previously-
/// issued certificate which this order is intended to replace"): it names `cert_id`.
pub fn check_replaces_reflected(order: &serde_json::Value, cert_id: &str) -> Findings {
    let mut out = Findings::new();
    if order["replaces"].as_str() != Some(cert_id) {
        out.add(
            req::ACME_41,
            format!("the order says it replaces {cert_id} (RFC 9773 §5)"),
            format!("replaces {}", order["replaces"]),
        );
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_rfc_example_round_trips() {
        // RFC 9773 §4.1 example: keyIdentifier 69:88:5B:6B:87:46:40:41:E1:B3:7B:84:7B:A0:AE:2C:
        // DE:01:C8:D4 and serial 00:87:65:43:21 give "aYhba4dGQEHhs3uEe6CuLN4ByNQ.AIdlQyE".
        let id = CertId::parse("aYhba4dGQEHhs3uEe6CuLN4ByNQ.AIdlQyE").unwrap();
        assert_eq!(
            id.key_identifier,
            [
                0x69, 0x88, 0x5B, 0x6B, 0x87, 0x46, 0x40, 0x41, 0xE1, 0xB3, 0x7B, 0x84, 0x7B, 0xA0,
                0xAE, 0x2C, 0xDE, 0x01, 0xC8, 0xD4
            ]
        );
        assert_eq!(id.serial, [0x00, 0x87, 0x65, 0x43, 0x21]);
        assert_eq!(id.encode(), "aYhba4dGQEHhs3uEe6CuLN4ByNQ.AIdlQyE");
    }

    #[test]
    fn malformed_identifiers_are_refused() {
        for (text, error) in [
            ("aYhba4dGQEHhs3uEe6CuLN4ByNQ", CertIdError::Shape),
            ("a.b.c", CertIdError::Shape),
            (".AIdlQyE", CertIdError::Encoding("AKI")),
            (
                "aYhba4dGQEHhs3uEe6CuLN4ByNQ=.AIdlQyE",
                CertIdError::Encoding("AKI"),
            ),
            (
                "aYhba4dGQEHhs3uEe6CuLN4ByNQ.",
                CertIdError::Encoding("serial"),
            ),
            (
                "aYhba4dGQEHhs3uEe6CuLN4ByNQ.AIdl+yE",
                CertIdError::Encoding("serial"),
            ),
            // 00 01: a leading zero octet before a positive octet is not DER.
            ("aYhba4dGQEHhs3uEe6CuLN4ByNQ.AAE", CertIdError::Serial),
        ] {
            assert_eq!(CertId::parse(text), Err(error), "{text}");
        }
    }

    #[test]
    fn renewal_windows_and_replaces_are_judged() {
        use serde_json::json;
        let good = json!({"suggestedWindow": {"start": "2026-12-06T00:00:00Z", "end": "2026-12-07T00:00:00+01:00"}});
        assert!(check_renewal_info(&good).is_empty());
        for bad in [
            json!({"suggestedWindow": {"start": "2026-12-07T00:00:00Z", "end": "2026-12-06T00:00:00Z"}}),
            json!({"suggestedWindow": {"start": "2026-12-06T00:00:00Z", "end": "2026-12-06T00:00:00Z"}}),
            json!({"suggestedWindow": {"start": "2026-12-06", "end": "2026-12-07T00:00:00Z"}}),
            json!({}),
        ] {
            assert_eq!(check_renewal_info(&bad).ids(), vec![req::ACME_40], "{bad}");
        }
        assert!(check_replaces_reflected(&json!({"replaces": "a.b"}), "a.b").is_empty());
        assert_eq!(
            check_replaces_reflected(&json!({}), "a.b").ids(),
            vec![req::ACME_41]
        );
    }
}
