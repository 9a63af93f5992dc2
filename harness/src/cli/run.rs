//! `acmeproof run`, `list` and `explain`: the scenario library from the command line.

use std::io::{IsTerminal as _, Write};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Instant;

use clap::Args;

use acmeproof_reports::{Outcome, RunReport, ToolInfo, Waivers};

use super::partition::Partition;
use super::{CliError, EXIT_OK};
use crate::scenario::{self, LoadedScenario, run::ScenarioRun};
use crate::sut::server::{ServerSetup, ServerTarget};
use crate::sut::{ClientCommand, Sut};
use acmeproof_mocks::world::WorldConfig;
use acmeproof_mocks::world::mail::CaMailboxSpec;

/// Where the scenarios are, and which.
#[derive(Debug, Args)]
pub struct Selection {
    /// Globs over scenario ids (`rfc8823/3.2/*`, `*dkim*`); none selects every scenario.
    pub(super) filters: Vec<String>,
    /// The scenario folder (default: `scenarios/` here, else the one this binary was built
    /// from).
    #[arg(long, value_name = "DIR")]
    scenarios: Option<PathBuf>,
    /// Leave out the scenarios whose id matches this glob (repeatable), after the filters.
    #[arg(long, value_name = "GLOB")]
    skip: Vec<String>,
}

/// Arguments of `acmeproof run`.
#[derive(Debug, Args)]
pub struct RunArgs {
    #[command(flatten)]
    selection: Selection,
    /// Replay with this seed instead of each scenario's own.
    #[arg(long)]
    seed: Option<u64>,
    /// Mix N into each scenario's own seed: other account keys, tokens and mailboxes, for a
    /// second run against a server that keeps its state (an account deactivated or a key
    /// rolled over by the first run). Each scenario's replay line prints the seed it used.
    #[arg(long, value_name = "N", conflicts_with = "seed")]
    salt: Option<u64>,
    /// SHOULD-level findings fail too.
    #[arg(long)]
    strict: bool,
    /// Run only partition K of N of the selection, for N CI jobs side by side (scenario i of
    /// the selection, in id order, goes to partition i mod N + 1, like nextest's
    /// `--partition count:K/N`); `acmeproof report merge` joins their reports.
    #[arg(long, value_name = "K/N")]
    partition: Option<Partition>,
    /// Scenarios (worlds) at once (default: four per core; CPU work runs on one thread per
    /// core whatever this is).
    #[arg(long)]
    jobs: Option<usize>,
    /// No progress bar, even on a terminal.
    #[arg(long)]
    quiet: bool,
    #[command(flatten)]
    output: Output,
    /// A waiver file: `[[waiver]] id = "glob" reason = "…"`; a waived failure is an xfail.
    #[arg(long, value_name = "FILE")]
    waivers: Option<PathBuf>,
    /// Test an external ACME client: this command runs once per client scenario, with
    /// placeholders filled in ({directory_url} {ca_bundle} {email} {domain} {imap_url}
    /// {smtp_url} {submission_url} {lmtp_url} {dns_addr} {user} {password} {workdir}; see
    /// `acmeproof run --help-placeholders`). Exit 89 means "unimplemented".
    #[arg(long, value_name = "TEMPLATE")]
    client_cmd: Option<String>,
    /// Seconds one run of --client-cmd may take before it is killed; with --server-url, the
    /// most one request to the server may take (a hung answer ends its step there).
    #[arg(long, value_name = "SECS", default_value_t = 120)]
    client_timeout: u64,
    /// Print what each --client-cmd placeholder stands for, and exit.
    #[arg(long)]
    help_placeholders: bool,
    /// Test an external ACME server by its directory URL: acmeproof is its client and the
    /// mailbox owner. It starts one world, prints (on stderr) what the server must use (DNS
    /// resolver, SMTP smarthost), waits for the directory to answer, then runs the server
    /// scenarios one at a time (unless --jobs says otherwise).
    #[arg(long, value_name = "DIRECTORY", conflicts_with = "client_cmd")]
    server_url: Option<String>,
    /// PEM roots for the --server-url server's HTTPS certificate.
    #[arg(long, value_name = "FILE", requires = "server_url")]
    server_ca: Option<PathBuf>,
    /// PEM root(s) that the --server-url server's issued certificates must chain to (RFC 5280
    /// path validation). Without it, each chain is checked up to its own top certificate, and
    /// the run says so.
    #[arg(long, value_name = "FILE", requires = "server_url")]
    server_root: Option<PathBuf>,
    /// Write what the --server-url server must be configured with (DNS resolver, SMTP
    /// smarthost, capability ports, the world's endpoints and users) as JSON to FILE before
    /// waiting for it, for a script that configures the server.
    #[arg(long, value_name = "FILE", requires = "server_url")]
    wiring: Option<PathBuf>,
    /// TOML that changes the --server-url run's shared world, over the example world (e.g.
    /// `[dns] listen = "127.0.0.53:53"` where the server expects its resolver).
    #[arg(long, value_name = "FILE", requires = "server_url")]
    server_world: Option<PathBuf>,
    /// Create the --server-url server's accounts without a `mailto:` contact (by default each
    /// names a world mailbox, as many CAs require).
    #[arg(long, requires = "server_url")]
    no_contact: bool,
    /// Judge the --server-url server with a strict MUA: a challenge mail that breaks a MUST of
    /// RFC 8823 §3.1 is ignored, as a conformant MUA does, and its scenario stops there. By
    /// default the MUA is lenient: it answers the mail all the same and records each defect,
    /// so that one defect does not hide the rest of the exchange.
    #[arg(long, requires = "server_url")]
    strict_mua: bool,
    /// Seconds to wait for the --server-url directory to answer.
    #[arg(long, value_name = "SECS", default_value_t = 60)]
    server_wait: u64,
    /// The --server-url server's own mailbox in the world (its challenge mail's From; replies
    /// arrive there, readable over IMAP and POP3). Default: acme-ca@ca.example.test with a
    /// password drawn from the seed.
    #[arg(long, value_name = "ADDRESS[:PASSWORD]", requires = "server_url")]
    ca_mailbox: Option<String>,
    /// The smarthost DKIM-signs the --server-url server's mail for its From domain, like a
    /// provider's MSA. By default it passes mail on as sent, so the judged challenge mail is
    /// exactly what the server produced.
    #[arg(long, requires = "server_url")]
    smarthost_dkim: bool,
}

