//! The servers under measurement, each a child process killed on drop: `acmeproof serve`
//! (what a user runs), Pebble with pebble-challtestsrv, aiosmtpd's Sink and a rootless Dovecot.

use std::io::{BufRead, BufReader};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::Value;

/// How long a server gets to print its endpoints or open its port.
const START_TIMEOUT: Duration = Duration::from_secs(20);

/// How long a server gets to exit after SIGTERM before it is killed.
const STOP_TIMEOUT: Duration = Duration::from_secs(5);

/// A child process, stopped on drop: SIGTERM (Dovecot's master then stops its workers), SIGKILL
/// if it is still there after [`STOP_TIMEOUT`]; then its scratch folder, if any, is removed.
pub struct Guard(pub Child, pub Option<PathBuf>);

impl Guard {
    pub fn pid(&self) -> u32 {
        self.0.id()
    }
}

impl Drop for Guard {
    fn drop(&mut self) {
        let _ = Command::new("kill")
            .args(["-TERM", &self.0.id().to_string()])
            .stderr(Stdio::null())
            .status();
        let started = Instant::now();
        while started.elapsed() < STOP_TIMEOUT {
            if let Ok(Some(_)) = self.0.try_wait() {
                break;
            }
            std::thread::sleep(Duration::from_millis(10));
        }
        let _ = self.0.kill();
        let _ = self.0.wait();
        if let Some(dir) = &self.1 {
            let _ = std::fs::remove_dir_all(dir);
        }
    }
}

/// Where a tool is: on `PATH`, or in `/usr/sbin` (Dovecot's binary is there and root's PATH
/// is not everyone's).
pub fn find_tool(name: &str) -> Option<PathBuf> {
    let path = std::env::var_os("PATH").unwrap_or_default();
    std::env::split_paths(&path)
        .chain([PathBuf::from("/usr/sbin")])
        .map(|dir| dir.join(name))
        .find(|p| {
            use std::os::unix::fs::PermissionsExt;
            p.metadata()
                .is_ok_and(|m| m.is_file() && m.permissions().mode() & 0o111 != 0)
        })
}

/// A port free now on 127.0.0.1 (for the peers, which want a number in their config).
pub fn free_port() -> std::io::Result<u16> {
    Ok(TcpListener::bind("127.0.0.1:0")?.local_addr()?.port())
}

/// A scratch folder of this run, new.
pub fn scratch(name: &str) -> std::io::Result<PathBuf> {
    let dir = std::env::temp_dir().join(format!(
        "acmeproof-bench-peers-{}-{name}",
        std::process::id()
    ));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir)?;
    Ok(dir)
}

