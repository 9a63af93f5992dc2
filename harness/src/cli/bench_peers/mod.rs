//! `acmeproof bench peers`: the same outside-in workload against acmeproof's served endpoints
//! (`acmeproof serve` as a child process, as a user runs it) and against each installed peer,
//! in one run, interleaved (acmeproof, peer, acmeproof, peer, …) and repeated. It prints
//! operations per second, the server's CPU per operation (from `/proc`, the server's process
//! tree only) and their ratios, beside the performance targets, and the generator's own
//! ceiling against a null server. A benchmark: it prints figures and fails on none of them.
//!
//! | workload | acmeproof | peer |
//! |---|---|---|
//! | dns01 | the served CA | Pebble + pebble-challtestsrv |
//! | smtp | the served MX, into the store | aiosmtpd's Sink |
//! | lmtp | the served LMTP | Dovecot LMTP |
//! | imap | the served IMAP | Dovecot IMAP |
//! | dns | the served DNS | pebble-challtestsrv's DNS |

mod dns;
mod dns01;
mod imap;
mod null;
mod proc;
mod procs;
mod report;
mod smtp;

use std::io::Write;
use std::path::PathBuf;
use std::time::{Duration, Instant};

use clap::Args;

use super::{CliError, EXIT_OK};
use report::{Side, Target, WorkloadReport};

/// Arguments of `acmeproof bench peers`.
#[derive(Debug, Args)]
pub struct PeersArgs {
    /// Small counts and one round: a smoke test, not a figure.
    #[arg(long)]
    quick: bool,
    /// The workloads to run (default: all).
    #[arg(long, value_delimiter = ',', value_enum)]
    only: Vec<Workload>,
    /// Rounds per workload (default 3, with --quick 1); each round runs acmeproof, then the peer.
    #[arg(long)]
    rounds: Option<usize>,
    /// Also write the figures to FILE as JSON.
    #[arg(long, value_name = "FILE")]
    json: Option<PathBuf>,
}

/// One workload of the bench.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Workload {
    /// dns-01 issuance, 8 clients, 20 ms poll: the served CA vs Pebble + pebble-challtestsrv.
    Dns01,
    /// SMTP ingest, 16 connections, 4 KiB: the served MX vs aiosmtpd's Sink.
    Smtp,
    /// LMTP ingest, 16 connections, 4 KiB: the served LMTP vs Dovecot.
    Lmtp,
    /// IMAP SEARCH+FETCH, 8 clients, 200 messages: the served IMAP vs Dovecot.
    Imap,
    /// DNS TXT queries, 32 in flight: the served DNS vs pebble-challtestsrv.
    Dns,
}

const ALL: [Workload; 5] = [
    Workload::Dns01,
    Workload::Smtp,
    Workload::Lmtp,
    Workload::Imap,
    Workload::Dns,
];

/// The counts of one run.
#[derive(Debug, Clone, Copy)]
struct Counts {
    issuances: usize,
    messages: usize,
    round_trips: usize,
    queries: usize,
}

const FULL: Counts = Counts {
    issuances: 400,
    messages: 10_000,
    round_trips: 20_000,
    queries: 1_000_000,
};
const QUICK: Counts = Counts {
    issuances: 16,
    messages: 200,
    round_trips: 200,
    queries: 10_000,
};

/// ACME clients working at once.
const ACME_CLIENTS: usize = 8;
/// Their poll interval.
const ACME_POLL: Duration = Duration::from_millis(20);
/// SMTP and LMTP connections.
const MAIL_CONNECTIONS: usize = 16;
/// Message size.
const MESSAGE_OCTETS: usize = 4096;
/// IMAP clients.
const IMAP_CLIENTS: usize = 8;
/// Messages preloaded for IMAP.
const IMAP_MESSAGES: usize = 200;
/// DNS queries in flight.
const DNS_IN_FLIGHT: usize = 32;
/// The IMAP user (a user of the served world; Dovecot takes any user).
const IMAP_USER: &str = "bench-imap@example.test";
/// The password of every bench user.
const PASSWORD: &str = "bench-password";

/// What one timed run measured.
#[derive(Debug, Clone, Default)]
pub struct Measured {
    pub ops: usize,
    pub elapsed: Duration,
    /// The server's CPU time over the timed phase (zero for the null server, which runs in
    /// the bench's own process).
    pub server_cpu: Duration,
    /// The generator's own CPU time over the timed phase (the bench process alone).
    pub generator_cpu: Duration,
    /// DNS only: the rate of the first and the last tenth of the queries.
    pub first_tenth: Option<f64>,
    pub last_tenth: Option<f64>,
    /// DNS only: queries sent again after a lost datagram.
    pub resent: usize,
    /// dns-01 only: issuances that failed (not in `ops`; the wall time they took is).
    pub failed: usize,
    /// dns-01 only: why the first failed issuance failed.
    pub first_failure: Option<String>,
}

