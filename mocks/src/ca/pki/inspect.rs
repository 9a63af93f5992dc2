//! Chain verification of an issued certificate (machinery: signatures and issuer links). The
//! certificate's readable facts are `acmeproof_protocol::pki::CertSummary`.

use acmeproof_protocol::pki::cert::{InspectError, parse};
use x509_parser::certificate::X509Certificate;

/// Verifies leaf → intermediate → root: each issuer name equals the issuing subject, each
/// issuer is a CA (RFC 5280 §4.2.1.9), each signature verifies with the issuer's key, and the
/// root is self-signed. Validity periods are not checked (they depend on whose clock).
pub fn verify_chain(
    leaf_der: &[u8],
    intermediate_der: &[u8],
    root_der: &[u8],
) -> Result<(), InspectError> {
    let leaf = parse(leaf_der, "leaf")?;
    let int = parse(intermediate_der, "intermediate")?;
    let root = parse(root_der, "root")?;
    link(&leaf, "leaf", &int, "intermediate")?;
    link(&int, "intermediate", &root, "root")?;
    link(&root, "root", &root, "root")?;
    Ok(())
}

fn link(
    child: &X509Certificate<'_>,
    child_name: &str,
    issuer: &X509Certificate<'_>,
    issuer_name: &str,
) -> Result<(), InspectError> {
    if child.issuer().as_raw() != issuer.subject().as_raw() {
        return Err(InspectError::Chain(format!(
            "{child_name} issuer \"{}\" is not the {issuer_name} subject \"{}\"",
            child.issuer(),
            issuer.subject()
        )));
    }
    let is_ca = matches!(issuer.basic_constraints(), Ok(Some(bc)) if bc.value.ca);
    if !is_ca {
        return Err(InspectError::Chain(format!("{issuer_name} is not a CA")));
    }
    child
        .verify_signature(Some(issuer.public_key()))
        .map_err(|e| {
            InspectError::Chain(format!(
                "{child_name} signature does not verify with the {issuer_name} key: {e}"
            ))
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn garbage_is_an_error_naming_the_certificate() {
        let err = verify_chain(b"", b"", b"").unwrap_err();
        assert!(err.to_string().starts_with("leaf:"), "{err}");
    }
}
