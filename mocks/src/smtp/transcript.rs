//! The bounded wire log: every command line received and reply line sent, per connection.

use std::collections::VecDeque;
use std::sync::Mutex;

use time::OffsetDateTime;

use crate::clock::Clock;

/// Which way a line went.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Direction {
    /// A command (or `<N octets of DATA>`, or `<redacted>` for AUTH secrets).
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

pub(crate) struct Transcript {
    lines: Mutex<VecDeque<TranscriptLine>>,
    capacity: usize,
    clock: Clock,
}

impl Transcript {
    pub(crate) fn new(capacity: usize, clock: Clock) -> Self {
        Transcript {
            lines: Mutex::new(VecDeque::new()),
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
        if let Ok(mut lines) = self.lines.lock() {
            while lines.len() >= self.capacity {
                lines.pop_front();
            }
            lines.push_back(entry);
        }
    }

    pub(crate) fn snapshot(&self) -> Vec<TranscriptLine> {
        self.lines
            .lock()
            .map(|l| l.iter().cloned().collect())
            .unwrap_or_default()
    }
}
