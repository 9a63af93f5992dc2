//! The wire of a run, gathered from every server of the world after the run: HTTP requests to
//! the CA, DNS queries, and the SMTP, LMTP, IMAP and POP3 lines of each server.

use acmeproof_mocks::imap::{Direction, TranscriptLine};
use acmeproof_mocks::world::World;
use time::OffsetDateTime;

/// One line of the wire.
#[derive(Debug, Clone)]
pub struct Line {
    /// World time.
    pub at: OffsetDateTime,
    /// `http`, `dns`, `smtp`, `lmtp`, `imap` or `pop3`.
    pub channel: &'static str,
    /// Which server (`ca`, `mx`, `submission`, `relay1`, `imap`, …).
    pub endpoint: String,
    /// Towards the server (`true`) or from it.
    pub to_server: bool,
    /// The connection, when the server numbers them.
    pub conn: Option<u64>,
    /// The text.
    pub text: String,
}

fn lines(
    out: &mut Vec<Line>,
    channel: &'static str,
    endpoint: &str,
    transcript: Vec<TranscriptLine>,
) {
    out.extend(transcript.into_iter().map(|l| Line {
        at: l.at,
        channel,
        endpoint: endpoint.to_owned(),
        to_server: l.direction == Direction::ClientToServer,
        conn: Some(l.conn_id),
        text: l.line,
    }));
}

/// Everything that crossed the wire in `world`, in time order (stable within a server).
pub fn collect(world: &World) -> Vec<Line> {
    let mut out = Vec::new();
    for r in world.ca.shared().history() {
        let at = OffsetDateTime::parse(&r.at, &time::format_description::well_known::Rfc3339)
            .unwrap_or(OffsetDateTime::UNIX_EPOCH);
        out.push(Line {
            at,
            channel: "http",
            endpoint: "ca".into(),
            to_server: true,
            conn: None,
            text: format!("{} {}", r.method, r.path),
        });
        out.push(Line {
            at,
            channel: "http",
            endpoint: "ca".into(),
            to_server: false,
            conn: None,
            text: match r.problem {
                Some(problem) => format!("{} {problem}", r.status),
                None => r.status.to_string(),
            },
        });
    }
    for q in world.dns.history() {
        out.push(Line {
            at: q.time,
            channel: "dns",
            endpoint: "dns".into(),
            to_server: true,
            conn: None,
            text: format!(
                "{} {} {} → {} ({} answers)",
                q.opcode,
                q.name,
                q.qtype,
                q.rcode.as_deref().unwrap_or("-"),
                q.answers
            ),
        });
    }
    if let Some(mail) = &world.mail {
        lines(&mut out, "smtp", "mx", mail.mx.transcript());
        lines(&mut out, "smtp", "submission", mail.submission.transcript());
        lines(
            &mut out,
            "smtp",
            "submissions",
            mail.submissions.transcript(),
        );
        lines(&mut out, "lmtp", "lmtp", mail.lmtp.transcript());
        lines(&mut out, "smtp", "ca-mx", mail.ca_mx.transcript());
        for (name, server, _) in &mail.relays {
            lines(&mut out, "smtp", name, server.transcript());
        }
        lines(&mut out, "imap", "imap", mail.imap.transcript());
        lines(&mut out, "imap", "imaps", mail.imaps.transcript());
        lines(&mut out, "pop3", "pop3", mail.pop3.transcript());
        lines(&mut out, "pop3", "pop3s", mail.pop3s.transcript());
    }
    out.sort_by_key(|l| l.at);
    out
}
