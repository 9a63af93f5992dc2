//! `acmeproof bench`: complete dns-01 issuances per second by the in-process Rust client over
//! HTTPS against a fresh world. A benchmark, not a test: it prints figures and asserts nothing.

use std::io::Write;
use std::sync::Arc;
use std::time::{Duration, Instant};

use acmeproof_mocks::account_key::{AccountKey, KeyAlg};
use acmeproof_mocks::seed::Seed;
use acmeproof_mocks::world::{World, WorldConfig};
use clap::Args;

use super::{CliError, EXIT_OK};
use crate::acme::{AcmeClient, flow};

/// Arguments of `acmeproof bench`.
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
pub fn run(args: &BenchArgs, out: &mut dyn Write) -> Result<u8, CliError> {
    if args.concurrency == 0 || args.issuances == 0 {
        return Err(CliError::Input(
            "--issuances and --concurrency must be at least 1".into(),
        ));
    }
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .map_err(|e| CliError::Input(format!("cannot start the runtime: {e}")))?;
    let report = runtime.block_on(bench(args))?;
    writeln!(out, "{report}")?;
    Ok(EXIT_OK)
}

async fn bench(args: &BenchArgs) -> Result<String, CliError> {
    let fail = |what: &str, e: &dyn std::fmt::Display| CliError::Input(format!("{what}: {e}"));
    let mut config = WorldConfig::from_toml(acmeproof_mocks::world::EXAMPLE_WORLD)
        .map_err(|e| fail("world config", &e))?;
    config.seed = args.seed;
    config.ca.knobs.validation_inline = args.inline;
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
    let latencies = run_batch(&world, &clients, args.issuances, clients.len()).await?;
    let elapsed = started.elapsed();
    let rate = args.issuances as f64 / elapsed.as_secs_f64();
    let mut sorted = latencies;
    sorted.sort();
    let pct = |p: f64| {
        sorted
            .get(((sorted.len() as f64 - 1.0) * p).round() as usize)
            .copied()
            .unwrap_or_default()
    };
    let world = Arc::try_unwrap(world).map_err(|_| CliError::Input("world still shared".into()))?;
    world.shutdown().await;
    Ok(format!(
        "dns-01 issuances: {} in {:.2} s = {:.1} per second (concurrency {}, validation {}, release: {})\n\
         latency per issuance: p50 {:.1} ms, p95 {:.1} ms, max {:.1} ms",
        args.issuances,
        elapsed.as_secs_f64(),
        rate,
        args.concurrency,
        if args.inline { "inline" } else { "background" },
        !cfg!(debug_assertions),
        ms(pct(0.5)),
        ms(pct(0.95)),
        ms(sorted.last().copied().unwrap_or_default()),
    ))
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
