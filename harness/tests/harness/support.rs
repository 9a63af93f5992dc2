//! Shared test plumbing: a world per test and a registered client.

use std::time::Duration;

use acmeproof::acme::AcmeClient;
use acmeproof::sut::server::ServerTarget;
use acmeproof_mocks::account_key::{AccountKey, KeyAlg};
use acmeproof_mocks::seed::Seed;
use acmeproof_mocks::world::{World, WorldConfig};

/// A bound for anything a test awaits.
pub const WAIT: Duration = Duration::from_secs(20);

/// A fresh example world, changed by `tweak` first.
pub async fn world_with(tweak: impl FnOnce(&mut WorldConfig)) -> World {
    let mut config = WorldConfig::example();
    tweak(&mut config);
    World::start(config).await.expect("world starts")
}

/// A fresh example world.
pub async fn world() -> World {
    world_with(|_| {}).await
}

/// A key drawn from `label`'s stream.
pub fn key(alg: KeyAlg, label: &str) -> AccountKey {
    AccountKey::generate(alg, &Seed(7).stream(label)).expect("key")
}

/// A client for `world` with an account.
pub async fn client(world: &World, label: &str) -> AcmeClient {
    let client = unregistered(world, key(KeyAlg::Es256, label)).await;
    client
        .new_account(&["mailto:admin@example.test".into()])
        .await
        .expect("newAccount");
    client
}

/// A client for `world` without an account.
pub async fn unregistered(world: &World, key: AccountKey) -> AcmeClient {
    AcmeClient::connect(&world.ca.directory_url(), world.pki.root_pem(), key)
        .await
        .expect("directory")
}

/// The certificates of a PEM chain, DER, in order.
pub fn pem_chain(pem: &str) -> Vec<Vec<u8>> {
    x509_parser::pem::Pem::iter_from_buffer(pem.as_bytes())
        .map(|block| block.expect("PEM block").contents)
        .collect()
}

/// Headless Chromium for `page`, with the flags a sandboxed, offline machine needs (no
/// sandbox, no GPU, no network services) and its own profile folder; add `--dump-dom` or
/// `--screenshot=…`.
pub fn chromium(program: &std::path::Path, profile: &std::path::Path) -> std::process::Command {
    let mut cmd = std::process::Command::new(program);
    cmd.args([
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-quic",
        "--no-first-run",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
    ])
    .arg(format!("--user-data-dir={}", profile.display()));
    cmd
}

/// The world's own CA as a server under test, judged as `run --server-url` judges by default:
/// a lenient MUA, each chain up to its own top, no account contact. Tests change what they need
/// with struct update syntax.
pub fn world_ca_under_test(world: World) -> ServerTarget {
    ServerTarget {
        directory_url: world.ca.directory_url(),
        root_pem: world.pki.root_pem().to_owned(),
        issuing_roots: Vec::new(),
        contact: Vec::new(),
        world,
        strict_mua: false,
        email: Ok(()),
        email_tls: Ok(()),
        request_timeout: acmeproof::acme::client::REQUEST_TIMEOUT,
    }
}

pub use acmeproof_testkit::{fixed_port, fixed_ports};

/// A child process, killed and reaped when dropped.
pub struct Running(pub std::process::Child);

impl Drop for Running {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// The lines `reader` gives, read on a thread of their own, as a channel a test can wait on
/// with a timeout.
pub fn lines(reader: impl std::io::Read + Send + 'static) -> std::sync::mpsc::Receiver<String> {
    use std::io::BufRead as _;
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        for line in std::io::BufReader::new(reader)
            .lines()
            .map_while(Result::ok)
        {
            if tx.send(line).is_err() {
                break;
            }
        }
    });
    rx
}
