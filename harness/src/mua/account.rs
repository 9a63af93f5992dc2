//! Where a mailbox owner reads and sends mail: the IMAP server, the Submission server, the
//! TLS trust they are checked against, and the DNS that DKIM keys are looked up in.

use std::net::SocketAddr;
use std::sync::Arc;

use acmeproof_mocks::mail::Envelope;
use acmeproof_mocks::smtp::client::{ClientTls, SmtpClient};
use acmeproof_mocks::world::World;

use crate::acme::flow::FlowError;

/// How the IMAP connection is secured.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum ImapTls {
    /// Port 143 style: plain greeting, then STARTTLS (RFC 3501 §6.2.1) before LOGIN.
    #[default]
    StartTls,
    /// Port 993 style: TLS from the first octet (RFC 8314 §3.2).
    Implicit,
}

/// One mailbox owner's access to the mail plane.
#[derive(Clone)]
pub struct MailAccount {
    /// The address, as the mail store knows it (UTF-8 for EAI users).
    pub address: String,
    /// The password for IMAP and Submission.
    pub password: String,
    /// The IMAP server.
    pub imap: SocketAddr,
    /// How IMAP is secured.
    pub imap_tls: ImapTls,
    /// The Submission server (STARTTLS, AUTH PLAIN; RFC 6409).
    pub submission: SocketAddr,
    /// Trust for both servers' certificates.
    pub tls: Arc<rustls::ClientConfig>,
    /// The name the servers' certificates are checked against.
    pub server_name: String,
    /// The DNS server DKIM keys are looked up in.
    pub dns: SocketAddr,
}

impl std::fmt::Debug for MailAccount {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // The password stays out of logs and reports.
        f.debug_struct("MailAccount")
            .field("address", &self.address)
            .field("imap", &self.imap)
            .field("imap_tls", &self.imap_tls)
            .field("submission", &self.submission)
            .field("server_name", &self.server_name)
            .field("dns", &self.dns)
            .finish_non_exhaustive()
    }
}

impl MailAccount {
    /// `address`'s account in `world`, over IMAP with STARTTLS.
    pub fn in_world(world: &World, address: &str, password: &str) -> Result<Self, FlowError> {
        let mail = world
            .mail
            .as_ref()
            .ok_or_else(|| FlowError::Unexpected("the world has no mail plane".into()))?;
        Ok(MailAccount {
            address: address.to_owned(),
            password: password.to_owned(),
            imap: mail.imap.addr(),
            imap_tls: ImapTls::StartTls,
            submission: mail.submission.addr(),
            tls: world.pki.client_config(),
            // The mail servers' certificates name localhost, 127.0.0.1 and mail.acmeproof.test.
            server_name: "localhost".into(),
            dns: world.dns.addr(),
        })
    }

    /// The same account over implicit-TLS IMAP at `imaps`.
    pub fn with_imaps(mut self, imaps: SocketAddr) -> Self {
        self.imap = imaps;
        self.imap_tls = ImapTls::Implicit;
        self
    }

    /// The TLS server name to check certificates against.
    pub fn tls_name(&self) -> Result<rustls::pki_types::ServerName<'static>, FlowError> {
        rustls::pki_types::ServerName::try_from(self.server_name.clone()).map_err(|e| {
            FlowError::Unexpected(format!("bad TLS server name {}: {e}", self.server_name))
        })
    }

    /// Sends `data` through Submission: STARTTLS, AUTH PLAIN as this account, one transaction.
    pub async fn submit(&self, envelope: &Envelope, data: &[u8]) -> Result<(), FlowError> {
        let smtp = |e: &dyn std::fmt::Display| FlowError::Smtp(format!("Submission: {e}"));
        let tls = ClientTls::StartTls(Arc::clone(&self.tls), self.tls_name()?);
        let mut client = SmtpClient::connect(self.submission, "client.example.test", tls, false)
            .await
            .map_err(|e| smtp(&e))?;
        client
            .auth_plain(&self.address, &self.password)
            .await
            .map_err(|e| smtp(&e))?;
        let result = client.send(envelope, data).await;
        let _ = client.quit().await;
        result.map(|_| ()).map_err(|e| smtp(&e))
    }
}
