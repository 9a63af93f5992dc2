//! Per-name faults: how the server misbehaves for one query name.

use serde::{Deserialize, Serialize};

/// A fault applied to every query for one name (exact match, case-insensitive).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Fault {
    /// Answer with RCODE SERVFAIL and no records.
    #[serde(rename = "servfail")]
    ServFail,
    /// Send nothing at all, so the client times out.
    NoAnswer,
    /// Over UDP, answer with TC=1 and no records (RFC 1035 §4.2.1: the client retries over
    /// TCP); over TCP, answer normally.
    Truncate,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn serde_names() {
        #[derive(Deserialize)]
        struct T {
            f: Vec<Fault>,
        }
        let t: T = toml::from_str(r#"f = ["servfail", "no-answer", "truncate"]"#).unwrap();
        assert_eq!(t.f, vec![Fault::ServFail, Fault::NoAnswer, Fault::Truncate]);
        assert!(toml::from_str::<T>(r#"f = ["explode"]"#).is_err());
    }
}
