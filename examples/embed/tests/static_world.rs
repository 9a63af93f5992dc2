//! Synchronous tests sharing one world in a `static`: the world runs on a runtime thread of
//! its own, each test on a runtime of its own (or none).

use std::sync::LazyLock;

use acmeproof_mocks::World;
use instant_acme::ChallengeType;

static WORLD: LazyLock<World> = LazyLock::new(|| World::spawn().expect("world"));

fn block_on<F: std::future::Future>(future: F) -> F::Output {
    // instant-acme picks aws-lc-rs here; whichever test comes first installs it.
    let _ = rustls::crypto::CryptoProvider::install_default(
        rustls::crypto::aws_lc_rs::default_provider(),
    );
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime")
        .block_on(future)
}

#[test]
fn a_sync_test_gets_a_certificate_from_the_static_world_over_dns01() {
    let chain = block_on(acmeproof_embed_examples::issue(
        &WORLD,
        ChallengeType::Dns01,
        "example.test",
    ));
    WORLD.assert_issued(&chain, &["example.test"]);
}

#[test]
fn another_sync_test_on_another_runtime_uses_the_same_world_over_http01() {
    let chain = block_on(acmeproof_embed_examples::issue(
        &WORLD,
        ChallengeType::Http01,
        "www.example.test",
    ));
    WORLD.assert_issued(&chain, &["www.example.test"]);
}

#[test]
fn the_static_world_answers_without_any_runtime_in_the_test() {
    assert!(WORLD.directory_url().starts_with("https://127.0.0.1:"));
    assert!(WORLD.root_file().exists());
    let published = WORLD
        .runtime()
        .expect("a spawned world has its runtime")
        .block_on(WORLD.dns01_responder().publish("example.test", "value"));
    published.expect("TXT published from a synchronous test");
}

#[test]
fn assert_issued_fires_on_a_wrong_name_and_on_another_worlds_root() {
    let chain = block_on(acmeproof_embed_examples::issue(
        &WORLD,
        ChallengeType::Dns01,
        "example.test",
    ));
    let now = WORLD.inner().clock.now();
    let quiet = acmeproof_mocks::check_issued(WORLD.root_der(), &chain, &["example.test"], now);
    assert!(quiet.is_ok(), "{quiet:?}");
    let wrong_name =
        acmeproof_mocks::check_issued(WORLD.root_der(), &chain, &["www.example.test"], now);
    match wrong_name {
        Err(e @ acmeproof_mocks::IssuedError::Names { .. }) => {
            let text = e.to_string();
            assert!(
                text.contains("SANs:") && text.contains("example.test"),
                "{text}"
            );
        }
        other => panic!("expected a name mismatch, got {other:?}"),
    }
    let other = World::builder().seed(7).spawn().expect("another world");
    let wrong_root =
        acmeproof_mocks::check_issued(other.root_der(), &chain, &["example.test"], now);
    assert!(
        matches!(wrong_root, Err(acmeproof_mocks::IssuedError::Path(_))),
        "{wrong_root:?}"
    );
}