impl Measured {
    pub fn rate(&self) -> f64 {
        self.ops as f64 / self.elapsed.as_secs_f64().max(1e-9)
    }

    pub fn cpu_per_op_ms(&self) -> f64 {
        self.server_cpu.as_secs_f64() * 1000.0 / self.ops.max(1) as f64
    }

    pub fn generator_cpu_per_op_ms(&self) -> f64 {
        self.generator_cpu.as_secs_f64() * 1000.0 / self.ops.max(1) as f64
    }
}

/// The timed phase: wall clock and the server processes' CPU, from start to stop.
pub struct Stopwatch {
    pids: Vec<u32>,
    cpu: Duration,
    own: Duration,
    pub started: Instant,
}

impl Stopwatch {
    pub fn start(pids: &[u32]) -> Stopwatch {
        let cpu = proc::cpu_of_trees(pids);
        Stopwatch {
            pids: pids.to_vec(),
            cpu,
            own: proc::cpu_of_process(std::process::id()),
            started: Instant::now(),
        }
    }

    pub fn stop(self, ops: usize) -> Measured {
        let elapsed = self.started.elapsed();
        let cpu = if self.pids.is_empty() {
            Duration::ZERO
        } else {
            proc::cpu_of_trees(&self.pids).saturating_sub(self.cpu)
        };
        Measured {
            ops,
            elapsed,
            server_cpu: cpu,
            generator_cpu: proc::cpu_of_process(std::process::id()).saturating_sub(self.own),
            ..Measured::default()
        }
    }
}

/// Runs `bench peers`.
pub fn run(args: &PeersArgs, out: &mut dyn Write) -> Result<u8, CliError> {
    let counts = if args.quick { QUICK } else { FULL };
    let rounds = args.rounds.unwrap_or(if args.quick { 1 } else { 3 });
    if rounds == 0 {
        return Err(CliError::Input("--rounds must be at least 1".into()));
    }
    let workloads: Vec<Workload> = if args.only.is_empty() {
        ALL.to_vec()
    } else {
        ALL.into_iter().filter(|w| args.only.contains(w)).collect()
    };
    // reqwest is built without a default TLS provider: the workspace picks rustls' ring.
    let _ = rustls::crypto::ring::default_provider().install_default();
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .map_err(|e| CliError::Input(format!("cannot start the runtime: {e}")))?;
    writeln!(
        out,
        "acmeproof bench peers: {} round(s), {} (release: {}; {} CPUs)",
        rounds,
        if args.quick {
            "quick counts"
        } else {
            "full counts"
        },
        !cfg!(debug_assertions),
        std::thread::available_parallelism().map_or(0, |n| n.get()),
    )?;
    let mut reports = Vec::new();
    for workload in workloads {
        let report = runtime
            .block_on(run_workload(workload, counts, rounds, out))
            .map_err(|e| CliError::Input(format!("bench peers, {workload:?}: {e}")))?;
        report.print(out)?;
        out.flush()?;
        reports.push(report);
    }
    if let Some(path) = &args.json {
        let json = serde_json::json!({
            "rounds": rounds,
            "quick": args.quick,
            "release": !cfg!(debug_assertions),
            "workloads": reports.iter().map(WorkloadReport::json).collect::<Vec<_>>(),
        });
        let text = serde_json::to_string_pretty(&json)
            .map_err(|e| CliError::Input(format!("JSON: {e}")))?;
        std::fs::write(path, text)
            .map_err(|e| CliError::Input(format!("cannot write {}: {e}", path.display())))?;
    }
    Ok(EXIT_OK)
}

