//! `acmeproof bench peers --quick` for real: acmeproof's served endpoints and every peer
//! (Pebble + pebble-challtestsrv, aiosmtpd, Dovecot), each workload printing its figures. A
//! smoke test of the instrument: it checks that figures were printed, never what they are.

use std::process::Command;

use serde_json::Value;

/// The workloads, as the JSON names them.
const WORKLOADS: [&str; 5] = ["dns01", "smtp", "lmtp", "imap", "dns"];

#[test]
fn bench_peers_quick_prints_a_figure_for_acmeproof_and_every_peer() {
    let Some(_) = acmeproof_testkit::require_tools(&["pebble", "pebble-challtestsrv", "dovecot"])
    else {
        return;
    };
    let Some(_) = acmeproof_testkit::require_python(&["aiosmtpd"]) else {
        return;
    };
    let dir = std::env::temp_dir().join(format!("acmeproof-bench-peers-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("dir");
    let json = dir.join("figures.json");
    let o = Command::new(env!("CARGO_BIN_EXE_acmeproof"))
        .args(["bench", "peers", "--quick", "--json"])
        .arg(&json)
        .output()
        .expect("acmeproof runs");
    let said = format!(
        "{}\n{}",
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    );
    assert!(o.status.success(), "{said}");
    assert!(!said.contains("skipped:"), "{said}");
    for line in [
        "Pebble + pebble-challtestsrv ",
        "aiosmtpd Sink ",
        "Dovecot LMTP ",
        "Dovecot IMAP ",
        "pebble-challtestsrv DNS ",
        "target: SMTP ingest ≥ 5× aiosmtpd Sink: ",
        "generator ceiling (null server): ",
    ] {
        assert!(said.contains(line), "{line:?} missing:\n{said}");
    }
    let figures: Value =
        serde_json::from_str(&std::fs::read_to_string(&json).expect("the JSON file"))
            .expect("json");
    let workloads = figures["workloads"].as_array().expect("workloads");
    assert_eq!(
        workloads
            .iter()
            .map(|w| w["workload"].as_str().unwrap_or_default())
            .collect::<Vec<_>>(),
        WORKLOADS
    );
    for w in workloads {
        for side in ["acmeproof", "peer_figures"] {
            let rate = w[side]["median_ops_per_second"]
                .as_f64()
                .unwrap_or_default();
            assert!(rate > 0.0, "{side} of {}: no figure: {w:#}", w["workload"]);
            assert_eq!(w[side]["rounds"].as_array().map(Vec::len), Some(1), "{w:#}");
        }
        if w["workload"] != "dns01" {
            assert!(
                w["null_ops_per_second"].as_f64().unwrap_or_default() > 0.0,
                "{w:#}"
            );
        }
    }
    let dns = &workloads[4]["acmeproof"]["rounds"][0];
    assert!(
        dns["first_tenth_per_second"].as_f64().unwrap_or_default() > 0.0,
        "{dns:#}"
    );
    assert!(
        dns["last_tenth_per_second"].as_f64().unwrap_or_default() > 0.0,
        "{dns:#}"
    );
    let _ = std::fs::remove_dir_all(&dir);
}

/// With no peer on PATH, each is skipped with its one line and acmeproof is still measured.
/// (Dovecot is looked for in /usr/sbin too, so the mail workloads here are SMTP's.)
#[test]
fn a_peer_not_installed_is_skipped_with_one_line_and_acmeproof_still_measured() {
    let empty = std::env::temp_dir().join(format!("acmeproof-no-tools-{}", std::process::id()));
    std::fs::create_dir_all(&empty).expect("dir");
    let o = Command::new(env!("CARGO_BIN_EXE_acmeproof"))
        .args(["bench", "peers", "--quick", "--only", "dns01,smtp,dns"])
        .env("PATH", &empty)
        .output()
        .expect("acmeproof runs");
    let said = String::from_utf8_lossy(&o.stdout).into_owned();
    assert!(
        o.status.success(),
        "{said}\n{}",
        String::from_utf8_lossy(&o.stderr)
    );
    for line in [
        "skipped: pebble not installed",
        "skipped: aiosmtpd not installed",
        "skipped: pebble-challtestsrv not installed",
    ] {
        assert!(said.contains(line), "{line:?} missing:\n{said}");
    }
    assert_eq!(said.matches("  acmeproof ").count(), 3, "{said}");
    assert!(
        !said.contains("\n  target: "),
        "no ratio without a peer:\n{said}"
    );
    let _ = std::fs::remove_dir_all(&empty);
}
