//! STARTTLS (RFC 3501 §6.2.1, RFC 2595), LOGIN (§6.2.3) and AUTHENTICATE PLAIN (§6.2.2, RFC
//! 4616, SASL-IR RFC 4959).

use super::Session;
use crate::line::sasl as auth;
use crate::line::{End, Flow, Line};

impl Session {
    pub(super) fn starttls(&mut self, tag: &str) -> Flow {
        if !self.link.offers_tls() {
            self.bad_line(&format!("{tag} BAD STARTTLS not available"));
            return Flow::Continue;
        }
        if self.user.is_some() {
            self.bad_line(&format!("{tag} BAD STARTTLS only before authentication"));
            return Flow::Continue;
        }
        if self.link.pipelined_after_starttls() {
            // STARTTLS command injection (the CVE-2011-0411 class): plaintext pipelined after
            // STARTTLS must never be read as if it came over TLS. Refuse and close.
            self.bad_line(&format!("{tag} BAD commands pipelined after STARTTLS"));
            self.line("* BYE STARTTLS injection refused");
            return Flow::Close;
        }
        self.ok(tag, "Begin TLS negotiation now");
        Flow::StartTls
    }

    fn login_refused(&mut self, tag: &str) -> bool {
        if self.user.is_some() {
            self.bad_line(&format!("{tag} BAD already authenticated"));
            return true;
        }
        if self.shared.config.require_tls_for_login && !self.link.tls() {
            self.line(&format!("{tag} NO [PRIVACYREQUIRED] use STARTTLS first"));
            return true;
        }
        false
    }

    pub(super) fn login(&mut self, tag: &str, user: &str, pass: &str) {
        if self.login_refused(tag) {
            return;
        }
        self.finish_login(tag, user, pass, "LOGIN");
    }

    fn finish_login(&mut self, tag: &str, user: &str, pass: &str, verb: &str) {
        match self.shared.config.store.authenticate(user, pass) {
            Some(canonical) => {
                self.user = Some(canonical);
                let caps = self.capabilities();
                self.ok(tag, &format!("[CAPABILITY {caps}] {verb} completed"));
            }
            None => {
                self.line(&format!(
                    "{tag} NO [AUTHENTICATIONFAILED] authentication failed"
                ));
                self.link.count_bad();
            }
        }
    }

    /// AUTHENTICATE PLAIN (RFC 4616) with SASL-IR (RFC 4959) or one `+ ` continuation.
    pub(super) async fn authenticate(
        &mut self,
        tag: &str,
        mechanism: &str,
        initial: Option<String>,
    ) -> Flow {
        if self.login_refused(tag) {
            return Flow::Continue;
        }
        if mechanism != "PLAIN" {
            self.line(&format!("{tag} NO unsupported authentication mechanism"));
            return Flow::Continue;
        }
        let response = match initial {
            Some(ir) => ir,
            None => {
                self.line("+ ");
                let max = self.shared.config.max_command_octets;
                match self.read_line(max).await {
                    Ok(Line::Full(l)) => {
                        self.record_in("<redacted>");
                        String::from_utf8_lossy(&l).trim_end().to_owned()
                    }
                    Ok(Line::TooLong { .. }) => {
                        self.bad_line(&format!("{tag} BAD response too long"));
                        return Flow::Continue;
                    }
                    Err(End::Timeout) => {
                        self.line("* BYE Autologout; idle for too long");
                        return Flow::Close;
                    }
                    Err(End::Shutdown) => {
                        self.line("* BYE server shutting down");
                        return Flow::Close;
                    }
                    Err(_) => return Flow::Close,
                }
            }
        };
        let bytes = match auth::decode(&response) {
            Ok(auth::Response::Bytes(b)) => b,
            Ok(auth::Response::Cancel) => {
                self.bad_line(&format!("{tag} BAD authentication cancelled"));
                return Flow::Continue;
            }
            Err(_) => {
                self.bad_line(&format!("{tag} BAD cannot decode base64"));
                return Flow::Continue;
            }
        };
        match auth::plain(&bytes) {
            Ok((user, pass)) => self.finish_login(tag, &user, &pass, "AUTHENTICATE"),
            Err(_) => {
                self.line(&format!(
                    "{tag} NO [AUTHENTICATIONFAILED] authentication failed"
                ));
                self.link.count_bad();
            }
        }
        Flow::Continue
    }
}
