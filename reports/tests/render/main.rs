//! Snapshot and shape tests of the four renderers on one small hand-built run.

use std::collections::BTreeMap;

use acmeproof_protocol::Level;
use acmeproof_protocol::requirements::{self, Requirement};
use acmeproof_reports::{
    Channel, Direction, FindingRecord, Outcome, Role, RunReport, ScenarioResult, StepResult,
    StepStatus, SutKind, ToolInfo, TranscriptEntry, Waivers, html, json, junit, markdown,
};

fn finding(req: &str, level: Level, expected: &str, observed: &str) -> FindingRecord {
    FindingRecord {
        req: req.into(),
        level,
        expected: expected.into(),
        observed: observed.into(),
        step: None,
        transcript: None,
    }
}

fn step(index: usize, action: &str, summary: &str, status: StepStatus) -> StepResult {
    StepResult {
        index,
        action: action.into(),
        summary: summary.into(),
        status,
        detail: None,
    }
}

fn line(seq: u64, channel: Channel, direction: Direction, text: &str) -> TranscriptEntry {
    TranscriptEntry {
        seq,
        at_ms: seq * 3,
        channel,
        direction,
        conn: Some(1),
        endpoint: "127.0.0.1:2525".into(),
        text: text.into(),
    }
}

/// Five scenarios: pass, fail with findings (and a hostile transcript), xfail under a waiver,
/// unimplemented, error.
fn sample(implementation: &str) -> RunReport {
    let mut r = RunReport::new(
        ToolInfo::new("acmeproof", "0.1.0"),
        "2025-03-01T10:00:00Z",
        implementation,
        SutKind::Client,
        false,
    );
    r.duration_ms = 1234;
    r.waiver_file = Some("waivers.toml".into());

    let mut pass = ScenarioResult::new(
        "rfc8555/7.3/new-account",
        "Creates an account with a fresh key",
        Role::Client,
    );
    pass.requirements = vec!["ACME-1".into()];
    pass.seed = 1;
    pass.duration_ms = 40;
    pass.steps = vec![step(
        0,
        "new-account",
        "POST /acme/new-account",
        StepStatus::Ok,
    )];
    r.scenarios.push(pass);

    let mut fail = ScenarioResult::new(
        "rfc8823/3.2/digest-split-lines",
        "Replies with the digest split over lines",
        Role::Client,
    );
    fail.requirements = vec!["SMIME-46".into(), "SMIME-48".into()];
    fail.seed = 42;
    fail.duration_ms = 310;
    fail.variants = BTreeMap::from([
        ("token_join".to_owned(), "either".to_owned()),
        ("challenge_body".to_owned(), "text-plain".to_owned()),
    ]);
    fail.findings = vec![
        finding(
            "SMIME-46",
            Level::Must,
            "BEGIN ACME RESPONSE, digest lines, END ACME RESPONSE",
            "body was \"<script>alert(1)</script>\" | not a digest",
        )
        .at_step(1)
        .at_transcript(2),
        finding(
            "SMIME-21",
            Level::Should,
            "a US-ASCII Subject",
            "Subject: Antwort: Bestätigung ✓",
        )
        .at_step(1),
    ];
    fail.outcome = Outcome::from_findings(&fail.findings, false);
    fail.steps = vec![
        step(0, "order", "order for alice@example.test", StepStatus::Ok),
        StepResult {
            detail: Some("2 findings".into()),
            ..step(1, "reply", "alice's MUA replies", StepStatus::Failed)
        },
        step(
            2,
            "expect-challenge-state",
            "challenge is valid",
            StepStatus::NotRun,
        ),
    ];
    fail.transcript = vec![
        line(
            0,
            Channel::Smtp,
            Direction::ServerToClient,
            "220 mx.example.test ESMTP",
        ),
        line(
            1,
            Channel::Smtp,
            Direction::ClientToServer,
            "EHLO client.example.test",
        ),
        line(
            2,
            Channel::Smtp,
            Direction::ClientToServer,
            "<script>alert(\"pwned\")</script> & Grüße, 日本語",
        ),
        TranscriptEntry {
            conn: None,
            endpoint: "127.0.0.1:5353".into(),
            ..line(
                3,
                Channel::Dns,
                Direction::ClientToServer,
                "Q TXT _acme-challenge.example.test",
            )
        },
    ];
    r.scenarios.push(fail);

    let mut xfail = ScenarioResult::new(
        "email-tls-05/3.4/capability-smtp",
        "Advertises the ACME capability in EHLO",
        Role::Client,
    );
    xfail.requirements = vec!["TLS-9".into(), "TLS-1".into()];
    xfail.seed = 7;
    xfail.duration_ms = 90;
    xfail.findings = vec![finding(
        "TLS-1",
        Level::Must,
        "`service` in the JSON payload",
        "no `service` member",
    )];
    xfail.outcome = Outcome::from_findings(&xfail.findings, false);
    r.scenarios.push(xfail);

    let mut unimpl = ScenarioResult::new(
        "email-tls-05/3.6/capability-pop",
        "Proves control of a POP3 server",
        Role::Client,
    );
    unimpl.requirements = vec!["TLS-11".into()];
    unimpl.outcome = Outcome::Unimplemented;
    unimpl.error = Some("client says: POP3 not supported".into());
    r.scenarios.push(unimpl);

    let mut error = ScenarioResult::new(
        "rfc8555/6.5/bad-nonce-retry",
        "Retries after badNonce",
        Role::Both,
    );
    error.requirements = vec!["ACME-5".into()];
    error.outcome = Outcome::Error;
    error.error = Some("world: cannot bind 127.0.0.1:0 (address in use)".into());
    error.duration_ms = 5;
    r.scenarios.push(error);

    let waivers = Waivers::parse(
        "[[waiver]]\nid = \"email-tls-05/*/capability-smtp\"\nreason = \"EHLO capability lands in 2.1\"\n",
    )
    .unwrap();
    for s in &mut r.scenarios {
        waivers.apply(s);
    }
    r.summarize();
    r
}

