//! Validation of the draft-ietf-acme-email-tls challenges: dns-email-00 through the world's
//! DNS, and capability-smtp-00 / capability-imap-00 / capability-pop-00 by connecting to the
//! mail server and reading its capability listing.
//!
//! No version of the draft says which host the CA connects to, whether it looks before or after
//! STARTTLS, or whether it checks the server's certificate. This CA:
//! - connects to the A/AAAA of the identifier (world DNS) at the challenge's `port` (through
//!   [`super::server::CaShared::connect_port`]);
//! - on 465/993/995 (the implicit-TLS services, RFC 8314 §3.3) handshakes first; on the others
//!   reads the listing before or after STARTTLS/STLS, per knob `capability_phase`;
//! - does **not** verify the server's certificate. The certificate is what the server is
//!   asking for (-05 §3: the challenges are for "SMTP ... IMAP ... and POP3 ... servers \[that\]
//!   use TLS", i.e. to obtain their TLS certificate), so it may have none that chains yet
//!   (self-signed, expired, another name); the removed tls-sni-email-00 (melnikov-00 and
//!   ietf-00, "very similar to "tls-sni-01"") even had the server present a self-signed
//!   certificate made for the challenge. No version asks the CA to check it.
//!   TLS here only reaches the listing that implicit-TLS ports and after-STARTTLS servers
//!   show; the proof is the digest. The handshake signature is still checked against the
//!   presented key.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use rustls::pki_types::ServerName;
use tokio::io::{AsyncBufReadExt, AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt, BufReader};
use tokio::net::TcpStream;

use super::email_tls::MailTarget;
use super::knobs::{CapabilityPhase, ServicePortInHash};
use super::model::ChallengeKind;
use super::problem::{Problem, ProblemType};
use super::server::CaShared;
use super::validate::Job;
use crate::protocol::email_tls::{self, AcmeCapability, Service};
use crate::protocol::keyauth;

/// How long the TCP connect may take.
pub const CONNECT_TIMEOUT: Duration = Duration::from_secs(5);
/// How long the whole dialog (greeting to listing) may take.
pub const DIALOG_TIMEOUT: Duration = Duration::from_secs(10);
/// The longest reply line read (RFC 5321 §4.5.3.1.5: 512 octets; IMAP lines are longer).
pub const MAX_LINE: usize = 8 * 1024;
/// The most lines of one listing.
pub const MAX_LINES: usize = 200;
/// The EHLO/LHLO name the CA gives.
pub const CA_HELO: &str = "validation.acmeproof.test";

/// Validates an email-tls challenge (`job.kind` is one of them).
pub(crate) async fn validate(ca: &CaShared, job: &Job) -> Result<(), Problem> {
    let Some(target) = job.mail else {
        return Err(Problem::internal(format!(
            "{} challenge without a service",
            job.kind.name()
        )));
    };
    let knobs = ca.knobs();
    let ka = keyauth::key_authorization(&job.token, &job.thumbprint);
    let bind = knobs.service_port_in_hash == ServicePortInHash::Yes;
    let expected = Expected {
        digest: email_tls::challenge_digest(&ka, target.service, target.port, bind),
        other: email_tls::challenge_digest(&ka, target.service, target.port, !bind),
        bind,
    };
    match job.kind {
        ChallengeKind::DnsEmail00 => dns_email(ca, job, target, &expected).await,
        _ => {
            capability(ca, job, target, &expected, &knobs).await?;
            if knobs.twin_srv_id {
                twin_running(ca, job, target).await;
            }
            Ok(())
        }
    }
}

