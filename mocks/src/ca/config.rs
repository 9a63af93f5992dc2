//! The CA's static configuration (the `[ca]` table of a world config).

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use super::knobs::Knobs;

/// The terms of service the CA serves at `/terms` when they are switched on.
pub const TERMS_TEXT: &str = "acmeproof test CA terms of service\n\n\
This CA exists for conformance testing only. Certificates it issues chain to a root that \
nobody trusts unless they choose to. There are no obligations.\n";

/// How the CA is set up.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct CaConfig {
    /// Name used in the root's and intermediate's subjects.
    pub name: String,
    /// Whether the directory announces terms of service; then newAccount requires
    /// `termsOfServiceAgreed: true` (RFC 8555 §7.3, ACME-16).
    pub terms_of_service: bool,
    /// The issuer domain names CAA `issue`/`issuewild`/`issuemail` records must name
    /// (RFC 8659 §4.2, RFC 9495 §3). The first one is announced in `meta.caaIdentities`.
    pub caa_identities: Vec<String>,
    /// External account binding (RFC 8555 §7.3.4).
    pub eab: Option<EabConfig>,
    /// RFC 8823 §3: the address challenge mails come from (the `from` of email-reply-00).
    pub challenge_from: String,
    /// Behaviour knobs.
    pub knobs: Knobs,
    /// The DNS server the CA resolves through (`"127.0.0.1:53000"`), instead of the world's
    /// own: a CA served as a server under test validates against the tester's world.
    pub resolver: Option<std::net::SocketAddr>,
    /// The SMTP server the CA hands its challenge mail to (`"127.0.0.1:2525"`), instead of the
    /// world's first relay: the tester's world's relay, for a CA served as a server under test.
    pub smarthost: Option<std::net::SocketAddr>,
    /// Where a capability-*-00 validation of a port really connects (`"25" = 40001`), over the
    /// world's own mail servers: the tester's world's servers, for a CA served as a server
    /// under test (draft-ietf-acme-email-tls-05 §3.4).
    pub connect_ports: BTreeMap<String, u16>,
}

impl Default for CaConfig {
    fn default() -> Self {
        CaConfig {
            name: "acmeproof".into(),
            terms_of_service: true,
            caa_identities: vec!["acmeproof.test".into()],
            eab: None,
            challenge_from: "acme-challenge@ca.acmeproof.test".into(),
            knobs: Knobs::default(),
            resolver: None,
            smarthost: None,
            connect_ports: BTreeMap::new(),
        }
    }
}

/// External account binding keys.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct EabConfig {
    /// Whether newAccount without a binding is refused (`externalAccountRequired`).
    pub required: bool,
    /// MAC keys by key id, base64url (RFC 8555 §7.3.4).
    pub keys: BTreeMap<String, String>,
}
