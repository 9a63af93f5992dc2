//! `acmeproof bench`: figures for the world's servers, measured in process. Benchmarks, not
//! tests: they print figures and assert nothing.
//!
//! - `bench dns01`: complete dns-01 issuances per second by the Rust client over HTTPS;
//! - `bench smtp`: messages per second through the served MX into the store (or, with
//!   `--sink`, into a discarding sink);
//! - `bench email`: complete RFC 8823 issuances per second by the reference MUA.
//! - `bench imap`: SEARCH+FETCH round trips per second against the IMAP server over loopback.
//! - `bench dns`: DNS queries per second, the first and the last window of a long run.
//! - `bench world`: how long a world takes to start.

use std::io::Write;
use std::sync::Arc;
use std::time::{Duration, Instant};

use acmeproof_mocks::account_key::{AccountKey, KeyAlg};
use acmeproof_mocks::seed::Seed;
use acmeproof_mocks::world::{World, WorldConfig};
use clap::Args;

use super::{CliError, EXIT_OK};

mod served;
use crate::acme::{AcmeClient, flow};
use crate::mua::mailbox::Mailbox;
use crate::mua::{self, MailAccount, MuaOptions};
use acmeproof_mocks::world::mail::UserSpec;

/// What `acmeproof bench` measures.
#[derive(Debug, clap::Subcommand)]
pub enum BenchCommand {
    /// Complete dns-01 issuances per second against an in-process world.
    Dns01(BenchArgs),
    /// Messages per second through the served path (MX, LMTP, store; 4 KiB, 16 connections),
    /// first and last tenth compared.
    Smtp(SmtpBenchArgs),
    /// Complete email-reply-00 issuances per second by the reference MUA (IMAP in,
    /// Submission out, DKIM both ways) against an in-process world.
    Email(EmailBenchArgs),
    /// IMAP SEARCH+FETCH round trips per second over loopback (8 clients, 200 messages).
    Imap(ImapBenchArgs),
    /// DNS queries per second over loopback UDP: the first and the last window of a long run
    /// (one million queries, windows of 100,000), which must be the same within noise.
    Dns(DnsBenchArgs),
    /// The same outside-in workloads against `acmeproof serve` and each installed peer
    /// (Pebble, aiosmtpd, Dovecot, pebble-challtestsrv), interleaved and repeated: operations
    /// per second, server CPU per operation, their ratios.
    Peers(super::bench_peers::PeersArgs),
    /// World start-up: how long starting the example world takes (DNS, PKI, CA, mail plane).
    World(WorldBenchArgs),
}

/// Arguments of `acmeproof bench world`.
#[derive(Debug, Args)]
pub struct WorldBenchArgs {
    /// Worlds to start, one after the other (after one unmeasured start).
    #[arg(long, default_value_t = 50)]
    starts: usize,
    /// Start worlds without the mail plane.
    #[arg(long)]
    no_mail: bool,
    /// Seed of the first world (each next one adds 1).
    #[arg(long, default_value_t = 1)]
    seed: u64,
}

/// Arguments of `acmeproof bench dns`.
#[derive(Debug, Args)]
pub struct DnsBenchArgs {
    /// Queries in all.
    #[arg(long, default_value_t = 1_000_000)]
    queries: usize,
    /// Clients, each a UDP socket with one query in flight.
    #[arg(long, default_value_t = 8)]
    clients: usize,
    /// Queries in each of the two measured windows (the first and the last).
    #[arg(long, default_value_t = 100_000)]
    window: usize,
}

/// Arguments of `acmeproof bench email`.
#[derive(Debug, Args)]
pub struct EmailBenchArgs {
    /// Issuances to complete (after the warm-up).
    #[arg(long, default_value_t = 1000)]
    issuances: usize,
    /// MUAs working at once, each with its own mailbox, account and IMAP connection.
    #[arg(long, default_value_t = 16)]
    concurrency: usize,
    /// Seed of the world.
    #[arg(long, default_value_t = 1)]
    seed: u64,
}

/// Arguments of `acmeproof bench imap`.
#[derive(Debug, Args)]
pub struct ImapBenchArgs {
    /// Concurrent clients, each logged in with INBOX selected.
    #[arg(long, default_value_t = 8)]
    clients: usize,
    /// SEARCH+FETCH pairs in all (after the warm-up).
    #[arg(long, default_value_t = 20_000)]
    round_trips: usize,
    /// Messages in the mailbox (about 4 KiB each).
    #[arg(long, default_value_t = 200)]
    messages: usize,
}

