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

/// The verdict of the cell's only run.
fn verdict(cell: &Value) -> &str {
    cell["runs"][0]["verdict"].as_str().unwrap_or_default()
}

/// The requirement the cell's only run names (`None`: a policy refusal, no rule).
fn why_req(cell: &Value) -> Option<&str> {
    cell["runs"][0]["why"]["req"].as_str()
}

/// RFC 8823 §3 leaves the join open; base64url turns each 3 octets into 4 characters, so the
/// two joins give the same token exactly when token-part1 is a multiple of 3 octets: the
/// matrix shows string and binary meeting at 18 and 24 octets and failing at 16 and 32, and
/// at 15 (a multiple of 3, but under RFC 8823 §3 step 4's 128 bits) the MUA answers no CA.
#[test]
fn token_join_crosses_the_token_part1_length_and_the_joins_meet_at_multiples_of_three() {
    let (code, stdout, m) = matrix("join", &["--variants", "token_join"]);
    assert_eq!(code, 0, "{stdout}");
    assert_eq!(m["schema_version"], 2);
    assert_eq!(m["clients"].as_array().map(Vec::len), Some(2));
    assert_eq!(m["cas"].as_array().map(Vec::len), Some(15));
    for client in ["string", "binary"] {
        let other = if client == "string" {
            "binary"
        } else {
            "string"
        };
        for octets in [18, 24] {
            for ca in [client, other, "either"] {
                let c = cell(&m, client, &format!("{ca}/{octets}"));
                assert!(ok(c), "{client} × {ca}/{octets}: {c:#}");
                assert_eq!(verdict(c), "interop");
            }
        }
        for octets in [16, 32] {
            assert!(ok(cell(&m, client, &format!("{client}/{octets}"))));
            assert!(ok(cell(&m, client, &format!("either/{octets}"))));
            let c = cell(&m, client, &format!("{other}/{octets}"));
            assert!(!ok(c), "{client} × {other}/{octets}: {c:#}");
            assert_eq!(c["runs"][0]["why"]["problem"], "incorrectResponse", "{c:#}");
            assert!(findings(c).contains("the digest"), "{c:#}");
        }
        for ca in [client, other, "either"] {
            let c = cell(&m, client, &format!("{ca}/15"));
            assert!(!ok(c), "{client} × {ca}/15: {c:#}");
            assert_eq!(why_req(c), Some("SMIME-6"), "{c:#}");
        }
    }
    // The Markdown on stdout is the table a draft author takes to the meeting.
    assert!(
        stdout.contains(
            "| **string** | ❌ fail: 1/1<br>rfc8823/3/issuance-ascii-address \\[SMIME-6\\]"
        ),
        "{stdout}"
    );
    assert!(stdout.contains("*What it cannot show*"), "{stdout}");
}

/// The read-only proof row (`tokenPart1` POSTed instead of a reply) gets a certificate from a
/// read-only CA and is refused by a reply-only CA, whose problem document names the rule.
#[test]
fn proof_read_only_row_is_issued_by_a_read_only_ca_and_refused_with_the_id_by_a_reply_ca() {
    let (code, stdout, m) = matrix("proof", &["--variants", "proof"]);
    assert_eq!(code, 0, "{stdout}");
    assert!(ok(cell(&m, "reply", "reply")));
    assert!(ok(cell(&m, "reply", "read-only")));
    assert!(ok(cell(&m, "read-only", "read-only")));
    let refused = cell(&m, "read-only", "reply");
    assert!(!ok(refused), "{refused:#}");
    assert_eq!(why_req(refused), Some("SMIME-12"), "{refused:#}");
    assert_eq!(refused["runs"][0]["why"]["problem"], "malformed");
    assert!(stdout.contains("\\[SMIME-12\\] malformed"), "{stdout}");
}

/// A scenario that expects a refusal keeps its meaning in every cell: the CA that refuses
/// reads "refused as expected", the one that issues "issued (expected refusal)".
#[test]
fn a_refusal_scenario_reads_refused_as_expected_not_inverted() {
    let (code, stdout, m) = matrix(
        "refusal",
        &[
            "--variants",
            "token_join",
            "rfc8823/3.2/string-join-refused-by-binary-ca",
        ],
    );
    assert_eq!(code, 0, "{stdout}");
    let refused = cell(&m, "string", "binary/16");
    assert!(ok(refused), "{refused:#}");
    assert_eq!(verdict(refused), "refused-as-expected");
    let issued = cell(&m, "string", "string/16");
    assert!(!ok(issued));
    assert_eq!(verdict(issued), "issued-expected-refusal");
    assert!(stdout.contains("| **string** |"), "{stdout}");
    assert!(stdout.contains("✅ refused as expected 1/1"), "{stdout}");
    assert!(
        stdout.contains("❌ issued (expected refusal): 1/1"),
        "{stdout}"
    );
    assert!(
        stdout.contains("- ✅ refused as expected: the scenario expects a refusal"),
        "the legend says so: {stdout}"
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
    assert_eq!(
        refused["runs"][0]["why"]["problem"], "rejectedIdentifier",
        "{refused:#}"
    );
    // A refusal by the CA's policy names no rule: not the scenario's TLS-10.
    assert_eq!(why_req(refused), None, "{refused:#}");
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
        // No check fired: the CA offered no challenge (its policy), so the cell names no rule
        // (not the scenario's own TLS-7/TLS-10).
        for run in c["runs"].as_array().expect("runs") {
            assert_eq!(run["why"]["req"], Value::Null, "{run:#}");
        }
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
    // Ten red cells (each row: three at 15 octets, the other join at 16 and at 32), each
    // saying why and linking to its run's transcript.
    assert_eq!(dom.matches("class=\"fail\"").count(), 10, "{dom}");
    assert_eq!(dom.matches("class=\"ok\"").count(), 20, "{dom}");
    assert!(dom.contains("incorrectResponse"), "{dom}");
    assert!(dom.contains("<section id=\"run-1\">"), "{dom}");
    let _ = std::fs::remove_dir_all(&out);
}
