//! http-01 and dns-01 with no process-wide rustls provider at any time. The world's CA fetches
//! the http-01 resource with its own HTTP client: that client must name its provider, since
//! there is no default to fall back on. Both ring (acmeproof-mocks) and aws-lc-rs (this crate's
//! rustls) are compiled in, so rustls cannot pick one by itself either. Its own test binary:
//! nothing else in the process installs a default.

use acmeproof_mocks::World;
use instant_acme::ChallengeType;
use rustls::crypto::CryptoProvider;

#[tokio::test]
async fn the_world_validates_http01_and_dns01_with_no_process_default_provider() {
    assert!(
        CryptoProvider::get_default().is_none(),
        "a provider was installed before the test began"
    );
    let world = World::builder().start().await.expect("world");

    // instant-acme over an HTTPS client built from the world's own rustls configuration (ring,
    // named explicitly), so the client side needs no process default either.
    for (kind, name) in [
        (ChallengeType::Http01, "www.example.test"),
        (ChallengeType::Dns01, "example.test"),
    ] {
        let builder = acmeproof_embed_examples::account_builder(&world);
        let chain = acmeproof_embed_examples::issue_with(builder, &world, kind, name).await;
        world.assert_issued(&chain, &[name]);
    }
    assert!(
        CryptoProvider::get_default().is_none(),
        "the world installed a process-wide crypto provider while validating"
    );
}
