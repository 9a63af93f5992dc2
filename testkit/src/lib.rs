//! # acmeproof-testkit
//!
//! Helpers that only tests use. The one rule they carry: a test that needs a third-party tool
//! (dig, nsupdate, certbot, lego, swaks, ...) skips with "skipped: X not installed" when the tool
//! is missing, so `cargo test --workspace` passes on a bare machine, but fails when
//! `ACMEPROOF_REQUIRE_TOOLS=1` is set (as `.ci/run` does), so CI always runs it.
//!
//! It also picks the fixed loopback ports a third-party program is configured with
//! ([`fixed_ports`]), where no parallel test's connection can take them first.
//!
//! Depends on: nothing of acmeproof. Must not: be a normal dependency of any crate (it is a
//! dev-dependency only, docs/architecture.md).
#![forbid(unsafe_code)]
#![allow(clippy::print_stderr)]

mod ports;

pub use ports::{fixed_port, fixed_ports};

use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

/// The environment variable that turns a missing-tool skip into a failure.
pub const REQUIRE_TOOLS_ENV: &str = "ACMEPROOF_REQUIRE_TOOLS";

/// Finds `name` on `PATH` (or, for a name with a slash, checks that file).
pub fn find_tool(name: &str) -> Option<PathBuf> {
    if name.contains('/') {
        let path = PathBuf::from(name);
        return is_executable(&path).then_some(path);
    }
    let path = std::env::var_os("PATH")?;
    std::env::split_paths(&path)
        .map(|dir| dir.join(name))
        .find(|candidate| is_executable(candidate))
}

fn is_executable(path: &Path) -> bool {
    use std::os::unix::fs::PermissionsExt;
    path.metadata()
        .map(|m| m.is_file() && m.permissions().mode() & 0o111 != 0)
        .unwrap_or(false)
}

/// Whether the current run must fail instead of skipping when a tool is missing.
pub fn tools_required() -> bool {
    std::env::var(REQUIRE_TOOLS_ENV).is_ok_and(|v| !v.is_empty() && v != "0")
}

/// Returns the tool's path, or `None` after printing "skipped: NAME not installed".
///
/// # Panics
/// When the tool is missing and [`tools_required`] is true: in CI a skipped tool test is a
/// failure, not a pass.
pub fn require_tool(name: &str) -> Option<PathBuf> {
    if let Some(path) = find_tool(name) {
        return Some(path);
    }
    if tools_required() {
        panic!("{name} not installed, and {REQUIRE_TOOLS_ENV} is set: install it (see .ci/run)");
    }
    eprintln!("skipped: {name} not installed");
    None
}

/// Like [`require_tool`], for a test that needs several tools at once.
pub fn require_tools(names: &[&str]) -> Option<Vec<PathBuf>> {
    let mut found = Vec::with_capacity(names.len());
    for name in names {
        found.push(require_tool(name)?);
    }
    Some(found)
}

/// Returns the `python3` on `PATH` when it imports every module of `modules`, or `None` after
/// printing "skipped: python3 with MODULES not installed" (a panic when [`tools_required`]).
pub fn require_python(modules: &[&str]) -> Option<PathBuf> {
    let python = find_tool("python3");
    if python
        .as_deref()
        .is_some_and(|p| python_imports(p, modules))
    {
        return python;
    }
    let what = format!("python3 with {}", modules.join(", "));
    if tools_required() {
        panic!("{what} not installed, and {REQUIRE_TOOLS_ENV} is set: install it (see .ci/run)");
    }
    eprintln!("skipped: {what} not installed");
    None
}

/// Returns the `python3` on `PATH` when it imports `module` (a Python package under test, like
/// acme2certifier), or `None` after printing "skipped: MODULE not installed" (a panic when
/// [`tools_required`]).
pub fn require_python_package(module: &str) -> Option<PathBuf> {
    let python = find_tool("python3").filter(|p| python_imports(p, &[module]));
    if python.is_none() {
        if tools_required() {
            panic!(
                "{module} not installed, and {REQUIRE_TOOLS_ENV} is set: install it (see .ci/run)"
            );
        }
        eprintln!("skipped: {module} not installed");
    }
    python
}

/// Whether `python` imports every module of `modules`.
pub fn python_imports(python: &Path, modules: &[&str]) -> bool {
    std::process::Command::new(python)
        .args(["-c", &format!("import {}", modules.join(", "))])
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .status()
        .is_ok_and(|s| s.success())
}

/// Runs `command` to its end with stdout and stderr captured, killing it after `limit`.
///
/// # Errors
/// When it cannot start, or is still running after `limit` (then it is killed).
pub fn output_within(command: &mut Command, limit: Duration) -> Result<Output, String> {
    let mut child = command
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .map_err(|e| format!("cannot start {command:?}: {e}"))?;
    // Drained on threads so a chatty tool never blocks on a full pipe while we wait.
    let drain = |pipe: Option<Box<dyn Read + Send>>| {
        std::thread::spawn(move || {
            let mut bytes = Vec::new();
            if let Some(mut pipe) = pipe {
                let _ = pipe.read_to_end(&mut bytes);
            }
            bytes
        })
    };
    let stdout = drain(
        child
            .stdout
            .take()
            .map(|p| Box::new(p) as Box<dyn Read + Send>),
    );
    let stderr = drain(
        child
            .stderr
            .take()
            .map(|p| Box::new(p) as Box<dyn Read + Send>),
    );
    let deadline = Instant::now() + limit;
    let status = loop {
        match child.try_wait() {
            Ok(Some(status)) => break status,
            Ok(None) if Instant::now() < deadline => std::thread::sleep(Duration::from_millis(20)),
            Ok(None) => {
                let _ = child.kill();
                let _ = child.wait();
                return Err(format!("{command:?} still running after {limit:?}: killed"));
            }
            Err(e) => return Err(format!("cannot wait for {command:?}: {e}")),
        }
    };
    Ok(Output {
        status,
        stdout: stdout.join().unwrap_or_default(),
        stderr: stderr.join().unwrap_or_default(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_sh_and_not_a_made_up_tool() {
        assert!(find_tool("sh").is_some());
        assert!(find_tool("acmeproof-no-such-tool-xyz").is_none());
        assert!(find_tool("/bin/sh").is_some());
        assert!(find_tool("/nonexistent/sh").is_none());
    }

    #[test]
    fn output_within_captures_and_kills_at_the_limit() {
        let out = output_within(
            Command::new("sh").args(["-c", "echo out; echo err >&2; exit 3"]),
            Duration::from_secs(10),
        )
        .unwrap();
        assert_eq!(out.status.code(), Some(3));
        assert_eq!(
            (&out.stdout[..], &out.stderr[..]),
            (&b"out\n"[..], &b"err\n"[..])
        );
        let started = Instant::now();
        let err = output_within(
            Command::new("sh").args(["-c", "sleep 30"]),
            Duration::from_millis(200),
        )
        .unwrap_err();
        assert!(err.contains("killed"), "{err}");
        assert!(started.elapsed() < Duration::from_secs(10));
    }

    #[test]
    fn python_imports_tells_a_present_module_from_a_missing_one() {
        let Some(python) = find_tool("python3") else {
            eprintln!("skipped: python3 not installed");
            return;
        };
        assert!(python_imports(&python, &["json", "os"]));
        assert!(!python_imports(
            &python,
            &["json", "acmeproof_no_such_module_xyz"]
        ));
    }
}