/// Arguments of `acmeproof bench smtp`.
#[derive(Debug, Args)]
pub struct SmtpBenchArgs {
    /// Parallel connections.
    #[arg(long, default_value_t = 16)]
    connections: usize,
    /// Messages in all.
    #[arg(long, default_value_t = 20_000)]
    messages: usize,
    /// Size of each message in octets.
    #[arg(long, default_value_t = 4096)]
    size: usize,
    /// Measure an MX alone with a sink that discards every message, without transcripts
    /// (not the served path).
    #[arg(long)]
    sink: bool,
}

/// Arguments of `acmeproof bench dns01`.
#[derive(Debug, Args)]
pub struct BenchArgs {
    /// Issuances to complete (after the warm-up).
    #[arg(long, default_value_t = 2000)]
    issuances: usize,
    /// Clients working at once, each with its own account.
    #[arg(long, default_value_t = 32)]
    concurrency: usize,
    /// Validate inside the challenge POST instead of in the background (knob
    /// `validation_inline`): measures the CA without the client's polling.
    #[arg(long)]
    inline: bool,
    /// Seed of the world.
    #[arg(long, default_value_t = 1)]
    seed: u64,
}

/// Runs `bench`.
pub fn run(command: &BenchCommand, out: &mut dyn Write) -> Result<u8, CliError> {
    match command {
        BenchCommand::Dns01(args) => run_dns01(args, out),
        BenchCommand::Smtp(args) => run_smtp(args, out),
        BenchCommand::Email(args) => run_email(args, out),
        BenchCommand::Imap(args) => run_imap(args, out),
        BenchCommand::Dns(args) => run_dns(args, out),
        BenchCommand::Peers(args) => super::bench_peers::run(args, out),
        BenchCommand::World(args) => run_world(args, out),
    }
}

fn run_world(args: &WorldBenchArgs, out: &mut dyn Write) -> Result<u8, CliError> {
    if args.starts == 0 {
        return Err(CliError::Input("--starts must be at least 1".into()));
    }
    let fail = |what: &str, e: &dyn std::fmt::Display| CliError::Input(format!("{what}: {e}"));
    let runtime = runtime()?;
    let mut starts = Vec::with_capacity(args.starts);
    // One unmeasured start first: lazily built statics (TLS providers, parsers) are paid once
    // per process, not per world.
    for i in 0..=args.starts {
        let mut config = WorldConfig::example();
        config.seed = args.seed + i as u64;
        config.mail.enabled = !args.no_mail;
        let started = Instant::now();
        let world = runtime
            .block_on(World::start(config))
            .map_err(|e| fail("world", &e))?;
        if i > 0 {
            starts.push(started.elapsed());
        }
        runtime.block_on(world.shutdown());
    }
    writeln!(
        out,
        "world start-up ({}): {} starts; {} (release: {})",
        if args.no_mail {
            "DNS, PKI, CA"
        } else {
            "DNS, PKI, CA, mail plane"
        },
        args.starts,
        Percentiles::of(starts),
        !cfg!(debug_assertions),
    )?;
    Ok(EXIT_OK)
}

fn runtime() -> Result<tokio::runtime::Runtime, CliError> {
    build_runtime(&mut tokio::runtime::Builder::new_multi_thread())
}

/// The runtime of the in-process issuance benches: its workers serve the world's HTTP
/// connections themselves, on both cores, instead of the process's one connection thread
/// (figures: `acmeproof_mocks::https`'s `threads` module).
fn issuance_runtime() -> Result<tokio::runtime::Runtime, CliError> {
    build_runtime(
        tokio::runtime::Builder::new_multi_thread()
            .on_thread_start(acmeproof_mocks::https::serve_connections_on_this_thread),
    )
}

fn build_runtime(
    builder: &mut tokio::runtime::Builder,
) -> Result<tokio::runtime::Runtime, CliError> {
    builder
        .enable_all()
        .build()
        .map_err(|e| CliError::Input(format!("cannot start the runtime: {e}")))
}