#[test]
fn sample_outcomes() {
    let r = sample("client: my-client");
    let outcomes: Vec<Outcome> = r.scenarios.iter().map(|s| s.outcome).collect();
    assert_eq!(
        outcomes,
        [
            Outcome::Pass,
            Outcome::Fail,
            Outcome::Xfail,
            Outcome::Unimplemented,
            Outcome::Error
        ]
    );
    assert_eq!(r.summary.total, 5);
    assert!(!r.is_success());
    assert_eq!(
        r.summary.headline(),
        "1 passed, 1 failed, 1 unimplemented, 0 skipped, 1 error, 1 xfail"
    );
}

#[test]
fn json_round_trips() {
    let r = sample("client: my-client");
    let text = json::render(&r);
    assert_eq!(json::parse(&text).unwrap(), r);
    insta::assert_snapshot!("json", text);
    // The streamed file is the same text (what `acmeproof run` writes to report.json).
    let mut streamed = Vec::new();
    json::write(&r, &mut streamed).unwrap();
    assert_eq!(String::from_utf8(streamed).unwrap(), text);
}

#[test]
fn junit_is_well_formed() {
    let r = sample("client: my-client");
    let xml = junit::render(&r).unwrap();
    let back = quick_junit::Report::deserialize_from_str(&xml).unwrap();
    assert_eq!(back.tests, 5);
    // fail and unimplemented are failures (the exit code fails both), error is an error.
    assert_eq!(back.failures, 2);
    assert_eq!(back.errors, 1);
    assert_eq!(back.skipped, 0);
    let names: Vec<&str> = back.test_suites.iter().map(|s| s.name.as_str()).collect();
    assert_eq!(names, ["rfc8555", "rfc8823", "email-tls-05"]);
    let cases: usize = back.test_suites.iter().map(|s| s.test_cases.len()).sum();
    assert_eq!(cases, 5);
    assert!(!xml.contains("<script>"), "{xml}");
    insta::assert_snapshot!("junit", xml);
}

