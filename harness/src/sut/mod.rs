//! Systems under test : what a scenario runs against.
//!
//! - the reference implementations (the default): the built-in client and MUA against the
//!   built-in CA, in a fresh world per scenario;
//! - an external ACME client ([`client_cmd`]), run once per scenario against the world's CA
//!   and mailbox, and judged from the wire ([`client_judge`]);
//! - an external ACME server ([`server`]), which the harness drives as client and MUA.

pub mod asks;
pub mod client_cmd;
pub mod client_judge;
pub mod server;

use std::sync::Arc;

pub use client_cmd::ClientCommand;

/// What a run of the scenarios tests.
#[derive(Debug, Clone, Default)]
pub enum Sut {
    /// The built-in client and MUA against the built-in CA.
    #[default]
    Reference,
    /// An external ACME client and MUA against the built-in CA.
    Client(Arc<ClientCommand>),
    /// An external ACME server, with the harness as its client and MUA.
    Server(Arc<server::ServerTarget>),
}

impl Sut {
    /// The system's name in reports.
    pub fn name(&self) -> String {
        match self {
            Sut::Reference => "reference".into(),
            Sut::Client(cmd) => format!("client: {}", cmd.name()),
            Sut::Server(target) => match target
                .world
                .mail
                .as_ref()
                .and_then(|m| m.smarthost.as_ref())
            {
                // The report header says whether the judged challenge mail is the server's own
                // or carries the smarthost's signature.
                Some(smarthost) => format!(
                    "server: {} ({})",
                    target.directory_url,
                    smarthost.config.describe()
                ),
                None => format!("server: {}", target.directory_url),
            },
        }
    }

    /// The kind, for reports.
    pub fn kind(&self) -> acmeproof_reports::SutKind {
        match self {
            Sut::Reference => acmeproof_reports::SutKind::Reference,
            Sut::Client(_) => acmeproof_reports::SutKind::Client,
            Sut::Server(_) => acmeproof_reports::SutKind::Server,
        }
    }
}
