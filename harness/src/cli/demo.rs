//! `acmeproof demo`: the first thing to run. A fresh world, the reference MUA getting an
//! S/MIME certificate the way a real one would (IMAP in, Submission out, DKIM both ways), and
//! a printout of the path each mail took and of the certificate it got.

use std::io::Write;
use std::path::PathBuf;
use std::time::Duration;

use acmeproof_mocks::account_key::{AccountKey, KeyAlg};
use acmeproof_mocks::dkim::DkimVerifier;
use acmeproof_mocks::dns::WorldResolver;
use acmeproof_mocks::seed::Seed;
use acmeproof_mocks::world::{World, WorldConfig};
use acmeproof_protocol::token::Join;
use clap::Args;

use super::{CliError, EXIT_OK};
use crate::acme::AcmeClient;
use crate::mua::{self, MailAccount, MuaOptions, MuaOutcome, PostTiming};
use acmeproof_protocol::pki::SmimeUsage;

/// Arguments of `acmeproof demo`.
#[derive(Debug, Args)]
pub struct DemoArgs {
    /// The mailbox to get a certificate for: `alice` (alice@example.test) or `eai`
    /// (δοκιμή@παράδειγμα.δοκιμή, a non-ASCII local part at a U-label domain).
    #[arg(long, value_parser = ["alice", "eai"], default_value = "alice")]
    user: String,
    /// The key usage the CSR asks for (RFC 8823 §3.3).
    #[arg(long, value_parser = ["signing", "encryption", "both"], default_value = "both")]
    usage: String,
    /// How the MUA joins the token parts before hashing (RFC 8823 leaves it open).
    #[arg(long, value_parser = ["string", "binary"], default_value = "string")]
    join: String,
    /// Read the mailbox over implicit-TLS IMAP (993-style) instead of STARTTLS.
    #[arg(long)]
    imaps: bool,
    /// POST the challenge before the reply instead of after it.
    #[arg(long)]
    post_first: bool,
    /// Seed of the world and the account key.
    #[arg(long, default_value_t = 1)]
    seed: u64,
    /// Write cert.pem, key.pem, challenge.eml and reply.eml into this folder.
    #[arg(long, value_name = "DIR")]
    out: Option<PathBuf>,
}

/// Runs `acmeproof demo`.
pub fn run(args: &DemoArgs, out: &mut dyn Write) -> Result<u8, CliError> {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .map_err(|e| CliError::Input(format!("cannot start the runtime: {e}")))?;
    let report = runtime.block_on(demo(args))?;
    out.write_all(report.as_bytes())?;
    Ok(EXIT_OK)
}

fn fail(what: &str) -> impl Fn(&dyn std::fmt::Display) -> CliError + '_ {
    move |e| CliError::Input(format!("demo: {what}: {e}"))
}

async fn demo(args: &DemoArgs) -> Result<String, CliError> {
    let mut config = WorldConfig::example();
    config.seed = args.seed;
    let world = World::start(config).await.map_err(|e| fail("world")(&e))?;
    let result = run_in(&world, args).await;
    world.shutdown().await;
    result
}

