//! instant-acme on ring only, the world started first.

// The instant-acme client code of examples/embed, shared; not every function is used here.
#[allow(dead_code)]
#[path = "../../embed/src/lib.rs"]
mod common;

use acmeproof_mocks::World;
use instant_acme::ChallengeType;

#[tokio::test]
async fn the_world_first_then_instant_acme_ring_gets_certificates_over_dns01_and_http01() {
    let world = World::builder().start().await.expect("world");
    assert!(rustls::crypto::CryptoProvider::get_default().is_none());
    let chain = common::issue(&world, ChallengeType::Dns01, "example.test").await;
    world.assert_issued(&chain, &["example.test"]);
    let chain = common::issue(&world, ChallengeType::Http01, "www.example.test").await;
    world.assert_issued(&chain, &["www.example.test"]);
}
