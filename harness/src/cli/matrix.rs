//! `acmeproof matrix --variants NAME[,NAME] [FILTER…]`: the open-issue explorer and the
//! interop matrix of real implementations. Each selected scenario runs once per client ×
//! CA: the reference client's variant values and the external clients (`--client
//! NAME=TEMPLATE`) as rows, the reference CA's variant values and the external servers
//! (`--server NAME=URL`) as columns, each run judged as `acmeproof run` judges it. The cells
//! say which pairs interoperate and, where they do not, which check fired and why.

mod cell;

use std::io::Write;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};

use clap::Args;

use acmeproof_mocks::world::WorldConfig;
use acmeproof_reports::matrix::{
    MATRIX_SCHEMA_VERSION, Matrix, MatrixCell, MatrixVariant, render_html, render_json,
    render_markdown,
};

use super::run::{Selection, select};
use super::{CliError, EXIT_OK};
use crate::scenario::LoadedScenario;
use crate::scenario::variants::{self, Variant};
use crate::sut::server::{ServerSetup, ServerTarget};
use crate::sut::{ClientCommand, Sut};

/// Arguments of `acmeproof matrix`.
#[derive(Debug, Args)]
pub struct MatrixArgs {
    /// The variants, comma-separated: token_join, service_port_in_hash,
    /// one_cert_tls_and_starttls, service_field, lmtp, challenge_body, proof, …. Without any,
    /// the reference client and CA are one row and one column (name scenarios with globs).
    #[arg(long, value_delimiter = ',')]
    variants: Vec<String>,
    /// Which scenarios: the globs select them (as for `run`); without globs, the scenarios
    /// whose `variants` name every variant given.
    #[command(flatten)]
    selection: Selection,
    /// Where `matrix.md`, `matrix.html` and `matrix.json` go.
    #[arg(long, value_name = "DIR", default_value = "acmeproof-matrix")]
    out: PathBuf,
    /// Worlds at once for the reference rows (default: four per core).
    #[arg(long)]
    jobs: Option<usize>,
    /// An external client row: NAME=TEMPLATE, the template as for `run --client-cmd` (same
    /// placeholders). Repeatable.
    #[arg(long = "client", value_name = "NAME=TEMPLATE")]
    clients: Vec<String>,
    /// An external server column: NAME=URL, its directory URL, as for `run --server-url`.
    /// Repeatable; each needs `--server-ca NAME=FILE`.
    #[arg(long = "server", value_name = "NAME=URL")]
    servers: Vec<String>,
    /// NAME=FILE: PEM roots of server NAME's HTTPS certificate.
    #[arg(long = "server-ca", value_name = "NAME=FILE")]
    server_cas: Vec<String>,
    /// NAME=FILE: PEM root(s) server NAME's issued certificates must chain to.
    #[arg(long = "server-root", value_name = "NAME=FILE")]
    server_roots: Vec<String>,
    /// NAME=FILE: where to write server NAME's wiring (as `run --wiring`) before waiting for
    /// its directory.
    #[arg(long = "server-wiring", value_name = "NAME=FILE")]
    server_wirings: Vec<String>,
    /// NAME=FILE: TOML over the example world for server NAME (as `run --server-world`).
    #[arg(long = "server-world", value_name = "NAME=FILE")]
    server_worlds: Vec<String>,
    /// Seconds one run of an external client may take; for a server, one request.
    #[arg(long, value_name = "SECS", default_value_t = 120)]
    client_timeout: u64,
    /// Seconds to wait for each external server's directory to answer.
    #[arg(long, value_name = "SECS", default_value_t = 60)]
    server_wait: u64,
    /// The matrix's title (default: named after the variants).
    #[arg(long)]
    title: Option<String>,
    /// Keep only this reference CA column: its values joined by " · " (e.g. "string/24 ·
    /// read-only"). Repeatable; without it, every combination is a column.
    #[arg(long = "ca-column", value_name = "LABEL")]
    ca_columns: Vec<String>,
}

