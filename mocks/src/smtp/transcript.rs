//! The bounded wire log: every command line received and reply line sent, per connection.

use std::collections::VecDeque;
use std::sync::Mutex;

use time::OffsetDateTime;

use crate::clock::Clock;

/// Which way a line went.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Direction {
    /// A command (or the DATA section as one entry, or `<redacted>` for AUTH secrets).
    ClientToServer,
    /// A reply line.
    ServerToClient,
}

/// One logged line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TranscriptLine {
    /// The connection, numbered from 1 in accept order.
    pub conn_id: u64,
    /// World-clock time.
    pub at: OffsetDateTime,
    /// Which way.
    pub direction: Direction,
    /// The line without CRLF (lossy UTF-8).
    pub line: String,
}

/// How much of one DATA section a transcript keeps: the rest is counted, not kept.
pub const DATA_SHOWN_OCTETS: usize = 64 * 1024;

/// All the text one transcript holds: the oldest lines go first when a new one would pass it,
/// so a peer that sends many large messages cannot grow the log without bound.
pub const TRANSCRIPT_OCTETS: usize = 8 * 1024 * 1024;

/// The transcript form of a DATA section: the message as received (lossy UTF-8, CRLF kept),
/// cut after [`DATA_SHOWN_OCTETS`] with a count of what follows; a section the server refused
/// is only counted.
pub(crate) fn data_shown(data: Option<&[u8]>, octets: usize) -> String {
    let Some(data) = data else {
        return format!("<{octets} octets of DATA, refused>");
    };
    let shown = &data[..data.len().min(DATA_SHOWN_OCTETS)];
    let mut text = String::from_utf8_lossy(shown).into_owned();
    if data.len() > shown.len() {
        text.push_str(&format!("… {} more octets", data.len() - shown.len()));
    }
    text
}

pub(crate) struct Transcript {
    lines: Mutex<Kept>,
    capacity: usize,
    clock: Clock,
}

#[derive(Default)]
struct Kept {
    lines: VecDeque<TranscriptLine>,
    octets: usize,
}

impl Transcript {
    pub(crate) fn new(capacity: usize, clock: Clock) -> Self {
        Transcript {
            lines: Mutex::new(Kept::default()),
            capacity,
            clock,
        }
    }

    pub(crate) fn record(&self, conn_id: u64, direction: Direction, line: &str) {
        if self.capacity == 0 {
            return;
        }
        let entry = TranscriptLine {
            conn_id,
            at: self.clock.now(),
            direction,
            line: line.to_owned(),
        };
        if let Ok(mut kept) = self.lines.lock() {
            let size = entry.line.len();
            while !kept.lines.is_empty()
                && (kept.lines.len() >= self.capacity || kept.octets + size > TRANSCRIPT_OCTETS)
            {
                if let Some(old) = kept.lines.pop_front() {
                    kept.octets -= old.line.len();
                }
            }
            kept.octets += size;
            kept.lines.push_back(entry);
        }
    }

    pub(crate) fn snapshot(&self) -> Vec<TranscriptLine> {
        self.lines
            .lock()
            .map(|k| k.lines.iter().cloned().collect())
            .unwrap_or_default()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn data_is_shown_up_to_the_cap_and_counted_beyond() {
        assert_eq!(
            data_shown(Some(b"Subject: x\r\n\r\nhi\r\n"), 17),
            "Subject: x\r\n\r\nhi\r\n"
        );
        let big = vec![b'a'; DATA_SHOWN_OCTETS + 10];
        let shown = data_shown(Some(&big), big.len());
        assert!(
            shown.ends_with("… 10 more octets"),
            "{}",
            &shown[shown.len() - 40..]
        );
        assert_eq!(shown.len(), DATA_SHOWN_OCTETS + "… 10 more octets".len());
        assert_eq!(data_shown(None, 99), "<99 octets of DATA, refused>");
    }

    #[test]
    fn the_log_keeps_within_its_octet_budget() {
        let log = Transcript::new(1_000, Clock::system());
        let line = "x".repeat(DATA_SHOWN_OCTETS);
        for _ in 0..(TRANSCRIPT_OCTETS / DATA_SHOWN_OCTETS + 5) {
            log.record(1, Direction::ClientToServer, &line);
        }
        let kept = log.snapshot();
        let octets: usize = kept.iter().map(|l| l.line.len()).sum();
        assert!(octets <= TRANSCRIPT_OCTETS, "{octets}");
        assert_eq!(kept.len(), TRANSCRIPT_OCTETS / DATA_SHOWN_OCTETS);
    }
}
