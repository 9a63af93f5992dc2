//! instant-acme with its default features (aws-lc-rs) beside a world, the aws-lc-rs client
//! made before any world starts: the world leaves the process default alone. Its own test
//! binary, so the order is this one.

use std::sync::Arc;

use acmeproof_mocks::World;
use instant_acme::ChallengeType;
use rustls::crypto::CryptoProvider;

#[tokio::test]
async fn instant_acme_aws_lc_rs_before_the_world_gets_certificates_over_dns01_and_http01() {
    // With ring (the world's) and aws-lc-rs (instant-acme's) both in the build, rustls has no
    // implicit default: the test picks aws-lc-rs, as an instant-acme user would.
    CryptoProvider::install_default(rustls::crypto::aws_lc_rs::default_provider())
        .expect("no provider installed yet");
    let aws = CryptoProvider::get_default().expect("installed").clone();
    let _client = rustls::ClientConfig::builder()
        .with_root_certificates(rustls::RootCertStore::empty())
        .with_no_client_auth();

    let world = World::builder().start().await.expect("world");
    let now = CryptoProvider::get_default().expect("still installed");
    assert!(
        Arc::ptr_eq(&aws, now),
        "the world replaced the process default"
    );

    let chain = acmeproof_embed_examples::issue(&world, ChallengeType::Dns01, "example.test").await;
    world.assert_issued(&chain, &["example.test"]);
    let chain =
        acmeproof_embed_examples::issue(&world, ChallengeType::Http01, "www.example.test").await;
    world.assert_issued(&chain, &["www.example.test"]);
}
