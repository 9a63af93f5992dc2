//! The bounded wire log of a line server: every command received and response line sent, per
//! connection, bounded in lines and in octets. SMTP, LMTP, IMAP and POP3 each keep one.

use std::collections::VecDeque;
use std::sync::Mutex;

use time::OffsetDateTime;

use crate::clock::Clock;

/// Which way a line went.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Direction {
    /// A command (or a message sent as one entry, or `<redacted>` for secrets).
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

/// All the text one transcript holds: the oldest lines go first when a new one would pass it,
/// so a peer that sends many large messages cannot grow the log without bound.
pub const TRANSCRIPT_OCTETS: usize = 8 * 1024 * 1024;

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

    /// Keeps one line; an owned `String` is kept as it is (a DATA section is not copied again).
    pub(crate) fn record(&self, conn_id: u64, direction: Direction, line: impl Into<String>) {
        if self.capacity == 0 {
            return;
        }
        let entry = TranscriptLine {
            conn_id,
            at: self.clock.now(),
            direction,
            line: line.into(),
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
    fn the_log_keeps_within_its_octet_budget() {
        let log = Transcript::new(1_000, Clock::system());
        const LINE: usize = 64 * 1024;
        let line = "x".repeat(LINE);
        for _ in 0..(TRANSCRIPT_OCTETS / LINE + 5) {
            log.record(1, Direction::ClientToServer, &line);
        }
        let kept = log.snapshot();
        let octets: usize = kept.iter().map(|l| l.line.len()).sum();
        assert!(octets <= TRANSCRIPT_OCTETS, "{octets}");
        assert_eq!(kept.len(), TRANSCRIPT_OCTETS / LINE);
    }
}