async fn run_in(world: &World, args: &DemoArgs) -> Result<String, CliError> {
    let endpoints = world.endpoints(None);
    let mail = endpoints
        .mail
        .as_ref()
        .ok_or_else(|| CliError::Input("demo: the world has no mail plane".into()))?;
    let wanted = if args.user == "eai" {
        |a: &str| !a.is_ascii()
    } else {
        |a: &str| a.starts_with("alice@")
    };
    let user = mail
        .users
        .iter()
        .find(|u| wanted(&u.address))
        .ok_or_else(|| CliError::Input(format!("demo: no user {} in the world", args.user)))?;
    let key = AccountKey::generate(KeyAlg::Es256, &Seed(args.seed).stream("demo.account"))
        .map_err(|e| fail("account key")(&e))?;
    let client = AcmeClient::connect(&endpoints.directory_url, world.pki.root_pem(), key)
        .await
        .map_err(|e| fail("directory")(&e))?;
    client
        .new_account(&[format!("mailto:{}", user.address)])
        .await
        .map_err(|e| fail("newAccount")(&e))?;
    let mut account = MailAccount::in_world(world, &user.address, &user.password)
        .map_err(|e| fail("account")(&e))?;
    if args.imaps {
        account = account.with_imaps(mail.imaps);
    }
    let options = MuaOptions {
        join: if args.join == "binary" {
            Join::Binary
        } else {
            Join::String
        },
        usage: match args.usage.as_str() {
            "signing" => SmimeUsage::SIGNING,
            "encryption" => SmimeUsage::EncryptionOnly,
            _ => SmimeUsage::BOTH,
        },
        post: if args.post_first {
            PostTiming::BeforeReply
        } else {
            PostTiming::AfterReply
        },
        timeout: Duration::from_secs(30),
        seed: Seed(args.seed),
        ..MuaOptions::default()
    };
    let outcome = mua::issue(&client, &account, &options, world.pki.root_der())
        .await
        .map_err(|e| fail("issuance")(&e))?;
    let resolver = WorldResolver::new(world.dns.addr()).map_err(|e| fail("resolver")(&e))?;
    let verifier = DkimVerifier::new(&resolver);
    let relays = world
        .mail
        .as_ref()
        .map(|m| {
            m.relays
                .iter()
                .flat_map(|r| r.2.forwarded())
                .collect::<Vec<_>>()
        })
        .unwrap_or_default();
    // The reply as the last relay handed it to the CA's MX.
    let reply_as_received = relays
        .iter()
        .rev()
        .find(|f| f.envelope.mail_from == user.address)
        .map(|f| f.data.clone())
        .unwrap_or_else(|| outcome.reply.clone().into());

    let mut text = String::new();
    let line = |text: &mut String, s: String| {
        text.push_str(&s);
        text.push('\n');
    };
    line(
        &mut text,
        format!(
            "acmeproof demo: an S/MIME certificate for {} over RFC 8823 (seed {})\n",
            user.address, args.seed
        ),
    );
    line(
        &mut text,
        "The world (all on loopback, in this process)".into(),
    );
    line(
        &mut text,
        format!("  ACME directory  {}", endpoints.directory_url),
    );
    line(&mut text, format!("  DNS             {}", endpoints.dns));
    line(
        &mut text,
        format!(
            "  IMAP            {} (STARTTLS), {} (implicit TLS)",
            mail.imap, mail.imaps
        ),
    );
    line(
        &mut text,
        format!("  Submission      {} (STARTTLS, AUTH)", mail.submission),
    );
    for (name, addr) in &mail.relays {
        line(&mut text, format!("  relay           {name} at {addr}"));
    }
    line(&mut text, String::new());
    steps(&mut text, &outcome, &account, &options);
    line(&mut text, String::new());
    line(
        &mut text,
        "The challenge mail, CA → relay → MX → LMTP → INBOX → IMAP → MUA".into(),
    );
    path(&mut text, &outcome.exchange.challenge_mail);
    dkim(&mut text, &verifier, &outcome.exchange.challenge_mail).await;
    line(&mut text, String::new());
    line(
        &mut text,
        "The reply, MUA → Submission → relay → CA's MX".into(),
    );
    path(&mut text, &reply_as_received);
    line(
        &mut text,
        format!(
            "  then to the CA's MX (mx.{}), which checked it (DKIM included) and validated",
            ex_domain(&outcome)
        ),
    );
    dkim(&mut text, &verifier, &reply_as_received).await;
    line(&mut text, String::new());
    certificate(&mut text, &outcome);
    if let Some(dir) = &args.out {
        write_files(dir, &outcome)?;
        line(&mut text, String::new());
        line(
            &mut text,
            format!(
                "Wrote cert.pem, key.pem, challenge.eml and reply.eml to {}",
                dir.display()
            ),
        );
    }
    Ok(text)
}

/// The CA's mail domain, from the challenge's `from`.
fn ex_domain(outcome: &MuaOutcome) -> &str {
    outcome.exchange.challenge["from"]
        .as_str()
        .and_then(acmeproof_protocol::address::domain_of)
        .unwrap_or("?")
}