fn run_smtp(args: &SmtpBenchArgs, out: &mut dyn Write) -> Result<u8, CliError> {
    if args.connections == 0 || args.messages == 0 {
        return Err(CliError::Input(
            "--connections and --messages must be at least 1".into(),
        ));
    }
    if !args.sink {
        let served = runtime()?
            .block_on(served::run(args.connections, args.messages, args.size))
            .map_err(|e| CliError::Input(format!("bench: {e}")))?;
        writeln!(
            out,
            "{}",
            served::report(&served, args.connections, args.size)
        )?;
        return Ok(EXIT_OK);
    }
    let result = runtime()?
        .block_on(acmeproof_mocks::smtp::bench::bench_mx_accept(
            args.connections,
            args.messages,
            args.size,
        ))
        .map_err(|e| CliError::Input(format!("bench: {e}")))?;
    writeln!(
        out,
        "SMTP messages accepted by an MX with a discarding sink (not the served path): {} of {} octets in {:.2} s = {:.0} per second \
         ({} connections, release: {})",
        result.messages,
        result.size,
        result.elapsed.as_secs_f64(),
        result.messages_per_second,
        result.connections,
        !cfg!(debug_assertions),
    )?;
    Ok(EXIT_OK)
}

fn run_imap(args: &ImapBenchArgs, out: &mut dyn Write) -> Result<u8, CliError> {
    let max = acmeproof_mocks::mailstore::MAX_MESSAGES_PER_MAILBOX;
    if args.clients == 0 || args.round_trips == 0 || args.messages == 0 {
        return Err(CliError::Input(
            "--clients, --round-trips and --messages must be at least 1".into(),
        ));
    }
    if args.messages > max {
        return Err(CliError::Input(format!(
            "--messages must be at most {max} (one mailbox's limit)"
        )));
    }
    let r = runtime()?
        .block_on(acmeproof_mocks::imap::bench::bench_search_fetch(
            args.clients,
            args.round_trips,
            args.messages,
        ))
        .map_err(|e| CliError::Input(format!("bench: {e}")))?;
    writeln!(
        out,
        "IMAP SEARCH+FETCH round trips: {} in {:.2} s = {:.0} per second ({} clients, {} \
         messages; p50 {:.2} ms, p95 {:.2} ms, max {:.2} ms; release: {})",
        r.round_trips,
        r.elapsed.as_secs_f64(),
        r.round_trips_per_second,
        r.clients,
        r.messages,
        ms(r.p50),
        ms(r.p95),
        ms(r.max),
        !cfg!(debug_assertions),
    )?;
    Ok(EXIT_OK)
}

fn run_dns(args: &DnsBenchArgs, out: &mut dyn Write) -> Result<u8, CliError> {
    if args.clients == 0 || args.window == 0 || args.queries < 2 * args.window {
        return Err(CliError::Input(
            "--clients and --window must be at least 1, and --queries at least twice --window"
                .into(),
        ));
    }
    let r = runtime()?
        .block_on(acmeproof_mocks::dns::bench::bench_queries(
            args.queries,
            args.clients,
            args.window,
        ))
        .map_err(|e| CliError::Input(format!("bench: {e}")))?;
    writeln!(
        out,
        "DNS queries: {} in {:.2} s ({} clients, UDP, history holds {} records; release: {})\n\
         first {} queries: {:.0} per second\n\
         last {} queries: {:.0} per second ({:+.1} % slower than the first)",
        r.queries,
        r.elapsed.as_secs_f64(),
        r.clients,
        r.history_len,
        !cfg!(debug_assertions),
        r.window,
        r.first_rate,
        r.window,
        r.last_rate,
        r.slowdown_percent(),
    )?;
    Ok(EXIT_OK)
}

fn run_dns01(args: &BenchArgs, out: &mut dyn Write) -> Result<u8, CliError> {
    run_issuances(args.issuances, args.concurrency, bench(args), out)
}

/// Checks the counts, runs an issuance bench and prints its report.
fn run_issuances(
    issuances: usize,
    concurrency: usize,
    report: impl std::future::Future<Output = Result<String, CliError>>,
    out: &mut dyn Write,
) -> Result<u8, CliError> {
    if concurrency == 0 || issuances == 0 {
        return Err(CliError::Input(
            "--issuances and --concurrency must be at least 1".into(),
        ));
    }
    let report = issuance_runtime()?.block_on(report)?;
    writeln!(out, "{report}")?;
    Ok(EXIT_OK)
}

