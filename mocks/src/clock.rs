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
    /// Waits of the world's own behaviour ([`Clock::sleep`]) pass in world time: the clock
    /// jumps to their end instead of the task sleeping.
    world_waits: bool,
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
            world_waits: false,
        }
    }

    /// This clock (sharing its offset), with the world's behaviour waits ([`Clock::sleep`])
    /// passing in world time when `on`.
    pub fn with_world_waits(mut self, on: bool) -> Self {
        self.world_waits = on;
        self
    }

    /// Whether [`Clock::sleep`] passes in world time.
    pub fn world_waits(&self) -> bool {
        self.world_waits
    }

    /// Waits `d` as the world's own behaviour (a relay's queue delay, a sender's retry
    /// interval, a CA that validates late). In world time the clock moves to at least
    /// `now + d` and the task only yields: waits that overlap end at the same world instant,
    /// as they would in real time, and cost no wall time. Otherwise the task sleeps.
    pub async fn sleep(&self, d: std::time::Duration) {
        if !self.world_waits {
            tokio::time::sleep(d).await;
            return;
        }
        let by = time::Duration::try_from(d).unwrap_or(time::Duration::MAX);
        let target = unix_ms(self.now())
            .saturating_add(i64::try_from(by.whole_milliseconds()).unwrap_or(i64::MAX));
        self.advance_to_ms(target);
        tokio::task::yield_now().await;
    }

    /// Moves the clock forward to `target_ms` (never back, within [`latest`]).
    fn advance_to_ms(&self, target_ms: i64) {
        let target = target_ms.min(unix_ms(latest()));
        let base = self.base_ms();
        let mut current = self.offset_ms.load(Ordering::Relaxed);
        loop {
            let next = target.saturating_sub(base);
            if next <= current {
                return;
            }
            match self.offset_ms.compare_exchange(
                current,
                next,
                Ordering::Relaxed,
                Ordering::Relaxed,
            ) {
                Ok(_) => return,
                Err(actual) => current = actual,
            }
        }
    }

    /// The current time of the world.
    pub fn now(&self) -> OffsetDateTime {
        let ms = self
            .base_ms()
            .saturating_add(self.offset_ms.load(Ordering::Relaxed));
        ms_to_time(ms.clamp(unix_ms(earliest()), unix_ms(latest())))
    }

    /// Moves the world's time forward (or back, with a negative duration), stopping at the
    /// ends of [`earliest`]..=[`latest`].
    pub fn advance(&self, by: time::Duration) {
        let _ = self.shift(by, true);
    }

    /// Moves the world's time by `by` and returns the new time, or refuses (and leaves the
    /// clock alone) when that time is outside [`earliest`]..=[`latest`].
    pub fn try_advance(&self, by: time::Duration) -> Result<OffsetDateTime, OutOfRange> {
        self.shift(by, false)
    }

    fn shift(&self, by: time::Duration, clamp: bool) -> Result<OffsetDateTime, OutOfRange> {
        let by_ms = i64::try_from(by.whole_milliseconds()).unwrap_or(if by.is_negative() {
            i64::MIN
        } else {
            i64::MAX
        });
        let base = self.base_ms();
        let (lo, hi) = (unix_ms(earliest()), unix_ms(latest()));
        let mut current = self.offset_ms.load(Ordering::Relaxed);
        loop {
            let target = base.saturating_add(current).saturating_add(by_ms);
            let target = if (lo..=hi).contains(&target) {
                target
            } else if clamp {
                target.clamp(lo, hi)
            } else {
                return Err(OutOfRange(format!(
                    "moving the clock by {} s would leave {} ..= {}",
                    by.whole_seconds(),
                    rfc3339(earliest()),
                    rfc3339(latest())
                )));
            };
            let next = target.saturating_sub(base);
            match self.offset_ms.compare_exchange(
                current,
                next,
                Ordering::Relaxed,
                Ordering::Relaxed,
            ) {
                Ok(_) => return Ok(ms_to_time(target)),
                Err(actual) => current = actual,
            }
        }
    }

    fn base_ms(&self) -> i64 {
        self.frozen_at_ms
            .unwrap_or_else(|| unix_ms(OffsetDateTime::now_utc()))
    }

    /// How far [`Clock::advance`] has moved this clock in total.
    pub fn offset(&self) -> time::Duration {
        time::Duration::milliseconds(self.offset_ms.load(Ordering::Relaxed))
    }
}

/// A time RFC 3339 (four-digit years, RFC 3339 §5.6) and X.509 (RFC 5280 §4.1.2.5) cannot
/// write: the world clock and every expiry the CA computes stay in `0000-01-01T00:00:00Z ..=
/// 9999-12-31T23:59:59Z`.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct OutOfRange(String);

/// The first instant the world's times may take: 0000-01-01T00:00:00Z.
pub fn earliest() -> OffsetDateTime {
    time::PrimitiveDateTime::new(
        time::Date::from_ordinal_date(0, 1).unwrap_or(time::Date::MIN),
        time::Time::MIDNIGHT,
    )
    .assume_utc()
}