#[test]
fn junit_xpass_is_a_failure() {
    let mut r = sample("client: my-client");
    r.scenarios.truncate(1);
    r.scenarios[0].waiver = Some("stale".into());
    r.scenarios[0].outcome = Outcome::Xpass;
    let xml = junit::render(&r).unwrap();
    let back = quick_junit::Report::deserialize_from_str(&xml).unwrap();
    assert_eq!(back.failures, 1);
    assert!(
        xml.contains("waived but passed: remove the waiver"),
        "{xml}"
    );
}

#[test]
fn markdown_summary() {
    let text = markdown::render(&sample("client: my-client"));
    assert!(!text.contains("<script>"), "{text}");
    insta::assert_snapshot!("markdown", text);
}

#[test]
fn html_page() {
    let a = sample("client: my-client");
    let mut b = sample("reference");
    b.sut = SutKind::Reference;
    b.waiver_file = None;
    b.scenarios.truncate(2);
    b.scenarios[1].outcome = Outcome::Pass;
    b.scenarios[1].findings.clear();
    b.summarize();
    let full = html::render(&[a.clone(), b.clone()]);
    // Streamed (what `acmeproof run` writes to report.html), the page is the same bytes.
    let mut streamed = Vec::new();
    html::write(&[a.clone(), b.clone()], &mut streamed).unwrap();
    assert_eq!(String::from_utf8(streamed).unwrap(), full);
    for req in requirements::CATALOGUE {
        assert!(
            full.contains(&format!("id=\"req-{}\"", req.id)),
            "{}",
            req.id
        );
    }
    // The snapshot covers a fixed slice of the catalogue so that catalogue edits elsewhere do
    // not churn it; the slice includes uncovered ids.
    let slice: Vec<Requirement> = [
        "ACME-1", "ACME-4", "ACME-5", "SMIME-21", "SMIME-46", "SMIME-48", "TLS-1", "TLS-9",
        "TLS-11", "TLS-12",
    ]
    .iter()
    .filter_map(|id| requirements::lookup(id).copied())
    .collect();
    let page = html::render_with_catalogue(&[a, b], &slice);
    // The hostile transcript line comes out escaped, never as markup.
    assert!(!page.contains("<script>alert"), "raw script tag in page");
    assert!(
        page.contains("&lt;script&gt;alert(&quot;pwned&quot;)&lt;/script&gt; &amp; Grüße, 日本語")
    );
    // Coverage counts only scenarios that ran: TLS-11's one scenario was unimplemented and
    // ACME-5's errored, so both are uncovered, while TLS-9 (a scenario that ran) is covered.
    let uncovered = page
        .split("Not exercised by a scenario that ran: <code>")
        .nth(1)
        .and_then(|rest| rest.split("</code>").next())
        .expect("the page lists uncovered ids");
    let uncovered: Vec<&str> = uncovered.split(", ").collect();
    assert!(uncovered.contains(&"TLS-11"), "{uncovered:?}");
    assert!(uncovered.contains(&"ACME-5"), "{uncovered:?}");
    assert!(!uncovered.contains(&"TLS-9"), "{uncovered:?}");
    // Self-contained: nothing fetched from elsewhere.
    for needle in ["http://", "https://", "src=", "<link", "@import"] {
        assert!(!page.contains(needle), "page refers outside: {needle}");
    }
    insta::assert_snapshot!("html", page);
}

