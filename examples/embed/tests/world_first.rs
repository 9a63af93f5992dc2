//! instant-acme with its default features (aws-lc-rs), the world started first: the world
//! installs no provider, so the test's own aws-lc-rs install succeeds. Its own test binary, so
//! the order is this one.

use acmeproof_mocks::World;
use instant_acme::ChallengeType;
use rustls::crypto::CryptoProvider;

#[tokio::test]
async fn the_world_first_then_instant_acme_aws_lc_rs_gets_certificates_over_dns01_and_http01() {
    let world = World::builder().start().await.expect("world");
    assert!(
        CryptoProvider::get_default().is_none(),
        "starting the world installed a process-wide crypto provider"
    );
    CryptoProvider::install_default(rustls::crypto::aws_lc_rs::default_provider())
        .expect("the world left the process default free");

    let chain = acmeproof_embed_examples::issue(&world, ChallengeType::Dns01, "example.test").await;
    world.assert_issued(&chain, &["example.test"]);
    let chain =
        acmeproof_embed_examples::issue(&world, ChallengeType::Http01, "www.example.test").await;
    world.assert_issued(&chain, &["www.example.test"]);
}