/// Waits until `addr` accepts TCP connections, or the child exits, or [`START_TIMEOUT`].
pub fn wait_for_port(child: &mut Child, addr: SocketAddr, what: &str) -> Result<(), String> {
    let started = Instant::now();
    loop {
        if TcpStream::connect_timeout(&addr, Duration::from_millis(200)).is_ok() {
            return Ok(());
        }
        if let Ok(Some(status)) = child.try_wait() {
            return Err(format!(
                "{what} exited before listening on {addr}: {status}"
            ));
        }
        if started.elapsed() > START_TIMEOUT {
            return Err(format!("{what} did not listen on {addr} in time"));
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// A running `acmeproof serve --json` (this very binary) with its endpoints.
pub struct Served {
    pub guard: Guard,
    pub endpoints: Value,
}

impl Served {
    /// Starts `serve` with `config` (a world TOML).
    pub fn start(name: &str, config: &str) -> Result<Served, String> {
        let dir = scratch(name).map_err(|e| format!("scratch folder: {e}"))?;
        let path = dir.join("world.toml");
        std::fs::write(&path, config).map_err(|e| format!("{}: {e}", path.display()))?;
        let exe = std::env::current_exe().map_err(|e| format!("own binary: {e}"))?;
        let mut child = Command::new(exe)
            .args(["serve", "--json", "--out"])
            .arg(&dir)
            .arg("--config")
            .arg(&path)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .map_err(|e| format!("acmeproof serve: {e}"))?;
        let stdout = child.stdout.take().ok_or("serve's stdout")?;
        let guard = Guard(child, Some(dir));
        let (tx, rx) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            let mut line = String::new();
            let _ = BufReader::new(stdout).read_line(&mut line);
            let _ = tx.send(line);
        });
        let line = rx
            .recv_timeout(START_TIMEOUT)
            .map_err(|_| "acmeproof serve printed no endpoints in time".to_owned())?;
        let endpoints: Value = serde_json::from_str(&line)
            .map_err(|e| format!("acmeproof serve printed no endpoints ({e}): {line:?}"))?;
        Ok(Served { guard, endpoints })
    }

    pub fn pid(&self) -> u32 {
        self.guard.pid()
    }

    /// An endpoint address (`"mail.mx"`, `"dns"`).
    pub fn addr(&self, path: &str) -> Result<SocketAddr, String> {
        let mut at = &self.endpoints;
        for part in path.split('.') {
            at = &at[part];
        }
        at.as_str()
            .and_then(|s| s.parse().ok())
            .ok_or_else(|| format!("serve printed no {path} address"))
    }

    pub fn string(&self, field: &str) -> Result<String, String> {
        self.endpoints[field]
            .as_str()
            .map(str::to_owned)
            .ok_or_else(|| format!("serve printed no {field}"))
    }
}

/// aiosmtpd's Sink (`python3 -m aiosmtpd -n -c aiosmtpd.handlers.Sink`): accepts every
/// message and drops it.
pub fn start_aiosmtpd(python: &Path) -> Result<(Guard, SocketAddr), String> {
    let port = free_port().map_err(|e| e.to_string())?;
    let addr: SocketAddr = ([127, 0, 0, 1], port).into();
    let child = Command::new(python)
        .args(["-m", "aiosmtpd", "-n", "-c", "aiosmtpd.handlers.Sink", "-l"])
        .arg(format!("127.0.0.1:{port}"))
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .map_err(|e| format!("aiosmtpd: {e}"))?;
    let mut guard = Guard(child, None);
    wait_for_port(&mut guard.0, addr, "aiosmtpd")?;
    Ok((guard, addr))
}

/// Whether `python` imports aiosmtpd.
pub fn python_with_aiosmtpd() -> Option<PathBuf> {
    let python = find_tool("python3")?;
    Command::new(&python)
        .args(["-c", "import aiosmtpd"])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .ok()?
        .success()
        .then_some(python)
}

/// A running Dovecot: its master's pid (the workers are its children) and its ports.
pub struct Dovecot {
    pub guard: Guard,
    pub imap: SocketAddr,
    pub lmtp: SocketAddr,
}

/// The effective user id (`/proc/self/status`, line `Uid:`).
fn euid() -> Option<u32> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with("Uid:"))?;
    line.split_whitespace().nth(2)?.parse().ok()
}

/// The name of the current user (`id -un`).
fn user_name() -> Option<String> {
    let out = Command::new("id").arg("-un").output().ok()?;
    Some(String::from_utf8(out.stdout).ok()?.trim().to_owned()).filter(|s| !s.is_empty())
}

