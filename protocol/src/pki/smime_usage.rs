//! The one S/MIME key-usage type (RFC 8823 §3.3): what a CSR's KeyUsage request means, which
//! bits a certificate for it carries, and whether an issued certificate's bits fit it.
//!
//! The CA chooses the certificate's bits with it and refuses a CSR with it, the client builds
//! its CSR with it, the reference MUA checks the certificate it got with it, and the server and
//! client judges hold what they saw against it.

use std::fmt;

use super::csr::{CsrError, KeyAlgorithm};
use super::usage::KeyUsageBits;

/// RFC 8823 §3.3 signing bits: "digitalSignature and/or nonRepudiation".
pub const SIGNING_BITS: KeyUsageBits = KeyUsageBits::from_flags(
    KeyUsageBits::DIGITAL_SIGNATURE.flags() | KeyUsageBits::NON_REPUDIATION.flags(),
);
/// RFC 8823 §3.3 encryption bits: "keyEncipherment or keyAgreement".
pub const ENCRYPTION_BITS: KeyUsageBits = KeyUsageBits::from_flags(
    KeyUsageBits::KEY_ENCIPHERMENT.flags() | KeyUsageBits::KEY_AGREEMENT.flags(),
);

/// What an S/MIME certificate may be used for (RFC 8823 §3.3).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize)]
pub enum SmimeUsage {
    /// Signing only: digitalSignature, plus nonRepudiation if the CSR asked for it.
    SigningOnly {
        /// The CSR requested nonRepudiation.
        non_repudiation: bool,
    },
    /// Encryption only: keyEncipherment (RSA) or keyAgreement (EC).
    EncryptionOnly,
    /// Signing and encryption: both of the above.
    Both {
        /// The CSR requested nonRepudiation.
        non_repudiation: bool,
    },
}

impl Default for SmimeUsage {
    /// RFC 8823 §3.3: "absence of key usage extension in the CSR, signals to the ACME server to
    /// issue an S/MIME certificate suitable for both signing and encryption."
    fn default() -> Self {
        SmimeUsage::Both {
            non_repudiation: false,
        }
    }
}

/// Why a certificate cannot carry the usage asked for.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum UsageError {
    /// RFC 8410 §5: an Ed25519 key only signs.
    #[error("an Ed25519 key cannot encrypt (RFC 8410 §5): no encryption-only certificate")]
    KeyCannotEncrypt,
}

impl SmimeUsage {
    /// Signing only, without nonRepudiation.
    pub const SIGNING: SmimeUsage = SmimeUsage::SigningOnly {
        non_repudiation: false,
    };
    /// Signing and encryption, without nonRepudiation (what a CSR without KeyUsage asks).
    pub const BOTH: SmimeUsage = SmimeUsage::Both {
        non_repudiation: false,
    };

    /// RFC 8823 §3.3, exactly:
    /// - "In order to request signing-only S/MIME certificates, the CSR MUST include the key
    ///   usage extension with digitalSignature and/or nonRepudiation bits set and no other bits
    ///   set." (SMIME-55)
    /// - "In order to request encryption-only S/MIME certificates, the CSR MUST include the key
    ///   usage extension with keyEncipherment or keyAgreement bits set and no other bits set."
    ///   (SMIME-56)
    /// - "Presence of both of the above sets of key usage bits in the CSR, as well as absence of
    ///   the key usage extension in the CSR, signals to the ACME server to issue an S/MIME
    ///   certificate suitable for both signing and encryption." (SMIME-57)
    ///
    /// Any other bit (dataEncipherment, keyCertSign, …), or a KeyUsage with no bit at all
    /// (RFC 5280 §4.2.1.3: "at least one of the bits MUST be set to 1"), is an error.
    pub fn from_csr_key_usage(requested: Option<KeyUsageBits>) -> Result<SmimeUsage, CsrError> {
        let Some(bits) = requested else {
            return Ok(SmimeUsage::BOTH);
        };
        let extra = bits.without(SIGNING_BITS | ENCRYPTION_BITS);
        if !extra.is_empty() || bits.is_empty() {
            return Err(CsrError::KeyUsageNotAllowed {
                requested: bits,
                extra,
            });
        }
        Ok(SmimeUsage::read(Some(bits)))
    }

