//! The `acmeproof` binary, run as a user runs it: `digest`, `lint` and `example` against the
//! shipped vectors and mails, including the exit codes for bad input.

use std::path::PathBuf;
use std::process::{Command, Output};

use serde_json::Value;

fn fixtures(rel: &str) -> String {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../fixtures")
        .join(rel)
        .to_string_lossy()
        .into_owned()
}

fn acmeproof(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_acmeproof"))
        .args(args)
        .output()
        .expect("run acmeproof")
}

fn stdout(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

fn json(o: &Output) -> Value {
    serde_json::from_slice(&o.stdout).unwrap_or_else(|e| panic!("{e}: {}", stdout(o)))
}

fn vectors() -> Vec<Value> {
    let text = std::fs::read(fixtures("vectors/email-reply.json")).unwrap();
    let doc: Value = serde_json::from_slice(&text).unwrap();
    doc["vectors"].as_array().unwrap().clone()
}

/// Runs `digest --json` for a vector, with its key file or its thumbprint.
fn digest_json(v: &Value, join: &str) -> Value {
    let key = v["key"].as_str().map(fixtures);
    let mut args = vec![
        "digest",
        "--json",
        "--join",
        join,
        "--token-part1",
        v["token_part1"].as_str().unwrap(),
        "--token-part2",
        v["token_part2"].as_str().unwrap(),
    ];
    match &key {
        Some(k) if k.ends_with(".pem") => args.extend(["--key", k.as_str()]),
        Some(k) => args.extend(["--jwk", k.as_str()]),
        None => args.extend(["--thumbprint", v["thumbprint"].as_str().unwrap()]),
    }
    let o = acmeproof(&args);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    json(&o)
}

#[test]
fn digest_reproduces_every_email_reply_vector() {
    for v in vectors() {
        let doc = digest_json(&v, "both");
        assert_eq!(doc["thumbprint"], v["thumbprint"], "{}", v["name"]);
        let digests = doc["digests"].as_array().unwrap();
        assert_eq!(digests.len(), 2);
        for d in digests {
            let join = d["join"].as_str().unwrap();
            assert_eq!(d["digest"], v[join]["digest"], "{} {join}", v["name"]);
        }
    }
}

#[test]
fn digest_tv_email_1_from_the_pem_key_in_text() {
    let o = acmeproof(&[
        "digest",
        "--token-part1",
        "LgYemJLy3F1LDkiJrdIGbEzyFJyOyf6vBdyZ1TG3sME=",
        "--token-part2",
        "DGyRejmCefe7v4NfDGDKfA",
        "--key",
        &fixtures("keys/acme4j-rsa512.pem"),
    ]);
    let text = stdout(&o);
    assert!(o.status.success());
    assert!(
        text.contains("AjXW0h9_4YMP6Sv-9tKQNUrapI0us7ayBn0nCGOkUsk"),
        "{text}"
    );
    assert!(
        text.contains("xyC6Z01DHFuV0pZgacdI2xN9nIKkPSARDv1gLbxY8Xk"),
        "{text}"
    );
}

#[test]
fn digest_tv_email_2_binary_join_only() {
    let v = vectors()
        .into_iter()
        .find(|v| v["name"] == "TV-EMAIL-2")
        .unwrap();
    let doc = digest_json(&v, "binary");
    let digests = doc["digests"].as_array().unwrap();
    assert_eq!(digests.len(), 1);
    assert_eq!(
        digests[0]["digest"],
        "Fjt2SD7KoqSt3I6jwgg8ljjkP9Er7h1w0wF0UihvQIU"
    );
}

#[test]
fn digest_with_an_ed25519_jwk() {
    let o = acmeproof(&[
        "digest",
        "--json",
        "--token-part1",
        "AAAAAAAAAAAAAAAAAAAAAA",
        "--token-part2",
        "AAAAAAAAAAAAAAAAAAAAAA",
        "--jwk",
        &fixtures("keys/rfc8037-ed25519.jwk"),
    ]);
    assert_eq!(
        json(&o)["thumbprint"],
        "kPrK_qmxVWaYVA9wwBF6Iuo3vVzz7TxHCTwXBygrS4k"
    );
}

/// `digest --token-part1 T1 --token-part2 T2` followed by `rest`.
fn digest_args<'a>(t1: &'a str, t2: &'a str, rest: &[&'a str]) -> Vec<&'a str> {
    let mut args = vec!["digest", "--token-part1", t1, "--token-part2", t2];
    args.extend(rest);
    args
}

fn assert_exit_2(args: &[&str]) -> String {
    let o = acmeproof(args);
    assert_eq!(o.status.code(), Some(2), "{args:?}: {}", stdout(&o));
    String::from_utf8_lossy(&o.stderr).into_owned()
}

