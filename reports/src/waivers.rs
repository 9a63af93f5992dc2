//! Waiver files: scenario-id globs mapped to the reason a failure is expected (→ `xfail`).
//!
//! ```toml
//! [[waiver]]
//! id = "rfc8823/3.2/*"
//! reason = "my-client joins the token as a string only (issue #12)"
//! ```
//!
//! A waiver without a reason is an error: an unexplained waiver is how known failures become
//! forgotten ones. `*` matches any run of characters, `/` included; nothing else is special.

use serde::Deserialize;

use crate::model::{ScenarioResult, apply_waiver};

/// One waiver: a glob over scenario ids and why those scenarios are expected to fail.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Waiver {
    /// The scenario-id glob, e.g. `rfc8823/3.2/*`.
    pub id: String,
    /// Why, in one line.
    pub reason: String,
}

/// The waivers of one file, in file order; the first match wins.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Waivers {
    /// The waivers.
    pub waivers: Vec<Waiver>,
}

/// Why a waiver file was refused.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum WaiverError {
    /// Not TOML of the expected shape.
    #[error("waiver file is not valid: {0}")]
    Toml(#[from] toml::de::Error),
    /// An entry with no `id`, or an empty one.
    #[error("waiver #{entry}: `id` is missing or empty")]
    MissingId {
        /// The entry's position, from 1.
        entry: usize,
    },
    /// An entry with no `reason`, or a blank one.
    #[error("waiver #{entry} (id = {id:?}): `reason` is missing or empty")]
    MissingReason {
        /// The entry's position, from 1.
        entry: usize,
        /// Its id glob.
        id: String,
    },
    /// The file could not be read.
    #[error("cannot read waiver file {path}: {source}")]
    Io {
        /// The path given.
        path: String,
        /// What went wrong.
        source: std::io::Error,
    },
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct File {
    #[serde(default)]
    waiver: Vec<Entry>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Entry {
    id: Option<String>,
    reason: Option<String>,
}

impl Waivers {
    /// Parses a waiver file's text.
    pub fn parse(text: &str) -> Result<Self, WaiverError> {
        let file: File = toml::from_str(text)?;
        let mut waivers = Vec::with_capacity(file.waiver.len());
        for (i, e) in file.waiver.into_iter().enumerate() {
            let entry = i + 1;
            let id = match e.id {
                Some(id) if !id.trim().is_empty() => id,
                _ => return Err(WaiverError::MissingId { entry }),
            };
            let reason = match e.reason {
                Some(r) if !r.trim().is_empty() => r.trim().to_owned(),
                _ => return Err(WaiverError::MissingReason { entry, id }),
            };
            waivers.push(Waiver { id, reason });
        }
        Ok(Waivers { waivers })
    }

    /// Reads and parses a waiver file.
    pub fn load(path: &std::path::Path) -> Result<Self, WaiverError> {
        let text = std::fs::read_to_string(path).map_err(|source| WaiverError::Io {
            path: path.display().to_string(),
            source,
        })?;
        Self::parse(&text)
    }

    /// The reason of the first waiver whose glob matches `id`.
    pub fn reason_for(&self, id: &str) -> Option<&str> {
        self.waivers
            .iter()
            .find(|w| glob_match(&w.id, id))
            .map(|w| w.reason.as_str())
    }

    /// Applies the matching waiver, if any, to a scenario result: records its reason and turns
    /// the outcome into `xfail`/`xpass` ([`apply_waiver`]).
    pub fn apply(&self, scenario: &mut ScenarioResult) {
        if let Some(reason) = self.reason_for(&scenario.id) {
            scenario.waiver = Some(reason.to_owned());
            scenario.outcome = apply_waiver(scenario.outcome, true);
        }
    }

    /// The waivers that match none of `ids`: candidates for deletion.
    pub fn unused<'a>(&'a self, ids: &[&str]) -> Vec<&'a Waiver> {
        self.waivers
            .iter()
            .filter(|w| !ids.iter().any(|id| glob_match(&w.id, id)))
            .collect()
    }
}

