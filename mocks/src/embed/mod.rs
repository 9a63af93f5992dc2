//! The world as a library: [`World`] for a Rust test of an ACME client or a mail tool.
//!
//! [`World::builder`] starts from a DNS zone `example.test` (with `www.` and `mail.` hosts on
//! 127.0.0.1 and a CAA record naming this CA) and the ACME CA; the mail plane is off until
//! [`WorldBuilder::mail`] turns it on. [`WorldBuilder::start`] starts the servers on the
//! caller's tokio runtime; [`World::spawn`] starts them on a runtime thread of their own, so one
//! world can live in a `static` and serve synchronous tests and several `#[tokio::test]`s.
//!
//! Nothing here touches the process: no crypto provider is installed (every TLS
//! configuration names ring itself), no environment variable is read, and the root file is
//! removed when the world is dropped. The one thing a process shares is the thread its HTTP
//! connections are served on (`acmeproof-http`, started by the first connection and kept until
//! the process ends; see [`crate::https`]): a world's accept loops run where it was started,
//! the connections they accept run there, and stopping the world ends both.

mod issued;
mod responders;
mod trace;

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

pub use issued::{Issued, IssuedError, assert_issued, check_issued};
pub use responders::{Dns01Responder, Http01Responder};
pub use trace::trace;

use crate::ca::model::ChallengeStatus;
use crate::world::{self, EXAMPLE_WORLD, MailEndpoints, WorldConfig, WorldError};

/// How a world is configured before it starts: [`World::builder`].
#[derive(Debug, Clone)]
pub struct WorldBuilder {
    config: toml::Table,
    problem: Option<String>,
}

impl Default for WorldBuilder {
    fn default() -> Self {
        let mut config: toml::Table = toml::from_str(EXAMPLE_WORLD).unwrap_or_default();
        let mut builder = WorldBuilder {
            config: toml::Table::new(),
            problem: None,
        };
        // The example world, its mail plane off: a DNS + CA world is what an ACME client test
        // needs, and it starts without the mail servers.
        table(&mut config, "mail").insert("enabled".into(), false.into());
        builder.config = config;
        builder
    }
}

fn table<'a>(parent: &'a mut toml::Table, key: &str) -> &'a mut toml::Table {
    let entry = parent
        .entry(key)
        .or_insert_with(|| toml::Value::Table(toml::Table::new()));
    if !entry.is_table() {
        *entry = toml::Value::Table(toml::Table::new());
    }
    match entry {
        toml::Value::Table(t) => t,
        _ => unreachable!("made a table just above"),
    }
}

fn array<'a>(parent: &'a mut toml::Table, key: &str) -> &'a mut Vec<toml::Value> {
    let entry = parent
        .entry(key)
        .or_insert_with(|| toml::Value::Array(Vec::new()));
    if !entry.is_array() {
        *entry = toml::Value::Array(Vec::new());
    }
    match entry {
        toml::Value::Array(a) => a,
        _ => unreachable!("made an array just above"),
    }
}

impl WorldBuilder {
    /// Serves the zone `apex` (a name under it can then get a certificate over dns-01).
    pub fn zone(mut self, apex: &str) -> Self {
        array(table(&mut self.config, "dns"), "zones").push(apex.into());
        self
    }

    /// Adds a record in presentation format (`record("www.example.test", "A", "127.0.0.1")`);
    /// it must lie in a zone of the world.
    pub fn record(mut self, name: &str, rtype: &str, value: &str) -> Self {
        let mut record = toml::Table::new();
        record.insert("name".into(), name.into());
        record.insert("type".into(), rtype.into());
        record.insert("value".into(), value.into());
        array(table(&mut self.config, "dns"), "records").push(record.into());
        self
    }

    /// Adds a mailbox owner (Submission, IMAP and POP3 take `password`); see [`Self::mail`].
    pub fn user(mut self, address: &str, password: &str) -> Self {
        let mut user = toml::Table::new();
        user.insert("address".into(), address.into());
        user.insert("password".into(), password.into());
        array(table(&mut self.config, "mail"), "users").push(user.into());
        self
    }

    /// Sets a CA knob by its TOML name (`knob("always_valid", true)`); an unknown name or a
    /// bad value makes [`Self::start`] fail with the knob's name.
    pub fn knob(mut self, name: &str, value: impl Into<toml::Value>) -> Self {
        let ca = table(&mut self.config, "ca");
        table(ca, "knobs").insert(name.into(), value.into());
        self
    }