/// What tells a row's copy of a scenario apart in an external server's shared world (see
/// [`cell::scenario_id`]).
const ROW_MARK: &str = "#row";

/// `NAME=VALUE` of a repeatable option.
fn named(option: &str, arg: &str) -> Result<(String, String), CliError> {
    match arg.split_once('=') {
        Some((name, value)) if !name.is_empty() && !value.is_empty() => {
            Ok((name.to_owned(), value.to_owned()))
        }
        _ => Err(CliError::Input(format!(
            "--{option} {arg:?}: expected NAME=VALUE"
        ))),
    }
}

/// The value `--option NAME=…` gives server `name`, if any.
fn for_server(option: &str, args: &[String], name: &str) -> Result<Option<String>, CliError> {
    for arg in args {
        let (n, value) = named(option, arg)?;
        if n == name {
            return Ok(Some(value));
        }
    }
    Ok(None)
}

fn read(path: &str) -> Result<String, CliError> {
    std::fs::read_to_string(path).map_err(|source| CliError::Read {
        path: PathBuf::from(path),
        source,
    })
}

/// Every combination of one value per list, in order (the first list varies slowest).
fn combinations(lists: &[&[&str]]) -> Vec<Vec<String>> {
    let mut out = vec![Vec::new()];
    for list in lists {
        let mut next = Vec::new();
        for prefix in &out {
            for value in *list {
                let mut combo = prefix.clone();
                combo.push((*value).to_owned());
                next.push(combo);
            }
        }
        out = next;
    }
    out
}