/// Knob twin_srv_id (-03…-05 §4 open issue 1: "include SRV-ID for the other port, if it can
/// verify that both are running"): after a capability proof, a server that greets on the twin
/// service's IANA port (imap ↔ imaps, …) puts the twin in the store for finalize. "Running"
/// here is a greeting line within the dialog timeout: TLS first on the implicit-TLS ports.
async fn twin_running(ca: &CaShared, job: &Job, target: MailTarget) {
    let Some(twin) = crate::protocol::pki::server_profile::twin(target.service) else {
        return;
    };
    let Some(port) = twin.default_port() else {
        return;
    };
    let domain = job.identifier.value.clone();
    let Ok(ip) = super::validate::first_address(ca, &domain).await else {
        return;
    };
    let addr = SocketAddr::new(ip, ca.connect_port(port));
    let greets = async {
        let tcp = TcpStream::connect(addr).await.ok()?;
        let mut conn = Conn::new(Box::new(tcp));
        if twin.implicit_tls() {
            conn = conn.tls(&domain).await.ok()?;
        }
        conn.line().await.ok()
    };
    if let Ok(Some(_)) = tokio::time::timeout(DIALOG_TIMEOUT, greets).await {
        let mut store = ca.store();
        if let Some(authz) = store
            .challenges
            .get(&job.challenge)
            .map(|c| c.authz.clone())
        {
            store.twins.entry(authz).or_default().push((
                domain,
                MailTarget {
                    service: twin,
                    port,
                },
            ));
        }
    }
}

/// The digest the CA wants, and the one the other `service_port_in_hash` variant would give
/// (to name a variant mismatch in the problem detail).
struct Expected {
    digest: String,
    other: String,
    bind: bool,
}

impl Expected {
    fn variant(bind: bool) -> &'static str {
        if bind {
            "SHA-256 over keyAuthorization.service.port (service_port_in_hash = yes)"
        } else {
            "SHA-256 over the key authorization alone (service_port_in_hash = no, draft -05)"
        }
    }

    /// Why `found` is not the expected digest.
    fn mismatch(&self, found: &str) -> String {
        if email_tls::digest_matches(found, &self.other) {
            format!(
                "digest mismatch: {found} is the {} but this CA expects the {}: {}",
                Self::variant(!self.bind),
                Self::variant(self.bind),
                self.digest
            )
        } else {
            format!(
                "digest mismatch: found {found}, expected {} ({})",
                self.digest,
                Self::variant(self.bind)
            )
        }
    }
}

fn incorrect(detail: String) -> Problem {
    Problem::new(ProblemType::IncorrectResponse, detail).with_status(403)
}

/// -05 §3.3 (TLS-7, TLS-8): a TXT at `_<port>._<service>._acme-challenge.<domain>` holding the
/// digest, looked up as dns-01 is (RFC 8555 §8.4).
async fn dns_email(
    ca: &CaShared,
    job: &Job,
    target: MailTarget,
    expected: &Expected,
) -> Result<(), Problem> {
    let name = email_tls::txt_name(target.port, target.service, &job.identifier.value)
        .map_err(|e| Problem::malformed(format!("dns-email-00 TXT name: {e}")))?;
    let values = ca.resolver.txt(&name).await.map_err(|e| {
        Problem::new(
            ProblemType::Dns,
            format!("DNS problem looking up TXT for {name}: {e}"),
        )
    })?;
    if values
        .iter()
        .any(|v| email_tls::digest_matches(v, &expected.digest))
    {
        return Ok(());
    }
    let why = match values.as_slice() {
        [] => format!("no TXT record at {name}; expected {}", expected.digest),
        [one] => format!("TXT at {name}: {}", expected.mismatch(one)),
        many => format!(
            "none of the {} TXT records at {name} holds the expected digest {} ({}); found {many:?}{}",
            many.len(),
            expected.digest,
            Expected::variant(expected.bind),
            many.iter()
                .find(|v| email_tls::digest_matches(v, &expected.other))
                .map(|v| format!("; {}", expected.mismatch(v)))
                .unwrap_or_default()
        ),
    };
    Err(incorrect(format!("dns-email-00 (TLS-7, TLS-8): {why}")))
}