    /// Every challenge becomes valid when the client posts it (the knob `always_valid`, as
    /// Pebble's `PEBBLE_VA_ALWAYS_VALID`).
    pub fn always_valid(self) -> Self {
        self.knob("always_valid", true)
    }

    /// Merges a world config document (the format of `acmeproof serve --config`): tables
    /// merge key by key, anything else replaces.
    pub fn toml(mut self, text: &str) -> Self {
        match toml::from_str::<toml::Table>(text) {
            Ok(overrides) => world::merge_tables(&mut self.config, &overrides),
            Err(e) => self.problem = Some(world::one_line(text, &e)),
        }
        self
    }

    /// Turns the mail plane (MX, Submission, LMTP, relays, IMAP, POP3) on or off.
    /// On needs the `mailbox` cargo feature (default); without it the world refuses to start.
    pub fn mail(mut self, on: bool) -> Self {
        table(&mut self.config, "mail").insert("enabled".into(), on.into());
        self
    }

    /// The seed every random value of the world comes from.
    pub fn seed(mut self, seed: u64) -> Self {
        self.config.insert("seed".into(), (seed as i64).into());
        self
    }

    /// The configuration as the world will start with it.
    pub fn config(&self) -> Result<WorldConfig, WorldError> {
        if let Some(problem) = &self.problem {
            return Err(WorldError::Config(problem.clone()));
        }
        WorldConfig::deserialize(toml::Value::Table(self.config.clone()))
            .map_err(|e| WorldError::Config(e.message().trim().replace('\n', " ")))
    }

    /// Starts the world on the current tokio runtime; it lives as long as that runtime does,
    /// and stops when dropped.
    pub async fn start(self) -> Result<World, WorldError> {
        let config = self.config()?;
        let parts = Parts::start(config).await?;
        World::new(parts, None)
    }

    /// Starts the world on a runtime thread of its own (callable from synchronous code and
    /// from inside a tokio runtime alike), so it can live in a `static`.
    pub fn spawn(self) -> Result<World, WorldError> {
        let config = self.config()?;
        let (started_tx, started_rx) = std::sync::mpsc::channel();
        let (stop_tx, stop_rx) = tokio::sync::oneshot::channel::<Parts>();
        let thread = std::thread::Builder::new()
            .name("acmeproof-world".into())
            .spawn(move || {
                let runtime = match tokio::runtime::Builder::new_multi_thread()
                    .worker_threads(2)
                    .thread_name("acmeproof-world")
                    .enable_all()
                    .build()
                {
                    Ok(runtime) => runtime,
                    Err(e) => {
                        let _ = started_tx.send(Err(WorldError::Io(e)));
                        return;
                    }
                };
                let started = runtime.block_on(Parts::start(config));
                let _ = started_tx.send(started.map(|p| (p, runtime.handle().clone())));
                // The world comes back here when the World is dropped; a `static` world never
                // comes back, and its servers end with the process.
                if let Ok(parts) = runtime.block_on(stop_rx) {
                    runtime.block_on(parts.shutdown());
                }
            })?;
        let (parts, handle) = started_rx
            .recv()
            .map_err(|_| WorldError::Config("the world's runtime thread ended".into()))??;
        World::new(
            parts,
            Some(OwnRuntime {
                handle,
                stop: std::sync::Mutex::new(Some(stop_tx)),
                thread: std::sync::Mutex::new(Some(thread)),
            }),
        )
    }
}

use serde::Deserialize;

/// The servers of one world and the façade's own helpers.
#[derive(Debug)]
struct Parts {
    world: world::World,
    http01: Http01Responder,
    printer: tokio::task::JoinHandle<()>,
    /// Tells the printer to print what is queued and stop.
    printer_stop: tokio::sync::oneshot::Sender<()>,
}

impl Parts {
    async fn start(config: WorldConfig) -> Result<Parts, WorldError> {
        let explicit_http01_port =
            config.ca.knobs.http01_port != crate::ca::knobs::Knobs::default().http01_port;
        let world = world::World::start(config).await?;
        let http01 = Http01Responder::start().await?;
        if !explicit_http01_port {
            // RFC 8555 §8.3 fetches from port 80; the CA's port knob points it at the
            // responder's loopback port instead.
            let shared = world.ca.shared();
            let mut knobs = shared.knobs();
            knobs.http01_port = http01.port();
            shared.set_knobs(knobs);
        }
        // Subscribed before the task runs, so no outcome is missed however late it starts.
        let validations = world.ca.shared().validations.subscribe();
        let (printer_stop, stop) = tokio::sync::oneshot::channel();
        let printer = tokio::spawn(print_failures(
            Arc::clone(world.ca.shared()),
            validations,
            stop,
        ));
        Ok(Parts {
            world,
            http01,
            printer,
            printer_stop,
        })
    }

