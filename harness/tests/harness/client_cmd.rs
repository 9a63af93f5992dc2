//! `acmeproof run --client-cmd`: a third-party ACME client (a small Python one, written with
//! certbot's `acme` library, imaplib, smtplib and dkimpy: `tests/clients/rfc8823_client.py`)
//! run against the scenario library and judged from the wire, and a draft-ietf-acme-email-tls
//! operator client (`tests/clients/email_tls_client.py`) likewise. The conformant clients get a
//! clean report; each deliberately broken variant gets exactly the findings its fault implies.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use serde_json::Value;

use super::peers::{run, show};

/// The Python modules the client imports.
pub(crate) const MODULES: &[&str] = &[
    "acme",
    "josepy",
    "dkim",
    "nacl",
    "dns.resolver",
    "cryptography",
];

fn client_script() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/clients/rfc8823_client.py")
}

/// The placeholders of what a scenario asks of the client (`sut::asks`): with them the
/// client is told, so those scenarios run instead of being skipped.
const ASKS: &str = "--usage {usage} --reply-body {reply_body} --imap-tls {imap_tls} \
     --imaps-url {imaps_url} --post {post} --mail-on {mail_on}";

pub(crate) fn template(python: &Path, extra: &str) -> String {
    format!(
        "{} {} --directory {{directory_url}} --ca-bundle {{ca_bundle}} --email {{email}} \
         --imap-url {{imap_url}} --smtp-url {{smtp_url}} --submission-url {{submission_url}} \
         --dns {{dns_addr}} --user {{user}} --password {{password}} --workdir {{workdir}} \
         {ASKS} {extra}",
        python.display(),
        client_script().display()
    )
}

/// Runs `acmeproof run --client-cmd` over `filters`, in `scenarios` (default: the library);
/// returns the exit code and the JSON report.
fn run_client(
    python: &Path,
    extra: &str,
    scenarios: Option<&Path>,
    filters: &[&str],
) -> (i32, Value) {
    let out = acmeproof_mocks_tempdir();
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_acmeproof"));
    cmd.args(["run", "--quiet", "--format", "json", "--out"])
        .arg(&out)
        .args(["--client-cmd", &template(python, extra)])
        .args(["--client-timeout", "90"]);
    if let Some(dir) = scenarios {
        cmd.arg("--scenarios").arg(dir);
    } else {
        cmd.arg("--scenarios")
            .arg(Path::new(env!("CARGO_MANIFEST_DIR")).join("../scenarios"));
    }
    cmd.args(filters);
    let output = run(cmd, Duration::from_secs(300));
    let text = std::fs::read_to_string(out.join("report.json"))
        .unwrap_or_else(|e| panic!("no report ({e}): {}", show(&output)));
    let report: Value = serde_json::from_str(&text).expect("report.json parses");
    (output.status.code().unwrap_or(-1), report)
}

fn acmeproof_mocks_tempdir() -> PathBuf {
    use std::sync::atomic::{AtomicUsize, Ordering};
    static NEXT: AtomicUsize = AtomicUsize::new(0);
    let dir = std::env::temp_dir().join(format!(
        "acmeproof-client-cmd-{}-{}",
        std::process::id(),
        NEXT.fetch_add(1, Ordering::Relaxed)
    ));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).expect("temp dir");
    dir
}

fn scenario<'a>(report: &'a Value, id: &str) -> &'a Value {
    report["scenarios"]
        .as_array()
        .expect("scenarios")
        .iter()
        .find(|s| s["id"] == id)
        .unwrap_or_else(|| panic!("{id} not in the report"))
}

fn finding_ids(result: &Value) -> BTreeSet<String> {
    result["findings"]
        .as_array()
        .expect("findings")
        .iter()
        .map(|f| f["req"].as_str().expect("req").to_owned())
        .collect()
}

fn ids(list: &[&str]) -> BTreeSet<String> {
    list.iter().map(|s| (*s).to_owned()).collect()
}

/// The scenario failed on the client's own error (a crash, a non-zero exit), reported under no
/// requirement id, with the client's words.
fn assert_client_error(result: &Value, words: &str) {
    assert_eq!(result["outcome"], "fail", "{result:#}");
    let error = result["error"].as_str().unwrap_or_default();
    assert!(
        error.starts_with("client error: ") && error.contains(words),
        "{result:#}"
    );
}

const ASCII: &str = "rfc8823/3/issuance-ascii-address";