/// -05 §3.4: connect and find `ACME <digest>` / `ACME=<digest>`.
async fn capability(
    ca: &CaShared,
    job: &Job,
    target: MailTarget,
    expected: &Expected,
    knobs: &super::knobs::Knobs,
) -> Result<(), Problem> {
    let phase = knobs.capability_phase;
    let domain = &job.identifier.value;
    let ip = super::validate::first_address(ca, domain).await?;
    let actual = ca.connect_port(target.port);
    let addr = SocketAddr::new(ip, actual);
    let via = if actual == target.port {
        String::new()
    } else {
        format!(" (reached at {addr})")
    };
    let implicit = target.service.implicit_tls();
    let after = !implicit && phase == CapabilityPhase::AfterStarttls;
    let place = format!(
        "{domain} ({ip}) port {}{via}, service {}, {}",
        target.port,
        target.service,
        if implicit {
            "implicit TLS"
        } else if after {
            "after STARTTLS"
        } else {
            "before STARTTLS"
        }
    );
    let tcp = tokio::time::timeout(CONNECT_TIMEOUT, TcpStream::connect(addr))
        .await
        .map_err(|_| {
            Problem::new(
                ProblemType::Connection,
                format!("connecting to {place}: timed out"),
            )
        })?
        .map_err(|e| {
            Problem::new(
                ProblemType::Connection,
                format!("connecting to {place}: {e}"),
            )
        })?;
    let dialog = Dialog {
        kind: job.kind,
        service: target.service,
        sni: domain.clone(),
        implicit,
        after,
    };
    let found = tokio::time::timeout(DIALOG_TIMEOUT, dialog.run(tcp))
        .await
        .map_err(|_| {
            Problem::new(
                ProblemType::Connection,
                format!("{place}: no capability listing within {DIALOG_TIMEOUT:?}"),
            )
        })?
        .map_err(|e| e.problem(&place))?;
    let listing = found.shown();
    match &found.capability {
        AcmeCapability::Present(d) if email_tls::digest_matches(d, &expected.digest) => Ok(()),
        AcmeCapability::Padded(_) if knobs.strict => Err(incorrect(format!(
            "{} (TLS-12, SHOULD; strict knob): {place}: the ACME parameter carries base64 padding; this CA, in strict mode, wants the unpadded base64url digest {} ({}); listing: {listing}",
            job.kind.name(),
            expected.digest,
            email_tls::PADDING_ERRATUM
        ))),
        AcmeCapability::Padded(d) if email_tls::digest_matches(d, &expected.digest) => Ok(()),
        AcmeCapability::Padded(d) => Err(incorrect(format!(
            "{} ({}): {place}: {} (padding removed); listing: {listing}",
            job.kind.name(),
            requirement(job.kind),
            expected.mismatch(d)
        ))),
        AcmeCapability::Present(d) => Err(incorrect(format!(
            "{} ({}): {place}: {}; listing: {listing}",
            job.kind.name(),
            requirement(job.kind),
            expected.mismatch(d)
        ))),
        AcmeCapability::Absent => Err(incorrect(format!(
            "{} ({}): {place}: no ACME capability in the {} (expected {}); listing: {listing}",
            job.kind.name(),
            requirement(job.kind),
            found.source,
            found.expected_form(&expected.digest)
        ))),
        AcmeCapability::Malformed(why) => Err(incorrect(format!(
            "{} ({}): {place}: malformed ACME capability: {why}; listing: {listing}",
            job.kind.name(),
            requirement(job.kind)
        ))),
    }
}

/// The requirement id a capability challenge checks.
fn requirement(kind: ChallengeKind) -> &'static str {
    kind.email_tls_requirement()
        .unwrap_or(acmeproof_protocol::requirements::TLS_9)
}

/// What went wrong in a dialog.
#[derive(Debug)]
enum DialogError {
    Io(std::io::Error),
    Closed,
    LineTooLong,
    Tls(String),
    /// The server answered something the protocol does not allow at that point.
    Protocol(String),
}

impl DialogError {
    fn problem(self, place: &str) -> Problem {
        match self {
            DialogError::Io(e) => Problem::new(ProblemType::Connection, format!("{place}: {e}")),
            DialogError::Closed => Problem::new(
                ProblemType::Connection,
                format!("{place}: the server closed the connection"),
            ),
            DialogError::LineTooLong => incorrect(format!(
                "{place}: a reply line is longer than {MAX_LINE} octets"
            )),
            DialogError::Tls(e) => Problem::new(
                ProblemType::Tls,
                format!("{place}: TLS handshake failed: {e}"),
            ),
            DialogError::Protocol(e) => incorrect(format!("{place}: {e}")),
        }
    }
}