/// A world for `acmeproof serve`: the example world, with the bench's users, or without the
/// mail plane.
fn world_config(mail: bool) -> Result<String, String> {
    let mut world: toml::Table =
        toml::from_str(acmeproof_mocks::world::EXAMPLE_WORLD).map_err(|e| e.to_string())?;
    let mail_table = world
        .entry("mail")
        .or_insert_with(|| toml::Value::Table(toml::Table::new()))
        .as_table_mut()
        .ok_or("[mail] is no table")?;
    if mail {
        let users = mail_table
            .entry("users")
            .or_insert_with(|| toml::Value::Array(Vec::new()))
            .as_array_mut()
            .ok_or("users is no list")?;
        for address in (0..MAIL_CONNECTIONS)
            .map(mail_user)
            .chain([IMAP_USER.to_owned()])
        {
            let mut user = toml::Table::new();
            user.insert("address".into(), address.into());
            user.insert("password".into(), PASSWORD.into());
            users.push(toml::Value::Table(user));
        }
    } else {
        mail_table.insert("enabled".into(), false.into());
    }
    toml::to_string(&world).map_err(|e| e.to_string())
}

/// The recipient of SMTP/LMTP connection `i`: one mailbox per connection, so no mailbox
/// reaches its size limit.
fn mail_user(i: usize) -> String {
    format!("bench-{i}@example.test")
}

/// Runs one round of the null server, then `rounds` rounds of acmeproof and the peer.
async fn run_workload(
    workload: Workload,
    counts: Counts,
    rounds: usize,
    out: &mut dyn Write,
) -> Result<WorkloadReport, String> {
    let mut progress = |line: String| {
        let _ = writeln!(out, "  {line}");
        let _ = out.flush();
    };
    match workload {
        Workload::Dns01 => dns01_workload(counts, rounds, &mut progress).await,
        Workload::Smtp | Workload::Lmtp => {
            mail_workload(workload, counts, rounds, &mut progress).await
        }
        Workload::Imap => imap_workload(counts, rounds, &mut progress).await,
        Workload::Dns => dns_workload(counts, rounds, &mut progress).await,
    }
}

/// A peer that is not there: the one line, and no figures for it.
fn missing(tool: &str, progress: &mut dyn FnMut(String)) -> Option<String> {
    let why = format!("skipped: {tool} not installed");
    progress(why.clone());
    Some(why)
}

async fn dns01_workload(
    counts: Counts,
    rounds: usize,
    progress: &mut dyn FnMut(String),
) -> Result<WorkloadReport, String> {
    let mut report = WorkloadReport::new(
        "dns01",
        format!(
            "dns-01 issuance: {ACME_CLIENTS} clients, {} ms poll, {} issuances per round",
            ACME_POLL.as_millis(),
            counts.issuances
        ),
        "issuances",
        "Pebble + pebble-challtestsrv",
        Target::CpuRatioAtMost(1.0 / 3.0, "CPU per issuance ≤ 1/3 of Pebble + challtestsrv"),
    );
    progress(report.title.clone());
    // No null ACME server: a server that answers the whole flow is a CA. The generator's
    // ceiling here is the served CA itself, whose CPU per issuance is printed.
    report.null_note = Some(
        "no null ACME server (one answering the whole flow is a CA); the generator's own CPU \
         per issuance is printed instead"
            .into(),
    );
    let served = procs::Served::start("dns01", &world_config(false)?)?;
    let directory = served.string("directory_url")?;
    let root = std::fs::read_to_string(served.string("ca_bundle")?)
        .map_err(|e| format!("the served CA's root: {e}"))?;
    let txt = dns01::TxtApi::Served(served.string("management_url")?);
    let pebble = match (
        procs::find_tool("pebble"),
        procs::find_tool("pebble-challtestsrv"),
    ) {
        (Some(p), Some(c)) => Some(procs::start_pebble(&p, &c)?),
        (None, _) => {
            report.peer_skipped = missing("pebble", progress);
            None
        }
        (_, None) => {
            report.peer_skipped = missing("pebble-challtestsrv", progress);
            None
        }
    };
    for round in 0..rounds {
        let prefix = format!("r{round}");
        let ours = dns01::drive(
            &directory,
            &root,
            txt.clone(),
            ACME_CLIENTS,
            counts.issuances,
            ACME_POLL,
            &format!("a{prefix}"),
            &[served.pid()],
        )
        .await
        .map_err(|e| format!("acmeproof: {e}"))?;
        report.push(Side::Ours, ours, progress);
        if let Some(p) = &pebble {
            let theirs = dns01::drive(
                &p.directory_url,
                &p.root_pem,
                dns01::TxtApi::Challtestsrv(p.management.clone()),
                ACME_CLIENTS,
                counts.issuances,
                ACME_POLL,
                &format!("p{prefix}"),
                &[p.pebble.pid(), p.challtestsrv.pid()],
            )
            .await
            .map_err(|e| format!("Pebble: {e}"))?;
            report.push(Side::Peer, theirs, progress);
        }
    }
    Ok(report)
}