/// Starts Dovecot (IMAP and LMTP only, no TLS) with every file in a scratch folder. Run by a
/// plain user, every service runs as that user. Run as root, Dovecot refuses that: its login
/// processes say "This process must not be run as root" and a userdb answering uid 0 gets
/// "userdb returned 0 as uid"; so as root the services use the users Debian's dovecot-core
/// creates (`dovecot`, `dovenull`) and the mail belongs to `dovecot`.
pub fn start_dovecot(dovecot: &Path) -> Result<Dovecot, String> {
    let dir = scratch("dovecot").map_err(|e| format!("scratch folder: {e}"))?;
    let (imap_port, lmtp_port) = (
        free_port().map_err(|e| e.to_string())?,
        free_port().map_err(|e| e.to_string())?,
    );
    let root = euid() == Some(0);
    let (internal, login, mail_user, first_uid) = if root {
        ("dovecot".to_owned(), "dovenull".to_owned(), "dovecot", 100)
    } else {
        let me = user_name().ok_or("who am I (id -un)")?;
        (me.clone(), me, "", 0)
    };
    // A plain user cannot chroot: Dovecot's rootless setup removes the login services'
    // default chroot.
    let (anvil, login_chroot) = if root {
        ("", "")
    } else {
        ("service anvil {\n  chroot =\n}\n", "  chroot =\n")
    };
    let mail = dir.join("mail");
    std::fs::create_dir_all(&mail).map_err(|e| e.to_string())?;
    let userdb = if mail_user.is_empty() {
        let uid = euid().ok_or("no uid")?;
        format!("uid={uid} gid={uid}")
    } else {
        let chown = Command::new("chown")
            .arg(format!("{mail_user}:{mail_user}"))
            .arg(&mail)
            .status()
            .map_err(|e| format!("chown: {e}"))?;
        if !chown.success() {
            return Err(format!("chown {mail_user} {}", mail.display()));
        }
        format!("uid={mail_user} gid={mail_user}")
    };
    let d = dir.display();
    // Logging as `acmeproof serve` does by default: warnings and errors only (Dovecot's info
    // log writes a line per connection and per delivery).
    let config = format!(
        "protocols = imap lmtp\n\
         listen = 127.0.0.1\n\
         base_dir = {d}/run\n\
         state_dir = {d}/state\n\
         log_path = {d}/dovecot.log\n\
         info_log_path = /dev/null\n\
         ssl = no\n\
         disable_plaintext_auth = no\n\
         auth_mechanisms = plain\n\
         default_internal_user = {internal}\n\
         default_internal_group = {internal}\n\
         default_login_user = {login}\n\
         first_valid_uid = {first_uid}\n\
         mail_location = maildir:{d}/mail/%n\n\
         passdb {{\n  driver = static\n  args = password=bench-password\n}}\n\
         userdb {{\n  driver = static\n  args = {userdb} home={d}/mail/%n\n}}\n\
         service imap-login {{\n{login_chroot}  inet_listener imap {{\n    address = 127.0.0.1\n    port = {imap_port}\n  }}\n  inet_listener imaps {{\n    port = 0\n  }}\n}}\n\
         service lmtp {{\n  inet_listener lmtp {{\n    address = 127.0.0.1\n    port = {lmtp_port}\n  }}\n}}\n\
         {anvil}"
    );
    let conf = dir.join("dovecot.conf");
    std::fs::write(&conf, config).map_err(|e| e.to_string())?;
    let child = Command::new(dovecot)
        .arg("-F")
        .arg("-c")
        .arg(&conf)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .map_err(|e| format!("dovecot: {e}"))?;
    let imap: SocketAddr = ([127, 0, 0, 1], imap_port).into();
    let lmtp: SocketAddr = ([127, 0, 0, 1], lmtp_port).into();
    let log = || std::fs::read_to_string(dir.join("dovecot.log")).unwrap_or_default();
    let mut guard = Guard(child, Some(dir.clone()));
    wait_for_port(&mut guard.0, imap, "dovecot").map_err(|e| format!("{e}\n{}", log()))?;
    wait_for_port(&mut guard.0, lmtp, "dovecot").map_err(|e| format!("{e}\n{}", log()))?;
    Ok(Dovecot { guard, imap, lmtp })
}

/// Pebble and pebble-challtestsrv, wired: Pebble resolves through challtestsrv's DNS.
pub struct Pebble {
    pub pebble: Guard,
    pub challtestsrv: Guard,
    pub directory_url: String,
    pub root_pem: String,
    /// challtestsrv's management API (`/set-txt`, `/clear-txt`).
    pub management: String,
}

