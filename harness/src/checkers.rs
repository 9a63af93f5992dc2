//! Where the code decides or reports each requirement: every place the non-test code of
//! protocol/, mocks/ and harness/ names a requirement constant (`req::SMIME_25`), indexed when
//! the harness is built (see `build.rs`). `acmeproof explain SMIME-25` prints them, and the
//! reverse-coverage test asks each MUST and SHOULD row for at least one.

/// One place in the code that names a requirement.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Checker {
    /// The requirement id, e.g. `SMIME-25`.
    pub id: &'static str,
    /// The file, relative to the workspace root.
    pub path: &'static str,
    /// The line, from 1.
    pub line: usize,
    /// The item around it (function, constant, impl), or empty at the top of a file.
    pub item: &'static str,
}

/// Every entry, file by file in path order.
pub static CHECKERS: &[Checker] = include!(concat!(env!("OUT_DIR"), "/checkers.rs"));

/// The places that name `id`.
pub fn checkers_of(id: &str) -> impl Iterator<Item = &'static Checker> + '_ {
    CHECKERS.iter().filter(move |c| c.id == id)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_index_finds_a_known_checker_and_skips_test_code() {
        // RFC 8823 §3.1 item 5: the challenge mail's Auto-Submitted check names SMIME-25.
        let found: Vec<_> = checkers_of(acmeproof_protocol::requirements::SMIME_25).collect();
        assert!(
            found
                .iter()
                .any(|c| c.path.starts_with("protocol/src/smime/")),
            "{found:?}"
        );
        assert!(CHECKERS.iter().all(|c| !c.path.contains("/tests/")));
        // An id no row has (built, so the workspace scan for unknown ids does not see one).
        assert!(checkers_of(&format!("SMIME-{}", 999)).next().is_none());
        // This module's own test names SMIME_25 and must not be indexed.
        assert!(CHECKERS.iter().all(|c| c.path != "harness/src/checkers.rs"));
    }
}