#[test]
fn unreadable_input_exits_2_with_one_line() {
    const THUMB: &str = "1_nKJnlH9boVxdoO63T8zP7O2w42qZL4d6xj35Hy5aI";
    let not_pem = fixtures("vectors/dns01.json");
    let not_jwk = fixtures("keys/acme4j-rsa512.pem");
    let missing = fixtures("mail/does-not-exist.eml");
    let empty = std::env::temp_dir().join(format!("acmeproof-empty-{}.eml", std::process::id()));
    std::fs::write(&empty, b"").unwrap();
    let empty = empty.to_string_lossy().into_owned();
    let cases: Vec<Vec<&str>> = vec![
        digest_args("a", "b", &[]),
        digest_args("a+b", "AAAA", &["--thumbprint", THUMB]),
        digest_args("a", "b", &["--thumbprint", "short"]),
        digest_args("a", "b", &["--key", &not_pem]),
        digest_args("a", "b", &["--jwk", &not_jwk]),
        vec!["lint", "challenge", &missing],
        vec!["lint", "response", &missing],
        // An empty file is not a message: an error, not a finding.
        vec!["lint", "challenge", &empty],
        vec!["lint", "response", &empty],
    ];
    for args in cases {
        let err = assert_exit_2(&args);
        assert_eq!(err.trim().lines().count(), 1, "{args:?}: {err}");
        assert!(err.starts_with("acmeproof: error: "), "{args:?}: {err}");
    }
    let _ = std::fs::remove_file(&empty);
}

#[test]
fn usage_errors_exit_2() {
    for args in [
        vec!["lint", "bogus"],
        vec!["digest", "--token-part1", "a"],
        vec![
            "digest",
            "--token-part1",
            "a",
            "--token-part2",
            "b",
            "--jwk",
            "x",
            "--thumbprint",
            "y",
        ],
        vec!["bench", "imap", "--clients", "0"],
        vec!["bench", "imap", "--round-trips", "0"],
        vec!["bench", "imap", "--messages", "0"],
        vec!["bench", "imap", "--messages", "10001"],
        vec!["bench", "email", "--issuances", "0"],
        vec!["bench", "email", "--concurrency", "0"],
        vec!["bench", "dns01", "--concurrency", "0"],
    ] {
        assert!(!assert_exit_2(&args).trim().is_empty(), "{args:?}");
    }
}

#[test]
fn digest_reads_ec_and_ed25519_pem_keys() {
    // The RFC keys as PEM (PKCS#8 and SEC 1), written from the RFCs' private values: the
    // thumbprints must be the RFCs' own.
    for (pem, thumbprint) in [
        (
            "keys/rfc7515-a3-p256.pkcs8.pem",
            "oKIywvGUpTVTyxMQ3bwIIeQUudfr_CkLMjCE19ECD-U",
        ),
        (
            "keys/rfc7515-a3-p256.sec1.pem",
            "oKIywvGUpTVTyxMQ3bwIIeQUudfr_CkLMjCE19ECD-U",
        ),
        (
            "keys/rfc8037-ed25519.pkcs8.pem",
            "kPrK_qmxVWaYVA9wwBF6Iuo3vVzz7TxHCTwXBygrS4k",
        ),
    ] {
        let key = fixtures(pem);
        let o = acmeproof(&digest_args("AAAA", "AAAA", &["--json", "--key", &key]));
        assert!(
            o.status.success(),
            "{pem}: {}",
            String::from_utf8_lossy(&o.stderr)
        );
        assert_eq!(json(&o)["thumbprint"], thumbprint, "{pem}");
    }
}

fn lint_json(args: &[&str]) -> (i32, Value) {
    let mut all = vec!["lint"];
    all.extend(args);
    all.push("--json");
    let o = acmeproof(&all);
    (o.status.code().unwrap(), json(&o))
}

fn must_ids(doc: &Value) -> Vec<String> {
    doc["findings"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|f| f["level"] == "must")
        .map(|f| f["req"].as_str().unwrap().to_string())
        .collect()
}

#[test]
fn lint_figure1_reports_only_the_missing_signature() {
    let (code, doc) = lint_json(&[
        "challenge",
        &fixtures("mail/rfc8823-figure1.eml"),
        "--from",
        "acme-generator@example.org",
        "--to",
        "alexey@example.com",
    ]);
    assert_eq!(code, 1);
    assert_eq!(must_ids(&doc), ["SMIME-28"]);
    assert_eq!(doc["verdict"], "fail");
    let f = &doc["findings"][0];
    assert_eq!(f["keyword"], "MUST");
    assert_eq!(f["source"], "RFC 8823 §3.1 item 6");
}

#[test]
fn lint_figure1_without_auto_submitted_adds_smime25() {
    let (code, doc) = lint_json(&[
        "challenge",
        &fixtures("mail/rfc8823-figure1-no-auto-submitted.eml"),
    ]);
    assert_eq!(code, 1);
    assert_eq!(must_ids(&doc), ["SMIME-25", "SMIME-28"]);
}

#[test]
fn lint_challenge_wrong_to_fires_smime23() {
    let (_, doc) = lint_json(&[
        "challenge",
        &fixtures("mail/rfc8823-figure1.eml"),
        "--to",
        "bob@example.com",
    ]);
    assert!(must_ids(&doc).contains(&"SMIME-23".to_string()));
}

#[test]
fn lint_figure2_extracts_the_split_digest() {
    let (code, doc) = lint_json(&[
        "response",
        &fixtures("mail/rfc8823-figure2.eml"),
        "--expect-digest",
        "LoqXcYV8q5ONbJQxbmR7SCTNo3tiAXDfowyjxAjEuX0",
    ]);
    assert_eq!(
        doc["block"]["digest"],
        "LoqXcYV8q5ONbJQxbmR7SCTNo3tiAXDfowyjxAjEuX0="
    );
    assert_eq!(doc["block"]["lines"], 2);
    assert_eq!(doc["digest_matches"], true);
    // Figure 2 omits DKIM ("DKIM headers omitted"), so SMIME-51 is the only MUST.
    assert_eq!(must_ids(&doc), ["SMIME-51"]);
    assert_eq!(code, 1);

    let (_, doc) = lint_json(&[
        "response",
        &fixtures("mail/rfc8823-figure2.eml"),
        "--expect-digest",
        "AjXW0h9_4YMP6Sv-9tKQNUrapI0us7ayBn0nCGOkUsk",
    ]);
    assert_eq!(doc["digest_matches"], false);
    assert!(must_ids(&doc).contains(&"SMIME-10".to_string()));
}

