//! instant-acme getting a certificate from an embedded world: the code a client author writes,
//! shared by the tests under `tests/` and by the example on `acmeproof_mocks::World`.

use bytes::Bytes;
use hyper_util::client::legacy::Client;
use hyper_util::rt::TokioExecutor;

use acmeproof_mocks::World;
use instant_acme::{
    Account, AccountBuilder, AuthorizationStatus, BodyWrapper, ChallengeType, Identifier,
    NewAccount, NewOrder, Order, OrderStatus, RetryPolicy,
};

/// Orders a certificate for `name`, answers `kind` through the world's responders, finalizes
/// with a CSR of a fresh key and returns the PEM chain.
pub async fn issue(world: &World, kind: ChallengeType, name: &str) -> String {
    let builder = Account::builder_with_root(world.root_file())
        .expect("an HTTP client trusting the world's root");
    issue_with(builder, world, kind, name).await
}

/// A new account made by `builder` at the world's CA, and an order for `name` on it.
pub async fn new_order(builder: AccountBuilder, world: &World, name: &str) -> Order {
    let (account, _credentials) = builder
        .create(
            &NewAccount {
                contact: &[],
                terms_of_service_agreed: true,
                only_return_existing: false,
            },
            world.directory_url(),
            None,
        )
        .await
        .expect("account");
    let identifiers = [Identifier::Dns(name.to_owned())];
    account
        .new_order(&NewOrder::new(&identifiers))
        .await
        .expect("order")
}

/// [`issue`] with the account made by `builder` (an HTTP client of the test's choosing).
pub async fn issue_with(
    builder: AccountBuilder,
    world: &World,
    kind: ChallengeType,
    name: &str,
) -> String {
    let mut order = new_order(builder, world, name).await;
    let mut authorizations = order.authorizations();
    while let Some(authz) = authorizations.next().await {
        let mut authz = authz.expect("authorization");
        if authz.status != AuthorizationStatus::Pending {
            continue;
        }
        let mut challenge = authz
            .challenge(kind.clone())
            .expect("the challenge is offered");
        let key_authorization = challenge.key_authorization();
        match kind {
            ChallengeType::Dns01 => world
                .dns01_responder()
                .publish(name, &key_authorization.dns_value())
                .await
                .expect("TXT published"),
            ChallengeType::Http01 => world
                .http01_responder()
                .publish(&challenge.token, key_authorization.as_str()),
            _ => unreachable!("only dns-01 and http-01 here"),
        }
        challenge.set_ready().await.expect("challenge posted");
    }
    let retries = RetryPolicy::default();
    let status = order.poll_ready(&retries).await.expect("order polled");
    assert_eq!(status, OrderStatus::Ready, "the world printed why above");
    let key = rcgen::KeyPair::generate().expect("key");
    let csr = rcgen::CertificateParams::new(vec![name.to_owned()])
        .expect("CSR params")
        .serialize_request(&key)
        .expect("CSR");
    order.finalize_csr(csr.der()).await.expect("finalized");
    order.poll_certificate(&retries).await.expect("certificate")
}

/// An account builder whose HTTPS client trusts the world's root through the world's own rustls
/// configuration (ring, named explicitly): it needs no process-wide crypto provider.
pub fn account_builder(world: &World) -> AccountBuilder {
    let connector = hyper_rustls::HttpsConnectorBuilder::new()
        .with_tls_config((*world.rustls_client_config()).clone())
        .https_only()
        .enable_http1()
        .build();
    let http = Client::builder(TokioExecutor::new()).build::<_, BodyWrapper<Bytes>>(connector);
    Account::builder_with_http(Box::new(http))
}

/// A certificate for `name` over dns-01, with [`account_builder`]'s client: what a client's
/// own `issue` would do, for the five-line example.
pub async fn issue_dns01(world: &World, name: &str) -> String {
    issue_with(account_builder(world), world, ChallengeType::Dns01, name).await
}