    async fn shutdown(self) {
        // A validation that failed just before the stop is still printed.
        let _ = self.printer_stop.send(());
        let mut printer = self.printer;
        if tokio::time::timeout(PRINTER_DRAIN, &mut printer)
            .await
            .is_err()
        {
            printer.abort();
        }
        self.http01.shutdown().await;
        self.world.shutdown().await;
    }
}

/// The longest a stopping world waits for its failure printer to print what is queued.
const PRINTER_DRAIN: std::time::Duration = std::time::Duration::from_secs(2);

/// Prints every challenge that became invalid with its problem document (RFC 8555 §8: the
/// challenge's `error`), so a failing test shows why without re-reading the authorization.
/// On `stop` it prints the outcomes already queued, then returns.
async fn print_failures(
    ca: Arc<crate::ca::CaShared>,
    mut validations: tokio::sync::broadcast::Receiver<String>,
    mut stop: tokio::sync::oneshot::Receiver<()>,
) {
    use tokio::sync::broadcast::error::{RecvError, TryRecvError};
    loop {
        let id = tokio::select! {
            received = validations.recv() => match received {
                Ok(id) => id,
                Err(RecvError::Lagged(_)) => continue,
                Err(RecvError::Closed) => return,
            },
            _ = &mut stop => loop {
                match validations.try_recv() {
                    Ok(id) => print_failure(&ca, &id),
                    Err(TryRecvError::Lagged(_)) => continue,
                    Err(_) => return,
                }
            },
        };
        print_failure(&ca, &id);
    }
}

/// Prints challenge `id` if it is invalid.
fn print_failure(ca: &crate::ca::CaShared, id: &str) {
    let line = {
        let store = ca.store();
        let Some(challenge) = store.challenges.get(id) else {
            return;
        };
        if challenge.status != ChallengeStatus::Invalid {
            return;
        }
        let identifier = store
            .authzs
            .get(&challenge.authz)
            .map(|a| a.identifier.value.clone())
            .unwrap_or_default();
        let problem = challenge
            .error
            .as_ref()
            .map(|e| serde_json::to_string_pretty(e).unwrap_or_default())
            .unwrap_or_else(|| "(no problem document)".into());
        format!(
            "acmeproof world: the {} challenge for {identifier} is invalid:\n{problem}",
            challenge.kind.name()
        )
    };
    tracing::warn!("{line}");
    // Printed, not only traced: the test harness shows a failing test's output.
    #[allow(clippy::print_stderr)]
    {
        eprintln!("{line}");
    }
}

/// The runtime thread of a [`World::spawn`] world.
#[derive(Debug)]
struct OwnRuntime {
    handle: tokio::runtime::Handle,
    stop: std::sync::Mutex<Option<tokio::sync::oneshot::Sender<Parts>>>,
    thread: std::sync::Mutex<Option<std::thread::JoinHandle<()>>>,
}

