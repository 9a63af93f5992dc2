//! RFC 8555 §6.7 problem documents (RFC 7807): the one way the CA says no.
//!
//! ACME-30: only error types registered in the ACME URN namespace are used with that prefix;
//! the enum is the registry, so an unregistered type cannot be written. RFC 9773 §7.4 adds
//! `alreadyReplaced` to it.

use serde::Serialize;
use serde_json::Value;

/// The `urn:ietf:params:acme:error:` types of the IANA registry (RFC 8555 §6.7, §9.7.4; RFC
/// 9773 §7.4).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[allow(missing_docs)]
pub enum ProblemType {
    AccountDoesNotExist,
    /// RFC 9773 §7.4.
    AlreadyReplaced,
    AlreadyRevoked,
    BadCsr,
    BadNonce,
    BadPublicKey,
    BadRevocationReason,
    BadSignatureAlgorithm,
    Caa,
    Compound,
    Connection,
    Dns,
    ExternalAccountRequired,
    IncorrectResponse,
    InvalidContact,
    Malformed,
    OrderNotReady,
    RateLimited,
    RejectedIdentifier,
    ServerInternal,
    Tls,
    Unauthorized,
    UnsupportedContact,
    UnsupportedIdentifier,
    UserActionRequired,
}

impl ProblemType {
    /// The registry name, e.g. `badNonce`.
    pub fn name(self) -> &'static str {
        use ProblemType::*;
        match self {
            AccountDoesNotExist => "accountDoesNotExist",
            AlreadyReplaced => "alreadyReplaced",
            AlreadyRevoked => "alreadyRevoked",
            BadCsr => "badCSR",
            BadNonce => "badNonce",
            BadPublicKey => "badPublicKey",
            BadRevocationReason => "badRevocationReason",
            BadSignatureAlgorithm => "badSignatureAlgorithm",
            Caa => "caa",
            Compound => "compound",
            Connection => "connection",
            Dns => "dns",
            ExternalAccountRequired => "externalAccountRequired",
            IncorrectResponse => "incorrectResponse",
            InvalidContact => "invalidContact",
            Malformed => "malformed",
            OrderNotReady => "orderNotReady",
            RateLimited => "rateLimited",
            RejectedIdentifier => "rejectedIdentifier",
            ServerInternal => "serverInternal",
            Tls => "tls",
            Unauthorized => "unauthorized",
            UnsupportedContact => "unsupportedContact",
            UnsupportedIdentifier => "unsupportedIdentifier",
            UserActionRequired => "userActionRequired",
        }
    }

    /// The full URN, e.g. `urn:ietf:params:acme:error:badNonce`.
    pub fn urn(self) -> String {
        format!(
            "{}{}",
            crate::protocol::problem::ACME_ERROR_PREFIX,
            self.name()
        )
    }

    /// The HTTP status RFC 8555 uses for this type when no more specific one applies.
    pub fn default_status(self) -> u16 {
        use ProblemType::*;
        match self {
            Unauthorized => 403,
            OrderNotReady | UserActionRequired => 403,
            RateLimited => 429,
            ServerInternal => 500,
            _ => 400,
        }
    }
}

/// One problem document, with the HTTP status and headers it travels with.
#[derive(Debug, Clone, PartialEq)]
pub struct Problem {
    /// The error type.
    pub kind: ProblemType,
    /// The HTTP status.
    pub status: u16,
    /// A human-readable explanation.
    pub detail: String,
    /// RFC 8555 §6.7.1 subproblems, each possibly with an `identifier`.
    pub subproblems: Vec<Subproblem>,
    /// RFC 8555 §6.2: a badSignatureAlgorithm problem MUST list the supported algorithms.
    pub algorithms: Option<Vec<String>>,
    /// RFC 8555 §7.3.3: userActionRequired carries an `instance` URL.
    pub instance: Option<String>,
    /// Seconds for a `Retry-After` header (rateLimited, chaos 503s).
    pub retry_after: Option<u64>,
    /// Extra `Link` header values (e.g. the terms of service).
    pub links: Vec<String>,
    /// An `Allow` header (405 answers).
    pub allow: Option<String>,
    /// A `Location` header (RFC 8555 §7.3.5: the account that already holds a key).
    pub location: Option<String>,
    /// The requirement the request broke, set where the CA decides (never guessed from the
    /// type later): the request history keeps it, and a judge of an external client reads it.
    pub violates: Option<&'static str>,
    /// The server rule this refusal applies where the request broke no rule of the client's
    /// (a second revocation, a reason this CA does not take, a deactivated account): named at
    /// the point of decision for a reader of the code, never held against a client.
    pub enforces: Option<&'static str>,
}

