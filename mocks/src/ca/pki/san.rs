//! subjectAltName building (RFC 5280 §4.2.1.6).
//!
//! rcgen writes dNSName, rfc822Name, iPAddress and UTF8String otherNames (SmtpUTF8Mailbox,
//! RFC 8398 §3) itself. It cannot write an IA5String otherName, so a SAN with an SRVName
//! (RFC 4985 §2) is built here with yasna and added as one custom extension; rcgen's own
//! `subject_alt_names` then stays empty, or the certificate would carry two SAN extensions
//! (RFC 5280 §4.2: "A certificate MUST NOT include more than one instance of a particular
//! extension").

use rcgen::{CertificateParams, CustomExtension, OtherNameValue, SanType};
use yasna::Tag;
use yasna::models::ObjectIdentifier;

use super::PkiError;
use acmeproof_protocol::pki::{OID_SMTP_UTF8_MAILBOX, OID_SRV_NAME, SanName};

/// id-ce-subjectAltName, 2.5.29.17.
const OID_SUBJECT_ALT_NAME: &[u64] = &[2, 5, 29, 17];

/// Puts `names` into `params` as its single SAN extension.
///
/// RFC 5280 §4.2.1.6: "If the subject field contains an empty sequence, then the issuing CA
/// MUST include a subjectAltName extension that is marked as critical." rcgen applies this
/// rule itself; the hand-built extension applies it here. Call after the subject is final.
pub(crate) fn apply_sans(
    params: &mut CertificateParams,
    names: &[SanName],
) -> Result<(), PkiError> {
    if names.is_empty() {
        return Err(PkiError::Profile(
            "a certificate needs at least one subjectAltName".into(),
        ));
    }
    if names.iter().any(|n| matches!(n, SanName::SrvName(_))) {
        let critical = params.distinguished_name.iter().next().is_none();
        let mut ext = CustomExtension::from_oid_content(OID_SUBJECT_ALT_NAME, san_der(names)?);
        ext.set_criticality(critical);
        params.subject_alt_names.clear();
        params.custom_extensions.push(ext);
        return Ok(());
    }
    params.subject_alt_names = names.iter().map(rcgen_san).collect::<Result<_, _>>()?;
    Ok(())
}

fn rcgen_san(name: &SanName) -> Result<SanType, PkiError> {
    let ia5 = |s: &str| {
        rcgen::string::Ia5String::try_from(s)
            .map_err(|_| PkiError::Profile(format!("{s:?} is not an IA5String")))
    };
    Ok(match name {
        SanName::Dns(v) => SanType::DnsName(ia5(v)?),
        SanName::Rfc822(v) => SanType::Rfc822Name(ia5(v)?),
        SanName::Ip(ip) => SanType::IpAddress(*ip),
        SanName::SmtpUtf8Mailbox(v) => SanType::OtherName((
            OID_SMTP_UTF8_MAILBOX.to_vec(),
            OtherNameValue::Utf8String(v.clone()),
        )),
        SanName::SrvName(_) | SanName::Other(_) => {
            return Err(PkiError::Profile(format!("rcgen cannot encode {name}")));
        }
    })
}

/// DER of `GeneralNames ::= SEQUENCE SIZE (1..MAX) OF GeneralName` (RFC 5280 §4.2.1.6):
///
/// ```text
/// GeneralName ::= CHOICE {
///      otherName     [0] IMPLICIT OtherName,   -- SEQUENCE { type-id OID, value [0] EXPLICIT ANY }
///      rfc822Name    [1] IMPLICIT IA5String,
///      dNSName       [2] IMPLICIT IA5String,
///      iPAddress     [7] IMPLICIT OCTET STRING }
/// ```
pub(crate) fn san_der(names: &[SanName]) -> Result<Vec<u8>, PkiError> {
    for name in names {
        let ascii_only = match name {
            SanName::Dns(v) | SanName::Rfc822(v) | SanName::SrvName(v) => v.is_ascii(),
            SanName::SmtpUtf8Mailbox(_) | SanName::Ip(_) => true,
            SanName::Other(_) => {
                return Err(PkiError::Profile(format!("cannot encode {name}")));
            }
        };
        if !ascii_only {
            return Err(PkiError::Profile(format!("{name} is not an IA5String")));
        }
    }
    Ok(yasna::construct_der(|w| {
        w.write_sequence_of(|w| {
            for name in names {
                let w = w.next();
                match name {
                    SanName::Rfc822(v) => {
                        w.write_tagged_implicit(Tag::context(1), |w| w.write_ia5_string(v))
                    }
                    SanName::Dns(v) => {
                        w.write_tagged_implicit(Tag::context(2), |w| w.write_ia5_string(v))
                    }
                    SanName::Ip(ip) => w.write_tagged_implicit(Tag::context(7), |w| match ip {
                        std::net::IpAddr::V4(a) => w.write_bytes(&a.octets()),
                        std::net::IpAddr::V6(a) => w.write_bytes(&a.octets()),
                    }),
                    SanName::SrvName(v) => other_name(w, OID_SRV_NAME, |w| w.write_ia5_string(v)),
                    SanName::SmtpUtf8Mailbox(v) => {
                        other_name(w, OID_SMTP_UTF8_MAILBOX, |w| w.write_utf8_string(v))
                    }
                    // Rejected above.
                    SanName::Other(_) => w.write_null(),
                }
            }
        })
    }))
}

fn other_name(w: yasna::DERWriter<'_>, oid: &[u64], value: impl FnOnce(yasna::DERWriter<'_>)) {
    w.write_tagged_implicit(Tag::context(0), |w| {
        w.write_sequence(|w| {
            w.next().write_oid(&ObjectIdentifier::from_slice(oid));
            w.next().write_tagged(Tag::context(0), value);
        })
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn hex(bytes: &[u8]) -> String {
        bytes.iter().map(|b| format!("{b:02X}")).collect()
    }

    #[test]
    fn srv_name_der_matches_the_digest_vector() {
        // Computed, and checked with openssl asn1parse: the otherName for
        // `_imaps.example.net`, inside a one-element GeneralNames SEQUENCE (30 22).
        let der = san_der(&[SanName::SrvName("_imaps.example.net".into())]).unwrap();
        assert_eq!(
            hex(&der),
            "3022A02006082B06010505070807A01416125F696D6170732E6578616D706C652E6E6574"
        );
    }

    #[test]
    fn smtp_utf8_mailbox_der_matches_the_digest_vector() {
        // The corrected RFC 8398 Appendix B example (`老師@example.com`).
        let der = san_der(&[SanName::SmtpUtf8Mailbox("老師@example.com".into())]).unwrap();
        assert_eq!(
            hex(&der),
            "3022A02006082B06010505070809A0140C12E88081E5B8AB406578616D706C652E636F6D"
        );
    }

    #[test]
    fn rfc822_der_matches_the_digest_vector() {
        // RFC 8823's example address as an rfc822Name: `alexey@example.com`.
        let der = san_der(&[SanName::Rfc822("alexey@example.com".into())]).unwrap();
        assert_eq!(hex(&der), "30148112616C65786579406578616D706C652E636F6D");
    }

    #[test]
    fn non_ascii_ia5_and_other_are_refused() {
        assert!(san_der(&[SanName::Dns("bücher.example".into())]).is_err());
        assert!(san_der(&[SanName::Other("uri:x".into())]).is_err());
        assert!(san_der(&[SanName::Dns("ok.example".into())]).is_ok());
    }
}
