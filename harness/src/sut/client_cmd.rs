//! `--client-cmd TEMPLATE`: an external ACME client, run once per scenario.
//!
//! The template is split into words the way a POSIX shell would (quotes, backslashes), and each
//! `{placeholder}` inside a word is replaced by its value. No shell runs, so a value with a space
//! or a quote stays one argument and cannot inject a command.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::Duration;

use tokio::io::AsyncReadExt as _;

/// The exit code with which a client says "I do not implement what this scenario needs": the
/// scenario is `unimplemented`, not failed.
pub const EXIT_UNIMPLEMENTED: i32 = 89;

/// The most of a client's stdout or stderr kept (the rest is cut, and says so).
pub const OUTPUT_LIMIT: usize = 64 * 1024;

/// Every placeholder a template may use, with what it stands for.
pub const PLACEHOLDERS: &[(&str, &str)] = &[
    ("directory_url", "the CA's ACME directory URL (https)"),
    (
        "ca_bundle",
        "a PEM file with the world's root: trust it for the CA, IMAP and SMTP",
    ),
    ("email", "the address to get a certificate for"),
    (
        "domain",
        "the address's domain (RFC 8823); the dns identifier to certify (email-tls)",
    ),
    (
        "imap_url",
        "imap://127.0.0.1:PORT, the user's mailbox (STARTTLS required)",
    ),
    (
        "smtp_url",
        "smtp://127.0.0.1:PORT, the outbound relay: no AUTH, no DKIM signing",
    ),
    (
        "submission_url",
        "smtp://127.0.0.1:PORT, Submission (STARTTLS, AUTH PLAIN; DKIM-signs for the domain)",
    ),
    (
        "lmtp_url",
        "lmtp://127.0.0.1:PORT, delivery into the mail store",
    ),
    ("dns_addr", "127.0.0.1:PORT, the world's DNS (UDP and TCP)"),
    ("user", "the mailbox login (the address)"),
    ("password", "the mailbox and Submission password"),
    (
        "workdir",
        "an empty folder for this scenario; the harness keeps it",
    ),
    (
        "services",
        "email-tls: the services to certify, comma-separated, `name` or `name:port` (imaps, smtp:25)",
    ),
    (
        "proof",
        "email-tls: the challenge to answer, `capability` (capability-*-00) or `dns-email`",
    ),
    (
        "management_url",
        "http://127.0.0.1:PORT, the world's management API: an email-tls client publishes its \
         TXT (POST /dns/records) or its ACME capability (PUT /mail/acme/{service}) there",
    ),
];

/// A parsed `--client-cmd` template.
#[derive(Debug, Clone)]
pub struct ClientCommand {
    words: Vec<String>,
    /// How long one run may take before it is killed.
    pub timeout: Duration,
    /// Where per-scenario work folders go.
    pub work_root: PathBuf,
}

/// The values for one run.
pub type Values = BTreeMap<&'static str, String>;

/// How a run ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Exit {
    /// It exited with this code.
    Code(i32),
    /// A signal ended it.
    Signal,
    /// It ran past the timeout and was killed.
    TimedOut,
}

/// What a run did.
#[derive(Debug, Clone)]
pub struct ClientRun {
    /// The argument vector, placeholders filled in.
    pub argv: Vec<String>,
    /// How it ended.
    pub exit: Exit,
    /// Its standard output (at most [`OUTPUT_LIMIT`] bytes, lossy UTF-8).
    pub stdout: String,
    /// Its standard error (likewise).
    pub stderr: String,
}

impl ClientRun {
    /// The last non-empty line of stderr (else stdout): what a client usually says on failure.
    pub fn last_words(&self) -> &str {
        [&self.stderr, &self.stdout]
            .into_iter()
            .find_map(|text| text.lines().rev().find(|l| !l.trim().is_empty()))
            .map(str::trim)
            .unwrap_or("(no output)")
    }
}

impl ClientCommand {
    /// Parses `template`; an unknown `{placeholder}` or an unbalanced quote is an error that
    /// names it.
    pub fn parse(template: &str, timeout: Duration, work_root: PathBuf) -> Result<Self, String> {
        let words = shlex::split(template)
            .ok_or_else(|| format!("--client-cmd {template:?}: unbalanced quotes"))?;
        if words.is_empty() {
            return Err("--client-cmd is empty".into());
        }
        for word in &words {
            for name in placeholders_in(word) {
                if !PLACEHOLDERS.iter().any(|(known, _)| *known == name) {
                    let known: Vec<&str> = PLACEHOLDERS.iter().map(|(k, _)| *k).collect();
                    return Err(format!(
                        "--client-cmd: unknown placeholder {{{name}}} (known: {})",
                        known.join(", ")
                    ));
                }
            }
        }
        Ok(ClientCommand {
            words,
            timeout,
            work_root,
        })
    }

    /// Whether the template uses `{name}`: it tells what kind of client this is (an RFC 8823
    /// client takes `{email}`, a draft-ietf-acme-email-tls operator `{services}`).
    pub fn uses(&self, name: &str) -> bool {
        self.words
            .iter()
            .any(|w| placeholders_in(w).contains(&name))
    }

    /// A short name for reports: the program and its first argument, without folders.
    pub fn name(&self) -> String {
        let base = |w: &str| {
            Path::new(w)
                .file_name()
                .map(|n| n.to_string_lossy().into_owned())
                .unwrap_or_else(|| w.to_owned())
        };
        let mut name = base(&self.words[0]);
        if let Some(arg) = self.words.get(1)
            && !arg.starts_with('-')
            && !arg.contains('{')
        {
            name = format!("{name} {}", base(arg));
        }
        name
    }