/// `ADDRESS[:PASSWORD]` of `--ca-mailbox`: the password follows the first `:` after the `@`
/// (a domain has none).
fn ca_mailbox(arg: &str) -> Result<CaMailboxSpec, CliError> {
    let at = acmeproof_protocol::address::split(arg)
        .map(|(local, _)| local.len())
        .ok_or_else(|| CliError::Input(format!("--ca-mailbox {arg:?}: not an address (no @)")))?;
    let (address, password) = match arg[at..].find(':') {
        Some(colon) => (&arg[..at + colon], Some(arg[at + colon + 1..].to_owned())),
        None => (arg, None),
    };
    acmeproof_protocol::address::parse_address(address)
        .map_err(|e| CliError::Input(format!("--ca-mailbox {address:?}: {e}")))?;
    Ok(CaMailboxSpec {
        address: address.to_owned(),
        password,
    })
}

/// Which reports to write, and where.
#[derive(Debug, Args)]
pub struct Output {
    /// Report formats: human (stdout), json, junit, md, html (files in --out). Several allowed,
    /// comma-separated or repeated.
    #[arg(long, value_delimiter = ',', default_values_t = [Format::Human, Format::Json, Format::Junit, Format::Md, Format::Html])]
    pub(super) format: Vec<Format>,
    /// Where the report files go.
    #[arg(long, value_name = "DIR", default_value = "acmeproof-report")]
    pub(super) out: PathBuf,
}

/// A report format.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Format {
    /// One line per scenario on stdout, findings under failures.
    Human,
    /// `report.json` (versioned schema).
    Json,
    /// `junit.xml`.
    Junit,
    /// `summary.md`, for PR comments.
    Md,
    /// `report.html`, one self-contained file.
    Html,
}

impl std::fmt::Display for Format {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Format::Human => "human",
            Format::Json => "json",
            Format::Junit => "junit",
            Format::Md => "md",
            Format::Html => "html",
        })
    }
}

