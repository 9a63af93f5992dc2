//! The wire of a run, gathered from every server of the world after the run: HTTP requests to
//! the CA, DNS queries, and the SMTP, LMTP, IMAP and POP3 lines of each server, as the
//! reports' [`TranscriptEntry`]s in time order.

use acmeproof_mocks::ca::server::RequestRecord;
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

/// An ACME request as the transcript shows it: the request line, then the JWS protected header
/// and payload as the CA decoded them (a finalize payload holds a CSR, never a secret).
fn request_text(r: &RequestRecord) -> String {
    let mut text = format!("{} {}", r.method, r.path);
    for (name, value) in [("protected", &r.protected), ("payload", &r.payload)] {
        if let Some(value) = value {
            text.push_str(&format!("\n{name}: {value}"));
        }
    }
    text
}

/// The CA's answer: the status, and for a problem document its type, detail and the
/// requirement the CA found broken.
fn answer_text(r: &RequestRecord) -> String {
    let Some(problem) = &r.problem else {
        return r.status.to_string();
    };
    let mut text = format!("{} urn:ietf:params:acme:error:{problem}", r.status);
    if let Some(detail) = &r.detail {
        text.push_str(&format!(": {detail}"));
    }
    if let Some(req) = &r.violates {
        text.push_str(&violation_tag(req));
    }
    text
}

/// How an answer's text names the requirement the CA found broken.
fn violation_tag(req: &str) -> String {
    format!(" [{req}]")
}

/// The transcript index of the CA's first answer that refused a request for breaking `req`:
/// the wire a finding under `req` points at, when the CA tagged one.
pub fn answer_refusing(transcript: &[TranscriptEntry], req: &str) -> Option<usize> {
    let tag = violation_tag(req);
    transcript.iter().position(|e| {
        e.channel == Channel::Http
            && e.direction == Direction::ServerToClient
            && e.text.ends_with(&tag)
    })
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
        out.push(line(Direction::ClientToServer, request_text(&r)));
        out.push(line(Direction::ServerToClient, answer_text(&r)));
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

#[cfg(test)]
mod tests {
    use super::*;

    fn record(problem: Option<&str>, violates: Option<&str>) -> RequestRecord {
        RequestRecord {
            seq: 0,
            at: String::new(),
            method: "POST".into(),
            path: "/acme/new-order".into(),
            status: if problem.is_some() { 400 } else { 201 },
            problem: problem.map(str::to_owned),
            detail: problem.map(|_| "no wildcard in an email identifier".to_owned()),
            violates: violates.map(str::to_owned),
            protected: Some(serde_json::json!({"alg": "ES256"})),
            payload: Some(serde_json::json!({"identifiers": []})),
            user_agent: None,
            replay_nonce: None,
        }
    }

    #[test]
    fn a_request_shows_its_decoded_header_and_payload() {
        let text = request_text(&record(None, None));
        assert_eq!(
            text,
            "POST /acme/new-order\nprotected: {\"alg\":\"ES256\"}\npayload: {\"identifiers\":[]}"
        );
    }

    #[test]
    fn a_finding_points_at_the_answer_that_refused_its_rule() {
        let refused = record(Some("rejectedIdentifier"), Some("SMIME-1"));
        assert_eq!(
            answer_text(&refused),
            "400 urn:ietf:params:acme:error:rejectedIdentifier: no wildcard in an email \
             identifier [SMIME-1]"
        );
        let entry = |direction, text: String| TranscriptEntry {
            seq: 0,
            at_ms: 0,
            channel: Channel::Http,
            direction,
            conn: None,
            endpoint: "ca".into(),
            text,
        };
        let ok = record(None, None);
        let transcript = vec![
            entry(Direction::ClientToServer, request_text(&ok)),
            entry(Direction::ServerToClient, answer_text(&ok)),
            entry(Direction::ClientToServer, request_text(&refused)),
            entry(Direction::ServerToClient, answer_text(&refused)),
        ];
        assert_eq!(answer_refusing(&transcript, "SMIME-1"), Some(3));
        assert_eq!(answer_refusing(&transcript, "SMIME-12"), None);
    }
}
