//! The CA's nonce store (RFC 8555 §6.5): nonces are issued from the seed, accepted once, and
//! forgotten oldest-first when too many are outstanding, so a client that hoards nonces cannot
//! grow the store without bound.

use std::collections::{HashSet, VecDeque};
use std::sync::Mutex;

use crate::seed::SeededRng;

/// How many issued-but-unused nonces are remembered.
pub const MAX_OUTSTANDING: usize = 65_536;

/// Why a nonce was refused (all become `badNonce`, the detail differs).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NonceRejection {
    /// Never issued, or forgotten.
    Unknown,
    /// Already used once (RFC 8555 §6.5: "MUST consider it invalid").
    Reused,
    /// Valid, but the `nonce_reject_percent` knob chose to refuse it.
    Knob,
}

impl NonceRejection {
    /// The problem detail.
    pub fn detail(self) -> &'static str {
        match self {
            NonceRejection::Unknown => "the nonce was not issued by this server",
            NonceRejection::Reused => "the nonce has already been used",
            NonceRejection::Knob => {
                "the nonce was refused on purpose (knob nonce_reject_percent); retry with the fresh one"
            }
        }
    }
}

/// Issued nonces, in issue order.
#[derive(Debug)]
pub struct NonceStore {
    rng: SeededRng,
    inner: Mutex<Inner>,
}

#[derive(Debug, Default)]
struct Inner {
    outstanding: HashSet<String>,
    order: VecDeque<String>,
    used: HashSet<String>,
    used_order: VecDeque<String>,
}

impl NonceStore {
    /// A store drawing nonces from `rng`.
    pub fn new(rng: SeededRng) -> Self {
        NonceStore {
            rng,
            inner: Mutex::new(Inner::default()),
        }
    }

    /// A fresh nonce: 16 random octets, base64url (RFC 8555 §6.5.1: `1*base64url`).
    pub fn issue(&self) -> String {
        let nonce = self.rng.token(16);
        let mut inner = self.lock();
        if inner.order.len() >= MAX_OUTSTANDING
            && let Some(old) = inner.order.pop_front()
        {
            inner.outstanding.remove(&old);
        }
        inner.outstanding.insert(nonce.clone());
        inner.order.push_back(nonce.clone());
        nonce
    }

    /// Accepts `nonce` once. `reject_anyway` is the knob's verdict, drawn by the caller.
    pub fn consume(&self, nonce: &str, reject_anyway: bool) -> Result<(), NonceRejection> {
        let mut inner = self.lock();
        if !inner.outstanding.remove(nonce) {
            return Err(if inner.used.contains(nonce) {
                NonceRejection::Reused
            } else {
                NonceRejection::Unknown
            });
        }
        // `order` may keep the used entry until it ages out: eviction of a used entry is a no-op,
        // and not searching the queue keeps `consume` O(1).
        if inner.used_order.len() >= MAX_OUTSTANDING
            && let Some(old) = inner.used_order.pop_front()
        {
            inner.used.remove(&old);
        }
        inner.used.insert(nonce.to_owned());
        inner.used_order.push_back(nonce.to_owned());
        if reject_anyway {
            return Err(NonceRejection::Knob);
        }
        Ok(())
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Inner> {
        self.inner.lock().unwrap_or_else(|p| p.into_inner())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::seed::Seed;

    #[test]
    fn a_nonce_is_good_exactly_once() {
        let store = NonceStore::new(Seed(1).stream("n"));
        let n = store.issue();
        assert_eq!(store.consume(&n, false), Ok(()));
        assert_eq!(store.consume(&n, false), Err(NonceRejection::Reused));
        assert_eq!(store.consume("never", false), Err(NonceRejection::Unknown));
    }

    #[test]
    fn the_knob_burns_the_nonce_too() {
        let store = NonceStore::new(Seed(1).stream("n"));
        let n = store.issue();
        assert_eq!(store.consume(&n, true), Err(NonceRejection::Knob));
        assert_eq!(store.consume(&n, false), Err(NonceRejection::Reused));
    }
}