/// Arguments of `acmeproof explain`.
#[derive(Debug, Args)]
pub struct ExplainArgs {
    /// A scenario id, or a requirement id (`SMIME-25`): its text and the scenarios that test it.
    id: String,
    /// The scenario folder.
    #[arg(long, value_name = "DIR")]
    scenarios: Option<PathBuf>,
}

fn scenario_dir(given: Option<&Path>) -> PathBuf {
    if let Some(dir) = given {
        return dir.to_owned();
    }
    let here = PathBuf::from("scenarios");
    if here.is_dir() {
        here
    } else {
        PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../scenarios")
    }
}

/// The scenarios `selection` names, in id order; a filter that matches nothing is an error
/// (a typo must not pass as an empty, green run).
pub(super) fn select(selection: &Selection) -> Result<Vec<LoadedScenario>, CliError> {
    let dir = scenario_dir(selection.scenarios.as_deref());
    let all = scenario::load_dir(&dir).map_err(|e| CliError::Input(e.to_string()))?;
    let globs = |patterns: &[String], what: &str| {
        patterns
            .iter()
            .map(|pattern| {
                let glob = globset::GlobBuilder::new(pattern)
                    .literal_separator(false)
                    .build()
                    .map_err(|e| CliError::Input(format!("{what} {pattern:?}: {e}")))?
                    .compile_matcher();
                if all.iter().any(|s| glob.is_match(&s.file.id)) {
                    Ok(glob)
                } else {
                    Err(CliError::Input(format!(
                        "{what} {pattern:?} matches no scenario in {}",
                        dir.display()
                    )))
                }
            })
            .collect::<Result<Vec<_>, CliError>>()
    };
    let filters = globs(&selection.filters, "filter")?;
    let skips = globs(&selection.skip, "--skip")?;
    Ok(all
        .into_iter()
        .filter(|s| filters.is_empty() || filters.iter().any(|g| g.is_match(&s.file.id)))
        .filter(|s| !skips.iter().any(|g| g.is_match(&s.file.id)))
        .collect())
}

/// `acmeproof explain REQ-ID`: the catalogue's row (and, for a draft rule, the drafts' text)
/// and every scenario that names the requirement, in its list or in a step.
fn explain_requirement(
    r: &acmeproof_protocol::requirements::Requirement,
    all: &[LoadedScenario],
    out: &mut dyn Write,
) -> Result<u8, CliError> {
    writeln!(out, "{} {} ({})", r.id, r.keyword(), r.source)?;
    writeln!(out, "  {}", r.summary)?;
    // A TLS row's text is its drafts quote, printed below with the versions it comes from.
    if !r.id.starts_with("TLS-") {
        writeln!(out, "  \"{}\"", r.text)?;
    }
    use acmeproof_protocol::requirements::Actor;
    let binds = match r.actor {
        Actor::Server => "the ACME server (the CA and its challenge mail)",
        Actor::Client => "the ACME client",
        Actor::Mua => "the mail user agent and its response mail",
        Actor::ServerAndClient => "both ends of the ACME exchange",
        Actor::MuaAndServer => "the MUA writing the response and the server checking it",
        Actor::Any => "whoever writes the message or value",
    };
    writeln!(out, "  binds: {binds}")?;
    for text in acmeproof_protocol::requirements::TLS_TEXTS
        .iter()
        .filter(|t| t.id == r.id)
    {
        writeln!(out, "  drafts {}: \"{}\"", text.versions, text.quote)?;
        writeln!(out, "  checker: {}", text.checker)?;
    }
    let places: Vec<_> = crate::checkers::checkers_of(r.id).collect();
    writeln!(out, "\nNamed in the code ({})", places.len())?;
    for c in &places {
        writeln!(out, "  {}:{}  {}", c.path, c.line, c.item)?;
    }
    if let Some(reason) = acmeproof_protocol::requirements::untestable(r.id) {
        writeln!(out, "\nNot exercised by a scenario: {reason}")?;
    }
    let testing: Vec<&LoadedScenario> = all
        .iter()
        .filter(|s| {
            s.file.requirements.iter().any(|id| id == r.id)
                || s.file
                    .steps
                    .iter()
                    .any(|step| step.requirements().contains(&r.id))
        })
        .collect();
    writeln!(out, "\nScenarios ({})", testing.len())?;
    for s in testing {
        writeln!(
            out,
            "  {:<58} {:<6} {}",
            s.file.id,
            format!("{:?}", s.file.role).to_lowercase(),
            s.file.title
        )?;
    }
    Ok(EXIT_OK)
}