    /// What a KeyUsage (of a CSR or a certificate) says, without refusing any bit: only
    /// signing bits is signing-only, only encryption bits encryption-only, anything else (both,
    /// neither, or no extension) both.
    pub fn read(bits: Option<KeyUsageBits>) -> SmimeUsage {
        let Some(bits) = bits else {
            return SmimeUsage::BOTH;
        };
        let non_repudiation = bits.contains(KeyUsageBits::NON_REPUDIATION);
        match (
            bits.intersects(SIGNING_BITS),
            bits.intersects(ENCRYPTION_BITS),
        ) {
            (true, false) => SmimeUsage::SigningOnly { non_repudiation },
            (false, true) => SmimeUsage::EncryptionOnly,
            _ => SmimeUsage::Both { non_repudiation },
        }
    }

    /// Whether the usage signs.
    pub fn signs(self) -> bool {
        !matches!(self, SmimeUsage::EncryptionOnly)
    }

    /// Whether the usage encrypts.
    pub fn encrypts(self) -> bool {
        !matches!(self, SmimeUsage::SigningOnly { .. })
    }

    /// The KeyUsage a client puts in its CSR to ask for this usage; `None` (no extension) for
    /// signing and encryption without nonRepudiation, the way RFC 8823 §3.3 allows. Encryption
    /// is asked as keyEncipherment; the CA turns it into keyAgreement for an EC key.
    pub fn csr_request(self) -> Option<KeyUsageBits> {
        match self {
            SmimeUsage::Both {
                non_repudiation: false,
            } => None,
            other => other.key_usage(KeyAlgorithm::Rsa { bits: 2048 }).ok(),
        }
    }

    /// The KeyUsage bits of the certificate for a key of type `key`.
    ///
    /// Encryption is keyEncipherment for RSA (RFC 8550 §4.4.2, RFC 4055 §1.2) and
    /// keyAgreement for EC (RFC 5480 §3). Ed25519 can only sign (RFC 8410 §5), so
    /// `EncryptionOnly` is refused and `Both` gives the signing bits only.
    pub fn key_usage(self, key: KeyAlgorithm) -> Result<KeyUsageBits, UsageError> {
        let non_repudiation = matches!(
            self,
            SmimeUsage::SigningOnly {
                non_repudiation: true
            } | SmimeUsage::Both {
                non_repudiation: true
            }
        );
        let mut bits = KeyUsageBits::EMPTY;
        if self.signs() {
            bits = bits | KeyUsageBits::DIGITAL_SIGNATURE;
            if non_repudiation {
                bits = bits | KeyUsageBits::NON_REPUDIATION;
            }
        }
        if self.encrypts() {
            bits = bits
                | match key {
                    KeyAlgorithm::Rsa { .. } => KeyUsageBits::KEY_ENCIPHERMENT,
                    KeyAlgorithm::EcP256 | KeyAlgorithm::EcP384 => KeyUsageBits::KEY_AGREEMENT,
                    KeyAlgorithm::Ed25519 if self.signs() => KeyUsageBits::EMPTY,
                    KeyAlgorithm::Ed25519 => return Err(UsageError::KeyCannotEncrypt),
                };
        }
        Ok(bits)
    }

    /// Whether a certificate with keyUsage `got` (`None`: no extension) serves exactly this
    /// usage: it signs if and only if signing was asked, and encrypts if and only if encryption
    /// was. A certificate without keyUsage may be used for anything (RFC 5280 §4.2.1.3), so it
    /// fits only signing and encryption.
    pub fn fits(self, got: Option<KeyUsageBits>) -> bool {
        match got {
            None => self.signs() && self.encrypts(),
            Some(bits) => {
                bits.intersects(SIGNING_BITS) == self.signs()
                    && bits.intersects(ENCRYPTION_BITS) == self.encrypts()
            }
        }
    }
}

impl fmt::Display for SmimeUsage {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            SmimeUsage::Both {
                non_repudiation: false,
            } => "signing and encryption (no keyUsage in the CSR)",
            SmimeUsage::Both {
                non_repudiation: true,
            } => "signing (with nonRepudiation) and encryption",
            SmimeUsage::SigningOnly {
                non_repudiation: false,
            } => "signing only (digitalSignature)",
            SmimeUsage::SigningOnly {
                non_repudiation: true,
            } => "signing only (digitalSignature, nonRepudiation)",
            SmimeUsage::EncryptionOnly => "encryption only (keyEncipherment)",
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const DS: KeyUsageBits = KeyUsageBits::DIGITAL_SIGNATURE;
    const NR: KeyUsageBits = KeyUsageBits::NON_REPUDIATION;
    const KE: KeyUsageBits = KeyUsageBits::KEY_ENCIPHERMENT;
    const KA: KeyUsageBits = KeyUsageBits::KEY_AGREEMENT;