async fn bench(args: &BenchArgs) -> Result<String, CliError> {
    let fail = |what: &str, e: &dyn std::fmt::Display| CliError::Input(format!("{what}: {e}"));
    let mut config = WorldConfig::from_toml(acmeproof_mocks::world::EXAMPLE_WORLD)
        .map_err(|e| fail("world config", &e))?;
    config.seed = args.seed;
    config.ca.knobs.validation_inline = args.inline;
    // The mail plane plays no part in dns-01.
    config.mail.enabled = false;
    let world = Arc::new(World::start(config).await.map_err(|e| fail("world", &e))?);
    let root = world.pki.root_pem();
    let rng = Seed(args.seed).stream("bench.keys");
    let mut clients = Vec::with_capacity(args.concurrency);
    for _ in 0..args.concurrency {
        let key = AccountKey::generate(KeyAlg::Es256, &rng).map_err(|e| fail("key", &e))?;
        let client = AcmeClient::connect(&world.ca.directory_url(), root, key)
            .await
            .map_err(|e| fail("connect", &e))?;
        client
            .new_account(&[])
            .await
            .map_err(|e| fail("newAccount", &e))?;
        clients.push(Arc::new(client));
    }
    // Warm-up: one issuance per client opens its connections.
    run_batch(&world, &clients, clients.len(), 0).await?;
    let started = Instant::now();
    let cpu = served::process_cpu();
    let latencies = run_batch(&world, &clients, args.issuances, clients.len()).await?;
    let elapsed = started.elapsed();
    // The load-independent figure: everything this process spent (client, CA and DNS).
    let cpu = served::process_cpu().saturating_sub(cpu);
    let rate = args.issuances as f64 / elapsed.as_secs_f64();
    let latency = Percentiles::of(latencies);
    let world = Arc::try_unwrap(world).map_err(|_| CliError::Input("world still shared".into()))?;
    world.shutdown().await;
    Ok(format!(
        "dns-01 issuances: {} in {:.2} s = {:.1} per second (concurrency {}, validation {}, release: {})\n\
         latency per issuance: {}\n\
         CPU per issuance (client, CA and DNS: this process, user + system): {:.3} ms",
        args.issuances,
        elapsed.as_secs_f64(),
        rate,
        args.concurrency,
        if args.inline { "inline" } else { "background" },
        !cfg!(debug_assertions),
        latency,
        cpu.as_secs_f64() * 1e3 / args.issuances as f64,
    ))
}

/// p50, p95 and max of a set of latencies.
struct Percentiles(Vec<Duration>);

impl Percentiles {
    fn of(mut latencies: Vec<Duration>) -> Self {
        latencies.sort();
        Percentiles(latencies)
    }

    fn at(&self, p: f64) -> Duration {
        self.0
            .get(((self.0.len() as f64 - 1.0) * p).round() as usize)
            .copied()
            .unwrap_or_default()
    }
}

impl std::fmt::Display for Percentiles {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "p50 {:.1} ms, p95 {:.1} ms, max {:.1} ms",
            ms(self.at(0.5)),
            ms(self.at(0.95)),
            ms(self.0.last().copied().unwrap_or_default())
        )
    }
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}

async fn run_batch(
    world: &Arc<World>,
    clients: &[Arc<AcmeClient>],
    count: usize,
    offset: usize,
) -> Result<Vec<Duration>, CliError> {
    let next = Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let mut tasks = tokio::task::JoinSet::new();
    for client in clients {
        let client = Arc::clone(client);
        let world = Arc::clone(world);
        let next = Arc::clone(&next);
        tasks.spawn(async move {
            let mut latencies = Vec::new();
            loop {
                let i = next.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                if i >= count {
                    return Ok::<_, String>(latencies);
                }
                let name = format!("host-{}.example.test", i + offset);
                let started = Instant::now();
                flow::issue_dns01(&client, &world.dns, &[&name], Duration::from_secs(30))
                    .await
                    .map_err(|e| format!("{name}: {e}"))?;
                latencies.push(started.elapsed());
            }
        });
    }
    let mut all = Vec::with_capacity(count);
    while let Some(joined) = tasks.join_next().await {
        let latencies = joined
            .map_err(|e| CliError::Input(format!("bench task: {e}")))?
            .map_err(|e| CliError::Input(format!("issuance failed: {e}")))?;
        all.extend(latencies);
    }
    Ok(all)
}