/// Runs `acmeproof list`.
pub fn list(selection: &Selection, out: &mut dyn Write) -> Result<u8, CliError> {
    for s in select(selection)? {
        writeln!(
            out,
            "{:<58} {:<6} {}",
            s.file.id,
            format!("{:?}", s.file.role).to_lowercase(),
            s.file.title
        )?;
    }
    Ok(EXIT_OK)
}

/// Runs `acmeproof explain ID`.
pub fn explain(args: &ExplainArgs, out: &mut dyn Write) -> Result<u8, CliError> {
    let dir = scenario_dir(args.scenarios.as_deref());
    let all = scenario::load_dir(&dir).map_err(|e| CliError::Input(e.to_string()))?;
    if let Some(r) = acmeproof_protocol::requirements::lookup(&args.id) {
        return explain_requirement(r, &all, out);
    }
    let s = all
        .iter()
        .find(|s| s.file.id == args.id)
        .ok_or_else(|| CliError::Input(format!("no scenario {} in {}", args.id, dir.display())))?;
    writeln!(out, "{}\n  {}", s.file.id, s.file.title)?;
    writeln!(out, "  file: {}", s.path.display())?;
    writeln!(
        out,
        "  judges: the {}; expected outcome with the reference implementations: {}; seed {}",
        match s.file.role {
            scenario::Role::Client => "client (ACME client and MUA)",
            scenario::Role::Server => "server (the CA)",
            scenario::Role::Both => "client and the server",
        },
        s.file.expect.as_str(),
        s.seed()
    )?;
    if !s.file.description.is_empty() {
        writeln!(out)?;
        for line in s.file.description.lines() {
            writeln!(out, "  {line}")?;
        }
    }
    writeln!(out, "\nRequirements")?;
    for id in &s.file.requirements {
        if let Some(r) = acmeproof_protocol::requirements::lookup(id) {
            writeln!(out, "  {id} {} ({}): {}", r.keyword(), r.source, r.summary)?;
        }
    }
    writeln!(out, "\nSteps")?;
    for (i, step) in s.file.steps.iter().enumerate() {
        writeln!(out, "  {}. {}", i + 1, describe(step))?;
    }
    if !s.file.world.is_empty() {
        writeln!(out, "\nWorld (merged over the example world)")?;
        let world = toml::to_string(&s.file.world).unwrap_or_default();
        for line in world.lines() {
            writeln!(out, "  {line}")?;
        }
    }
    Ok(EXIT_OK)
}

/// "; the CA must answer <error>" when a step names the error the CA must answer.
fn must_answer(error: Option<&str>) -> String {
    error
        .map(|e| format!("; the CA must answer {e}"))
        .unwrap_or_default()
}