/// Whether `text` matches `pattern`, where `*` matches any run of characters (none included).
pub fn glob_match(pattern: &str, text: &str) -> bool {
    let mut parts = pattern.split('*');
    // `split` always yields at least one item.
    let first = parts.next().unwrap_or("");
    let Some(mut rest) = text.strip_prefix(first) else {
        return false;
    };
    let parts: Vec<&str> = parts.collect();
    let Some((last, middle)) = parts.split_last() else {
        // No `*`: the whole text must be the literal.
        return rest.is_empty();
    };
    for part in middle {
        match rest.find(part) {
            Some(at) => rest = &rest[at + part.len()..],
            None => return false,
        }
    }
    rest.len() >= last.len() && rest.ends_with(last)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{Outcome, Role};

    #[test]
    fn globs() {
        assert!(glob_match("rfc8823/3.2/x", "rfc8823/3.2/x"));
        assert!(!glob_match("rfc8823/3.2/x", "rfc8823/3.2/xy"));
        assert!(glob_match("rfc8823/*", "rfc8823/3.2/x"));
        assert!(glob_match("*", ""));
        assert!(glob_match("*/3.2/*", "rfc8823/3.2/digest"));
        assert!(!glob_match("*/3.2/*", "rfc8823/3.3/digest"));
        assert!(glob_match("rfc*/*-lines", "rfc8823/3.2/digest-split-lines"));
        assert!(!glob_match(
            "rfc*/*-lines",
            "rfc8823/3.2/digest-split-lines2"
        ));
        assert!(glob_match("a*a", "aa"));
        assert!(!glob_match("a*a", "a"));
        assert!(glob_match("**", "x"));
    }

    #[test]
    fn first_match_wins_and_apply_sets_xfail_or_xpass() {
        let w = Waivers::parse(
            r#"
            [[waiver]]
            id = "rfc8823/3.2/*"
            reason = "  joins tokens as strings only  "
            [[waiver]]
            id = "rfc8823/*"
            reason = "second"
            "#,
        )
        .unwrap();
        assert_eq!(
            w.reason_for("rfc8823/3.2/x"),
            Some("joins tokens as strings only")
        );
        assert_eq!(w.reason_for("rfc8823/4/x"), Some("second"));
        assert_eq!(w.reason_for("rfc8555/6.5/x"), None);

        let mut s = ScenarioResult::new("rfc8823/3.2/x", "t", Role::Client);
        s.outcome = Outcome::Fail;
        w.apply(&mut s);
        assert_eq!(s.outcome, Outcome::Xfail);
        assert_eq!(s.waiver.as_deref(), Some("joins tokens as strings only"));
        let mut s = ScenarioResult::new("rfc8823/4/x", "t", Role::Client);
        w.apply(&mut s);
        assert_eq!(s.outcome, Outcome::Xpass);
        let mut s = ScenarioResult::new("rfc8555/1/x", "t", Role::Client);
        w.apply(&mut s);
        assert_eq!((s.outcome, s.waiver), (Outcome::Pass, None));

        let unused = w.unused(&["rfc8823/3.2/x"]);
        assert_eq!(unused.len(), 0);
        let unused = w.unused(&["rfc8555/1/x"]);
        assert_eq!(unused.len(), 2);
    }

    #[test]
    fn missing_or_blank_reason_names_the_entry() {
        for body in ["", "reason = \"   \""] {
            let text = format!(
                "[[waiver]]\nid = \"a\"\nreason = \"ok\"\n[[waiver]]\nid = \"rfc8823/*\"\n{body}\n"
            );
            let err = Waivers::parse(&text).unwrap_err();
            assert!(
                matches!(&err, WaiverError::MissingReason { entry: 2, id } if id == "rfc8823/*"),
                "{err:?}"
            );
            assert_eq!(
                err.to_string(),
                "waiver #2 (id = \"rfc8823/*\"): `reason` is missing or empty"
            );
        }
    }

    #[test]
    fn missing_id_unknown_keys_and_empty_file() {
        let err = Waivers::parse("[[waiver]]\nreason = \"r\"\n").unwrap_err();
        assert!(
            matches!(err, WaiverError::MissingId { entry: 1 }),
            "{err:?}"
        );
        let err = Waivers::parse("[[waiver]]\nid = \"a\"\nreason = \"r\"\nwhy = 1\n").unwrap_err();
        assert!(matches!(err, WaiverError::Toml(_)), "{err:?}");
        assert_eq!(Waivers::parse("").unwrap(), Waivers::default());
    }
}
