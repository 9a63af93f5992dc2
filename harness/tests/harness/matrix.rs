//! `acmeproof matrix`: the open-issue explorer. Each matrix is run for real (a fresh world per
//! cell and scenario) and its cells are read back from `matrix.json`.

use std::path::{Path, PathBuf};
use std::process::Command;

use serde_json::Value;

fn out_dir(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("acmeproof-matrix-{}-{name}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    dir
}

/// Runs `acmeproof matrix` and returns its exit code, stdout and `matrix.json`.
fn matrix(name: &str, args: &[&str]) -> (i32, String, Value) {
    let out = out_dir(name);
    let output = Command::new(env!("CARGO_BIN_EXE_acmeproof"))
        .arg("matrix")
        .args(args)
        .arg("--scenarios")
        .arg(Path::new(env!("CARGO_MANIFEST_DIR")).join("../scenarios"))
        .arg("--out")
        .arg(&out)
        .output()
        .expect("acmeproof runs");
    let stdout = String::from_utf8_lossy(&output.stdout).into_owned();
    let json = std::fs::read_to_string(out.join("matrix.json"))
        .ok()
        .and_then(|t| serde_json::from_str(&t).ok())
        .unwrap_or(Value::Null);
    assert!(out.join("matrix.html").is_file() || output.status.code() != Some(0));
    (output.status.code().unwrap_or(-1), stdout, json)
}

/// The cell of `client` × `ca` (one variant).
fn cell<'a>(m: &'a Value, client: &str, ca: &str) -> &'a Value {
    m["cells"]
        .as_array()
        .expect("cells")
        .iter()
        .find(|c| c["client"][0] == client && c["ca"][0] == ca)
        .unwrap_or_else(|| panic!("no cell {client} × {ca}"))
}

fn ok(cell: &Value) -> bool {
    cell["runs"].as_array().expect("runs").iter().all(|r| {
        ["pass", "pass-non-strict", "informational", "skipped"]
            .contains(&r["outcome"].as_str().unwrap_or_default())
    })
}

fn findings(cell: &Value) -> String {
    cell["runs"].to_string()
}

#[test]
fn token_join_string_against_binary_fails_on_the_digest_and_either_passes() {
    let (code, stdout, m) = matrix("join", &["--variants", "token_join"]);
    assert_eq!(code, 0, "{stdout}");
    assert_eq!(m["clients"].as_array().map(Vec::len), Some(2));
    assert_eq!(m["cas"].as_array().map(Vec::len), Some(3));
    for (client, ca, pass) in [
        ("string", "string", true),
        ("string", "binary", false),
        ("string", "either", true),
        ("binary", "string", false),
        ("binary", "binary", true),
        ("binary", "either", true),
    ] {
        let c = cell(&m, client, ca);
        assert_eq!(ok(c), pass, "{client} × {ca}: {c:#}");
        if !pass {
            let text = findings(c);
            assert!(
                text.contains("incorrectResponse") && text.contains("the digest"),
                "{text}"
            );
        }
    }
    // The Markdown on stdout is the table a draft author takes to the meeting.
    assert!(
        stdout.contains("| **string** | ✅ 1/1 | ❌ 1/1 fail"),
        "{stdout}"
    );
}

#[test]
fn service_port_in_hash_passes_only_when_both_sides_agree() {
    let (code, _, m) = matrix(
        "hash",
        &[
            "--variants",
            "service_port_in_hash",
            "email-tls/3.4/capability-imap-implicit-tls",
        ],
    );
    assert_eq!(code, 0);
    for (client, ca, pass) in [
        ("no", "no", true),
        ("no", "yes", false),
        ("yes", "no", false),
        ("yes", "yes", true),
    ] {
        let c = cell(&m, client, ca);
        assert_eq!(ok(c), pass, "{client} × {ca}: {c:#}");
        if !pass {
            assert!(findings(c).contains("digest mismatch"), "{c:#}");
        }
    }
}