/// A step in one line, as the file says it.
pub fn describe(step: &scenario::Step) -> String {
    use scenario::Step;
    match step {
        Step::Issue(s) => {
            let mut text = format!("issue: the reference MUA gets a certificate for {}", s.user);
            if !s.inject.is_empty() {
                text.push_str(&format!(" after lookalikes {:?}", s.inject));
            }
            use scenario::model::IssueExpect;
            if s.expect == IssueExpect::Ignored {
                text.push_str("; the MUA must ignore the CA's broken challenge mail");
            }
            if s.expect == IssueExpect::Flagged {
                text.push_str("; the MUA must flag the CA's challenge mail and go on");
            }
            if s.expect == IssueExpect::Refused {
                text.push_str(&format!(
                    "; the CA must refuse ({})",
                    s.error.as_deref().unwrap_or("any error")
                ));
            }
            if let Some(n) = s.ignored {
                text.push_str(&format!("; {n} mail(s) must be ignored"));
            }
            text
        }
        Step::Order(s) => format!("order: {} orders an email identifier", s.user),
        Step::ReadChallenge(s) => format!("read-challenge: {}'s challenge mail, checked", s.user),
        Step::Reply(s) => format!("reply: {} replies, {}", s.user, s.change.describe()),
        Step::Post(_) => "post: the challenge is POSTed".into(),
        Step::ExpectAuthorization(s) => format!(
            "expect-authorization: {}{} ({})",
            s.status,
            s.error
                .as_deref()
                .map(|e| format!(" with {e}"))
                .unwrap_or_default(),
            s.req
        ),
        Step::Finalize(s) => format!(
            "finalize{}: a CSR for {}{}{} ({})",
            if s.early { " at once" } else { "" },
            s.usage,
            s.csr_for
                .as_deref()
                .map(|a| format!(" naming {a}"))
                .unwrap_or_default(),
            must_answer(s.error.as_deref()),
            s.req
        ),
        Step::NewOrder(s) => format!(
            "new-order: {} {}{} ({})",
            s.kind,
            s.value,
            must_answer(s.error.as_deref()),
            s.req
        ),
        Step::IssueDns(s) => format!(
            "issue-dns: a {} certificate for {:?} ({})",
            match s.proof {
                scenario::model::NameProof::Dns01 => "dns-01",
                scenario::model::NameProof::TlsAlpn01 => "tls-alpn-01",
            },
            s.names,
            s.req
        ),
        Step::DeactivateAccount(_) => "deactivate-account".into(),
        Step::NewAccount(s) => format!("new-account: {:?} ({})", s.case, s.req),
        Step::UpdateContact(s) => format!("update-contact: a new contact ({})", s.req),
        Step::KeyChange(s) => format!("key-change: fault {:?} ({})", s.fault, s.req),
        Step::Revoke(s) => format!(
            "revoke: signed by {:?}{}{} ({})",
            s.by,
            s.reason
                .map(|r| format!(", reason {r}"))
                .unwrap_or_default(),
            must_answer(s.error.as_deref()),
            s.req
        ),
        Step::OrdersList(s) => format!("orders-list: the account's orders ({})", s.req),
        Step::RenewalInfo(s) => format!("renewal-info: the ARI window ({})", s.req),
        Step::Replace(s) => format!("replace: newOrder replaces the certificate ({})", s.req),
        Step::Directory(s) => format!("directory: the directory and newNonce ({})", s.req),
        Step::IssueTls(s) => format!(
            "issue-tls: the mail-server operator gets a certificate for {} ({}) by {}, \
             service/port in the {}{}{} ({})",
            s.domain,
            s.services.join(", "),
            s.proof,
            s.field,
            if s.service_port_in_hash {
                ", digest bound to service and port"
            } else {
                ""
            },
            if s.expect == scenario::model::Expect::Refused {
                format!(
                    "; the CA must refuse ({})",
                    s.error.as_deref().unwrap_or("any error")
                )
            } else {
                String::new()
            },
            s.req
        ),
        Step::AdvanceClock(s) => format!("advance-clock: {} s", s.seconds),
        Step::SetKnobs(s) => format!("set-knobs: {:?}", s.knobs),
        Step::Probe(s) if s.any_refusal => format!(
            "probe: a request with fault {} must be refused, with any 4xx ({})",
            s.fault, s.req
        ),
        Step::Probe(s) => format!(
            "probe: a request with fault {} must get {}{} ({})",
            s.fault,
            s.status,
            s.error
                .as_deref()
                .map(|e| format!(" {e}"))
                .unwrap_or_default(),
            s.req
        ),
    }
}

/// One scenario's result.
pub struct Ran {
    /// The scenario.
    pub scenario: LoadedScenario,
    /// The seed used.
    pub seed: u64,
    /// What happened.
    pub run: ScenarioRun,
    /// The outcome.
    pub outcome: Outcome,
}

/// Which seed each scenario of a run gets.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SeedChoice {
    /// Its own (from its file, or derived from its id): the same on every run.
    Own,
    /// Its own mixed with a salt (`--salt`): the same for the same salt.
    Salted(u64),
    /// This one for every scenario (`--seed`, to replay one).
    Fixed(u64),
}

