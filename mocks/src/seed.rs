//! Seeded randomness: every random value in a world (tokens, nonces, serials, keys, fault
//! choices) is drawn from a [`Seed`], so a scenario replays exactly with `--seed`.
//!
//! Each consumer gets its own stream, derived from the seed and a label, so adding a draw in
//! one place does not shift the values another place sees.

use std::sync::Mutex;

use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha20Rng;
use sha2::{Digest, Sha256};

/// The root of a world's randomness.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
pub struct Seed(pub u64);

impl Seed {
    /// An independent random stream for the consumer called `label` (for example `"ca.nonce"`).
    pub fn stream(self, label: &str) -> SeededRng {
        let mut hasher = Sha256::new();
        hasher.update(b"acmeproof seed v1\0");
        hasher.update(self.0.to_be_bytes());
        hasher.update(label.as_bytes());
        let key: [u8; 32] = hasher.finalize().into();
        SeededRng(Mutex::new(ChaCha20Rng::from_seed(key)))
    }
}

impl Default for Seed {
    fn default() -> Self {
        Seed(0x00ac_3e9f_00f0_0d00)
    }
}

impl std::fmt::Display for Seed {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}", self.0)
    }
}

/// A seeded ChaCha20 stream that can be shared between tasks.
#[derive(Debug)]
pub struct SeededRng(Mutex<ChaCha20Rng>);

impl SeededRng {
    /// `n` random bytes.
    pub fn bytes(&self, n: usize) -> Vec<u8> {
        let mut out = vec![0u8; n];
        self.lock().fill_bytes(&mut out);
        out
    }

    /// A random unsigned 64-bit value.
    pub fn u64(&self) -> u64 {
        self.lock().next_u64()
    }

    /// A value in `0..bound` (`bound` > 0), without modulo bias.
    pub fn below(&self, bound: u64) -> u64 {
        assert!(bound > 0, "below(0)");
        let zone = u64::MAX - (u64::MAX % bound);
        loop {
            let v = self.u64();
            if v < zone {
                return v % bound;
            }
        }
    }

    /// True with probability `percent`/100.
    pub fn chance(&self, percent: u8) -> bool {
        percent > 0 && self.below(100) < u64::from(percent.min(100))
    }

    /// `octets` random octets, base64url without padding: the shape of ACME tokens and nonces.
    pub fn token(&self, octets: usize) -> String {
        acmeproof_protocol::b64url::encode(self.bytes(octets))
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, ChaCha20Rng> {
        // A panic while holding this lock cannot leave the generator half-updated in a way that
        // matters: keep going with the inner value.
        self.0
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn same_seed_and_label_give_the_same_stream() {
        let a = Seed(7).stream("ca.token");
        let b = Seed(7).stream("ca.token");
        assert_eq!(a.bytes(32), b.bytes(32));
    }

    #[test]
    fn labels_and_seeds_separate_streams() {
        assert_ne!(Seed(7).stream("a").bytes(16), Seed(7).stream("b").bytes(16));
        assert_ne!(Seed(7).stream("a").bytes(16), Seed(8).stream("a").bytes(16));
    }

    #[test]
    fn token_is_unpadded_base64url_of_the_asked_length() {
        let t = Seed(1).stream("t").token(16);
        assert_eq!(t.len(), 22);
        assert!(acmeproof_protocol::b64url::is_alphabet(&t));
    }

    #[test]
    fn below_and_chance_stay_in_range() {
        let rng = Seed(3).stream("r");
        assert!((0..1000).all(|_| rng.below(7) < 7));
        assert!(!(0..1000).any(|_| rng.chance(0)));
        assert!((0..1000).all(|_| rng.chance(100)));
    }
}
