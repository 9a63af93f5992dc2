//! Indexes where production code names each requirement constant, for `acmeproof explain` and
//! the reverse-coverage test: every `SMIME_n`, `TLS_n`, `ACME_n` or `MAIL_n` in the non-test
//! code of protocol/, mocks/ and harness/ becomes one entry (id, file, line, enclosing item).
//!
//! Test code is left out: a file is read up to its first `#[cfg(test)]`, which by the
//! workspace's convention opens the trailing test module. `use` lines, comments and the
//! catalogue itself are left out too, so an entry is a place that decides or reports the rule.

use std::fmt::Write as _;
use std::path::{Path, PathBuf};

const FAMILIES: [&str; 4] = ["SMIME", "TLS", "ACME", "MAIL"];
const ROOTS: [&str; 3] = ["protocol/src", "mocks/src", "harness/src"];
const CATALOGUE: &str = "protocol/src/requirements.rs";

fn main() {
    let manifest = PathBuf::from(std::env::var("CARGO_MANIFEST_DIR").expect("set by cargo"));
    let workspace = manifest
        .parent()
        .expect("harness/ has a parent")
        .to_path_buf();
    let mut entries = Vec::new();
    for root in ROOTS {
        let dir = workspace.join(root);
        // Cargo rescans a directory named here for any change below it.
        println!("cargo::rerun-if-changed={}", dir.display());
        let mut files = Vec::new();
        collect_rs(&dir, &mut files);
        files.sort();
        for file in files {
            let rel = file
                .strip_prefix(&workspace)
                .unwrap_or(&file)
                .to_string_lossy()
                .replace('\\', "/");
            if rel == CATALOGUE {
                continue;
            }
            if let Ok(text) = std::fs::read_to_string(&file) {
                index_file(&rel, &text, &mut entries);
            }
        }
    }
    let mut out = String::from("&[\n");
    for (id, path, line, item) in &entries {
        let _ = writeln!(
            out,
            "    Checker {{ id: {id:?}, path: {path:?}, line: {line}, item: {item:?} }},"
        );
    }
    out.push(']');
    let dest = PathBuf::from(std::env::var("OUT_DIR").expect("set by cargo")).join("checkers.rs");
    std::fs::write(dest, out).expect("OUT_DIR is writable");
}

fn collect_rs(dir: &Path, files: &mut Vec<PathBuf>) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    for entry in entries.flatten() {
        let path = entry.path();
        if path.is_dir() {
            collect_rs(&path, files);
        } else if path.extension().is_some_and(|e| e == "rs") {
            files.push(path);
        }
    }
}

/// One entry per (line, id) in the file's non-test code.
fn index_file(rel: &str, text: &str, entries: &mut Vec<(String, String, usize, String)>) {
    let mut item = String::new();
    let mut in_use = false;
    for (n, line) in text.lines().enumerate() {
        let trimmed = line.trim_start();
        if trimmed.starts_with("#[cfg(test)]") {
            break;
        }
        if trimmed.starts_with("//") {
            continue;
        }
        if trimmed.starts_with("use ") || trimmed.starts_with("pub use ") {
            in_use = !trimmed.trim_end().ends_with(';');
            continue;
        }
        if in_use {
            in_use = !trimmed.trim_end().ends_with(';');
            continue;
        }
        if let Some(name) = item_name(trimmed) {
            item = name;
        }
        let code = line.split("//").next().unwrap_or(line);
        for id in constants_in(code) {
            entries.push((id, rel.to_owned(), n + 1, item.clone()));
        }
    }
}

/// The name an item declaration on this line introduces (`fn x`, `static X`, `impl X`, …).
fn item_name(line: &str) -> Option<String> {
    let words: Vec<&str> = line
        .split(|c: char| c.is_whitespace() || c == '(' || c == '<' || c == ':' || c == '{')
        .filter(|w| !w.is_empty())
        .collect();
    let keyword = words
        .iter()
        .position(|w| matches!(*w, "fn" | "static" | "const" | "struct" | "enum" | "impl"))?;
    let prefix_ok = words[..keyword]
        .iter()
        .all(|w| matches!(*w, "pub" | "pub(crate)" | "async" | "unsafe" | "extern"));
    let name = words.get(keyword + 1)?;
    (prefix_ok && name.chars().next()?.is_alphabetic()).then(|| {
        name.trim_end_matches(|c: char| !c.is_alphanumeric() && c != '_')
            .to_owned()
    })
}

/// The ids of the requirement constants named in a piece of code, e.g. `req::SMIME_25`.
fn constants_in(code: &str) -> Vec<String> {
    let mut ids = Vec::new();
    let bytes = code.as_bytes();
    for family in FAMILIES {
        let pattern = format!("{family}_");
        let mut from = 0;
        while let Some(at) = code[from..].find(&pattern) {
            let start = from + at;
            let digits_from = start + pattern.len();
            let digits_to = code[digits_from..]
                .find(|c: char| !c.is_ascii_digit())
                .map_or(code.len(), |i| digits_from + i);
            let boundary_before = start == 0 || !is_ident(bytes[start - 1]);
            let boundary_after = digits_to == code.len() || !is_ident(bytes[digits_to]);
            if digits_to > digits_from && boundary_before && boundary_after {
                ids.push(format!("{family}-{}", &code[digits_from..digits_to]));
            }
            from = digits_from;
        }
    }
    ids
}

fn is_ident(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b == b'_'
}