impl SeedChoice {
    /// The seed `scenario` runs with.
    pub fn for_scenario(self, scenario: &LoadedScenario) -> u64 {
        match self {
            SeedChoice::Own => scenario.seed(),
            SeedChoice::Fixed(seed) => seed,
            SeedChoice::Salted(salt) => {
                use sha2::Digest as _;
                let mut hash = sha2::Sha256::new();
                hash.update(scenario.seed().to_be_bytes());
                hash.update(salt.to_be_bytes());
                let hash = hash.finalize();
                u64::from_be_bytes(hash[..8].try_into().unwrap_or_default())
            }
        }
    }
}

/// Runs the selected scenarios against `sut`, `jobs` at a time (on one single-threaded runtime
/// per core: `scenario_threads`), with a progress bar when `progress`. Results come in the given
/// order; a scenario whose run panicked has none.
pub fn run_all(
    scenarios: Vec<LoadedScenario>,
    sut: &Sut,
    seed: SeedChoice,
    strict: bool,
    jobs: usize,
    progress: bool,
) -> Result<Vec<Ran>, CliError> {
    let bar = if progress {
        let bar = indicatif::ProgressBar::new(scenarios.len() as u64);
        bar.set_style(
            indicatif::ProgressStyle::with_template("{bar:30} {pos}/{len} {elapsed} {msg}")
                .unwrap_or_else(|_| indicatif::ProgressStyle::default_bar()),
        );
        bar
    } else {
        indicatif::ProgressBar::hidden()
    };
    // The scenarios that wait longest start first (results still come in the given order).
    let mut ordered: Vec<(usize, LoadedScenario)> = scenarios.into_iter().enumerate().collect();
    ordered.sort_by_key(|(_, s)| std::cmp::Reverse(s.expected_wait_ms()));
    let mut done = super::scenario_threads::run_queue(ordered, jobs, |(index, scenario)| {
        let bar = &bar;
        async move {
            let seed = seed.for_scenario(&scenario);
            let run = scenario::run::run_with(&scenario, seed, sut).await;
            let outcome = scenario::outcome_of(&run, strict);
            bar.set_message(scenario.file.id.clone());
            bar.inc(1);
            (
                index,
                Ran {
                    scenario,
                    seed,
                    run,
                    outcome,
                },
            )
        }
    })
    .map_err(|e| CliError::Input(format!("cannot start the scenario threads: {e}")))?;
    bar.finish_and_clear();
    done.sort_by_key(|(index, _)| *index);
    Ok(done.into_iter().map(|(_, ran)| ran).collect())
}