#[test]
fn one_cert_tls_and_starttls_shows_its_trade_off() {
    let (code, _, m) = matrix(
        "twins",
        &[
            "--variants",
            "one_cert_tls_and_starttls",
            "email-tls/3.4/capability-imap-implicit-tls",
        ],
    );
    assert_eq!(code, 0);
    assert!(ok(cell(&m, "one-service", "refuse")));
    assert!(ok(cell(&m, "one-service", "allow")));
    // Both ports in one order: one certificate with both SRV-IDs, or a refusal.
    assert!(ok(cell(&m, "tls-and-starttls", "allow")));
    let refused = cell(&m, "tls-and-starttls", "refuse");
    assert!(!ok(refused));
    assert!(
        findings(refused).contains("rejectedIdentifier"),
        "{refused:#}"
    );
}

/// The draft's placement (the challenge POST, Figure 1) against acmeproof's newOrder proposal:
/// they meet wherever the CA reads the place the client writes (`both` takes either), and the
/// two cells where they do not meet say why.
#[test]
fn service_field_crosses_the_drafts_placement_with_the_new_order_proposal() {
    let (code, _, m) = matrix(
        "service-field",
        &[
            "--variants",
            "service_field",
            "email-tls/3.4/capability-imaps-993",
        ],
    );
    assert_eq!(code, 0);
    for client in ["challenge-payload", "challenge-header", "new-order"] {
        assert!(ok(cell(&m, client, "both")), "{client} × both");
    }
    for client in ["challenge-payload", "challenge-header"] {
        assert!(ok(cell(&m, client, "challenge")), "{client} × challenge");
        // A CA that reads only newOrder gives a plain dns order no email-tls challenge.
        let c = cell(&m, client, "new-order");
        assert!(!ok(c));
        assert!(findings(c).contains("no capability-imap-00"), "{c:#}");
    }
    assert!(ok(cell(&m, "new-order", "new-order")));
    // A CA that follows the draft refuses service/port at newOrder, naming the knob.
    let c = cell(&m, "new-order", "challenge");
    assert!(!ok(c));
    assert!(findings(c).contains("service_field = challenge"), "{c:#}");
}

#[test]
fn two_variants_cross_their_values_and_bad_names_are_refused() {
    let (code, _, m) = matrix(
        "two",
        &[
            "--variants",
            "service_field,service_port_in_hash",
            "email-tls/3.4/capability-imap-implicit-tls",
        ],
    );
    assert_eq!(code, 0);
    assert_eq!(m["clients"].as_array().map(Vec::len), Some(6));
    assert_eq!(m["cas"].as_array().map(Vec::len), Some(6));
    let (code, _, _) = matrix("bad", &["--variants", "token-join"]);
    assert_eq!(code, 2);
}

#[test]
fn chromium_renders_the_matrix_page_with_its_failing_cells() {
    let Some(chromium) = acmeproof_testkit::require_tool("chromium") else {
        return;
    };
    let out = out_dir("chromium");
    let (code, _, _) = {
        let output = Command::new(env!("CARGO_BIN_EXE_acmeproof"))
            .args(["matrix", "--variants", "token_join", "--out"])
            .arg(&out)
            .arg("--scenarios")
            .arg(Path::new(env!("CARGO_MANIFEST_DIR")).join("../scenarios"))
            .output()
            .expect("acmeproof runs");
        (output.status.code().unwrap_or(-1), (), ())
    };
    assert_eq!(code, 0);
    let dom = crate::support::chromium(&chromium, &out.join("profile"))
        .arg("--dump-dom")
        .arg(format!("file://{}", out.join("matrix.html").display()))
        .output()
        .expect("chromium runs");
    let dom = String::from_utf8_lossy(&dom.stdout);
    assert!(dom.contains("<table id=\"matrix\">"), "{dom}");
    // Two red cells (string × binary, binary × string), each saying why.
    assert_eq!(dom.matches("class=\"fail\"").count(), 2, "{dom}");
    assert_eq!(dom.matches("class=\"ok\"").count(), 4, "{dom}");
    assert!(dom.contains("incorrectResponse"), "{dom}");
    let _ = std::fs::remove_dir_all(&out);
}
