//! The smarthost an ACME server under test sends its challenge mail through: SMTP with
//! STARTTLS (and a twin with implicit TLS, RFC 8314) that requires AUTH, as a provider's
//! submission service does, and hands each message to the world's relay chain.
//!
//! By default it neither adds nor removes signatures, so the challenge mail the judge reads is
//! exactly what the server produced (plus trace fields). `dkim_sign` makes it sign for the
//! From domain like a provider's MSA (RFC 6376 §2.1: a signer may be an MSA acting for the
//! author's domain), for servers that rely on their mail provider for DKIM.

use std::sync::Arc;

use serde::{Deserialize, Serialize};

use super::mail::UserSpec;
use crate::mail::Authenticator;
use crate::relay::{RelayBehaviour, RelaySink};

/// The `[mail.smarthost]` table of a world config.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct SmarthostConfig {
    /// DKIM-sign each message for its From domain (when the world holds that domain's key and
    /// the message has no signature of it yet), like a provider's MSA. Off: pass mail on as
    /// sent.
    pub dkim_sign: bool,
    /// Who may log in; empty: any user name and password are accepted.
    pub users: Vec<UserSpec>,
}

impl SmarthostConfig {
    /// The relay behaviour of its sink: a well-behaved hop that signs only when asked.
    pub fn behaviour(&self) -> RelayBehaviour {
        RelayBehaviour {
            dkim_sign: self.dkim_sign,
            ..RelayBehaviour::default()
        }
    }

    /// One line for the wiring and the report header.
    pub fn describe(&self) -> &'static str {
        if self.dkim_sign {
            "the smarthost DKIM-signs for the From domain, like a provider's MSA"
        } else {
            "the smarthost passes mail on as sent (no signature added or removed)"
        }
    }
}

/// Who may use the smarthost: anyone with any password (no users configured), or exactly the
/// configured users. Either may send as any address: the smarthost stands in for the server's
/// own mail provider, whose sender policy is not what is being judged.
#[derive(Debug, Clone)]
pub struct SmarthostAuth {
    users: Vec<UserSpec>,
}

impl SmarthostAuth {
    /// An authenticator for `users` (empty: any credentials).
    pub fn new(users: Vec<UserSpec>) -> Self {
        SmarthostAuth { users }
    }
}

impl Authenticator for SmarthostAuth {
    fn authenticate(&self, user: &str, password: &str) -> Option<String> {
        if self.users.is_empty() {
            return Some(user.to_owned());
        }
        self.users
            .iter()
            .find(|u| u.address == user && u.password == password)
            .map(|u| u.address.clone())
    }

    fn may_send_as(&self, _user: &str, _address: &str) -> bool {
        true
    }
}

/// The running smarthost.
#[derive(Debug)]
pub struct Smarthost {
    /// SMTP with STARTTLS (port 587 style).
    pub starttls: crate::smtp::SmtpServer,
    /// SMTP with implicit TLS (port 465 style).
    pub implicit_tls: crate::smtp::SmtpServer,
    /// What both pass mail to (its log is what the server sent).
    pub sink: Arc<RelaySink>,
    /// Its configuration.
    pub config: SmarthostConfig,
}

impl Smarthost {
    /// Stops both servers, then abandons the mail still held.
    pub async fn shutdown(&self) {
        self.starttls.shutdown().await;
        self.implicit_tls.shutdown().await;
        self.sink.shutdown().await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn user(address: &str, password: &str) -> UserSpec {
        UserSpec {
            address: address.into(),
            password: password.into(),
        }
    }

    #[test]
    fn any_credentials_unless_users_are_configured() {
        let any = SmarthostAuth::new(Vec::new());
        assert_eq!(any.authenticate("who", "ever").as_deref(), Some("who"));
        assert!(any.may_send_as("who", "acme-ca@ca.example.test"));
        let only = SmarthostAuth::new(vec![user("ca", "secret")]);
        assert_eq!(only.authenticate("ca", "secret").as_deref(), Some("ca"));
        assert_eq!(only.authenticate("ca", "wrong"), None);
        assert_eq!(only.authenticate("who", "secret"), None);
    }
}
