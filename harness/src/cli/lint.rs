//! `acmeproof lint challenge|response`: RFC 8823 checks on an e-mail file.

use std::io::Write;
use std::path::{Path, PathBuf};

use acmeproof_protocol::Findings;
use acmeproof_protocol::address::CaseRule;
use acmeproof_protocol::smime::{
    ChallengeContext, ChallengeInfo, ExpectedDigest, ResponseContext, check_challenge,
    check_response,
};
use clap::{Args, Subcommand};
use serde_json::{Value, json};

use super::digest::JoinArg;
use super::key_args::KeyArgs;
use super::render::{self, Verdict};
use super::{CliError, read_file};

/// `acmeproof lint …`.
#[derive(Debug, Subcommand)]
pub enum LintCommand {
    /// Check a challenge e-mail (CA → user) against RFC 8823 §3.1.
    Challenge(ChallengeArgs),
    /// Check a response e-mail (user → CA) against RFC 8823 §3.2 and judge its digest.
    Response(ResponseArgs),
}

/// Options both lints share.
#[derive(Debug, Args)]
pub struct Common {
    /// Compare ASCII local parts case-insensitively (RFC 8550 §3 SHOULD); exact by default.
    #[arg(long)]
    case_insensitive_local: bool,
    /// Print JSON instead of text.
    #[arg(long)]
    json: bool,
}

impl Common {
    fn case(&self) -> CaseRule {
        if self.case_insensitive_local {
            CaseRule::AsciiCaseInsensitive
        } else {
            CaseRule::Exact
        }
    }
}

/// Arguments of `lint challenge`.
#[derive(Debug, Args)]
pub struct ChallengeArgs {
    /// The challenge e-mail (RFC 5322 message, CRLF line endings).
    file: PathBuf,
    /// The challenge object's `from`: checks the From header (SMIME-22).
    #[arg(long, value_name = "ADDR")]
    from: Option<String>,
    /// The address being validated: checks the To header (SMIME-23).
    #[arg(long, value_name = "ADDR")]
    to: Option<String>,
    #[command(flatten)]
    common: Common,
}

/// Arguments of `lint response`.
#[derive(Debug, Args)]
pub struct ResponseArgs {
    /// The response e-mail (RFC 5322 message, CRLF line endings).
    file: PathBuf,
    /// The digest the response must carry (repeat to accept several).
    #[arg(long, value_name = "D", conflicts_with_all = ["token_part2"])]
    expect_digest: Vec<String>,
    /// token-part1; by default taken from --challenge, else from the response's Subject.
    #[arg(long, value_name = "T1", requires = "token_part2")]
    token_part1: Option<String>,
    /// token-part2 (the challenge object's `token`): with a key, computes the expected digest.
    #[arg(long, value_name = "T2")]
    token_part2: Option<String>,
    #[command(flatten)]
    key: KeyArgs,
    /// Which joins of the token parts count as correct.
    #[arg(long, value_enum, default_value = "both")]
    join: JoinArg,
    /// The address being validated: checks the From header (SMIME-40).
    #[arg(long, value_name = "ADDR")]
    identifier: Option<String>,
    /// The challenge e-mail this answers: checks the token, To and In-Reply-To.
    #[arg(long, value_name = "FILE")]
    challenge: Option<PathBuf>,
    #[command(flatten)]
    common: Common,
}

/// Runs `acmeproof lint …`.
pub fn run(cmd: &LintCommand, out: &mut dyn Write) -> Result<u8, CliError> {
    match cmd {
        LintCommand::Challenge(args) => challenge(args, out),
        LintCommand::Response(args) => response(args, out),
    }
}

fn challenge(args: &ChallengeArgs, out: &mut dyn Write) -> Result<u8, CliError> {
    let raw = read_file(&args.file)?;
    let ctx = ChallengeContext {
        expected_from: args.from.clone(),
        expected_to: args.to.clone(),
        case: args.common.case(),
        // lint reads a file without DNS: DKIM is judged from the header fields alone.
        dkim: None,
    };
    let report = check_challenge(&raw, &ctx).map_err(|e| unreadable(&args.file, e))?;
    if args.common.json {
        let details = json!({
            "info": report.info,
            "smime_signed": report.smime_signed,
            "ignored_by_mua": report.ignored,
        });
        return write_json(out, &args.file, "challenge", &report.findings, details);
    }
    writeln!(out, "{}: RFC 8823 challenge e-mail", args.file.display())?;
    describe_challenge(out, &report.info)?;
    if report.smime_signed {
        writeln!(
            out,
            "  S/MIME signed: signature and header protection are not verified by lint (SMIME-32, SMIME-34)"
        )?;
    }
    Ok(render::exit_code(render::human(out, &report.findings)?))
}

