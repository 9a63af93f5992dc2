//! KeyUsage bits (RFC 5280 §4.2.1.3), as requested in a CSR and as written into a certificate.

use std::fmt;

/// A set of RFC 5280 §4.2.1.3 KeyUsage bits. Bit `n` of the inner value is KeyUsage bit `n`
/// (`digitalSignature (0)` … `decipherOnly (8)`), the order x509-parser uses.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct KeyUsageBits(u16);

/// Bit names in RFC 5280 §4.2.1.3 order (the ASN.1 identifiers).
const NAMES: [&str; 9] = [
    "digitalSignature",
    "nonRepudiation",
    "keyEncipherment",
    "dataEncipherment",
    "keyAgreement",
    "keyCertSign",
    "cRLSign",
    "encipherOnly",
    "decipherOnly",
];

impl KeyUsageBits {
    /// No bit set.
    pub const EMPTY: KeyUsageBits = KeyUsageBits(0);
    /// `digitalSignature (0)`.
    pub const DIGITAL_SIGNATURE: KeyUsageBits = KeyUsageBits(1);
    /// `nonRepudiation (1)` (renamed contentCommitment in X.509).
    pub const NON_REPUDIATION: KeyUsageBits = KeyUsageBits(1 << 1);
    /// `keyEncipherment (2)`.
    pub const KEY_ENCIPHERMENT: KeyUsageBits = KeyUsageBits(1 << 2);
    /// `dataEncipherment (3)`.
    pub const DATA_ENCIPHERMENT: KeyUsageBits = KeyUsageBits(1 << 3);
    /// `keyAgreement (4)`.
    pub const KEY_AGREEMENT: KeyUsageBits = KeyUsageBits(1 << 4);
    /// `keyCertSign (5)`.
    pub const KEY_CERT_SIGN: KeyUsageBits = KeyUsageBits(1 << 5);
    /// `cRLSign (6)`.
    pub const CRL_SIGN: KeyUsageBits = KeyUsageBits(1 << 6);
    /// `encipherOnly (7)`.
    pub const ENCIPHER_ONLY: KeyUsageBits = KeyUsageBits(1 << 7);
    /// `decipherOnly (8)`.
    pub const DECIPHER_ONLY: KeyUsageBits = KeyUsageBits(1 << 8);

    /// From x509-parser's `KeyUsage::flags` (bit `n` = KeyUsage bit `n`).
    pub const fn from_flags(flags: u16) -> KeyUsageBits {
        KeyUsageBits(flags)
    }

    /// The raw flags (bit `n` = KeyUsage bit `n`).
    pub const fn flags(self) -> u16 {
        self.0
    }

    /// True if every bit of `other` is set here.
    pub fn contains(self, other: KeyUsageBits) -> bool {
        self.0 & other.0 == other.0
    }

    /// True if any bit of `other` is set here.
    pub fn intersects(self, other: KeyUsageBits) -> bool {
        self.0 & other.0 != 0
    }

    /// The bits set here and not in `other`.
    pub fn without(self, other: KeyUsageBits) -> KeyUsageBits {
        KeyUsageBits(self.0 & !other.0)
    }

    /// True if no bit is set.
    pub fn is_empty(self) -> bool {
        self.0 == 0
    }

    /// The ASN.1 names of the bits set, in bit order (bits above 8 appear as `bitN`).
    pub fn names(self) -> Vec<String> {
        (0..16)
            .filter(|bit| self.0 & (1 << bit) != 0)
            .map(|bit| match NAMES.get(bit) {
                Some(name) => (*name).to_owned(),
                None => format!("bit{bit}"),
            })
            .collect()
    }
}

impl std::ops::BitOr for KeyUsageBits {
    type Output = KeyUsageBits;

    fn bitor(self, rhs: KeyUsageBits) -> KeyUsageBits {
        KeyUsageBits(self.0 | rhs.0)
    }
}

impl std::ops::BitAnd for KeyUsageBits {
    type Output = KeyUsageBits;

    fn bitand(self, rhs: KeyUsageBits) -> KeyUsageBits {
        KeyUsageBits(self.0 & rhs.0)
    }
}

impl fmt::Display for KeyUsageBits {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.is_empty() {
            return f.write_str("(none)");
        }
        f.write_str(&self.names().join(", "))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_follow_rfc5280_bit_order() {
        let ku = KeyUsageBits::KEY_AGREEMENT | KeyUsageBits::DIGITAL_SIGNATURE;
        assert_eq!(ku.names(), ["digitalSignature", "keyAgreement"]);
        assert_eq!(ku.to_string(), "digitalSignature, keyAgreement");
        assert_eq!(KeyUsageBits::EMPTY.to_string(), "(none)");
    }

    #[test]
    fn set_operations() {
        let ku = KeyUsageBits::DIGITAL_SIGNATURE | KeyUsageBits::KEY_ENCIPHERMENT;
        assert!(ku.contains(KeyUsageBits::DIGITAL_SIGNATURE));
        assert!(!ku.contains(KeyUsageBits::DIGITAL_SIGNATURE | KeyUsageBits::KEY_AGREEMENT));
        assert!(ku.intersects(KeyUsageBits::KEY_ENCIPHERMENT | KeyUsageBits::KEY_AGREEMENT));
        assert_eq!(
            ku.without(KeyUsageBits::DIGITAL_SIGNATURE),
            KeyUsageBits::KEY_ENCIPHERMENT
        );
    }
}
