//! The wire of a run, gathered from every server of the world after the run: HTTP requests to
//! the CA, DNS queries, and the SMTP, LMTP, IMAP and POP3 lines of each server, as the
//! reports' [`TranscriptEntry`]s in time order.

use acmeproof_mocks::imap::TranscriptLine;
use acmeproof_mocks::world::World;
use acmeproof_reports::{Channel, Direction, TranscriptEntry};
use time::OffsetDateTime;

/// One line before it is numbered and timed relative to the first.
struct Line {
    at: OffsetDateTime,
    channel: Channel,
    endpoint: String,
    direction: Direction,
    conn: Option<u64>,
    text: String,
}

fn server_lines(
    out: &mut Vec<Line>,
    channel: Channel,
    endpoint: &str,
    transcript: Vec<TranscriptLine>,
) {
    out.extend(transcript.into_iter().map(|l| Line {
        at: l.at,
        channel,
        endpoint: endpoint.to_owned(),
        direction: match l.direction {
            acmeproof_mocks::imap::Direction::ClientToServer => Direction::ClientToServer,
            acmeproof_mocks::imap::Direction::ServerToClient => Direction::ServerToClient,
        },
        conn: Some(l.conn_id),
        text: l.line,
    }));
}

/// Everything that crossed the wire in `world`, in time order (stable within a server), with
/// milliseconds counted from the first line.
pub fn collect(world: &World) -> Vec<TranscriptEntry> {
    let mut out = Vec::new();
    for r in world.ca.shared().history() {
        let at = OffsetDateTime::parse(&r.at, &time::format_description::well_known::Rfc3339)
            .unwrap_or(OffsetDateTime::UNIX_EPOCH);
        let line = |direction, text| Line {
            at,
            channel: Channel::Http,
            endpoint: "ca".into(),
            direction,
            conn: None,
            text,
        };
        out.push(line(
            Direction::ClientToServer,
            format!("{} {}", r.method, r.path),
        ));
        out.push(line(
            Direction::ServerToClient,
            match r.problem {
                Some(problem) => format!("{} {problem}", r.status),
                None => r.status.to_string(),
            },
        ));
    }
    for q in world.dns.history() {
        out.push(Line {
            at: q.time,
            channel: Channel::Dns,
            endpoint: "dns".into(),
            direction: Direction::ClientToServer,
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
        server_lines(&mut out, Channel::Smtp, "mx", mail.mx.transcript());
        server_lines(
            &mut out,
            Channel::Smtp,
            "submission",
            mail.submission.transcript(),
        );
        server_lines(
            &mut out,
            Channel::Smtp,
            "submissions",
            mail.submissions.transcript(),
        );
        server_lines(&mut out, Channel::Lmtp, "lmtp", mail.lmtp.transcript());
        server_lines(&mut out, Channel::Smtp, "ca-mx", mail.ca_mx.transcript());
        for (name, server, _) in &mail.relays {
            server_lines(&mut out, Channel::Smtp, name, server.transcript());
        }
        server_lines(&mut out, Channel::Imap, "imap", mail.imap.transcript());
        server_lines(&mut out, Channel::Imap, "imaps", mail.imaps.transcript());
        server_lines(&mut out, Channel::Pop3, "pop3", mail.pop3.transcript());
        server_lines(&mut out, Channel::Pop3, "pop3s", mail.pop3s.transcript());
    }
    out.sort_by_key(|l| l.at);
    let first = out.first().map(|l| l.at);
    out.into_iter()
        .enumerate()
        .map(|(seq, l)| TranscriptEntry {
            seq: seq as u64,
            at_ms: first
                .map(|t0| (l.at - t0).whole_milliseconds().max(0) as u64)
                .unwrap_or_default(),
            channel: l.channel,
            direction: l.direction,
            conn: l.conn,
            endpoint: l.endpoint,
            text: l.text,
        })
        .collect()
}
