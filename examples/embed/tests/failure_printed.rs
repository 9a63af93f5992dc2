//! A failed validation prints its problem document (RFC 8555 §8: the challenge's `error`) on
//! the test's stderr, so the test author sees why without re-reading the authorization; a
//! validation that succeeds prints nothing. The test runs itself as a child process to read
//! what the child printed.

use std::process::Command;

use acmeproof_mocks::World;
use instant_acme::{Account, ChallengeType, OrderStatus, RetryPolicy};

const CHILD: &str = "ACMEPROOF_EMBED_FAILURE_CHILD";
const CHILD_TEST: &str = "child_one_success_then_one_failed_dns01";
/// What the child prints of the problem the client read, for the parent to compare.
const CLIENT_SAW: &str = "the client read: ";

#[test]
fn a_failed_validation_prints_its_problem_document_and_a_success_prints_nothing() {
    let output = Command::new(std::env::current_exe().expect("this test binary"))
        .args(["--exact", CHILD_TEST, "--nocapture", "--test-threads=1"])
        .env(CHILD, "1")
        .output()
        .expect("the child test runs");
    let stdout = String::from_utf8_lossy(&output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        output.status.success(),
        "the child failed:\n{stdout}\n{stderr}"
    );
    let client_saw = stdout
        .lines()
        .chain(stderr.lines())
        .find_map(|l| l.split_once(CLIENT_SAW).map(|(_, saw)| saw))
        .unwrap_or_else(|| {
            panic!("the child names the problem its client read:\n{stdout}\n{stderr}")
        });
    let (problem_type, detail) = client_saw.split_once(' ').expect("type and detail");

    let printed: Vec<&str> = stderr
        .split("acmeproof world: ")
        .skip(1)
        .filter(|block| block.contains(" challenge for "))
        .collect();
    assert_eq!(
        printed.len(),
        1,
        "one invalid challenge, one printed problem; stderr:\n{stderr}"
    );
    let block = printed[0];
    assert!(
        block.starts_with("the dns-01 challenge for example.test is invalid:"),
        "{block}"
    );
    assert!(
        !block.contains("www.example.test"),
        "the valid http-01 challenge was printed: {block}"
    );
    // The pretty-printed document: from the line after the first to the closing brace.
    let json: Vec<&str> = block
        .lines()
        .skip(1)
        .scan(false, |closed, line| {
            (!*closed).then(|| {
                *closed = line == "}";
                line
            })
        })
        .collect();
    let document: serde_json::Value = serde_json::from_str(&json.join("\n"))
        .unwrap_or_else(|e| panic!("the printed problem is JSON ({e}): {block}"));
    assert_eq!(document["type"], problem_type, "{document}");
    assert_eq!(document["detail"], detail, "{document}");
}

/// Run only by the parent above: an http-01 issuance that succeeds, then a dns-01 order whose
/// TXT record holds the wrong value, then the world's stop.
#[tokio::test]
async fn child_one_success_then_one_failed_dns01() {
    if std::env::var_os(CHILD).is_none() {
        return;
    }
    // instant-acme's own HTTPS client takes the process default, as in a client's own tests.
    let _ = rustls::crypto::CryptoProvider::install_default(
        rustls::crypto::aws_lc_rs::default_provider(),
    );
    let world = World::builder().start().await.expect("world");
    let chain =
        acmeproof_embed_examples::issue(&world, ChallengeType::Http01, "www.example.test").await;
    world.assert_issued(&chain, &["www.example.test"]);

    let builder = Account::builder_with_root(world.root_file()).expect("HTTP client");
    let mut order = acmeproof_embed_examples::new_order(builder, &world, "example.test").await;
    {
        let mut authorizations = order.authorizations();
        let mut authz = authorizations.next().await.expect("one").expect("authz");
        let mut challenge = authz.challenge(ChallengeType::Dns01).expect("dns-01");
        world
            .dns01_responder()
            .publish("example.test", "not-the-key-authorization-digest")
            .await
            .expect("TXT published");
        challenge.set_ready().await.expect("challenge posted");
    }
    // The order ends invalid: instant-acme returns that status, or the CA's problem for it.
    match order.poll_ready(&RetryPolicy::default()).await {
        Ok(status) => assert_eq!(status, OrderStatus::Invalid),
        Err(instant_acme::Error::Api(problem)) => {
            assert_eq!(problem.status, Some(403), "{problem:?}")
        }
        Err(e) => panic!("polling the order: {e}"),
    }
    let mut authorizations = order.authorizations();
    let mut authz = authorizations.next().await.expect("one").expect("authz");
    let state = authz.refresh().await.expect("authorization read");
    let problem = state
        .challenges
        .iter()
        .find(|c| c.r#type == ChallengeType::Dns01)
        .and_then(|c| c.error.as_ref())
        .expect("the invalid challenge carries its error");
    // The parent reads this line.
    #[allow(clippy::print_stdout)]
    {
        println!(
            "{CLIENT_SAW}{} {}",
            problem.r#type.as_deref().unwrap_or_default(),
            problem.detail.as_deref().unwrap_or_default()
        );
    }
    world.shutdown().await;
}