/// A run with one scenario of every outcome, each with a finding, a waiver where it makes one,
/// and hostile text.
fn every_outcome() -> RunReport {
    let mut r = sample("client: <every> \"outcome\" & more");
    r.scenarios.clear();
    for (i, outcome) in acmeproof_reports::OUTCOMES.into_iter().enumerate() {
        let mut s = ScenarioResult::new(
            format!("rfc8823/3.2/case-{i}-{outcome}"),
            "a <b>title</b> & \"quotes\"",
            Role::Client,
        );
        s.outcome = outcome;
        s.seed = i as u64;
        s.duration_ms = 1_000 * i as u64 + 7;
        s.variants
            .insert("token_join".into(), "either \u{1F600}".into());
        s.findings = vec![finding(
            "SMIME-46",
            Level::Should,
            "x < y",
            "]]> & <script>",
        )];
        if matches!(outcome, Outcome::Xfail | Outcome::Xpass) {
            s.waiver = Some("known & <tracked>".into());
        }
        if matches!(
            outcome,
            Outcome::Error | Outcome::Skipped | Outcome::Unimplemented
        ) {
            s.error = Some(format!("why {outcome} <here>"));
        }
        s.transcript = vec![line(
            0,
            Channel::Smtp,
            Direction::ClientToServer,
            "DATA <x>",
        )];
        r.scenarios.push(s);
    }
    r.summarize();
    r
}

#[test]
fn junit_failures_and_errors_are_exactly_what_the_exit_code_rejects() {
    let r = every_outcome();
    let xml = junit::render(&r).unwrap();
    let back = quick_junit::Report::deserialize_from_str(&xml).unwrap();
    let cases: Vec<&quick_junit::TestCase> = back
        .test_suites
        .iter()
        .flat_map(|s| s.test_cases.iter())
        .collect();
    assert_eq!(cases.len(), r.scenarios.len());
    for (case, s) in cases.iter().zip(&r.scenarios) {
        assert_eq!(case.name.as_str(), s.id);
        let (failure, error, skipped) = match &case.status {
            quick_junit::TestCaseStatus::NonSuccess { kind, .. } => (
                *kind == quick_junit::NonSuccessKind::Failure,
                *kind == quick_junit::NonSuccessKind::Error,
                false,
            ),
            quick_junit::TestCaseStatus::Skipped { .. } => (false, false, true),
            quick_junit::TestCaseStatus::Success { .. } => (false, false, false),
        };
        // JUnit rejects a case exactly when the gate rejects its outcome; an error is a JUnit
        // error exactly when the exit code is 2.
        assert_eq!(failure || error, !s.outcome.is_success(), "{}", s.outcome);
        assert_eq!(error, s.outcome == Outcome::Error, "{}", s.outcome);
        assert_eq!(skipped, s.outcome == Outcome::Skipped, "{}", s.outcome);
        let out = case.system_out.as_ref().map(|t| t.as_str()).unwrap_or("");
        assert!(
            out.starts_with(&format!("outcome: {}\nseed: {}\n", s.outcome, s.seed)),
            "{out}"
        );
        assert!(
            out.contains("variant.token_join: either \u{1F600}"),
            "{out}"
        );
    }
    assert_eq!(
        back.failures + back.errors > 0,
        r.gate() != acmeproof_reports::Gate::Accepted
    );
}

