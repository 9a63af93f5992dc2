//! `acmeproof serve` as a process: endpoints on stdout, a working CA and DNS behind them, the
//! management API, and a clean exit on SIGTERM. The `ServeProcess` here is shared with `peers`.

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::Duration;

use serde_json::Value;

use crate::support::WAIT;

/// A running `acmeproof serve --json`, killed on drop.
pub struct ServeProcess {
    child: Option<Child>,
    /// The endpoints object it printed.
    pub endpoints: Value,
    /// Its scratch folder (ca.pem and whatever a test writes).
    pub dir: PathBuf,
}

impl ServeProcess {
    /// Starts `serve` with `config` (TOML) or the built-in example world.
    pub fn start(name: &str, config: Option<&str>) -> ServeProcess {
        Self::try_start(name, config).unwrap_or_else(|e| panic!("{e}"))
    }

    /// [`ServeProcess::start`], or why `serve` printed no endpoints (it exited: say, a fixed
    /// port of its config was taken).
    pub fn try_start(name: &str, config: Option<&str>) -> Result<ServeProcess, String> {
        let dir =
            std::env::temp_dir().join(format!("acmeproof-test-{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        let mut command = Command::new(env!("CARGO_BIN_EXE_acmeproof"));
        command.args(["serve", "--json", "--out"]).arg(&dir);
        if let Some(config) = config {
            let path = dir.join("world.toml");
            std::fs::write(&path, config).unwrap();
            command.arg("--config").arg(path);
        }
        let mut child = command
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("spawn acmeproof serve");
        let stdout = child.stdout.take().unwrap();
        let (tx, rx) = mpsc::channel();
        std::thread::spawn(move || {
            let mut line = String::new();
            let _ = BufReader::new(stdout).read_line(&mut line);
            let _ = tx.send(line);
        });
        let printed = rx
            .recv_timeout(WAIT)
            .map_err(|_| "serve printed no endpoints in time".to_owned())
            .and_then(|line| {
                serde_json::from_str::<Value>(&line)
                    .map_err(|e| format!("serve printed no endpoints ({e}): {line:?}"))
            });
        let endpoints = match printed {
            Ok(endpoints) => endpoints,
            Err(why) => {
                let _ = child.kill();
                let _ = child.wait();
                let _ = std::fs::remove_dir_all(&dir);
                return Err(why);
            }
        };
        Ok(ServeProcess {
            child: Some(child),
            endpoints,
            dir,
        })
    }

    /// An endpoint field as a string.
    pub fn get(&self, field: &str) -> String {
        match &self.endpoints[field] {
            Value::String(s) => s.clone(),
            other => other.to_string(),
        }
    }

    /// The CA bundle path.
    pub fn bundle(&self) -> PathBuf {
        PathBuf::from(self.get("ca_bundle"))
    }

    /// The DNS port.
    pub fn dns_port(&self) -> u16 {
        self.get("dns")
            .rsplit(':')
            .next()
            .and_then(|p| p.parse().ok())
            .expect("dns address")
    }

    /// The process id.
    pub fn pid(&self) -> u32 {
        self.child.as_ref().map(Child::id).expect("running")
    }

    /// Sends SIGTERM and returns the exit status.
    pub fn terminate(mut self) -> std::process::ExitStatus {
        let mut child = self.child.take().unwrap();
        Command::new("kill")
            .args(["-TERM", &child.id().to_string()])
            .status()
            .expect("kill");
        let (tx, rx) = mpsc::channel();
        std::thread::spawn(move || {
            let _ = tx.send(child.wait());
        });
        rx.recv_timeout(WAIT)
            .expect("serve exits after SIGTERM")
            .expect("wait")
    }
}

impl Drop for ServeProcess {
    fn drop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// The root certificate in a PEM file, DER.
pub fn root_der(path: &Path) -> Vec<u8> {
    let pem = std::fs::read(path).unwrap();
    x509_parser::pem::Pem::iter_from_buffer(&pem)
        .next()
        .expect("a PEM block")
        .expect("PEM")
        .contents
}

async fn get_json(http: &reqwest::Client, url: impl reqwest::IntoUrl) -> Value {
    http.get(url).send().await.unwrap().json().await.unwrap()
}

async fn send_body(request: reqwest::RequestBuilder, body: &'static str) -> reqwest::Response {
    request.body(body).send().await.unwrap()
}

#[tokio::test]
async fn serve_prints_endpoints_answers_and_exits_cleanly_on_sigterm() {
    let serve = ServeProcess::start("serve", None);
    for field in [
        "directory_url",
        "ca_bundle",
        "dns",
        "management_url",
        "seed",
    ] {
        assert!(
            !serve.endpoints[field].is_null(),
            "{field} in {}",
            serve.endpoints
        );
    }
    let mail = &serve.endpoints["mail"];
    for field in [
        "mx",
        "submission",
        "submissions",
        "lmtp",
        "ca_mx",
        "imap",
        "imaps",
        "pop3",
        "pop3s",
        "relays",
        "users",
        "dkim",
    ] {
        assert!(!mail[field].is_null(), "mail.{field} in {mail}");
    }
    assert_eq!(mail["users"][0]["address"], "alice@example.test");
    assert!(
        mail["dkim"][0]["txt_name"]
            .as_str()
            .unwrap()
            .contains("._domainkey.")
    );
    let root = root_der(&serve.bundle());
    let pem = std::fs::read_to_string(serve.bundle()).unwrap();
    // The directory is served over HTTPS under the root in the bundle.
    let _ = rustls::crypto::ring::default_provider().install_default();
    let http = reqwest::Client::builder()
        .tls_certs_only([reqwest::Certificate::from_pem(pem.as_bytes()).unwrap()])
        .no_proxy()
        .timeout(Duration::from_secs(10))
        .build()
        .unwrap();
    let dir: Value = get_json(&http, serve.get("directory_url")).await;
    assert!(
        dir["newOrder"]
            .as_str()
            .unwrap()
            .starts_with("https://127.0.0.1:")
    );
    // The management API serves the same root and takes knobs.
    let mgmt = serve.get("management_url");
    let roots: Value = get_json(&http, format!("{mgmt}/roots")).await;
    assert_eq!(roots["root"].as_str().unwrap().trim(), pem.trim());
    assert!(!root.is_empty());
    let patched = send_body(http.patch(format!("{mgmt}/knobs")), r#"{"strict": true}"#).await;
    assert_eq!(patched.status().as_u16(), 200);
    let knobs: Value = get_json(&http, format!("{mgmt}/knobs")).await;
    assert_eq!(knobs["strict"], true);
    let refused = send_body(http.patch(format!("{mgmt}/knobs")), r#"{"stirct": true}"#).await;
    assert_eq!(refused.status().as_u16(), 400);
    // DNS records through the API, then the clock.
    let added = send_body(
        http.post(format!("{mgmt}/dns/records")),
        r#"{"name": "api.example.test", "type": "TXT", "value": "from-the-api"}"#,
    )
    .await;
    assert_eq!(added.status().as_u16(), 201);
    let records: Value = get_json(&http, format!("{mgmt}/dns/records?name=api.example.test")).await;
    assert!(records.to_string().contains("from-the-api"), "{records}");
    let advanced: Value = send_body(
        http.post(format!("{mgmt}/clock/advance")),
        r#"{"seconds": 86400}"#,
    )
    .await
    .json()
    .await
    .unwrap();
    assert!(advanced["now"].is_string());
    let status = serve.terminate();
    assert!(status.success(), "serve exits 0 on SIGTERM: {status:?}");
}

#[test]
fn serve_with_a_bad_config_prints_one_line_and_exits_2() {
    let dir = std::env::temp_dir().join(format!("acmeproof-badcfg-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("world.toml");
    std::fs::write(&path, "[ca.knobs]\nnonce_reject_percent = 300\n").unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_acmeproof"))
        .args(["serve", "--config"])
        .arg(&path)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(err.lines().count(), 1, "{err}");
    assert!(err.contains("nonce_reject_percent"), "{err}");
}

/// `dig +short` for a TXT name at `serve`'s DNS.
fn dig_txt(dig: &Path, serve: &ServeProcess, name: &str) -> String {
    let output = Command::new(dig)
        .args(["+short", "+time=5", "+tries=1", "-p"])
        .arg(serve.dns_port().to_string())
        .args(["@127.0.0.1", name, "TXT"])
        .output()
        .expect("dig runs");
    assert!(output.status.success(), "dig {name}: {output:?}");
    String::from_utf8(output.stdout).unwrap().trim().to_owned()
}

#[tokio::test]
async fn a_txt_value_through_the_management_api_is_its_text_as_dig_shows() {
    let Some(dig) = acmeproof_testkit::require_tool("dig") else {
        return;
    };
    let serve = ServeProcess::start("txt", None);
    let mgmt = serve.get("management_url");
    let _ = rustls::crypto::ring::default_provider().install_default();
    let http = reqwest::Client::builder()
        .no_proxy()
        .timeout(Duration::from_secs(10))
        .build()
        .unwrap();
    let long = "x".repeat(300);
    let cases: [(&str, Value, String); 4] = [
        // Spaces stay inside one character-string (presentation format would make three).
        (
            "spf.example.test",
            Value::from("v=spf1 ip4:127.0.0.1 -all"),
            r#""v=spf1 ip4:127.0.0.1 -all""#.to_owned(),
        ),
        // Quotes and backslashes are text, escaped only in dig's presentation of them.
        (
            "quote.example.test",
            Value::from(r#"say "hi" \ there"#),
            r#""say \"hi\" \\ there""#.to_owned(),
        ),
        // A list gives the character-strings.
        (
            "list.example.test",
            serde_json::json!(["a list", "of strings"]),
            r#""a list" "of strings""#.to_owned(),
        ),
        // RFC 1035 §3.3: over 255 octets, the text is split.
        (
            "long.example.test",
            Value::from(long.as_str()),
            format!("\"{}\" \"{}\"", &long[..255], &long[255..]),
        ),
    ];
    for (name, value, shown) in cases {
        let record = serde_json::json!({"name": name, "type": "TXT", "value": value});
        let added = http
            .post(format!("{mgmt}/dns/records"))
            .body(record.to_string())
            .send()
            .await
            .unwrap();
        assert_eq!(added.status().as_u16(), 201, "{record}");
        assert_eq!(dig_txt(&dig, &serve, name), shown, "{record}");
        // The API reads back what was written (a long text as its two strings).
        let listed: Value = get_json(&http, format!("{mgmt}/dns/records?name={name}")).await;
        let read_back = if name == "long.example.test" {
            serde_json::json!([&long[..255], &long[255..]])
        } else {
            value
        };
        assert_eq!(listed[0]["value"], read_back, "{listed}");
    }
}

/// `serve` runs without transparent huge pages (`cli/memory.rs`: their 2 MiB zeroing faults
/// were a quarter of the served MX's CPU); Linux reports the flag per process.
#[cfg(target_os = "linux")]
#[test]
fn serve_runs_without_transparent_huge_pages() {
    let serve = ServeProcess::start("serve-thp", None);
    let status = std::fs::read_to_string(format!("/proc/{}/status", serve.pid())).expect("status");
    let line = status
        .lines()
        .find(|l| l.starts_with("THP_enabled:"))
        .expect("Linux 5.0 and later report THP_enabled");
    assert_eq!(line.split_whitespace().nth(1), Some("0"), "{line}");
}