#[test]
fn the_conformant_python_client_gets_a_clean_report() {
    let Some(python) = acmeproof_testkit::require_python(MODULES) else {
        return;
    };
    let (code, report) = run_client(
        &python,
        "",
        None,
        &[
            ASCII,
            "rfc8823/3.1/all-lookalikes-ignored-one-reply",
            "rfc8823/3.1/lookalikes-with-duplicating-relay",
            "rfc8823/3.1/lookalikes-with-mail-on-post",
            "rfc8823/3/issuance-eai-address",
            "rfc8555/6.2/alg-none",
        ],
    );
    assert_eq!(report["sut"], "client");
    assert!(
        report["implementation"]
            .as_str()
            .is_some_and(|n| n.contains("rfc8823_client.py")),
        "{}",
        report["implementation"]
    );
    for id in [
        ASCII,
        "rfc8823/3.1/all-lookalikes-ignored-one-reply",
        "rfc8823/3.1/lookalikes-with-duplicating-relay",
        "rfc8823/3.1/lookalikes-with-mail-on-post",
    ] {
        let r = scenario(&report, id);
        assert_eq!(r["outcome"], "pass", "{id}: {r:#}");
        assert!(finding_ids(r).is_empty(), "{id}: {r:#}");
        // The client's run is in the transcript: its command line and what it printed.
        let process: Vec<&Value> = r["transcript"]
            .as_array()
            .expect("transcript")
            .iter()
            .filter(|t| t["channel"] == "process")
            .collect();
        assert!(
            process.iter().any(|t| t["endpoint"] == "argv"
                && t["text"]
                    .as_str()
                    .unwrap_or_default()
                    .contains("--directory https://127.0.0.1:")),
            "{id}: {process:#?}"
        );
    }
    // The lookalikes were there to be ignored: the client says it ignored them.
    let stderr: String =
        scenario(&report, "rfc8823/3.1/all-lookalikes-ignored-one-reply")["transcript"]
            .as_array()
            .expect("transcript")
            .iter()
            .filter(|t| t["channel"] == "process" && t["endpoint"] == "stderr")
            .map(|t| t["text"].as_str().unwrap_or_default().to_owned())
            .collect();
    assert!(stderr.contains("ignored: Subject 'Re: ACME:"), "{stderr}");
    assert!(
        stderr.contains("ignored: its DKIM signature does not verify"),
        "{stderr}"
    );
    // Exit 89 (the client has no EAI support) is "unimplemented", with its words.
    let eai = scenario(&report, "rfc8823/3/issuance-eai-address");
    assert_eq!(eai["outcome"], "unimplemented", "{eai:#}");
    assert!(
        eai["error"]
            .as_str()
            .unwrap_or_default()
            .contains("EAI addresses"),
        "{eai:#}"
    );
    // A scenario that drives the CA by hand is skipped, with the reason.
    let server = scenario(&report, "rfc8555/6.2/alg-none");
    assert_eq!(server["outcome"], "skipped", "{server:#}");
    assert!(server["error"].as_str().is_some_and(|e| !e.is_empty()));
    // Unimplemented is not accepted: the run is not green.
    assert_eq!(code, 1);
}

/// Runs the ASCII issuance with `--break fault` and returns its result.
fn broken(python: &Path, fault: &str, scenarios: Option<&Path>, id: &str) -> (i32, Value) {
    let (code, report) = run_client(python, &format!("--break {fault}"), scenarios, &[id]);
    (code, scenario(&report, id).clone())
}

#[test]
fn a_reply_without_in_reply_to_is_a_should_finding() {
    let Some(python) = acmeproof_testkit::require_python(MODULES) else {
        return;
    };
    let (code, r) = broken(&python, "no-in-reply-to", None, ASCII);
    assert_eq!(finding_ids(&r), ids(&["SMIME-43"]), "{r:#}");
    assert_eq!(r["outcome"], "pass-non-strict", "{r:#}");
    assert_eq!(code, 0);
}

#[test]
fn the_wrong_join_is_a_digest_finding_and_no_certificate() {
    let Some(python) = acmeproof_testkit::require_python(MODULES) else {
        return;
    };
    let (code, r) = broken(&python, "wrong-join", None, ASCII);
    // The digest is the finding; the client's own exit is its error, under no rule.
    assert_eq!(finding_ids(&r), ids(&["SMIME-10"]), "{r:#}");
    assert_eq!(r["outcome"], "fail");
    assert_client_error(&r, "it exited 1");
    let text = r.to_string();
    assert!(
        text.contains("incorrectResponse") || text.contains("is not base64url"),
        "{text}"
    );
    assert_eq!(code, 1);
}

