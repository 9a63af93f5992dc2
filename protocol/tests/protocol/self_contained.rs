//! The repository stands alone: no code, comment or document points at a file a clone does not
//! have (notes kept beside the repository while it was written, by name or by path). What a
//! reader needs is written into `docs/`, the README or the requirement catalogue instead.

use std::fs;
use std::path::{Path, PathBuf};

/// Names and paths of documents that live outside the repository. Each is written in two
/// halves, so that this file, which must name them, does not itself cite them.
const OUTSIDE: &[&str] = &[
    concat!("DESIGN", ".md"),
    concat!("crates", ".md"),
    concat!("peers", ".md"),
    concat!("style", ".md"),
    concat!("acme-email", "-digest"),
    concat!("..", "/shared"),
    concat!("shared", "/spec"),
    concat!("shared", "/notes"),
    concat!("shared", "/seeds"),
    concat!("digest", " §"),
    // The machine the repository was written on: its workspace and tool library.
    concat!(" /wo", "rk/"),
    concat!("`/wo", "rk/"),
    concat!("\"/wo", "rk/"),
    concat!(".lib", "rary/"),
];

/// What to read: text files by extension, and the CI scripts (which have none).
const EXTS: &[&str] = &[
    "rs", "md", "toml", "json", "yaml", "yml", "py", "sh", "txt", "eml", "html", "xsd",
];

/// `label:line: text` for every line of `text` that points outside the repository.
fn outside_references(label: &str, text: &str) -> Vec<String> {
    text.lines()
        .enumerate()
        .filter(|(_, line)| OUTSIDE.iter().any(|p| line.contains(p)))
        .map(|(n, line)| format!("{label}:{}: {}", n + 1, line.trim()))
        .collect()
}

/// Every file under `dir` worth reading, skipping `target/` and hidden folders but `.ci`.
fn walk(dir: &Path, files: &mut Vec<PathBuf>) {
    let Ok(entries) = fs::read_dir(dir) else {
        return;
    };
    for entry in entries.flatten() {
        let path = entry.path();
        let name = entry.file_name().to_string_lossy().into_owned();
        if path.is_dir() {
            if name != "target" && (name == ".ci" || !name.starts_with('.')) {
                walk(&path, files);
            }
        } else if path
            .parent()
            .and_then(Path::file_name)
            .is_some_and(|n| n == ".ci")
            || path
                .extension()
                .is_some_and(|e| EXTS.iter().any(|x| e == *x))
        {
            files.push(path);
        }
    }
}

#[test]
fn no_file_points_outside_the_repository() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
    let mut files = Vec::new();
    walk(&root, &mut files);
    let mut found = Vec::new();
    let mut read = 0;
    for path in &files {
        let label = path
            .strip_prefix(&root)
            .unwrap_or(path)
            .to_string_lossy()
            .replace('\\', "/");
        if let Ok(bytes) = fs::read(path) {
            found.extend(outside_references(&label, &String::from_utf8_lossy(&bytes)));
            read += 1;
        }
    }
    // The walk reached the code, the docs and the CI scripts, or the test proves nothing.
    for must in ["README.md", "protocol/src/requirements.rs", ".ci/run"] {
        assert!(
            files.iter().any(|p| p.ends_with(must)),
            "the walk missed {must}"
        );
    }
    assert!(read > 100, "only {read} files read");
    assert!(
        found.is_empty(),
        "references to documents outside the repository:\n{}",
        found.join("\n")
    );
}

#[test]
fn the_scanner_fires_on_outside_references_and_stays_quiet_otherwise() {
    // The scanner's own patterns, put into text, are what it must report.
    let text = format!(
        "see {} for why\nplain text\n({}1.7)\nour docs/architecture.md\n",
        OUTSIDE[0], OUTSIDE[9]
    );
    assert_eq!(
        outside_references("f", &text),
        [
            format!("f:1: see {} for why", OUTSIDE[0]),
            format!("f:3: ({}1.7)", OUTSIDE[9]),
        ]
    );
    assert!(outside_references("f", "RFC 8823 §3.2: the digest is base64url").is_empty());
}