#[test]
fn example_exchange_passes_and_its_mails_lint_clean() {
    let dir = std::env::temp_dir().join(format!("acmeproof-example-{}", std::process::id()));
    for join in ["string", "binary"] {
        let o = acmeproof(&[
            "example",
            "--seed",
            "7",
            "--join",
            join,
            "--out",
            dir.to_str().unwrap(),
        ]);
        let text = stdout(&o);
        assert_eq!(o.status.code(), Some(0), "{text}");
        let part2 = text
            .split("token-part2 ")
            .nth(1)
            .unwrap()
            .split(',')
            .next()
            .unwrap()
            .to_string();
        let challenge = dir.join("example-challenge.eml");
        let response = dir.join("example-response.eml");
        let (code, doc) = lint_json(&[
            "challenge",
            challenge.to_str().unwrap(),
            "--from",
            "acme-challenge@ca.example",
            "--to",
            "alexey@example.com",
        ]);
        assert_eq!((code, doc["verdict"].as_str()), (0, Some("pass")));
        let (code, doc) = lint_json(&[
            "response",
            response.to_str().unwrap(),
            "--challenge",
            challenge.to_str().unwrap(),
            "--token-part2",
            &part2,
            "--jwk",
            &fixtures("keys/rfc7515-a3-p256.jwk"),
            "--identifier",
            "alexey@example.com",
        ]);
        assert_eq!(code, 0, "{doc}");
        assert_eq!(doc["joins"], serde_json::json!([join]));
        // Without --challenge, token-part1 comes from the response's own Subject.
        let (code, doc) = lint_json(&[
            "response",
            response.to_str().unwrap(),
            "--token-part2",
            &part2,
            "--jwk",
            &fixtures("keys/rfc7515-a3-p256.jwk"),
        ]);
        assert_eq!(code, 0, "{doc}");
        assert_eq!(doc["digest_matches"], true);
        assert_eq!(doc["joins"], serde_json::json!([join]));
        // A wrong token-part2 is judged, and fails.
        let (code, doc) = lint_json(&[
            "response",
            response.to_str().unwrap(),
            "--token-part2",
            "AAAAAAAAAAAAAAAAAAAAAA",
            "--jwk",
            &fixtures("keys/rfc7515-a3-p256.jwk"),
        ]);
        assert_eq!(
            (code, doc["digest_matches"].clone()),
            (1, Value::Bool(false))
        );
    }
    let _ = std::fs::remove_dir_all(dir);
}

#[test]
fn demo_gets_a_certificate_for_the_eai_user_and_writes_what_it_got() {
    let dir = std::env::temp_dir().join(format!("acmeproof-demo-{}", std::process::id()));
    let out = acmeproof(&[
        "demo",
        "--user",
        "eai",
        "--usage",
        "signing",
        "--imaps",
        "--out",
        dir.to_str().unwrap(),
    ]);
    let text = stdout(&out);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{text}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    for want in [
        "an S/MIME certificate for δοκιμή@παράδειγμα.δοκιμή",
        "challenge mail found over IMAP (implicit TLS)",
        "by lmtp.acmeproof.test with UTF8LMTP",
        "by submission.acmeproof.test with UTF8SMTPSA",
        "DKIM d=ca.acmeproof.test s=acmeproof: Pass",
        "SAN             smtputf8:δοκιμή@παράδειγμα.δοκιμή",
        "key usage       digitalSignature (critical)",
        "authorization valid",
    ] {
        assert!(text.contains(want), "{want:?} missing from\n{text}");
    }
    let cert = std::fs::read_to_string(dir.join("cert.pem")).expect("cert.pem");
    assert_eq!(
        cert.matches("BEGIN CERTIFICATE").count(),
        2,
        "leaf and intermediate"
    );
    let reply = std::fs::read(dir.join("reply.eml")).expect("reply.eml");
    assert!(String::from_utf8_lossy(&reply).contains("-----BEGIN ACME RESPONSE-----"));
    // The same seed asks for the same certificate key; another seed for another.
    let again = dir.join("again");
    let other = dir.join("other");
    for (seed, out) in [("1", &again), ("2", &other)] {
        let run = acmeproof(&[
            "demo",
            "--user",
            "eai",
            "--seed",
            seed,
            "--out",
            out.to_str().unwrap(),
        ]);
        assert_eq!(
            run.status.code(),
            Some(0),
            "{}",
            String::from_utf8_lossy(&run.stderr)
        );
    }
    let key = |d: &std::path::Path| std::fs::read(d.join("key.pem")).expect("key.pem");
    assert_eq!(key(&dir), key(&again), "seeded CSR key");
    assert_ne!(key(&dir), key(&other));
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn demo_refuses_an_unknown_user_with_one_line_and_exit_2() {
    let out = acmeproof(&["demo", "--user", "mallory"]);
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("mallory"), "{err}");
}

