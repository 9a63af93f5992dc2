//! instant-acme on ring only, a ring client made before the world starts: rustls then installs
//! its one compiled-in provider as the process default, and the world leaves it in place.

// The instant-acme client code of examples/embed, shared; not every function is used here.
#[allow(dead_code)]
#[path = "../../embed/src/lib.rs"]
mod common;

use acmeproof_mocks::World;
use instant_acme::ChallengeType;

#[tokio::test]
async fn instant_acme_ring_before_the_world_gets_certificates_over_dns01_and_http01() {
    let _client = rustls::ClientConfig::builder()
        .with_root_certificates(rustls::RootCertStore::empty())
        .with_no_client_auth();
    // rustls installed its one compiled-in provider as the process default for that builder.
    let before = rustls::crypto::CryptoProvider::get_default()
        .expect("rustls installs its only provider")
        .clone();
    let world = World::builder().start().await.expect("world");
    let after = rustls::crypto::CryptoProvider::get_default().expect("still installed");
    assert!(
        std::sync::Arc::ptr_eq(&before, after),
        "the world replaced the process default"
    );
    let chain = common::issue(&world, ChallengeType::Dns01, "example.test").await;
    world.assert_issued(&chain, &["example.test"]);
    let chain = common::issue(&world, ChallengeType::Http01, "www.example.test").await;
    world.assert_issued(&chain, &["www.example.test"]);
}
