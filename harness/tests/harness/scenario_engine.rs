//! The scenario engine itself: load errors that name the file, the line and the field, and
//! expectations that turn into findings when the system under test does something else (the
//! checks fire, not only pass).

use std::path::Path;

use acmeproof::scenario::{self, load::parse};

fn load(text: &str) -> Result<scenario::LoadedScenario, String> {
    parse(Path::new("scenarios/test.toml"), text).map_err(|e| e.to_string())
}

const HEAD: &str = r#"
id = "rfc8823/3.2/test"
title = "t"
requirements = ["SMIME-10"]
role = "server"
"#;

#[test]
fn load_errors_name_the_file_the_line_and_the_field() {
    let unknown_step_field = format!("{HEAD}\n[[step]]\naction = \"issue\"\nusr = \"alice\"\n");
    let e = load(&unknown_step_field).unwrap_err();
    assert!(e.starts_with("scenarios/test.toml: line "), "{e}");
    assert!(e.contains("usr"), "{e}");

    let unknown_action = format!("{HEAD}\n[[step]]\naction = \"teleport\"\n");
    let e = load(&unknown_action).unwrap_err();
    assert!(e.contains("teleport") && e.contains("line 8"), "{e}");

    // Built, so the workspace's catalogue check does not take it for an id in use.
    let unknown = format!("SMIME-{}", 999);
    let text = format!("{HEAD}\n[[step]]\naction = \"post\"\n").replace("SMIME-10", &unknown);
    let e = load(&text).unwrap_err();
    assert!(
        e.contains(&format!("{unknown} is not in the catalogue")),
        "{e}"
    );

    let e = load(
        &format!("{HEAD}\n[[step]]\naction = \"post\"\n").replace("rfc8823/3.2/test", "Bad Id"),
    )
    .unwrap_err();
    assert!(e.contains("id \"Bad Id\""), "{e}");

    let bad_world = format!(
        "{HEAD}\n[world.ca.knobs]\nemail_jion = \"string\"\n\n[[step]]\naction = \"post\"\n"
    );
    let e = load(&bad_world).unwrap_err();
    assert!(e.contains("[world]") && e.contains("email_jion"), "{e}");

    let no_steps = HEAD.to_owned();
    assert!(load(&no_steps).unwrap_err().contains("step"));

    let bad_expect = format!("{HEAD}expect = \"great\"\n[[step]]\naction = \"post\"\n");
    let e = load(&bad_expect).unwrap_err();
    assert!(e.contains("great") && e.contains("line"), "{e}");
    let failing_expect = format!("{HEAD}expect = \"fail\"\n[[step]]\naction = \"post\"\n");
    let e = load(&failing_expect).unwrap_err();
    assert!(e.contains("waiver"), "a known failure is a waiver: {e}");

    // Every closed set of values is an enum: a typo fails here, with the line and the values
    // allowed, not when the step runs.
    for (step, typo) in [
        ("action = \"issue\"\nmua = { join = \"strng\" }", "strng"),
        ("action = \"issue\"\nexpect = \"refusd\"", "refusd"),
        ("action = \"issue\"\ninject = [\"re-subjet\"]", "re-subjet"),
        ("action = \"reply\"\nchange = { send = \"drect\" }", "drect"),
        (
            "action = \"reply\"\nchange = { digest_style = \"paded\" }",
            "paded",
        ),
        (
            "action = \"finalize\"\nusage = \"sigining\"\nreq = \"SMIME-57\"",
            "sigining",
        ),
        (
            "action = \"probe\"\nfault = \"alg-nun\"\nstatus = 400\nreq = \"ACME-8\"",
            "alg-nun",
        ),
        (
            "action = \"expect-authorization\"\nstatus = \"vaild\"\nreq = \"SMIME-10\"",
            "vaild",
        ),
        (
            "action = \"issue-tls\"\nservices = [\"smtp\"]\nadvert = \"allways\"\nreq = \"TLS-9\"",
            "allways",
        ),
    ] {
        let e = load(&format!("{HEAD}\n[[step]]\n{step}\n")).unwrap_err();
        assert!(
            e.starts_with("scenarios/test.toml: line ") && e.contains(typo),
            "{step}: {e}"
        );
    }
    let e = load(&format!(
        "{HEAD}\n[[step]]\naction = \"reply\"\nchange = {{ send = \"drect\" }}\n"
    ))
    .unwrap_err();
    assert!(
        e.contains("direct") && e.contains("unsigned"),
        "names the values: {e}"
    );

    let fine = format!("{HEAD}\n[[step]]\naction = \"issue\"\n");
    let loaded = load(&fine).unwrap();
    assert_eq!(loaded.spec(), "rfc8823");
    assert_eq!(
        loaded.seed(),
        load(&fine).unwrap().seed(),
        "seed from the id, stable"
    );
}

