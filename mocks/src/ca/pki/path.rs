//! RFC 5280 §6 path validation of an issued chain, by rustls-webpki (the validator rustls uses):
//! signatures, validity at a given time, basic constraints, name constraints and the extended
//! key usage the certificate is for.
//!
//! The trust anchors are what the tester knows: the roots of the CA under test
//! (`--server-root`), the world's own root, or nothing. With nothing, the chain is checked up to
//! its own top certificate, which stands in for the root: every link is verified, but not that
//! the top is trusted, and the report says so.

use rustls_pki_types::{CertificateDer, UnixTime};
use time::OffsetDateTime;
use webpki::{EndEntityCert, KeyUsage, anchor_from_trusted_cert};

/// What the chain is validated up to.
#[derive(Debug, Clone, Copy)]
pub enum TrustAnchors<'a> {
    /// One root (DER).
    Root(&'a [u8]),
    /// Any of these roots (DER).
    Roots(&'a [Vec<u8>]),
    /// No root is known: the chain's last certificate stands in for one.
    OwnTop,
}

impl<'a> From<&'a [u8]> for TrustAnchors<'a> {
    fn from(root: &'a [u8]) -> Self {
        TrustAnchors::Root(root)
    }
}

impl<'a> From<Option<&'a [u8]>> for TrustAnchors<'a> {
    /// A root when one is known, else the chain's own top.
    fn from(root: Option<&'a [u8]>) -> Self {
        root.map_or(TrustAnchors::OwnTop, TrustAnchors::Root)
    }
}

/// What the end-entity certificate is for (RFC 5280 §4.2.1.12). webpki applies it to every
/// certificate of the path, so an extendedKeyUsage that is present must include the purpose; an
/// absent one passes (CA certificates rarely carry one). Whether the leaf must carry the
/// extension is the certificate profile's rule, checked with the profile.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Purpose {
    /// id-kp-emailProtection: an S/MIME certificate (RFC 8823 §3.3, RFC 8550 §4.4.4).
    EmailProtection,
    /// id-kp-serverAuth: a TLS server certificate.
    ServerAuth,
    /// No extended key usage is asked of the path: the certificate profile judges it (RFC 7817
    /// §4 says nothing of EKU, so for an email-tls certificate it is a policy question).
    Any,
}

/// The extended-key-usage check for [`Purpose::Any`]: every value, or none, passes.
struct AnyUsage;

impl webpki::ExtendedKeyUsageValidator for AnyUsage {
    fn validate(&self, _: webpki::KeyPurposeIdIter<'_, '_>) -> Result<(), webpki::Error> {
        Ok(())
    }
}

/// id-kp-emailProtection, 1.3.6.1.5.5.7.3.4, as DER content octets.
const EKU_EMAIL_PROTECTION: &[u8] = &[0x2b, 0x06, 0x01, 0x05, 0x05, 0x07, 0x03, 0x04];

/// Validates `chain` (the leaf first, then the certificates the CA sent with it, in any order)
/// up to `anchors` for `purpose` at `at`. The error says why, in webpki's words.
pub fn validate_path(
    chain: &[Vec<u8>],
    anchors: TrustAnchors<'_>,
    purpose: Purpose,
    at: OffsetDateTime,
) -> Result<(), String> {
    let Some((leaf, rest)) = chain.split_first() else {
        return Err("the chain holds no certificate".into());
    };
    let (intermediates, anchor_ders): (Vec<CertificateDer<'_>>, Vec<CertificateDer<'_>>) =
        match anchors {
            TrustAnchors::Root(root) => (
                rest.iter()
                    .map(|c| CertificateDer::from(c.as_slice()))
                    .collect(),
                vec![CertificateDer::from(root)],
            ),
            TrustAnchors::Roots(roots) => (
                rest.iter()
                    .map(|c| CertificateDer::from(c.as_slice()))
                    .collect(),
                roots
                    .iter()
                    .map(|c| CertificateDer::from(c.as_slice()))
                    .collect(),
            ),
            TrustAnchors::OwnTop => match rest.split_last() {
                // A leaf alone has nothing above it to check against.
                None => return Ok(()),
                Some((top, between)) => (
                    between
                        .iter()
                        .map(|c| CertificateDer::from(c.as_slice()))
                        .collect(),
                    vec![CertificateDer::from(top.as_slice())],
                ),
            },
        };
    let trust: Vec<_> = anchor_ders
        .iter()
        .map(|der| anchor_from_trusted_cert(der).map_err(|e| format!("a root: {e}")))
        .collect::<Result<_, _>>()?;
    let leaf = CertificateDer::from(leaf.as_slice());
    let end_entity = EndEntityCert::try_from(&leaf).map_err(|e| format!("the leaf: {e}"))?;
    let time = UnixTime::since_unix_epoch(std::time::Duration::from_secs(
        u64::try_from(at.unix_timestamp()).unwrap_or(0),
    ));
    let algorithms = crate::ring_provider().signature_verification_algorithms.all;
    let verified = match purpose {
        Purpose::EmailProtection => end_entity.verify_for_usage(
            algorithms,
            &trust,
            &intermediates,
            time,
            KeyUsage::required_if_present(EKU_EMAIL_PROTECTION),
            None,
            None,
        ),
        Purpose::ServerAuth => end_entity.verify_for_usage(
            algorithms,
            &trust,
            &intermediates,
            time,
            KeyUsage::server_auth(),
            None,
            None,
        ),
        Purpose::Any => end_entity.verify_for_usage(
            algorithms,
            &trust,
            &intermediates,
            time,
            AnyUsage,
            None,
            None,
        ),
    };
    verified
        .map(|_| ())
        .map_err(|e| format!("RFC 5280 path validation: {e:?}"))
}