#[test]
fn a_reply_without_dkim_is_found_and_refused() {
    let Some(python) = acmeproof_testkit::require_python(MODULES) else {
        return;
    };
    let (code, r) = broken(&python, "no-dkim", None, ASCII);
    assert_eq!(finding_ids(&r), ids(&["SMIME-51"]), "{r:#}");
    assert_client_error(&r, "it exited 1");
    assert_eq!(r["outcome"], "fail");
    assert_eq!(code, 1);
}

#[test]
fn a_reply_from_another_address_is_found_and_refused() {
    let Some(python) = acmeproof_testkit::require_python(MODULES) else {
        return;
    };
    // The same issuance in a world with a second mailbox owner, whose own Submission account
    // sends the reply (so its DKIM signature is good: only the From is wrong).
    let dir = acmeproof_mocks_tempdir();
    std::fs::write(
        dir.join("other-address.toml"),
        format!(
            r#"id = "{ASCII}"
title = "The ASCII issuance, in a world with a second user"
requirements = ["SMIME-40"]
role = "both"

[world.mail]
users = [
  {{ address = "alice@example.test", password = "alice-password" }},
  {{ address = "bob@example.test", password = "bob-password" }},
]

[[step]]
action = "issue"
user = "alice"
"#
        ),
    )
    .expect("scenario written");
    let (code, r) = broken(
        &python,
        "other-address --other-user bob@example.test --other-password bob-password",
        Some(&dir),
        ASCII,
    );
    assert_eq!(finding_ids(&r), ids(&["SMIME-40"]), "{r:#}");
    assert_eq!(r["outcome"], "fail");
    assert_eq!(code, 1);
}

#[test]
fn requests_the_ca_refuses_are_findings_of_the_client() {
    let Some(python) = acmeproof_testkit::require_python(&["requests"]) else {
        return;
    };
    // A "client" that posts a body that is no JWS, once with the wrong Content-Type, once
    // with the right one, then gives up.
    let script = "import requests, sys\n\
        url = sys.argv[1].replace('/directory', '/acme/new-account')\n\
        for ct in ['application/json', 'application/jose+json']:\n\
        \x20   requests.post(url, data='{}', headers={'Content-Type': ct}, verify=sys.argv[2])\n\
        sys.exit(3)\n";
    let dir = acmeproof_mocks_tempdir();
    let path = dir.join("bad_client.py");
    std::fs::write(&path, script).expect("script written");
    let out = dir.join("out");
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_acmeproof"));
    cmd.args(["run", "--quiet", "--format", "json", "--out"])
        .arg(&out)
        .arg("--client-cmd")
        .arg(format!(
            // {email} marks it as an RFC 8823 client (it ignores the address).
            "{} {} {{directory_url}} {{ca_bundle}} {{email}}",
            python.display(),
            path.display()
        ))
        .arg("--scenarios")
        .arg(Path::new(env!("CARGO_MANIFEST_DIR")).join("../scenarios"))
        .arg(ASCII);
    let output = run(cmd, Duration::from_secs(120));
    assert_eq!(output.status.code(), Some(1), "{}", show(&output));
    let report: Value =
        serde_json::from_str(&std::fs::read_to_string(out.join("report.json")).expect("report"))
            .expect("json");
    let r = scenario(&report, ASCII);
    // Each refusal under the rule the CA named; the exit is the client's error, with no id.
    assert_eq!(finding_ids(r), ids(&["ACME-6", "ACME-7"]), "{r:#}");
    assert_client_error(r, "it exited 3");
}

fn tls_template(python: &Path, extra: &str) -> String {
    format!(
        "{} {} --directory {{directory_url}} --ca-bundle {{ca_bundle}} --domain {{domain}} \
         --services {{services}} --proof {{proof}} --management {{management_url}} \
         --workdir {{workdir}} {extra}",
        python.display(),
        Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("tests/clients/email_tls_client.py")
            .display()
    )
}

fn run_tls_client(python: &Path, extra: &str, filters: &[&str]) -> Value {
    let out = acmeproof_mocks_tempdir();
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_acmeproof"));
    cmd.args(["run", "--quiet", "--format", "json", "--out"])
        .arg(&out)
        .args(["--client-cmd", &tls_template(python, extra)])
        .arg("--scenarios")
        .arg(Path::new(env!("CARGO_MANIFEST_DIR")).join("../scenarios"))
        .args(filters);
    let output = run(cmd, Duration::from_secs(300));
    let text = std::fs::read_to_string(out.join("report.json"))
        .unwrap_or_else(|e| panic!("no report ({e}): {}", show(&output)));
    serde_json::from_str(&text).expect("report.json parses")
}

