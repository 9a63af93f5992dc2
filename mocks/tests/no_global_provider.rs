//! A world installs no process-wide rustls `CryptoProvider`: a test that embeds it beside
//! another provider (aws-lc-rs, as instant-acme's default features choose) sees the same
//! process default before and after the world starts. Its own test binary, so no other test
//! of this crate installs a provider first.

use acmeproof_mocks::world::{World, WorldConfig};

#[tokio::test]
async fn starting_a_world_installs_no_default_crypto_provider() {
    assert!(
        rustls::crypto::CryptoProvider::get_default().is_none(),
        "nothing in this binary installs a provider before the world starts"
    );
    let world = World::start(WorldConfig::example()).await.expect("world");
    assert!(
        rustls::crypto::CryptoProvider::get_default().is_none(),
        "starting the world (DNS, CA, mail plane) installed a process-wide crypto provider"
    );
    world.shutdown().await;
    assert!(rustls::crypto::CryptoProvider::get_default().is_none());
}
