//! RSA private keys for world-internal names (a DKIM domain and selector), one per
//! (modulus size, name) in a process and shared by every world that asks for that name again.
//!
//! Why: openssl cannot generate RSA from a caller-given stream, so an RSA key never replays
//! from the seed (an Ed25519 or P-256 key does). A 2048-bit generation costs tens of
//! milliseconds of CPU, and a run of the scenario library starts hundreds of worlds, each
//! asking for the same keys for the same domains. So:
//! - the first [`COMMITTED`] 2048-bit names of a process get keys committed to this repository
//!   (`committed-2048.pem`), handed out in the order the names are first asked for: nothing
//!   is generated;
//! - any other name gets a key generated on first use and kept.
//!
//! Either way a world sees one key per DKIM domain and selector, and distinct names get
//! distinct keys. The committed keys are public, which is harmless for names that exist only
//! inside a world; a key sent to a peer outside the process (an account key at an external
//! CA) must not come from here.
//!
//! Bounded: at most [`MAX_NAMES`] names are kept; past that, keys are generated fresh and not
//! kept (a long-lived process asking for endless names never grows).

use std::collections::HashMap;
use std::sync::{Arc, Mutex, OnceLock};

use openssl::error::ErrorStack;
use openssl::pkey::{PKey, Private};
use openssl::rsa::Rsa;
use rustls_pki_types::PrivatePkcs8KeyDer;
use rustls_pki_types::pem::PemObject;

/// Most (size, name) pairs kept.
pub const MAX_NAMES: usize = 256;

/// How many committed 2048-bit keys `committed-2048.pem` holds.
pub const COMMITTED: usize = 16;

/// The committed keys: PKCS#8 PEM blocks after a line of explanation.
const COMMITTED_PEM: &str = include_str!("committed-2048.pem");

/// The modulus size of the committed keys.
const COMMITTED_BITS: u32 = 2048;

/// One name's key, filled by the first caller; later callers for the same name wait on its lock
/// instead of making a second key.
type Slot = Arc<Mutex<Option<PKey<Private>>>>;

/// The keys of one process (one instance, [`shared`]'s; tests make their own).
#[derive(Default)]
struct Keys {
    slots: Mutex<Names>,
}

#[derive(Default)]
struct Names {
    by_name: HashMap<(u32, String), Slot>,
    /// How many committed keys have been handed out.
    committed_used: usize,
}

/// Where a new name's key comes from.
enum Source {
    Committed(usize),
    Generated,
}

impl Keys {
    fn get(&self, bits: u32, name: &str) -> Result<PKey<Private>, ErrorStack> {
        let (slot, source) = {
            let mut names = self.slots.lock().unwrap_or_else(|p| p.into_inner());
            let key = (bits, name.to_owned());
            match names.by_name.get(&key) {
                // Filled by the name's first caller; generated here only if that one failed.
                Some(slot) => (Arc::clone(slot), Source::Generated),
                None if names.by_name.len() >= MAX_NAMES => return fresh(bits),
                None => {
                    let source = if bits == COMMITTED_BITS && names.committed_used < COMMITTED {
                        names.committed_used += 1;
                        Source::Committed(names.committed_used - 1)
                    } else {
                        Source::Generated
                    };
                    (Arc::clone(names.by_name.entry(key).or_default()), source)
                }
            }
        };
        let mut held = slot.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(key) = held.as_ref() {
            return Ok(key.clone());
        }
        let key = match source {
            Source::Committed(index) => committed(index)?,
            Source::Generated => fresh(bits)?,
        };
        *held = Some(key.clone());
        Ok(key)
    }
}

/// The process's RSA key of `bits` for `name` (e.g. a DKIM `domain selector`): the same key for
/// the same pair on every call in this process, distinct pairs distinct keys.
pub(crate) fn shared(bits: u32, name: &str) -> Result<PKey<Private>, ErrorStack> {
    static KEYS: OnceLock<Keys> = OnceLock::new();
    KEYS.get_or_init(Keys::default).get(bits, name)
}

/// The `index`-th committed key.
fn committed(index: usize) -> Result<PKey<Private>, ErrorStack> {
    static PARSED: OnceLock<Vec<PrivatePkcs8KeyDer<'static>>> = OnceLock::new();
    let ders = PARSED.get_or_init(|| {
        PrivatePkcs8KeyDer::pem_slice_iter(COMMITTED_PEM.as_bytes())
            .filter_map(Result::ok)
            .collect()
    });
    match ders.get(index) {
        Some(der) => PKey::private_key_from_pkcs8(der.secret_pkcs8_der()),
        // Unreachable while the file holds COMMITTED keys (a test checks it); a key is still
        // better than an error.
        None => fresh(COMMITTED_BITS),
    }
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
        let keys = Keys::default();
        let a = keys.get(1024, "a").expect("key");
        let again = keys.get(1024, "a").expect("key");
        let b = keys.get(1024, "b").expect("key");
        let smaller = keys.get(768, "a").expect("key");
        assert_eq!(der(&a), der(&again));
        assert_ne!(der(&a), der(&b));
        assert_ne!(der(&a), der(&smaller));
        assert_eq!(a.rsa().expect("rsa").size() * 8, 1024);
        assert_eq!(smaller.rsa().expect("rsa").size() * 8, 768);
    }

    #[test]
    fn the_committed_keys_are_distinct_whole_2048_bit_keys() {
        let keys: Vec<_> = (0..COMMITTED)
            .map(|i| committed(i).expect("committed key"))
            .collect();
        for key in &keys {
            let rsa = key.rsa().expect("rsa");
            assert_eq!(rsa.size() * 8, COMMITTED_BITS);
            assert!(
                rsa.check_key().expect("check"),
                "a committed key fails its check"
            );
        }
        let mut publics: Vec<_> = keys.iter().map(der).collect();
        publics.sort();
        publics.dedup();
        assert_eq!(publics.len(), COMMITTED, "two committed keys are the same");
        // The file holds exactly COMMITTED keys: none is left unused, none is missing.
        assert_eq!(
            PrivatePkcs8KeyDer::pem_slice_iter(COMMITTED_PEM.as_bytes()).count(),
            COMMITTED
        );
    }

    #[test]
    fn names_of_2048_bits_take_the_committed_keys_in_order_then_fresh_ones() {
        let keys = Keys::default();
        let names: Vec<String> = (0..=COMMITTED).map(|i| format!("name {i}")).collect();
        let got: Vec<_> = names
            .iter()
            .map(|n| der(&keys.get(COMMITTED_BITS, n).expect("key")))
            .collect();
        for (i, public) in got.iter().take(COMMITTED).enumerate() {
            assert_eq!(*public, der(&committed(i).expect("committed")), "name {i}");
        }
        // Past the pool: a generated key, distinct from every committed one.
        assert!(!got[..COMMITTED].contains(&got[COMMITTED]));
        // Asking again keeps each name's key.
        assert_eq!(
            der(&keys.get(COMMITTED_BITS, &names[3]).expect("key")),
            got[3]
        );
        assert_eq!(
            der(&keys.get(COMMITTED_BITS, &names[COMMITTED]).expect("key")),
            got[COMMITTED]
        );
    }
}
