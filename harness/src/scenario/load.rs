//! Reading scenario files. Every error names the file, and for TOML errors the line and the
//! field, so a typo is one line on the terminal.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use acmeproof_mocks::world::{WorldConfig, one_line};
use acmeproof_protocol::requirements;

use super::LoadedScenario;
use super::model::ScenarioFile;

/// Why scenarios could not be loaded.
#[derive(Debug, thiserror::Error)]
pub enum LoadError {
    /// A file or folder could not be read.
    #[error("{path}: {source}")]
    Read {
        /// Which.
        path: PathBuf,
        /// Why.
        source: std::io::Error,
    },
    /// A file does not say what a scenario must.
    #[error("{path}: {message}")]
    Invalid {
        /// Which.
        path: PathBuf,
        /// What is wrong, with the line when known.
        message: String,
    },
    /// Two files share an id.
    #[error("{first} and {second} both have id {id}")]
    DuplicateId {
        /// The id.
        id: String,
        /// One file.
        first: PathBuf,
        /// The other.
        second: PathBuf,
    },
}

/// Reads one scenario file.
pub fn load_file(path: &Path) -> Result<LoadedScenario, LoadError> {
    let text = std::fs::read_to_string(path).map_err(|source| LoadError::Read {
        path: path.into(),
        source,
    })?;
    parse(path, &text)
}

/// Parses the text of a scenario file found at `path`.
pub fn parse(path: &Path, text: &str) -> Result<LoadedScenario, LoadError> {
    let invalid = |message: String| LoadError::Invalid {
        path: path.into(),
        message,
    };
    let file: ScenarioFile = toml::from_str(text).map_err(|e| invalid(one_line(text, &e)))?;
    let id_ok = file.id.split('/').count() >= 3
        && file.id.split('/').all(|part| {
            !part.is_empty()
                && part
                    .chars()
                    .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || "-._".contains(c))
        });
    if !id_ok {
        return Err(invalid(format!(
            "id {:?}: spec/clause/name in lower case, e.g. rfc8823/3.2/digest-split-lines",
            file.id
        )));
    }
    if file.requirements.is_empty() {
        return Err(invalid(
            "requirements: name at least one requirement id".into(),
        ));
    }
    let named = file
        .requirements
        .iter()
        .map(String::as_str)
        .chain(file.steps.iter().flat_map(|s| s.requirements()));
    for req in named {
        if requirements::lookup(req).is_none() {
            return Err(invalid(format!(
                "requirement {req} is not in the catalogue (protocol/src/requirements.rs)"
            )));
        }
    }
    for name in &file.variants {
        if super::variants::lookup(name).is_none() {
            return Err(invalid(format!(
                "variants: {name:?} is not a variant (known: {})",
                super::variants::names()
            )));
        }
    }
    if file.steps.is_empty() {
        return Err(invalid("no [[step]]: a scenario does something".into()));
    }
    // What the reference implementations get must be something a CI gate accepts: a known
    // failure of theirs goes in a waiver file with its reason, not in the scenario.
    if !file.expect.is_success() || file.expect == acmeproof_reports::Outcome::Xfail {
        return Err(invalid(format!(
            "expect = {:?}: pass, pass-non-strict, informational or skipped (a known failure \
             goes in a waiver file, with its reason)",
            file.expect.as_str()
        )));
    }
    let world =
        WorldConfig::example_with(&file.world).map_err(|e| invalid(format!("[world]: {e}")))?;
    Ok(LoadedScenario {
        path: path.into(),
        file,
        world,
        source: text.to_owned(),
        client_values: Vec::new(),
    })
}

/// Every `*.toml` under `dir` (recursively, `README`s and other files ignored), sorted by id.
pub fn load_dir(dir: &Path) -> Result<Vec<LoadedScenario>, LoadError> {
    let mut paths = Vec::new();
    collect(dir, &mut paths)?;
    paths.sort();
    let mut by_id: BTreeMap<String, LoadedScenario> = BTreeMap::new();
    for path in paths {
        let scenario = load_file(&path)?;
        if let Some(first) = by_id.get(&scenario.file.id) {
            return Err(LoadError::DuplicateId {
                id: scenario.file.id.clone(),
                first: first.path.clone(),
                second: path,
            });
        }
        by_id.insert(scenario.file.id.clone(), scenario);
    }
    Ok(by_id.into_values().collect())
}

fn collect(dir: &Path, out: &mut Vec<PathBuf>) -> Result<(), LoadError> {
    let read = |e| LoadError::Read {
        path: dir.into(),
        source: e,
    };
    for entry in std::fs::read_dir(dir).map_err(read)? {
        let path = entry.map_err(read)?.path();
        if path.is_dir() {
            collect(&path, out)?;
        } else if path.extension().is_some_and(|e| e == "toml") {
            out.push(path);
        }
    }
    Ok(())
}
