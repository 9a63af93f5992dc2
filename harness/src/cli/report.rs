//! From a run of the scenarios to the reports model (`acmeproof-reports`), the report files,
//! and `acmeproof report merge`.

use std::io::Write;
use std::path::{Path, PathBuf};

use clap::{Args, Subcommand};

use acmeproof_reports::{FindingRecord, RunReport, ScenarioResult, StepResult};

use super::CliError;
use super::run::{Format, Output, Ran};

/// `acmeproof report …`.
#[derive(Debug, Subcommand)]
pub enum ReportCommand {
    /// Join the reports of one run split across CI jobs (`run --partition K/N`) into one: every
    /// scenario once, in id order, the headline and the exit code of the whole run.
    Merge(MergeArgs),
}

/// Arguments of `acmeproof report merge`.
#[derive(Debug, Args)]
pub struct MergeArgs {
    /// Report folders (each with the `report.json` a run wrote) or `report.json` files.
    #[arg(required = true, value_name = "DIR")]
    parts: Vec<PathBuf>,
    #[command(flatten)]
    output: Output,
}

/// Runs `acmeproof report …`.
pub fn run(command: &ReportCommand, out: &mut dyn Write) -> Result<u8, CliError> {
    match command {
        ReportCommand::Merge(args) => merge(args, out),
    }
}

fn merge(args: &MergeArgs, out: &mut dyn Write) -> Result<u8, CliError> {
    let mut parts = Vec::with_capacity(args.parts.len());
    for path in &args.parts {
        let file = if path.is_dir() {
            path.join("report.json")
        } else {
            path.clone()
        };
        let text = String::from_utf8(super::read_file(&file)?)
            .map_err(|_| CliError::Input(format!("{}: not UTF-8", file.display())))?;
        let report = acmeproof_reports::json::parse(&text)
            .map_err(|e| CliError::Input(format!("{}: {e}", file.display())))?;
        parts.push(report);
    }
    let merged =
        acmeproof_reports::merge::merge(parts).map_err(|e| CliError::Input(e.to_string()))?;
    let notes: Vec<String> = merged
        .partition
        .iter()
        .map(|p| format!("the reports are partitions {p}, not the whole selection"))
        .collect();
    super::run::write_reports(&merged, &args.output, false, &notes, out)
}

/// One scenario's result in the reports model.
pub fn scenario_result(ran: &Ran) -> ScenarioResult {
    let file = &ran.scenario.file;
    let mut result = ScenarioResult::new(file.id.clone(), file.title.clone(), file.role);
    result.requirements = file.requirements.clone();
    result.outcome = ran.outcome;
    result.expected = file.expect;
    result.seed = ran.seed;
    result.duration_ms = ran.run.duration.as_millis() as u64;
    result.error = match (&ran.run.verdict, &ran.run.error, &ran.run.sut_error) {
        (Some((_, why)), _, _) => Some(why.clone()),
        (None, Some(error), _) => Some(error.clone()),
        (None, None, Some(error)) => Some(format!("{}: {error}", sut_error_label(ran))),
        (None, None, None) => None,
    };
    let transcript = &ran.run.transcript;
    result.findings = ran
        .run
        .findings
        .as_slice()
        .iter()
        .enumerate()
        .map(|(i, f)| {
            let mut record = FindingRecord::from(f);
            record.step = ran.run.finding_steps.get(i).copied().flatten();
            record.transcript = crate::scenario::transcript::answer_refusing(transcript, f.req);
            record
        })
        .collect();
    result.steps = ran
        .run
        .steps
        .iter()
        .map(|s| StepResult {
            index: s.index,
            action: s.action.clone(),
            summary: super::run::describe(&file.steps[s.index]),
            status: s.status,
            detail: s.detail.clone(),
        })
        .collect();
    result.transcript = ran.run.transcript.clone();
    result
}

/// What a system-under-test error is called in reports.
fn sut_error_label(ran: &Ran) -> &'static str {
    match ran.scenario.file.role {
        acmeproof_reports::Role::Server => "server error",
        _ => "client error",
    }
}

/// Writes the file formats of `formats` into `dir`; returns the paths written.
pub fn write_files(
    report: &RunReport,
    formats: &[Format],
    dir: &Path,
) -> Result<Vec<String>, CliError> {
    if formats.iter().all(|f| *f == Format::Human) {
        return Ok(Vec::new());
    }
    std::fs::create_dir_all(dir).map_err(|source| CliError::Read {
        path: dir.into(),
        source,
    })?;
    // One file at a time, and the two big ones (the library's JSON and HTML are megabytes of
    // transcripts) streamed: holding them in memory set the run's peak.
    let mut written = Vec::new();
    for format in formats {
        let name = match format {
            Format::Human => continue,
            Format::Json => "report.json",
            Format::Html => "report.html",
            Format::Junit => "junit.xml",
            Format::Md => "summary.md",
        };
        let path = dir.join(name);
        let cannot =
            |e: std::io::Error| CliError::Input(format!("cannot write {}: {e}", path.display()));
        match format {
            Format::Human => {}
            Format::Json => {
                let file = std::fs::File::create(&path).map_err(cannot)?;
                acmeproof_reports::json::write(report, file).map_err(cannot)?;
            }
            Format::Html => {
                let file = std::fs::File::create(&path).map_err(cannot)?;
                acmeproof_reports::html::write(std::slice::from_ref(report), file)
                    .map_err(cannot)?;
            }
            Format::Junit => {
                let xml = acmeproof_reports::junit::render(report)
                    .map_err(|e| CliError::Input(format!("JUnit report: {e}")))?;
                std::fs::write(&path, xml).map_err(cannot)?;
            }
            Format::Md => {
                std::fs::write(&path, acmeproof_reports::markdown::render(report))
                    .map_err(cannot)?;
            }
        }
        written.push(path.display().to_string());
    }
    Ok(written)
}
