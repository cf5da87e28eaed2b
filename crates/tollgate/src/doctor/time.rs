//! Times for people: Unix seconds as UTC dates and as "3 min ago".

/// A Unix time as `YYYY-MM-DD HH:MM:SS UTC`.
///
/// ```
/// assert_eq!(tollgate::doctor::time::date(1_700_000_000), "2023-11-14 22:13:20 UTC");
/// assert_eq!(tollgate::doctor::time::date(0), "1970-01-01 00:00:00 UTC");
/// ```
pub fn date(unix: i64) -> String {
    let days = unix.div_euclid(86_400);
    let secs = unix.rem_euclid(86_400);
    let (y, m, d) = civil_from_days(days);
    format!(
        "{y:04}-{m:02}-{d:02} {:02}:{:02}:{:02} UTC",
        secs / 3600,
        secs % 3600 / 60,
        secs % 60
    )
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

/// A duration in seconds, for people: `45 s`, `3 min 20 s`, `42 min`, `2 h 5 min`, `3 days`.
///
/// ```
/// use tollgate::doctor::time::span;
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

/// `t` relative to `now`: `3 min ago`, `in 42 min`, `now`.
///
/// ```
/// use tollgate::doctor::time::relative;
/// assert_eq!(relative(1_000, 1_180), "3 min ago");
/// assert_eq!(relative(4_000, 1_480), "in 42 min");
/// assert_eq!(relative(5, 5), "now");
/// ```
pub fn relative(t: i64, now: i64) -> String {
    let delta = t.saturating_sub(now);
    match delta {
        0 => "now".to_string(),
        d if d < 0 => format!("{} ago", span(d)),
        d => format!("in {}", span(d)),
    }
}

/// A time claim for people: `2023-11-14 22:13:20 UTC (3 min ago)`.
pub fn describe(t: i64, now: i64) -> String {
    format!("{} ({})", date(t), relative(t, now))
}