impl From<std::io::Error> for DialogError {
    fn from(e: std::io::Error) -> Self {
        DialogError::Io(e)
    }
}

trait Io: AsyncRead + AsyncWrite + Unpin + Send {}
impl<T: AsyncRead + AsyncWrite + Unpin + Send> Io for T {}

/// One connection, with bounded line reads.
struct Conn {
    r: BufReader<Box<dyn Io>>,
}

impl Conn {
    fn new(io: Box<dyn Io>) -> Conn {
        Conn {
            r: BufReader::new(io),
        }
    }

    async fn line(&mut self) -> Result<String, DialogError> {
        let mut buf = Vec::new();
        let n = (&mut self.r)
            .take(MAX_LINE as u64)
            .read_until(b'\n', &mut buf)
            .await?;
        if n == 0 {
            return Err(DialogError::Closed);
        }
        if !buf.ends_with(b"\n") {
            return Err(if buf.len() >= MAX_LINE {
                DialogError::LineTooLong
            } else {
                DialogError::Closed
            });
        }
        let text = String::from_utf8_lossy(&buf);
        Ok(text.trim_end_matches(['\r', '\n']).to_owned())
    }

    async fn send(&mut self, line: &str) -> Result<(), DialogError> {
        let io = self.r.get_mut();
        io.write_all(format!("{line}\r\n").as_bytes()).await?;
        io.flush().await?;
        Ok(())
    }

    /// Upgrades to TLS (no certificate check; see the module documentation).
    async fn tls(self, sni: &str) -> Result<Conn, DialogError> {
        if !self.r.buffer().is_empty() {
            // RFC 3207 §4.2, the CVE-2011-0411 class: bytes sent before the handshake
            // must not be read as if they came over TLS.
            return Err(DialogError::Protocol(
                "the server sent data after its STARTTLS answer, before the TLS handshake".into(),
            ));
        }
        let io = self.r.into_inner();
        Ok(Conn::new(Box::new(handshake(io, sni).await?)))
    }

    /// A multi-line SMTP reply (RFC 5321 §4.2.1): lines until `NNN ` or a bare `NNN`.
    async fn smtp_reply(&mut self) -> Result<Vec<String>, DialogError> {
        let mut lines = Vec::new();
        loop {
            let line = self.line().await?;
            let last = line.len() == 3 || line.as_bytes().get(3) == Some(&b' ');
            lines.push(line);
            if last {
                return Ok(lines);
            }
            if lines.len() >= MAX_LINES {
                return Err(DialogError::Protocol(format!(
                    "an SMTP reply of more than {MAX_LINES} lines"
                )));
            }
        }
    }
}

async fn handshake(
    io: Box<dyn Io>,
    sni: &str,
) -> Result<tokio_rustls::client::TlsStream<Box<dyn Io>>, DialogError> {
    let provider = crate::ring_provider();
    let config = rustls::ClientConfig::builder_with_provider(Arc::clone(&provider))
        .with_safe_default_protocol_versions()
        .map_err(|e| DialogError::Tls(e.to_string()))?
        .dangerous()
        .with_custom_certificate_verifier(Arc::new(super::any_certificate::AnyCertificate(
            provider,
        )))
        .with_no_client_auth();
    let name = ServerName::try_from(sni.to_owned())
        .map_err(|e| DialogError::Tls(format!("server name {sni:?}: {e}")))?;
    tokio_rustls::TlsConnector::from(Arc::new(config))
        .connect(name, io)
        .await
        .map_err(|e| DialogError::Tls(e.to_string()))
}

/// What one dialog found.
struct Found {
    kind: ChallengeKind,
    /// What the listing is (`EHLO reply`, `CAPA response`, …).
    source: &'static str,
    /// The listing the capability was looked for in, as received.
    lines: Vec<String>,
    capability: AcmeCapability,
}