/// `scenario` with every variant set to the client values `client` and CA values `ca`.
fn varied(
    scenario: &LoadedScenario,
    chosen: &[&'static Variant],
    client: &[String],
    ca: &[String],
) -> Result<LoadedScenario, CliError> {
    let mut out = scenario.clone();
    for (i, v) in chosen.iter().enumerate() {
        out = variants::apply(&out, v, &client[i], &ca[i]).map_err(CliError::Input)?;
    }
    Ok(out)
}

/// A row or a column: a reference variant combination, or an external system.
enum Side {
    Values(Vec<String>),
    External(String),
}

/// One batch of runs against one system under test: the cells they belong to.
struct Batch {
    sut: Sut,
    jobs: Vec<(usize, LoadedScenario)>,
}

/// Runs `acmeproof matrix`.
pub fn matrix(args: &MatrixArgs, out: &mut dyn Write) -> Result<u8, CliError> {
    let chosen: Vec<&'static Variant> = args
        .variants
        .iter()
        .map(|name| {
            variants::lookup(name).ok_or_else(|| {
                CliError::Input(format!(
                    "--variants: {name:?} is not a variant (known: {})",
                    variants::names()
                ))
            })
        })
        .collect::<Result<_, _>>()?;
    let mut scenarios = select(&args.selection)?;
    if args.selection.filters.is_empty() {
        if chosen.is_empty() {
            return Err(CliError::Input(
                "without --variants, name the scenarios with globs".into(),
            ));
        }
        scenarios.retain(|s| {
            chosen
                .iter()
                .all(|v| s.file.variants.iter().any(|n| n == v.name))
        });
        if scenarios.is_empty() {
            return Err(CliError::Input(format!(
                "no scenario lists variants = [{}]: name scenarios with globs",
                args.variants.join(", ")
            )));
        }
    }
    let workers = args.jobs.unwrap_or_else(|| {
        4 * std::thread::available_parallelism()
            .map(|n| n.get())
            .unwrap_or(2)
    });
    if workers == 0 {
        return Err(CliError::Input("--jobs must be at least 1".into()));
    }
    let client_values = combinations(&chosen.iter().map(|v| v.client).collect::<Vec<_>>());
    let ca_values = combinations(&chosen.iter().map(|v| v.ca).collect::<Vec<_>>());
    // With no variant, the reference is one row and one column, labelled so.
    let reference = |values: Vec<Vec<String>>| {
        values
            .into_iter()
            .map(|v| {
                if v.is_empty() {
                    vec!["reference".to_owned()]
                } else {
                    v
                }
            })
            .collect::<Vec<_>>()
    };
    let mut rows: Vec<(Vec<String>, Side)> = reference(client_values.clone())
        .into_iter()
        .zip(client_values)
        .map(|(label, v)| (label, Side::Values(v)))
        .collect();
    let mut columns: Vec<(Vec<String>, Side)> = reference(ca_values.clone())
        .into_iter()
        .zip(ca_values)
        .map(|(label, v)| (label, Side::Values(v)))
        .collect();
    if !args.ca_columns.is_empty() {
        if let Some(unknown) = args
            .ca_columns
            .iter()
            .find(|want| !columns.iter().any(|(label, _)| label.join(" · ") == **want))
        {
            return Err(CliError::Input(format!(
                "--ca-column {unknown:?}: no such column (known: {})",
                columns
                    .iter()
                    .map(|(label, _)| label.join(" · "))
                    .collect::<Vec<_>>()
                    .join(", ")
            )));
        }
        columns.retain(|(label, _)| args.ca_columns.contains(&label.join(" · ")));
    }
    let timeout = Duration::from_secs(args.client_timeout.max(1));
    let mut client_cmds = Vec::new();
    for arg in &args.clients {
        let (name, template) = named("client", arg)?;
        let cmd = ClientCommand::parse(&template, timeout, args.out.join("work").join(&name))
            .map_err(CliError::Input)?;
        client_cmds.push((name.clone(), Arc::new(cmd)));
        rows.push((vec![name.clone()], Side::External(name)));
    }
    let mut server_names = Vec::new();
    for arg in &args.servers {
        let (name, _) = named("server", arg)?;
        server_names.push(name.clone());
        columns.push((vec![name.clone()], Side::External(name)));
    }

    // Every (cell, scenario) as one scenario run, batched by the system under test.
    let mut cells = Vec::new();
    let mut reference_batch = Batch {
        sut: Sut::Reference,
        jobs: Vec::new(),
    };
    let mut client_batches: Vec<Batch> = client_cmds
        .iter()
        .map(|(_, cmd)| Batch {
            sut: Sut::Client(Arc::clone(cmd)),
            jobs: Vec::new(),
        })
        .collect();
    // Per server: the jobs (started later, one server at a time).
    // Per server, per row: the jobs. Each row gets its own seed in the server's shared world,
    // so its mailboxes are its own and no row reads another row's mail.
    let mut server_jobs: Vec<Vec<Vec<(usize, LoadedScenario)>>> =
        vec![vec![Vec::new(); rows.len()]; server_names.len()];
    let first_ca: Vec<String> = chosen.iter().map(|v| v.ca[0].to_owned()).collect();
    for (row_at, (row_label, row)) in rows.iter().enumerate() {
        for (column_label, column) in &columns {
            let index = cells.len();
            let mut unimplemented = None;
            for base in &scenarios {
                match (row, column) {
                    (Side::Values(client), Side::Values(ca)) => reference_batch
                        .jobs
                        .push((index, varied(base, &chosen, client, ca)?)),
                    (Side::External(name), Side::Values(ca)) => {
                        let at = client_cmds
                            .iter()
                            .position(|(n, _)| n == name)
                            .unwrap_or_default();
                        // The external client does what it does: only the CA side varies.
                        let mut scenario = base.clone();
                        for (i, v) in chosen.iter().enumerate() {
                            scenario = variants::apply_ca(&scenario, v, &ca[i])
                                .map_err(CliError::Input)?;
                        }
                        client_batches[at].jobs.push((index, scenario));
                    }
                    (Side::Values(client), Side::External(name)) => {
                        let at = server_names
                            .iter()
                            .position(|n| n == name)
                            .unwrap_or_default();
                        // The external server does what it does: only the client side varies.
                        let mut scenario = varied(base, &chosen, client, &first_ca)?;
                        // The scenario's mailboxes are named after its id: a row of its own
                        // keeps each row's mail apart in the server's shared world.
                        scenario.file.id = format!("{}{ROW_MARK}{row_at}", scenario.file.id);
                        server_jobs[at][row_at].push((index, scenario));
                    }
                    (Side::External(_), Side::External(_)) => {
                        unimplemented = Some(
                            "acmeproof plays one side of every cell and judges the other: an \
                             external client against an external server has no side it plays"
                                .to_owned(),
                        );
                    }
                }
            }
            cells.push(MatrixCell {
                client: row_label.clone(),
                ca: column_label.clone(),
                runs: Vec::new(),
                unimplemented,
            });
        }
    }
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .map_err(|e| CliError::Input(format!("cannot start the runtime: {e}")))?;
    let started = Instant::now();
    run_batch(reference_batch, workers, &mut cells)?;
    for batch in client_batches {
        // One at a time: an external client's work folder is named after the scenario, and
        // the same scenario runs in every column.
        run_batch(batch, 1, &mut cells)?;
    }
    for (name, rows_jobs) in server_names.iter().zip(server_jobs) {
        if rows_jobs.iter().all(Vec::is_empty) {
            continue;
        }
        let target = Arc::new(start_server(&runtime, args, name)?);
        let sut = Sut::Server(Arc::clone(&target));
        let mut result = Ok(());
        for (row_at, jobs) in rows_jobs.into_iter().enumerate() {
            // A server under test shares one world: one scenario at a time.
            result = run_jobs(
                &sut,
                jobs,
                super::run::SeedChoice::Salted(row_at as u64 + 1),
                1,
                &mut cells,
            );
            if result.is_err() {
                break;
            }
        }
        drop(sut);
        runtime.block_on(target.shutdown());
        result?;
    }
    let m = Matrix {
        schema_version: MATRIX_SCHEMA_VERSION,
        title: args.title.clone(),
        variants: chosen
            .iter()
            .map(|v| MatrixVariant {
                name: v.name.into(),
                question: v.question.into(),
                source: v.source.into(),
                draft_text: v.draft_text.into(),
                shows: v.shows.into(),
                cannot_show: v.cannot_show.into(),
            })
            .collect(),
        clients: rows.into_iter().map(|(label, _)| label).collect(),
        cas: columns.into_iter().map(|(label, _)| label).collect(),
        scenarios: scenarios.iter().map(|s| s.file.id.clone()).collect(),
        cells,
        duration_ms: started.elapsed().as_millis() as u64,
    };
    let markdown = render_markdown(&m);
    std::fs::create_dir_all(&args.out).map_err(|source| CliError::Read {
        path: args.out.clone(),
        source,
    })?;
    for (name, text) in [
        ("matrix.md", markdown.clone()),
        ("matrix.html", render_html(&m)),
        ("matrix.json", render_json(&m)),
    ] {
        let path = args.out.join(name);
        std::fs::write(&path, text)
            .map_err(|e| CliError::Input(format!("cannot write {}: {e}", path.display())))?;
    }
    write!(out, "{markdown}")?;
    writeln!(
        out,
        "\n{} runs in {:.2} s; written to {}/matrix.{{md,html,json}}",
        m.cells.iter().map(|c| c.runs.len()).sum::<usize>(),
        m.duration_ms as f64 / 1000.0,
        args.out.display()
    )?;
    Ok(EXIT_OK)
}

/// Runs one batch and files each run in its cell.
fn run_batch(batch: Batch, workers: usize, cells: &mut [MatrixCell]) -> Result<(), CliError> {
    run_jobs(
        &batch.sut,
        batch.jobs,
        super::run::SeedChoice::Own,
        workers,
        cells,
    )
}

/// Runs `jobs` against `sut` and files each run in its cell. The caller's runtime stays up
/// meanwhile: an external server's target runs its tasks on it.
fn run_jobs(
    sut: &Sut,
    jobs: Vec<(usize, LoadedScenario)>,
    seed: super::run::SeedChoice,
    workers: usize,
    cells: &mut [MatrixCell],
) -> Result<(), CliError> {
    if jobs.is_empty() {
        return Ok(());
    }
    let (cell_of, varied): (Vec<usize>, Vec<LoadedScenario>) = jobs.into_iter().unzip();
    let ran = super::run::run_all(varied, sut, seed, false, workers, false)?;
    if ran.len() != cell_of.len() {
        return Err(CliError::Input(format!(
            "{} of {} runs did not finish (a harness bug: see the log)",
            cell_of.len() - ran.len(),
            cell_of.len()
        )));
    }
    for (at, ran) in cell_of.into_iter().zip(ran) {
        cells[at]
            .runs
            .push(cell::matrix_run(&ran.scenario, &ran.run, ran.outcome));
    }
    Ok(())
}

/// Starts the world of external server `name`, writes its wiring, and waits for it.
fn start_server(
    runtime: &tokio::runtime::Runtime,
    args: &MatrixArgs,
    name: &str,
) -> Result<ServerTarget, CliError> {
    let url = for_server("server", &args.servers, name)?.unwrap_or_default();
    let roots = for_server("server-ca", &args.server_cas, name)?.ok_or_else(|| {
        CliError::Input(format!(
            "--server {name}=…: needs --server-ca {name}=FILE (the PEM roots of its HTTPS certificate)"
        ))
    })?;
    let root_pem = read(&roots)?;
    let issuing_roots = match for_server("server-root", &args.server_roots, name)? {
        None => Vec::new(),
        Some(path) => crate::mua::certificate::pem_chain(&read(&path)?)
            .map_err(|e| CliError::Input(format!("--server-root {name}={path}: {e}")))?,
    };
    let world = match for_server("server-world", &args.server_worlds, name)? {
        None => WorldConfig::example(),
        Some(path) => {
            let text = read(&path)?;
            let table: toml::Table = toml::from_str(&text).map_err(|e| {
                CliError::Input(format!(
                    "--server-world {name}={path}: {}",
                    acmeproof_mocks::world::one_line(&text, &e)
                ))
            })?;
            WorldConfig::example_with(&table)
                .map_err(|e| CliError::Input(format!("--server-world {name}={path}: {e}")))?
        }
    };
    let wiring = for_server("server-wiring", &args.server_wirings, name)?.map(PathBuf::from);
    let mut say = |line: String| {
        let _ = writeln!(std::io::stderr(), "acmeproof: {name}: {line}");
    };
    runtime
        .block_on(ServerTarget::start(
            ServerSetup {
                directory_url: &url,
                root_pem,
                issuing_roots,
                with_contact: true,
                strict_mua: false,
                wiring_file: wiring.as_deref(),
                world,
                seed: 1,
                wait: Duration::from_secs(args.server_wait),
                ca_mailbox: None,
                smarthost_dkim: false,
                request_timeout: Duration::from_secs(args.client_timeout.max(1)),
            },
            &mut say,
        ))
        .map_err(|e| CliError::Input(format!("--server {name}: {e}")))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn named_options_split_at_the_first_equals_sign() {
        assert_eq!(
            named("client", "py=python3 c.py --x={email}").ok(),
            Some(("py".into(), "python3 c.py --x={email}".into()))
        );
        assert!(named("client", "=x").is_err());
        assert!(named("client", "py").is_err());
        assert!(named("server", "a2c=").is_err());
    }

    #[test]
    fn combinations_are_the_cartesian_product_in_order() {
        let c = combinations(&[&["a", "b"], &["x", "y", "z"]]);
        assert_eq!(c.len(), 6);
        assert_eq!(c[0], ["a", "x"]);
        assert_eq!(c[5], ["b", "z"]);
        assert_eq!(combinations(&[]), vec![Vec::<String>::new()]);
    }
}
