//! The world's clock. Order and authorization lifetimes, Retry-After and certificate validity
//! read it, so a scenario can expire an order by advancing virtual time instead of waiting.

use std::sync::Arc;
use std::sync::atomic::{AtomicI64, Ordering};

use time::OffsetDateTime;

/// A clock that is either the wall clock or the wall clock shifted by a settable offset.
///
/// Cloning shares the offset: advancing one handle advances every component of the world.
#[derive(Debug, Clone, Default)]
pub struct Clock {
    offset_ms: Arc<AtomicI64>,
    frozen_at_ms: Option<i64>,
}

impl Clock {
    /// The wall clock, with a zero offset that [`Clock::advance`] can move.
    pub fn system() -> Self {
        Self::default()
    }

    /// A clock fixed at `at` (plus whatever [`Clock::advance`] adds): for deterministic runs.
    pub fn frozen(at: OffsetDateTime) -> Self {
        Clock {
            offset_ms: Arc::new(AtomicI64::new(0)),
            frozen_at_ms: Some(unix_ms(at)),
        }
    }

    /// The current time of the world.
    pub fn now(&self) -> OffsetDateTime {
        let base = self
            .frozen_at_ms
            .unwrap_or_else(|| unix_ms(OffsetDateTime::now_utc()));
        let ms = base.saturating_add(self.offset_ms.load(Ordering::Relaxed));
        OffsetDateTime::from_unix_timestamp_nanos(i128::from(ms) * 1_000_000)
            .unwrap_or(OffsetDateTime::UNIX_EPOCH)
    }

    /// Moves the world's time forward (or back, with a negative duration).
    pub fn advance(&self, by: time::Duration) {
        let ms = i64::try_from(by.whole_milliseconds()).unwrap_or(i64::MAX);
        self.offset_ms.fetch_add(ms, Ordering::Relaxed);
    }

    /// How far [`Clock::advance`] has moved this clock in total.
    pub fn offset(&self) -> time::Duration {
        time::Duration::milliseconds(self.offset_ms.load(Ordering::Relaxed))
    }
}

fn unix_ms(at: OffsetDateTime) -> i64 {
    i64::try_from(at.unix_timestamp_nanos() / 1_000_000).unwrap_or(i64::MAX)
}

/// RFC 3339 with second precision and a `Z`, the form RFC 8555 timestamps take.
pub fn rfc3339(at: OffsetDateTime) -> String {
    let at = at.to_offset(time::UtcOffset::UTC);
    format!(
        "{:04}-{:02}-{:02}T{:02}:{:02}:{:02}Z",
        at.year(),
        u8::from(at.month()),
        at.day(),
        at.hour(),
        at.minute(),
        at.second()
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn advancing_a_clone_moves_the_original() {
        let clock = Clock::frozen(OffsetDateTime::UNIX_EPOCH);
        let other = clock.clone();
        other.advance(time::Duration::hours(25));
        assert_eq!(clock.now().unix_timestamp(), 25 * 3600);
        assert_eq!(clock.offset(), time::Duration::hours(25));
    }

    #[test]
    fn rfc3339_has_seconds_and_z() {
        let at = OffsetDateTime::from_unix_timestamp(1_700_000_000).unwrap();
        assert_eq!(rfc3339(at), "2023-11-14T22:13:20Z");
    }
}