impl Found {
    fn shown(&self) -> String {
        let joined = self.lines.join(" | ");
        if joined.len() > 600 {
            let cut = joined
                .char_indices()
                .map(|(i, _)| i)
                .take_while(|i| *i <= 600)
                .last()
                .unwrap_or(0);
            format!("{}…", &joined[..cut])
        } else {
            joined
        }
    }

    fn expected_form(&self, digest: &str) -> String {
        match self.kind {
            ChallengeKind::CapabilityImap00 => email_tls::imap_capability(digest),
            ChallengeKind::CapabilityPop00 => email_tls::pop3_capability(digest),
            _ => email_tls::ehlo_capability(digest),
        }
    }
}

/// The protocol steps of one validation.
struct Dialog {
    kind: ChallengeKind,
    service: Service,
    sni: String,
    implicit: bool,
    after: bool,
}

impl Dialog {
    async fn run(self, tcp: TcpStream) -> Result<Found, DialogError> {
        let mut conn = Conn::new(Box::new(tcp));
        if self.implicit {
            // RFC 8314 §3.3: "the TLS negotiation starts immediately".
            conn = conn.tls(&self.sni).await?;
        }
        let (source, lines) = match self.kind {
            ChallengeKind::CapabilityImap00 => self.imap(conn).await?,
            ChallengeKind::CapabilityPop00 => ("CAPA response", self.pop3(conn).await?),
            _ if self.service == Service::Lmtp => ("LHLO reply", self.smtp(conn).await?),
            _ => ("EHLO reply", self.smtp(conn).await?),
        };
        let refs: Vec<&str> = lines.iter().map(String::as_str).collect();
        let capability = match self.kind {
            ChallengeKind::CapabilityImap00 => {
                let atoms: Vec<&str> = refs
                    .iter()
                    .flat_map(|l| email_tls::imap_capabilities_from_line(l))
                    .collect();
                email_tls::find_acme_in_imap_capabilities(&atoms)
            }
            ChallengeKind::CapabilityPop00 => email_tls::find_acme_in_capa(&refs),
            _ => email_tls::find_acme_in_ehlo(&refs),
        };
        Ok(Found {
            kind: self.kind,
            source,
            lines,
            capability,
        })
    }

    /// RFC 5321 §4.1.1.1 EHLO (RFC 2033 §4.1 LHLO for LMTP), §4.1.4 / RFC 3207 STARTTLS.
    async fn smtp(&self, mut conn: Conn) -> Result<Vec<String>, DialogError> {
        let greeting = conn.smtp_reply().await?;
        if !greeting[0].starts_with("220") {
            return Err(DialogError::Protocol(format!(
                "SMTP greeting is not 220: {}",
                greeting.join(" | ")
            )));
        }
        let verb = if self.service == Service::Lmtp {
            "LHLO"
        } else {
            "EHLO"
        };
        let mut ehlo = smtp_ehlo(&mut conn, verb).await?;
        if self.after {
            if !ehlo.iter().any(|l| {
                l.get(4..)
                    .is_some_and(|k| k.eq_ignore_ascii_case("STARTTLS"))
            }) {
                return Err(DialogError::Protocol(format!(
                    "the server does not offer STARTTLS (knob capability_phase = after-starttls); {verb}: {}",
                    ehlo.join(" | ")
                )));
            }
            conn.send("STARTTLS").await?;
            let answer = conn.smtp_reply().await?;
            if !answer[0].starts_with("220") {
                return Err(DialogError::Protocol(format!(
                    "STARTTLS answered {}",
                    answer.join(" | ")
                )));
            }
            conn = conn.tls(&self.sni).await?;
            // RFC 3207 §4.2: the client MUST discard what it knew and send EHLO again.
            ehlo = smtp_ehlo(&mut conn, verb).await?;
        }
        let _ = conn.send("QUIT").await;
        Ok(ehlo)
    }

