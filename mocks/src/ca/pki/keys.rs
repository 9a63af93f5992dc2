//! Seeded key pairs and serial numbers: a world replayed with the same seed has the same CA
//! keys, the same TLS keys and the same serials (ECDSA signatures themselves stay randomized).

use std::sync::OnceLock;

use openssl::bn::{BigNum, BigNumContext};
use openssl::ec::{EcGroup, EcKey, EcPoint};
use openssl::error::ErrorStack;
use openssl::nid::Nid;
use openssl::pkey::PKey;
use rcgen::KeyPair;

use super::PkiError;
use crate::seed::SeededRng;

/// Octets in a certificate serial number (RFC 5280 §4.1.2.2: at most 20; CA/B Forum BRs
/// §7.1: at least 64 bits from a CSPRNG).
pub const SERIAL_OCTETS: usize = 16;

/// An ECDSA P-256 key pair whose private scalar comes from `rng`.
///
/// FIPS 186-5 §A.2.1 ("extra random bits"): draw 64 bits more than the order, then
/// `d = (c mod (n − 1)) + 1`, so `1 ≤ d < n` with negligible bias. OpenSSL computes the public
/// point and writes PKCS#8 (RFC 5208, with RFC 5915 ECPrivateKey); rcgen/ring load it.
pub(crate) fn derive_p256(rng: &SeededRng) -> Result<KeyPair, PkiError> {
    p256_from(&p256_input(rng))
}

/// The curves whose OpenSSL groups [`named_group`] keeps.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Curve {
    P256,
    P384,
    P521,
}

/// OpenSSL's group for `curve`, built once per process: OpenSSL 3 looks a named curve up in
/// its provider tables and sets it up on every `EC_GROUP_new_by_curve_name`, which `perf`
/// showed costing a third as much as the key derivation it served.
pub(crate) fn named_group(curve: Curve) -> Result<&'static EcGroup, ErrorStack> {
    static GROUPS: [OnceLock<EcGroup>; 3] = [OnceLock::new(), OnceLock::new(), OnceLock::new()];
    let (cell, nid) = match curve {
        Curve::P256 => (&GROUPS[0], Nid::X9_62_PRIME256V1),
        Curve::P384 => (&GROUPS[1], Nid::SECP384R1),
        Curve::P521 => (&GROUPS[2], Nid::SECP521R1),
    };
    if let Some(group) = cell.get() {
        return Ok(group);
    }
    let group = EcGroup::from_curve_name(nid)?;
    Ok(cell.get_or_init(|| group))
}

/// The octets [`derive_p256`] draws from `rng`: 64 bits more than P-256's order.
pub(crate) fn p256_input(rng: &SeededRng) -> Vec<u8> {
    rng.bytes(32 + 8)
}

/// The key [`derive_p256`] derives from `input` (drawn by [`p256_input`]).
pub(crate) fn p256_from(input: &[u8]) -> Result<KeyPair, PkiError> {
    let group = named_group(Curve::P256)?;
    let mut ctx = BigNumContext::new()?;
    let mut order = BigNum::new()?;
    group.order(&mut order, &mut ctx)?;
    let mut n_minus_1 = order.to_owned()?;
    n_minus_1.sub_word(1)?;
    let c = BigNum::from_slice(input)?;
    let mut d = BigNum::new()?;
    d.nnmod(&c, &n_minus_1, &mut ctx)?;
    d.add_word(1)?;
    let mut public = EcPoint::new(group)?;
    public.mul_generator2(group, &d, &mut ctx)?;
    // 1 <= d <= n-1 by construction, so d·G is a point of the curve other than infinity:
    // OpenSSL's `check_key` would recompute d·G only to find the same point.
    let ec = EcKey::from_private_components(group, &d, &public)?;
    let pkcs8 = PKey::from_ec_key(ec)?.private_key_to_pkcs8()?;
    Ok(KeyPair::try_from(pkcs8.as_slice())?)
}

/// A positive serial of [`SERIAL_OCTETS`] octets whose DER INTEGER needs no padding octet: the
/// top bit is cleared (RFC 5280 §4.1.2.2: "MUST be a positive integer") and a zero first
/// octet is replaced by 1 so the length stays fixed.
pub(crate) fn serial(rng: &SeededRng) -> Vec<u8> {
    let mut bytes = rng.bytes(SERIAL_OCTETS);
    if let Some(first) = bytes.first_mut() {
        *first = (*first & 0x7f).max(1);
    }
    bytes
}

/// Lowercase hex, no separators.
pub(crate) fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::seed::Seed;
    use rcgen::PublicKeyData as _;

    #[test]
    fn each_curve_has_one_group_of_its_own() {
        for (curve, nid) in [
            (Curve::P256, Nid::X9_62_PRIME256V1),
            (Curve::P384, Nid::SECP384R1),
            (Curve::P521, Nid::SECP521R1),
        ] {
            let group = named_group(curve).unwrap();
            assert_eq!(group.curve_name(), Some(nid));
            assert!(std::ptr::eq(group, named_group(curve).unwrap()));
        }
    }

    #[test]
    fn same_stream_same_key_other_stream_other_key() {
        let a = derive_p256(&Seed(1).stream("k")).unwrap();
        let b = derive_p256(&Seed(1).stream("k")).unwrap();
        let c = derive_p256(&Seed(2).stream("k")).unwrap();
        assert_eq!(a.der_bytes(), b.der_bytes());
        assert_ne!(a.der_bytes(), c.der_bytes());
        assert!(a.is_compatible(&rcgen::PKCS_ECDSA_P256_SHA256));
    }

    #[test]
    fn serials_are_positive_fixed_length_and_distinct() {
        let rng = Seed(5).stream("serial");
        let serials: Vec<Vec<u8>> = (0..200).map(|_| serial(&rng)).collect();
        for s in &serials {
            assert_eq!(s.len(), SERIAL_OCTETS);
            assert!(s[0] & 0x80 == 0 && s[0] != 0, "{}", hex(s));
        }
        let unique: std::collections::BTreeSet<_> = serials.iter().collect();
        assert_eq!(unique.len(), serials.len());
    }
}
