//! The `ACME` capability a mail server advertises while an email-tls challenge is pending
//! (draft-ietf-acme-email-tls-05 §3.4): EHLO keyword `ACME <digest>` (capability-smtp-00, also
//! on LHLO), IMAP capability `ACME=<digest>` (capability-imap-00, in the greeting's
//! `[CAPABILITY …]` response code and in `CAPABILITY`), CAPA line `ACME <digest>`
//! (capability-pop-00).
//!
//! -05 §1 (slides, "Option 2"): a server must be able to "publish such proof without
//! restarting", so the value is a shared handle set at runtime: every server config holds one,
//! the operator (the reference client, a test, the management API) sets and clears it, and each
//! session reads it when it lists its capabilities. Only while a value is set is the keyword
//! advertised.

use std::sync::{Arc, RwLock};

use serde::{Deserialize, Serialize};

/// In which phase of a session the capability is shown.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum AdvertPhase {
    /// Before and after STARTTLS/STLS, and on implicit-TLS ports.
    #[default]
    Always,
    /// Only while the session is not under TLS (a server that forgets it after STARTTLS).
    BeforeTls,
    /// Only under TLS (a server that lists extensions only after STARTTLS).
    AfterTls,
}

#[derive(Debug, Clone, PartialEq, Eq)]
struct Advert {
    digest: String,
    phase: AdvertPhase,
}

/// Why a value cannot be advertised.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("an ACME capability value must be non-empty visible ASCII without spaces: {0:?}")]
pub struct BadAdvert(pub String);

/// A shared, runtime-settable `ACME` capability (clones share the value).
#[derive(Debug, Clone, Default)]
pub struct AcmeAdvert(Arc<RwLock<Option<Advert>>>);

impl AcmeAdvert {
    /// Advertises `digest` in every phase from now on.
    pub fn set(&self, digest: &str) -> Result<(), BadAdvert> {
        self.set_in(digest, AdvertPhase::Always)
    }

    /// Advertises `digest` in `phase` only. The value is any visible-ASCII word (a wrong or
    /// malformed digest is a legitimate test input), but never CR, LF, space or control
    /// characters, which would break the reply framing (RFC 5321 §4.1.1.1 ehlo-param,
    /// RFC 3501 §9 atom, RFC 2449 §5 param).
    pub fn set_in(&self, digest: &str, phase: AdvertPhase) -> Result<(), BadAdvert> {
        if digest.is_empty() || !digest.bytes().all(|b| b.is_ascii_graphic()) {
            return Err(BadAdvert(digest.to_owned()));
        }
        *self.0.write().unwrap_or_else(|p| p.into_inner()) = Some(Advert {
            digest: digest.to_owned(),
            phase,
        });
        Ok(())
    }

    /// Stops advertising.
    pub fn clear(&self) {
        *self.0.write().unwrap_or_else(|p| p.into_inner()) = None;
    }

    /// The value currently set, whatever its phase.
    pub fn get(&self) -> Option<String> {
        self.0
            .read()
            .unwrap_or_else(|p| p.into_inner())
            .as_ref()
            .map(|a| a.digest.clone())
    }

    /// The value a session under TLS (`tls`) or not shows, if any.
    pub fn visible(&self, tls: bool) -> Option<String> {
        let guard = self.0.read().unwrap_or_else(|p| p.into_inner());
        let advert = guard.as_ref()?;
        let shown = match advert.phase {
            AdvertPhase::Always => true,
            AdvertPhase::BeforeTls => !tls,
            AdvertPhase::AfterTls => tls,
        };
        shown.then(|| advert.digest.clone())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn set_clear_and_phases() {
        let a = AcmeAdvert::default();
        assert_eq!(a.visible(false), None);
        let shared = a.clone();
        a.set("abc-_123").unwrap();
        assert_eq!(shared.visible(false).as_deref(), Some("abc-_123"));
        assert_eq!(shared.visible(true).as_deref(), Some("abc-_123"));
        a.set_in("x", AdvertPhase::AfterTls).unwrap();
        assert_eq!(shared.visible(false), None);
        assert_eq!(shared.visible(true).as_deref(), Some("x"));
        a.set_in("y", AdvertPhase::BeforeTls).unwrap();
        assert_eq!(shared.visible(true), None);
        assert_eq!(shared.get().as_deref(), Some("y"));
        shared.clear();
        assert_eq!(a.visible(false), None);
    }

    #[test]
    fn framing_breakers_are_refused() {
        let a = AcmeAdvert::default();
        for bad in ["", "a b", "a\r\n250 X", "tab\t", "é"] {
            assert!(a.set(bad).is_err(), "{bad:?}");
        }
        assert_eq!(a.get(), None);
    }
}
