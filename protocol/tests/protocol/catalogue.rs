//! Every requirement id mentioned anywhere in the workspace exists in the catalogue, and
//! production code names one by its constant, never by a string literal.
//!
//! Findings, scenario files, fixtures and comments name requirements by id (`SMIME-28`); a typo
//! or a renumbering would otherwise only show up as a finding reported at the wrong level.

use std::fs;
use std::path::{Path, PathBuf};

use acmeproof_protocol::requirements::{ids_in, lookup};

/// Folders holding Rust code, scanned for `*.rs`.
const CODE_DIRS: &[&str] = &["protocol", "mocks", "harness", "reports"];
/// Folders holding data, scanned for these extensions.
const DATA_DIRS: &[&str] = &["scenarios", "fixtures"];
const DATA_EXTS: &[&str] = &["toml", "json", "md", "eml", "yaml"];
/// Files that mention made-up ids on purpose (the catalogue itself and this test).
const SKIPPED: &[&str] = &[
    "protocol/src/requirements.rs",
    "protocol/tests/protocol/catalogue.rs",
];

/// `label:line: id` for every id in `text` that the catalogue does not know.
fn unknown_ids(label: &str, text: &str) -> Vec<String> {
    text.lines()
        .enumerate()
        .flat_map(|(n, line)| {
            ids_in(line)
                .into_iter()
                .filter(|id| lookup(id).is_none())
                .map(move |id| format!("{label}:{}: {id}", n + 1))
        })
        .collect()
}

/// The workspace-relative path with `/` separators, for labels and the skip list.
fn relative(root: &Path, path: &Path) -> String {
    let rel = path.strip_prefix(root).unwrap_or(path);
    rel.components()
        .map(|c| c.as_os_str().to_string_lossy())
        .collect::<Vec<_>>()
        .join("/")
}

/// Collects files under `dir` whose extension is in `exts`, skipping `target/` and hidden
/// folders. I/O errors are recorded in `problems` rather than panicking mid-walk.
fn walk(dir: &Path, exts: &[&str], files: &mut Vec<PathBuf>, problems: &mut Vec<String>) {
    let entries = match fs::read_dir(dir) {
        Ok(entries) => entries,
        Err(e) => {
            problems.push(format!("{}: {e}", dir.display()));
            return;
        }
    };
    for entry in entries {
        let entry = match entry {
            Ok(entry) => entry,
            Err(e) => {
                problems.push(format!("{}: {e}", dir.display()));
                continue;
            }
        };
        let path = entry.path();
        let name = entry.file_name();
        let name = name.to_string_lossy();
        if path.is_dir() {
            if name != "target" && !name.starts_with('.') {
                walk(&path, exts, files, problems);
            }
        } else if path
            .extension()
            .is_some_and(|e| exts.iter().any(|x| e == *x))
        {
            files.push(path);
        }
    }
}

#[test]
fn every_id_in_the_workspace_is_in_the_catalogue() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
    let mut files = Vec::new();
    let mut problems = Vec::new();
    let plan = CODE_DIRS
        .iter()
        .map(|d| (*d, &["rs"][..]))
        .chain(DATA_DIRS.iter().map(|d| (*d, DATA_EXTS)));
    for (dir, exts) in plan {
        let dir = root.join(dir);
        // A folder nobody has created yet is fine.
        if dir.is_dir() {
            walk(&dir, exts, &mut files, &mut problems);
        }
    }
    files.sort();

    let mut scanned = 0;
    for path in &files {
        let label = relative(&root, path);
        if SKIPPED.contains(&label.as_str()) {
            continue;
        }
        match fs::read(path) {
            // Mail fixtures need not be UTF-8; ids are ASCII, so a lossy read finds them all.
            Ok(bytes) => {
                problems.extend(unknown_ids(&label, &String::from_utf8_lossy(&bytes)));
                scanned += 1;
            }
            Err(e) => problems.push(format!("{label}: {e}")),
        }
    }

    // The walk must have seen this crate's sources, or the test would pass vacuously.
    assert!(
        files
            .iter()
            .any(|p| relative(&root, p) == "protocol/src/lib.rs"),
        "walk did not reach protocol/src/lib.rs (root {})",
        root.display()
    );
    assert!(scanned > 0, "no files scanned");
    assert!(
        problems.is_empty(),
        "ids missing from the catalogue (or unreadable files):\n{}",
        problems.join("\n")
    );
}

#[test]
fn the_scanner_reports_unknown_ids() {
    let text = "known SMIME-28 and TLS-16\nunknown SMIME-999, ACME-0\nlook-alike XSMIME-999";
    assert_eq!(
        unknown_ids("demo.md", text),
        ["demo.md:2: SMIME-999", "demo.md:2: ACME-0"]
    );
    assert!(unknown_ids("demo.md", "SMIME-1 MAIL-6 ACME-34").is_empty());
}

#[test]
fn the_skip_list_names_real_files() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
    for file in SKIPPED {
        assert!(root.join(file).is_file(), "{file} does not exist");
    }
}

/// `label:line` for every string literal in `text` that is exactly an id (`"SMIME-25"`), in the
/// code before the file's first `#[cfg(test)]` (the trailing test module, by convention).
fn id_literals(label: &str, text: &str) -> Vec<String> {
    text.lines()
        .take_while(|line| !line.trim_start().starts_with("#[cfg(test)]"))
        .enumerate()
        .filter(|(_, line)| !line.trim_start().starts_with("//"))
        .flat_map(|(n, line)| {
            ids_in(line)
                .into_iter()
                .filter(move |id| line.contains(&format!("\"{id}\"")))
                .map(move |id| format!("{label}:{}: \"{id}\"", n + 1))
        })
        .collect()
}

#[test]
fn production_code_names_ids_by_constant_never_by_literal() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
    let mut files = Vec::new();
    let mut problems = Vec::new();
    for dir in CODE_DIRS {
        walk(
            &root.join(dir).join("src"),
            &["rs"],
            &mut files,
            &mut problems,
        );
    }
    files.sort();
    assert!(
        files.len() > 50,
        "the walk found only {} files",
        files.len()
    );
    for path in &files {
        let label = relative(&root, path);
        if label == "protocol/src/requirements.rs" {
            continue;
        }
        match fs::read_to_string(path) {
            Ok(text) => problems.extend(id_literals(&label, &text)),
            Err(e) => problems.push(format!("{label}: {e}")),
        }
    }
    assert!(
        problems.is_empty(),
        "use the constant (`req::SMIME_25`) instead of the literal id:\n{}",
        problems.join("\n")
    );
}

#[test]
fn the_literal_scanner_fires_on_a_literal_and_not_on_tests_or_comments() {
    let text = "let a = \"SMIME-25\";\nlet b = req::SMIME_25;\n// see \"TLS-1\"\n\
                let c = format!(\"SMIME-25 and more\");\n#[cfg(test)]\nlet d = \"ACME-1\";";
    assert_eq!(id_literals("x.rs", text), ["x.rs:1: \"SMIME-25\""]);
}