fn steps(text: &mut String, outcome: &MuaOutcome, account: &MailAccount, options: &MuaOptions) {
    let ex = &outcome.exchange;
    let mut n = 0;
    let mut step = |s: String| {
        n += 1;
        text.push_str(&format!("{n:>2}. {s}\n"));
    };
    step(format!(
        "newOrder for email {} → {}",
        account.address, ex.order_url
    ));
    step(format!(
        "authorization fetched → challenge email-reply-00 from {}",
        ex.challenge["from"].as_str().unwrap_or_default()
    ));
    if options.post == PostTiming::BeforeReply {
        step("challenge POSTed first (the CA may mail only then)".into());
    }
    step(format!(
        "challenge mail found over IMAP ({}), UID {}: Subject {:?}",
        match account.imap_tls {
            mua::ImapTls::StartTls => "STARTTLS",
            mua::ImapTls::Implicit => "implicit TLS",
        },
        outcome.challenge_uid,
        ex.info.subject.as_deref().unwrap_or_default()
    ));
    for ignored in &outcome.ignored {
        step(format!("ignored UID {}: {}", ignored.uid, ignored.reason));
    }
    step(format!(
        "checked: RFC 8823 §3.1 rules, DKIM of the CA's domain {}",
        if ex.challenge_dkim_pass {
            "passes"
        } else {
            "does not pass"
        }
    ));
    step(format!(
        "reply sent once through Submission to {} ({} join), marked \\Answered",
        ex.info.reply_address().unwrap_or_default(),
        match options.join {
            Join::Binary => "binary",
            _ => "string",
        }
    ));
    if options.post == PostTiming::AfterReply {
        step("challenge POSTed (RFC 8823 §3 step 7)".into());
    }
    step(format!(
        "authorization {}",
        outcome.authorization["status"].as_str().unwrap_or_default()
    ));
    step(format!(
        "finalized with a CSR asking for {}; chain downloaded and checked",
        options.usage
    ));
}

/// The trace fields of `raw`, oldest hop first (RFC 5321 §4.4 prepends them).
fn path(text: &mut String, raw: &[u8]) {
    let Some(hops) = mua::trace::hops(raw) else {
        text.push_str("  (the mail does not parse)\n");
        return;
    };
    for hop in hops {
        text.push_str(&format!(
            "  from {} by {} with {}\n",
            hop.from, hop.by, hop.with
        ));
    }
}

async fn dkim(text: &mut String, verifier: &DkimVerifier, raw: &[u8]) {
    for outcome in verifier.verify(raw).await {
        text.push_str(&format!(
            "  DKIM d={} s={}: {:?}\n",
            outcome.domain, outcome.selector, outcome.result
        ));
    }
}

fn certificate(text: &mut String, outcome: &MuaOutcome) {
    let c = &outcome.certificate;
    text.push_str("The certificate (checked with x509-parser, chain verified to the world root)\n");
    text.push_str(&format!("  serial          {}\n", c.serial_hex));
    text.push_str(&format!(
        "  subject         {}\n",
        if c.subject_empty {
            "(empty; the address is in the SAN)"
        } else {
            &c.subject
        }
    ));
    text.push_str(&format!("  issuer          {}\n", c.issuer));
    text.push_str(&format!("  SAN             {}\n", c.sans.join(", ")));
    if let Some(ku) = &c.key_usage {
        text.push_str(&format!(
            "  key usage       {}{}\n",
            ku.value.names().join(", "),
            if ku.critical { " (critical)" } else { "" }
        ));
    }
    if let Some(eku) = &c.extended_key_usage {
        text.push_str(&format!("  ext. key usage  {}\n", eku.value.join(", ")));
    }
    text.push_str(&format!(
        "  valid           {} to {}\n",
        c.not_before, c.not_after
    ));
}

fn write_files(dir: &std::path::Path, outcome: &MuaOutcome) -> Result<(), CliError> {
    std::fs::create_dir_all(dir)?;
    let files: [(&str, &[u8]); 4] = [
        ("cert.pem", outcome.issued.chain_pem.as_bytes()),
        ("key.pem", outcome.issued.key_pem.as_bytes()),
        ("challenge.eml", &outcome.exchange.challenge_mail),
        ("reply.eml", &outcome.reply),
    ];
    for (name, bytes) in files {
        let path = dir.join(name);
        std::fs::write(&path, bytes)
            .map_err(|e| CliError::Input(format!("cannot write {}: {e}", path.display())))?;
    }
    Ok(())
}