/// Starts pebble-challtestsrv (DNS only) alone: the DNS workload's peer.
pub fn start_challtestsrv(tool: &Path) -> Result<(Guard, String, SocketAddr), String> {
    let (mgmt, dns) = (
        free_port().map_err(|e| e.to_string())?,
        free_port().map_err(|e| e.to_string())?,
    );
    let child = Command::new(tool)
        .args(["-http01", "", "-https01", "", "-tlsalpn01", ""])
        .args(["-management", &format!("127.0.0.1:{mgmt}")])
        .args(["-dns01", &format!("127.0.0.1:{dns}")])
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .map_err(|e| format!("pebble-challtestsrv: {e}"))?;
    let dns_addr: SocketAddr = ([127, 0, 0, 1], dns).into();
    let mut guard = Guard(child, None);
    wait_for_port(
        &mut guard.0,
        ([127, 0, 0, 1], mgmt).into(),
        "pebble-challtestsrv",
    )?;
    // Its DNS listens on TCP too: once that is up, the UDP side is.
    wait_for_port(&mut guard.0, dns_addr, "pebble-challtestsrv")?;
    Ok((guard, format!("http://127.0.0.1:{mgmt}"), dns_addr))
}

/// Starts Pebble with a fresh TLS root (Debian's package ships none), resolving through a new
/// pebble-challtestsrv; validation without Pebble's random sleep, nonces never rejected at
/// random and no authorization reuse, as the Pebble peer test runs it.
pub fn start_pebble(pebble: &Path, challtestsrv: &Path) -> Result<Pebble, String> {
    let dir = scratch("pebble").map_err(|e| format!("scratch folder: {e}"))?;
    let (challtest, management, dns) = start_challtestsrv(challtestsrv)?;
    let root_key = rcgen::KeyPair::generate().map_err(|e| e.to_string())?;
    let mut root =
        rcgen::CertificateParams::new(Vec::<String>::new()).map_err(|e| e.to_string())?;
    root.is_ca = rcgen::IsCa::Ca(rcgen::BasicConstraints::Unconstrained);
    root.distinguished_name
        .push(rcgen::DnType::CommonName, "acmeproof bench root for Pebble");
    let root_cert = root.self_signed(&root_key).map_err(|e| e.to_string())?;
    let issuer = rcgen::Issuer::new(root, root_key);
    let leaf_key = rcgen::KeyPair::generate().map_err(|e| e.to_string())?;
    let leaf = rcgen::CertificateParams::new(vec!["127.0.0.1".into(), "localhost".into()])
        .map_err(|e| e.to_string())?
        .signed_by(&leaf_key, &issuer)
        .map_err(|e| e.to_string())?;
    let write = |name: &str, text: String| {
        std::fs::write(dir.join(name), text).map_err(|e| format!("{name}: {e}"))
    };
    write("cert.pem", leaf.pem())?;
    write("key.pem", leaf_key.serialize_pem())?;
    let port = free_port().map_err(|e| e.to_string())?;
    write(
        "pebble.json",
        serde_json::json!({ "pebble": {
            "listenAddress": format!("127.0.0.1:{port}"),
            "managementListenAddress": format!("127.0.0.1:{}", free_port().map_err(|e| e.to_string())?),
            "certificate": dir.join("cert.pem"),
            "privateKey": dir.join("key.pem"),
            "httpPort": free_port().map_err(|e| e.to_string())?,
            "tlsPort": free_port().map_err(|e| e.to_string())?,
            "ocspResponderURL": "",
            "externalAccountBindingRequired": false,
        }})
        .to_string(),
    )?;
    let child = Command::new(pebble)
        .arg("-config")
        .arg(dir.join("pebble.json"))
        .args(["-dnsserver", &dns.to_string()])
        .env("PEBBLE_VA_NOSLEEP", "1")
        .env("PEBBLE_WFE_NONCEREJECT", "0")
        .env("PEBBLE_AUTHZREUSE", "0")
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .map_err(|e| format!("pebble: {e}"))?;
    let mut guard = Guard(child, Some(dir));
    wait_for_port(&mut guard.0, ([127, 0, 0, 1], port).into(), "pebble")?;
    Ok(Pebble {
        pebble: guard,
        challtestsrv: challtest,
        directory_url: format!("https://127.0.0.1:{port}/dir"),
        root_pem: root_cert.pem(),
        management,
    })
}
