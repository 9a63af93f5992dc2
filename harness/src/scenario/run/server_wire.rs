//! The transcript of a scenario against a server under test. The world is shared by every
//! scenario of the run, so its servers' logs mix them all; what belongs to this scenario is
//! what its own client sent and got over HTTPS, the challenge mail as it reached the
//! scenario's mailbox, and the reply as the harness sent it. The scenario's mailbox passwords
//! are redacted from every entry.

use acmeproof_reports::{Channel, Direction, TranscriptEntry};
use time::OffsetDateTime;

use super::Context;
use crate::sut::client_cmd::REDACTED;

/// A mail the scenario saw or sent, kept until the transcript is put together.
#[derive(Debug, Clone)]
pub(super) struct MailNote {
    at: OffsetDateTime,
    direction: Direction,
    endpoint: String,
    text: String,
}

impl Context<'_> {
    /// Keeps a mail for a server run's transcript: `what` (e.g. "the challenge mail as
    /// received"), where it was seen, and its bytes. Only in a server run: otherwise the
    /// world's own servers' transcripts show the mail on the wire.
    pub(super) fn note_mail(
        &mut self,
        what: &str,
        direction: Direction,
        endpoint: &str,
        raw: &[u8],
    ) {
        if !matches!(self.sut, crate::sut::Sut::Server(_)) {
            return;
        }
        self.mail_notes.push(MailNote {
            at: OffsetDateTime::now_utc(),
            direction,
            endpoint: endpoint.to_owned(),
            text: format!("{what}:\n{}", String::from_utf8_lossy(raw)),
        });
    }

    /// The challenge mail as it reached `address`'s INBOX.
    pub(super) fn note_challenge_mail(&mut self, address: &str, raw: &[u8]) {
        self.note_mail(
            "the challenge mail as received",
            Direction::ServerToClient,
            address,
            raw,
        );
    }

    /// This scenario's wire in a server run, in time order, secrets redacted.
    pub(super) fn server_transcript(&mut self) -> Vec<TranscriptEntry> {
        let mut lines: Vec<(OffsetDateTime, Channel, Direction, String, String)> = Vec::new();
        if let Some(client) = &self.client {
            let (exchanges, dropped) = client.take_wire();
            for e in exchanges {
                lines.push((
                    e.at,
                    Channel::Http,
                    Direction::ClientToServer,
                    String::new(),
                    e.request_text(),
                ));
                lines.push((
                    e.at,
                    Channel::Http,
                    Direction::ServerToClient,
                    String::new(),
                    e.answer_text(),
                ));
            }
            if dropped > 0 {
                lines.push((
                    OffsetDateTime::now_utc(),
                    Channel::Http,
                    Direction::ClientToServer,
                    String::new(),
                    format!("({dropped} more exchanges not kept)"),
                ));
            }
        }
        for note in std::mem::take(&mut self.mail_notes) {
            lines.push((
                note.at,
                Channel::Smtp,
                note.direction,
                note.endpoint,
                note.text,
            ));
        }
        // Stable: a request stays before its answer.
        lines.sort_by_key(|l| l.0);
        let first = lines.first().map(|l| l.0);
        let directory = match self.sut {
            crate::sut::Sut::Server(target) => target.directory_url.clone(),
            _ => String::new(),
        };
        let secrets: Vec<String> = self
            .mailboxes
            .passwords()
            .filter(|p| !p.is_empty())
            .map(str::to_owned)
            .collect();
        lines
            .into_iter()
            .enumerate()
            .map(
                |(seq, (at, channel, direction, endpoint, text))| TranscriptEntry {
                    seq: seq as u64,
                    at_ms: first
                        .map(|f| u64::try_from((at - f).whole_milliseconds()).unwrap_or(0))
                        .unwrap_or(0),
                    channel,
                    direction,
                    conn: None,
                    endpoint: if endpoint.is_empty() {
                        directory.clone()
                    } else {
                        endpoint
                    },
                    text: redact(text, &secrets),
                },
            )
            .collect()
    }
}

/// `text` with every secret replaced by [`REDACTED`].
fn redact(mut text: String, secrets: &[String]) -> String {
    for secret in secrets {
        text = text.replace(secret.as_str(), REDACTED);
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_secret_is_redacted_and_nothing_else() {
        let secrets = vec!["s3cret".to_owned(), "other".to_owned()];
        assert_eq!(
            redact("AUTH PLAIN s3cret and other, not othe".into(), &secrets),
            format!("AUTH PLAIN {REDACTED} and {REDACTED}, not othe")
        );
        assert_eq!(redact("nothing here".into(), &secrets), "nothing here");
    }
}
