//! The `ca` feature alone: the world has DNS and the CA, and a world that asks for the mail
//! plane is refused with an error that names the missing feature, instead of starting without
//! it.

use acmeproof_mocks::World;

#[tokio::test]
async fn a_ca_only_build_refuses_the_mail_plane_by_name_and_starts_without_it() {
    let err = World::builder()
        .mail(true)
        .start()
        .await
        .err()
        .expect("a world with the mail plane must not start without the `mailbox` feature");
    let message = err.to_string();
    assert!(
        message.contains("without its `mailbox` feature"),
        "the error should name the feature: {message}"
    );
    let world = World::builder().start().await.expect("a DNS + CA world");
    assert!(world.mail().is_none());
    assert!(world.directory_url().starts_with("https://127.0.0.1:"));
}
