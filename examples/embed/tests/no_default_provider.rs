//! http-01 and dns-01 with no process-wide rustls provider at any time. The world's CA fetches
//! the http-01 resource with its own HTTP client: that client must name its provider, since
//! there is no default to fall back on. Both ring (acmeproof-mocks) and aws-lc-rs (this crate's
//! rustls) are compiled in, so rustls cannot pick one by itself either. Its own test binary:
//! nothing else in the process installs a default.

mod common;

use acmeproof_mocks::World;
use bytes::Bytes;
use hyper_util::client::legacy::Client;
use hyper_util::rt::TokioExecutor;
use instant_acme::{Account, BodyWrapper, ChallengeType};
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
    let connector = hyper_rustls::HttpsConnectorBuilder::new()
        .with_tls_config((*world.rustls_client_config()).clone())
        .https_only()
        .enable_http1()
        .build();
    let http = Client::builder(TokioExecutor::new()).build::<_, BodyWrapper<Bytes>>(connector);

    for (kind, name) in [
        (ChallengeType::Http01, "www.example.test"),
        (ChallengeType::Dns01, "example.test"),
    ] {
        let builder = Account::builder_with_http(Box::new(http.clone()));
        let chain = common::issue_with(builder, &world, kind, name).await;
        world.assert_issued(&chain, &[name]);
    }
    assert!(
        CryptoProvider::get_default().is_none(),
        "the world installed a process-wide crypto provider while validating"
    );
}