async fn mail_workload(
    workload: Workload,
    counts: Counts,
    rounds: usize,
    progress: &mut dyn FnMut(String),
) -> Result<WorkloadReport, String> {
    let lmtp = workload == Workload::Lmtp;
    let dialect = if lmtp {
        smtp::Dialect::Lmtp
    } else {
        smtp::Dialect::Smtp
    };
    let mut report = if lmtp {
        WorkloadReport::new(
            "lmtp",
            format!(
                "LMTP ingest: {MAIL_CONNECTIONS} connections, {MESSAGE_OCTETS}-octet messages, \
                 {} per round",
                counts.messages
            ),
            "messages",
            "Dovecot LMTP",
            Target::RateAtLeast(10.0, "LMTP ≥ 10× Dovecot"),
        )
    } else {
        WorkloadReport::new(
            "smtp",
            format!(
                "SMTP ingest into the store through the served MX: {MAIL_CONNECTIONS} \
                 connections, {MESSAGE_OCTETS}-octet messages, {} per round",
                counts.messages
            ),
            "messages",
            "aiosmtpd Sink",
            Target::RateAtLeast(5.0, "SMTP ingest ≥ 5× aiosmtpd Sink"),
        )
    };
    progress(report.title.clone());
    let (null_addr, null_task) = smtp::null_server().await.map_err(|e| e.to_string())?;
    let null = smtp::drive(
        null_addr,
        dialect,
        MAIL_CONNECTIONS,
        counts.messages,
        MESSAGE_OCTETS,
        mail_user,
        &[],
    )
    .await
    .map_err(|e| format!("null server: {e}"))?;
    null_task.abort();
    report.set_null(null, progress);
    let served = procs::Served::start(report.key, &world_config(true)?)?;
    let ours_addr = served.addr(if lmtp { "mail.lmtp" } else { "mail.mx" })?;
    // The peer: its process (tree) and address.
    let mut _guard = None;
    let mut _dovecot = None;
    let peer: Option<(u32, std::net::SocketAddr)> = if lmtp {
        match procs::find_tool("dovecot") {
            Some(tool) => {
                let d = procs::start_dovecot(&tool)?;
                let at = (d.guard.pid(), d.lmtp);
                _dovecot = Some(d);
                Some(at)
            }
            None => {
                report.peer_skipped = missing("dovecot", progress);
                None
            }
        }
    } else {
        match procs::python_with_aiosmtpd() {
            Some(python) => {
                let (guard, addr) = procs::start_aiosmtpd(&python)?;
                let at = (guard.pid(), addr);
                _guard = Some(guard);
                Some(at)
            }
            None => {
                report.peer_skipped = missing("aiosmtpd", progress);
                None
            }
        }
    };
    for _ in 0..rounds {
        let ours = smtp::drive(
            ours_addr,
            dialect,
            MAIL_CONNECTIONS,
            counts.messages,
            MESSAGE_OCTETS,
            mail_user,
            &[served.pid()],
        )
        .await
        .map_err(|e| format!("acmeproof: {e}"))?;
        report.push(Side::Ours, ours, progress);
        if let Some((pid, addr)) = peer {
            let theirs = smtp::drive(
                addr,
                dialect,
                MAIL_CONNECTIONS,
                counts.messages,
                MESSAGE_OCTETS,
                mail_user,
                &[pid],
            )
            .await
            .map_err(|e| format!("{}: {e}", report.peer))?;
            report.push(Side::Peer, theirs, progress);
        }
    }
    Ok(report)
}