/// One entry of a compound problem (RFC 8555 §6.7.1).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Subproblem {
    /// The error type, as a full URN.
    #[serde(rename = "type")]
    pub kind: String,
    /// Explanation.
    pub detail: String,
    /// The identifier this subproblem is about.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub identifier: Option<Value>,
}

impl Problem {
    /// A problem of `kind` with its default status.
    pub fn new(kind: ProblemType, detail: impl Into<String>) -> Self {
        Problem {
            kind,
            status: kind.default_status(),
            detail: detail.into(),
            subproblems: Vec::new(),
            algorithms: None,
            instance: None,
            retry_after: None,
            links: Vec::new(),
            allow: None,
            location: None,
            violates: None,
            enforces: None,
        }
    }

    /// The same problem, naming the requirement the request broke.
    pub fn violates(mut self, requirement: &'static str) -> Self {
        self.violates = Some(requirement);
        self
    }

    /// The same problem, naming the server rule it applies to a request that broke no rule
    /// of the client's (see [`Problem::enforces`](Self::enforces)).
    pub fn enforcing(mut self, requirement: &'static str) -> Self {
        self.enforces = Some(requirement);
        self
    }

    /// The same problem with another HTTP status.
    pub fn with_status(mut self, status: u16) -> Self {
        self.status = status;
        self
    }

    /// `malformed`, 400.
    pub fn malformed(detail: impl Into<String>) -> Self {
        Self::new(ProblemType::Malformed, detail)
    }

    /// `unauthorized`, 403 (401 for deactivated accounts is set by the caller).
    pub fn unauthorized(detail: impl Into<String>) -> Self {
        Self::new(ProblemType::Unauthorized, detail)
    }

    /// `serverInternal`, 500.
    pub fn internal(detail: impl Into<String>) -> Self {
        Self::new(ProblemType::ServerInternal, detail)
    }

    /// The JSON body (`application/problem+json`).
    pub fn body(&self) -> Value {
        let mut doc = serde_json::json!({
            "type": self.kind.urn(),
            "detail": self.detail,
            "status": self.status,
        });
        if let Some(map) = doc.as_object_mut() {
            if !self.subproblems.is_empty() {
                map.insert(
                    "subproblems".into(),
                    serde_json::to_value(&self.subproblems).unwrap_or(Value::Null),
                );
            }
            if let Some(algs) = &self.algorithms {
                map.insert("algorithms".into(), serde_json::json!(algs));
            }
            if let Some(instance) = &self.instance {
                map.insert("instance".into(), Value::String(instance.clone()));
            }
        }
        doc
    }
}

impl std::fmt::Display for Problem {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} ({}): {}", self.kind.name(), self.status, self.detail)
    }
}

impl std::error::Error for Problem {}

impl From<crate::clock::OutOfRange> for Problem {
    /// An expiry the world clock puts past 9999-12-31T23:59:59Z: the CA cannot write it
    /// (RFC 8555 timestamps are RFC 3339, four-digit years), which is the CA's limit, not the
    /// client's fault.
    fn from(e: crate::clock::OutOfRange) -> Self {
        Problem::internal(format!("the world clock is too far out: {e}"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn body_has_urn_status_and_optional_fields() {
        let mut p = Problem::new(ProblemType::BadSignatureAlgorithm, "HS256 is a MAC");
        p.algorithms = Some(vec!["ES256".into()]);
        let body = p.body();
        assert_eq!(
            body["type"],
            "urn:ietf:params:acme:error:badSignatureAlgorithm"
        );
        assert_eq!(body["status"], 400);
        assert_eq!(body["algorithms"][0], "ES256");
        assert!(body.get("subproblems").is_none());
    }

    #[test]
    fn bad_csr_keeps_its_registry_spelling() {
        assert_eq!(ProblemType::BadCsr.name(), "badCSR");
        assert_eq!(
            ProblemType::BadCsr.urn(),
            "urn:ietf:params:acme:error:badCSR"
        );
    }
}
