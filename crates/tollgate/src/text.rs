//! Attacker-sized text made safe to log and to show: [`cut`] keeps at most
//! [`MAX_SHOWN_CHARS`] characters of a value that came from a request or a token, escapes
//! control characters, and says how long the value really was.
//!
//! Every value that a client chooses (a `kid`, an `iss`, a claim, a path, a header) goes
//! through it before it reaches a log line or an `error_description`: a 12 KB `kid` costs
//! one short line, and a `\n` in a claim cannot forge a second log line.

use std::fmt;

/// The most characters of a client-chosen value that are shown (in logs and error
/// descriptions); a longer value is cut and its size in bytes is added.
pub const MAX_SHOWN_CHARS: usize = 80;

/// A value cut for display; see [`cut`].
#[derive(Clone, Copy, Debug)]
pub struct Cut<'a> {
    value: &'a str,
    max: usize,
}

/// Shows at most [`MAX_SHOWN_CHARS`] characters of `value`, control characters escaped
/// (`\n`, `\u{1b}`), then `...(N bytes)` when it was longer.
///
/// ```
/// use tollgate::text::cut;
/// assert_eq!(cut("kid-1").to_string(), "kid-1");
/// assert_eq!(cut("a\nb").to_string(), "a\\nb");
/// let long = "x".repeat(12_000);
/// assert_eq!(cut(&long).to_string(), format!("{}...(12000 bytes)", "x".repeat(80)));
/// ```
pub fn cut(value: &str) -> Cut<'_> {
    cut_to(value, MAX_SHOWN_CHARS)
}

/// [`cut`] with another limit (in characters).
pub fn cut_to(value: &str, max: usize) -> Cut<'_> {
    Cut { value, max }
}

impl fmt::Display for Cut<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (shown, c) in self.value.chars().enumerate() {
            if shown == self.max {
                return write!(f, "...({} bytes)", self.value.len());
            }
            if c.is_control() {
                for e in c.escape_default() {
                    fmt::Write::write_char(f, e)?;
                }
            } else {
                fmt::Write::write_char(f, c)?;
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn short_values_are_kept_and_controls_escaped() {
        assert_eq!(cut("").to_string(), "");
        assert_eq!(cut("é kid").to_string(), "é kid");
        assert_eq!(cut("a\r\nb\u{1b}[31m").to_string(), "a\\r\\nb\\u{1b}[31m");
        assert_eq!(cut(&"y".repeat(80)).to_string(), "y".repeat(80));
    }

    #[test]
    fn long_values_are_cut_with_their_size() {
        assert_eq!(cut_to("abcdef", 3).to_string(), "abc...(6 bytes)");
        let multibyte = "é".repeat(100);
        let shown = cut(&multibyte).to_string();
        assert!(shown.ends_with("...(200 bytes)"), "{shown}");
        assert_eq!(shown.chars().filter(|c| *c == 'é').count(), 80);
    }
}
