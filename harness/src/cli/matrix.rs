//! `acmeproof matrix --variants NAME[,NAME] [FILTER…]`: the open-issue explorer. Each selected
//! scenario runs against the reference implementations once per client value × CA value of
//! the variants, in a fresh world each time; the cells say which combinations interoperate
//! and, where they do not, which findings broke them.

use std::io::Write;
use std::path::PathBuf;
use std::time::Instant;

use clap::Args;

use acmeproof_reports::matrix::{
    MATRIX_SCHEMA_VERSION, Matrix, MatrixCell, MatrixRun, MatrixVariant, render_html, render_json,
    render_markdown,
};

use super::run::{Selection, select};
use super::{CliError, EXIT_OK};
use crate::scenario::LoadedScenario;
use crate::scenario::variants::{self, Variant};

/// Arguments of `acmeproof matrix`.
#[derive(Debug, Args)]
pub struct MatrixArgs {
    /// The variants, comma-separated: token_join, service_port_in_hash,
    /// one_cert_tls_and_starttls, service_field, lmtp, challenge_body, proof.
    #[arg(long, value_delimiter = ',', required = true)]
    variants: Vec<String>,
    /// Which scenarios: the globs select them (as for `run`); without globs, the scenarios
    /// whose `variants` name every variant given.
    #[command(flatten)]
    selection: Selection,
    /// Where `matrix.md`, `matrix.html` and `matrix.json` go.
    #[arg(long, value_name = "DIR", default_value = "acmeproof-matrix")]
    out: PathBuf,
    /// Worlds at once (default: four per core).
    #[arg(long)]
    jobs: Option<usize>,
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
    let clients = combinations(&chosen.iter().map(|v| v.client).collect::<Vec<_>>());
    let cas = combinations(&chosen.iter().map(|v| v.ca).collect::<Vec<_>>());
    // Every (cell, scenario) as one scenario run with the values applied.
    let mut jobs: Vec<(usize, LoadedScenario)> = Vec::new();
    let mut cells = Vec::new();
    for client in &clients {
        for ca in &cas {
            for base in &scenarios {
                let mut varied = base.clone();
                for (i, v) in chosen.iter().enumerate() {
                    varied =
                        variants::apply(&varied, v, &client[i], &ca[i]).map_err(CliError::Input)?;
                }
                jobs.push((cells.len(), varied));
            }
            cells.push(MatrixCell {
                client: client.clone(),
                ca: ca.clone(),
                runs: Vec::new(),
            });
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
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .map_err(|e| CliError::Input(format!("cannot start the runtime: {e}")))?;
    let started = Instant::now();
    let (cell_of, varied): (Vec<usize>, Vec<LoadedScenario>) = jobs.into_iter().unzip();
    let ran = runtime.block_on(super::run::run_all(
        varied,
        &crate::sut::Sut::Reference,
        super::run::SeedChoice::Own,
        false,
        workers,
        false,
    ));
    if ran.len() != cell_of.len() {
        return Err(CliError::Input(format!(
            "{} of {} runs did not finish (a harness bug: see the log)",
            cell_of.len() - ran.len(),
            cell_of.len()
        )));
    }
    for (cell, ran) in cell_of.into_iter().zip(ran) {
        cells[cell].runs.push(MatrixRun {
            scenario: ran.scenario.file.id.clone(),
            outcome: ran.outcome,
            findings: ran
                .run
                .findings
                .as_slice()
                .iter()
                .map(|f| format!("{}: {}", f.req, f.observed))
                .chain(ran.run.error.iter().map(|e| format!("harness error: {e}")))
                .chain(
                    ran.run
                        .sut_error
                        .iter()
                        .map(|e| format!("client error: {e}")),
                )
                .collect(),
        });
    }
    let m = Matrix {
        schema_version: MATRIX_SCHEMA_VERSION,
        variants: chosen
            .iter()
            .map(|v| MatrixVariant {
                name: v.name.into(),
                question: v.question.into(),
                source: v.source.into(),
            })
            .collect(),
        clients,
        cas,
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn combinations_are_the_cartesian_product_in_order() {
        let c = combinations(&[&["a", "b"], &["x", "y", "z"]]);
        assert_eq!(c.len(), 6);
        assert_eq!(c[0], ["a", "x"]);
        assert_eq!(c[5], ["b", "z"]);
        assert_eq!(combinations(&[]), vec![Vec::<String>::new()]);
    }
}
