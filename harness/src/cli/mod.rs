//! The command line. Results go to stdout, errors to stderr as one line, and the exit code says
//! what happened:
//!
//! | code | meaning |
//! |------|---------|
//! | 0 | conformant (or a tool such as `digest` succeeded); SHOULD-level findings allowed |
//! | 1 | a MUST-level requirement is violated (`run`: a scenario is `fail`, `unimplemented` or `xpass`) |
//! | 2 | usage error, or an input that cannot be read (`run`: also a scenario that is `error`) |

mod bench;
mod bench_peers;
mod demo;
mod digest;
mod example;
mod key_args;
mod lint;
mod matrix;
mod memory;
mod partition;
mod render;
mod report;
mod run;
mod scenario_threads;
mod serve;

use std::io::Write;
use std::process::ExitCode;

use clap::{Parser, Subcommand};

/// Exit code: conformant, or the tool succeeded.
pub const EXIT_OK: u8 = 0;
/// Exit code: a MUST-level requirement is violated.
pub const EXIT_NONCONFORMANT: u8 = 1;
/// Exit code: usage error or unreadable input.
pub const EXIT_USAGE: u8 = 2;

/// acmeproof: conformance tests for ACME over e-mail (RFC 8823 S/MIME, draft-ietf-acme-email-tls).
#[derive(Debug, Parser)]
#[command(
    name = "acmeproof",
    version,
    after_help = "Exit codes: 0 conformant (SHOULD-level findings allowed), 1 a MUST violated \
                  (run: a scenario fail, unimplemented or xpass), 2 usage error or unreadable \
                  input (run: a scenario error, the harness broke)."
)]
pub struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Print the key authorization and RFC 8823 reply digest for two token parts and a key.
    Digest(digest::DigestArgs),
    /// Check an e-mail against RFC 8823 and print every finding with its requirement id.
    #[command(subcommand)]
    Lint(lint::LintCommand),
    /// Play one RFC 8823 exchange in memory (DKIM-signed challenge and response) and lint both.
    Example(example::ExampleArgs),
    /// Run the scenario library (or the scenarios the globs select) and report.
    Run(run::RunArgs),
    /// List the scenarios (id, the side judged, title).
    List(run::Selection),
    /// Show a scenario: its requirements with their text, its steps, its world.
    Explain(run::ExplainArgs),
    /// Work with report files: `report merge` joins the reports of `run --partition K/N` jobs.
    #[command(subcommand)]
    Report(report::ReportCommand),
    /// Run scenarios over every client-variant × CA-variant combination of open issues and
    /// render the interop matrix (Markdown, HTML, JSON). Without globs it runs the scenarios
    /// whose `variants` name every variant given.
    Matrix(matrix::MatrixArgs),
    /// Get an S/MIME certificate with the reference MUA in a fresh world, and show how.
    Demo(demo::DemoArgs),
    /// Start a world (authoritative DNS, ACME CA over HTTPS, management API) and print where.
    Serve(serve::ServeArgs),
    /// Measure the world's servers: dns-01 issuances per second, SMTP messages per second.
    #[command(subcommand)]
    Bench(bench::BenchCommand),
}

/// An error the user can act on: one line on stderr, exit code 2.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum CliError {
    /// A file could not be read.
    #[error("cannot read {path}: {source}")]
    Read {
        /// The file.
        path: std::path::PathBuf,
        /// Why.
        source: std::io::Error,
    },
    /// A key could not be used.
    #[error(transparent)]
    Key(#[from] crate::keys::KeyError),
    /// The input is not what the command needs.
    #[error("{0}")]
    Input(String),
    /// Writing the output failed (a closed pipe, a full disk).
    #[error("cannot write output: {0}")]
    Output(#[from] std::io::Error),
}

/// Parses the command line, runs the command and returns its exit code.
pub fn main() -> ExitCode {
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        Err(e) => {
            // clap prints help/version to stdout (exit 0) and usage errors to stderr (exit 2).
            let _ = e.print();
            return ExitCode::from(if e.use_stderr() { EXIT_USAGE } else { EXIT_OK });
        }
    };
    if prefers_small_pages(&cli.command) {
        memory::prefer_small_pages();
    }
    let mut out = std::io::stdout().lock();
    match run(cli, &mut out) {
        Ok(code) => ExitCode::from(code),
        Err(e) => {
            let _ = out.flush();
            let _ = writeln!(std::io::stderr(), "acmeproof: error: {e}");
            ExitCode::from(EXIT_USAGE)
        }
    }
}

/// Whether `command` turns transparent huge pages off for the process: all but `bench peers`,
/// whose peers would inherit the flag (see `memory.rs`).
fn prefers_small_pages(command: &Command) -> bool {
    !matches!(command, Command::Bench(bench::BenchCommand::Peers(_)))
}

/// Runs a parsed command, writing its results to `out`.
pub fn run(cli: Cli, out: &mut dyn Write) -> Result<u8, CliError> {
    match cli.command {
        Command::Digest(args) => digest::run(&args, out),
        Command::Lint(cmd) => lint::run(&cmd, out),
        Command::Example(args) => example::run(&args, out),
        Command::Demo(args) => demo::run(&args, out),
        Command::Run(args) => run::run(&args, out),
        Command::List(args) => run::list(&args, out),
        Command::Explain(args) => run::explain(&args, out),
        Command::Report(cmd) => report::run(&cmd, out),
        Command::Matrix(args) => matrix::matrix(&args, out),
        Command::Serve(args) => serve::run(&args, out),
        Command::Bench(args) => bench::run(&args, out),
    }
}

/// Reads a whole file, naming it in the error.
fn read_file(path: &std::path::Path) -> Result<Vec<u8>, CliError> {
    std::fs::read(path).map_err(|source| CliError::Read {
        path: path.into(),
        source,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use acmeproof_reports::Gate;

    #[test]
    fn a_run_gate_exits_with_the_documented_codes() {
        assert_eq!(Gate::Accepted.exit_code(), EXIT_OK);
        assert_eq!(Gate::Rejected.exit_code(), EXIT_NONCONFORMANT);
        assert_eq!(Gate::HarnessError.exit_code(), EXIT_USAGE);
    }

    #[test]
    fn every_command_but_bench_peers_turns_huge_pages_off() {
        let command = |args: &[&str]| {
            Cli::try_parse_from(std::iter::once("acmeproof").chain(args.iter().copied()))
                .expect("parses")
                .command
        };
        assert!(!prefers_small_pages(&command(&[
            "bench", "peers", "--quick"
        ])));
        for args in [&["run"][..], &["serve"], &["bench", "smtp"], &["matrix"]] {
            assert!(prefers_small_pages(&command(args)), "{args:?}");
        }
    }
}