    /// RFC 3501 §7.1 greeting `[CAPABILITY …]`, §6.1.1 CAPABILITY, §6.2.1 STARTTLS.
    async fn imap(&self, mut conn: Conn) -> Result<(&'static str, Vec<String>), DialogError> {
        let greeting = conn.line().await?;
        if !greeting.starts_with("* OK") && !greeting.starts_with("* PREAUTH") {
            return Err(DialogError::Protocol(format!(
                "IMAP greeting is not * OK: {greeting}"
            )));
        }
        if self.after {
            let (_, done) = imap_command(&mut conn, "a1", "STARTTLS").await?;
            if !done.starts_with("a1 OK") {
                return Err(DialogError::Protocol(format!(
                    "STARTTLS answered {done} (knob capability_phase = after-starttls)"
                )));
            }
            conn = conn.tls(&self.sni).await?;
            // RFC 3501 §6.2.1: after STARTTLS the client MUST discard cached capabilities.
            let (mut lines, done) = imap_command(&mut conn, "a2", "CAPABILITY").await?;
            lines.push(done);
            let _ = conn.send("a3 LOGOUT").await;
            return Ok(("CAPABILITY response under TLS", lines));
        }
        // -05 §3.4: "ACME=" in the greeting's CAPABILITY response code or in CAPABILITY: a
        // greeting code that mentions ACME decides; otherwise the CAPABILITY command is asked.
        let greeting_atoms = email_tls::imap_capabilities_from_line(&greeting);
        if email_tls::find_acme_in_imap_capabilities(&greeting_atoms) != AcmeCapability::Absent {
            let _ = conn.send("a1 LOGOUT").await;
            return Ok(("greeting's CAPABILITY response code", vec![greeting]));
        }
        let (mut lines, done) = imap_command(&mut conn, "a1", "CAPABILITY").await?;
        lines.push(done);
        let _ = conn.send("a2 LOGOUT").await;
        Ok(("CAPABILITY response", lines))
    }

    /// RFC 2449 §5 CAPA, RFC 2595 §4 STLS.
    async fn pop3(&self, mut conn: Conn) -> Result<Vec<String>, DialogError> {
        let greeting = conn.line().await?;
        if !greeting.starts_with("+OK") {
            return Err(DialogError::Protocol(format!(
                "POP3 greeting is not +OK: {greeting}"
            )));
        }
        if self.after {
            conn.send("STLS").await?;
            let answer = conn.line().await?;
            if !answer.starts_with("+OK") {
                return Err(DialogError::Protocol(format!(
                    "STLS answered {answer} (knob capability_phase = after-starttls)"
                )));
            }
            conn = conn.tls(&self.sni).await?;
        }
        conn.send("CAPA").await?;
        let first = conn.line().await?;
        if !first.starts_with("+OK") {
            return Err(DialogError::Protocol(format!("CAPA answered {first}")));
        }
        let mut lines = vec![first];
        loop {
            let line = conn.line().await?;
            let end = line == ".";
            lines.push(line);
            if end {
                break;
            }
            if lines.len() >= MAX_LINES {
                return Err(DialogError::Protocol(format!(
                    "a CAPA listing of more than {MAX_LINES} lines"
                )));
            }
        }
        let _ = conn.send("QUIT").await;
        Ok(lines)
    }
}

async fn smtp_ehlo(conn: &mut Conn, verb: &str) -> Result<Vec<String>, DialogError> {
    conn.send(&format!("{verb} {CA_HELO}")).await?;
    let reply = conn.smtp_reply().await?;
    if !reply[0].starts_with("250") {
        return Err(DialogError::Protocol(format!(
            "{verb} answered {}",
            reply.join(" | ")
        )));
    }
    Ok(reply)
}

/// Sends `tag command`; returns the untagged lines and the tagged completion.
async fn imap_command(
    conn: &mut Conn,
    tag: &str,
    command: &str,
) -> Result<(Vec<String>, String), DialogError> {
    conn.send(&format!("{tag} {command}")).await?;
    let mut untagged = Vec::new();
    loop {
        let line = conn.line().await?;
        if line.starts_with(&format!("{tag} ")) {
            return Ok((untagged, line));
        }
        untagged.push(line);
        if untagged.len() >= MAX_LINES {
            return Err(DialogError::Protocol(format!(
                "more than {MAX_LINES} lines before the {command} completion"
            )));
        }
    }
}