/// A running world: DNS and an ACME CA (and the mail plane when asked), on 127.0.0.1 ports
/// chosen at start. Stops when dropped.
///
/// A client's certificate test, whole: `my_client::issue_dns01` stands for your client (here it
/// is instant-acme, from this repository's `examples/embed`), which orders, answers dns-01
/// through [`World::dns01_responder`] and finalizes.
///
/// ```
/// # use acmeproof_embed_examples as my_client;
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() {
/// let world = acmeproof_mocks::World::builder().start().await.unwrap();
/// let chain = my_client::issue_dns01(&world, "example.test").await;
/// world.assert_issued(&chain, &["example.test"]);
/// # }
/// ```
#[derive(Debug)]
pub struct World {
    parts: Option<Parts>,
    own: Option<OwnRuntime>,
    root_file: PathBuf,
}

impl World {
    /// A builder with the default world: zone `example.test`, the CA, no mail plane.
    pub fn builder() -> WorldBuilder {
        WorldBuilder::default()
    }

    /// The default world on a runtime thread of its own (see [`WorldBuilder::spawn`]).
    pub fn spawn() -> Result<World, WorldError> {
        WorldBuilder::default().spawn()
    }

    fn new(parts: Parts, own: Option<OwnRuntime>) -> Result<World, WorldError> {
        static NEXT: AtomicU64 = AtomicU64::new(0);
        let root_file = std::env::temp_dir().join(format!(
            "acmeproof-root-{}-{}.pem",
            std::process::id(),
            NEXT.fetch_add(1, Ordering::Relaxed)
        ));
        let world = World {
            parts: Some(parts),
            own,
            root_file,
        };
        world.inner().write_bundle(&world.root_file)?;
        Ok(world)
    }

    /// The world underneath, for everything the façade does not name (faults, the clock, the
    /// CA's state, the management API).
    pub fn inner(&self) -> &world::World {
        match &self.parts {
            Some(parts) => &parts.world,
            None => unreachable!("the parts are taken only in Drop"),
        }
    }

    fn parts(&self) -> &Parts {
        match &self.parts {
            Some(parts) => parts,
            None => unreachable!("the parts are taken only in Drop"),
        }
    }

    /// The ACME directory URL, `https://127.0.0.1:PORT/directory`.
    pub fn directory_url(&self) -> String {
        self.inner().ca.directory_url()
    }

    /// The root certificate the CA's HTTPS and every issued chain lead to, PEM.
    pub fn root_pem(&self) -> &str {
        self.inner().pki.root_pem()
    }

    /// The root certificate, DER.
    pub fn root_der(&self) -> &[u8] {
        self.inner().pki.root_der()
    }

    /// A PEM file holding the root, for a client that takes a path; removed when the world is
    /// dropped.
    pub fn root_file(&self) -> &Path {
        &self.root_file
    }

    /// A rustls client configuration trusting only the world's root (ring provider, world
    /// clock), for a client of the CA's HTTPS.
    pub fn rustls_client_config(&self) -> Arc<rustls::ClientConfig> {
        self.inner().pki.client_config()
    }

    /// The authoritative DNS server (UDP and TCP on the same port).
    pub fn dns_addr(&self) -> SocketAddr {
        self.inner().dns.addr()
    }

    /// Where the mail servers listen and who may use them (`None` without the mail plane).
    pub fn mail(&self) -> Option<MailEndpoints> {
        self.inner().endpoints(None).mail
    }

    /// Publishes and clears dns-01 TXT records (RFC 8555 §8.4) in the world's DNS.
    pub fn dns01_responder(&self) -> Dns01Responder {
        Dns01Responder::new(Arc::clone(&self.inner().dns))
    }

    /// Serves http-01 key authorizations (RFC 8555 §8.3) where the CA fetches them.
    pub fn http01_responder(&self) -> &Http01Responder {
        &self.parts().http01
    }

    /// Stops the world and waits until it has stopped: every server closed, and every
    /// challenge that failed before the stop printed. Dropping a world stops it too, but a
    /// world started with [`WorldBuilder::start`] can only begin its stop from `Drop`, since
    /// `Drop` cannot wait on the caller's runtime.
    pub async fn shutdown(mut self) {
        if self.own.is_some() {
            // A spawned world stops on its own runtime thread, as in `Drop`, whose join blocks.
            let _ = tokio::task::spawn_blocking(move || drop(self)).await;
            return;
        }
        let _ = std::fs::remove_file(&self.root_file);
        if let Some(parts) = self.parts.take() {
            parts.shutdown().await;
        }
    }

    /// The runtime a [`World::spawn`] world runs on (`None` for a world started with
    /// [`WorldBuilder::start`]), e.g. to run the async responders from a synchronous test.
    pub fn runtime(&self) -> Option<&tokio::runtime::Handle> {
        self.own.as_ref().map(|own| &own.handle)
    }
}

impl Drop for World {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.root_file);
        let Some(parts) = self.parts.take() else {
            return;
        };
        match &self.own {
            Some(own) => {
                let stop = own.stop.lock().ok().and_then(|mut s| s.take());
                if let Some(stop) = stop {
                    let _ = stop.send(parts);
                }
                let thread = own.thread.lock().ok().and_then(|mut t| t.take());
                if let Some(thread) = thread {
                    let _ = thread.join();
                }
            }
            None => {
                // Started on the caller's runtime: stop there if it still runs; otherwise the
                // servers' tasks ended with it.
                if let Ok(handle) = tokio::runtime::Handle::try_current() {
                    handle.spawn(parts.shutdown());
                }
            }
        }
    }
}
