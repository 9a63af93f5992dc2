//! `acmeproof example`: one RFC 8823 exchange played in memory with the built-in rules, both
//! mails DKIM-signed, both linted. It shows what a conformant exchange looks like and writes the
//! mails for `acmeproof lint` to read. (The full conformance suite comes with `acmeproof run`.)

use std::io::Write;
use std::path::PathBuf;

use acmeproof_protocol::smime::{
    CHALLENGE_DKIM_MUST_SIGN, ChallengeContext, ChallengeEmail, DKIM_SHOULD_SIGN, ExpectedDigest,
    ResponseContext, ResponseEmail, check_challenge, check_response,
};
use acmeproof_protocol::token::{self, Join};
use acmeproof_protocol::{b64url, jwk};
use clap::Args;
use mail_auth::common::crypto::Ed25519Key;
use mail_auth::common::headers::HeaderWriter as _;
use mail_auth::dkim::DkimSigner;
use ring::signature::KeyPair as _;
use sha2::Digest as _;

use super::render::{self, Verdict};
use super::{CliError, EXIT_NONCONFORMANT, EXIT_OK};

/// The account key: RFC 7515 Appendix A.3's P-256 key, so anyone can recompute the digest.
const ACCOUNT_JWK: &str = r#"{"kty":"EC","crv":"P-256","x":"f83OJ3D2xF1Bg8vub9tLe1gHMzV76e8Tus9uPHvRVEU","y":"x_FEzRu9m36HLN_tue659LNpXW6pCyStikYjKIWI5a0"}"#;
const CA_FROM: &str = "acme-challenge@ca.example";
const USER: &str = "alexey@example.com";
/// 2026-01-01T00:00:00Z: a fixed date keeps the mails identical from run to run.
const DATE: i64 = 1_767_225_600;

/// Arguments of `acmeproof example`.
#[derive(Debug, Args)]
pub struct ExampleArgs {
    /// Seed for the tokens and DKIM keys: the same seed gives the same exchange.
    #[arg(long, default_value_t = 1)]
    seed: u64,
    /// How the client joins the token parts (RFC 8823 leaves it open; docs/open-issues.md,
    /// token_join).
    #[arg(long, value_parser = ["string", "binary"], default_value = "string")]
    join: String,
    /// Also write example-challenge.eml and example-response.eml into this folder.
    #[arg(long, value_name = "DIR")]
    out: Option<PathBuf>,
}

/// Octets derived from the seed: SHA-256(seed ‖ label), cut to `len` (≤ 32).
fn seeded(seed: u64, label: &str, len: usize) -> Vec<u8> {
    let mut h = sha2::Sha256::new();
    h.update(seed.to_be_bytes());
    h.update(label.as_bytes());
    h.finalize()[..len.min(32)].to_vec()
}

/// DKIM-signs `mail` for `domain` with an Ed25519 key derived from the seed (RFC 8463).
fn dkim_sign(mail: &[u8], domain: &str, seed: u64) -> Result<Vec<u8>, CliError> {
    let key_seed = seeded(seed, domain, 32);
    let pair = ring::signature::Ed25519KeyPair::from_seed_unchecked(&key_seed)
        .map_err(|e| CliError::Input(format!("DKIM key: {e}")))?;
    let key = Ed25519Key::from_seed_and_public_key(&key_seed, pair.public_key().as_ref())
        .map_err(|e| CliError::Input(format!("DKIM key: {e}")))?;
    let headers: Vec<&str> = CHALLENGE_DKIM_MUST_SIGN
        .iter()
        .chain(DKIM_SHOULD_SIGN)
        .copied()
        .collect();
    let signature = DkimSigner::from_key(key)
        .domain(domain)
        .selector("acmeproof")
        .headers(headers)
        .sign(mail)
        .map_err(|e| CliError::Input(format!("DKIM signing: {e}")))?;
    Ok([signature.to_header().into_bytes(), mail.to_vec()].concat())
}

/// Runs `acmeproof example`.
pub fn run(args: &ExampleArgs, out: &mut dyn Write) -> Result<u8, CliError> {
    let join: Join = args
        .join
        .parse()
        .map_err(|e: token::TokenError| CliError::Input(e.to_string()))?;
    let thumbprint =
        jwk::thumbprint_json(ACCOUNT_JWK).map_err(|e| CliError::Input(e.to_string()))?;
    // RFC 8823 §3: both token parts carry at least 128 bits; 16 octets each.
    let part1 = b64url::encode(seeded(args.seed, "token-part1", 16));
    let part2 = b64url::encode(seeded(args.seed, "token-part2", 16));
    let message_id = format!(
        "{}@ca.example",
        b64url::encode(seeded(args.seed, "mid1", 9))
    );

    // CA → user: the challenge e-mail.
    let challenge = ChallengeEmail::new(CA_FROM, USER, &part1, message_id, DATE);
    let challenge_mail = dkim_sign(&challenge.build(), "ca.example", args.seed)?;
    let creport = check_challenge(
        &challenge_mail,
        &ChallengeContext {
            expected_from: Some(CA_FROM.into()),
            expected_to: Some(USER.into()),
            ..Default::default()
        },
    )
    .map_err(|e| CliError::Input(e.to_string()))?;
    writeln!(
        out,
        "challenge e-mail ({CA_FROM} → {USER}), token-part1 {part1}:"
    )?;
    let cverdict = render::human(out, &creport.findings)?;

    // User → CA: the response e-mail.
    let digest = token::reply_digest(&part1, &part2, &thumbprint, join)
        .map_err(|e| CliError::Input(e.to_string()))?;
    writeln!(
        out,
        "\nclient: token-part2 {part2}, account key thumbprint {thumbprint}\n  {join} join → digest {}",
        digest.digest
    )?;
    let reply_id = format!(
        "{}@example.com",
        b64url::encode(seeded(args.seed, "mid2", 9))
    );
    let mut response =
        ResponseEmail::reply_to(&creport.info, USER, &digest.digest, reply_id, DATE + 60)
            .ok_or_else(|| CliError::Input("the challenge carries no token-part1".into()))?;
    response.wrap = Some(32);
    let response_mail = dkim_sign(&response.build(), "example.com", args.seed)?;
    let rreport = check_response(
        &response_mail,
        &ResponseContext {
            identifier: Some(USER.into()),
            challenge: Some(creport.info.clone()),
            expected: ExpectedDigest::Tokens {
                part1: Some(part1.clone()),
                part2,
                thumbprint,
                accept: vec![join],
            },
            ..Default::default()
        },
    )
    .map_err(|e| CliError::Input(e.to_string()))?;
    writeln!(out, "\nresponse e-mail ({USER} → {CA_FROM}):")?;
    let rverdict = render::human(out, &rreport.findings)?;

    if let Some(dir) = &args.out {
        std::fs::create_dir_all(dir)?;
        for (name, bytes) in [
            ("example-challenge.eml", &challenge_mail),
            ("example-response.eml", &response_mail),
        ] {
            let path = dir.join(name);
            std::fs::write(&path, bytes)?;
            writeln!(out, "wrote {}", path.display())?;
        }
    }
    Ok(if cverdict == Verdict::Fail || rverdict == Verdict::Fail {
        EXIT_NONCONFORMANT
    } else {
        EXIT_OK
    })
}