    /// The argument vector with `values` filled in.
    pub fn argv(&self, values: &Values) -> Vec<String> {
        self.words.iter().map(|w| fill(w, values)).collect()
    }

    /// Runs the client in `workdir` and waits for it, at most [`ClientCommand::timeout`].
    pub async fn run(&self, values: &Values, workdir: &Path) -> std::io::Result<ClientRun> {
        let argv = self.argv(values);
        let mut child = tokio::process::Command::new(&argv[0])
            .args(&argv[1..])
            .current_dir(workdir)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .kill_on_drop(true)
            .spawn()
            .map_err(|e| std::io::Error::new(e.kind(), format!("cannot start {}: {e}", argv[0])))?;
        let stdout = child.stdout.take().map(read_bounded);
        let stderr = child.stderr.take().map(read_bounded);
        let exit = match tokio::time::timeout(self.timeout, child.wait()).await {
            Ok(status) => {
                let status = status?;
                status.code().map(Exit::Code).unwrap_or(Exit::Signal)
            }
            Err(_) => {
                let _ = child.kill().await;
                Exit::TimedOut
            }
        };
        let collect = |task: Option<tokio::task::JoinHandle<String>>| async move {
            match task {
                // The pipes close when the child ends; a grandchild holding them open must
                // not hang the harness.
                Some(task) => tokio::time::timeout(Duration::from_secs(2), task)
                    .await
                    .ok()
                    .and_then(Result::ok)
                    .unwrap_or_default(),
                None => String::new(),
            }
        };
        Ok(ClientRun {
            argv,
            exit,
            stdout: collect(stdout).await,
            stderr: collect(stderr).await,
        })
    }
}

fn read_bounded(
    mut pipe: impl tokio::io::AsyncRead + Unpin + Send + 'static,
) -> tokio::task::JoinHandle<String> {
    tokio::spawn(async move {
        let mut kept = Vec::new();
        let mut buf = [0u8; 8192];
        let mut cut = false;
        loop {
            match pipe.read(&mut buf).await {
                Ok(0) | Err(_) => break,
                Ok(n) => {
                    let room = OUTPUT_LIMIT.saturating_sub(kept.len());
                    kept.extend_from_slice(&buf[..n.min(room)]);
                    cut |= n > room;
                }
            }
        }
        let mut text = String::from_utf8_lossy(&kept).into_owned();
        if cut {
            text.push_str("\n[output cut at 64 KiB]");
        }
        text
    })
}

/// The `{name}`s in `word`.
fn placeholders_in(word: &str) -> Vec<&str> {
    let mut names = Vec::new();
    let mut rest = word;
    while let Some(open) = rest.find('{') {
        let Some(close) = rest[open..].find('}') else {
            break;
        };
        names.push(&rest[open + 1..open + close]);
        rest = &rest[open + close + 1..];
    }
    names
}

fn fill(word: &str, values: &Values) -> String {
    let mut out = word.to_owned();
    for (name, value) in values {
        out = out.replace(&format!("{{{name}}}"), value);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(t: &str) -> Result<ClientCommand, String> {
        ClientCommand::parse(t, Duration::from_secs(1), PathBuf::from("/tmp"))
    }

    #[test]
    fn placeholders_fill_inside_words_and_stay_one_argument() {
        let cmd = parse("client.py --dir={directory_url} --who '{email}' {workdir}/x").unwrap();
        let mut values = Values::new();
        values.insert("directory_url", "https://127.0.0.1:1/directory".into());
        values.insert("email", "a b'c@example.test".into());
        values.insert("workdir", "/w".into());
        assert_eq!(
            cmd.argv(&values),
            [
                "client.py",
                "--dir=https://127.0.0.1:1/directory",
                "--who",
                "a b'c@example.test",
                "/w/x"
            ]
        );
    }

    #[test]
    fn unknown_placeholders_and_bad_quotes_are_refused() {
        let e = parse("client {emial}").unwrap_err();
        assert!(e.contains("{emial}") && e.contains("email"), "{e}");
        assert!(parse("client 'open").unwrap_err().contains("unbalanced"));
        assert!(parse("  ").is_err());
        assert!(parse("client {email} {dns_addr}").is_ok());
        let both = parse("client --to={email} {workdir}/x").unwrap();
        assert!(both.uses("email") && both.uses("workdir") && !both.uses("services"));
    }

    #[test]
    fn the_name_is_short() {
        assert_eq!(
            parse("python3 /x/y/client.py --a {email}").unwrap().name(),
            "python3 client.py"
        );
        assert_eq!(
            parse("/usr/bin/lego --email {email}").unwrap().name(),
            "lego"
        );
    }

    #[tokio::test]
    async fn a_run_reports_its_exit_and_output_and_a_hang_is_killed() {
        let dir = std::env::temp_dir();
        let cmd = parse("sh -c 'echo out; echo err >&2; exit 89'").unwrap();
        let run = cmd.run(&Values::new(), &dir).await.unwrap();
        assert_eq!(run.exit, Exit::Code(EXIT_UNIMPLEMENTED));
        assert_eq!(run.stdout.trim(), "out");
        assert_eq!(run.last_words(), "err");
        let mut slow = parse("sleep 30").unwrap();
        slow.timeout = Duration::from_millis(200);
        let run = slow.run(&Values::new(), &dir).await.unwrap();
        assert_eq!(run.exit, Exit::TimedOut);
        let missing = parse("/nonexistent/client").unwrap();
        let e = missing.run(&Values::new(), &dir).await.unwrap_err();
        assert!(
            e.to_string().contains("cannot start /nonexistent/client"),
            "{e}"
        );
    }
}
