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
    // What a scenario asks of an RFC 8823 client (crate::sut::asks): a scenario whose ask the
    // template does not carry is skipped.
    (
        "usage",
        "RFC 8823 §3.3: the certificate to ask for: `both` (no keyUsage, or signing and \
         encryption bits), `signing` (digitalSignature/nonRepudiation only) or `encryption` \
         (keyEncipherment or keyAgreement only)",
    ),
    (
        "reply_body",
        "RFC 8823 §3.2 item 7: the reply's media type, `text-plain` or `multipart-alternative` \
         (with a text/plain alternative)",
    ),
    (
        "imap_tls",
        "how to reach the mailbox: `starttls` ({imap_url}) or `implicit` ({imaps_url})",
    ),
    (
        "imaps_url",
        "imaps://127.0.0.1:PORT, the same mailbox over implicit TLS",
    ),
    (
        "post",
        "when to POST the challenge: `after-reply` (RFC 8823 §3 step 7) or `before-reply`",
    ),
    (
        "mail_on",
        "when this CA sends the challenge mail: `authorization` (once the authorization is \
         fetched, RFC 8823 §3 step 4) or `challenge-post` (only once the challenge is POSTed: \
         wait for the mail after POSTing)",
    ),
];

/// Placeholders whose values are secrets: never written to a transcript or a report.
pub const SECRET_PLACEHOLDERS: &[&str] = &["password"];

/// What stands in a transcript for a secret.
pub const REDACTED: &str = "[redacted]";

/// A parsed `--client-cmd` template.
#[derive(Debug, Clone)]
pub struct ClientCommand {
    words: Vec<String>,
    /// The folder acmeproof was started in: the program and relative arguments of the template
    /// are found from it, whatever folder the client runs in.
    base: PathBuf,
    /// How long one run may take before it is killed.
    pub timeout: Duration,
    /// Where per-scenario work folders go (absolute).
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
    /// The argument vector, placeholders filled in, secrets redacted.
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
    /// names it. Relative paths (the program, literal arguments, `work_root`) are taken from
    /// the current folder, the one acmeproof was started in.
    pub fn parse(template: &str, timeout: Duration, work_root: PathBuf) -> Result<Self, String> {
        let base = std::env::current_dir()
            .map_err(|e| format!("--client-cmd: the current folder is unreadable: {e}"))?;
        Self::parse_in(template, timeout, work_root, base)
    }

    /// [`ClientCommand::parse`] with relative paths taken from `base`.
    pub fn parse_in(
        template: &str,
        timeout: Duration,
        work_root: PathBuf,
        base: PathBuf,
    ) -> Result<Self, String> {
        // A backslash at the end of a line continues it, as in a shell script: a template
        // written over several lines inside one pair of quotes (the README's) is one command.
        let joined = template.replace("\\\r\n", " ").replace("\\\n", " ");
        let words = shlex::split(&joined)
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
            work_root: base.join(work_root),
            base,
            timeout,
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

    /// The argument vector with `values` filled in. The client runs in its work folder, so
    /// the template's own relative paths are made absolute from [`ClientCommand::base`]: a
    /// program named with a folder (`./client`, `bin/client`), and a literal argument (or the
    /// value of a literal `--name=value`) naming a file or folder that exists there. A bare
    /// program name (`python3`) is still looked up in `PATH`.
    pub fn argv(&self, values: &Values) -> Vec<String> {
        self.words
            .iter()
            .enumerate()
            .map(|(i, w)| {
                if !placeholders_in(w).is_empty() {
                    return fill(w, values);
                }
                if i == 0 {
                    return if w.contains('/') {
                        self.absolute(w)
                    } else {
                        w.clone()
                    };
                }
                match w.split_once('=') {
                    Some((name, value)) if name.starts_with('-') => {
                        format!("{name}={}", self.absolute_if_exists(value))
                    }
                    _ if w.starts_with('-') => w.clone(),
                    _ => self.absolute_if_exists(w),
                }
            })
            .collect()
    }

    /// The argument vector for a transcript: secrets replaced by [`REDACTED`].
    pub fn argv_redacted(&self, values: &Values) -> Vec<String> {
        let mut hidden = values.clone();
        for name in SECRET_PLACEHOLDERS {
            if hidden.contains_key(name) {
                hidden.insert(name, REDACTED.to_owned());
            }
        }
        self.argv(&hidden)
    }

    fn absolute(&self, path: &str) -> String {
        self.base.join(path).display().to_string()
    }

    fn absolute_if_exists(&self, path: &str) -> String {
        let candidate = Path::new(path);
        if candidate.is_relative() && !path.is_empty() && self.base.join(candidate).exists() {
            self.absolute(path)
        } else {
            path.to_owned()
        }
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
        // A client may print what it was given: its output is redacted like its command line.
        let secrets: Vec<&String> = SECRET_PLACEHOLDERS
            .iter()
            .filter_map(|name| values.get(name))
            .filter(|v| !v.is_empty())
            .collect();
        let redact = |mut text: String| {
            for secret in &secrets {
                text = text.replace(secret.as_str(), REDACTED);
            }
            text
        };
        Ok(ClientRun {
            argv: self.argv_redacted(values),
            exit,
            stdout: redact(collect(stdout).await),
            stderr: redact(collect(stderr).await),
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
    fn relative_paths_of_the_template_resolve_from_where_acmeproof_started() {
        let base = std::env::temp_dir().join(format!("acmeproof-argv-{}", std::process::id()));
        std::fs::create_dir_all(base.join("bin")).unwrap();
        std::fs::write(base.join("my_client.py"), "").unwrap();
        std::fs::write(base.join("keys.pem"), "").unwrap();
        let cmd = ClientCommand::parse_in(
            "python3 my_client.py --key=keys.pem --missing=nope.pem plain --dir {workdir}",
            Duration::from_secs(1),
            PathBuf::from("work"),
            base.clone(),
        )
        .unwrap();
        let mut values = Values::new();
        values.insert("workdir", "/abs/w".into());
        let at = |p: &str| base.join(p).display().to_string();
        assert_eq!(
            cmd.argv(&values),
            [
                "python3".to_owned(),
                at("my_client.py"),
                format!("--key={}", at("keys.pem")),
                "--missing=nope.pem".to_owned(),
                "plain".to_owned(),
                "--dir".to_owned(),
                "/abs/w".to_owned(),
            ]
        );
        assert_eq!(cmd.work_root, base.join("work"));
        let program = ClientCommand::parse_in(
            "bin/client {email}",
            Duration::from_secs(1),
            PathBuf::from("/w"),
            base.clone(),
        )
        .unwrap();
        assert_eq!(program.argv(&values)[0], at("bin/client"));
        std::fs::remove_dir_all(&base).unwrap();
    }

    #[tokio::test]
    async fn secrets_are_redacted_in_the_recorded_command_line_and_output() {
        let cmd = parse("sh -c 'echo my password is $0' {password}").unwrap();
        let mut values = Values::new();
        values.insert("password", "hunter2".into());
        let run = cmd.run(&values, &std::env::temp_dir()).await.unwrap();
        assert_eq!(run.argv[3], REDACTED);
        assert_eq!(run.stdout.trim(), format!("my password is {REDACTED}"));
        assert!(!format!("{run:?}").contains("hunter2"));
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
        // Continued lines, as a template spans them inside one pair of shell quotes.
        let continued = parse("client --a {email} \\\n    --b {workdir}").unwrap();
        assert_eq!(
            continued.words,
            ["client", "--a", "{email}", "--b", "{workdir}"]
        );
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
