//! What the tests that drive third-party tools (curl, swaks, …) share: a scratch folder and a
//! bounded run.

use std::path::PathBuf;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

static TMP: AtomicUsize = AtomicUsize::new(0);

/// A fresh folder under the system temp dir, named for `area`.
pub fn temp_dir(area: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!(
        "acmeproof-{area}-{}-{}",
        std::process::id(),
        TMP.fetch_add(1, Ordering::Relaxed)
    ));
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// Runs a tool with a deadline; returns (success, stdout+stderr).
pub async fn run(program: &std::path::Path, args: &[&str]) -> (bool, String) {
    let out = tokio::time::timeout(
        Duration::from_secs(60),
        tokio::process::Command::new(program)
            .args(args)
            .kill_on_drop(true)
            .output(),
    )
    .await
    .expect("tool finished in time")
    .expect("tool ran");
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    (out.status.success(), text)
}