fn run_email(args: &EmailBenchArgs, out: &mut dyn Write) -> Result<u8, CliError> {
    run_issuances(args.issuances, args.concurrency, bench_email(args), out)
}

/// One MUA of the email bench: its ACME account, its mailbox owner, its open INBOX.
struct EmailWorker {
    client: AcmeClient,
    account: MailAccount,
    mailbox: Mailbox,
}

async fn bench_email(args: &EmailBenchArgs) -> Result<String, CliError> {
    let fail = |what: &str, e: &dyn std::fmt::Display| CliError::Input(format!("{what}: {e}"));
    let mut config = WorldConfig::example();
    config.seed = args.seed;
    // One mailbox per MUA: a mailbox owner has one pending challenge at a time.
    let users: Vec<UserSpec> = (0..args.concurrency)
        .map(|i| UserSpec {
            address: format!("bench-{i}@example.test"),
            password: format!("bench-{i}-password"),
        })
        .collect();
    config.mail.users.extend(users.iter().cloned());
    let world = World::start(config).await.map_err(|e| fail("world", &e))?;
    let root = world.pki.root_pem();
    let rng = Seed(args.seed).stream("bench.email.keys");
    let options = MuaOptions::default();
    let mut workers = Vec::with_capacity(args.concurrency);
    for user in &users {
        let key = AccountKey::generate(KeyAlg::Es256, &rng).map_err(|e| fail("key", &e))?;
        let client = AcmeClient::connect(&world.ca.directory_url(), root, key)
            .await
            .map_err(|e| fail("connect", &e))?;
        client
            .new_account(&[])
            .await
            .map_err(|e| fail("newAccount", &e))?;
        let account = MailAccount::in_world(&world, &user.address, &user.password)
            .map_err(|e| fail("account", &e))?;
        let mailbox = Mailbox::open(&account, options.timeout)
            .await
            .map_err(|e| fail("IMAP", &e))?;
        workers.push(EmailWorker {
            client,
            account,
            mailbox,
        });
    }
    let root_der = world.pki.root_der().to_vec();
    // Warm-up: one issuance per MUA opens its connections.
    let (workers, _) = run_email_batch(workers, args.concurrency, &options, &root_der).await?;
    let started = Instant::now();
    let (workers, latencies) =
        run_email_batch(workers, args.issuances, &options, &root_der).await?;
    let elapsed = started.elapsed();
    for worker in workers {
        worker.mailbox.close().await;
    }
    world.shutdown().await;
    Ok(format!(
        "email-reply-00 issuances by the reference MUA: {} in {:.2} s = {:.1} per second \
         (concurrency {}, IMAP IDLE in, Submission out, DKIM both ways, release: {})\n\
         latency per issuance: {}",
        args.issuances,
        elapsed.as_secs_f64(),
        args.issuances as f64 / elapsed.as_secs_f64(),
        args.concurrency,
        !cfg!(debug_assertions),
        Percentiles::of(latencies),
    ))
}

/// Runs `count` issuances over `workers`, each taking the next one when it is done.
async fn run_email_batch(
    workers: Vec<EmailWorker>,
    count: usize,
    options: &MuaOptions,
    root_der: &[u8],
) -> Result<(Vec<EmailWorker>, Vec<Duration>), CliError> {
    let next = Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let mut tasks = tokio::task::JoinSet::new();
    for mut worker in workers {
        let next = Arc::clone(&next);
        let options = options.clone();
        let root_der = root_der.to_vec();
        tasks.spawn(async move {
            let mut latencies = Vec::new();
            while next.fetch_add(1, std::sync::atomic::Ordering::Relaxed) < count {
                let started = Instant::now();
                mua::issue_in(
                    &mut worker.mailbox,
                    &worker.client,
                    &worker.account,
                    &options,
                    root_der.as_slice(),
                )
                .await
                .map_err(|e| format!("{}: {e}", worker.account.address))?;
                latencies.push(started.elapsed());
            }
            Ok::<_, String>((worker, latencies))
        });
    }
    let mut workers = Vec::new();
    let mut all = Vec::with_capacity(count);
    while let Some(joined) = tasks.join_next().await {
        let (worker, latencies) = joined
            .map_err(|e| CliError::Input(format!("bench task: {e}")))?
            .map_err(|e| CliError::Input(format!("issuance failed: {e}")))?;
        workers.push(worker);
        all.extend(latencies);
    }
    Ok((workers, all))
}
