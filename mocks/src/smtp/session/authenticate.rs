//! AUTH (RFC 4954): when it is allowed, the PLAIN and LOGIN exchanges, and the result.

use super::super::{Role, command, reply};
use super::{Flow, Session, Stop};
use crate::line::sasl::{self as auth, SaslError};
use crate::line::{End, Line};
use crate::mail::Reply;

/// RFC 4954 §4: "If the client wishes to cancel the authentication exchange, it issues a line
/// with a single "*". If the server receives such a response, it MUST reject the AUTH command
/// by sending a 501 reply."
fn cancelled() -> Reply {
    Reply::new(501, (5, 7, 0), "authentication cancelled")
}

/// The SMTP answer to a response SASL did not accept.
fn sasl_refusal(error: SaslError) -> Stop {
    Stop::Reply(match error {
        // RFC 4954 §4: a response that cannot be decoded as base64 is rejected with 501.
        SaslError::BadBase64 => Reply::new(501, (5, 5, 2), "cannot decode base64"),
        SaslError::Invalid => failed(),
    })
}

/// RFC 4954 §6: 535 5.7.8 authentication credentials invalid.
fn failed() -> Reply {
    Reply::new(535, (5, 7, 8), "authentication credentials invalid")
}

impl Session {
    pub(super) async fn auth(&mut self, mechanism: String, initial: Option<String>) -> Flow {
        let cfg = &self.shared.config;
        let Some(authenticator) = cfg.auth.clone().filter(|_| cfg.role == Role::Submission) else {
            self.reply(Reply::new(502, (5, 5, 1), "AUTH not offered"));
            return Flow::Continue;
        };
        let refusal = if !matches!(self.helo, Some((_, true))) {
            Some(Reply::new(503, (5, 5, 1), "send EHLO first"))
        } else if self.auth_user.is_some() {
            // RFC 4954 §4: after a successful AUTH, further AUTH commands get 503.
            Some(Reply::new(503, (5, 5, 1), "already authenticated"))
        } else if self.txn.is_some() {
            Some(Reply::new(
                503,
                (5, 5, 1),
                "AUTH not allowed in a mail transaction",
            ))
        } else if !self.auth_offered() {
            // RFC 4954 §6: 538 5.7.11 encryption required for requested authentication.
            Some(Reply::new(538, (5, 7, 11), "encryption required for AUTH"))
        } else {
            None
        };
        if let Some(r) = refusal {
            self.reply(r);
            return Flow::Continue;
        }
        let credentials = match mechanism.as_str() {
            "PLAIN" => self.auth_plain(initial).await,
            "LOGIN" => self.auth_login(initial).await,
            _ => Err(Stop::Reply(Reply::new(
                504,
                (5, 5, 4),
                "mechanism not supported",
            ))),
        };
        let (user, pass) = match credentials {
            Ok(c) => c,
            Err(Stop::Reply(r)) => {
                self.reply(r);
                return Flow::Continue;
            }
            Err(Stop::Close) => return Flow::Close,
        };
        match authenticator.authenticate(&user, &pass) {
            Some(canonical) => {
                tracing::debug!(conn = self.link.conn_id(), user = %canonical, "authenticated");
                self.auth_user = Some(canonical);
                self.reply(Reply::new(235, (2, 7, 0), "Authentication successful"));
            }
            None => self.reply(failed()),
        }
        Flow::Continue
    }

    async fn auth_plain(&mut self, initial: Option<String>) -> Result<(String, String), Stop> {
        let response = match initial {
            Some(text) => auth::decode(&text).map_err(sasl_refusal)?,
            None => self.challenge("").await?,
        };
        match response {
            auth::Response::Cancel => Err(Stop::Reply(cancelled())),
            auth::Response::Bytes(b) => auth::plain(&b).map_err(sasl_refusal),
        }
    }

    async fn auth_login(&mut self, initial: Option<String>) -> Result<(String, String), Stop> {
        let user = match initial {
            Some(text) => auth::decode(&text).map_err(sasl_refusal)?,
            None => self.challenge(auth::LOGIN_USER_PROMPT).await?,
        };
        let auth::Response::Bytes(user) = user else {
            return Err(Stop::Reply(cancelled()));
        };
        let auth::Response::Bytes(pass) = self.challenge(auth::LOGIN_PASS_PROMPT).await? else {
            return Err(Stop::Reply(cancelled()));
        };
        let user = auth::login_field(user).map_err(sasl_refusal)?;
        let pass = auth::login_field(pass).map_err(sasl_refusal)?;
        Ok((user, pass))
    }

    /// Sends `334 prompt` and reads the client's base64 answer (logged as `<redacted>`).
    async fn challenge(&mut self, prompt: &str) -> Result<auth::Response, Stop> {
        self.reply(reply::plain(334, prompt));
        match self.read_line(command::AUTH_CONTINUATION_MAX).await {
            Ok(Line::Full(bytes)) => {
                self.record_in("<redacted>");
                let text = command::strip_line(&bytes).map_err(Stop::Reply)?;
                auth::decode(text).map_err(sasl_refusal)
            }
            Ok(Line::TooLong { .. }) => {
                self.record_in("<redacted>");
                Err(Stop::Reply(Reply::new(500, (5, 5, 6), "line too long")))
            }
            Err(End::Gone) => Err(Stop::Close),
            Err(End::Timeout) => {
                self.idle_timeout();
                Err(Stop::Close)
            }
            Err(End::Shutdown) => {
                self.shutting_down();
                Err(Stop::Close)
            }
        }
    }
}