fn describe_challenge(out: &mut dyn Write, info: &ChallengeInfo) -> std::io::Result<()> {
    let show = |v: &Option<String>| v.clone().unwrap_or_else(|| "(none)".into());
    writeln!(out, "  from: {}  to: {}", show(&info.from), show(&info.to))?;
    if let Some(r) = &info.reply_to {
        writeln!(out, "  reply-to: {r}")?;
    }
    writeln!(out, "  token-part1: {}", show(&info.token_part1))
}

fn response(args: &ResponseArgs, out: &mut dyn Write) -> Result<u8, CliError> {
    let raw = read_file(&args.file)?;
    let challenge = match &args.challenge {
        Some(path) => {
            let raw = read_file(path)?;
            let report = check_challenge(&raw, &ChallengeContext::default())
                .map_err(|e| unreadable(path, e))?;
            Some(report.info)
        }
        None => None,
    };
    let expected = expected_digest(args, challenge.as_ref())?;
    let ctx = ResponseContext {
        identifier: args.identifier.clone(),
        challenge,
        expected,
        case: args.common.case(),
        dkim: None,
    };
    let report = check_response(&raw, &ctx).map_err(|e| unreadable(&args.file, e))?;
    if args.common.json {
        let details = json!({
            "from": report.from,
            "token_part1": report.token_part1,
            "block": report.block,
            "digest_matches": report.digest_matches,
            "joins": report.joins,
        });
        return write_json(out, &args.file, "response", &report.findings, details);
    }
    let show = |v: &Option<String>| v.clone().unwrap_or_else(|| "(none)".into());
    writeln!(out, "{}: RFC 8823 response e-mail", args.file.display())?;
    writeln!(out, "  from: {}", show(&report.from))?;
    writeln!(out, "  token-part1: {}", show(&report.token_part1))?;
    match &report.block {
        Some(b) => writeln!(
            out,
            "  digest: {} ({} line{}{})",
            b.digest,
            b.lines,
            if b.lines == 1 { "" } else { "s" },
            if b.quoted { ", quoted" } else { "" }
        )?,
        None => writeln!(out, "  digest: (no BEGIN/END block)")?,
    }
    match report.digest_matches {
        Some(true) if !report.joins.is_empty() => {
            let joins: Vec<&str> = report.joins.iter().map(|j| j.as_str()).collect();
            writeln!(out, "  digest matches ({} join)", joins.join(" and "))?
        }
        Some(true) => writeln!(out, "  digest matches")?,
        Some(false) => writeln!(out, "  digest does NOT match")?,
        None => writeln!(
            out,
            "  digest not judged (give --expect-digest, or --token-part2 with a key; \
             token-part1 comes from --token-part1, --challenge or the Subject)"
        )?,
    }
    Ok(render::exit_code(render::human(out, &report.findings)?))
}

/// The expected digest from `--expect-digest`, or from token parts and a key.
fn expected_digest(
    args: &ResponseArgs,
    challenge: Option<&ChallengeInfo>,
) -> Result<ExpectedDigest, CliError> {
    if !args.expect_digest.is_empty() {
        return Ok(ExpectedDigest::Digests(args.expect_digest.clone()));
    }
    let Some(part2) = &args.token_part2 else {
        if args.key.given() {
            return Err(CliError::Input(
                "a key without --token-part2 computes nothing: give --token-part2 too".into(),
            ));
        }
        return Ok(ExpectedDigest::Unknown);
    };
    let thumbprint = args.key.thumbprint()?;
    // Without --token-part1 or --challenge, the checker takes token-part1 from the response's
    // Subject, which repeats it (RFC 8823 §3.2 item 1).
    let part1 = args
        .token_part1
        .clone()
        .or_else(|| challenge.and_then(|c| c.token_part1.clone()));
    Ok(ExpectedDigest::Tokens {
        part1,
        part2: part2.clone(),
        thumbprint,
        accept: args.join.joins(),
    })
}

/// Writes the JSON document of one linted file: the fields every lint shares, then `details`.
fn write_json(
    out: &mut dyn Write,
    file: &Path,
    kind: &str,
    findings: &Findings,
    details: Value,
) -> Result<u8, CliError> {
    let verdict = Verdict::of(findings);
    let mut doc = json!({ "file": file, "kind": kind, "verdict": verdict });
    if let (Some(doc), Value::Object(details)) = (doc.as_object_mut(), details) {
        doc.extend(details);
        doc.insert("findings".into(), render::json_findings(findings));
    }
    writeln!(
        out,
        "{}",
        serde_json::to_string_pretty(&doc).unwrap_or_default()
    )?;
    Ok(render::exit_code(verdict))
}

fn unreadable(path: &Path, e: impl std::fmt::Display) -> CliError {
    CliError::Input(format!("{}: {e}", path.display()))
}