/// Runs `acmeproof run`.
pub fn run(args: &RunArgs, out: &mut dyn Write) -> Result<u8, CliError> {
    if args.help_placeholders {
        for (name, meaning) in crate::sut::client_cmd::PLACEHOLDERS {
            writeln!(out, "{{{name}}}\t{meaning}")?;
        }
        return Ok(EXIT_OK);
    }
    let mut sut = match &args.client_cmd {
        None => Sut::Reference,
        Some(template) => Sut::Client(Arc::new(
            ClientCommand::parse(
                template,
                std::time::Duration::from_secs(args.client_timeout.max(1)),
                args.output.out.join("work"),
            )
            .map_err(CliError::Input)?,
        )),
    };
    let server_roots = match (&args.server_url, &args.server_ca) {
        (None, _) => None,
        (Some(_), None) => {
            return Err(CliError::Input(
                "--server-url needs --server-ca FILE (the PEM roots of its HTTPS certificate)"
                    .into(),
            ));
        }
        (Some(_), Some(path)) => {
            Some(
                std::fs::read_to_string(path).map_err(|source| CliError::Read {
                    path: path.clone(),
                    source,
                })?,
            )
        }
    };
    let issuing_roots = match &args.server_root {
        None => Vec::new(),
        Some(path) => {
            let pem = std::fs::read_to_string(path).map_err(|source| CliError::Read {
                path: path.clone(),
                source,
            })?;
            let roots = crate::mua::certificate::pem_chain(&pem)
                .map_err(|e| CliError::Input(format!("--server-root {}: {e}", path.display())))?;
            if roots.is_empty() {
                return Err(CliError::Input(format!(
                    "--server-root {}: no PEM certificate in it",
                    path.display()
                )));
            }
            roots
        }
    };
    let server_world = match &args.server_world {
        None => WorldConfig::example(),
        Some(path) => {
            let text = std::fs::read_to_string(path).map_err(|source| CliError::Read {
                path: path.clone(),
                source,
            })?;
            let table: toml::Table = toml::from_str(&text).map_err(|e| {
                CliError::Input(format!(
                    "--server-world {}: {}",
                    path.display(),
                    acmeproof_mocks::world::one_line(&text, &e)
                ))
            })?;
            WorldConfig::example_with(&table)
                .map_err(|e| CliError::Input(format!("--server-world {}: {e}", path.display())))?
        }
    };
    let waivers = args
        .waivers
        .as_deref()
        .map(Waivers::load)
        .transpose()
        .map_err(|e| CliError::Input(e.to_string()))?;
    let mut scenarios = select(&args.selection)?;
    if let Some(partition) = args.partition {
        scenarios = partition.take(scenarios);
    }
    // CPU work is bounded by the scenario threads: one per core. A world mostly waits
    // (relay delays, greylisting, Retry-After), so four are open per core by default.
    // A server under test shares one world across scenarios: one at a time by default, so
    // two scenarios never publish the same DNS names at once.
    let jobs = args.jobs.unwrap_or_else(|| {
        if args.server_url.is_some() {
            1
        } else {
            4 * std::thread::available_parallelism()
                .map(|n| n.get())
                .unwrap_or(2)
        }
    });
    if jobs == 0 {
        return Err(CliError::Input("--jobs must be at least 1".into()));
    }
    let progress =
        !args.quiet && std::io::stderr().is_terminal() && std::env::var_os("CI").is_none();
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .map_err(|e| CliError::Input(format!("cannot start the runtime: {e}")))?;
    let started_at = time::OffsetDateTime::now_utc()
        .format(&time::format_description::well_known::Rfc3339)
        .unwrap_or_default();
    let started = Instant::now();
    if let (Some(url), Some(roots)) = (&args.server_url, server_roots) {
        // On stderr, so stdout stays the report; a test or an operator reads it while acmeproof
        // waits for the server.
        let mut say = |line: String| {
            let _ = writeln!(std::io::stderr(), "acmeproof: {line}");
        };
        let target = runtime
            .block_on(ServerTarget::start(
                ServerSetup {
                    directory_url: url,
                    root_pem: roots,
                    issuing_roots,
                    with_contact: !args.no_contact,
                    strict_mua: args.strict_mua,
                    wiring_file: args.wiring.as_deref(),
                    world: server_world,
                    seed: args.seed.unwrap_or(1),
                    wait: std::time::Duration::from_secs(args.server_wait),
                    ca_mailbox: args.ca_mailbox.as_deref().map(ca_mailbox).transpose()?,
                    smarthost_dkim: args.smarthost_dkim,
                    request_timeout: std::time::Duration::from_secs(args.client_timeout.max(1)),
                },
                &mut say,
            ))
            .map_err(CliError::Input)?;
        sut = Sut::Server(Arc::new(target));
    }
    let seed = match (args.seed, args.salt) {
        (Some(seed), _) => SeedChoice::Fixed(seed),
        (None, Some(salt)) => SeedChoice::Salted(salt),
        (None, None) => SeedChoice::Own,
    };
    // The runtime stays up meanwhile: an external server's target runs its tasks on it.
    let ran = run_all(scenarios, &sut, seed, args.strict, jobs, progress)?;
    let mut report = RunReport::new(
        ToolInfo::new("acmeproof", env!("CARGO_PKG_VERSION")),
        started_at,
        sut.name(),
        sut.kind(),
        args.strict,
    );
    if let Sut::Server(target) = std::mem::take(&mut sut) {
        runtime.block_on(target.shutdown());
    }
    report.waiver_file = args.waivers.as_ref().map(|p| p.display().to_string());
    report.partition = args.partition.map(|p| p.to_string());
    report.scenarios = ran.iter().map(super::report::scenario_result).collect();
    let mut stale = Vec::new();
    if let Some(waivers) = &waivers {
        for result in &mut report.scenarios {
            waivers.apply(result);
        }
        // A waiver that matches nothing run is a typo or a fixed bug: say so (BoGo does).
        let ids: Vec<&str> = report.scenarios.iter().map(|r| r.id.as_str()).collect();
        stale = waivers
            .unused(&ids)
            .into_iter()
            .map(|w| format!("waiver {:?} matches no scenario run", w.id))
            .collect();
    }
    report.duration_ms = started.elapsed().as_millis() as u64;
    report.summarize();
    write_reports(&report, &args.output, true, &stale, out)
}