#[test]
fn run_list_and_explain_the_scenario_library() {
    let out = acmeproof(&["list", "rfc8823/3.1/*"]);
    assert_eq!(out.status.code(), Some(0));
    let listed = stdout(&out);
    assert!(
        listed.contains("rfc8823/3.1/re-subject-ignored"),
        "{listed}"
    );
    assert!(!listed.contains("rfc8823/3.2/"), "{listed}");
    // --skip leaves out what it matches, after the filters; one that matches nothing is an
    // error, as a filter's typo is.
    let out = acmeproof(&[
        "list",
        "rfc8823/3.1/*",
        "--skip",
        "rfc8823/3.1/re-subject-ignored",
    ]);
    assert_eq!(out.status.code(), Some(0));
    let fewer = stdout(&out);
    assert!(!fewer.contains("rfc8823/3.1/re-subject-ignored"), "{fewer}");
    assert_eq!(fewer.lines().count() + 1, listed.lines().count(), "{fewer}");
    let out = acmeproof(&["list", "--skip", "nothing/like/this"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("--skip"));

    let out = acmeproof(&["explain", "rfc8823/3.2/reply-without-dkim-refused"]);
    assert_eq!(out.status.code(), Some(0));
    let text = stdout(&out);
    assert!(text.contains("SMIME-51 MUST (RFC 8823 §3.2"), "{text}");
    assert!(
        text.contains("5. expect-authorization: invalid with unauthorized"),
        "{text}"
    );

    // A requirement id: its catalogue row and the scenarios that test it.
    let out = acmeproof(&["explain", "SMIME-51"]);
    assert_eq!(out.status.code(), Some(0));
    let text = stdout(&out);
    assert!(text.starts_with("SMIME-51 MUST (RFC 8823 §3.2"), "{text}");
    assert!(text.contains("binds: the mail user agent"), "{text}");
    assert!(
        text.contains("rfc8823/3.2/reply-without-dkim-refused"),
        "{text}"
    );
    assert!(
        !text.contains("rfc8823/3.2/reply-with-cc-accepted"),
        "{text}"
    );
    let out = acmeproof(&["explain", "no-such-scenario-or-rule"]);
    assert_eq!(out.status.code(), Some(2));

    let reports = std::env::temp_dir().join(format!("acmeproof-run-{}", std::process::id()));
    let out = acmeproof(&[
        "run",
        "--quiet",
        "rfc8823/3.2/reply-without-d*",
        "rfc8823/3.2/reply-wrong-digest-r*",
        "--out",
        reports.to_str().unwrap(),
    ]);
    let text = stdout(&out);
    assert_eq!(out.status.code(), Some(0), "{text}");
    assert!(
        text.contains("ok   pass             rfc8823/3.2/reply-without-dkim-refused"),
        "{text}"
    );
    assert!(
        text.contains("result: 2 passed, 0 failed, 0 unimplemented, 0 skipped (2 scenarios)"),
        "{text}"
    );
    assert!(text.contains("gate: accepted, exit 0; "), "{text}");
    assert!(text.contains(" MiB\n"), "peak memory: {text}");
    // The four report files, each readable back or well-formed.
    let json = std::fs::read_to_string(reports.join("report.json")).unwrap();
    let report = acmeproof_reports::json::parse(&json).unwrap();
    assert_eq!(report.scenarios.len(), 2);
    assert_eq!(
        report.scenarios[0].id,
        "rfc8823/3.2/reply-without-dkim-refused"
    );
    assert!(
        !report.scenarios[0].transcript.is_empty(),
        "the wire is recorded"
    );
    let junit = std::fs::read_to_string(reports.join("junit.xml")).unwrap();
    assert_eq!(junit.matches("<testcase ").count(), 2, "{junit}");
    assert!(
        std::fs::read_to_string(reports.join("summary.md"))
            .unwrap()
            .contains("2 passed, 0 failed, 0 unimplemented, 0 skipped")
    );
    let html = std::fs::read_to_string(reports.join("report.html")).unwrap();
    assert!(html.contains("rfc8823/3.2/reply-wrong-digest-refused"));
    let _ = std::fs::remove_dir_all(&reports);

    // A typo is not an empty green run.
    let out = acmeproof(&["run", "rfc9999/*"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("matches no scenario"));
    let out = acmeproof(&["explain", "rfc8823/nope/x"]);
    assert_eq!(out.status.code(), Some(2));
}

#[test]
fn run_exits_1_when_a_scenario_does_not_get_its_expected_outcome() {
    let dir = std::env::temp_dir().join(format!("acmeproof-scenarios-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    // The CA rightly refuses a wrong digest; this file claims it validates.
    std::fs::write(
        dir.join("wrong.toml"),
        r#"
id = "rfc8823/3.2/claims-a-wrong-digest-validates"
title = "wrong on purpose"
requirements = ["SMIME-10"]
role = "server"
[[step]]
action = "order"
[[step]]
action = "read-challenge"
[[step]]
action = "reply"
change = { digest = "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA" }
[[step]]
action = "post"
[[step]]
action = "expect-authorization"
status = "valid"
req = "SMIME-10"
"#,
    )
    .unwrap();
    let out = acmeproof(&[
        "run",
        "--scenarios",
        dir.to_str().unwrap(),
        "--format",
        "human",
    ]);
    let text = stdout(&out);
    assert_eq!(out.status.code(), Some(1), "{text}");
    assert!(text.contains("FAIL fail"), "{text}");
    assert!(
        text.contains("result: 0 passed, 1 failed, 0 unimplemented, 0 skipped (1 scenarios)"),
        "{text}"
    );
    assert!(text.contains("gate: rejected, exit 1; "), "{text}");
    assert!(
        text.contains("SMIME-10 MUST: expected authorization valid"),
        "{text}"
    );
    assert!(
        text.contains(
            "replay: acmeproof run 'rfc8823/3.2/claims-a-wrong-digest-validates' --seed "
        ),
        "{text}"
    );
    // Under a waiver with its reason, the known failure is an xfail and the run passes.
    let waivers = dir.with_extension("waivers.toml");
    std::fs::write(
        &waivers,
        "[[waiver]]\nid = \"rfc8823/3.2/claims-*\"\nreason = \"the file is wrong on purpose\"\n",
    )
    .unwrap();
    let run = |extra: &[&str]| {
        let mut args = vec![
            "run",
            "--scenarios",
            dir.to_str().unwrap(),
            "--format",
            "human",
        ];
        args.extend_from_slice(extra);
        acmeproof(&args)
    };
    let out = run(&["--waivers", waivers.to_str().unwrap()]);
    let text = stdout(&out);
    assert_eq!(out.status.code(), Some(0), "{text}");
    assert!(text.contains("ok   xfail"), "{text}");
    assert!(
        text.contains("waived: the file is wrong on purpose"),
        "{text}"
    );
    // A waiver for something not run is pointed out.
    std::fs::write(
        &waivers,
        "[[waiver]]\nid = \"rfc8823/3.2/claims-*\"\nreason = \"wrong on purpose\"\n[[waiver]]\nid = \"rfc9999/*\"\nreason = \"old\"\n",
    )
    .unwrap();
    let text = stdout(&run(&["--waivers", waivers.to_str().unwrap()]));
    assert!(
        text.contains("note: waiver \"rfc9999/*\" matches no scenario run"),
        "{text}"
    );
    // A waiver without a reason is refused.
    std::fs::write(&waivers, "[[waiver]]\nid = \"x\"\nreason = \" \"\n").unwrap();
    let out = run(&["--waivers", waivers.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("reason"));
    let _ = std::fs::remove_file(&waivers);
    let _ = std::fs::remove_dir_all(&dir);
    let _ = std::fs::remove_file(&waivers);
}

#[test]
fn chromium_renders_the_html_report_with_its_matrix() {
    let Some(chromium) = acmeproof_testkit::require_tool("chromium") else {
        return;
    };
    let dir = std::env::temp_dir().join(format!("acmeproof-html-{}", std::process::id()));
    let out = acmeproof(&[
        "run",
        "--quiet",
        "rfc8555/6.5/*",
        "rfc8823/3.2/reply-without-d*",
        "--format",
        "html",
        "--out",
        dir.to_str().unwrap(),
    ]);
    assert_eq!(out.status.code(), Some(0), "{}", stdout(&out));
    let page = format!("file://{}", dir.join("report.html").display());
    let profile = dir.join("profile");
    let run = |extra: &[String]| {
        crate::support::chromium(&chromium, &profile)
            .args(extra)
            .arg(&page)
            .output()
            .expect("chromium runs")
    };
    // The DOM after the page's script ran: the matrix with one row per scenario.
    let dom = run(&["--dump-dom".into()]);
    let dom = String::from_utf8_lossy(&dom.stdout).into_owned();
    assert!(dom.contains("Implementations × scenarios"), "{dom}");
    for id in [
        "rfc8555/6.5/reused-nonce",
        "rfc8555/6.5/unknown-nonce",
        "rfc8823/3.2/reply-without-dkim-refused",
    ] {
        assert!(dom.contains(id), "{id} in the rendered page");
    }
    // And a screenshot of it: a PNG.
    let shot = dir.join("report.png");
    run(&[
        "--window-size=1400,1000".into(),
        format!("--screenshot={}", shot.display()),
    ]);
    let png = std::fs::read(&shot).expect("a screenshot");
    assert!(
        png.starts_with(b"\x89PNG\r\n\x1a\n") && png.len() > 10_000,
        "{}",
        png.len()
    );
    let _ = std::fs::remove_dir_all(&dir);
}

/// A copy of the scenario library, less one whose outcome depends on timing, plus one that fails
/// on purpose (`rfc8823/3.2/claims-a-wrong-digest-validates`), in a fresh folder.
fn library_with_a_failure(name: &str) -> PathBuf {
    fn copy(from: &std::path::Path, to: &std::path::Path) {
        std::fs::create_dir_all(to).unwrap();
        for entry in std::fs::read_dir(from).unwrap() {
            let entry = entry.unwrap();
            let target = to.join(entry.file_name());
            if entry.file_type().unwrap().is_dir() {
                copy(&entry.path(), &target);
            } else {
                std::fs::copy(entry.path(), target).unwrap();
            }
        }
    }
    let dir = std::env::temp_dir().join(format!("acmeproof-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    copy(
        &PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../scenarios"),
        &dir.join("scenarios"),
    );
    // Left out: `rfc8823/3.2/later-wrong-reply-ignored` sends two replies and expects the CA to
    // judge the first; under load the second can reach it first (3 runs in 400 side by side),
    // so its outcome is not a function of its seed, and this test compares outcomes.
    std::fs::remove_file(dir.join("scenarios/smime/first-reply-counts-right.toml")).unwrap();
    std::fs::write(
        dir.join("scenarios/wrong.toml"),
        r#"
id = "rfc8823/3.2/claims-a-wrong-digest-validates"
title = "wrong on purpose: the CA rightly refuses a wrong digest"
requirements = ["SMIME-10"]
role = "server"
[[step]]
action = "order"
[[step]]
action = "read-challenge"
[[step]]
action = "reply"
change = { digest = "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA" }
[[step]]
action = "post"
[[step]]
action = "expect-authorization"
status = "valid"
req = "SMIME-10"
"#,
    )
    .unwrap();
    dir
}

/// Each scenario's id with its outcome and finding ids, in report order.
fn outcomes(report: &acmeproof_reports::RunReport) -> Vec<(String, String, Vec<String>)> {
    report
        .scenarios
        .iter()
        .map(|s| {
            (
                s.id.clone(),
                s.outcome.to_string(),
                s.findings.iter().map(|f| f.req.clone()).collect(),
            )
        })
        .collect()
}

fn read_report(dir: &std::path::Path) -> acmeproof_reports::RunReport {
    let text = std::fs::read_to_string(dir.join("report.json")).unwrap();
    acmeproof_reports::json::parse(&text).unwrap()
}

#[test]
fn partitions_one_two_and_three_of_three_merge_into_the_full_run() {
    let dir = library_with_a_failure("partition");
    let scenarios = dir.join("scenarios");
    let run = |extra: &[&str], out: &str| {
        let mut args = vec![
            "run",
            "--quiet",
            "--scenarios",
            scenarios.to_str().unwrap(),
            "rfc8823/3.2/*",
            "rfc8555/6.5/*",
            "--format",
            "human,json,junit",
            "--out",
        ];
        let out = dir.join(out);
        args.push(out.to_str().unwrap());
        args.extend_from_slice(extra);
        let o = acmeproof(&args);
        (o.status.code(), stdout(&o), out)
    };
    let (full_code, full_text, full_dir) = run(&[], "full");
    assert_eq!(
        full_code,
        Some(1),
        "the failure on purpose fails the run: {full_text}"
    );
    let full = read_report(&full_dir);
    assert!(full.scenarios.len() > 20, "{}", full.scenarios.len());
    assert_eq!(full.summary.fail, 1, "{full_text}");

    let mut parts = Vec::new();
    let mut seen = Vec::new();
    for k in 1..=3 {
        let partition = format!("{k}/3");
        let (code, text, out) = run(&["--partition", &partition], &format!("part{k}"));
        assert!(
            text.contains(&format!("scenarios, partition {k}/3)")),
            "{text}"
        );
        let part = read_report(&out);
        assert_eq!(part.partition.as_deref(), Some(partition.as_str()));
        // Each part's exit code is its own gate: only the part with the failure fails.
        assert_eq!(code, Some(i32::from(part.gate().exit_code())), "{text}");
        seen.extend(part.scenarios.iter().map(|s| s.id.clone()));
        parts.push(out);
    }
    // The parts are disjoint and together the whole selection.
    let mut all: Vec<String> = full.scenarios.iter().map(|s| s.id.clone()).collect();
    seen.sort();
    all.sort();
    assert_eq!(seen, all);

    let merged_dir = dir.join("merged");
    let mut args = vec!["report", "merge"];
    let part_args: Vec<String> = parts.iter().map(|p| p.display().to_string()).collect();
    // Given out of order on purpose: the merge puts scenarios in id order.
    args.extend([
        part_args[2].as_str(),
        part_args[0].as_str(),
        part_args[1].as_str(),
    ]);
    args.extend(["--out", merged_dir.to_str().unwrap()]);
    let o = acmeproof(&args);
    let text = stdout(&o);
    assert_eq!(o.status.code(), full_code, "{text}");
    let merged = read_report(&merged_dir);
    assert_eq!(outcomes(&merged), outcomes(&full));
    assert_eq!(merged.summary, full.summary);
    assert_eq!(merged.partition, None);
    let headline = format!(
        "result: {} ({} scenarios)",
        full.summary.headline(),
        full.summary.total
    );
    assert!(full_text.contains(&headline), "{full_text}");
    assert!(text.contains(&headline), "{text}");
    assert!(merged_dir.join("junit.xml").is_file() && merged_dir.join("summary.md").is_file());

    // Two of three parts: merged, but the run says what it lacks.
    let o = acmeproof(&[
        "report",
        "merge",
        &part_args[0],
        &part_args[2],
        "--format",
        "human",
    ]);
    assert!(
        stdout(&o).contains("note: the reports are partitions 1/3,3/3, not the whole selection"),
        "{}",
        stdout(&o)
    );
    // The same part twice is refused, with one line and exit 2.
    let o = acmeproof(&["report", "merge", &part_args[0], &part_args[0]]);
    assert_eq!(o.status.code(), Some(2));
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(err.contains("is in more than one report"), "{err}");
    // A bad partition is a usage error.
    for bad in ["0/3", "4/3", "x"] {
        let o = acmeproof(&["run", "--partition", bad, "rfc8823/3.2/*"]);
        assert_eq!(o.status.code(), Some(2), "{bad}");
    }
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn readme_scenario_counts_are_what_list_prints() {
    // The README gives the library's size as "(N scenarios" (the whole library, a result line
    // of a whole run); `acmeproof list | wc -l` is the command it names for that figure.
    let listed = stdout(&acmeproof(&["list"])).lines().count();
    let readme =
        std::fs::read_to_string(PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../README.md"))
            .unwrap();
    let quoted: Vec<usize> = readme
        .split('(')
        .skip(1)
        .filter_map(|after| {
            let (number, rest) = after.split_once(' ')?;
            let n = number.parse::<usize>().ok()?;
            (rest.starts_with("scenarios,") || rest.starts_with("scenarios)")).then_some(n)
        })
        .collect();
    assert!(
        quoted.len() >= 3,
        "the README quotes the library size: {quoted:?}"
    );
    for n in quoted {
        assert_eq!(
            n, listed,
            "README says ({n} scenarios; `acmeproof list` lists {listed}"
        );
    }
}

/// A fresh scratch folder holding `root.pem`, a self-signed certificate standing for the
/// `--server-ca` of a server that never gets that far.
fn folder_with_a_root(name: &str) -> (PathBuf, PathBuf) {
    let dir = std::env::temp_dir().join(format!("acmeproof-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).expect("dir");
    let key = rcgen::KeyPair::generate().expect("key");
    let root = rcgen::CertificateParams::new(vec!["localhost".into()])
        .expect("params")
        .self_signed(&key)
        .expect("cert");
    let ca = dir.join("root.pem");
    std::fs::write(&ca, root.pem()).expect("root");
    (dir, ca)
}

#[test]
fn the_wiring_of_a_server_run_is_written_as_json_before_the_wait() {
    let (dir, ca) = folder_with_a_root("wiring");
    let wiring = dir.join("wiring.json");
    // A port that was free a moment ago: nothing ACME answers there, so the run gives up after
    // its one-second wait, with the wiring already written.
    let port = acmeproof_testkit::fixed_port();
    let url = format!("https://127.0.0.1:{port}/dir");
    // The world's DNS where the operator puts it: another loopback address.
    let world = dir.join("world.toml");
    std::fs::write(&world, "[dns]\nlisten = \"127.0.0.2:0\"\n").expect("world");
    let o = acmeproof(&[
        "run",
        "--server-url",
        &url,
        "--server-ca",
        ca.to_str().expect("utf-8"),
        "--server-wait",
        "1",
        "--server-world",
        world.to_str().expect("utf-8"),
        "--wiring",
        wiring.to_str().expect("utf-8"),
        "--ca-mailbox",
        "ca@ca.example.test:ca-secret",
        "--smarthost-dkim",
        "--out",
        dir.join("report").to_str().expect("utf-8"),
        "rfc8555/8.4/dns-01-issuance",
    ]);
    assert_eq!(o.status.code(), Some(2), "{o:?}");
    let said = String::from_utf8_lossy(&o.stderr);
    assert!(
        said.contains("did not answer as an ACME directory within 1 s"),
        "{said}"
    );
    let w: Value =
        serde_json::from_str(&std::fs::read_to_string(&wiring).expect("wiring")).expect("json");
    assert_eq!(w["server_under_test"], url.as_str());
    let dns: std::net::SocketAddr = w["dns_resolver"]
        .as_str()
        .expect("dns")
        .parse()
        .expect("addr");
    assert_eq!(dns.ip().to_string(), "127.0.0.2", "{w:#}");
    assert_eq!(
        dns,
        w["world"]["dns"]
            .as_str()
            .expect("dns")
            .parse()
            .expect("addr")
    );
    assert!(w["smtp_smarthost"]["address"].is_string(), "{w:#}");
    assert!(
        w["smtp_smarthost"]["implicit_tls_address"].is_string(),
        "{w:#}"
    );
    assert_eq!(w["smtp_smarthost"]["auth"], "any", "{w:#}");
    assert_eq!(w["smtp_smarthost"]["dkim_sign"], true, "{w:#}");
    // The CA mailbox named on the command line, its credentials and where to read it.
    assert_eq!(w["ca_mailbox"]["address"], "ca@ca.example.test", "{w:#}");
    assert_eq!(w["ca_mailbox"]["username"], "ca@ca.example.test", "{w:#}");
    assert_eq!(w["ca_mailbox"]["password"], "ca-secret", "{w:#}");
    for field in ["imap", "imaps", "pop3", "pop3s"] {
        assert!(w["ca_mailbox"][field]["address"].is_string(), "{w:#}");
    }
    assert!(
        w["tls_root_pem"]
            .as_str()
            .is_some_and(|p| p.contains("BEGIN CERTIFICATE")),
        "{w:#}"
    );
    assert!(said.contains("the CA mailbox"), "{said}");
    assert!(said.contains("DKIM-signs"), "{said}");
    assert!(w["capability_ports"]["993"].as_u64().is_some(), "{w:#}");
    assert!(
        w["account_contact"][0]
            .as_str()
            .is_some_and(|c| c.starts_with("mailto:")),
        "{w:#}"
    );
    assert!(
        w["world"]["mail"]["users"]
            .as_array()
            .is_some_and(|u| !u.is_empty())
    );
    // A world file that is not TOML: one line, exit 2.
    std::fs::write(&world, "[dns\n").expect("world");
    let o = acmeproof(&[
        "run",
        "--server-url",
        &url,
        "--server-ca",
        ca.to_str().expect("utf-8"),
        "--server-world",
        world.to_str().expect("utf-8"),
    ]);
    assert_eq!(o.status.code(), Some(2), "{o:?}");
    let said = String::from_utf8_lossy(&o.stderr);
    assert_eq!(said.trim().lines().count(), 1, "{said}");
    assert!(said.contains("--server-world"), "{said}");
    // A --ca-mailbox that is no address: one line, exit 2.
    let o = acmeproof(&[
        "run",
        "--server-url",
        &url,
        "--server-ca",
        ca.to_str().expect("utf-8"),
        "--ca-mailbox",
        "nobody",
    ]);
    assert_eq!(o.status.code(), Some(2), "{o:?}");
    let said = String::from_utf8_lossy(&o.stderr);
    assert_eq!(said.trim().lines().count(), 1, "{said}");
    assert!(said.contains("--ca-mailbox"), "{said}");
    let _ = std::fs::remove_dir_all(&dir);
}

/// A "server" on 127.0.0.1 that either answers every request with an HTML page, or accepts
/// connections and never says anything. Returns its port; it lives as long as the test process.
fn garbage_server(hang: bool) -> u16 {
    use std::io::{Read, Write};
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    let port = listener.local_addr().expect("addr").port();
    std::thread::spawn(move || {
        let mut held = Vec::new();
        for stream in listener.incoming().map_while(Result::ok) {
            if hang {
                held.push(stream);
                continue;
            }
            let mut stream = stream;
            let mut buf = [0u8; 4096];
            let _ = stream.read(&mut buf);
            let _ = stream.write_all(
                b"HTTP/1.1 200 OK\r\nContent-Type: text/html\r\nContent-Length: 21\r\n\
                  Connection: close\r\n\r\n<html>not acme</html>",
            );
        }
    });
    port
}

#[test]
fn a_server_that_answers_garbage_or_hangs_ends_the_run_in_one_line_within_the_wait() {
    let (dir, ca) = folder_with_a_root("garbage");
    for (url, why) in [
        (
            format!("http://127.0.0.1:{}/dir", garbage_server(false)),
            "decoding",
        ),
        (
            format!("https://127.0.0.1:{}/dir", garbage_server(true)),
            "no answer",
        ),
    ] {
        let started = std::time::Instant::now();
        let o = acmeproof(&[
            "run",
            "--server-url",
            &url,
            "--server-ca",
            ca.to_str().expect("utf-8"),
            "--server-wait",
            "2",
            "--out",
            dir.join("report").to_str().expect("utf-8"),
            "rfc8555/8.4/dns-01-issuance",
        ]);
        // Generous: the wait is 2 s; before the fix a hung server held the run for 30 s.
        assert!(
            started.elapsed() < std::time::Duration::from_secs(15),
            "{url}"
        );
        assert_eq!(o.status.code(), Some(2), "{url}: {o:?}");
        let said = String::from_utf8_lossy(&o.stderr);
        let errors: Vec<&str> = said.lines().filter(|l| l.contains("error")).collect();
        assert_eq!(errors.len(), 1, "{said}");
        assert!(errors[0].contains(why), "{said}");
        assert!(!said.contains("panicked"), "{said}");
    }
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn a_fixed_world_port_that_is_taken_is_one_error_line() {
    let (dir, ca) = folder_with_a_root("taken-port");
    // Held for the whole test: the world cannot have it.
    let taken = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    let port = taken.local_addr().expect("addr").port();
    let world = dir.join("world.toml");
    std::fs::write(
        &world,
        format!("[mail.listen]\nsmarthost = \"127.0.0.1:{port}\"\n"),
    )
    .expect("world");
    let o = acmeproof(&[
        "run",
        "--server-url",
        "https://127.0.0.1:1/dir",
        "--server-ca",
        ca.to_str().expect("utf-8"),
        "--server-world",
        world.to_str().expect("utf-8"),
        "--server-wait",
        "1",
    ]);
    assert_eq!(o.status.code(), Some(2), "{o:?}");
    let said = String::from_utf8_lossy(&o.stderr);
    assert_eq!(said.trim().lines().count(), 1, "{said}");
    assert!(said.contains(&format!("127.0.0.1:{port}")), "{said}");
    drop(taken);
    let _ = std::fs::remove_dir_all(&dir);
}

/// `run --salt N`: each scenario gets its own seed mixed with N (the same N, the same seeds),
/// so a second run against a server that keeps its state uses other keys; `--salt` with
/// `--seed` is a usage error.
#[test]
fn a_salt_changes_every_scenarios_seed_the_same_way_each_time() {
    const ID: &str = "rfc8823/3/issuance-ascii-address";
    let seed_of = |extra: &[&str]| {
        let reports = std::env::temp_dir().join(format!(
            "acmeproof-salt-{}-{}",
            std::process::id(),
            extra.join("-")
        ));
        let mut args = vec!["run", "--quiet", "--out", reports.to_str().unwrap(), ID];
        args.extend_from_slice(extra);
        let out = acmeproof(&args);
        assert_eq!(out.status.code(), Some(0), "{}", stdout(&out));
        let json = std::fs::read_to_string(reports.join("report.json")).unwrap();
        let report = acmeproof_reports::json::parse(&json).unwrap();
        let _ = std::fs::remove_dir_all(&reports);
        report.scenarios[0].seed
    };
    let own = seed_of(&[]);
    let salted = seed_of(&["--salt", "7"]);
    assert_ne!(own, salted);
    assert_eq!(salted, seed_of(&["--salt", "7"]));
    assert_ne!(salted, seed_of(&["--salt", "8"]));
    let out = acmeproof(&["run", "--salt", "7", "--seed", "1", ID]);
    assert_eq!(out.status.code(), Some(2), "{}", stdout(&out));
}