/// `xmllint --schema` on `xml`: (valid, what xmllint said).
fn xmllint(xmllint: &std::path::Path, xml: &str, name: &str) -> (bool, String) {
    let xsd =
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../fixtures/junit/junit-10.xsd");
    let dir = std::env::temp_dir().join(format!("acmeproof-junit-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let file = dir.join(format!("{name}.xml"));
    std::fs::write(&file, xml).unwrap();
    let out = std::process::Command::new(xmllint)
        .arg("--noout")
        .arg("--schema")
        .arg(&xsd)
        .arg(&file)
        .output()
        .expect("xmllint runs");
    let _ = std::fs::remove_file(&file);
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[test]
fn junit_validates_against_the_xunit_schema() {
    let Some(tool) = acmeproof_testkit::require_tool("xmllint") else {
        return;
    };
    for (name, report) in [
        ("sample", sample("client: my-client")),
        ("every-outcome", every_outcome()),
        ("empty", {
            let mut r = sample("empty");
            r.scenarios.clear();
            r.summarize();
            r
        }),
    ] {
        let xml = junit::render(&report).unwrap();
        let (valid, said) = xmllint(&tool, &xml, name);
        assert!(valid, "{name}: {said}\n{xml}");
    }
    // The check fires: what quick-junit writes by itself (a `skipped` count on <testsuites>,
    // properties inside a test case) is not valid under the schema.
    let mut raw = quick_junit::Report::new("raw");
    let mut suite = quick_junit::TestSuite::new("s");
    let mut case = quick_junit::TestCase::new("c", quick_junit::TestCaseStatus::success());
    case.add_property(quick_junit::Property::new("outcome", "pass"));
    suite.add_test_case(case);
    raw.add_test_suite(suite);
    let (valid, said) = xmllint(&tool, &raw.to_string().unwrap(), "raw");
    assert!(!valid, "{said}");
    assert!(
        said.contains("'skipped'") && said.contains("properties"),
        "{said}"
    );
}

#[test]
fn markdown_lists_failures_first_then_counts_the_rest() {
    let mut r = every_outcome();
    // Two plain passes and three skipped more: counted, not listed.
    for i in 0..5 {
        let mut s = ScenarioResult::new(format!("rfc8555/7/quiet-{i}"), "t", Role::Server);
        s.outcome = if i < 2 {
            Outcome::Pass
        } else {
            Outcome::Skipped
        };
        r.scenarios.push(s);
    }
    r.summarize();
    let text = markdown::render(&r);
    let at = |needle: &str| {
        text.find(needle)
            .unwrap_or_else(|| panic!("{needle:?} missing from\n{text}"))
    };
    assert!(
        text.contains("❌ rejected") || text.contains("💥 harness error (exit 2)"),
        "{text}"
    );
    assert!(
        text.contains("3 passed, 1 failed, 1 unimplemented, 4 skipped"),
        "{text}"
    );
    // Failures (error, fail, xpass, unimplemented), then the passes with findings.
    let order = [
        at("**Failures (4)**"),
        at("case-5-error"),
        at("case-4-fail"),
        at("case-8-xpass"),
        at("case-3-unimplemented"),
        at("**Accepted with findings or a waiver (3)**"),
        at("case-1-pass-non-strict"),
        at("The other 7: 3 passed, 4 skipped."),
    ];
    assert!(order.windows(2).all(|w| w[0] < w[1]), "{order:?}\n{text}");
    assert!(
        !text.contains("quiet-"),
        "plain passes and skips are only counted"
    );
}

#[test]
fn markdown_stays_under_60000_characters_with_thousands_of_failures() {
    let mut r = sample("client: my-client");
    let template = r.scenarios[1].clone();
    r.scenarios.clear();
    for i in 0..5_000 {
        let mut s = template.clone();
        s.id = format!("rfc8823/3.2/failure-{i:05}-{}", "x".repeat(i % 200));
        s.error = Some(format!("error text {}", "é|<".repeat(i % 300)));
        s.findings.push(finding(
            "SMIME-10",
            Level::Must,
            &"expected ".repeat(100),
            &"observed ".repeat(100),
        ));
        r.scenarios.push(s);
    }
    for i in 0..3_000 {
        let mut s = ScenarioResult::new(format!("rfc8555/7/skipped-{i}"), "t", Role::Server);
        s.outcome = Outcome::Skipped;
        r.scenarios.push(s);
    }
    r.summarize();
    let text = markdown::render(&r);
    assert!(
        text.chars().count() <= 60_000 && text.len() <= markdown::MAX_LEN,
        "{} characters",
        text.chars().count()
    );
    // Still a useful page: the headline, the first failures, and what was left out, counted.
    assert!(
        text.contains("**8000 scenarios:** 0 passed, 5000 failed, 0 unimplemented, 3000 skipped")
    );
    assert!(text.contains("rfc8823/3.2/failure-00000"), "{text}");
    assert!(
        text.contains("more, not shown (see `report.json`)"),
        "{text}"
    );
    assert!(text.contains("The other 3000: 0 passed, 3000 skipped."));
    assert!(
        text.trim_end().ends_with("</details>"),
        "{}",
        &text[text.len() - 300..]
    );
    // And a small run is shown whole.
    let small = markdown::render(&sample("client: my-client"));
    assert!(!small.contains("not shown"), "{small}");
}
