//! Time, injectable: validation never reads the system clock directly, so tests and
//! `--now` are exact. Also how times and durations are worded for people ([`date`],
//! [`span`]).

use std::sync::atomic::{AtomicI64, Ordering};
use std::time::{SystemTime, UNIX_EPOCH};

/// A source of the current time in Unix seconds.
pub trait Clock: Send + Sync + 'static {
    /// Now, in seconds since the Unix epoch.
    fn now(&self) -> i64;
}

/// The system's wall clock.
#[derive(Clone, Copy, Debug, Default)]
pub struct SystemClock;

impl Clock for SystemClock {
    fn now(&self) -> i64 {
        unix_now()
    }
}

/// The current Unix time from the system clock.
pub fn unix_now() -> i64 {
    match SystemTime::now().duration_since(UNIX_EPOCH) {
        Ok(d) => d.as_secs() as i64,
        Err(e) => -(e.duration().as_secs() as i64),
    }
}

/// A clock that stands still until moved; for tests and `--now`.
///
/// ```
/// use tollgate::{Clock, FixedClock};
/// let clock = FixedClock::new(1_700_000_000);
/// clock.advance(60);
/// assert_eq!(clock.now(), 1_700_000_060);
/// ```
#[derive(Debug, Default)]
pub struct FixedClock(AtomicI64);

impl FixedClock {
    /// A clock showing `now`.
    pub fn new(now: i64) -> FixedClock {
        FixedClock(AtomicI64::new(now))
    }
    /// Sets the time.
    pub fn set(&self, now: i64) {
        self.0.store(now, Ordering::SeqCst);
    }
    /// Moves the time forward by `seconds`.
    pub fn advance(&self, seconds: i64) {
        self.0.fetch_add(seconds, Ordering::SeqCst);
    }
}

impl Clock for FixedClock {
    fn now(&self) -> i64 {
        self.0.load(Ordering::SeqCst)
    }
}

impl<C: Clock> Clock for std::sync::Arc<C> {
    fn now(&self) -> i64 {
        (**self).now()
    }
}

/// A Unix time as `YYYY-MM-DD HH:MM:SS UTC`.
///
/// ```
/// assert_eq!(tollgate::clock::date(1_700_000_000), "2023-11-14 22:13:20 UTC");
/// assert_eq!(tollgate::clock::date(0), "1970-01-01 00:00:00 UTC");
/// ```
pub fn date(unix: i64) -> String {
    let (y, m, d, hh, mm, ss) = civil(unix);
    format!("{y:04}-{m:02}-{d:02} {hh:02}:{mm:02}:{ss:02} UTC")
}

/// A Unix time as RFC 3339 in UTC, `YYYY-MM-DDTHH:MM:SSZ` (for machine-readable output).
///
/// ```
/// assert_eq!(tollgate::clock::rfc3339(1_700_000_000), "2023-11-14T22:13:20Z");
/// ```
pub fn rfc3339(unix: i64) -> String {
    let (y, m, d, hh, mm, ss) = civil(unix);
    format!("{y:04}-{m:02}-{d:02}T{hh:02}:{mm:02}:{ss:02}Z")
}

/// A Unix time as (year, month, day, hour, minute, second), UTC.
fn civil(unix: i64) -> (i64, i64, i64, i64, i64, i64) {
    let (y, m, d) = civil_from_days(unix.div_euclid(86_400));
    let secs = unix.rem_euclid(86_400);
    (y, m, d, secs / 3600, secs % 3600 / 60, secs % 60)
}

/// Days since 1970-01-01 to (year, month, day), proleptic Gregorian (H. Hinnant's algorithm).
fn civil_from_days(z: i64) -> (i64, i64, i64) {
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let y = yoe + era * 400;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    (if m <= 2 { y + 1 } else { y }, m, d)
}

/// A duration in seconds, for people (every duration Tollgate shows, in errors and in the
/// doctor, is worded by this one function): `45 s`, `3 min 20 s`, `42 min`, `2 h 5 min`, `3 days`.
///
/// ```
/// use tollgate::clock::span;
/// assert_eq!(span(45), "45 s");
/// assert_eq!(span(200), "3 min 20 s");
/// assert_eq!(span(2520), "42 min");
/// assert_eq!(span(7500), "2 h 5 min");
/// assert_eq!(span(3 * 86_400 + 5), "3 days");
/// ```
pub fn span(seconds: i64) -> String {
    let s = seconds.unsigned_abs();
    match s {
        0..=59 => format!("{s} s"),
        60..=599 if s % 60 != 0 => format!("{} min {} s", s / 60, s % 60),
        60..=3599 => format!("{} min", s / 60),
        3600..=86_399 if s % 3600 / 60 != 0 => format!("{} h {} min", s / 3600, s % 3600 / 60),
        3600..=86_399 => format!("{} h", s / 3600),
        86_400..=172_799 => "1 day".to_string(),
        _ => format!("{} days", s / 86_400),
    }
}