const IMAPS: &str = "email-tls/3.4/capability-imaps-993";

/// The acceptance of the draft's own placement: `--draft-figure-1` orders the plain `dns`
/// identifier and names service/port in the challenge POST (protected header for -02; payload
/// and protected header for -05), and gets a certificate from the default CA for imap/143, imaps/993,
/// submission/587 and pop3/110, judged pass with no finding at all.
#[test]
fn the_draft_figure_1_client_gets_certificates_judged_pass() {
    let Some(python) = acmeproof_testkit::require_python(MODULES) else {
        return;
    };
    let judged = [
        "email-tls/3.4/capability-imap-143",
        IMAPS,
        "email-tls/3.4/capability-submission-587",
        "email-tls/3.4/capability-pop3-110",
        "email-tls/3.3/dns-email-smtp-25",
    ];
    for draft in ["05", "02"] {
        let report = run_tls_client(
            &python,
            &format!("--draft-figure-1 --draft {draft}"),
            &judged,
        );
        for id in judged {
            let r = scenario(&report, id);
            assert_eq!(r["outcome"], "pass", "-{draft} {id}: {r:#}");
            assert!(finding_ids(r).is_empty(), "-{draft} {id}: {r:#}");
        }
    }
}

/// acmeproof's newOrder proposal (the client's default mode): issued, with a TLS-1 policy note
/// that it is not the draft's placement, so the outcome is informational, not pass.
#[test]
fn the_new_order_client_gets_certificates_with_a_policy_note() {
    let Some(python) = acmeproof_testkit::require_python(MODULES) else {
        return;
    };
    let judged = [IMAPS, "email-tls/3.3/dns-email-smtp-25"];
    let mut filters = judged.to_vec();
    filters.push("email-tls/3.1/lmtp-2424-knob-on-dns-email");
    filters.push("email-tls/3/service-field-challenge-header-ca-draft-02");
    let report = run_tls_client(&python, "", &filters);
    for id in judged {
        let r = scenario(&report, id);
        assert_eq!(r["outcome"], "informational", "{id}: {r:#}");
        assert_eq!(finding_ids(r), ids(&["TLS-1"]), "{id}: {r:#}");
    }
    let lmtp = scenario(&report, "email-tls/3.1/lmtp-2424-knob-on-dns-email");
    assert_eq!(lmtp["outcome"], "unimplemented", "{lmtp:#}");
    // A scenario about a variant of the reference operator is not the external client's.
    let variant = scenario(
        &report,
        "email-tls/3/service-field-challenge-header-ca-draft-02",
    );
    assert_eq!(variant["outcome"], "skipped", "{variant:#}");
}

#[test]
fn email_tls_client_faults_get_their_findings() {
    let Some(python) = acmeproof_testkit::require_python(MODULES) else {
        return;
    };
    // The rule each break tests, and nothing else: the client's exit 1 after the CA refused
    // it is a client error under no id.
    for (fault, want, outcome, client_error) in [
        ("no-service", &["TLS-1"][..], "fail", true),
        ("no-port", &["TLS-2"][..], "pass-non-strict", false),
        ("wrong-digest", &["TLS-10"][..], "fail", true),
    ] {
        let report = run_tls_client(
            &python,
            &format!("--draft-figure-1 --break {fault}"),
            &[IMAPS],
        );
        let r = scenario(&report, IMAPS);
        assert_eq!(finding_ids(r), ids(want), "{fault}: {r:#}");
        assert_eq!(r["outcome"], outcome, "{fault}: {r:#}");
        if client_error {
            assert_client_error(r, "it exited 1");
        }
    }
}

const FORGED: &str = "rfc8823/3.1/forged-dkim-ignored";

#[test]
fn a_second_reply_to_one_challenge_is_smime_11() {
    let Some(python) = acmeproof_testkit::require_python(MODULES) else {
        return;
    };
    let (code, r) = broken(&python, "reply-twice", None, FORGED);
    // The CA took the first reply (send-once) and issued; the client still broke SMIME-11.
    assert_eq!(finding_ids(&r), ids(&["SMIME-11"]), "{r:#}");
    assert_eq!(r["outcome"], "fail");
    assert_eq!(code, 1);
}