async fn imap_workload(
    counts: Counts,
    rounds: usize,
    progress: &mut dyn FnMut(String),
) -> Result<WorkloadReport, String> {
    let mut report = WorkloadReport::new(
        "imap",
        format!(
            "IMAP SEARCH+FETCH: {IMAP_CLIENTS} clients, {IMAP_MESSAGES} messages preloaded over \
             LMTP, {} round trips per round",
            counts.round_trips
        ),
        "round trips",
        "Dovecot IMAP",
        Target::RateAtLeast(3.5, "IMAP SEARCH+FETCH ≥ 3.5× Dovecot"),
    );
    progress(report.title.clone());
    let (null_addr, null_task) = imap::null_server().await.map_err(|e| e.to_string())?;
    let null = imap::drive(
        null_addr,
        IMAP_USER,
        PASSWORD,
        IMAP_CLIENTS,
        counts.round_trips,
        0,
        &[],
    )
    .await
    .map_err(|e| format!("null server: {e}"))?;
    null_task.abort();
    report.set_null(null, progress);
    let served = procs::Served::start("imap", &world_config(true)?)?;
    imap::preload(served.addr("mail.lmtp")?, IMAP_USER, IMAP_MESSAGES).await?;
    let ours_addr = served.addr("mail.imap")?;
    let dovecot = match procs::find_tool("dovecot") {
        Some(tool) => {
            let d = procs::start_dovecot(&tool)?;
            imap::preload(d.lmtp, IMAP_USER, IMAP_MESSAGES)
                .await
                .map_err(|e| format!("Dovecot: {e}"))?;
            Some(d)
        }
        None => {
            report.peer_skipped = missing("dovecot", progress);
            None
        }
    };
    for _ in 0..rounds {
        let ours = imap::drive(
            ours_addr,
            IMAP_USER,
            PASSWORD,
            IMAP_CLIENTS,
            counts.round_trips,
            IMAP_MESSAGES,
            &[served.pid()],
        )
        .await
        .map_err(|e| format!("acmeproof: {e}"))?;
        report.push(Side::Ours, ours, progress);
        if let Some(d) = &dovecot {
            let theirs = imap::drive(
                d.imap,
                IMAP_USER,
                PASSWORD,
                IMAP_CLIENTS,
                counts.round_trips,
                IMAP_MESSAGES,
                &[d.guard.pid()],
            )
            .await
            .map_err(|e| format!("Dovecot: {e}"))?;
            report.push(Side::Peer, theirs, progress);
        }
    }
    Ok(report)
}

async fn dns_workload(
    counts: Counts,
    rounds: usize,
    progress: &mut dyn FnMut(String),
) -> Result<WorkloadReport, String> {
    let mut report = WorkloadReport::new(
        "dns",
        format!(
            "DNS TXT queries over UDP: {DNS_IN_FLIGHT} in flight, {} per round",
            counts.queries
        ),
        "queries",
        "pebble-challtestsrv DNS",
        Target::RateAtLeast(1.2, "DNS TXT ≥ 1.2× pebble-challtestsrv, flat"),
    );
    progress(report.title.clone());
    let (null_addr, null_task) = dns::null_server().await.map_err(|e| e.to_string())?;
    let null = dns::drive(null_addr, DNS_IN_FLIGHT, counts.queries, &[])
        .await
        .map_err(|e| format!("null server: {e}"))?;
    null_task.abort();
    report.set_null(null, progress);
    let served = procs::Served::start("dns", &world_config(false)?)?;
    let http = reqwest::Client::builder()
        .no_proxy()
        .timeout(Duration::from_secs(10))
        .build()
        .map_err(|e| e.to_string())?;
    let name = dns::TXT_NAME.trim_end_matches('.');
    let set = http
        .post(format!("{}/dns/records", served.string("management_url")?))
        .json(&serde_json::json!({ "name": name, "type": "TXT", "value": dns::TXT_VALUE }))
        .send()
        .await
        .map_err(|e| format!("set the TXT record: {e}"))?;
    if !set.status().is_success() {
        return Err(format!("set the TXT record: HTTP {}", set.status()));
    }
    let ours_addr = served.addr("dns")?;
    let challtest = match procs::find_tool("pebble-challtestsrv") {
        Some(tool) => {
            let (guard, management, dns_addr) = procs::start_challtestsrv(&tool)?;
            let set = http
                .post(format!("{management}/set-txt"))
                .json(&serde_json::json!({ "host": dns::TXT_NAME, "value": dns::TXT_VALUE }))
                .send()
                .await
                .map_err(|e| format!("set the TXT record: {e}"))?;
            if !set.status().is_success() {
                return Err(format!(
                    "pebble-challtestsrv set-txt: HTTP {}",
                    set.status()
                ));
            }
            Some((guard, dns_addr))
        }
        None => {
            report.peer_skipped = missing("pebble-challtestsrv", progress);
            None
        }
    };
    for _ in 0..rounds {
        let ours = dns::drive(ours_addr, DNS_IN_FLIGHT, counts.queries, &[served.pid()])
            .await
            .map_err(|e| format!("acmeproof: {e}"))?;
        report.push(Side::Ours, ours, progress);
        if let Some((guard, addr)) = &challtest {
            let theirs = dns::drive(*addr, DNS_IN_FLIGHT, counts.queries, &[guard.pid()])
                .await
                .map_err(|e| format!("pebble-challtestsrv: {e}"))?;
            report.push(Side::Peer, theirs, progress);
        }
    }
    Ok(report)
}
