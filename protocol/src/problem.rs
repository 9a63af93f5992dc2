//! RFC 8555 §6.7 problem types: `urn:ietf:params:acme:error:` followed by a short name
//! (`badNonce`, `malformed`, …). Reports and scenario files use the short name.

/// The namespace of the ACME error types (RFC 8555 §6.7, §9.7.4).
pub const ACME_ERROR_PREFIX: &str = "urn:ietf:params:acme:error:";

/// The short name of an ACME error type (`badNonce` for
/// `urn:ietf:params:acme:error:badNonce`); any other type comes back as given, trimmed.
pub fn short_type(problem_type: &str) -> &str {
    let t = problem_type.trim();
    t.strip_prefix(ACME_ERROR_PREFIX).unwrap_or(t)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn acme_types_lose_the_namespace_and_others_stay() {
        assert_eq!(
            short_type("urn:ietf:params:acme:error:badNonce"),
            "badNonce"
        );
        assert_eq!(short_type(" malformed "), "malformed");
        assert_eq!(short_type("about:blank"), "about:blank");
        assert_eq!(short_type("urn:example:error:x"), "urn:example:error:x");
    }
}