#[test]
fn a_client_that_skips_dkim_answers_the_forged_lookalike() {
    let Some(python) = acmeproof_testkit::require_python(MODULES) else {
        return;
    };
    // It answers the first ACME mail, the forgery, and then waits (4 s) in vain.
    let (code, r) = broken(&python, "no-dkim-check --deadline 4", None, FORGED);
    assert_eq!(finding_ids(&r), ids(&["SMIME-35", "SMIME-37"]), "{r:#}");
    assert!(r.to_string().contains("which the CA never sent"), "{r:#}");
    assert_eq!(code, 1);
}

#[test]
fn dkim_faults_of_a_self_signing_client_get_the_rule_they_break() {
    let Some(python) = acmeproof_testkit::require_python(MODULES) else {
        return;
    };
    // The client signs its reply itself, with a key it publishes by RFC 2136 UPDATE, and sends
    // it through the relay (which signs nothing). The CA refuses each under the same rule.
    for (fault, rule) in [
        // RFC 8301 §3.1: rsa-sha1 MUST NOT be used for signing or verifying.
        ("rsa-sha1", "MAIL-7"),
        // RFC 8823 §3.2 item 9: a short h= that verifies, under a full-h= decoy that does not.
        ("short-h-decoy", "SMIME-52"),
        // RFC 8301 §3.2: RSA keys of at least 1024 bits.
        ("small-key", "MAIL-8"),
    ] {
        let (code, r) = broken(&python, fault, None, ASCII);
        assert_eq!(finding_ids(&r), ids(&[rule]), "{fault}: {r:#}");
        assert_client_error(&r, "it exited 1");
        // The reference CA refused the reply under the same rule.
        assert!(
            r.to_string().contains(&format!("reply refused ({rule}")),
            "{fault}: {r:#}"
        );
        assert_eq!(code, 1);
    }
}

#[test]
fn a_wildcard_email_identifier_is_smime_1() {
    let Some(python) = acmeproof_testkit::require_python(MODULES) else {
        return;
    };
    let (_, r) = broken(&python, "wildcard", None, ASCII);
    // RFC 8823 §3: the CA refused the newOrder and named the rule; not ACME-7.
    assert_eq!(finding_ids(&r), ids(&["SMIME-1"]), "{r:#}");
    assert_client_error(&r, "it exited 1");
}

#[test]
fn every_reply_form_rfc_8823_allows_passes() {
    let Some(python) = acmeproof_testkit::require_python(MODULES) else {
        return;
    };
    for style in [
        "wrapped",
        "text-around",
        "encoded-subject",
        "folded-subject",
        "no-re",
        "cc",
    ] {
        let (code, r) = run_client(&python, &format!("--style {style}"), None, &[ASCII]);
        let r = scenario(&r, ASCII);
        assert_eq!(r["outcome"], "pass", "{style}: {r:#}");
        assert_eq!(code, 0, "{style}");
    }
    // §3.2 item 8: quoted-printable and base64 are "not necessary and should be avoided,
    // though … permitted": accepted, with the (lower-case) should noted.
    for extra in [
        "--style quoted-printable",
        "--style base64",
        "--reply-body multipart-alternative --style quoted-printable",
    ] {
        let (code, r) = run_client(&python, extra, None, &[ASCII]);
        let r = scenario(&r, ASCII);
        assert_eq!(r["outcome"], "pass-non-strict", "{extra}: {r:#}");
        assert_eq!(finding_ids(r), ids(&["SMIME-50"]), "{extra}: {r:#}");
        assert_eq!(code, 0, "{extra}");
    }
}

