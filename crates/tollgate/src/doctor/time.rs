//! Times for people: Unix seconds as UTC dates and as "3 min ago".

pub use crate::clock::{date, span};

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
