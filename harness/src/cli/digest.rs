//! `acmeproof digest`: the key authorization and RFC 8823 reply digest for two token parts.

use std::io::Write;

use acmeproof_protocol::token::{self, Join};
use clap::{Args, ValueEnum};
use serde_json::json;

use super::key_args::KeyArgs;
use super::{CliError, EXIT_OK};

/// Which join(s) to print (RFC 8823 §3 does not say whether the texts or the octets are
/// joined; see docs/open-issues.md, token_join).
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum JoinArg {
    /// token-part1 ‖ token-part2 as text (acme4j, acme2certifier).
    String,
    /// base64url(dec(token-part1) ‖ dec(token-part2)) (acmez, CASTLE).
    Binary,
    /// Both.
    Both,
}

impl JoinArg {
    /// The joins this choice names.
    pub fn joins(self) -> Vec<Join> {
        match self {
            JoinArg::String => vec![Join::String],
            JoinArg::Binary => vec![Join::Binary],
            JoinArg::Both => Join::ALL.to_vec(),
        }
    }
}

/// Arguments of `acmeproof digest`.
#[derive(Debug, Args)]
pub struct DigestArgs {
    /// token-part1, from the challenge e-mail's Subject (whitespace is ignored).
    #[arg(long, value_name = "T1")]
    token_part1: String,
    /// token-part2, the challenge object's `token`.
    #[arg(long, value_name = "T2")]
    token_part2: String,
    #[command(flatten)]
    key: KeyArgs,
    /// Which join of the token parts to use.
    #[arg(long, value_enum, default_value = "both")]
    join: JoinArg,
    /// Print JSON instead of text.
    #[arg(long)]
    json: bool,
}

/// Runs `acmeproof digest`.
pub fn run(args: &DigestArgs, out: &mut dyn Write) -> Result<u8, CliError> {
    let thumbprint = args.key.thumbprint()?;
    let digests = args
        .join
        .joins()
        .into_iter()
        .map(|join| token::reply_digest(&args.token_part1, &args.token_part2, &thumbprint, join))
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| CliError::Input(e.to_string()))?;
    if args.json {
        let doc = json!({ "thumbprint": thumbprint, "digests": digests });
        writeln!(
            out,
            "{}",
            serde_json::to_string_pretty(&doc).unwrap_or_default()
        )?;
        return Ok(EXIT_OK);
    }
    writeln!(out, "thumbprint: {thumbprint}")?;
    for d in &digests {
        writeln!(out, "{} join:", d.join)?;
        writeln!(out, "  token:             {}", d.token)?;
        writeln!(out, "  key authorization: {}", d.key_authorization)?;
        writeln!(out, "  digest:            {}", d.digest)?;
    }
    if digests.len() == 2 && digests[0].digest == digests[1].digest {
        writeln!(
            out,
            "note: both joins give the same digest for these token parts"
        )?;
    }
    Ok(EXIT_OK)
}