#[test]
fn what_a_scenario_asks_reaches_the_client_or_the_scenario_is_skipped() {
    let Some(python) = acmeproof_testkit::require_python(MODULES) else {
        return;
    };
    const SIGNING: &str = "rfc8823/3.3/signing-only-certificate";
    const IMPLICIT: &str = "rfc8823/3/mailbox-over-implicit-tls";
    const MAIL_ON_POST: &str = "rfc8823/3/post-before-reply-with-mail-on-post";
    // Told: exercised, and passing.
    let (_, report) = run_client(&python, "", None, &[SIGNING, IMPLICIT, MAIL_ON_POST]);
    for id in [SIGNING, IMPLICIT, MAIL_ON_POST] {
        assert_eq!(scenario(&report, id)["outcome"], "pass", "{id}");
    }
    // Told, and doing otherwise: never a pass. This client gets {usage} in an option it does
    // not use for the CSR, so it asks for both usages.
    let ignoring =
        template(&python, "").replace("--usage {usage}", "--usage both --other-password {usage}");
    let out = acmeproof_mocks_tempdir();
    let output = run(
        {
            let mut cmd = Command::new(env!("CARGO_BIN_EXE_acmeproof"));
            cmd.args(["run", "--quiet", "--format", "json", "--out"])
                .arg(&out)
                .args(["--client-cmd", &ignoring])
                .arg("--scenarios")
                .arg(Path::new(env!("CARGO_MANIFEST_DIR")).join("../scenarios"))
                .arg(SIGNING);
            cmd
        },
        Duration::from_secs(120),
    );
    let report: Value = serde_json::from_str(
        &std::fs::read_to_string(out.join("report.json"))
            .unwrap_or_else(|e| panic!("{e}: {}", show(&output))),
    )
    .expect("json");
    let r = scenario(&report, SIGNING);
    assert_eq!(r["outcome"], "unimplemented", "{r:#}");
    assert!(
        r["error"]
            .as_str()
            .unwrap_or_default()
            .contains("its CSR asks for both"),
        "{r:#}"
    );
    // Not told: skipped, saying which placeholder was missing.
    let bare = template(&python, "").replace(ASKS, "");
    let out = acmeproof_mocks_tempdir();
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_acmeproof"));
    cmd.args(["run", "--quiet", "--format", "json", "--out"])
        .arg(&out)
        .args(["--client-cmd", &bare])
        .arg("--scenarios")
        .arg(Path::new(env!("CARGO_MANIFEST_DIR")).join("../scenarios"))
        .args([SIGNING, IMPLICIT, MAIL_ON_POST]);
    let output = run(cmd, Duration::from_secs(120));
    let report: Value = serde_json::from_str(
        &std::fs::read_to_string(out.join("report.json"))
            .unwrap_or_else(|e| panic!("{e}: {}", show(&output))),
    )
    .expect("json");
    for (id, placeholder) in [
        (SIGNING, "{usage}"),
        (IMPLICIT, "{imap_tls}"),
        (MAIL_ON_POST, "{post}"),
    ] {
        let r = scenario(&report, id);
        assert_eq!(r["outcome"], "skipped", "{id}: {r:#}");
        assert!(
            r["error"]
                .as_str()
                .unwrap_or_default()
                .contains(placeholder),
            "{id}: {r:#}"
        );
    }
}

#[test]
fn the_readme_client_cmd_example_runs_verbatim() {
    let Some(python) = acmeproof_testkit::require_python(MODULES) else {
        return;
    };
    // The README's command, as a user pastes it, in a folder holding `my_client.py`, with
    // `python3` and `acmeproof` on PATH.
    let readme =
        std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("../README.md"))
            .expect("README");
    let section = readme
        .split("## Testing your ACME client")
        .nth(1)
        .expect("the client section");
    let block = section
        .split("```sh\n")
        .nth(1)
        .and_then(|b| b.split("\n```").next())
        .expect("a sh block");
    let command: String = block
        .lines()
        .take_while(|l| !l.starts_with("acmeproof run --help"))
        .collect::<Vec<_>>()
        .join("\n");
    assert!(
        command.starts_with("acmeproof run --client-cmd 'python3 my_client.py"),
        "{command}"
    );
    let dir = acmeproof_mocks_tempdir();
    std::fs::copy(client_script(), dir.join("my_client.py")).expect("copy the client");
    let bin = Path::new(env!("CARGO_BIN_EXE_acmeproof"))
        .parent()
        .expect("bin dir");
    let python_dir = python.parent().expect("python's folder");
    let path = format!(
        "{}:{}:{}",
        bin.display(),
        python_dir.display(),
        std::env::var("PATH").unwrap_or_default()
    );
    let scenarios = Path::new(env!("CARGO_MANIFEST_DIR")).join("../scenarios");
    let mut cmd = Command::new("sh");
    cmd.current_dir(&dir)
        .env("PATH", path)
        .arg("-c")
        .arg(format!(
            "{command} --quiet --format json --out out --scenarios {} {ASCII}",
            scenarios.display()
        ));
    let output = run(cmd, Duration::from_secs(120));
    assert_eq!(output.status.code(), Some(0), "{}", show(&output));
    let report: Value = serde_json::from_str(
        &std::fs::read_to_string(dir.join("out/report.json")).expect("report"),
    )
    .expect("json");
    assert_eq!(scenario(&report, ASCII)["outcome"], "pass", "{report:#}");
}