async fn outcome(text: &str) -> (String, Vec<String>) {
    let scenario = load(text).unwrap();
    let run = scenario::run::run(&scenario, scenario.seed()).await;
    let findings = run
        .findings
        .as_slice()
        .iter()
        .map(|f| format!("{} {}", f.req, f.observed))
        .collect();
    (
        scenario::outcome_of(&run, false).as_str().to_owned(),
        findings,
    )
}

#[tokio::test]
async fn an_expectation_that_does_not_hold_is_a_finding_and_a_fail() {
    // A wrong digest expected to validate: the CA (rightly) refuses, so the scenario fails
    // with the step's requirement.
    let text = format!(
        "{HEAD}
[[step]]
action = \"order\"
[[step]]
action = \"read-challenge\"
[[step]]
action = \"reply\"
change = {{ digest = \"AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA\" }}
[[step]]
action = \"post\"
[[step]]
action = \"expect-authorization\"
status = \"valid\"
req = \"SMIME-46\"
"
    );
    let (verdict, findings) = outcome(&text).await;
    assert_eq!(verdict, "fail");
    assert_eq!(findings.len(), 1, "{findings:?}");
    assert!(
        findings[0].starts_with("SMIME-46 authorization invalid"),
        "{findings:?}"
    );

    // The MUA is told to expect no lookalike, but one is injected and ignored.
    let text = format!(
        "{HEAD}
[[step]]
action = \"issue\"
inject = [\"re-subject\"]
ignored = 0
req = \"SMIME-9\"
"
    );
    let (verdict, findings) = outcome(&text).await;
    assert_eq!(verdict, "fail");
    assert!(findings[0].starts_with("SMIME-9 1 ignored"), "{findings:?}");

    // The wrong expected error type.
    let text = format!(
        "{HEAD}
[world.ca.knobs]
email_join = \"string\"
[[step]]
action = \"issue\"
mua = {{ join = \"binary\" }}
expect = \"refused\"
error = \"unauthorized\"
"
    );
    let (verdict, findings) = outcome(&text).await;
    assert_eq!(verdict, "fail");
    assert!(
        findings[0].contains("error incorrectResponse"),
        "{findings:?}"
    );
}

#[tokio::test]
async fn a_step_that_cannot_run_is_a_harness_error_and_later_steps_do_not_run() {
    let text = format!("{HEAD}\n[[step]]\naction = \"post\"\n[[step]]\naction = \"order\"\n");
    let scenario = load(&text).unwrap();
    let run = scenario::run::run(&scenario, 1).await;
    assert_eq!(scenario::outcome_of(&run, false).as_str(), "error");
    assert!(
        run.error.as_deref().unwrap().contains("step 1 (post)"),
        "{:?}",
        run.error
    );
    assert_eq!(run.steps[1].status, scenario::StepStatus::NotRun);
}

/// Runs `text` with its own seed; the outcome must be a harness error, whose message it returns.
async fn harness_error(text: &str) -> String {
    let scenario = load(text).unwrap();
    let run = scenario::run::run(&scenario, scenario.seed()).await;
    assert_eq!(scenario::outcome_of(&run, false).as_str(), "error");
    run.error.unwrap_or_default()
}

/// A wrong reply, then the right one, through a relay that holds every other message when
/// `reorder` is on (the challenge mail is its message 0, the wrong reply 1, the right one 2).
fn two_replies(relay: &str) -> String {
    format!(
        "{HEAD}
[[world.mail.relays]]
name = \"r\"
behaviour = {relay}
[[step]]
action = \"order\"
[[step]]
action = \"read-challenge\"
[[step]]
action = \"reply\"
change = {{ digest = \"AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA\" }}
[[step]]
action = \"reply\"
[[step]]
action = \"post\"
[[step]]
action = \"expect-authorization\"
status = \"valid\"
req = \"SMIME-10\"
"
    )
}

#[tokio::test]
async fn a_reordering_relay_is_exercised_only_when_a_message_overtakes_another() {
    // The right reply overtakes the wrong one: the CA judges the first to arrive.
    let (verdict, findings) = outcome(&two_replies("{ reorder = true }")).await;
    assert_eq!(verdict, "pass", "{findings:?}");
    // Without the reordering the wrong reply arrives first and fails the challenge: the pass
    // above is the relay's doing.
    let (verdict, findings) = outcome(&two_replies("{ }")).await;
    assert_eq!(verdict, "fail");
    assert!(
        findings[0].starts_with("SMIME-10 authorization invalid"),
        "{findings:?}"
    );
    // A third reply, once the challenge is valid, is held with nothing behind it. The relay
    // was already seen overtaking, so the scenario does not wait out that hold (60 s).
    let third = format!(
        "{}[[step]]\naction = \"reply\"\n",
        two_replies("{ reorder = true, reorder_hold_ms = 60000 }")
    );
    let scenario = load(&third).unwrap();
    let started = std::time::Instant::now();
    let run = scenario::run::run(&scenario, scenario.seed()).await;
    assert_eq!(
        scenario::outcome_of(&run, false).as_str(),
        "pass",
        "{:?}",
        run.error
    );
    assert!(
        started.elapsed() < std::time::Duration::from_secs(30),
        "the run waited for the last held reply"
    );
    // One reply: the relay holds it and nothing overtakes it, so the scenario exercised
    // nothing of reordering. That is the scenario's error, not a pass.
    let one = two_replies("{ reorder = true, reorder_hold_ms = 50 }").replacen(
        "[[step]]\naction = \"reply\"\nchange = { digest = \"AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA\" }\n",
        "",
        1,
    );
    let error = harness_error(&one).await;
    assert!(
        error.contains("nothing of reordering was exercised"),
        "{error}"
    );
}

#[tokio::test]
async fn a_mangling_relay_is_exercised_only_when_a_message_takes_its_mangles() {
    let relay = "[[world.mail.relays]]
name = \"list\"
behaviour = { mangle = [{ footer = \"-- \\r\\nsent via list\\r\\n\" }] }";
    // The footer breaks the reply's DKIM, as the scenario expects.
    let through = format!(
        "{HEAD}
{relay}
[[step]]
action = \"order\"
[[step]]
action = \"read-challenge\"
[[step]]
action = \"reply\"
[[step]]
action = \"post\"
[[step]]
action = \"expect-authorization\"
status = \"invalid\"
error = \"unauthorized\"
detail = \"DKIM\"
req = \"SMIME-51\"
"
    );
    let (verdict, findings) = outcome(&through).await;
    assert_eq!(verdict, "pass", "{findings:?}");
    // No mail passes the relay: the scenario tested nothing of its footer.
    let past = format!("{HEAD}\n{relay}\n[[step]]\naction = \"directory\"\nreq = \"ACME-2\"\n");
    let error = harness_error(&past).await;
    assert!(
        error.contains("no message it passed on took every mangle"),
        "{error}"
    );
    // A scenario that fails on its own, with no mail through the relay, keeps its failure:
    // the finding names what went wrong, and the idle relay hides nothing.
    let failing = format!(
        "{HEAD}\n{relay}\n[[step]]\naction = \"new-order\"\ntype = \"dns\"\n\
         value = \"*.*.example.test\"\nreq = \"ACME-18\"\n"
    );
    let (verdict, findings) = outcome(&failing).await;
    assert_eq!(verdict, "fail", "{findings:?}");
    assert!(findings[0].starts_with("ACME-18"), "{findings:?}");
}

#[test]
fn scenarios_that_wait_on_purpose_are_estimated_longer() {
    let plain = load(&format!("{HEAD}\n[[step]]\naction = \"post\"\n")).unwrap();
    let slow = load(&format!(
        "{HEAD}\n[[world.mail.relays]]\nname = \"slow\"\nbehaviour = {{ greylist = true, delay_ms = 300 }}\n\n\
         [world.ca.knobs]\nretry_after_secs = 1\n\n[[step]]\naction = \"post\"\n"
    ))
    .unwrap();
    assert_eq!(plain.expected_wait_ms(), 0);
    assert!(
        slow.expected_wait_ms() >= 1300,
        "{}",
        slow.expected_wait_ms()
    );
}

#[tokio::test]
async fn issue_tls_expectations_fire_both_ways() {
    let head = HEAD.replace("SMIME-10", "TLS-10");
    // A refusal expected where the CA issues (no require_default_port): a finding.
    let refused_expected = format!(
        "{head}\n[[step]]\naction = \"issue-tls\"\nservices = [\"imaps:993\"]\n\
         expect = \"refused\"\nerror = \"malformed\"\nreq = \"TLS-10\"\n"
    );
    let (result, findings) = outcome(&refused_expected).await;
    assert_eq!(result, "fail", "{findings:?}");
    assert!(
        findings
            .iter()
            .any(|f| f.starts_with("TLS-10 a certificate was issued")),
        "{findings:?}"
    );
    // An issuance expected where the client's digest cannot match: a finding too.
    let issued_expected = format!(
        "{head}\n[world.ca.knobs]\nservice_port_in_hash = \"yes\"\n\n[[step]]\n\
         action = \"issue-tls\"\nservices = [\"imaps\"]\nreq = \"TLS-10\"\n"
    );
    let (result, findings) = outcome(&issued_expected).await;
    assert_eq!(result, "fail", "{findings:?}");
    assert!(
        findings.iter().any(|f| f.contains("incorrectResponse")),
        "{findings:?}"
    );
    // The same with the client's digest bound too: it passes.
    let agreeing = issued_expected.replace(
        "services = [\"imaps\"]",
        "services = [\"imaps\"]\nservice_port_in_hash = true",
    );
    let (result, findings) = outcome(&agreeing).await;
    assert_eq!(result, "pass", "{findings:?}");
}

#[tokio::test]
async fn any_refusal_passes_any_4xx_and_fires_on_an_accepted_request() {
    let probe = |fault: &str| {
        format!(
            "{HEAD}
[[step]]
action = \"probe\"
fault = \"{fault}\"
status = 403
error = \"unauthorized\"
any_refusal = true
req = \"ACME-7\"
"
        )
        .replace("SMIME-10", "ACME-7")
    };
    // The reference CA answers 400 malformed, not the 403 unauthorized written here: any
    // refusal passes.
    let (verdict, findings) = outcome(&probe("bad-signature")).await;
    assert_eq!(verdict, "pass", "{findings:?}");
    // A conformant request is answered 200: that is no refusal.
    let (verdict, findings) = outcome(&probe("none")).await;
    assert_eq!(verdict, "fail");
    assert!(
        findings.iter().any(|f| f.starts_with("ACME-7 200")),
        "{findings:?}"
    );
}

#[tokio::test]
async fn a_server_refusing_the_fresh_nonce_of_its_own_bad_nonce_answer_is_an_acme_4_finding() {
    // Every nonce refused: the client's one retry with the badNonce answer's Replay-Nonce is
    // refused too, which RFC 8555 §6.5 forbids. A finding, not a harness error.
    let text = format!(
        "{HEAD}
[world.ca.knobs]
nonce_reject_percent = 100
[[step]]
action = \"order\"
[[step]]
action = \"post\"
"
    );
    let (verdict, findings) = outcome(&text).await;
    assert_eq!(verdict, "fail", "{findings:?}");
    assert_eq!(findings.len(), 1, "{findings:?}");
    assert!(
        findings[0].starts_with("ACME-4 refused again: 400 badNonce"),
        "{findings:?}"
    );
}
