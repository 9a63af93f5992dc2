//! ARI, ACME Renewal Information (RFC 9773): the certificate identifier that names a
//! certificate in a `renewalInfo` URL and in newOrder's `replaces` (ACME-40, ACME-41).
//!
//! RFC 9773 §4.1: "The unique identifier is constructed by concatenating the base64url-encoded
//! [RFC4648] bytes of the keyIdentifier field of the certificate's Authority Key Identifier
//! (AKI) [RFC5280] extension, the period character ".", and the base64url-encoded bytes of the
//! DER encoding of the certificate's Serial Number (without the tag and length bytes). All
//! trailing "=" characters MUST be stripped from both parts of the unique identifier."

use crate::b64url;

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
}