/// Prints the human report (with `notes` after it) when asked, writes the report files, and
/// returns the exit code of the run's gate.
pub(super) fn write_reports(
    report: &RunReport,
    output: &Output,
    print_peak_memory: bool,
    notes: &[String],
    out: &mut dyn Write,
) -> Result<u8, CliError> {
    let human_too = output.format.contains(&Format::Human);
    // The files first, so the peak memory printed covers writing them too: it is the run's.
    let written = super::report::write_files(report, &output.format, &output.out)?;
    if human_too {
        let peak = print_peak_memory.then(peak_memory_mib).flatten();
        human(report, peak, out)?;
        for line in notes {
            writeln!(out, "note: {line}")?;
        }
    }
    if !written.is_empty() && human_too {
        writeln!(out, "reports: {}", written.join(", "))?;
    }
    Ok(report.gate().exit_code())
}

/// The most memory this process has held at once (its peak resident set, `VmHWM` in
/// `/proc/self/status`), in MiB; `None` where the system does not say.
fn peak_memory_mib() -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with("VmHWM:"))?;
    let kib: u64 = line
        .trim_start_matches("VmHWM:")
        .trim()
        .trim_end_matches("kB")
        .trim()
        .parse()
        .ok()?;
    Some(kib.div_ceil(1024))
}

fn human(report: &RunReport, peak_mib: Option<u64>, out: &mut dyn Write) -> std::io::Result<()> {
    let mut skipped = 0;
    for r in &report.scenarios {
        // Skipped scenarios cannot run against this system (a server scenario when a client
        // is tested): one count below, the reasons in the report files.
        if r.outcome == Outcome::Skipped && r.waiver.is_none() {
            skipped += 1;
            continue;
        }
        let mark = if r.outcome.is_success() {
            "ok  "
        } else {
            "FAIL"
        };
        writeln!(
            out,
            "{mark} {:<16} {} ({:.2} s)",
            r.outcome.as_str(),
            r.id,
            r.duration_ms as f64 / 1000.0
        )?;
        if let Some(reason) = &r.waiver {
            writeln!(out, "       waived: {reason}")?;
        }
        if let Some(e) = &r.error {
            let label = match r.outcome {
                Outcome::Error => "harness error",
                _ => "why",
            };
            writeln!(out, "       {label}: {e}")?;
        }
        if r.outcome != Outcome::Pass {
            for f in &r.findings {
                writeln!(
                    out,
                    "       {} {}: expected {}; observed {}",
                    f.req,
                    f.level.as_str(),
                    f.expected,
                    f.observed
                )?;
            }
        }
        if !r.outcome.is_success() {
            writeln!(
                out,
                "       replay: acmeproof run '{}' --seed {}",
                r.id, r.seed
            )?;
        }
    }
    if skipped > 0 {
        writeln!(
            out,
            "{skipped} scenarios skipped: they cannot run against {} (reasons in the reports)",
            report.implementation
        )?;
    }
    // The figures the README quotes come from these two lines.
    writeln!(
        out,
        "result: {} ({} scenarios{})",
        report.summary.headline(),
        report.summary.total,
        report
            .partition
            .as_deref()
            .map(|p| format!(", partition {p}"))
            .unwrap_or_default()
    )?;
    let gate = report.gate();
    write!(
        out,
        "gate: {}, exit {}; {:.2} s",
        gate.as_str(),
        gate.exit_code(),
        report.duration_ms as f64 / 1000.0
    )?;
    if let Some(mib) = peak_mib {
        write!(out, ", peak memory {mib} MiB")?;
    }
    writeln!(out)
}