    #[test]
    fn rfc8823_3_3_usage_choice() {
        use SmimeUsage::*;
        let ok = |bits| SmimeUsage::from_csr_key_usage(bits).unwrap();
        assert_eq!(
            ok(None),
            Both {
                non_repudiation: false
            }
        );
        assert_eq!(
            ok(Some(DS)),
            SigningOnly {
                non_repudiation: false
            }
        );
        assert_eq!(
            ok(Some(NR)),
            SigningOnly {
                non_repudiation: true
            }
        );
        assert_eq!(
            ok(Some(DS | NR)),
            SigningOnly {
                non_repudiation: true
            }
        );
        assert_eq!(ok(Some(KE)), EncryptionOnly);
        assert_eq!(ok(Some(KA)), EncryptionOnly);
        assert_eq!(ok(Some(KE | KA)), EncryptionOnly);
        assert_eq!(
            ok(Some(DS | KE)),
            Both {
                non_repudiation: false
            }
        );
        assert_eq!(
            ok(Some(DS | NR | KA)),
            Both {
                non_repudiation: true
            }
        );
    }

    #[test]
    fn rfc8823_3_3_other_bits_are_refused() {
        for extra in [
            KeyUsageBits::DATA_ENCIPHERMENT,
            KeyUsageBits::KEY_CERT_SIGN,
            KeyUsageBits::CRL_SIGN,
            KeyUsageBits::ENCIPHER_ONLY,
            KeyUsageBits::DECIPHER_ONLY,
        ] {
            let err = SmimeUsage::from_csr_key_usage(Some(DS | extra)).unwrap_err();
            assert!(matches!(err, CsrError::KeyUsageNotAllowed { extra: e, .. } if e == extra));
            assert!(err.to_string().contains("not allowed"), "{err}");
        }
        assert!(SmimeUsage::from_csr_key_usage(Some(KeyUsageBits::EMPTY)).is_err());
    }

    #[test]
    fn certificate_bits_per_key_type() {
        let rsa = KeyAlgorithm::Rsa { bits: 2048 };
        let both = SmimeUsage::BOTH;
        assert_eq!(both.key_usage(rsa).unwrap(), DS | KE);
        assert_eq!(both.key_usage(KeyAlgorithm::EcP256).unwrap(), DS | KA);
        assert_eq!(both.key_usage(KeyAlgorithm::Ed25519).unwrap(), DS);
        assert_eq!(
            SmimeUsage::EncryptionOnly.key_usage(KeyAlgorithm::Ed25519),
            Err(UsageError::KeyCannotEncrypt)
        );
        assert_eq!(SmimeUsage::EncryptionOnly.key_usage(rsa).unwrap(), KE);
        let sign_nr = SmimeUsage::SigningOnly {
            non_repudiation: true,
        };
        assert_eq!(sign_nr.key_usage(KeyAlgorithm::EcP384).unwrap(), DS | NR);
    }

    #[test]
    fn csr_requests_round_trip() {
        for usage in [
            SmimeUsage::BOTH,
            SmimeUsage::SIGNING,
            SmimeUsage::EncryptionOnly,
            SmimeUsage::Both {
                non_repudiation: true,
            },
        ] {
            assert_eq!(
                SmimeUsage::from_csr_key_usage(usage.csr_request()),
                Ok(usage)
            );
        }
        assert_eq!(SmimeUsage::BOTH.csr_request(), None);
        assert_eq!(SmimeUsage::SIGNING.csr_request(), Some(DS));
        assert_eq!(SmimeUsage::EncryptionOnly.csr_request(), Some(KE));
    }

    #[test]
    fn fits_fires_on_the_wrong_bits_and_is_quiet_on_the_right_ones() {
        assert!(SmimeUsage::SIGNING.fits(Some(DS | NR)));
        assert!(!SmimeUsage::SIGNING.fits(Some(DS | KE)));
        assert!(!SmimeUsage::SIGNING.fits(None));
        assert!(!SmimeUsage::SIGNING.fits(Some(KeyUsageBits::EMPTY)));
        assert!(SmimeUsage::EncryptionOnly.fits(Some(KA)));
        assert!(!SmimeUsage::EncryptionOnly.fits(Some(DS)));
        assert!(SmimeUsage::BOTH.fits(Some(DS | KA)));
        assert!(SmimeUsage::BOTH.fits(None));
        assert!(!SmimeUsage::BOTH.fits(Some(KE)));
        assert!(!SmimeUsage::BOTH.fits(Some(KeyUsageBits::EMPTY)));
    }
}
