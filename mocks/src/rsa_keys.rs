//! RSA private keys made once per process for each (modulus size, name) and shared by every
//! world that asks for that name again.
//!
//! Why: openssl cannot generate RSA from a caller-given stream, so an RSA key never replays
//! from the seed (an Ed25519 or P-256 key does); it is fresh on every run either way. A
//! 2048-bit generation costs tens of milliseconds of CPU, and a run of the scenario library
//! starts hundreds of worlds, each making the same keys for the same domains. Sharing one key
//! per name keeps what a world sees (one key per DKIM domain and selector, distinct names
//! distinct keys) and makes it once.
//!
//! Bounded: at most [`MAX_NAMES`] names are kept; past that, keys are generated fresh and not
//! kept (a long-lived process asking for endless names never grows).

use std::collections::HashMap;
use std::sync::{Arc, Mutex, OnceLock};

use openssl::error::ErrorStack;
use openssl::pkey::{PKey, Private};
use openssl::rsa::Rsa;

/// Most (size, name) pairs kept.
pub const MAX_NAMES: usize = 256;

/// One name's key, made by the first caller; later callers for the same name wait on its lock
/// instead of making a second key.
type Slot = Arc<Mutex<Option<PKey<Private>>>>;

fn slots() -> &'static Mutex<HashMap<(u32, String), Slot>> {
    static SLOTS: OnceLock<Mutex<HashMap<(u32, String), Slot>>> = OnceLock::new();
    SLOTS.get_or_init(Default::default)
}

/// The process's RSA key of `bits` for `name` (e.g. a DKIM `domain selector`): the same key for
/// the same pair on every call in this process, distinct pairs distinct keys.
pub(crate) fn shared(bits: u32, name: &str) -> Result<PKey<Private>, ErrorStack> {
    let slot = {
        let mut slots = slots().lock().unwrap_or_else(|p| p.into_inner());
        let key = (bits, name.to_owned());
        match slots.get(&key) {
            Some(slot) => Arc::clone(slot),
            None if slots.len() >= MAX_NAMES => return fresh(bits),
            None => Arc::clone(slots.entry(key).or_default()),
        }
    };
    let mut held = slot.lock().unwrap_or_else(|p| p.into_inner());
    if let Some(key) = held.as_ref() {
        return Ok(key.clone());
    }
    let key = fresh(bits)?;
    *held = Some(key.clone());
    Ok(key)
}

fn fresh(bits: u32) -> Result<PKey<Private>, ErrorStack> {
    PKey::from_rsa(Rsa::generate(bits)?)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn der(key: &PKey<Private>) -> Vec<u8> {
        key.public_key_to_der().expect("der")
    }

    #[test]
    fn one_key_per_size_and_name() {
        let a = shared(1024, "rsa_keys test a").expect("key");
        let again = shared(1024, "rsa_keys test a").expect("key");
        let b = shared(1024, "rsa_keys test b").expect("key");
        let smaller = shared(768, "rsa_keys test a").expect("key");
        assert_eq!(der(&a), der(&again));
        assert_ne!(der(&a), der(&b));
        assert_ne!(der(&a), der(&smaller));
        assert_eq!(a.rsa().expect("rsa").size() * 8, 1024);
        assert_eq!(smaller.rsa().expect("rsa").size() * 8, 768);
    }
}
