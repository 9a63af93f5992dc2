//! `acmeproof serve`: starts a world (DNS, CA and the mail plane) on loopback, prints every
//! endpoint, and runs until Ctrl-C or SIGTERM.

use std::io::Write;
use std::path::PathBuf;

use acmeproof_mocks::world::{Endpoints, World, WorldConfig};
use clap::Args;

use super::{CliError, EXIT_OK};

/// Arguments of `acmeproof serve`.
#[derive(Debug, Args)]
pub struct ServeArgs {
    /// A world config (TOML: seed, clock, [dns], [ca], [ca.knobs]); see `acmeproof serve
    /// --print-config` for every field with its default.
    #[arg(long, value_name = "FILE")]
    config: Option<PathBuf>,
    /// Print the endpoints as one JSON object on one line (for scripts).
    #[arg(long)]
    json: bool,
    /// Where to write ca.pem (the root to trust). Default: a new folder under the temp dir.
    #[arg(long, value_name = "DIR")]
    out: Option<PathBuf>,
    /// Override the config's seed.
    #[arg(long)]
    seed: Option<u64>,
    /// Print the effective config as TOML and exit.
    #[arg(long)]
    print_config: bool,
}

/// Runs `serve`.
pub fn run(args: &ServeArgs, out: &mut dyn Write) -> Result<u8, CliError> {
    let text = match &args.config {
        Some(path) => String::from_utf8(super::read_file(path)?)
            .map_err(|_| CliError::Input(format!("{} is not UTF-8", path.display())))?,
        None => acmeproof_mocks::world::EXAMPLE_WORLD.to_owned(),
    };
    let mut config = WorldConfig::from_toml(&text).map_err(|e| {
        CliError::Input(match &args.config {
            Some(p) => format!("{}: {e}", p.display()),
            None => e.to_string(),
        })
    })?;
    if let Some(seed) = args.seed {
        config.seed = seed;
    }
    if args.print_config {
        let toml = toml::to_string(&config)
            .map_err(|e| CliError::Input(format!("cannot print the config: {e}")))?;
        out.write_all(toml.as_bytes())?;
        return Ok(EXIT_OK);
    }
    let dir = match &args.out {
        Some(dir) => dir.clone(),
        None => std::env::temp_dir().join(format!("acmeproof-serve-{}", std::process::id())),
    };
    std::fs::create_dir_all(&dir).map_err(|source| CliError::Read {
        path: dir.clone(),
        source,
    })?;
    let bundle = dir.join("ca.pem");
    // Logs go to stderr, filtered by RUST_LOG (default: warnings), so stdout stays the
    // endpoints only (scripts read `--json` from it).
    let _ = tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("warn")),
        )
        .with_writer(std::io::stderr)
        .try_init();
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .map_err(|e| CliError::Input(format!("cannot start the runtime: {e}")))?;
    runtime.block_on(async {
        let world = World::start(config)
            .await
            .map_err(|e| CliError::Input(format!("cannot start the world: {e}")))?;
        world
            .write_bundle(&bundle)
            .map_err(|e| CliError::Input(format!("cannot write {}: {e}", bundle.display())))?;
        let endpoints = world.endpoints(Some(&bundle));
        print_endpoints(&endpoints, args.json, out)?;
        out.flush()?;
        wait_for_signal().await;
        tracing::info!("shutting down");
        world.shutdown().await;
        Ok::<_, CliError>(())
    })?;
    Ok(EXIT_OK)
}

fn print_endpoints(e: &Endpoints, json: bool, out: &mut dyn Write) -> Result<(), CliError> {
    if json {
        let line = serde_json::to_string(e)
            .map_err(|err| CliError::Input(format!("cannot print endpoints: {err}")))?;
        writeln!(out, "{line}")?;
        return Ok(());
    }
    writeln!(out, "acmeproof world running (seed {})", e.seed)?;
    writeln!(out, "  ACME directory   {}", e.directory_url)?;
    if let Some(bundle) = &e.ca_bundle {
        writeln!(out, "  CA bundle        {bundle}")?;
    }
    writeln!(out, "  DNS (UDP+TCP)    {}", e.dns)?;
    match &e.tsig {
        Some(k) => writeln!(
            out,
            "  TSIG key         {}:{}:{}   (nsupdate -y)",
            k.algorithm, k.name, k.secret
        )?,
        None => writeln!(
            out,
            "  TSIG key         none (RFC 2136 UPDATE is accepted unsigned)"
        )?,
    }
    writeln!(out, "  management API   {}", e.management_url)?;
    if let Some(mail) = &e.mail {
        writeln!(out, "mail:")?;
        writeln!(out, "  MX (users)       {}   (SMTP, STARTTLS)", mail.mx)?;
        writeln!(
            out,
            "  Submission       {}   (STARTTLS, AUTH PLAIN/LOGIN)",
            mail.submission
        )?;
        writeln!(
            out,
            "  Submissions      {}   (implicit TLS, AUTH)",
            mail.submissions
        )?;
        writeln!(out, "  LMTP             {}", mail.lmtp)?;
        writeln!(
            out,
            "  CA's MX          {}   (replies to challenges)",
            mail.ca_mx
        )?;
        writeln!(out, "  IMAP             {}   (STARTTLS)", mail.imap)?;
        writeln!(out, "  IMAPS            {}   (implicit TLS)", mail.imaps)?;
        writeln!(out, "  POP3             {}   (STLS)", mail.pop3)?;
        writeln!(out, "  POP3S            {}   (implicit TLS)", mail.pop3s)?;
        for (host, addr) in &mail.relays {
            writeln!(out, "  relay            {addr}   {host}")?;
        }
        for user in &mail.users {
            writeln!(
                out,
                "  user             {}   password {}",
                user.address, user.password
            )?;
        }
        for key in &mail.dkim {
            writeln!(
                out,
                "  DKIM             d={} s={}   TXT {}",
                key.domain, key.selector, key.txt_name
            )?;
        }
    }
    writeln!(out, "Ctrl-C stops it.")?;
    Ok(())
}

async fn wait_for_signal() {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{SignalKind, signal};
        match signal(SignalKind::terminate()) {
            Ok(mut term) => {
                tokio::select! {
                    _ = tokio::signal::ctrl_c() => {}
                    _ = term.recv() => {}
                }
            }
            Err(_) => {
                let _ = tokio::signal::ctrl_c().await;
            }
        }
    }
    #[cfg(not(unix))]
    {
        let _ = tokio::signal::ctrl_c().await;
    }
}