/// The last instant the world's times may take: 9999-12-31T23:59:59Z.
pub fn latest() -> OffsetDateTime {
    time::PrimitiveDateTime::new(
        time::Date::from_ordinal_date(9999, 365).unwrap_or(time::Date::MAX),
        time::Time::from_hms(23, 59, 59).unwrap_or(time::Time::MIDNIGHT),
    )
    .assume_utc()
}

/// `at + by`, or [`OutOfRange`] past [`latest`] (or before [`earliest`]): the checked form of
/// every expiry and validity the CA computes.
pub fn later(at: OffsetDateTime, by: time::Duration) -> Result<OffsetDateTime, OutOfRange> {
    at.checked_add(by)
        .filter(|t| (earliest()..=latest()).contains(t))
        .ok_or_else(|| {
            OutOfRange(format!(
                "{} plus {} s is after {}",
                rfc3339(at),
                by.whole_seconds(),
                rfc3339(latest())
            ))
        })
}

/// `at - by`, or [`OutOfRange`] before [`earliest`] (or past [`latest`]).
pub fn earlier(at: OffsetDateTime, by: time::Duration) -> Result<OffsetDateTime, OutOfRange> {
    at.checked_sub(by)
        .filter(|t| (earliest()..=latest()).contains(t))
        .ok_or_else(|| {
            OutOfRange(format!(
                "{} minus {} s is before {}",
                rfc3339(at),
                by.whole_seconds(),
                rfc3339(earliest())
            ))
        })
}

fn ms_to_time(ms: i64) -> OffsetDateTime {
    OffsetDateTime::from_unix_timestamp_nanos(i128::from(ms) * 1_000_000)
        .unwrap_or(OffsetDateTime::UNIX_EPOCH)
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
    fn the_clock_stays_within_four_digit_years() {
        let clock = Clock::frozen(OffsetDateTime::UNIX_EPOCH);
        let far = time::Duration::seconds(i64::MAX);
        let refused = clock.try_advance(far).unwrap_err();
        assert!(
            refused.to_string().contains("9999-12-31T23:59:59Z"),
            "{refused}"
        );
        assert_eq!(
            clock.now(),
            OffsetDateTime::UNIX_EPOCH,
            "a refusal leaves it alone"
        );
        assert!(
            clock
                .try_advance(time::Duration::seconds(i64::MIN))
                .is_err()
        );
        // 9999-12-31T23:59:59Z itself is allowed; one second more is not.
        let to_end = latest() - OffsetDateTime::UNIX_EPOCH;
        assert_eq!(clock.try_advance(to_end).unwrap(), latest());
        assert!(clock.try_advance(time::Duration::seconds(1)).is_err());
        assert_eq!(rfc3339(clock.now()), "9999-12-31T23:59:59Z");
        // `advance` stops at the ends instead of wrapping.
        clock.advance(far);
        assert_eq!(clock.now(), latest());
        clock.advance(time::Duration::seconds(i64::MIN));
        assert_eq!(rfc3339(clock.now()), "0000-01-01T00:00:00Z");
    }

    #[test]
    fn later_and_earlier_refuse_five_digit_years() {
        assert!(later(latest(), time::Duration::seconds(1)).is_err());
        assert!(later(latest(), time::Duration::days(365 * 100)).is_err());
        assert_eq!(later(earliest(), time::Duration::ZERO), Ok(earliest()));
        assert!(earlier(earliest(), time::Duration::seconds(1)).is_err());
        let at = OffsetDateTime::UNIX_EPOCH;
        assert_eq!(
            later(at, time::Duration::hours(1)).map(|t| t.unix_timestamp()),
            Ok(3600)
        );
    }

    /// Polls `wait` twice without letting time pass: whether it finished.
    fn finishes_at_once(wait: impl std::future::Future<Output = ()>) -> bool {
        let mut wait = std::pin::pin!(wait);
        let mut cx = std::task::Context::from_waker(std::task::Waker::noop());
        (0..2).any(|_| wait.as_mut().poll(&mut cx).is_ready())
    }

    #[tokio::test]
    async fn a_world_wait_moves_the_clock_instead_of_sleeping() {
        let clock = Clock::frozen(OffsetDateTime::UNIX_EPOCH).with_world_waits(true);
        let other = clock.clone();
        let minute = std::time::Duration::from_secs(60);
        assert!(finishes_at_once(clock.sleep(minute)), "no real sleep");
        assert_eq!(other.now().unix_timestamp(), 60, "the world's time passed");
        // Overlapping waits end at the same world instant: a shorter one does not move it.
        assert!(finishes_at_once(clock.sleep(std::time::Duration::ZERO)));
        assert_eq!(clock.now().unix_timestamp(), 60);
        // Without world waits the task sleeps in real time and the clock stays.
        let real = Clock::frozen(OffsetDateTime::UNIX_EPOCH);
        assert!(!finishes_at_once(real.sleep(minute)), "a real sleep");
        assert_eq!(real.now().unix_timestamp(), 0);
    }

    #[test]
    fn rfc3339_has_seconds_and_z() {
        let at = OffsetDateTime::from_unix_timestamp(1_700_000_000).unwrap();
        assert_eq!(rfc3339(at), "2023-11-14T22:13:20Z");
    }
}
